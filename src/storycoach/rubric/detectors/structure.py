"""Shape of the answer: a Result part, the story's age, and spoken length."""

from __future__ import annotations

import re
from datetime import date

from pydantic import Field

from storycoach.rubric.detectors.base import (
    Context,
    Detector,
    Hit,
    Params,
    compile_any,
    lazy,
    register,
)
from storycoach.rubric.detectors.dates import Dates
from storycoach.rubric.text import Doc


class ResultParams(Params):
    result_language: list[str] = Field(description="Outcome words, for drafts without headings.")
    delta_from: str = Field(
        description="Criterion id whose measured-change patterns also state an outcome."
    )


@register
class MissingResult(Detector):
    """Fires when the draft never says how it ended (no Result part, or no outcome words)."""

    name = "result"
    Params = ResultParams

    params: ResultParams

    @lazy
    def _outcome(self) -> re.Pattern[str]:
        return compile_any(self.params.result_language)

    def bind(self, peers: dict[str, Detector]) -> None:
        from storycoach.rubric.detectors.delta import Delta

        self._delta = self.peer(peers, self.params.delta_from, Delta)

    def states_outcome(self, doc: Doc, spans: list[tuple[int, int]]) -> bool:
        """Whether any sentence in `spans` says how it ended: outcome language or a measured
        change ("went from 14 a week to 2", "zero repeats in 5 months")."""
        if any(self._outcome.search(doc.lower, a, b) for a, b in spans):
            return True
        return self._delta.outcome(doc, spans) is not None

    def run(self, doc: Doc, ctx: Context) -> list[Hit]:
        end = _last_line_start(doc.text)
        whole = [(0, len(doc.text))]
        if doc.headed:
            result = doc.section("R")
            if result is not None and result.empty:
                return [Hit("empty", pos=result.heading_start)]
            if result is not None:
                return []
            # No Result heading: the outcome may still be told under another part ("Change:",
            # "What went wrong"); only a draft where no sentence states one fails.
            if self.states_outcome(doc, whole):
                return []
            return [Hit("missing", pos=end)]
        if self.states_outcome(doc, whole):
            return []
        return [Hit("missing", pos=end)]


class AgeParams(Params):
    max_months: int = Field(gt=0)
    dates_from: str = Field(description="Criterion id whose date finder reads dates in the text.")


@register
class StoryAge(Detector):
    """Fires when the story is older than the guide's window (`max_months`)."""

    name = "story_age"
    Params = AgeParams
    _dates: Dates

    def bind(self, peers: dict[str, Detector]) -> None:
        self._dates = self.peer(peers, self.params.dates_from, Dates)

    def run(self, doc: Doc, ctx: Context) -> list[Hit]:
        when = ctx.story_when
        from_text = when is None
        if when is None:
            when = self._dates.latest(doc)
        if when is None:
            return []
        today = ctx.today or date.today()
        months = (today.year - when.year) * 12 + today.month - when.month
        if months <= self.params.max_months:
            return []
        fields = {"months": months, "when": f"{when:%B %Y}", "max": self.params.max_months}
        for mention in self._dates.mentions(doc):
            same_month = from_text or mention.month in (None, when.month)
            if mention.kind == "absolute" and mention.year == when.year and same_month:
                return [Hit("default", mention.start, mention.end, fields=fields)]
        return [Hit("default", pos=0, fields=fields)]


class LengthParams(Params):
    words_per_minute_low: int = Field(gt=0)
    words_per_minute_high: int = Field(gt=0)
    min_minutes: float = Field(gt=0)
    max_minutes: float = Field(gt=0)
    error_below_words: int = Field(
        gt=0, description="Fewer spoken words than this cannot be a 2-3 minute answer: an error."
    )
    error_above_minutes: float = Field(gt=0, description="Longer than this is an error.")
    min_part_words: int = Field(
        gt=0, description="A STAR part with fewer words is a skeleton, not an answer."
    )
    names_from: str
    dates_from: str
    agency_from: str
    delta_from: str
    lacks: dict[str, str] = Field(
        description="Advice for each thing a short draft lacks: names, dates, action, result."
    )
    lacks_nothing: str


