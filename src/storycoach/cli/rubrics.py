"""`storycoach rubrics list|show`: the criteria a review checks, read from the rubric files."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from storycoach.cli.common import JsonOption, console, emit_json, escape

app = typer.Typer(no_args_is_help=True)


def _summary(criterion: Any) -> dict[str, Any]:
    return {
        "id": criterion.id,
        "severity": criterion.severity,
        "title": criterion.title,
        "levels": list(criterion.levels),
        "themes": list(criterion.themes),
    }


@app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """List the rubric criteria: id, default severity, title, levels and question themes."""
    from storycoach.rubric import load_criteria

    criteria = load_criteria()
    if as_json:
        emit_json([_summary(c) for c in criteria])
        return
    from rich.table import Table

    table = Table("id", "severity", "title", "levels", "themes", box=None)
    for c in criteria:
        levels = "all" if len(c.levels) == 5 else ",".join(c.levels)
        table.add_row(c.id, c.severity, c.title, levels, ", ".join(c.themes) or "-")
    console().print(table)


@app.command("show")
def show(
    criterion_id: Annotated[str, typer.Argument(help="Criterion id, e.g. vague-delta.")],
    as_json: JsonOption = False,
) -> None:
    """Show one criterion: what it checks, why (with its source), examples and judge anchors."""
    from storycoach.errors import NotFoundError
    from storycoach.rubric import load_criteria

    criteria = {c.id: c for c in load_criteria()}
    criterion = criteria.get(criterion_id)
    if criterion is None:
        raise NotFoundError("rubric criterion", criterion_id, criteria)
    if as_json:
        data = criterion.model_dump(mode="json")
        data["path"] = str(criterion.path) if criterion.path else None
        emit_json(data)
        return
    out = console()
    out.print(f"[bold]{criterion.id}[/bold]  {escape(criterion.title)}")
    rows = [
        ("severity", criterion.severity),
        ("levels", ", ".join(criterion.levels)),
        ("themes", ", ".join(criterion.themes) or "-"),
        ("detector", criterion.detector),
    ]
    if criterion.severity_by_level:
        bands = ", ".join(f"{k}: {v}" for k, v in criterion.severity_by_level.items())
        rows.append(("by level", f"{bands} ({criterion.level_note})"))
    for key, value in rows:
        out.print(f"  {key:<10} {escape(value)}")
    out.print(f"\n[bold]Message[/bold]\n  {escape(criterion.message)}")
    source = escape(criterion.why.source)
    out.print(f"\n[bold]Why[/bold]\n  {escape(criterion.why.text)}\n  Source: “{source}”")
    out.print(f"\n[bold]What good looks like[/bold]\n  {escape(criterion.good)}")
    for example in criterion.examples:
        label = "Bad" if example.verdict == "bad" else "Good"
        out.print(f"\n[bold]{label} example[/bold]")
        for line in example.text.splitlines():
            out.print(f"  {escape(line)}")
        if example.note:
            out.print(f"  ({escape(example.note)})")
    out.print("\n[bold]Judge anchors[/bold]")
    for score, text in criterion.anchors.items():
        out.print(f"  {score}: {escape(text)}")
