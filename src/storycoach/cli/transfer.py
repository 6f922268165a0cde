"""`storycoach export` and `storycoach import`: the bank as one JSON file."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from storycoach.transfer import OnConflict

from storycoach.cli.common import JsonOption, console, emit_json, escape, open_bank


def export(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="Write here instead of standard output.", dir_okay=False, metavar="FILE"
        ),
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
    from storycoach.cli.words import plural

    console().print(f"Exported {plural(len(data['stories']), 'story')} to {escape(str(file))}")


class ConflictChoice(StrEnum):
    """What `import --on-conflict` does with a story or question the bank holds differently."""

    SKIP = "skip"
    REPLACE = "replace"
    COPY = "copy"


_ON_CONFLICT: dict[ConflictChoice, OnConflict] = {
    ConflictChoice.SKIP: "skip",
    ConflictChoice.REPLACE: "replace",
    ConflictChoice.COPY: "copy",
}


def import_(
    file: Annotated[
        str, typer.Argument(help="An export file; - reads standard input.", metavar="FILE")
    ],
    on_conflict: Annotated[
        ConflictChoice,
        typer.Option(
            "--on-conflict",
            help="A story or question the bank holds with different content: skip it (default), "
            "replace the bank's copy, or copy it in as a new story.",
        ),
    ] = ConflictChoice.SKIP,
    as_json: JsonOption = False,
) -> None:
    """Import an export file. All or nothing: a bad file changes nothing; importing the same
    file twice changes nothing the second time."""
    from storycoach.storyfile import read_text
    from storycoach.transfer import MAX_IMPORT_CHARS, parse_export

    label = "standard input" if file == "-" else file
    data = parse_export(read_text(file, limit=MAX_IMPORT_CHARS), label)
    report = open_bank().import_data(data, on_conflict=_ON_CONFLICT[on_conflict])
    if as_json:
        emit_json(report)
        return
    from storycoach.cli.words import plural

    out = console()
    out.print(
        f"Imported {plural(report.stories, 'story')} and {plural(report.questions, 'question')}"
        + (f", {plural(report.reviews, 'review')}" if report.reviews else "")
        + (
            f", {plural(report.link_suggestions, 'link-suggestion run')}"
            if report.link_suggestions
            else ""
        )
        + (f"; {report.unchanged} already in the bank" if report.unchanged else "")
    )
    for c in report.conflicts:
        out.print(
            f"  conflict: {c.kind} {escape(c.key)} ({escape(c.title)}): {c.action}", soft_wrap=True
        )
    if report.conflicts and on_conflict == "skip":
        out.print("Use --on-conflict replace or --on-conflict copy to take the file's version.")


def backup(
    file: Annotated[
        Path, typer.Argument(help="Where to write the copy (a new SQLite file).", metavar="FILE")
    ],
    force: Annotated[bool, typer.Option("--force", help="Overwrite FILE if it exists.")] = False,
) -> None:
    """Write a consistent copy of the bank with SQLite's backup API, safe while it is in use."""
    bank = open_bank(write=False)
    pages = bank.backup(file, overwrite=force)
    console().print(f"Backed up {escape(str(bank.path))} to {escape(str(file))} ({pages} pages)")
