"""Small wording helpers every command uses, so counts and labels read the same everywhere."""

from __future__ import annotations

_IRREGULAR = {"story": "stories", "query": "queries", "this": "these"}


def plural(n: int, noun: str) -> str:
    """`1 question`, `2 questions`, `0 stories`: one rule for every count the CLI prints."""
    if n == 1:
        return f"{n} {noun}"
    return f"{n} {_IRREGULAR.get(noun, noun + 's')}"
