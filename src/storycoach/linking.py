"""Link proposals for `coverage --llm`: the bank, the model and the coverage map, in order.

`coverage.py` computes the map and picks each weak question's candidate stories; this module
asks the model which of them really answer it, stores the run (the bank is also the cache: the
same request is never paid for twice), puts the proposals on the map, and accepts the planned
links in one transaction. Like `reviewing.py`, it is the orchestration the CLI calls.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from storycoach.coverage import (
    LLM_MAX_QUESTIONS,
    CoverageReport,
    LlmSuggestion,
    Suggestion,
    link_candidates,
)
from storycoach.errors import ModelError, StorycoachError
from storycoach.models import known_sum, usage_cost

if TYPE_CHECKING:
    from storycoach.bank import Bank
    from storycoach.coach import Coach, LinkProposal
    from storycoach.settings import Settings


@dataclass
class LinkRun:
    """What `propose_links` asked and got: the surviving proposals and the run's facts."""

    proposals: list[LinkProposal]
    info: dict[str, Any]


def link_settings() -> Settings:
    """The model settings for `coverage --llm`; without a key or base URL, an input error."""
    from storycoach.settings import load_settings

    settings = load_settings()
    if not settings.enabled:
        raise StorycoachError(
            "coverage --llm needs a model, and none is configured. Set OPENAI_API_KEY "
            "(or OPENAI_BASE_URL for a local server), or use the offline suggestions: "
            "storycoach coverage"
        )
    return settings


def propose_links(bank: Bank, report: CoverageReport, coach: Coach) -> LinkRun:
    """Ask the model which candidate stories answer the report's gap and thin questions.

    One request for the whole map (`Coach.link_request`); a stored answer to the same request
    is reused without calling the model. Every run that reaches the model is stored with its
    attempts, failed ones too; a failure raises `ModelError` after it is stored. Attach the
    result to a report with `apply_links`.
    """
    from storycoach.coach import LinkProposal

    model = coach.settings.model
    stories = bank.stories(include_retired=False)
    asks = link_candidates(report, stories, bank.markers())
    skipped = max(0, len(asks) - LLM_MAX_QUESTIONS)
    asks = asks[:LLM_MAX_QUESTIONS]
    info: dict[str, Any] = {
        "model": model,
        "questions": len(asks),
        "skipped": skipped,
        "cached": False,
        "requests": 0,
        "tokens_in": None,
        "tokens_out": None,
        "cost_usd": None,
        "error": None,
    }
    if not asks:
        return LinkRun([], info)
    request = coach.link_request(asks, stories)
    cached = bank.cached_suggestions(request.key)
    if cached is not None:
        info["cached"] = True
        return LinkRun([LinkProposal(**p) for p in cached], info)
    run_id = bank.start_suggestions(request.key, model=model)
    try:
        proposals, calls = coach.propose_links(request)
    except ModelError as error:
        bank.finish_suggestions(run_id, None, calls=error.calls, error=str(error))
        raise
    except BaseException:  # Ctrl-C: the run stays on record, as interrupted
        bank.finish_suggestions(run_id, None, calls=[], error="interrupted")
        raise
    bank.finish_suggestions(run_id, [asdict(p) for p in proposals], calls=calls)
    info.update(
        requests=len(calls),
        tokens_in=known_sum(c.tokens_in for c in calls),
        tokens_out=known_sum(c.tokens_out for c in calls),
        cost_usd=usage_cost(calls),
    )
    return LinkRun(proposals, info)


def ask_model(
    bank: Bank, report: CoverageReport, settings: Settings
) -> tuple[LinkRun | None, str | None]:
    """The model's proposals on the report's rows: (the run, None), or (None, the error line)
    with the offline report untouched but for `report.llm["error"]`."""
    from storycoach.coach import Coach

    try:
        run = propose_links(bank, report, Coach(settings))
    except ModelError as error:
        report.llm = {"model": settings.model, "error": str(error)}
        return None, str(error)
    apply_links(report, run)
    return run, None


def apply_links(report: CoverageReport, run: LinkRun) -> None:
    """Put the run's proposals on the report's rows: every row gets a list (empty when the
    model proposed nothing), minus stories that are linked, rejected, retired or gone by now."""
    report.llm = dict(run.info)
    by_question: dict[str, list[LinkProposal]] = {}
    for p in run.proposals:
        by_question.setdefault(p.question, []).append(p)
    for row in report.questions:
        excluded = report.excluded(row)
        row.llm_suggestions = [
            LlmSuggestion(p.story, report.titles[p.story], p.reason, p.confidence)
            for p in by_question.get(row.id, [])
            if p.story in report.titles and p.story not in excluded
        ]


def accept_links(
    bank: Bank, plan: list[tuple[str, Suggestion | LlmSuggestion]], *, llm: bool = False
) -> list[dict[str, Any]]:
    """Link each planned story to its question, all in one transaction; the links made, as
    `coverage --accept --json` reports them."""
    bank.link_questions([(s.story_id, qid) for qid, s in plan])
    linked: list[dict[str, Any]] = []
    for qid, s in plan:
        linked.append({"story": s.story_id, "question": qid, "reason": s.reason})
        if llm:
            linked[-1]["source"] = "llm"
    return linked
