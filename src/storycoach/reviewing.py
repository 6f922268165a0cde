"""The review pipeline: rubric engine, storage, then (optionally) the model, for many drafts.

Order matters and is the point of this module. Every input is read and validated before any
review starts, so a typo in the fifth file stops the run before anything is stored. Each draft
is then reviewed offline and stored *before* any network call, so a failing model never loses
the user's text. Model calls run concurrently in worker threads; all bank writes stay on the
calling thread because a SQLite connection is not shared across threads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from storycoach.errors import ModelError, StorycoachError
from storycoach.models import (
    CallRecord,
    Finding,
    Level,
    LlmReview,
    Person,
    Question,
    ReviewResult,
    Story,
    is_uncounted_note,
    parse_level,
    parse_when,
    verdict_for,
)
from storycoach.storyfile import split_front_matter, story_to_text

if TYPE_CHECKING:
    from storycoach.bank import Bank
    from storycoach.coach import Coach
    from storycoach.rubric.model import Criterion
    from storycoach.settings import Settings


@dataclass
class ReviewInput:
    """One draft to review: a file, stdin, or a story from the bank."""

    label: str
    text: str
    story_id: int | None = None
    question_id: str | None = None
    level: str | None = None
    story_when: date | None = None
    people: list[str] = field(default_factory=list)
    #: The story's linked questions: with several and no `question_id`, each one's probes run.
    linked: list[str] = field(default_factory=list)


@dataclass
class ReviewItem:
    result: ReviewResult
    criteria: list[str]
    review_id: int  # the stored review (also `result.review_id`)
    model_error: str | None = None


@dataclass
class BatchSummary:
    drafts: int
    fails: int
    passes: int
    errors: int
    warnings: int
    common: list[tuple[str, int]]


@dataclass
class ReviewBatch:
    items: list[ReviewItem]
    llm_hint: str | None = None
    #: Ctrl-C stopped the model part: finished items are complete, the rest offline only.
    interrupted: bool = False

    @property
    def results(self) -> list[ReviewResult]:
        return [item.result for item in self.items]

    def summary(self) -> BatchSummary:
        """Totals over every draft: verdicts, counted errors and warnings, and the rules that
        fired more than once, commonest first (at most three)."""
        from collections import Counter

        counted = [
            f for r in self.results for f in r.findings
            if not is_uncounted_note(f) and f.severity in ("error", "warning")
        ]  # fmt: skip
        fails = sum(r.verdict == "fail" for r in self.results)
        return BatchSummary(
            drafts=len(self.items),
            fails=fails,
            passes=len(self.items) - fails,
            errors=sum(f.severity == "error" for f in counted),
            warnings=sum(f.severity == "warning" for f in counted),
            common=[(r, n) for r, n in Counter(f.rule for f in counted).most_common(3) if n > 1],
        )

    @property
    def exit_code(self) -> int:
        """130 when interrupted; 3 when the model failed (the offline review still stands),
        else 1 on any fail."""
        if self.interrupted:
            return 130
        if any(item.model_error for item in self.items):
            return 3
        return 1 if any(item.result.verdict == "fail" for item in self.items) else 0


@dataclass
class _Prepared:
    source: ReviewInput
    body: str
    line_offset: int
    question: Question | None
    level: Level | None
    story_when: date | None
    people: list[str]
    #: Several linked questions and none chosen: the draft is reviewed against each one's probes.
    questions: list[Question] = field(default_factory=list)


def story_input(story: Story, question_id: str | None = None) -> ReviewInput:
    """A bank story as a review input; with one linked question, that question's probes apply."""
    if question_id is None and len(story.questions) == 1:
        question_id = story.questions[0]
    return ReviewInput(
        label=f"story #{story.id}",
        text=story_to_text(story),
        story_id=story.id,
        question_id=question_id,
        level=story.level,
        story_when=story.when_date,
        people=[p.name for p in story.people],
        linked=list(story.questions),
    )


def story_inputs(
    bank: Bank,
    story_ids: list[int],
    *,
    all_stories: bool = False,
    question: str | None = None,
    level: str | None = None,
) -> list[ReviewInput]:
    """The bank stories to review: those named, plus with `all_stories` every active one
    (linked to `question`, if given). A story named twice is reviewed, and paid for, once;
    `level` overrides each story's own."""
    chosen = [bank.story(i) for i in dict.fromkeys(story_ids)]
    if all_stories:
        named = {s.id for s in chosen}
        chosen += [
            s for s in bank.stories(question=question, include_retired=False) if s.id not in named
        ]
        if not chosen:
            raise StorycoachError(
                "no stories to review" + (f" linked to {question}" if question else "")
            )
    inputs = []
    for s in chosen:
        source = story_input(s, question)
        source.level = level or source.level
        inputs.append(source)
    return inputs


