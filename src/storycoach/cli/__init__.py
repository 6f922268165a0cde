"""The `storycoach` command: a thin layer of typer commands over the core modules."""

from __future__ import annotations

import gc
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperOption

from storycoach import __version__
from storycoach.cli import (
    config,
    coverage,
    doctor,
    mock,
    questions,
    review,
    rubrics,
    story,
    transfer,
)
from storycoach.cli import lsp as lsp_command
from storycoach.cli.common import ErrorBoundary, state

_ORDER = ("story", "questions", "markers", "review", "history", "rubrics", "coverage", "practice")


class Root(ErrorBoundary):
    """The top-level group: commands listed in the order a new user needs them."""

    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        rank = {name: i for i, name in enumerate(_ORDER)}
        return sorted(names, key=lambda n: rank.get(n, len(_ORDER)))

    def _main_shell_completion(
        self, ctx_args: Any, prog_name: str, complete_var: Any = None
    ) -> None:
        # Our own --install-completion replaces typer's, so register typer's shell classes here
        # (they pass each candidate's help to zsh and fish).
        from typer._completion_classes import completion_init

        completion_init()
        super()._main_shell_completion(ctx_args, prog_name, complete_var)


def _display_type(self: TyperOption, ctx: Any) -> str | None:
    """Help shows `--debug`, not `--debug <bool>`; `--title TEXT`, not `--title <str>`."""
    if self.is_flag:
        return None
    if self.metavar is not None:
        return self.metavar
    if self.type_descriptor.is_choice:
        return _typer_display_type(self, ctx)
    bare = self.bare_type().removeprefix("list[").removesuffix("]")
    return {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "Path": "FILE"}.get(bare, "VALUE")


def _no_type(self: TyperArgument, ctx: Any) -> str | None:
    """An argument's metavar (`FILE`, `QUESTION`) already says what it takes."""
    return None


def _usage_name(self: TyperArgument) -> str:
    """Usage reads `story show ID` (click's convention), not `story show {ID}`."""
    name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
    return name + ("..." if self.nargs != 1 else "")


_typer_display_type = TyperOption.display_type_rich
TyperOption.display_type_rich = _display_type  # type: ignore[method-assign]
TyperArgument.display_type_rich = _no_type  # type: ignore[method-assign, assignment]
# typer 0.29 has no public hook for the usage line; this private method is its one home.
TyperArgument._usage_display_name = _usage_name  # type: ignore[method-assign]

app = typer.Typer(
    cls=Root,
    help=(
        "Coach for behavioral interview stories: keep a STAR story bank, get rubric feedback on "
        "a draft before you say it aloud, and see which questions your stories cover."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,  # ours takes the shell as a value: see `_install_completion`
)
# (name, what it is, one-line summary): groups are typer sub-apps, the rest commands.
_PANELS: list[tuple[str, list[tuple[str, Any, str]]]] = [
    (
        "Stories and questions",
        [
            ("story", story.app, "Add, list, edit, link and search stories."),
            ("questions", questions.app, "The question bank (seeded from the guide)."),
            ("markers", questions.markers_list, "The culture markers stories and questions show."),
        ],
    ),
    (
        "Review your drafts",
        [
            ("review", review.review, "Check drafts against the rubrics; exit 1 on fail."),
            ("history", review.history, "Stored reviews, newest first, with model cost."),
            ("rubrics", rubrics.app, "The rubric criteria drafts are checked against."),
        ],
    ),
    (
        "Coverage and practice",
        [
            ("coverage", coverage.coverage, "Which questions your stories answer: gaps, thin."),
            ("practice", coverage.practice, "Answer your weakest-covered question, get feedback."),
            ("mock", mock.mock, "A mock round: the question, follow-ups, a debrief."),
        ],
    ),
    (
        "Bank and settings",
        [
            ("export", transfer.export, "Write the bank (stories, reviews, calls) as JSON."),
            ("import", transfer.import_, "Add the stories and questions of an export file."),
            ("backup", transfer.backup, "Copy the live bank safely to a new file."),
            ("doctor", doctor.doctor, "Check integrity, sweep interrupted reviews."),
            ("config", config.config, "Show the model settings and where each came from."),
            ("lsp", lsp_command.lsp, "Run the language server (diagnostics in your editor)."),
        ],
    ),
]
for _panel, _entries in _PANELS:
    for _name, _target, _summary in _entries:
        if isinstance(_target, typer.Typer):
            app.add_typer(_target, name=_name, help=_summary, rich_help_panel=_panel)
        else:  # the docstring stays the command's own --help; the summary is for the list
            app.command(_name, short_help=_summary, rich_help_panel=_panel)(_target)


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"
    powershell = "powershell"


def _install_completion(value: Shell | None) -> None:
    """Install completion for the shell named, never for whichever shell runs storycoach."""
    if value is None:
        return
    from typer._completion_shared import install

    shell, path = install(shell=value.value, prog_name="storycoach")
    typer.echo(f"{shell} completion installed in {path}; it takes effect in a new terminal.")
    raise typer.Exit()


def _show_completion(value: Shell | None) -> None:
    if value is None:
        return
    from typer._completion_shared import get_completion_script

    typer.echo(
        get_completion_script(
            prog_name="storycoach", complete_var="_STORYCOACH_COMPLETE", shell=value.value
        )
    )
    raise typer.Exit()


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
            metavar="FILE",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
    install_completion: Annotated[
        Shell | None,
        typer.Option(
            "--install-completion",
            callback=_install_completion,
            is_eager=True,
            expose_value=False,
            metavar="SHELL",
            case_sensitive=False,
            help="Install tab completion for SHELL (bash, zsh, fish or powershell).",
        ),
    ] = None,
    show_completion: Annotated[
        Shell | None,
        typer.Option(
            "--show-completion",
            callback=_show_completion,
            is_eager=True,
            expose_value=False,
            metavar="SHELL",
            case_sensitive=False,
            help="Print the completion script for SHELL, to install it yourself.",
        ),
    ] = None,
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
