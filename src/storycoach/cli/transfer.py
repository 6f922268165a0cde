"""`storycoach export` and `storycoach import`: the bank as one JSON file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from storycoach.cli.common import JsonOption, console, emit_json, escape, open_bank


def export(
    file: Annotated[
        Path | None, typer.Argument(help="Write here instead of standard output.", dir_okay=False)
    ] = None,
) -> None:
    """Export stories with their links and your own questions."""
    data = open_bank().export_data()
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
    as_json: JsonOption = False,
) -> None:
    """Import an export file. All or nothing: a bad file changes nothing."""
    from storycoach.errors import StorycoachError
    from storycoach.storyfile import read_text

    try:
        data = json.loads(read_text(file, limit=200_000_000))
    except json.JSONDecodeError as error:
        raise StorycoachError(
            f"{file} is not valid JSON (line {error.lineno}): {error.msg}"
        ) from None
    stories, questions = open_bank().import_data(data)
    if as_json:
        emit_json({"stories": stories, "questions": questions})
    else:
        console().print(f"Imported {stories} stories and {questions} questions")
