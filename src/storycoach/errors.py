"""Domain errors: the core raises these, the CLI turns each into one line and an exit code."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


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


class ModelError(Exception):
    """The model call failed after retries; exit code 3, the offline review still stands."""

    exit_code = 3
