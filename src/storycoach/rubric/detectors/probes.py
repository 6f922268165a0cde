"""Question-specific probes: what the question's interviewer listens for.

Most probes are "the answer must contain evidence of X" and/or "the answer must not contain Y"
(`evidence`), with the patterns in the rubric file. Three need a little more: the order of
mitigation and root-causing in an incident (`order`), a dated behaviour change after feedback
(`dated_change`), and the culture marker the question names (`markers`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from pydantic import Field

from storycoach.rubric.detectors.base import (
    Context,
    Detector,
    Hit,
    Params,
    compile_any,
    first_in,
    lazy,
    register,
)
from storycoach.rubric.detectors.dates import Dates
from storycoach.rubric.detectors.delta import Delta
from storycoach.rubric.text import Doc


class PatternGroup(Params):
    kind: str
    patterns: list[str] = Field(min_length=1)
    unless: list[str] = Field(default_factory=list)


#: A compiled pattern group: its kind, what it matches and what excuses it.
_Group = tuple[str, re.Pattern[str], re.Pattern[str]]


class EvidenceParams(Params):
    fragments: dict[str, str] = Field(default_factory=dict)
    require: list[PatternGroup] = Field(default_factory=list)
    flag: list[PatternGroup] = Field(default_factory=list)
    point_to: str = Field(default="A", description="STAR part to point at when nothing quotes.")


@register
class Evidence(Detector):
    """Flags the first forbidden pattern (quoted), else the first missing required group."""

    name = "evidence"
    Params = EvidenceParams

    params: EvidenceParams

    @lazy
    def _require(self) -> list[_Group]:
        return self._groups(self.params.require)

    @lazy
    def _flag(self) -> list[_Group]:
        return self._groups(self.params.flag)

    def _groups(self, groups: list[PatternGroup]) -> list[_Group]:
        frags = self.params.fragments
        return [
            (g.kind, compile_any(g.patterns, frags), compile_any(g.unless, frags)) for g in groups
        ]

    def run(self, doc: Doc, ctx: Context) -> list[Hit]:
        text = doc.lower
        for kind, pattern, unless in self._flag:
            found = pattern.search(text)
            if found and not unless.search(text):
                return [Hit(kind, found.start(), found.end())]
        for kind, pattern, unless in self._require:
            if not pattern.search(text) and not unless.search(text):
                return [Hit(kind, pos=_point(doc, self.params.point_to))]
        return []


class OrderParams(Params):
    fragments: dict[str, str] = Field(default_factory=dict)
    first: list[str] = Field(min_length=1, description="What must come first (mitigation).")
    not_before: list[str] = Field(min_length=1, description="What must not come earlier.")
    scope: str = Field(default="TARL", description="STAR parts to read when headed.")
    point_to: str = "A"


@register
class Order(Detector):
    """Fires when `first` never happens, or `not_before` happens earlier (quoted)."""

    name = "order"
    Params = OrderParams

    params: OrderParams

    @lazy
    def _first(self) -> re.Pattern[str]:
        return compile_any(self.params.first, self.params.fragments)

    @lazy
    def _later(self) -> re.Pattern[str]:
        return compile_any(self.params.not_before, self.params.fragments)

    def run(self, doc: Doc, ctx: Context) -> list[Hit]:
        spans = doc.scope(self.params.scope) or [(0, len(doc.text))]
        first = first_in(self._first, doc, spans)
        if first is None:
            return [Hit("missing", pos=_point(doc, self.params.point_to))]
        early = first_in(self._later, doc, [(s, min(e, first.start())) for s, e in spans])
        if early is not None:
            return [Hit("late", early.start(), early.end(), fields={"first": first.group()})]
        return []


class DatedChangeParams(Params):
    changes_from: str
    dates_from: str


@register
class DatedChange(Detector):
    """Fires when no concrete behaviour change follows feedback, or when it carries no date."""

    name = "dated_change"
    Params = DatedChangeParams
    _delta: Delta
    _dates: Dates

    def bind(self, peers: dict[str, Detector]) -> None:
        self._delta = self.peer(peers, self.params.changes_from, Delta)
        self._dates = self.peer(peers, self.params.dates_from, Dates)

    def run(self, doc: Doc, ctx: Context) -> list[Hit]:
        changes = [c for c in self._delta.changes(doc) if c.concrete]
        if not changes:
            whole = [(0, len(doc.text))]
            vague = self._delta.vague_phrase(doc, whole)
            if vague:
                return [Hit("none", vague.start(), vague.end())]
            return [Hit("none", pos=_point(doc, "L") if doc.section("L") else _point(doc, "R"))]
        # "since June" dates a change in a story anchored elsewhere ("In March 2024 ...").
        dates = [m for m in self._dates.mentions(doc) if m.kind in ("absolute", "partial")]
        for change in changes:
            low, high = _paragraph(doc.text, change.start)
            if any(low <= d.start < high for d in dates):
                return []
        first = changes[0]
        return [Hit("undated", first.start, first.end)]


class MarkersParams(Params):
    names: dict[str, str] = Field(description="Marker slug -> display name.")
    patterns: dict[str, list[str]] = Field(description="Marker slug -> loose regex patterns.")
    point_to: str = "L"


@register
class Markers(Detector):
    """Fires when the question probes culture markers and the draft names none of them."""

    name = "markers"
    Params = MarkersParams

    params: MarkersParams

    def __init__(self, params: MarkersParams, directory: Path) -> None:
        super().__init__(params, directory)
        # Compiled per marker on first use: a question names one or two of them.
        self._patterns: dict[str, re.Pattern[str]] = {}

    def compile(self) -> None:
        super().compile()
        for slug in self.params.patterns:
            self._pattern(slug)

    def _pattern(self, slug: str) -> re.Pattern[str]:
        found = self._patterns.get(slug)
        if found is None:
            if slug in self.params.patterns:
                found = compile_any(self.params.patterns[slug])
            else:
                words = [re.escape(w) for w in re.split(r"[^a-z0-9]+", slug.casefold()) if w]
                found = re.compile(r"\W+".join(words) or "(?!)")
            self._patterns[slug] = found
        return found

    def run(self, doc: Doc, ctx: Context) -> list[Hit]:
        question = ctx.question
        if question is None or not question.markers:
            return []
        if any(self._pattern(slug).search(doc.lower) for slug in question.markers):
            return []
        names = [self.params.names.get(s, s.replace("-", " ").title()) for s in question.markers]
        names = list(dict.fromkeys(names))
        point = "L" if doc.section("L") else "R"
        fields = {"markers": _either(f'"{n}"' for n in names), "example": names[0]}
        return [Hit("one" if len(names) == 1 else "default", pos=_point(doc, point), fields=fields)]


def _either(items: Iterable[str]) -> str:
    """ "A", "A or B", "A, B or C": alternatives as a sentence lists them."""
    listed = list(items)
    if len(listed) <= 2:
        return " or ".join(listed)
    return f"{', '.join(listed[:-1])} or {listed[-1]}"


def _point(doc: Doc, kinds: str) -> int:
    """Where to point when nothing can be quoted: the heading of the first matching part."""
    for kind in kinds:
        section = doc.section(kind)
        if section is not None:
            return section.heading_start
    return 0


def _paragraph(text: str, pos: int) -> tuple[int, int]:
    start = text.rfind("\n\n", 0, pos)
    end = text.find("\n\n", pos)
    return (0 if start < 0 else start), (len(text) if end < 0 else end)
