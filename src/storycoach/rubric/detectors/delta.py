"""Concrete deltas: a measured before/after, an outcome count, or a checkable behaviour change.

A number alone is not a delta: "a team of 8" and "3 services" describe the situation. So every
measured pattern ties a number to a change ("cut ... by 40%", "from 900 ms to 300 ms",
"3x faster", "zero incidents since", "shipped to 40 teams"). A behaviour change ("I now ...",
"since then I ...", "I stopped ...") counts when it is checkable: it names a trigger, a
frequency, a number or an artifact, and its verb is not a vague one ("communicate", "try").
With STAR headings only the Result and Reflection parts are read, else the whole text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import Field

from storycoach.rubric.detectors.base import (
    Context,
    Detector,
    Hit,
    Params,
    cached,
    ci,
    compile_any,
    expand,
    lazy,
    register,
    words_re,
)
from storycoach.rubric.text import Doc


class DeltaParams(Params):
    scope: str = Field(default="RL", description="STAR parts to read when the draft is headed.")
    fragments: dict[str, str]
    measured: list[str]
    outcomes: list[str] = Field(
        description="Checkable outcomes without a measured number: passed, promoted, shipped on "
        "a date, adopted by named teams."
    )
    behaviour: list[str]
    weak_behaviour: list[str]
    triggers: list[str]
    artifacts: list[str]
    vague_verbs: list[str]
    vague_phrases: list[str]
    result_markers: list[str]
    result_numbers: list[str] = Field(
        description="Numbers that count as a result only inside the result part."
    )
    result_zone_markers: list[str] = Field(
        description="Where the result part starts in a draft without STAR headings."
    )


@dataclass(frozen=True)
class Change:
    """A behaviour-change clause and whether it is concrete enough to check."""

    start: int
    end: int
    concrete: bool


@register
class Delta(Detector):
    """Fires when the result/learning has no concrete delta; quotes the vague phrase."""

    name = "delta"
    Params = DeltaParams

    params: DeltaParams

    # Speed: patterns that open with a number are tried only where a number is; patterns that
    # need a number somewhere only in sentences that have one; the rest everywhere.
    @property
    def _led(self) -> list[str]:
        return [x for x in self.params.measured if x.lstrip().startswith("(?:{num})")]

    @property
    def _needs(self) -> list[str]:
        led = self._led
        rest = [x for x in self.params.measured if x not in led]
        return [x for x in rest if "{num}" in x and "{freq}" not in x]

    @lazy
    def _num(self) -> re.Pattern[str]:
        return ci(expand("{num}", self.params.fragments))

    @lazy
    def _num_led(self) -> re.Pattern[str]:
        heads = [x.lstrip()[len("(?:{num})") :] for x in self._led]
        return compile_any(heads, self.params.fragments)

    @lazy
    def _needs_num(self) -> re.Pattern[str]:
        return compile_any(self._needs, self.params.fragments)

    @lazy
    def _no_num(self) -> re.Pattern[str]:
        led, needs = self._led, self._needs
        rest = [x for x in self.params.measured if x not in led and x not in needs]
        return compile_any(rest, self.params.fragments)

    @lazy
    def _behaviour(self) -> re.Pattern[str]:
        return compile_any(self.params.behaviour, self.params.fragments)

    @lazy
    def _weak(self) -> re.Pattern[str]:
        return compile_any(self.params.weak_behaviour, self.params.fragments)

    @lazy
    def _triggers(self) -> re.Pattern[str]:
        return compile_any(self.params.triggers, self.params.fragments)

    @lazy
    def _artifacts(self) -> re.Pattern[str]:
        return compile_any(self.params.artifacts, self.params.fragments)

    @lazy
    def _vague_verbs(self) -> re.Pattern[str]:
        return words_re(self.params.vague_verbs)

    @lazy
    def _vague(self) -> re.Pattern[str]:
        return compile_any(self.params.vague_phrases, self.params.fragments)

    @lazy
    def _result_marker(self) -> re.Pattern[str]:
        return compile_any(self.params.result_markers, self.params.fragments)

    @lazy
    def _result_numbers(self) -> re.Pattern[str]:
        return compile_any(self.params.result_numbers, self.params.fragments)

    @lazy
    def _change_verb(self) -> re.Pattern[str]:
        return compile_any([r"(?:{change})\b"], self.params.fragments)

    @lazy
    def _zone_marker(self) -> re.Pattern[str]:
        return compile_any(self.params.result_zone_markers, self.params.fragments)

    @lazy
    def _first_word(self) -> re.Pattern[str]:
        return re.compile(r"[\s,:]*(?:(?:\w+ly|always|also|then|now|just|to)\s+)*(\w+)")

    # -- shared with other criteria ----------------------------------------------------------

    def changes(self, doc: Doc) -> list[Change]:
        """Behaviour-change clauses anywhere in the draft (once per draft)."""
        return cached(doc, ("changes", id(self)), lambda: self._changes(doc))

    @lazy
    def _outcomes(self) -> re.Pattern[str]:
        return compile_any(self.params.outcomes, self.params.fragments)

    def outcome(self, doc: Doc, spans: list[tuple[int, int]]) -> re.Match[str] | None:
        """A measured delta or a checkable outcome without digits ("passed the exam",
        "was promoted", "shipped on 14 March 2024") in `spans`."""
        found = self.measured(doc, spans)
        if found is None:
            found = next(
                (m for a, b in spans for m in self._outcomes.finditer(doc.lower, a, b)), None
            )
        return found

    def measured(self, doc: Doc, spans: list[tuple[int, int]]) -> re.Match[str] | None:
        """A measured delta in `spans` (backstory like "had grown to 14 hops" does not count),
        or a number with a unit inside the result part; which one, when several, is not fixed."""
        return self._measured_in(doc, spans) or self._result_number(doc)

    def _measured_in(self, doc: Doc, spans: list[tuple[int, int]]) -> re.Match[str] | None:
        # Callers ask only whether there is one, so the sentence around each number is read
        # as soon as the number is found: a hit early in the draft ends the scan there.
        text = doc.lower
        for start, end in spans:
            last = -1
            for number in self._num.finditer(text, start, end):
                found = self._num_led.match(text, number.end(), end)
                if found:
                    return found
                low, high = _sentence(text, number.start(), start, end)
                if low == last:
                    continue  # this sentence was read for the number before
                last = low
                for found in self._needs_num.finditer(text, low, high):
                    if not self._backstory(text, found):
                        return found
        for start, end in spans:  # the patterns that need no number are the slowest: last
            for found in self._no_num.finditer(text, start, end):
                if not self._backstory(text, found):
                    return found
        return None

    def _result_number(self, doc: Doc) -> re.Match[str] | None:
        text = doc.lower
        for start, end in self.result_zone(doc):
            found = self._result_numbers.search(text, start, end)
            if found:
                return found
        return None

    def _backstory(self, text: str, found: re.Match[str]) -> bool:
        return bool(
            self._change_verb.match(found.group())
            and _BACKSTORY.search(text, max(0, found.start() - 24), found.start())
        )

    def result_zone(self, doc: Doc) -> list[tuple[int, int]]:
        """Where the result is told: the Result/Reflection parts, else from the first
        result marker ("after the launch", "as a result") on, else the last paragraph."""
        spans = doc.spans(self.params.scope)
        if spans or doc.headed:
            return spans
        marker = self._zone_marker.search(doc.lower)
        if marker:
            return [(marker.start(), len(doc.text))]
        last = doc.text.rstrip().rfind("\n\n")
        return [(last, len(doc.text))] if last > 0 else []

    def vague_phrase(self, doc: Doc, spans: list[tuple[int, int]]) -> re.Match[str] | None:
        for start, end in spans:
            found = self._vague.search(doc.lower, start, end)
            if found:
                return found
        return None

    # -- the rule ----------------------------------------------------------------------------

    def run(self, doc: Doc, ctx: Context) -> list[Hit]:
        spans = doc.scope(self.params.scope)
        if doc.headed and not spans:
            spans = [(0, len(doc.text))]  # no Result part: missing-result says so; read all
        elif not doc.headed:
            # Prose: the sentences before the narrator first appears set the scene ("During
            # the launch our traffic tripled."), so a change there is context, not a result.
            first = _NARRATOR.search(doc.lower)
            if first is not None:
                spans = [(doc.sentence_bounds(first.start())[0], len(doc.text))]
        # Whether `measured` finds anything; only the answer matters here, so its two parts may
        # run in either order. Once the measured patterns are compiled they usually answer at
        # once, as in a long run; until then (a single review from the command line) the cheap
        # result-part check goes first and often spares compiling the two largest regexes of
        # all, which costs more than the whole review.
        if "_num_led" in self.__dict__:
            found = self._measured_in(doc, spans) or self._result_number(doc)
        else:
            found = self._result_number(doc) or self._measured_in(doc, spans)
        if found:
            return []
        if any(c.concrete and _inside(c.start, spans) for c in self.changes(doc)):
            return []
        if any(self._outcomes.search(doc.lower, a, b) for a, b in spans):
            return []
        vague = self.vague_phrase(doc, spans) or self.vague_phrase(doc, [(0, len(doc.text))])
        if vague:
            return [Hit("phrase", vague.start(), vague.end())]
        result = doc.section("R")
        if result is not None and not result.empty:
            start, end = doc.sentence_bounds(result.body_start)
            return [Hit("sentence", start, end)]
        marker = self._result_marker.search(doc.lower)
        if marker:
            start, end = doc.sentence_bounds(marker.start())
            return [Hit("sentence", start, end)]
        if result is not None:
            return [Hit("default", pos=result.heading_start)]
        return [Hit("default", pos=_last_line_start(doc.text))]

    def _changes(self, doc: Doc) -> list[Change]:
        text = doc.lower
        found = []
        for m in self._behaviour.finditer(text):
            _, end = doc.sentence_bounds(m.start())
            clause = text[m.end() : end]
            found.append(Change(m.start(), end, self._concrete(m.group(), clause)))
        for m in self._weak.finditer(text):
            _, end = doc.sentence_bounds(m.start())
            clause = text[m.end() : end]
            found.append(Change(m.start(), end, bool(self._triggers.search(clause))))
        found.sort(key=lambda change: change.start)
        return found

    def _concrete(self, opener: str, clause: str) -> bool:
        if self._triggers.search(clause) or self._triggers.search(opener):
            return True
        first = self._first_word.match(clause)
        if first and self._vague_verbs.fullmatch(first[1]):
            return False
        return bool(self._artifacts.search(clause))


# The narrator in a sentence: a first person, or a sentence that opens with a past-tense verb.
_NARRATOR = re.compile(r"\b(?:i|we|me|my|us)\b|(?:^|[.!?]\s+)[a-z]+ed\b", re.MULTILINE)

# Past perfect and present perfect set the scene: "the path had grown to 14 hops".
_BACKSTORY = re.compile(
    r"\b(?:had|has|have|['’]d)\s+(?:been\s+|already\s+|steadily\s+|slowly\s+)?$"
)


def _sentence(text: str, pos: int, low: int, high: int) -> tuple[int, int]:
    """The sentence around `pos` (". " and line breaks end one; "0.1" does not)."""
    start = max(text.rfind(". ", low, pos), text.rfind("\n", low, pos), text.rfind("? ", low, pos))
    start = low if start < 0 else start + 1
    ends = [i for i in (text.find(". ", pos, high), text.find("\n", pos, high)) if i >= 0]
    return start, (min(ends) + 1 if ends else high)


def _inside(pos: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= pos < end for start, end in spans)


def _last_line_start(text: str) -> int:
    stripped = text.rstrip()
    return stripped.rfind("\n") + 1
