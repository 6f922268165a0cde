"""`storycoach questions ...` and `storycoach markers`: the question bank and culture markers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from storycoach.cli.common import JsonOption, console, emit_json, escape, open_bank
from storycoach.cli.params import completer, level_option, marker_option, role_option

if TYPE_CHECKING:
    from rich.console import Console

    from storycoach.models import Question

app = typer.Typer(no_args_is_help=True)


@app.command("list")
def list_(
    marker: Annotated[
        str | None, marker_option("Only questions touching this culture marker.")
    ] = None,
    role: Annotated[
        str | None, role_option('Only questions for this role, e.g. "Software Engineer".')
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List behavioral questions with their markers."""
    questions = open_bank(write=False).questions(marker=marker, role=role)
    if as_json:
        emit_json([q.model_dump(mode="json") for q in questions])
        return
    from storycoach.cli.table import ID, IDS, Col, print_table

    print_table(
        console(),
        [Col("id", ID), Col("question"), Col("roles"), Col("markers", IDS)],
        [
            (q.id, escape(q.text), escape(", ".join(q.roles)), ", ".join(q.markers))
            for q in questions
        ],
    )


@app.command("show")
def show(
    question_id: Annotated[
        str,
        typer.Argument(
            help="Question id (see `storycoach questions list`).",
            metavar="QUESTION",
            autocompletion=completer("questions"),
        ),
    ],
    as_json: JsonOption = False,
) -> None:
    """Show a question, the culture markers it touches and what the round probes."""
    bank = open_bank(write=False)
    q = bank.question(question_id)
    if as_json:
        emit_json(q)
        return
    out = console()
    out.print(f"[bold]{q.id}[/bold]  {escape(q.text)}")
    for key, value in (
        ("company", q.company),
        ("roles", ", ".join(q.roles)),
        ("difficulty", q.difficulty or ""),
        ("levels", ", ".join(q.levels)),
        ("markers", ", ".join(q.markers)),
        ("tags", ", ".join(q.tags)),
        ("source", q.source),
    ):
        if value:
            out.print(f"[dim]{key:>10}[/dim]  {escape(value)}")
    out.print()
    print_probes(out, q)
    stories = bank.stories(question=q.id)
    out.print(f"\nStories linked: {', '.join(f'#{s.id}' for s in stories) or 'none yet'}")


def print_probes(out: Console, q: Question) -> None:
    """What the round really probes and what a strong answer shows (shared with `practice`)."""
    if q.probing:
        out.print(f"[bold]Really probing:[/bold] {escape(q.probing)}")
    if q.probes:
        out.print("[bold]A strong answer:[/bold]")
        for probe in q.probes:
            out.print(f"  - {escape(probe)}")


@app.command("add")
def add(
    question_id: Annotated[
        str, typer.Option("--id", help="A kebab-case id, e.g. led-migration.", metavar="ID")
    ],
    text: Annotated[
        str, typer.Option(help="The question as the interviewer asks it.", metavar="TEXT")
    ],
    company: Annotated[str, typer.Option(help="Company that asks it.", metavar="NAME")] = "",
    role: Annotated[list[str] | None, role_option("Role (repeatable).")] = None,
    difficulty: Annotated[
        str | None, typer.Option(help="easy, medium or hard.", metavar="DIFFICULTY")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Tag (repeatable).", metavar="TAG")
    ] = None,
    marker: Annotated[list[str] | None, marker_option("Culture marker slug (repeatable).")] = None,
    theme: Annotated[
        list[str] | None,
        typer.Option("--theme", help="Rubric theme, e.g. dissent (repeatable).", metavar="THEME"),
    ] = None,
    level: Annotated[list[str] | None, level_option("Level band (repeatable).")] = None,
    probe: Annotated[
        list[str] | None,
        typer.Option(
            "--probe", help="What a strong answer must show (repeatable).", metavar="TEXT"
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Add your own question to the bank."""
    from pydantic import ValidationError

    from storycoach.errors import StorycoachError, first_error
    from storycoach.models import Question

    try:
        question = Question(
            id=question_id,
            text=text,
            company=company,
            roles=role or [],
            difficulty=difficulty,
            tags=tag or [],
            markers=marker or [],
            themes=theme or [],
            levels=level or [],
            probes=probe or [],
        )
    except ValidationError as error:
        raise StorycoachError(first_error(error, "question")) from None
    saved = open_bank().add_question(question)
    if as_json:
        emit_json(saved)
    else:
        console().print(f"Added question {saved.id}")


def markers_list(as_json: JsonOption = False) -> None:
    """List culture markers with what each means."""
    markers = open_bank(write=False).markers()
    if as_json:
        emit_json(markers)
        return
    from storycoach.cli.table import ID, Col, print_table

    print_table(
        console(),
        [Col("slug", ID), Col("name"), Col("meaning")],
        [(m.slug, escape(m.name), escape(m.meaning)) for m in markers],
    )
