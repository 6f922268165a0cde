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


@register
class MissingResult(Detector):
    """Fires when the draft never says how it ended (no Result part, or no outcome words)."""

    name = "result"
    Params = ResultParams

    params: ResultParams

    @lazy
    def _outcome(self) -> re.Pattern[str]:
        return compile_any(self.params.result_language)

    def run(self, doc: Doc, ctx: Context) -> list[Hit]:
        end = _last_line_start(doc.text)
        if doc.headed:
            result = doc.section("R")
            if result is None:
                return [Hit("missing", pos=end)]
            if result.empty:
                return [Hit("empty", pos=result.heading_start)]
            return []
        if self._outcome.search(doc.lower):
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


_WORDS = re.compile(r"\S+")


@register
class SpokenLength(Detector):
    """Fires when the draft is too short or too long to say aloud in the target time."""

    name = "spoken_length"
    Params = LengthParams

    def run(self, doc: Doc, ctx: Context) -> list[Hit]:
        p = self.params
        text = doc.text
        count = len(text.split())
        for section in doc.sections:  # headings are not spoken
            count -= len(text[section.heading_start : section.heading_end].split())
        low = round(p.min_minutes * p.words_per_minute_low)
        high = round(p.max_minutes * p.words_per_minute_high)
        middle = (p.words_per_minute_low + p.words_per_minute_high) / 2
        fields = {
            "words": count,
            "minutes": f"{count / middle:.1f}",
            "low": low,
            "high": high,
            "wpm": round(middle),
        }
        if count < low:
            return [Hit("short", pos=0, fields=fields)]
        if count > high:
            # Point at the word where the answer runs past the time limit.
            return [Hit("long", pos=_spoken_word_at(doc, high), fields=fields)]
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
