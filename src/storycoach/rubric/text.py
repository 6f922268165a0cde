"""A draft prepared once for every detector: lines, STAR sections and sentence boundaries.

Detectors work on character offsets into the original text, so a finding can quote the exact
span and the engine can turn the offset into a 1-based line and column at the very end.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

# A STAR heading: "## Result", "**Result:**", "Result:", "R:" or "Lessons learned -".
_HEADING = re.compile(
    r"""^[ \t]*(?:\#{1,6}[ \t]*|>[ \t]*|[-*•+][ \t]+)?(?:\*\*|__)?[ \t]*
    (?:(?i:the|my)[ \t]+)?
    (?P<name>(?i:situation|context|background|the\ problem|problem|task|goal|objective|challenge
        |actions?|approach|what\ i\ did|results?|outcomes?|impact
        |reflections?|learnings?|lessons?(?:\ learn(?:ed|t))?|what\ i\ learn(?:ed|t)|takeaways?
        |looking\ back|in\ hindsight|what\ i(?:['’]d|\ would)\ do\ differently)
        |[STAR])
    [ \t]*(?:\([^)\n]*\))?[ \t]*(?:\*\*|__)?[ \t]*
    (?:[:\-–—.)](?:[ \t]*(?:\*\*|__))?[ \t]*|(?=\r?\n|\Z))""",
    re.MULTILINE | re.VERBOSE,
)

_KIND = {
    "situation": "S",
    "context": "S",
    "background": "S",
    "problem": "S",
    "the problem": "S",
    "task": "T",
    "goal": "T",
    "objective": "T",
    "challenge": "T",
    "action": "A",
    "actions": "A",
    "approach": "A",
    "what i did": "A",
    "result": "R",
    "results": "R",
    "outcome": "R",
    "outcomes": "R",
    "impact": "R",
    "s": "S",
    "t": "T",
    "a": "A",
    "r": "R",
}

# Where a sentence may end just before an offset: start of line (after list or heading marks),
# or sentence punctuation, then optional opening quotes and brackets.
_SENTENCE_START = re.compile(
    r"""(?:^[ \t]*(?:[-*•>+#]+[ \t]*|\d+[.)][ \t]*)?|[.!?:;]["”’)\]]*[ \t]+)["“‘'(\[*_]*$"""
)


@dataclass(frozen=True)
class Section:
    """A STAR part of a headed draft: heading span and body span (character offsets)."""

    kind: str  # S, T, A, R or L (reflection / learning)
    heading_start: int
    heading_end: int
    body_start: int
    body_end: int

    @property
    def empty(self) -> bool:
        return self.body_end <= self.body_start


class Doc:
    """The draft text and what every detector needs from it, computed once."""

    def __init__(self, text: str) -> None:
        self.text = text
        lower = text.lower()
        if len(lower) != len(text):  # a few characters grow when lower-cased ("İ")
            lower = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
        #: Same offsets as `text`; case-insensitive patterns run on it (see detectors.base.ci).
        self.lower = lower
        self.line_starts = [0]
        self.line_starts.extend(m.end() for m in re.finditer("\n", text))
        self.sections = _sections(text)
        self.headed = len({s.kind for s in self.sections}) >= 2
        self.cache: dict[Any, Any] = {}

    # -- positions -------------------------------------------------------------------------

    def line_index(self, pos: int) -> int:
        """0-based index of the line holding offset `pos`."""
        return bisect_right(self.line_starts, pos) - 1

    def line_col(self, pos: int) -> tuple[int, int]:
        """1-based line and column of offset `pos` in this text."""
        index = self.line_index(pos)
        return index + 1, pos - self.line_starts[index] + 1

    def line_bounds(self, pos: int) -> tuple[int, int]:
        index = self.line_index(pos)
        start = self.line_starts[index]
        end = self.text.find("\n", start)
        return start, len(self.text) if end < 0 else end

    def is_sentence_start(self, pos: int) -> bool:
        """True when `pos` opens a sentence, a list item or a line (capitals mean nothing there)."""
        start = self.line_starts[self.line_index(pos)]
        prefix = self.text[max(start, pos - 40) : pos]
        if pos - start > 40:
            # Only the tail matters; make sure "^" cannot match mid-line.
            prefix = "\x00" + prefix
        return _SENTENCE_START.search(prefix) is not None

    def sentence_bounds(self, pos: int) -> tuple[int, int]:
        """The sentence around `pos`: from the last . ! ? or line break to the next one."""
        text = self.text
        line_start, line_end = self.line_bounds(pos)
        start = line_start
        for match in _SENT_END.finditer(text, line_start, pos):
            start = match.end()
        after = _SENT_END.search(text, pos, line_end)
        end = after.start() + 1 if after else line_end
        while start < end and text[start] in " \t*_-#>":
            start += 1
        return start, end

    # -- STAR structure --------------------------------------------------------------------

    def section(self, kind: str) -> Section | None:
        for section in self.sections:
            if section.kind == kind:
                return section
        return None

    def spans(self, kinds: str) -> list[tuple[int, int]]:
        """Body spans of the sections whose kind is in `kinds` (e.g. "RL")."""
        return [(s.body_start, s.body_end) for s in self.sections if s.kind in kinds]

    def scope(self, kinds: str) -> list[tuple[int, int]]:
        """The sections of these kinds when the draft is headed, else the whole text."""
        if self.headed:
            return self.spans(kinds)
        return [(0, len(self.text))]


_SENT_END = re.compile(r"[.!?](?=[\s\"”’)\]]|$)")


def _sections(text: str) -> list[Section]:
    found = []
    for match in _HEADING.finditer(text):
        name = match["name"].lower()
        kind = _KIND.get(name, "L")
        rest_start = match.end()
        found.append((kind, match.start(), rest_start))
    sections = []
    for index, (kind, start, body_start) in enumerate(found):
        body_end = found[index + 1][1] if index + 1 < len(found) else len(text)
        body = text[body_start:body_end]
        stripped = body.strip()
        if stripped:
            body_start += len(body) - len(body.lstrip())
            body_end = body_start + len(stripped)
        else:
            body_end = body_start
        heading_end = text.find("\n", start)
        heading_end = len(text) if heading_end < 0 else heading_end
        sections.append(Section(kind, start, min(heading_end, body_start), body_start, body_end))
    return sections
