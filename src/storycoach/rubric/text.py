"""One text model for every rule: a draft is blocks (paragraphs, list items, headings) and
sentences, never physical lines.

`Doc` normalises the draft once, before any rule runs: the lines of a paragraph are joined with
one space (hard wrapping changes nothing), list items, headings and STAR labels stay blocks of
their own, CRLF, tabs, runs of spaces, trailing spaces and Markdown emphasis (``**``, ``__``,
``*x*``, ``_x_``) disappear. Detectors read `Doc.text` (the normalised text) and return offsets
into it; an offset map turns any of them back into the line and column of the ORIGINAL file.

The STAR heading grammar lives here too (`star_kind`), shared by reviews and story files.
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

#: A STAR kind's field name in a story record.
STAR_FIELDS = {"S": "situation", "T": "task", "A": "action", "R": "result", "L": "reflection"}


def star_kind(heading: str) -> str | None:
    """The STAR part a heading's text names (S, T, A, R or L for reflection), or None.

    The one grammar for STAR headings: "## Context" is a Situation in a story file as in a
    review, "Lessons learned" a Reflection, "Results" a Result.
    """
    match = _HEADING.match(heading.strip() + "\n")
    if match is None or match.end() < len(heading.strip()):
        return None
    return _KIND.get(match["name"].lower(), "L")


# -- normalisation ---------------------------------------------------------------------------

# Inside a line: runs of blanks (become one space) and Markdown emphasis marks (dropped).
# A "*" or "_" is emphasis when it touches a word on one side only: "*x*", "_x_", not
# "user_id", "2*3" or the "* " of a list item.
_NOISE = re.compile(
    r"[ \t\u00a0]{2,}|\t|\u00a0|\*\*+|__+"
    r"|(?<![\w*])\*(?=[^\W_])|(?<=[^\W_])\*(?![\w*])"
    r"|(?<!\w)_(?=[^\W_])|(?<=[^\W_])_(?!\w)"
)
_NOISE_HINT = re.compile(r"[*_\t\u00a0]|  ")
_LINE = re.compile(r"([^\r\n]*)(\r\n|\r|\n|$)")
# A line that opens a block of its own: a list item, a heading, a quote, a table row, a rule.
_BLOCK_START = re.compile(r"(?:[-*•+–][ \t]|\d{1,3}[.)][ \t]|#|>|\||```|~~~|---|\*\*\*|___)")


def normalize(text: str) -> tuple[str, list[int], list[int]]:
    """The draft as blocks: (normalised text, segment starts in it, their original offsets).

    Every run of normalised text copies a run of the original, or stands for one character of
    it (a joined line break becomes the space at its place), so one pair of sorted lists maps
    any normalised offset back to the original.
    """
    out: list[str] = []
    seg_n: list[int] = []
    seg_o: list[int] = []
    n = 0

    def put(piece: str, orig: int) -> None:
        nonlocal n
        seg_n.append(n)
        seg_o.append(orig)
        out.append(piece)
        n += len(piece)

    joinable = False  # the previous line is paragraph text another line may continue
    first = True
    # Most drafts have no emphasis, tabs or runs of spaces: skip the per-character scan then.
    noisy = _NOISE_HINT.search(text) is not None
    for line in _LINE.finditer(text):
        start, end = line.span(1)
        if start == len(text) and not line.group(2) and not first:
            break
        while start < end and text[start] in " \t\u00a0":
            start += 1
        while end > start and text[end - 1] in " \t\u00a0":
            end -= 1
        blank = start == end
        # Matched in place: `endpos` makes the line's end the end of the string for `\Z`.
        heading = None if blank else _HEADING.match(text, line.start(1), end)
        block = blank or heading is not None or _BLOCK_START.match(text, start) is not None
        if not first:
            put(" " if joinable and not block else "\n", line.start() - 1 if line.start() else 0)
        first = False
        pos = start
        for noise in _NOISE.finditer(text, start, end) if noisy else ():
            if noise.start() > pos:
                put(text[pos : noise.start()], pos)
            if noise.group()[0] in " \t\u00a0":
                put(" ", noise.start())
            pos = noise.end()
        if end > pos:
            put(text[pos:end], pos)
        # Paragraph text and list items continue on the next line; headings and STAR labels
        # with nothing after them do not ("## Action" then the body; "A:" then bullets).
        joinable = (
            not blank
            and not text.startswith("#", start)
            and not (heading is not None and heading.end() >= end)
        )
        if not line.group(2):
            break
    return "".join(out), seg_n, seg_o


# Where a sentence may end just before an offset: start of a block (after list or heading
# marks), or sentence punctuation, then optional opening quotes and brackets.
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
    """The draft as blocks and sentences, and what every detector needs from it, computed once.

    `text` is the normalised draft (see `normalize`): one line per block. `source` is the
    draft as given; `line_col` answers in its lines and columns.
    """

    def __init__(self, text: str) -> None:
        self.source = text
        self.text, self._seg_n, self._seg_o = normalize(text)
        text = self.text
        lower = text.lower()
        if len(lower) != len(text):  # a few characters grow when lower-cased ("İ")
            lower = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
        #: Same offsets as `text`; case-insensitive patterns run on it (see detectors.base.ci).
        self.lower = lower
        #: Where each block starts in `text`.
        self.line_starts = [0]
        self.line_starts.extend(m.end() for m in re.finditer("\n", text))
        self.sections = _sections(text)
        self.headed = len({s.kind for s in self.sections}) >= 2
        self.cache: dict[Any, Any] = {}

    # -- positions -------------------------------------------------------------------------

    def source_offset(self, pos: int) -> int:
        """The offset in `source` of offset `pos` in `text`."""
        index = bisect_right(self._seg_n, pos) - 1
        if index < 0:
            return 0
        return self._seg_o[index] + pos - self._seg_n[index]

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        """The span in `source` of the non-empty span `start:end` of `text`."""
        return self.source_offset(start), self.source_offset(end - 1) + 1

    def line_col(self, pos: int) -> tuple[int, int]:
        """1-based line and column in the original draft of offset `pos` in `text`."""
        at = self.source_offset(pos)
        source = self.source
        line = source.count("\n", 0, at) + source.count("\r", 0, at) - source.count("\r\n", 0, at)
        start = max(source.rfind("\n", 0, at), source.rfind("\r", 0, at)) + 1
        return line + 1, at - start + 1

    def line_index(self, pos: int) -> int:
        """0-based index of the block holding offset `pos`."""
        return bisect_right(self.line_starts, pos) - 1

    def line_bounds(self, pos: int) -> tuple[int, int]:
        """The block (paragraph, list item, heading) around `pos`."""
        index = self.line_index(pos)
        start = self.line_starts[index]
        end = self.text.find("\n", start)
        return start, len(self.text) if end < 0 else end

    def is_sentence_start(self, pos: int) -> bool:
        """True when `pos` opens a sentence, list item or block (capitals mean nothing there)."""
        start = self.line_starts[self.line_index(pos)]
        prefix = self.text[max(start, pos - 40) : pos]
        if pos - start > 40:
            # Only the tail matters; make sure "^" cannot match mid-block.
            prefix = "\x00" + prefix
        return _SENTENCE_START.search(prefix) is not None

    def sentence_bounds(self, pos: int) -> tuple[int, int]:
        """The sentence around `pos`: from the last . ! ? or block break to the next one."""
        text = self.text
        line_start, line_end = self.line_bounds(pos)
        start = line_start
        for stop in _SENT_END.finditer(text, line_start, pos):
            start = stop.end()
        after = _SENT_END.search(text, pos, line_end)
        end = after.start() + 1 if after else line_end
        while start < end and text[start] in " \t*_-#>":
            start += 1
        return start, end

    def sentences(self) -> list[tuple[int, int]]:
        """Every sentence of the draft, in order (headings excluded), computed once."""
        found = self.cache.get("sentences")
        if found is None:
            found = []
            heads = {s.heading_start for s in self.sections if s.heading_end == s.body_start}
            pos = 0
            text = self.text
            while pos < len(text):
                if text[pos] in " \n":
                    pos += 1
                    continue
                start, end = self.sentence_bounds(pos)
                if start not in heads and end > start:
                    found.append((start, end))
                pos = max(end, pos + 1)
            self.cache["sentences"] = found
        return found

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
