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


class NotFoundError(StorycoachError):
    """An id that is not in the bank, with the closest ones as a hint."""

    def __init__(self, kind: str, value: str, known: Iterable[str] = ()) -> None:
        close = difflib.get_close_matches(value, list(known), n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        super().__init__(f"unknown {kind} {value!r}.{hint}")
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
