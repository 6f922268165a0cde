"""The mock round: the question, the interviewer's follow-ups, then a debrief.

In the real round the first answer is only the opening: the interviewer keeps asking until they
hear a name, a date, what the candidate decided and what changed. storycoach knows exactly what
an answer is missing from its own rubric findings, so after every answer the rubric engine
reviews the whole transcript (all answers so far, for the question and level) and the next
follow-up targets the most serious open finding, asked with the criterion's `follow_up` template
and the span it quotes. Once no error is open the round asks at most one probe (a rubric probe
criterion still open, else the question's least-answered probe) and ends.

`Round` is pure: text in, asks and findings out, no I/O, no model. `run_round` drives one round
against the bank and an optional model (`storycoach.coach.followup`), storing the session before
and after each model call, so a failing network never loses an answer. The debrief says, per
criterion, whether it was open at the first answer, which follow-up closed it (quoting the
sentence that did) or that it is still open; the improved draft is the first answer with each
follow-up answer placed in the STAR part its criterion belongs to.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import Field

from storycoach.models import (
    CallRecord,
    Finding,
    Level,
    Question,
    Record,
    Story,
    Verdict,
    verdict_for,
)

if TYPE_CHECKING:
    from storycoach.bank import Bank
    from storycoach.rubric.model import Criterion

#: Follow-ups after the first answer unless `--rounds` says otherwise.
DEFAULT_ROUNDS = 3
#: A target that is one of the question's probes: "probe:1" is its first probe.
PROBE_PREFIX = "probe:"
#: STAR parts in story order, with the headings the improved draft uses.
PARTS: tuple[tuple[str, str], ...] = (
    ("S", "Situation"),
    ("T", "Task"),
    ("A", "Action"),
    ("R", "Result"),
    ("L", "Reflection"),
)
_PART_ORDER = [key for key, _ in PARTS]
_SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}
_KIND_RANK = {"core": 0, "structure": 1, "probe": 2}

Source = Literal["question", "rubric", "probe", "llm"]


# -- records ----------------------------------------------------------------------------------


class MockTurn(Record):
    """One exchange: what was asked, what it targeted, the answer, and what stayed open."""

    ask: str
    targets: str | None = None
    answer: str = ""
    open: list[str] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    source: Source = "question"
    seconds: float | None = None


class Outcome(Record):
    """The debrief line for one criterion that was open at some point of the round."""

    rule: str
    severity: str
    opened_at: int  # 0: the first answer; n: the answer to follow-up n
    closed_at: int | None = None
    closed_by: str | None = None  # the sentence that closed it

    @property
    def status(self) -> Literal["closed", "open"]:
        return "open" if self.closed_at is None else "closed"


class MockLlm(Record):
    """What the model did in a round: its calls summed, and what became of its answers."""

    model: str
    calls: int = 0
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost_usd: float | None = None
    follow_ups: int = 0  # model follow-ups used
    fallbacks: int = 0  # follow-ups where the offline template was used instead
    rewrite: Literal["accepted", "rejected", "failed", "none"] = "none"
    rewrite_note: str = ""
    error: str | None = None


class MockSession(Record):
    """A stored mock round (the `mock_sessions` row)."""

    id: int | None = None
    question: str
    level: Level | None = None
    story_id: int | None = None
    status: Literal["running", "done"] = "running"
    turns: list[MockTurn] = Field(default_factory=list)
    first_verdict: Verdict | None = None
    verdict: Verdict | None = None
    debrief: list[Outcome] = Field(default_factory=list)
    improved_draft: str = ""
    draft_verdict: Verdict | None = None
    draft_findings: list[Finding] = Field(default_factory=list)
    llm: MockLlm | None = None
    llm_status: str = "skipped"
    created: str | None = None

    def contract(self) -> dict[str, Any]:
        """The `mock --json` object of DESIGN's CLI contract."""
        return {
            "session": self.id,
            "question": self.question,
            "level": self.level,
            "turns": [
                {"ask": t.ask, "targets": t.targets, "answer": t.answer, "open": t.open}
                for t in self.turns
            ],
            "first_verdict": self.first_verdict,
            "verdict": self.verdict,
            "improved_draft": self.improved_draft,
            "llm": self.llm.model_dump(mode="json") if self.llm else None,
        }

    @property
    def exit_code(self) -> int:
        """As `review`: 3 when the model failed (the offline round stands), 1 fail, 0 pass."""
        if self.llm is not None and self.llm.error:
            return 3
        return 0 if self.verdict == "pass" else 1


