"""Small wording helpers every command uses, so counts and labels read the same everywhere."""

from __future__ import annotations

import re

_IRREGULAR = {"story": "stories", "query": "queries", "this": "these"}


def plural(n: int, noun: str) -> str:
    """`1 question`, `2 questions`, `0 stories`: one rule for every count the CLI prints."""
    if n == 1:
        return f"{n} {noun}"
    return f"{n} {_IRREGULAR.get(noun, noun + 's')}"


_BLOCK_START = re.compile(r"^\s*(?:[-*+•>#|]|\d+[.)])\s")


def reflow(text: str) -> str:
    """A paragraph the user hard-wrapped in their editor, as one line the terminal wraps.

    Only line breaks inside a paragraph go: blank lines, list items, quotes, headings and
    table rows keep theirs, and no character of the text changes otherwise.
    """
    out: list[str] = []
    for line in text.splitlines():
        joinable = out and out[-1].strip() and line.strip() and not _BLOCK_START.match(line)
        if joinable:
            out[-1] = f"{out[-1].rstrip()} {line.strip()}"
        else:
            out.append(line)
    return "\n".join(out)
