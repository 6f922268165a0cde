"""Who acted: first-person-singular actions and decisions versus "we" and "the team".

"I" followed by a verb counts unless the verb is a state, a feeling, a wish, a modal or a
collaborator verb ("I was part of", "I think", "I helped"); the word lists are in the rubric
file. Notes written without a subject ("- Rewrote the retry logic", "Profiled the service.")
count as an implied I when the line or sentence opens with an action verb, and so do an Action
part that opens with a past-tense verb ("A: wrote the plan"), an emphatic "myself" after a
verb and its object ("ported the pipelines myself") and the passive "was conducted by me".
"""

from __future__ import annotations

import re
from pathlib import Path

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

_VOWELS = set("aeiou")


def verb_forms(bases: list[str], irregular: list[str]) -> frozenset[str]:
    """Base verbs with their regular -s/-ed forms, plus listed irregular forms."""
    forms: set[str] = {w.casefold() for w in irregular}
    for base in bases:
        b = base.casefold().strip()
        if not b:
            continue
        forms.update({b, b + "s", b + "ed", b + "es"})
        if b.endswith("e"):
            forms.add(b + "d")
        if b.endswith("y") and len(b) > 1 and b[-2] not in _VOWELS:
            forms.update({b[:-1] + "ied", b[:-1] + "ies"})
        if len(b) >= 3 and b[-1] not in _VOWELS | {"w", "x", "y"} and b[-2] in _VOWELS:
            forms.add(b + b[-1] + "ed")
    return frozenset(forms)


class AgencyParams(Params):
    non_action_verbs: list[str]
    collaborator_verbs: list[str]
    negations: list[str]
    skippable: list[str]
    bridges: list[str]
    function_words: list[str]
    action_verbs: list[str]
    irregular_pasts: list[str]
    participle_followers: list[str]
    metric_nouns: list[str]
    determiners: list[str]
    group_subjects: list[str]
    joint_subjects: list[str]
    ownership: list[str]


