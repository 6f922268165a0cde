"""Where a finding is in the editor: file (line, column) <-> LSP positions, for any encoding.

Findings count lines from 1 and columns from 1 in code points of the file's text, with lines
ending at ``\\n`` (as the rubric engine's text model does). LSP positions count lines from 0
and characters in the negotiated position encoding: UTF-16 code units unless client and server
agreed on UTF-8 or UTF-32. An accent is one unit in UTF-16 and two in UTF-8; an emoji is two
UTF-16 units. Everything here works on offsets into the text, so a conversion is exact for any
script, and pure (no pygls), so it is tested on its own.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

Encoding = str  # "utf-16" (the LSP default), "utf-8" or "utf-32"


def units(text: str, encoding: Encoding = "utf-16") -> int:
    """How many code units `text` takes in `encoding`."""
    if encoding == "utf-8":
        return len(text.encode("utf-8", "surrogatepass"))
    if encoding == "utf-32":
        return len(text)
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


@dataclass(frozen=True)
class Span:
    """A range as 0-based (line, character) pairs in some encoding: what `Range` carries."""

    start: tuple[int, int]
    end: tuple[int, int]


class LineIndex:
    """Line starts of one text, for offset <-> position conversions."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0]
        at = text.find("\n")
        while at >= 0:
            self.starts.append(at + 1)
            at = text.find("\n", at + 1)

    def line_end(self, line: int) -> int:
        """Offset of the end of 0-based `line`, before its newline (and a CR before that)."""
        end = self.starts[line + 1] - 1 if line + 1 < len(self.starts) else len(self.text)
        if end > self.starts[line] and self.text[end - 1] == "\r":
            end -= 1
        return end

    def offset(self, line: int, column: int) -> int:
        """The offset of a finding's 1-based (line, column), clamped to the text."""
        index = min(max(line - 1, 0), len(self.starts) - 1)
        return min(self.starts[index] + max(column - 1, 0), self.line_end(index))

    def position(self, offset: int, encoding: Encoding = "utf-16") -> tuple[int, int]:
        """The LSP (line, character) of a text offset."""
        offset = min(max(offset, 0), len(self.text))
        line = bisect_right(self.starts, offset) - 1
        return line, units(self.text[self.starts[line] : offset], encoding)

    def offset_at(self, line: int, character: int, encoding: Encoding = "utf-16") -> int:
        """The text offset of an LSP (line, character); past the end of a line clamps to it."""
        if line >= len(self.starts):
            return len(self.text)
        start, end = self.starts[line], self.line_end(line)
        count = 0
        for at in range(start, end):
            if count >= character:
                return at
            count += units(self.text[at], encoding)
        return end

    def span(self, start: int, end: int, encoding: Encoding = "utf-16") -> Span:
        return Span(self.position(start, encoding), self.position(end, encoding))

    def line_span(self, line: int, encoding: Encoding = "utf-16") -> Span:
        """The whole of 0-based `line`, without its line break."""
        line = min(max(line, 0), len(self.starts) - 1)
        return self.span(self.starts[line], self.line_end(line), encoding)

    def locate(self, line: int | None, column: int | None, quote: str | None) -> tuple[int, int]:
        """The offsets a finding covers: its quote where the file has it at (line, column),
        else the quote nearest that line, else from (line, column) to the end of its line."""
        if line is None:
            return -1, -1
        start = self.offset(line, column or 1)
        if quote:
            if self.text.startswith(quote, start):
                return start, start + len(quote)
            found = _nearest(self.text, quote, start)
            if found >= 0:
                return found, found + len(quote)
        index = min(max(line - 1, 0), len(self.starts) - 1)
        end = self.line_end(index)
        return (start, end) if start < end else (self.starts[index], end)


def _nearest(text: str, quote: str, near: int) -> int:
    """The occurrence of `quote` closest to offset `near`, or -1."""
    best, at = -1, text.find(quote)
    while at >= 0:
        if best < 0 or abs(at - near) < abs(best - near):
            best = at
        at = text.find(quote, at + 1)
    return best