def _prepare(bank: Bank, source: ReviewInput) -> _Prepared:
    doc = split_front_matter(source.text, source.label)
    meta = doc.meta
    question_id = source.question_id or meta.get("question")
    linked = source.linked or meta.get("questions")
    linked = [str(q) for q in linked] if isinstance(linked, list) else []
    if question_id is None and len(linked) == 1:
        question_id = linked[0]
    several = [bank.question(q) for q in linked] if question_id is None and len(linked) > 1 else []
    given = source.level or meta.get("level")
    level: Level | None = None
    if given is not None:
        try:
            level = parse_level(given)
        except ValueError as error:
            raise StorycoachError(f"{source.label}: {error}") from None
    story_when = source.story_when
    if story_when is None and meta.get("when"):
        try:
            story_when = parse_when(str(meta["when"]))
        except ValueError as error:
            raise StorycoachError(f"{source.label}: when: {error}") from None
    people = list(source.people)
    listed = meta.get("people") or []
    # `people: Priya Raman (PM)` is one person, as `story add --from` reads it: iterating the
    # string would redact single letters and send the real name; `people: 5` would crash.
    for person in listed if isinstance(listed, list) else [listed]:
        people.append(Person.parse(str(person)).name)
    if not doc.body.strip():
        raise StorycoachError(f"{source.label}: the draft is empty")
    return _Prepared(
        source=source,
        body=doc.body,
        line_offset=doc.line_offset,
        question=bank.question(str(question_id)) if question_id else None,
        level=level,
        story_when=story_when,
        people=[p for p in people if p],
        questions=several,
    )


def review_inputs(
    bank: Bank,
    inputs: list[ReviewInput],
    *,
    offline: bool = False,
    no_cache: bool = False,
    redact: bool = False,
    on_result: Callable[[ReviewItem], None] | None = None,
    on_offline: Callable[[ReviewItem], None] | None = None,
    today: date | None = None,
) -> ReviewBatch:
    """Review every input; returns when all are stored (and scored, when a model is set).

    `on_result(item)` runs as each item is complete, in completion order; `on_offline(item)`
    as soon as the offline review of an item that still waits for the model is stored. Ctrl-C
    during the model part cancels queued and retried requests, marks the unfinished reviews
    interrupted and returns the batch with `interrupted` set (exit code 130)."""
    from storycoach.rubric import applicable, load_criteria
    from storycoach.settings import load_settings

    prepared = [_prepare(bank, source) for source in inputs]
    criteria = load_criteria()
    # Offline runs never read the model settings: a typo in config.toml cannot break them.
    settings = None if offline else load_settings()
    coach = _make_coach(settings) if settings is not None and settings.enabled else None

    items: list[ReviewItem] = []
    pending: list[tuple[int, _Prepared, list[Criterion], str | None]] = []
    for p in prepared:
        chosen = applicable(criteria, question=p.question, level=p.level)
        result = _offline_result(p, criteria, today)
        result.llm_status = "pending" if coach else "skipped"
        key = (
            coach.cache_key(p.body, criteria=chosen, question=p.question, level=p.level)
            if coach
            else None
        )
        review_id = bank.add_review(result, p.source.text, cache_key=key)
        result.review_id = review_id
        items.append(ReviewItem(result, [c.id for c in chosen], review_id))
        if coach is None or key is None:
            _done(on_result, items[-1])
            continue
        cached = None if no_cache else bank.cached_llm(key)
        if cached is not None:
            _apply_model(bank, items[-1], cached.model_copy(update={"cached": True}), p)
            _done(on_result, items[-1])
        else:
            pending.append((len(items) - 1, p, chosen, key))
            _done(on_offline, items[-1])

    if coach is not None and pending:
        concurrency = coach.settings.concurrency
        try:
            _score_concurrently(bank, coach, items, pending, redact, concurrency, on_result)
        except BaseException as error:
            # Stop spending: no new attempt, no retry; what finished is stored, the rest is
            # marked interrupted (never left pending, never shown as a pass).
            coach.cancelled.set()
            unfinished = [i for i in items if i.result.llm_status == "pending"]
            bank.interrupt_reviews(i.result.review_id for i in unfinished if i.result.review_id)
            for item in unfinished:
                item.result.llm_status = "interrupted"
            if not isinstance(error, KeyboardInterrupt):
                raise
            return ReviewBatch(items=items, interrupted=True)
    hint = settings.hint if settings is not None and coach is None else None
    return ReviewBatch(items=items, llm_hint=hint)


def review_offline(
    bank: Bank,
    source: ReviewInput,
    *,
    criteria: list[Criterion] | None = None,
    today: date | None = None,
) -> ReviewResult:
    """The offline review of one input, not stored: exactly what `review --offline` reports
    for it. The language server calls this on every edit; bad input raises `StorycoachError`."""
    from storycoach.rubric import load_criteria

    return _offline_result(_prepare(bank, source), criteria or load_criteria(), today)