_WORDS = re.compile(r"\S+")
_PART_NAMES = {"S": "Situation", "T": "Task", "A": "Action", "R": "Result"}


@register
class SpokenLength(Detector):
    """Fires when the draft is too short or too long to say aloud in the target time.

    A little outside the 2-3 minutes is a warning; a draft that cannot be a spoken answer at
    all (a sentence or two, a STAR skeleton with one-word parts, or far too long) is an error.
    The advice for a short draft names only what it lacks, asking the other rules' detectors.
    """

    name = "spoken_length"
    Params = LengthParams
    params: LengthParams

    def bind(self, peers: dict[str, Detector]) -> None:
        from storycoach.rubric.detectors.agency import Agency
        from storycoach.rubric.detectors.delta import Delta
        from storycoach.rubric.detectors.names import Names

        p = self.params
        self._names = self.peer(peers, p.names_from, Names)
        self._dates = self.peer(peers, p.dates_from, Dates)
        self._agency = self.peer(peers, p.agency_from, Agency)
        self._delta = self.peer(peers, p.delta_from, Delta)

    def _lacks(self, doc: Doc, ctx: Context) -> str:
        p = self.params
        missing = []
        if not self._names.people(doc).named:
            missing.append(p.lacks["names"])
        if not any(m.kind == "absolute" for m in self._dates.mentions(doc)):
            missing.append(p.lacks["dates"])
        if self._agency.first_person_action(doc) is None:
            missing.append(p.lacks["action"])
        if self._delta.run(doc, ctx):
            missing.append(p.lacks["result"])
        if not missing:
            return p.lacks_nothing
        if len(missing) == 1:
            return f"Add {missing[0]}."
        return f"Add {', '.join(missing[:-1])} and {missing[-1]}."

    def run(self, doc: Doc, ctx: Context) -> list[Hit]:
        p = self.params
        text = doc.text
        headings = [(s.heading_start, s.heading_end) for s in doc.sections]
        count = len(text.split())
        for start, end in headings:  # headings are not spoken
            count -= len(text[start:end].split())
        low = round(p.min_minutes * p.words_per_minute_low)
        high = round(p.max_minutes * p.words_per_minute_high)
        middle = (p.words_per_minute_low + p.words_per_minute_high) / 2
        fields: dict[str, object] = {
            "words": count,
            "minutes": f"{count / middle:.1f}",
            "low": low,
            "high": high,
            "wpm": round(middle),
        }
        if count < low:
            thin = [
                _PART_NAMES[s.kind]
                for s in doc.sections
                if s.kind in _PART_NAMES
                and len(text[s.body_start : s.body_end].split()) < p.min_part_words
            ]
            fields["lacks"] = self._lacks(doc, ctx)
            if doc.headed and thin:
                fields["parts"] = ", ".join(thin)
                return [Hit("skeleton", pos=0, fields=fields)]
            kind = "far-short" if count < p.error_below_words else "short"
            return [Hit(kind, pos=0, fields=fields)]
        if count > high:
            # Point at the word where the answer runs past the time limit.
            far = count / middle > p.error_above_minutes
            kind = "far-long" if far else "long"
            return [Hit(kind, pos=_spoken_word_at(doc, high), fields=fields)]
        return []


def _spoken_word_at(doc: Doc, index: int) -> int:
    """Offset of the `index`-th spoken word (headings skipped), or 0: one pass over the words
    and the headings together, both in text order."""
    headings = sorted((s.heading_start, s.heading_end) for s in doc.sections)
    at, count = 0, 0
    for word in _WORDS.finditer(doc.text):
        start = word.start()
        while at < len(headings) and headings[at][1] <= start:
            at += 1
        if at < len(headings) and headings[at][0] <= start:
            continue  # a heading's word: not spoken
        if count == index:
            return start
        count += 1
    return 0


def _last_line_start(text: str) -> int:
    stripped = text.rstrip()
    return stripped.rfind("\n") + 1
