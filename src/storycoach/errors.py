"""Domain errors: the core raises these, the CLI turns each into one line and an exit code."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError
    from pydantic_core import ErrorDetails

    from storycoach.models import CallRecord


class StorycoachError(Exception):
    """An input or environment problem the user can fix; exit code 2."""

    exit_code = 2


class NotFoundError(StorycoachError):
    """An id that is not in the bank, with the closest ones as a hint."""

    def __init__(self, kind: str, value: str, known: Iterable[str] = ()) -> None:
        close = difflib.get_close_matches(value, list(known), n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        super().__init__(f"unknown {kind} {value!r}.{hint}")


def describe(
    error: ValidationError, prefix: str = "", *, whole: str = "(file)", limit: int | None = None
) -> str:
    """Pydantic errors as ``field.path: message``, joined on one line (at most `limit` of them:
    users fix one thing at a time); `whole` names an error about the whole record. The one
    formatter of validation errors for users."""
    parts: list[str] = []
    for item in error.errors():
        loc = [prefix] if prefix else []
        for part in item["loc"]:
            if isinstance(part, int) and loc:
                loc[-1] = f"{loc[-1]}[{part}]"
            else:
                loc.append(str(part))
        where = ".".join(loc)
        message = problem(item)
        if not item["loc"] and ": " in message:
            # A whole-record check names its own field: "examples: needs at least one ...".
            field, message = message.split(": ", 1)
            where = ".".join([*loc, field])
        part_text = f"{where or whole}: {message}"
        if part_text not in parts:
            parts.append(part_text)
    return "; ".join(parts[:limit])


def problem(item: ErrorDetails) -> str:
    """What is wrong in one pydantic error, in words for users."""
    if item["type"] == "missing":
        return "required field is missing"
    if item["type"] == "extra_forbidden":
        return "unknown field (typo?)"
    return item["msg"].removeprefix("Value error, ")


def first_error(error: ValidationError, default: str = "record") -> str:
    """The first pydantic error as one line, `where: what`; `default` names a whole record."""
    return describe(error, whole=default, limit=1)


class ModelError(StorycoachError):
    """The model call failed after retries; exit code 3, the offline review still stands.
    `calls` are its attempts, for the bank's cost record."""

    exit_code = 3

    def __init__(self, message: str, calls: Iterable[CallRecord] = ()) -> None:
        super().__init__(message)
        self.calls = list(calls)
