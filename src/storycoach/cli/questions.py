"""`storycoach questions ...` and `storycoach markers`: the question bank and culture markers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from storycoach.cli.common import JsonOption, console, emit_json, escape, open_bank

if TYPE_CHECKING:
    from rich.console import Console

    from storycoach.models import Question

app = typer.Typer(no_args_is_help=True)


@app.command("list")
def list_(
    marker: Annotated[
        str | None,
        typer.Option("--marker", "-m", help="Only questions touching this culture marker."),
    ] = None,
    role: Annotated[
        str | None, typer.Option(help='Only questions for this role, e.g. "Software Engineer".')
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List behavioral questions with their markers."""
    questions = open_bank().questions(marker=marker, role=role)
    if as_json:
        emit_json([q.model_dump(mode="json") for q in questions])
        return
    from rich.table import Table

    table = Table("id", "question", "roles", "markers", box=None, show_lines=False)
    for q in questions:
        table.add_row(q.id, escape(q.text), escape(", ".join(q.roles)), ", ".join(q.markers))
    console().print(table)


@app.command("show")
def show(
    question_id: Annotated[str, typer.Argument(help="Question id.")],
    as_json: JsonOption = False,
) -> None:
    """Show a question, the culture markers it touches and what the round probes."""
    bank = open_bank()
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
    question_id: Annotated[str, typer.Option("--id", help="A kebab-case id, e.g. led-migration.")],
    text: Annotated[str, typer.Option(help="The question as the interviewer asks it.")],
    company: Annotated[str, typer.Option(help="Company that asks it.")] = "",
    role: Annotated[list[str] | None, typer.Option("--role", help="Role (repeatable).")] = None,
    difficulty: Annotated[str | None, typer.Option(help="easy, medium or hard.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Tag (repeatable).")] = None,
    marker: Annotated[
        list[str] | None, typer.Option("--marker", "-m", help="Culture marker slug (repeatable).")
    ] = None,
    theme: Annotated[
        list[str] | None, typer.Option("--theme", help="Rubric theme, e.g. dissent (repeatable).")
    ] = None,
    level: Annotated[
        list[str] | None, typer.Option("--level", help="Level band E3..E7 (repeatable).")
    ] = None,
    probe: Annotated[
        list[str] | None,
        typer.Option("--probe", help="What a strong answer must show (repeatable)."),
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
    markers = open_bank().markers()
    if as_json:
        emit_json(markers)
        return
    from rich.table import Table

    table = Table("slug", "name", "meaning", box=None)
    for m in markers:
        table.add_row(m.slug, escape(m.name), escape(m.meaning))
    console().print(table)
