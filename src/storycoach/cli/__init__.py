"""The `storycoach` command: a thin layer of typer commands over the core modules."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Annotated

import typer

from storycoach import __version__
from storycoach.cli import config, coverage, mock, questions, review, rubrics, story, transfer
from storycoach.cli import lsp as lsp_command
from storycoach.cli.common import ErrorBoundary, state

app = typer.Typer(
    cls=ErrorBoundary,
    help=(
        "Coach for behavioral interview stories: keep a STAR story bank, get rubric feedback on "
        "a draft before you say it aloud, and see which questions your stories cover."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
app.add_typer(story.app, name="story", help="Add, list, edit, link and search stories.")
app.add_typer(questions.app, name="questions", help="The question bank (seeded from the guide).")
app.command("markers", help="List the culture markers stories and questions link to.")(
    questions.markers_list
)
app.command("review")(review.review)
app.command("history")(review.history)
app.command("coverage")(coverage.coverage)
app.command("practice")(coverage.practice)
app.command("mock")(mock.mock)
app.add_typer(rubrics.app, name="rubrics", help="The rubric criteria drafts are checked against.")
app.command("config")(config.config)
app.command("export", help="Write the bank (stories, links, your questions) as JSON.")(
    transfer.export
)
app.command("import", help="Add the stories and questions of an export file to the bank.")(
    transfer.import_
)
app.command("lsp", help="Run the language server (diagnostics in your editor; see README).")(
    lsp_command.lsp
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"storycoach {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[
        Path | None,
        typer.Option(
            "--db",
            envvar="STORYCOACH_DB",
            help="Story bank file. Default: bank.db in the storycoach app directory.",
            dir_okay=False,
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Set the global options, and keep validated rubric data in the app directory for the
    length of the command (`storycoach.rubric.cache`; a library caller gets no cache files)."""
    from storycoach.cli.common import app_dir
    from storycoach.rubric.cache import disk_cache

    state.db = db
    state.debug = debug
    ctx.with_resource(disk_cache(app_dir() / "cache"))


def main() -> None:
    # A command is a short-lived process that allocates most of what it ever will while
    # importing (typer, pydantic, sqlite-utils, rich) and building schemas, and frees it at
    # exit. CPython's collector keeps re-walking those long-lived objects looking for cycles
    # that are not there: about 45 ms of an offline review, a full collection alone 27 ms.
    # Freezing what is loaded so far moves it out of the collector's sight, and a larger
    # young generation means fewer passes over the rest. The collector still runs, so a long
    # `review --all` or `coverage --llm` keeps reclaiming cyclic garbage; nothing is skipped
    # at exit (no os._exit), so output is flushed and SQLite commits as usual.
    # The same again once the command is done, `openai`'s ~2,000 classes included when the
    # model was called: the collection at interpreter exit then skips them (~0.2 s).
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
    try:
        app(prog_name="storycoach")
    finally:
        gc.freeze()