@dataclass(frozen=True)
class Ask:
    """The next thing the interviewer says, and what it targets (a rule id or "probe:N")."""

    text: str
    targets: str | None
    source: Source


# -- the round --------------------------------------------------------------------------------


@dataclass
class Round:
    """One mock round's state: pure, deterministic, no I/O."""

    question: Question
    level: Level | None
    criteria: list[Criterion]
    rounds: int = DEFAULT_ROUNDS
    story_when: date | None = None
    today: date | None = None
    turns: list[MockTurn] = field(default_factory=list)
    _by_id: dict[str, Criterion] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        from storycoach.rubric import applicable

        self.criteria = applicable(self.criteria, question=self.question, level=self.level)
        self._by_id = {c.id: c for c in self.criteria}

    # -- asking --

    def first_ask(self) -> Ask:
        return Ask(self.question.text, None, "question")

    @property
    def transcript(self) -> str:
        """Every answer so far, one paragraph each: what the engine reviews."""
        return "\n\n".join(t.answer.strip() for t in self.turns if t.answer.strip())

    @property
    def findings(self) -> list[Finding]:
        return self.turns[-1].findings if self.turns else []

    def review(self, text: str) -> list[Finding]:
        from storycoach.rubric import review_text

        if not text.strip():
            return []
        return review_text(
            text,
            question=self.question,
            level=self.level,
            story_when=self.story_when,
            today=self.today,
            criteria=self.criteria,
        )

    def answer(self, ask: Ask, text: str, seconds: float | None = None) -> MockTurn:
        """Record the answer to `ask` and review the whole transcript with it."""
        turn = MockTurn(
            ask=ask.text,
            targets=ask.targets,
            answer=text.strip(),
            source=ask.source,
            seconds=seconds,
        )
        self.turns.append(turn)
        turn.findings = self.review(self.transcript)
        turn.open = _unique(f.rule for f in turn.findings)
        return turn

    def asked(self) -> set[str]:
        return {t.targets for t in self.turns[1:] if t.targets}

    def serious(self) -> list[Finding]:
        """Open error findings that have a follow-up and were not asked about yet, worst first."""
        asked = self.asked()
        chosen = [
            f
            for f in self.findings
            if f.severity == "error" and f.rule not in asked and self._follow_up(f.rule)
        ]
        return sorted(chosen, key=self._rank)

    def next_ask(self) -> Ask | None:
        """The offline follow-up: the most serious open finding, else one probe, else None."""
        if not self.turns or len(self.turns) > self.rounds:
            return None
        serious = self.serious()
        if serious:
            return self._ask_for(serious[0])
        if any(f.severity == "error" for f in self.findings):
            return None  # errors remain, but each was asked once already: the debrief says so
        if any(
            t.source == "probe" or (t.targets or "").startswith(PROBE_PREFIX) for t in self.turns
        ):
            return None
        return self._probe()

    def targets(self) -> dict[str, str]:
        """What a follow-up may target now: each open finding (with its criterion's title) and
        each question probe (with its text); the model is given these and must pick one. No
        user text here: what the candidate said goes to the model fenced (and redacted)."""
        allowed: dict[str, str] = {}
        for f in sorted(self.findings, key=self._rank):
            criterion = self._by_id.get(f.rule)
            allowed.setdefault(f.rule, criterion.title if criterion else f.rule)
        for index, probe in enumerate(self.question.probes, 1):
            allowed[f"{PROBE_PREFIX}{index}"] = probe
        return allowed

    def _rank(self, finding: Finding) -> tuple[int, int, int, int, int, int]:
        """Worst first; then core rules before structure and probes; then in story order (the
        STAR part the answer belongs to: who and when before what you did before what
        changed), then by where the draft shows the gap."""
        criterion = self._by_id.get(finding.rule)
        kind = _KIND_RANK.get(criterion.kind, 3) if criterion else 3
        part = _PART_ORDER.index(self.part_of(finding.rule))
        return (
            _SEVERITY_RANK.get(finding.severity, 3),
            kind,
            part,
            finding.line or 0,
            finding.column or 0,
            0 if finding.quote else 1,  # at the same spot, the one that quotes first
        )

    def _follow_up(self, rule: str) -> str | None:
        criterion = self._by_id.get(rule)
        return criterion.follow_up.ask if criterion and criterion.follow_up else None

    def _ask_for(self, finding: Finding) -> Ask:
        ask = self._follow_up(finding.rule) or ""
        quote = self.quote_for(finding)
        if quote:
            stop = "" if quote[-1] in ".!?…" else "."
            text = f"You said “{quote}”{stop} {ask}"
        else:
            text = ask
        return Ask(text, finding.rule, "rubric")

    def quote_for(self, finding: Finding) -> str | None:
        """The span to quote back: the finding's quote, widened to its sentence when it is a
        single word ("We" says little; "We talked and agreed." says what was vague)."""
        quote = (finding.quote or "").strip()
        if not quote:
            return None
        if len(quote.split()) > 1:
            return _clip(quote)
        text = self.transcript
        at = _offset(text, finding.line, finding.column)
        if at is None or text[at : at + len(quote)] != quote:
            at = text.find(quote)
        if at < 0:
            return _clip(quote)
        from storycoach.rubric.text import Doc

        start, end = Doc(text).sentence_bounds(at)
        return _clip(text[start:end].strip() or quote)

    def _probe(self) -> Ask | None:
        """One probe: a rubric probe criterion still open, else the question's least-answered
        probe, asked as the question's own words."""
        for f in sorted(self.findings, key=self._rank):
            criterion = self._by_id.get(f.rule)
            if criterion and criterion.kind == "probe" and criterion.follow_up:
                return Ask(self._ask_for(f).text, f.rule, "probe")
        if not self.question.probes:
            return None
        said = set(_terms(self.transcript))
        best = min(
            range(len(self.question.probes)),
            key=lambda i: (_overlap(self.question.probes[i], said), i),
        )
        return Ask(self.question.probes[best], f"{PROBE_PREFIX}{best + 1}", "probe")

    def part_of(self, target: str | None) -> str:
        """The STAR part a follow-up's answer belongs to (question probes: the Action)."""
        criterion = self._by_id.get(target or "")
        return criterion.follow_up.part if criterion and criterion.follow_up else "A"

    # -- the debrief --

    def debrief(self) -> list[Outcome]:
        """Per criterion ever open: when it opened, which follow-up closed it and with which
        sentence, or that it is still open. Closed ones in the order they closed, then the
        open ones, worst first."""
        outcomes: dict[str, Outcome] = {}
        previous: set[str] = set()
        for index, turn in enumerate(self.turns):
            now = set(turn.open)
            for f in turn.findings:
                outcome = outcomes.get(f.rule)
                if outcome is None or (outcome.closed_at is not None and f.rule not in previous):
                    outcomes[f.rule] = Outcome(rule=f.rule, severity=f.severity, opened_at=index)
            for rule in previous - now:
                outcome = outcomes[rule]
                outcome.closed_at = index
                outcome.closed_by = self._closing_sentence(index, rule)
            previous = now
        return sorted(
            outcomes.values(),
            key=lambda o: (
                o.closed_at is None,
                o.closed_at or 0,
                _SEVERITY_RANK.get(o.severity, 3),
                o.opened_at,
            ),
        )

    def _closing_sentence(self, index: int, rule: str) -> str | None:
        """The first sentence of answer `index` that, added to what was said before, closes
        `rule`; the whole answer (clipped) when no single sentence does."""
        before = "\n\n".join(t.answer for t in self.turns[:index] if t.answer)
        answer = self.turns[index].answer
        for sentence in _sentences(answer):
            text = f"{before}\n\n{sentence}" if before else sentence
            if rule not in {f.rule for f in self.review(text)}:
                return sentence
        return _clip(answer, 200) or None

    def verdicts(self) -> tuple[Verdict, Verdict]:
        """The Keeper-Test verdict for the first answer alone and for the whole transcript."""
        return verdict_for(self.turns[0].findings), verdict_for(self.findings)

    # -- the improved draft --

    def offline_draft(self) -> str:
        """The first answer in STAR parts, each follow-up answer added to its criterion's part.

        A first answer with STAR headings keeps its parts; one without is split by sentence:
        a sentence a finding quoted goes to that criterion's part, the others follow the
        sentence before them (stories are told in order), starting at the Situation. A
        follow-up that quoted a whole sentence back and was answered replaces it."""
        parts: dict[str, list[str]] = {key: [] for key, _ in PARTS}
        first = self.turns[0]
        from storycoach.rubric.text import Doc

        doc = Doc(first.answer)
        if doc.headed:
            for section in doc.sections:
                body = first.answer[section.body_start : section.body_end].strip()
                if body:
                    parts[section.kind].append(body)
        else:
            order = _PART_ORDER
            current = 0
            for sentence in _sentences(first.answer):
                placed = [
                    self.part_of(f.rule)
                    for f in first.findings
                    if f.quote and f.quote in sentence and self._follow_up(f.rule)
                ]
                if placed:
                    current = max(current, min(order.index(p) for p in placed))
                parts[order[current]].append(sentence)
        for index, turn in enumerate(self.turns[1:], 1):
            if not turn.answer:
                continue
            vague = self._vague_sentence(index)
            if vague is not None:
                for texts in parts.values():
                    hits = [i for i, text in enumerate(texts) if vague in text]
                    if hits:
                        texts[hits[0]] = texts[hits[0]].replace(vague, turn.answer, 1)
                        break
                else:
                    vague = None
            if vague is None:
                parts[self.part_of(turn.targets)].append(turn.answer)
        return render_parts(parts)

    def _vague_sentence(self, index: int) -> str | None:
        """The sentence of the first answer that follow-up `index` quoted back whole, when
        that follow-up's answer closed the gap: the fact then replaces the vague sentence
        ("It went well." becomes the measured result) instead of being added after it."""
        turn = self.turns[index]
        if not turn.targets or turn.targets in turn.open:
            return None
        finding = next((f for f in self.turns[index - 1].findings if f.rule == turn.targets), None)
        quote = self.quote_for(finding) if finding else None
        if not quote:
            return None
        for sentence in _sentences(self.turns[0].answer):
            if sentence.rstrip(".!?…") == quote.rstrip(".!?…"):
                return sentence
        return None


