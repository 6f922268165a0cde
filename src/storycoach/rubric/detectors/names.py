"""People named by name, without an NLP model.

Evidence that a capitalized word is a person, strongest first:
  * context only people have: "Okafor said", "told Okafor", "Okafor and I", "my manager, Okafor",
    "Okafor (PM)", "Dr. Okafor", "Okafor's feedback";
  * a shipped list of common given names across many cultures (``lexicon/given-names.txt``),
    unless the context makes it a place ("in Austin"), a team ("the Phoenix team") or a product
    (a name that is also in ``lexicon/not-people.txt``, like Julia or Hugo, needs person context);
  * names that are also English words ("Will", "Mark", "Grace") count mid-sentence, where the
    capital is meaningful, but at a sentence start only with person context;
  * in lowercase notes, a listed name with person context: "told priya", "kenji (staff eng)".
Words on the not-people list alone (tools, companies, departments, calendar words, pronouns)
never count, and neither does a name whose appositive is a thing ("Sky, our legacy BI tool")
or that something is integrated with ("the integration with Chase").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from storycoach.rubric.detectors.base import (
    Context,
    Detector,
    Hit,
    Params,
    alternation,
    cached,
    ci,
    lazy,
    read_word_file,
    register,
)
from storycoach.rubric.text import Doc

# A capitalised word in any cased script (Latin with its accents and Vietnamese letters, Greek,
# Cyrillic, Armenian), "O'Neill" and "Jean-Luc" included, or a word in a script without case
# (Arabic, Hebrew, Indic scripts, Thai, CJK, kana, Hangul, Ethiopic, Georgian): every word that
# could be a name. `_name_like` then drops lowercase letters the wide ranges let through.
_UPPER = "A-ZÀ-ÖØ-ÞĀ-ɏḀ-ỿΆ-ΫϒϘ-ϯЀ-ЯѠ-ӿԱ-Ֆ"
_CASELESS = (
    "\u0590-\u05ff\u0600-\u06ff\u0750-\u077f\u0900-\u0dff\u0e00-\u0eff\u10a0-\u10ff"
    "\u1100-\u11ff\u1200-\u137f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
)
_CAPITALIZED = re.compile(
    rf"(?<![\w@#/\\.'’-])(?P<w>(?:[{_UPPER}][^\W\d_]*(?:['’][{_UPPER}][^\W\d_]+)?"
    rf"|[{_CASELESS}][^\W\d_]*)(?:-[^\W\d_]+)?)(?P<poss>['’]s)?(?![\w'’-])"
)


_CASELESS_START = re.compile(f"[{_CASELESS}]")


def _name_like(word: str) -> bool:
    """Capitalised, or in a script without case (Georgian's letters count as lowercase)."""
    first = word[0]
    return first.isupper() or not first.islower() or _CASELESS_START.match(first) is not None


def _script_prior(word: str) -> bool:
    """A word spelt outside plain ASCII ("Ólafur", "Дмитрий", "김민준") in an English draft:
    tools, products and teams are almost always plain ASCII, so such a word is read like a
    listed given name (still subject to place, team and thing context)."""
    return not word.isascii()


#: Words that end an appositive's noun phrase (or link past it): "the owner of ...".
_LINKS = "of|for|who|whom|whose|that|which|with|on|in|at|from|to|behind|and|or|but"


class NamesParams(Params):
    given_names_file: str
    family_names_file: str
    not_people_file: str
    ambiguous_names: list[str]
    speech_verbs: list[str]
    person_object_verbs: list[str]
    person_verbs_before: list[str]
    titles: list[str]
    roles: list[str]
    organisation_roles: list[str]
    role_determiners: list[str]
    role_adjectives: list[str]
    place_prepositions: list[str]
    org_followers: list[str]
    possessive_person_nouns: list[str]
    departments: list[str]
    appositive_things: list[str]
    thing_verbs_after: list[str]
    thing_before: list[str]


@dataclass(frozen=True)
class People:
    named: list[tuple[int, int]]


@register
class Names(Detector):
    """Fires when no person is named; quotes the first unnamed role ("my manager")."""

    name = "names"
    Params = NamesParams

    def __init__(self, params: NamesParams, directory: Path) -> None:
        super().__init__(params, directory)
        p = params
        self.ambiguous = frozenset(n.casefold() for n in p.ambiguous_names)
        self.given = (
            read_word_file(directory / p.given_names_file)
            | read_word_file(directory / p.family_names_file)
            | self.ambiguous
        )
        not_people = read_word_file(directory / p.not_people_file)
        self.soft_blocked = not_people & self.given  # Julia, Hugo: people only in context
        self.hard_blocked = not_people - self.given
        # Multi-word non-people that read like full names: "Morgan Stanley", "Dream Team".
        self._phrase_words = [w for w in not_people if " " in w]
        self.titles = frozenset(t.casefold() for t in p.titles)

    params: NamesParams

    @lazy
    def _phrases(self) -> re.Pattern[str] | None:
        phrases = self._phrase_words
        return ci(rf"\b(?:{alternation(phrases)})\b") if phrases else None

    @property
    def _role(self) -> str:
        p = self.params
        return (
            rf"(?:(?:{alternation(p.role_adjectives)})[\s-]+){{0,2}}"
            rf"(?:{alternation(p.roles)})(?:s|es)?"
        )

    @property
    def _person_role(self) -> str:
        p = self.params
        person_roles = [r for r in p.roles if r not in set(p.organisation_roles)]
        return (
            rf"(?:(?:{alternation(p.role_adjectives)})[\s-]+){{0,2}}"
            rf"(?:{alternation(person_roles)})"
        )

    @lazy
    def _role_mention(self) -> re.Pattern[str]:
        det = alternation(self.params.role_determiners)
        return ci(rf"\b(?:{det})\s+{self._role}\b")

    @lazy
    def _strong_after(self) -> re.Pattern[str]:
        p = self.params
        det = alternation(p.role_determiners)
        speech = alternation(p.speech_verbs)
        person_role = self._person_role
        return ci(
            rf"""(?:\s+(?:[a-z]+ly\s+|also\s+|then\s+|just\s+|later\s+|even\s+|had\s+|has\s+)?
                (?:{speech})\b
            |\s*,?\s+and\s+(?:I|me|myself)\b
            |\s+(?:[a-z]+ly\s+|also\s+|then\s+|just\s+|later\s+|had\s+)?
                (?:{alternation(p.person_object_verbs)})\s+(?:me|us|my|our|him|her|them)\b
            |\s+(?:from|on|in)\s+(?:the\s+|our\s+)?(?:{alternation(p.departments)}|[\w-]+\s+team)\b
            |\s*,\s*(?:(?:{det})\s+)?{person_role}\b
            |\s*,\s*(?:who|that)\s+(?:was|is|were|had\s+been)\s+(?:(?:{det})\s+)?{person_role}\b
            |\s*\(\s*(?:(?:{det})\s+)?{person_role}\b)""",
            re.VERBOSE,
        )

    @lazy
    def _possessive_person(self) -> re.Pattern[str]:
        nouns = alternation(self.params.possessive_person_nouns)
        return ci(rf"\s+(?:[a-z]+\s+)?(?:{nouns})\b")

    @lazy
    def _strong_before(self) -> re.Pattern[str]:
        p = self.params
        return ci(
            rf"""(?:\b(?:{alternation(p.person_verbs_before)})
            |\b{self._person_role}(?:\s+(?:of|for|on)\s+[\w-]+(?:\s+[\w-]+)?)?\s*[,(]?
            |\b(?:{alternation(p.titles)})\.?
            |\b(?:person|colleague|engineer|teammate|someone|manager|lead)\s+(?:named|called)
            |\b(?:took\s+over|inherited|handed\s+over)\b[^.;:!?\n]{{0,40}}\bfrom)
            \s*$""",
            re.VERBOSE,
        )

    @lazy
    def _place_before(self) -> re.Pattern[str]:
        places = alternation(self.params.place_prepositions)
        return ci(rf"\b(?:{places})\s+(?:the\s+)?$")

    @lazy
    def _thing_appositive(self) -> re.Pattern[str]:
        # "Sky, our legacy BI tool": an appositive whose head noun is a thing, not a role.
        # The head is the last word of the appositive (a modifier may not be "of", "who" ...),
        # so "Dana, the owner of the billing service" is not a thing.
        p = self.params
        det = alternation(p.role_determiners)
        things = alternation(p.org_followers + p.appositive_things)
        return ci(
            rf"""\s*,\s*(?:{det})\s+
            (?:(?!(?:{_LINKS})\b)[\w-]+\s+){{0,3}}?
            (?:{things})s?(?![\w'’-])
            (?=\s*(?:[,.;:)!?—–\n]|\Z)|\s+(?:{_LINKS}|we|i|so|when|before|after|since|until)\b)""",
            re.VERBOSE,
        )

    @lazy
    def _determiner_before(self) -> re.Pattern[str]:
        det = alternation([*self.params.role_determiners, "this", "that", "its", "your"])
        return ci(rf"\b(?:{det})\s+$")

    @lazy
    def _org_after(self) -> re.Pattern[str]:
        return ci(rf"\s+(?:{alternation(self.params.org_followers)})\b")

    @lazy
    def _acronym_after(self) -> re.Pattern[str]:
        return re.compile(r"\s+[A-Z]{2,}\b")

    @lazy
    def _surname_after(self) -> re.Pattern[str]:
        # "June Okafor", "Will Larson": a given name followed by a capitalized surname.
        return re.compile(r" (?P<s>[A-ZÀ-ÖØ-ÞĀ-ž][a-zà-öø-ÿā-ž'’-]+)\b")

    @lazy
    def _lower_context(self) -> re.Pattern[str]:
        p = self.params
        speech = alternation(p.speech_verbs)
        det = alternation(p.role_determiners)
        return re.compile(
            rf"""(?:\b(?:{alternation(p.person_verbs_before)})\s+(?P<a>[a-z][a-z'’-]{{2,}})\b
            |\b(?P<b>[a-z][a-z'’-]{{2,}})\s+(?:{speech})\b
            |\b(?P<c>[a-z][a-z'’-]{{2,}})\s+and\s+i\b
            |\b(?P<d>[a-z][a-z'’-]{{2,}})\s*\(\s*(?i:(?:(?:{det})\s+)?{self._person_role})\b)""",
            re.VERBOSE,
        )

    def people(self, doc: Doc) -> People:
        """The first named person, if any (computed once per draft)."""
        found: People = cached(doc, ("people", id(self)), lambda: self._people(doc))
        return found

    def find(self, doc: Doc, *, redact: bool = False) -> list[tuple[int, int]]:
        """Every person's name in the draft (spans in `doc.text`), in text order.

        With `redact`, a capitalised word the finder cannot classify counts too: a word that
        is not a known non-person (a tool, a calendar word, a function word), not an acronym,
        and not an ordinary word that merely opens a sentence. Redaction errs towards
        replacing: a replaced word is restored in the answer anyway.
        """
        return self._people(doc, every=True, redact=redact).named

    def run(self, doc: Doc, ctx: Context) -> list[Hit]:
        if self.people(doc).named:
            return []
        role = self._role_mention.search(doc.lower)
        if role:
            return [Hit("role", role.start(), role.end())]
        section = doc.section("A") or doc.section("S")
        return [Hit("default", pos=section.body_start if section else 0)]

    def _people(self, doc: Doc, *, every: bool = False, redact: bool = False) -> People:
        text, lower = doc.text, doc.lower
        named: list[tuple[int, int]] = []
        phrase_end = -1  # end of the last capitalized word that is not a person
        blocked_phrase = False  # that word was a known non-person ("Morgan Stanley")
        headings = [(s.heading_start, s.heading_end) for s in doc.sections]
        skip_to = -1  # the end of a full name already taken whole
        for m in _CAPITALIZED.finditer(text):
            word = m["w"]
            if m.start() < skip_to or not _name_like(word):
                continue
            if word.isupper() and len(word) > 1 and word.isascii():
                continue  # acronyms: "SRE", "PM"
            if word[-1] == "s" and word[:-1].isupper() and word.isascii():
                continue  # "SREs", "PMs"
            if headings and any(a <= m.start() < b for a, b in headings):
                continue
            key = word.casefold()
            if key in self.titles:
                phrase_end = -1  # "Dr Rao", "Mrs O'Neill": the title makes the next word a name
                continue
            if (
                m.start() == phrase_end + 1
                and text[phrase_end] == " "
                and not (key in self.given and self._strong(lower, m))
            ):
                # "Morgan Stanley", "Open Connect": the rest of a non-person proper noun (but
                # "On Black Friday Priya paged me": a listed name in person context is not).
                phrase_end = m.end()
                if redact and not blocked_phrase and key not in self.hard_blocked:
                    named.append((m.start(), m.end("w")))
                continue
            verdict = self._is_person(doc, m, word)
            in_phrase = self._in_phrase(doc, m.start())
            if verdict is True and in_phrase:
                verdict = None
            if verdict is True or (
                redact
                and not in_phrase
                and not _YEAR_AFTER.match(text, m.end())
                and self._unsure(doc, m.start(), key, verdict)
            ):
                if not every:
                    named.append((m.start(), m.end("w")))
                    break
                # A full name is one span: "Marcus Chen", "Nguyễn Thị Lan".
                name_end = m.end("w")
                while not m["poss"]:
                    nxt = _CAPITALIZED.match(text, name_end + 1)
                    if (
                        text[name_end : name_end + 1] != " "
                        or nxt is None
                        or not _name_like(nxt["w"])
                        or nxt["w"].casefold() in self.hard_blocked
                    ):
                        break
                    name_end = nxt.end("w")
                    skip_to = name_end
                    if nxt["poss"]:
                        break
                named.append((m.start(), name_end))
            phrase_end = m.end() if verdict is None else -1
            blocked_phrase = in_phrase or key in self.hard_blocked
        if not named or every:
            for m in self._lower_context.finditer(text):
                if m["d"]:
                    # "kenji (staff eng)": a role in parentheses is person context, as for a
                    # capitalized word, so even "chase (our pm)" counts; a common noun before
                    # it has a determiner ("the on-call (our sre)").
                    key = m["d"].casefold()
                    if key in self.given and not self._determiner_before.search(
                        lower, max(0, m.start() - 16), m.start()
                    ):
                        named.append((m.start("d"), m.end("d")))
                        if not every:
                            break
                    continue
                group = "a" if m["a"] else "b" if m["b"] else "c"
                key = m[group].casefold()
                if key in self.given and key not in self.ambiguous and key not in self.soft_blocked:
                    named.append((m.start(group), m.end(group)))
                    if not every:
                        break
        if every:
            named = sorted(set(named))
        return People(named)

    def _unsure(self, doc: Doc, start: int, key: str, verdict: bool | None) -> bool:
        """For redaction: a capitalised word that may be a name, though not known to be one."""
        if key in self.hard_blocked:
            return False
        if verdict is None or key in self.soft_blocked or key in self.given:
            return True
        if not doc.is_sentence_start(start):
            return True
        # A capital at a sentence start: an ordinary word if the draft also writes it in
        # lowercase ("After ... after"); otherwise it may be a name ("Ólafur paged me").
        return re.search(rf"(?<![\w'’-]){re.escape(key)}(?![\w'’-])", doc.source) is None

    def _in_phrase(self, doc: Doc, pos: int) -> bool:
        """Whether `pos` starts a known multi-word non-person ("Morgan Stanley")."""
        phrases = self._phrases
        if phrases is None:
            return False
        spans = cached(
            doc,
            ("phrases", id(self)),
            lambda: [(m.start(), m.end()) for m in phrases.finditer(doc.lower)],
        )
        return any(a <= pos < b for a, b in spans)

    def is_full_name(self, first: str, second: str) -> bool:
        """Whether "first second" reads as a person's full name (used by the date finder)."""
        return first.casefold() in self.given and second.casefold() in self.given

    def _is_surname(self, word: str, lower: str, start: int) -> bool:
        """`word` after a given name makes a full name: not a known non-person, not a team."""
        key = word.casefold()
        if key in self.hard_blocked or key in self.soft_blocked:
            return False
        if self._org_after.match(" " + key) or word.isupper():
            return False
        return not self._place_before.search(lower, max(0, start - 32), start)

    def _full_name(self, text: str, lower: str, m: re.Match[str], key: str, first: str) -> bool:
        if (key in self.given or first in self.given) and not m["poss"]:
            surname = self._surname_after.match(text, m.end())
            # A name that is also a product or a month ("Julia", "June") needs a surname that
            # is itself on the names lists ("June Okafor", not "June Release").
            if (
                surname
                and self._is_surname(surname["s"], lower, m.start())
                and (key not in self.soft_blocked or surname["s"].casefold() in self.given)
            ):
                return True
        return False

    def _strong(self, lower: str, m: re.Match[str]) -> bool:
        """Context only people have: "X said", "X paged me", "told X", "my manager, X"."""
        start, end = m.start(), m.end()
        initial = _INITIAL_AFTER.match(lower, end)  # "Mira K., SRE"
        if initial and self._strong_after.match(lower, initial.end(), initial.end() + 60):
            return True
        if self._strong_after.match(lower, end, end + 60):
            return True
        if m["poss"] and self._possessive_person.match(lower, end, end + 40):
            return True
        return bool(self._strong_before.search(lower, max(0, start - 40), start))

    @staticmethod
    def _from_to(text: str, lower: str, start: int, end: int) -> bool:
        """ "from Austin to Denver", "from Lagos to Nairobi": a move between places."""
        if _FROM_BEFORE.search(lower, max(0, start - 8), start):
            return _TO_CAPITAL_AFTER.match(text, end) is not None
        return _FROM_X_TO_BEFORE.search(text, max(0, start - 48), start) is not None

    @lazy
    def _thing_use(self) -> re.Pattern[str]:
        p = self.params
        return ci(
            rf"(?<![\w'’-])(?P<a>[^\W\d_][\w'’-]*)\s+(?:{alternation(p.thing_verbs_after)})\b"
            rf"|\b(?:{alternation(p.thing_before)})\s+(?:the\s+)?(?P<b>[^\W\d_][\w'’-]*)"
        )

    def things(self, doc: Doc) -> frozenset[str]:
        """Words the draft uses as systems somewhere ("Hermes kept timing out", "backpressure to
        Hermes"): one word, one referent, so they are not people where the context is weak."""

        def compute() -> frozenset[str]:
            found = set()
            for m in self._thing_use.finditer(doc.lower):
                found.add(m["a"] or m["b"])
            return frozenset(found)

        return cached(doc, ("things", id(self)), compute)

    def _is_person(self, doc: Doc, m: re.Match[str], word: str) -> bool | None:
        """True: a person. False: not a person. None: a proper noun that is not a person
        (a place, a team, an unknown product), whose following capitalized words share its
        fate."""
        text, lower = doc.text, doc.lower
        key = word.casefold()
        first = key.split("-", 1)[0]
        if key in self.hard_blocked:
            return False
        start, end = m.start(), m.end()
        # A known given name with a surname is a person whatever the context says; checked
        # before the context (the same answer) because the context patterns are large.
        if self._full_name(text, lower, m, key, first):
            return True
        if _YEAR_AFTER.match(text, end):
            return False  # "Jan '24", "May 2023": a date
        thing = key in self.things(doc)
        if thing and _AND_I.match(lower, end):
            return None  # "backpressure to Hermes and I set ...": a new clause, not "X and I"
        if self._strong(lower, m):
            return True
        if thing:
            return None
        if _comma_after(lower, end) and self._thing_appositive.match(lower, end, end + 80):
            return None
        if key in self.soft_blocked:
            return False
        if self._from_to(text, lower, start, end):
            return None  # "from Austin to Denver": places
        if key not in self.given and first not in self.given and not _script_prior(word):
            # An unknown capitalized word mid-sentence is some proper noun ("Open Connect");
            # at a sentence start it is just a capital ("Yesterday Priya said ...").
            return False if doc.is_sentence_start(start) else None
        if not m["poss"]:
            if self._org_after.match(lower, end, end + 30) or self._acronym_after.match(text, end):
                return None
            if self._place_before.search(lower, max(0, start - 32), start):
                return None
        if key in self.ambiguous:
            return not doc.is_sentence_start(start)
        return True


_AND_I = re.compile(r"\s*,?\s+and\s+(?:i|me|myself)\b")
_INITIAL_AFTER = re.compile(r" [^\W\d_]\.")
_YEAR_AFTER = re.compile(r"\s+(?:['’]\d{2}|(?:19|20)\d{2})(?!\d)")
_FROM_BEFORE = re.compile(r"\bfrom\s+$")
_PROPER = rf"[{_UPPER}{_CASELESS}][^\W\d_]*"
_TO_CAPITAL_AFTER = re.compile(rf"(?:\s+{_PROPER}){{0,2}}\s+to\s+[{_UPPER}{_CASELESS}]")
_FROM_X_TO_BEFORE = re.compile(rf"\bfrom\s+{_PROPER}(?:\s+{_PROPER}){{0,2}}\s+to\s+$")


def _comma_after(lower: str, end: int) -> bool:
    """A comma right after `end` (spaces allowed): the only place an appositive can start."""
    rest = lower[end : end + 4].lstrip(" \t")
    return rest.startswith(",")