@register
class Agency(Detector):
    """Fires when no first-person-singular action or decision appears; quotes "we decided"."""

    name = "agency"
    Params = AgencyParams

    def __init__(self, params: AgencyParams, directory: Path) -> None:
        super().__init__(params, directory)
        p = params
        self.non_action = frozenset(w.casefold() for w in p.non_action_verbs + p.collaborator_verbs)
        self.negations = frozenset(w.casefold() for w in p.negations)
        self.skippable = frozenset(w.casefold() for w in p.skippable)
        self.function = frozenset(w.casefold() for w in p.function_words)
        self.bridge_index: dict[str, list[tuple[str, ...]]] = {}
        for bridge in p.bridges:
            words = tuple(bridge.casefold().split())
            self.bridge_index.setdefault(words[0], []).append(words)
        self.actions = verb_forms(p.action_verbs, p.irregular_pasts) - self.non_action
        # Notes drop the subject ("Rewrote the retry logic"): base and past forms only, since
        # "-s" forms at a sentence start are nearly always plural nouns ("Plans changed").
        self.irregular = frozenset(w.casefold() for w in p.irregular_pasts) - self.non_action
        self.bases = frozenset(w.casefold() for w in p.action_verbs) - self.non_action
        self.determiners = frozenset(w.casefold() for w in p.determiners)

    params: AgencyParams

    @lazy
    def _i(self) -> re.Pattern[str]:
        return re.compile(
            r"(?<![\w'’-])(?:I|i)(?P<c>['’](?:ve|d|m|ll))?(?:,)?"
            r"(?P<rest>(?:\s+[A-Za-z][A-Za-z'’-]*){1,7})"
        )

    @lazy
    def _implied(self) -> re.Pattern[str]:
        follow = alternation(self.params.participle_followers)
        metric = alternation(self.params.metric_nouns)
        return re.compile(
            rf"""(?:(?P<bullet>^[ \t]*(?:[-*•+]|\d+[.)]|\#{{1,6}})[ \t]+(?:\*\*|__)?)
                |^[ \t]*(?:\*\*|__)?
                |[.!?;][ \t]+)
            (?P<v>[A-Za-z]+)\b(?![ \t]*(?:{follow})\b)(?!\s*[,:])
            (?![ \t]+(?i:{metric})\b)
            (?:[ \t]+(?P<n>[A-Za-z'’]+))?""",
            re.MULTILINE | re.VERBOSE,
        )

    @lazy
    def _joint_before(self) -> re.Pattern[str]:
        # "my team and I decided" anywhere, and a role that opens a clause with "and I"
        # ("My manager and I disagreed", "the PM and I agreed"): a joint act is not "I" alone.
        return ci(
            rf"(?:\b(?:{alternation(self.params.joint_subjects)})"
            r"|(?:(?<![^.!?;:,\n])|(?<=[.!?;:,\n])\s+)"
            r"(?:my|our|the|his|her|their)\s+[a-z][a-z'’-]*(?:\s+[a-z][a-z'’-]*)?)"
            r"\s+and\s+$"
        )

    @lazy
    def _group(self) -> re.Pattern[str]:
        return ci(
            rf"(?<![\w'’-])(?P<s>{alternation(self.params.group_subjects)})"
            r"(?P<rest>(?:\s+[a-z][a-z'’-]*){1,3})"
        )

    @lazy
    def _ownership(self) -> re.Pattern[str]:
        return compile_any(self.params.ownership)

    def first_person_action(self, doc: Doc) -> tuple[int, int] | None:
        """The span of the first first-person-singular action, or None (once per draft)."""
        return cached(doc, ("agency", id(self)), lambda: self._first_action(doc))

    def run(self, doc: Doc, ctx: Context) -> list[Hit]:
        if self.first_person_action(doc) is not None:
            return []
        first_group = None
        for m in self._group.finditer(doc.lower):
            if first_group is None:
                first_group = (m.start(), m.end("s"))
            verb_span = self._verb_after(m["rest"], m.start("rest"), group=True)
            if verb_span is not None:
                return [Hit("we", m.start(), verb_span[1])]
        if first_group is not None:
            return [Hit("we", *first_group)]
        section = doc.section("A")
        return [Hit("default", pos=section.heading_start if section else 0)]

    # -- internals -------------------------------------------------------------------------

    def _first_action(self, doc: Doc) -> tuple[int, int] | None:
        """Any first-person-singular action: "I <verb>", a subjectless note, or ownership."""
        text, lower = doc.text, doc.lower
        for m in self._i.finditer(text):
            contraction = (m["c"] or "").casefold()[1:]
            progressive = self._progressive(m["rest"], m.start("rest"), contraction)
            if progressive is not None:
                return m.start(), progressive[1]
            if contraction in ("m", "ll"):
                continue
            if self._joint_before.search(lower, max(0, m.start() - 40), m.start()):
                continue  # "my team and I decided" is still "we"
            span = self._verb_after(m["rest"], m.start("rest"))
            if span is not None and contraction == "d" and not self._participle(text, span):
                continue  # "I'd do it differently" is "I would", not an action
            if span is None:
                span = self._coordinated(lower, m.end("c") if m["c"] else m.start() + 1)
            if span is not None:
                return m.start(), span[1]
        for m in self._implied.finditer(text):
            if self._implied_action(m):
                return m.start("v"), m.end("v")
        labelled = self._labelled_action(doc)
        if labelled is not None:
            return labelled
        emphatic = self._emphatic_myself(lower)
        if emphatic is not None:
            return emphatic
        own = self._ownership.search(lower)
        return (own.start(), own.end()) if own else None

    def _progressive(self, rest: str, offset: int, contraction: str) -> tuple[int, int] | None:
        """ "I am writing the tests", "I was leading the migration": many writers (in English
        as a second language especially) tell what they did in the progressive."""
        words = list(_WORD.finditer(rest))
        if contraction == "m":
            verb = words[0] if words else None
        elif len(words) >= 2 and words[0].group().casefold() in ("am", "was"):
            verb = words[1]
        else:
            return None
        if verb is None:
            return None
        form = verb.group().casefold()
        if not form.endswith("ing") or len(form) < 6:
            return None
        stem = form[:-3]
        bases = {stem, stem + "e"}
        if len(stem) > 2 and stem[-1] == stem[-2]:
            bases.add(stem[:-1])  # "planning" -> "plan"
        if bases & self.bases:
            return offset + verb.start(), offset + verb.end()
        return None

    def _past_action(self, word: str) -> bool:
        """A past-tense action verb: what a note without a subject says the writer did."""
        return word in self.actions and (word in self.irregular or word.endswith("ed"))

    def _labelled_action(self, doc: Doc) -> tuple[int, int] | None:
        """ "A: wrote the migration plan", "**Action:** drafted ...": an Action part that opens
        with a past-tense action verb has an implied I, like a bullet."""
        for section in doc.sections:
            if section.kind != "A" or section.empty:
                continue
            word = _WORD.match(doc.lower, section.body_start)
            if word and self._past_action(word.group()):
                return word.start(), word.end()
        return None

    def _emphatic_myself(self, lower: str) -> tuple[int, int] | None:
        """ "ported the 4 biggest pipelines myself": "myself" after a verb and its object says
        who did it, even in a note without "I". Not a reflexive object ("told myself"), not
        "including myself" or "and myself", and not when another subject acts ("they ...")."""
        for m in _MYSELF.finditer(lower):
            start = max(lower.rfind(c, 0, m.start()) for c in _CLAUSE_MARKS) + 1
            found = _WORD.finditer(lower, start, m.start())
            words = [(w.group(), w.start(), w.end()) for w in found]
            if len(words) < 2:
                continue
            if words[-1][0] in _NOT_EMPHATIC:
                continue
            # The verb opens the clause and an object stands between it and "myself".
            for word, w_start, w_end in words[:-1]:
                if word in _LEADING or word in self.skippable:
                    continue
                if self._past_action(word):
                    return w_start, w_end
                break  # the clause opens with something else: a subject, a noun
        return None

    def _coordinated(self, lower: str, start: int) -> tuple[int, int] | None:
        """ "I was on call and rolled back the deploy": a second verb of the same "I"."""
        end = _CLAUSE_END.search(lower, start, start + 120)
        stop = end.start() if end else min(len(lower), start + 120)
        for m in _COORDINATED.finditer(lower, start, stop):
            if _OTHER_SUBJECT.search(lower, start, m.start()):
                return None
            verb = m[1]
            if verb in self.non_action or verb in self.function:
                continue
            if verb in self.actions or (verb.endswith("ed") and verb not in self.negations):
                return m.start(1), m.end(1)
        return None

    def _participle(self, text: str, span: tuple[int, int]) -> bool:
        """After "I'd": a past participle means "I had" ("I'd already rewritten it")."""
        verb = text[span[0] : span[1]].casefold()
        return verb.endswith(("ed", "en", "wn")) or verb in self.irregular

    def _implied_action(self, m: re.Match[str]) -> bool:
        """A subjectless line or sentence that opens with an action verb: an implied I."""
        verb = m["v"].casefold()
        if verb in self.non_action or verb not in self.actions:
            return False
        if m["bullet"] is not None:
            return verb in self.bases or verb in self.irregular or verb.endswith("ed")
        if verb in self.irregular:
            return True
        # "Automated tests caught it" is an adjective; "Automated the rollout" is an action.
        nxt = (m["n"] or "").casefold()
        return verb.endswith("ed") and (nxt in self.determiners or not nxt)

    def _verb_after(self, rest: str, offset: int, group: bool = False) -> tuple[int, int] | None:
        """The first action verb in the words after a subject, skipping adverbs and bridges."""
        words = [(w.group().casefold(), w.start(), w.end()) for w in _WORD.finditer(rest)]
        i = 0
        while i < len(words):
            word, start, end = words[i]
            bridged = False
            for bridge in self.bridge_index.get(word, ()):
                if tuple(w for w, _, _ in words[i : i + len(bridge)]) == bridge:
                    i += len(bridge)
                    bridged = True
                    break
            if bridged:
                continue
            if word in self.negations or (i + 1 < len(words) and words[i + 1][0] == "not"):
                return None
            if word in self.skippable or (word.endswith("ly") and len(word) > 4):
                i += 1
                continue
            if word in self.non_action or word in self.function:
                return None
            if group and word not in self.actions:
                return None
            return offset + start, offset + end
        return None


_CLAUSE_END = re.compile(r"[.!?;:\n]")
_MYSELF = re.compile(r"\bmyself\b")
_CLAUSE_MARKS = ".!?;:,\n()"
# Right before "myself", these make it something other than "I did it myself".
_NOT_EMPHATIC = frozenset(
    {
        "and", "or", "including", "like", "than", "as", "with", "between", "for", "to", "about",
        "of", "me", "i", "at", "on", "in", "from", "upon", "against", "among", "except", "but",
    }
)  # fmt: skip
# Words a clause may open with before its verb: "and then built it myself".
_LEADING = frozenset(
    {"and", "then", "so", "but", "also", "just", "later", "finally", "eventually", "basically"}
)
_COORDINATED = re.compile(r"\b(?:and|then|but)\s+(?:then\s+|also\s+|later\s+)?([a-z]+)\b")
# Another subject before the coordinated verb: "I think we did well and shipped" is "we".
_OTHER_SUBJECT = re.compile(
    r"\b(?:we|they|he|she|everyone|who|that|which)\b"
    r"|(?<!on )(?<!in )(?<!of )(?<!to )(?<!with )(?<!for )\b(?:the|our|my)\s+team\b"
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