def render_parts(parts: dict[str, list[str]]) -> str:
    """STAR parts as a Markdown draft with `## Situation`... headings, empty parts left out."""
    blocks = [
        f"## {heading}\n\n{' '.join(_as_sentence(t) for t in parts.get(key, []))}"
        for key, heading in PARTS
        if parts.get(key)
    ]
    return "\n\n".join(blocks)


# -- running a round --------------------------------------------------------------------------


#: Reads the answer to an ask: returns the text and the seconds it took, or None to stop.
Reader = Callable[[Ask, int], "tuple[str, float | None] | None"]


class FollowUpModel(Protocol):
    """What the round needs from a model; `storycoach.coach.followup.FollowUpCoach` is one.

    Both methods raise `ModelError` (with `.calls`) when the model cannot answer; `follow_up`
    returns None as its ask when the answer does not target an allowed target."""

    @property
    def model(self) -> str: ...

    def follow_up(
        self, rnd: Round, *, redact: bool, names: Sequence[str]
    ) -> tuple[Ask | None, Sequence[CallRecord]]: ...

    def rewrite(
        self, rnd: Round, offline: str, *, redact: bool, names: Sequence[str]
    ) -> tuple[str | None, Sequence[CallRecord]]: ...


def run_round(
    bank: Bank,
    rnd: Round,
    read: Reader,
    *,
    story_id: int | None = None,
    model: FollowUpModel | None = None,
    redact: bool = False,
    names: Sequence[str] = (),
    on_ask: Callable[[Ask, int], None] | None = None,
    on_turn: Callable[[MockTurn], None] | None = None,
) -> MockSession:
    """Ask, read, review, store, until the round is over; then debrief, draft and store.

    The session row is written when the round starts and after every answer; each model call
    is recorded as it returns, and a model failure switches the rest of the round to the
    offline follow-ups (the session still completes and is stored, with the error)."""
    from storycoach.errors import ModelError

    session = MockSession(
        question=rnd.question.id,
        level=rnd.level,
        story_id=story_id,
        llm=MockLlm(model=model.model) if model else None,
        llm_status="pending" if model else "skipped",
    )

    def save() -> None:  # the row is created with the first answer: an empty round is not kept
        if session.id is None:
            session.id = bank.add_mock_session(session)
        else:
            bank.save_mock_session(session)

    def record(calls: Sequence[CallRecord], purpose: str) -> None:
        assert session.id is not None and session.llm is not None
        for call in calls:
            bank.record_mock_call(session.id, purpose, call)
        _add_usage(session.llm, calls)

    def failed(error: ModelError, purpose: str) -> None:
        nonlocal model
        record(getattr(error, "calls", []), purpose)
        assert session.llm is not None
        session.llm.error = str(error)
        session.llm_status = "failed"
        model = None  # the rest of the round is offline

    ask: Ask | None = rnd.first_ask()
    while ask is not None:
        index = len(rnd.turns)
        if on_ask is not None:
            on_ask(ask, index)
        got = read(ask, index)
        if got is None or not got[0].strip():
            if index == 0:
                from storycoach.errors import StorycoachError

                raise StorycoachError("nothing to review: the first answer was empty")
            break
        text, seconds = got
        turn = rnd.answer(ask, text, seconds)
        session.turns = list(rnd.turns)
        save()
        if on_turn is not None:
            on_turn(turn)
        offline = rnd.next_ask()
        ask = offline
        if offline is not None and model is not None:
            try:
                chosen, calls = model.follow_up(rnd, redact=redact, names=names)
            except ModelError as error:
                failed(error, "follow-up")
            else:
                record(calls, "follow-up")
                assert session.llm is not None
                if chosen is not None:
                    ask = chosen
                    session.llm.follow_ups += 1
                else:
                    session.llm.fallbacks += 1
            save()

    return finish(
        bank, rnd, session, model=model, redact=redact, names=names, record=record, failed=failed
    )


