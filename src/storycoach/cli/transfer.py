"""`storycoach export` and `storycoach import`: the bank as one JSON file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from storycoach.cli.common import JsonOption, console, emit_json, escape, fail, open_bank


def export(
    file: Annotated[
        Path | None, typer.Argument(help="Write here instead of standard output.", dir_okay=False)
    ] = None,
) -> None:
    """Export stories with their links and your own questions."""
    data = open_bank(write=False).export_data()
    if file is None:
        emit_json(data)
        return
    from storycoach.errors import StorycoachError

    try:
        file.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as error:
        raise StorycoachError(f"cannot write {file}: {error.strerror}") from None
    console().print(f"Exported {len(data['stories'])} stories to {escape(str(file))}")


def import_(
    file: Annotated[str, typer.Argument(help="An export file; - reads standard input.")],
    on_conflict: Annotated[
        str,
        typer.Option(
            "--on-conflict",
            help="A story or question the bank holds with different content: skip it (default), "
            "replace the bank's copy, or copy it in as a new story.",
        ),
    ] = "skip",
    as_json: JsonOption = False,
) -> None:
    """Import an export file. All or nothing: a bad file changes nothing; importing the same
    file twice changes nothing the second time."""
    from storycoach.storyfile import read_text
    from storycoach.transfer import MAX_IMPORT_CHARS, parse_export

    if on_conflict not in ("skip", "replace", "copy"):
        raise fail(f"--on-conflict must be skip, replace or copy (got {on_conflict!r})")
    label = "standard input" if file == "-" else file
    data = parse_export(read_text(file, limit=MAX_IMPORT_CHARS), label)
    report = open_bank().import_data(data, on_conflict=on_conflict)  # type: ignore[arg-type]
    if as_json:
        emit_json(report)
        return
    out = console()
    out.print(
        f"Imported {report.stories} stories and {report.questions} questions"
        + (f", {report.reviews} reviews" if report.reviews else "")
        + (f", {report.link_suggestions} link-suggestion runs" if report.link_suggestions else "")
        + (f"; {report.unchanged} already in the bank" if report.unchanged else "")
    )
    for c in report.conflicts:
        out.print(
            f"  conflict: {c.kind} {escape(c.key)} ({escape(c.title)}): {c.action}", soft_wrap=True
        )
    if report.conflicts and on_conflict == "skip":
        out.print("Use --on-conflict replace or --on-conflict copy to take the file's version.")


def backup(
    file: Annotated[Path, typer.Argument(help="Where to write the copy (a new SQLite file).")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite FILE if it exists.")] = False,
) -> None:
    """Write a consistent copy of the bank with SQLite's backup API, safe while it is in use."""
    bank = open_bank(write=False)
    pages = bank.backup(file, overwrite=force)
    console().print(f"Backed up {escape(str(bank.path))} to {escape(str(file))} ({pages} pages)")
