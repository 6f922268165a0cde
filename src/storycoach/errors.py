"""Domain errors: the core raises these, the CLI turns each into one line and an exit code."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class StorycoachError(Exception):
    """An input or environment problem the user can fix; exit code 2."""

    exit_code = 2


# Where the valid values of each kind of id are listed: every "unknown ..." error says so.
LISTED_BY = {
    "question": "storycoach questions list",
    "marker": "storycoach markers",
    "role": "storycoach questions list",
    "tag": "storycoach story list",
    "rubric criterion": "storycoach rubrics list",
    "story": "storycoach story list",
}


class NotFoundError(StorycoachError):
    """An id that is not in the bank, with the closest ones and where to find valid ones."""

    def __init__(self, kind: str, value: str, known: Iterable[str] = ()) -> None:
        known = list(known)
        close = difflib.get_close_matches(value, known, n=3, cutoff=0.5)
        if not close:  # "nope" vs "Software Engineer": try case and prefixes too
            lowered = value.lower()
            close = [k for k in known if lowered and lowered in k.lower()][:3]
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        where = f" See `{LISTED_BY[kind]}`." if kind in LISTED_BY else ""
        super().__init__(f"unknown {kind} {value!r}.{hint}{where}")
        self.suggestions = close


def first_error(error: ValidationError, default: str = "record") -> str:
    """A pydantic error as one line, `where: what`: users fix one thing at a time."""
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or default
    if first["type"] == "extra_forbidden":
        return f"{where}: unknown field"
    return f"{where}: {first['msg'].removeprefix('Value error, ')}"


class ModelError(Exception):
    """The model call failed after retries; exit code 3, the offline review still stands."""

    exit_code = 3
