"""Calendar anchors: years, months, quarters, fiscal years, seasons with a year, numeric dates.

The hard part is what is *not* a date: "2000 requests", "version 2020", "cut to 2000 ms",
"may" the modal, "March" the verb, "April said" the person. Each candidate is judged on the few
words around it, which keeps this linear in the text length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import Field

from storycoach.rubric.detectors.base import (
    Context,
    Detector,
    Hit,
    Params,
    alternation,
    cached,
    ci,
    compile_any,
    lazy,
    register,
)
from storycoach.rubric.text import Doc

_MONTH_NUMBER = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}


@dataclass(frozen=True)
class DateMention:
    """A calendar anchor with a year (``absolute``), a month, quarter or half without one
    (``partial``: "in March", "Q3", placed only by an anchor elsewhere in the draft), or a
    relative time like "last year" (``relative``)."""

    start: int
    end: int
    kind: str
    year: int | None = None
    month: int | None = None


class DatesParams(Params):
    year_min: int = Field(ge=1900, le=2100)
    year_max: int = Field(ge=1900, le=2100)
    months: list[str]
    month_abbreviations: list[str]
    modal_months: list[str] = Field(description="Month names that are also verbs or modals.")
    date_prepositions: list[str]
    modal_month_prepositions: list[str]
    seasons: list[str]
    count_words_after: list[str]
    quantifiers_after: list[str] = Field(
        description="Words after a number that make it a count unless a year preposition "
        "comes before it ('2000 more users', but 'by the end of 2021 every service')."
    )
    count_nouns: list[str] = Field(
        description="Plural nouns that make a number a count up to two words before them."
    )
    plural_not_count: list[str]
    count_words_before: list[str]
    identifier_words: list[str] = Field(
        description="A number after these, even after 'is'/'was', is an identifier."
    )
    quantity_nouns: list[str] = Field(description="'a fleet of 2000': a quantity, not a year.")
    year_prepositions: list[str] = Field(
        description="Before a number, these make it a year despite a count word after it."
    )
    person_verbs: list[str]
    person_verbs_before: list[str]
    relative: list[str]
    names_from: str | None = Field(
        default=None, description="Criterion id whose name lists tell 'June Okafor' from June."
    )


@register
class Dates(Detector):
    """Fires when the draft has no calendar anchor; quotes a relative one when there is one."""

    name = "dates"
    Params = DatesParams

    params: DatesParams

    def __init__(self, params: DatesParams, directory: Path) -> None:
        super().__init__(params, directory)
        p = params
        self._full = {m.casefold() for m in p.months}
        self._modal = {m.casefold() for m in p.modal_months}
        self._count_after = {w.casefold() for w in p.count_words_after}
        self._quantifiers = {w.casefold() for w in p.quantifiers_after}
        self._count_nouns = {w.casefold() for w in p.count_nouns}
        self._not_count = {w.casefold() for w in p.plural_not_count}

    # Patterns open with a literal or a character class (not a look-behind) so that the regex
    # engine can skip ahead; word boundaries are checked in `_starts_token`.
    @lazy
    def _month(self) -> re.Pattern[str]:
        months = alternation(self.params.months + self.params.month_abbreviations)
        return ci(rf"({months})(\.)?(?![\w'’-])")

    @lazy
    def _month_after(self) -> re.Pattern[str]:
        return re.compile(
            r"\s*(?:(?P<day>\d{1,2})(?P<ord>st|nd|rd|th)?(?![\d:.]\d))?"
            r"(?:,?\s*(?:of\s+)?(?:(?P<year>(?:19|20)\d{2})(?!\d)|['’](?P<yy>\d{2})\b))?"
        )

    @lazy
    def _day_before(self) -> re.Pattern[str]:
        return re.compile(r"\b\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?$")

    @lazy
    def _prep_before(self) -> re.Pattern[str]:
        return ci(rf"\b(?:{alternation(self.params.date_prepositions)})\s+$")

    @lazy
    def _modal_prep_before(self) -> re.Pattern[str]:
        return ci(rf"\b(?:{alternation(self.params.modal_month_prepositions)})\s+$")

    @lazy
    def _person_after(self) -> re.Pattern[str]:
        return re.compile(rf"['’]s\b|\s+(?:{alternation(self.params.person_verbs)})\b")

    @lazy
    def _person_before(self) -> re.Pattern[str]:
        return re.compile(rf"\b(?:{alternation(self.params.person_verbs_before)})\s+$")

    @lazy
    def _year(self) -> re.Pattern[str]:
        return re.compile(
            r"(?P<year>(?:19|20)\d\d)(?P<q>-?[QH][1-4])?(?![^\W_]|[%×]|[.,]\d|/\d|-[A-Za-z])"
        )

    @lazy
    def _count_before(self) -> re.Pattern[str]:
        p = self.params
        words = alternation(p.count_words_before)
        ids = alternation(p.identifier_words)
        quantity = alternation(p.quantity_nouns)
        return ci(
            rf"""(?:[$€£¥₹~#]\s*|\b(?:{words})\s*[#:]?\s*
            |\b(?:{ids})\s*(?:[#:=]|\s(?:is|was|were|of)\b)\s*
            |\ban?\s+(?:[a-z-]+\s+)?(?:{quantity})\s+of\s+)$""",
            re.VERBOSE,
        )

    @lazy
    def _year_prep(self) -> re.Pattern[str]:
        return ci(rf"\b(?:{alternation(self.params.year_prepositions)})\s+$")

    @lazy
    def _second_word(self) -> re.Pattern[str]:
        return re.compile(r"\s+([a-z]+)\b")

    @lazy
    def _after_word(self) -> re.Pattern[str]:
        return re.compile(r"(?:\s*(%|×|\+|[xkKmMbB]\b))|\s+([A-Za-z]+)")

    @lazy
    def _range_after(self) -> re.Pattern[str]:
        return re.compile(r"\s*(?:-|–|—|to|→|->|and|or)\s*(\d+)")

    @lazy
    def _season(self) -> re.Pattern[str]:
        seasons = alternation(self.params.seasons)
        return ci(rf"({seasons})\s+(?:of\s+)?(?:((?:19|20)\d{{2}})\b|['’](\d{{2}})\b)")

    @lazy
    def _quarter(self) -> re.Pattern[str]:
        year2 = r"\s?(?:19|20)\d{2}|\s?['’]\d{2}"
        # Every alternative opens with a literal or a class, so the engine can skip ahead.
        return re.compile(
            rf"[Qq][1-4](?P<qy>{year2})?(?!\w)|[1-4]Q(?P<q2y>{year2})?(?!\w)"
            rf"|H[12](?P<hy>{year2})?(?!\w)|[12]H(?P<h2y>{year2})?(?!\w)"
            rf"|FY(?P<fy>\s?(?:19|20)\d{{2}}|\s?['’]?\d{{2}})(?!\w)"
        )

    @lazy
    def _numeric(self) -> re.Pattern[str]:
        return re.compile(r"\d{1,4}[/-]\d{1,4}(?:[/-]\d{1,4})?(?![\w/]|[.-]\d)")

    @lazy
    def _apostrophe_year(self) -> re.Pattern[str]:
        return re.compile(r"['’](\d{2})\b")

    @lazy
    def _relative(self) -> re.Pattern[str]:
        return compile_any(self.params.relative)

    @lazy
    def _has_digit(self) -> re.Pattern[str]:
        return re.compile(r"\d")

    _names: Any = None

    def bind(self, peers: dict[str, Detector]) -> None:
        if self.params.names_from:
            from storycoach.rubric.detectors.names import Names

            self._names = self.peer(peers, self.params.names_from, Names)

    # -- public ----------------------------------------------------------------------------

    def mentions(self, doc: Doc) -> list[DateMention]:
        """Every calendar anchor in the draft, in text order (computed once per draft)."""
        return cached(doc, ("dates", id(self)), lambda: self._find(doc.text, doc.lower))

    def relative(self, doc: Doc) -> list[DateMention]:
        """Relative anchors ("last year"): only needed when there is no calendar anchor."""
        return [
            DateMention(m.start(), m.end(), "relative") for m in self._relative.finditer(doc.lower)
        ]

    def run(self, doc: Doc, ctx: Context) -> list[Hit]:
        mentions = self.mentions(doc)
        if any(m.kind == "absolute" for m in mentions):
            return []
        when = ""
        if ctx.story_when is not None:
            when = f" (your notes say {ctx.story_when:%B %Y})"
        # "In Q3", "in March", "last year": none of them says which year.
        relative = sorted([*mentions, *self.relative(doc)], key=lambda m: m.start)
        if relative:
            first = relative[0]
            return [Hit("relative", first.start, first.end, fields={"when": when})]
        section = doc.section("S") or doc.section("T")
        pos = section.heading_start if section else 0
        return [Hit("default", pos=pos, fields={"when": when})]

    # -- the finder ------------------------------------------------------------------------

    def _find(self, text: str, lower: str) -> list[DateMention]:
        found: list[DateMention] = []
        add = found.append
        p = self.params
        digits = self._has_digit.search(text) is not None
        if digits:
            for m in self._numeric.finditer(text):
                if _starts_token(text, m.start(), "./-"):
                    parsed = _numeric_date(m.group())
                    if parsed is not None:
                        add(DateMention(m.start(), m.end(), "absolute", *parsed))
            for m in self._year.finditer(text):
                if not _starts_token(text, m.start(), "$€£¥₹#~.,/:@") or (
                    text[m.start() - 1 : m.start()] == "-"
                    and text[m.start() - 2 : m.start() - 1].isdigit()
                ):
                    continue
                year = int(m["year"])
                if not p.year_min <= year <= p.year_max:
                    continue
                if m["q"] or self._is_year(text, lower, m.start(), m.end()):
                    add(DateMention(m.start(), m.end(), "absolute", year))
            for m in self._apostrophe_year.finditer(text):
                if self._prep_before.search(lower, max(0, m.start() - 20), m.start()):
                    add(DateMention(m.start(), m.end(), "absolute", 2000 + int(m[1])))
            for m in self._season.finditer(lower):
                if _starts_token(lower, m.start(), "-"):
                    year = int(m[2]) if m[2] else 2000 + int(m[3])
                    add(DateMention(m.start(), m.end(), "absolute", year))
        for m in self._quarter.finditer(text):
            if not _starts_token(text, m.start(), "-"):
                continue
            raw = (m["qy"] or m["q2y"] or m["hy"] or m["h2y"] or m["fy"] or "").strip().lstrip("'’")
            in_year = int(raw) if len(raw) == 4 else (2000 + int(raw) if raw else None)
            half = "H" in m.group()[:2]
            window = max(0, m.start() - 30)
            if half and in_year is None and not self._prep_before.search(lower, window, m.start()):
                continue
            add(DateMention(m.start(), m.end(), "absolute" if in_year else "partial", in_year))
        months = [m for m in self._month.finditer(lower) if _starts_token(lower, m.start(), "'’-")]
        # A month name used as a person's name once ("June Okafor said") is that person
        # everywhere it stands alone ("the 4 weeks June expected").
        people = {m[1] for m in months if self._names_person(text, m)}
        for m in months:
            if m[1] in people and text[m.start()].isupper():
                after = self._month_after.match(text, m.end())
                if not (after and (after["year"] or after["yy"] or after["ord"])):
                    continue
            mention = self._month_mention(text, lower, m)
            if mention is not None:
                add(mention)
        found.sort(key=lambda d: (d.start, d.end))
        return found

    def _is_year(self, text: str, lower: str, start: int, end: int) -> bool:
        if self._count_before.search(lower, max(0, start - 32), start):
            return False
        after = self._after_word.match(text, end)
        if after:
            if after[1]:
                return False
            word = after[2].casefold()
            if word in self._count_after:
                return False
            if after[2].islower() and word.endswith("s") and word not in self._not_count:
                return False
            dated = self._year_prep.search(lower, max(0, start - 16), start) is not None
            if not dated and word in self._quantifiers:
                return False
            if not dated and word not in _FUNCTION_WORDS:
                # "a fleet of 2000 edge routers": a count noun one word further on.
                second = self._second_word.match(text, after.end())
                if second and second[1] in self._count_nouns:
                    return False
        span = self._range_after.match(text, end)
        if span:
            other = span[1]
            if len(other) > 2 and not (
                len(other) == 4 and self.params.year_min <= int(other) <= self.params.year_max
            ):
                return False
        return True

    def _month_mention(self, text: str, lower: str, m: re.Match[str]) -> DateMention | None:
        word = text[m.start(1) : m.end(1)]
        key = m[1]
        cap = word[0].isupper()
        after = self._month_after.match(text, m.end())
        year = None
        day = False
        end = m.end()
        if after:
            if after["year"]:
                year = int(after["year"])
            elif after["yy"]:
                year = 2000 + int(after["yy"])
            if after["day"] and 1 <= int(after["day"]) <= 31:
                rest = text[after.end("day") : after.end("day") + 3]
                day = bool(after["ord"] or after["year"] or not rest.strip() or rest[0] in ",.;)")
            if year or day:
                end = after.end()
        before = lower[max(0, m.start() - 30) : m.start()]
        if not day and self._day_before.search(before):
            day = True
        prep = bool(self._prep_before.search(before))
        if cap and not (year or day) and self._names_person(text, m):
            return None
        month = _MONTH_NUMBER.get(key[:3])
        anchored = bool(year or day)
        if key in self._modal:
            if anchored:
                ok = True
            elif cap:
                ok = not _sentence_initial(text, m.start()) or prep
            else:
                ok = bool(self._modal_prep_before.search(before))
        elif key in self._full:
            ok = anchored or cap or prep
        else:  # abbreviation: "Jan" is also a name, "mar" a verb
            ok = anchored or (prep and (cap or bool(m[2])))
        if not ok:
            return None
        return DateMention(m.start(), end, "absolute" if year else "partial", year, month)

    def _names_person(self, text: str, m: re.Match[str]) -> bool:
        """ "April said", "with June", "June Okafor": a person, not a month."""
        if not text[m.start()].isupper():
            return False
        if self._person_after.match(text, m.end(), m.end() + 30):
            return True
        if self._person_before.search(text, max(0, m.start() - 30), m.start()):
            return True
        surname = _NEXT_CAPITALIZED.match(text, m.end())
        return bool(
            surname and self._names is not None and self._names.is_full_name(m[1], surname[1])
        )

    def latest(self, doc: Doc) -> date | None:
        """The latest dated (year-bearing) mention: a fallback for the story's date."""
        best: date | None = None
        for mention in self.mentions(doc):
            if mention.kind != "absolute" or mention.year is None:
                continue
            current = date(mention.year, mention.month or 1, 1)
            if best is None or current > best:
                best = current
        return best


def _numeric_date(value: str) -> tuple[int, int] | None:
    """(year, month) of 03/2023, 2023-03, 2023-03-17, 3/14/23 or 14/3/2023; None otherwise."""
    pieces = re.split(r"[/-]", value)
    parts = [int(p) for p in pieces]
    if len(parts) == 2:
        first, second = parts
        if len(pieces[1]) == 4 and 1900 <= second <= 2099 and 1 <= first <= 12:
            return second, first
        if len(pieces[0]) == 4 and 1900 <= first <= 2099 and len(pieces[1]) == 2:
            return (first, second) if 1 <= second <= 12 else None
        return None
    first, second, third = parts
    if len(pieces[0]) == 4:
        ok = 1900 <= first <= 2099 and 1 <= second <= 12 and 1 <= third <= 31
        return (first, second) if ok else None
    if len(pieces[2]) not in (2, 4) or len(pieces[0]) > 2 or len(pieces[1]) > 2:
        return None
    year = third + 2000 if third < 100 else third
    if 1 <= first <= 12 and 1 <= second <= 31:
        return year, first
    if 1 <= second <= 12 and 1 <= first <= 31:
        return year, second
    return None


def _starts_token(text: str, pos: int, also: str) -> bool:
    """No word character (nor one of `also`) right before `pos`: a look-behind, done by hand
    so that the patterns can open with a literal the regex engine skips to."""
    if pos == 0:
        return True
    before = text[pos - 1]
    return not (before.isalnum() or before == "_" or before in also)


#: Words between a number and a noun that end the noun phrase ("in 2023 the hosts were ...").
_FUNCTION_WORDS = frozenset(
    {
        "the", "a", "an", "our", "my", "their", "his", "her", "its", "we", "i", "they", "you",
        "he", "she", "it", "and", "or", "but", "so", "was", "were", "is", "are", "had", "has",
        "have", "to", "of", "in", "on", "at", "for", "with", "when", "all", "most", "many",
        "some", "both", "these", "those", "this", "that", "after", "before", "since",
    }
)  # fmt: skip

_NEXT_CAPITALIZED = re.compile(r" ([A-ZÀ-ÖØ-ÞĀ-ž][^\W\d_]+)")
_SENT_BEFORE = re.compile(r"(?:^|[.!?:;\n]|^\s*[-*#>]+)[\s\"“'(*_#>-]*$")


def _sentence_initial(text: str, pos: int) -> bool:
    return _SENT_BEFORE.search(text, max(0, pos - 12), pos) is not None