def finish(
    bank: Bank,
    rnd: Round,
    session: MockSession,
    *,
    model: FollowUpModel | None,
    redact: bool,
    names: Sequence[str],
    record: Callable[[Sequence[CallRecord], str], None],
    failed: Callable[[Any, str], None],
) -> MockSession:
    """Debrief, verdicts and the improved draft (the model's rewrite only if it invents no
    fact), reviewed; the session is stored before the rewrite request and after it."""
    from storycoach.errors import ModelError

    session.turns = list(rnd.turns)
    session.debrief = rnd.debrief()
    session.first_verdict, session.verdict = rnd.verdicts()
    draft = rnd.offline_draft()
    session.improved_draft = draft
    bank.save_mock_session(session)
    if model is not None and session.llm is not None:
        try:
            rewrite, calls = model.rewrite(rnd, draft, redact=redact, names=names)
        except ModelError as error:
            failed(error, "rewrite")
        else:
            record(calls, "rewrite")
            invented = invented_facts(rewrite or "", [t.answer for t in rnd.turns])
            if rewrite and not invented:
                session.improved_draft = rewrite.strip()
                session.llm.rewrite = "accepted"
            else:
                session.llm.rewrite = "rejected"
                session.llm.rewrite_note = (
                    "not in your answers: " + ", ".join(invented) if invented else "empty"
                )
    if session.llm is not None and session.llm_status == "pending":
        session.llm_status = "ok"
    session.draft_findings = rnd.review(session.improved_draft)
    session.draft_verdict = verdict_for(session.draft_findings)
    session.status = "done"
    bank.save_mock_session(session)
    return session