def _offline_result(p: _Prepared, criteria: list[Criterion], today: date | None) -> ReviewResult:
    """The rubric engine's findings and verdict for one prepared input (one home for both
    `review_inputs` and `review_offline`, so the editor and the command never disagree)."""
    from storycoach.rubric import review_text

    findings = review_text(
        p.body,
        question=p.question,
        level=p.level,
        story_when=p.story_when,
        today=today,
        line_offset=p.line_offset,
        criteria=criteria,
    )
    findings = _with_linked_probes(findings, p, criteria, today)
    return ReviewResult(
        path=p.source.label,
        question=p.question.id if p.question else None,
        questions=[q.id for q in p.questions] or ([p.question.id] if p.question else []),
        level=p.level,
        verdict=verdict_for(findings),
        findings=findings,
        story_id=p.source.story_id,
    )


def _with_linked_probes(
    findings: list[Finding], p: _Prepared, criteria: list[Criterion], today: date | None
) -> list[Finding]:
    """A story linked to several questions: add each question's probe findings (each says
    which question it comes from) to the findings reviewed without a question."""
    if not p.questions:
        return findings
    from storycoach.rubric import review_text

    probes = [c for c in criteria if c.needs_question]
    found = list(findings)
    for question in p.questions:
        found += review_text(
            p.body,
            question=question,
            level=p.level,
            story_when=p.story_when,
            today=today,
            line_offset=p.line_offset,
            criteria=probes,
        )
    return sorted(found, key=lambda f: (f.line or 0, f.column or 0))


def _make_coach(settings: Settings) -> Coach:
    from storycoach.coach import Coach

    return Coach(settings)


def _done(callback: Callable[[ReviewItem], None] | None, item: ReviewItem) -> None:
    if callback is not None:
        callback(item)


def _score_concurrently(
    bank: Bank,
    coach: Coach,
    items: list[ReviewItem],
    pending: list[tuple[int, _Prepared, list[Criterion], str | None]],
    redact: bool,
    concurrency: int,
    on_result: Callable[[ReviewItem], None] | None,
) -> None:
    from concurrent.futures import ThreadPoolExecutor, as_completed  # only with a model

    def score(
        p: _Prepared, chosen: list[Criterion], review_id: int
    ) -> tuple[LlmReview, list[CallRecord]]:
        # Each attempt is a `pending` llm_calls row before it is sent, completed after: a
        # request that was paid for is recorded even if this process dies mid-flight.
        sent: list[int] = []

        def record(model: str, calls_so_far: list[CallRecord]) -> None:
            _finish_calls(bank, sent[len(sent) - 1 :], calls_so_far[len(sent) - 1 :])
            sent.append(bank.start_call(review_id, model))

        try:
            llm, calls = coach.score(
                p.body,
                criteria=chosen,
                question=p.question,
                level=p.level,
                redact=redact,
                redact_names=p.people if redact else None,
                on_send=record,
            )
        except ModelError as error:
            _finish_calls(bank, sent, error.calls)
            raise
        _finish_calls(bank, sent, calls)
        return llm, calls

    # Identical drafts in one run (same cache key) share one request: the first pays for it,
    # the others are answered as from the cache.
    groups: dict[str | None, list[tuple[int, _Prepared]]] = {}
    first_chosen: dict[str | None, list[Criterion]] = {}
    for index, p, chosen, key in pending:
        group_key = key if key is not None else f"#{index}"
        groups.setdefault(group_key, []).append((index, p))
        first_chosen.setdefault(group_key, chosen)

    pool = ThreadPoolExecutor(max_workers=max(1, concurrency))
    try:
        futures = {
            pool.submit(
                score, members[0][1], first_chosen[key], items[members[0][0]].review_id
            ): key
            for key, members in groups.items()
        }
        for future in as_completed(futures):
            members = groups[futures[future]]
            try:
                llm, _calls = future.result()
            except ModelError as error:
                for index, _ in members:
                    item = items[index]
                    item.model_error = str(error)
                    item.result.llm_status = "failed"
                    bank.finish_review(item.review_id, item.result)
                    _done(on_result, item)
                continue
            for position, (index, p) in enumerate(members):
                shared = llm if position == 0 else llm.model_copy(update={"cached": True})
                _apply_model(bank, items[index], shared, p)
                _done(on_result, items[index])
    except BaseException:
        # Ctrl-C (or any failure): queued requests are cancelled, never sent.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _finish_calls(bank: Bank, sent: list[int], calls: list[CallRecord]) -> None:
    for call_id, call in zip(sent, calls, strict=False):
        bank.finish_call(call_id, call)


def _apply_model(bank: Bank, item: ReviewItem, llm: LlmReview, p: _Prepared) -> None:
    from storycoach.coach import merge, verdict

    result = item.result
    result.findings = merge(result.findings, llm, draft=p.body, line_offset=p.line_offset)
    result.llm = llm
    result.verdict = verdict(result.findings, llm)
    result.llm_status = "cached" if llm.cached else "ok"
    bank.finish_review(item.review_id, result)
