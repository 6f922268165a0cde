"""Quotes: where the text a model cites sits in the draft, if it is there at all.

Nothing the model says is taken on trust: a quote counts only when `locate` finds it in the
draft, ignoring the differences a model introduces when it copies (curly quotes, dashes, case,
whitespace runs, an ellipsis at either end).
"""

from __future__ import annotations

import re

_FOLD = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201b": "'",
        "\u2032": "'",
        "`": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u00a0": " ",
    }
)
_QUOTE_EDGES = "\"'“”‘’`«» \t\r\n"


def _normalise(text: str) -> tuple[str, list[int]]:
    """Fold quote marks, dashes, case and whitespace runs; map each output char to its source."""
    out: list[str] = []
    where: list[int] = []
    in_space = False
    for index, char in enumerate(text):
        if char.isspace():
            if not in_space and out:
                out.append(" ")
                where.append(index)
            in_space = True
            continue
        in_space = False
        for folded in char.translate(_FOLD).lower():
            out.append(folded)
            where.append(index)
    while out and out[-1] == " ":
        out.pop()
        where.pop()
    return "".join(out), where


def locate(quote: str, draft: str) -> tuple[int, int] | None:
    """The span of `draft` that `quote` copies, ignoring whitespace, quote-mark, dash and case
    differences (and quote marks or ellipses around it); None if it is not in the draft."""
    core = quote.strip(_QUOTE_EDGES)
    core = re.sub(r"\A(\.\.\.|…)\s*|\s*(\.\.\.|…)\Z", "", core).strip(_QUOTE_EDGES)
    needle, _ = _normalise(core)
    if len(needle) < 3:
        return None
    hay, where = _normalise(draft)
    start = hay.find(needle)
    if start < 0:
        return None
    return where[start], where[start + len(needle) - 1] + 1


def line_col(draft: str, offset: int) -> tuple[int, int]:
    line = draft.count("\n", 0, offset) + 1
    column = offset - (draft.rfind("\n", 0, offset) + 1) + 1
    return line, column