def _add_usage(llm: MockLlm, calls: Sequence[CallRecord]) -> None:
    for call in calls:
        llm.calls += 1
        if call.tokens_in is not None:
            llm.tokens_in = (llm.tokens_in or 0) + call.tokens_in
        if call.tokens_out is not None:
            llm.tokens_out = (llm.tokens_out or 0) + call.tokens_out
        if call.cost_usd is not None:
            llm.cost_usd = round((llm.cost_usd or 0.0) + call.cost_usd, 8)


# -- choosing, timing, saving ------------------------------------------------------------------


def choose_question(
    bank: Bank, question_id: str | None, *, story: Story | None = None, level: str | None = None
) -> Question:
    """The given question; else the story's one linked question; else the weakest-covered
    question, chosen by `practice`'s own `pick_question`."""
    if question_id:
        return bank.question(question_id)
    if story is not None and len(story.questions) == 1:
        return bank.question(story.questions[0])
    from storycoach.practice import pick_question

    row, _ = pick_question(bank, level=level)
    return row.question


def speaking_rate(criteria: Sequence[Criterion]) -> float | None:
    """Words per minute aloud: the middle of the spoken-length rule's range (one home for the
    figure: its rubric file). None when that rule is not loaded."""
    for criterion in criteria:
        if criterion.detector == "spoken_length":
            low = criterion.params.get("words_per_minute_low")
            high = criterion.params.get("words_per_minute_high")
            if isinstance(low, int | float) and isinstance(high, int | float):
                return (low + high) / 2
    return None


def spoken_minutes(text: str, wpm: float | None) -> float | None:
    """How long `text` takes to say at `wpm` words per minute (headings are not spoken)."""
    if not wpm:
        return None
    words = [w for line in text.splitlines() if not line.lstrip().startswith("#")
             for w in line.split()]  # fmt: skip
    return len(words) / wpm


def follow_up_model(*, offline: bool) -> tuple[FollowUpModel | None, str | None]:
    """The model for follow-ups and the rewrite when one is configured (and not `offline`),
    else None and, when nothing is configured, the hint saying how to set one up."""
    from storycoach.settings import load_settings

    settings = load_settings()
    if offline:
        return None, None
    if not settings.enabled:
        return None, settings.hint
    from storycoach.coach.followup import FollowUpCoach

    return FollowUpCoach(settings), None


def story_from_session(
    session: MockSession, *, base: Story | None = None, title: str | None = None
) -> Story:
    """The improved draft as a story linked to the round's question: a new one, or `base`
    with its STAR parts replaced by the draft's (parts the draft lacks are kept)."""
    from storycoach.storyfile import sections, story_from_fields

    label = f"mock session #{session.id}"
    _, parts = sections(session.improved_draft)
    parts = {k: v for k, v in parts.items() if v.strip()}
    if base is not None:
        data = base.model_dump(exclude={"id", "created", "updated"})
        data.update(parts)
        data["questions"] = list(dict.fromkeys([*base.questions, session.question]))
        return story_from_fields(data, label)
    missing = [p for p in ("situation", "task", "action", "result") if p not in parts]
    if missing:
        from storycoach.errors import StorycoachError

        raise StorycoachError(
            f"{label}: the improved draft has no {', '.join(m.title() for m in missing)}: "
            f"add it with `storycoach mock show {session.id} --draft > draft.md`, edit the "
            "file, then `storycoach story add --from draft.md`"
        )
    data = {
        **parts,
        "title": title or _title(session),
        "questions": [session.question],
        "level": session.level,
    }
    return story_from_fields(data, label)


def session_story_text(session: MockSession) -> str:
    """The improved draft as a story file for `$EDITOR` (front matter: title, question)."""
    title = _title(session)
    level = f"level: {session.level}\n" if session.level else ""
    return (
        f"---\ntitle: {title!r}\nquestions: [{session.question}]\n{level}---\n"
        + _with_all_parts(session.improved_draft)
    )


def _title(session: MockSession) -> str:
    """A story title: the first sentence the candidate said (headings skipped)."""
    first = session.turns[0].answer if session.turns else ""
    said = [s for s in _sentences(first) if not s.startswith("#")]
    return _clip(said[0] if said else session.question, 80)


def _with_all_parts(draft: str) -> str:
    """The draft with every STAR heading, empty where the round gave nothing, to fill in."""
    from storycoach.storyfile import sections

    _, parts = sections(draft)
    blocks = [
        f"## {name}\n\n{parts.get(name.lower(), '')}".rstrip()
        for key, name in PARTS
        if key != "L" or parts.get(name.lower())
    ]
    return "\n\n".join(blocks) + "\n"


# -- fact checking the rewrite -----------------------------------------------------------------

_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_CAPITALISED = re.compile(r"(?<![\w'’-])[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*")
#: Capitalised words that are not facts when they open a sentence or a part.
_NOT_NAMES = frozenset(
    re.findall(
        r"\S+",
        """i i'm i've i'd i'll a an the we our my he she they it this that then when after before
        in on at by for with and but so since because if as to of from situation task action
        result reflection what how why who where while during once later next first last""",
    )
)


def invented_facts(rewrite: str, answers: Sequence[str]) -> list[str]:
    """Names, numbers and dates in `rewrite` that none of `answers` contains.

    Numbers compare as digit strings, months by name, and a capitalised word counts when it
    does not open a sentence or is not a common word, so "In March 2024 Dana cut p99 to 300 ms"
    needs "March", "2024", "Dana", "99" and "300" somewhere in what the candidate said."""
    said = "\n".join(answers)
    said_numbers = {_digits(n) for n in _NUMBER.findall(said)}
    said_words = {w.casefold() for w in re.findall(r"[\w'’-]+", said)}
    missing: list[str] = []
    body = re.sub(r"^#+\s.*$", "", rewrite, flags=re.MULTILINE)  # headings are ours
    for number in _NUMBER.findall(body):
        if _digits(number) not in said_numbers:
            missing.append(number)
    for match in re.finditer(rf"\b(?:{_MONTHS})\b", body, re.IGNORECASE):
        if match.group().casefold() not in said_words:
            missing.append(match.group())
    # The one name finder (the missing-names rule's), for names at sentence starts; its
    # redaction mode would also count any capitalised opener ("Errors fell ...").
    from storycoach.rubric.names import people_names

    for name in people_names(body):
        if not all(part.casefold() in said_words for part in name.split()):
            missing.extend(p for p in name.split() if p.casefold() not in said_words)
    for match in _CAPITALISED.finditer(body):
        for word in match.group().split():
            key = word.casefold().rstrip("'’s")
            if key in _NOT_NAMES or word.casefold() in said_words or key in said_words:
                continue
            if _sentence_start(body, match.start()) and word == match.group().split()[0]:
                continue  # an ordinary word opening a sentence
            missing.append(word)
    return _unique(missing)


def _digits(number: str) -> str:
    return re.sub(r"\D", "", number)


def _sentence_start(text: str, pos: int) -> bool:
    before = text[:pos].rstrip(" \t\"“‘'(*_")
    return not before or before[-1] in ".!?:\n-•"


# -- small helpers ----------------------------------------------------------------------------

#: A sentence ends at . ! ? before a space, a closing quote or the end ("0.1%" goes on).
_SENTENCE_END = re.compile(r"[.!?]+[\"”’)\]]*(?=\s|$)|\n")


def _sentences(text: str) -> list[str]:
    """Sentences and lines of `text`, stripped, in order."""
    out, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        out.append(text[start : match.end()].strip())
        start = match.end()
    out.append(text[start:].strip())
    return [s for s in out if s]


def _as_sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in '.!?"”’)' else text + "."


def _clip(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _offset(text: str, line: int | None, column: int | None) -> int | None:
    if not line or not column:
        return None
    lines = text.split("\n")
    if line > len(lines):
        return None
    return sum(len(x) + 1 for x in lines[: line - 1]) + column - 1


def _terms(text: str) -> list[str]:
    from storycoach.coverage import terms

    return [t for t in terms(text) if t]


def _overlap(probe: str, said: set[str]) -> float:
    words = set(_terms(probe))
    return len(words & said) / len(words) if words else 1.0


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
