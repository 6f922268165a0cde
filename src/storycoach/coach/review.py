"""The review request: the prompt for one draft, its answer schema, and the answer as a review.

The judged draft is untrusted: it is fenced in `<draft>` tags (a closing tag inside it is
neutralised), the system prompt says instructions inside it are content, and the answer is read
defensively: quotes must be verbatim in the text that was sent or they are dropped, names
redacted before sending are restored after. The criteria come from the same rubric files the
deterministic engine reads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from storycoach.coach.judge import INJECTION
from storycoach.coach.prompts import (
    PromptError,
    digest,
    fence,
    load_prompt,
    strict_schema,
    unfence,
)
from storycoach.coach.quotes import locate
from storycoach.coach.redact import Redaction
from storycoach.levels import LEVELS_FILE, load_levels
from storycoach.models import CallRecord, CriterionScore, LlmReview, Question, known_sum, usage_cost

if TYPE_CHECKING:
    from storycoach.rubric.model import Criterion

#: Bump when the request or the answer's interpretation changes, so old cache entries expire.
CACHE_VERSION = 1
#: The review prompt and the level bands it cites, in the prompts directory.
REVIEW_PROMPT = "review.md"


class Judgement(BaseModel):
    """The model's answer for one criterion."""

    model_config = ConfigDict(extra="forbid")

    score: Literal[1, 2, 3, 4, 5]
    quote: str
    fix: str


class Answer(BaseModel):
    """The model's whole answer; `criteria` is keyed by criterion id (see `answer_schema`)."""

    model_config = ConfigDict(extra="forbid")

    criteria: dict[str, Judgement]
    judge_instructions: list[str]
    reason: str
    verdict: Literal["pass", "fail"]
    weakest_sentence: str
    rewrite: str


def answer_schema(criterion_ids: Sequence[str]) -> dict[str, Any]:
    """`strict_schema(Answer)` with one required property per criterion.

    Keying `criteria` by id makes the server (where it enforces the schema) return exactly one
    judgement per criterion, no more, no fewer. Each refers to one shared definition: the
    schema is billed as input tokens on every request, and inlining it would cost ~60 tokens per
    criterion instead of ~8.
    """
    schema = strict_schema(Answer)
    judgement = schema["properties"]["criteria"]["additionalProperties"]
    schema["properties"]["criteria"] = {
        "type": "object",
        "properties": dict.fromkeys(criterion_ids, judgement),
        "required": list(criterion_ids),
        "additionalProperties": False,
    }
    return schema


def check_criteria(answer: Answer, criterion_ids: Sequence[str]) -> None:
    """One judgement per criterion, no more, no fewer (servers that ignore the schema)."""
    missing = [cid for cid in criterion_ids if cid not in answer.criteria]
    extra = [cid for cid in answer.criteria if cid not in criterion_ids]
    if missing:
        raise ValueError(f"criteria: missing {missing}")
    if extra:
        raise ValueError(f"criteria: unknown {extra}")


def judged(criteria: Sequence[Criterion]) -> list[Criterion]:
    """The criteria the model scores: those whose rubric file does not say `llm = false`
    (arithmetic on facts the model cannot see or does badly, such as a word count or today's
    date against the story's, which the rubric engine checks exactly)."""
    return [c for c in criteria if c.llm]


def format_question(question: Question | None) -> str:
    if question is None:
        return "none given: judge it as a general behavioral answer."
    lines = [question.text]
    if question.probing:
        lines.append(f"What the interviewer is really probing: {question.probing}")
    if question.probes:
        lines.append("A strong answer covers:")
        lines.extend(f"- {probe}" for probe in question.probes)
    return "\n".join(lines)


def format_criteria(criteria: Sequence[Criterion]) -> str:
    if not criteria:
        return "(none: give the criteria object no entries)"
    blocks = []
    for c in criteria:
        anchors = " | ".join(f"{score}: {text}" for score, text in sorted(c.anchors.items()))
        blocks.append(f"- {c.id}: {c.title}\n  Good: {c.good}\n  {anchors}")
    return "\n".join(blocks)


def build_messages(
    prompts_dir: Path,
    draft: str,
    *,
    criteria: Sequence[Criterion],
    question: Question | None,
    level: str | None,
) -> list[dict[str, str]]:
    """The system and user messages for one draft (already redacted if need be)."""
    prompt = load_prompt(prompts_dir / REVIEW_PROMPT)
    levels = load_levels(prompts_dir / LEVELS_FILE)
    band = levels.band(level or levels.default)
    if band is None:
        raise PromptError(f"levels.toml has no band for level {level!r}")
    band_name = band.name if level else f"not given; judge against {band.name}"
    return prompt.render(
        {
            "question": format_question(question),
            "level_band": band_name,
            "level_expects": band.expects,
            "criteria": format_criteria(judged(criteria)),
            "draft": fence(draft),
        }
    )


def prompts_digest(prompts_dir: Path) -> str:
    """A digest of the files that shape a review (and no other prompt's)."""
    prompt = load_prompt(prompts_dir / REVIEW_PROMPT)
    levels = load_levels(prompts_dir / LEVELS_FILE)
    return digest((REVIEW_PROMPT, prompt.data), (LEVELS_FILE, levels.model_dump_json().encode()))


def cache_key(
    prompts_dir: Path,
    draft: str,
    *,
    model: str,
    endpoint: str,
    criteria: Sequence[Criterion],
    question: Question | None,
    level: str | None,
) -> str:
    """sha256 over everything that shapes the answer: the draft, the criteria (their rubric
    files' bytes), the review's prompt files, the model and server, the level and the question.
    Never the key, the timeout or the retry settings, which do not change the answer."""
    payload = {
        "version": CACHE_VERSION,
        "draft": draft,
        "criteria": [_criterion_fingerprint(c) for c in judged(criteria)],
        "prompts": prompts_digest(prompts_dir),
        "model": model,
        "endpoint": endpoint,
        "level": level,
        "question": None
        if question is None
        else {
            "id": question.id,
            "text": question.text,
            "probing": question.probing,
            "probes": question.probes,
        },
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _criterion_fingerprint(criterion: Criterion) -> dict[str, Any]:
    """A criterion's rubric file bytes when it has one (what the engine read), else its fields."""
    if criterion.path is not None:
        try:
            digest = hashlib.sha256(criterion.path.read_bytes()).hexdigest()
            return {"id": criterion.id, "file": digest}
        except OSError:
            pass
    return criterion.model_dump(mode="json")


@dataclass
class ReviewRequest:
    """One draft's request: the messages, the text sent, how to undo the redaction, the ids."""

    messages: list[dict[str, str]]
    sent_draft: str
    redaction: Redaction
    criterion_ids: list[str]


def review_request(
    prompts_dir: Path,
    draft: str,
    *,
    criteria: Sequence[Criterion],
    question: Question | None,
    level: str | None,
    redact: bool,
    redact_names: Iterable[str] | None,
) -> ReviewRequest:
    redaction = Redaction()
    sent = draft
    if redact:
        redaction, sent = Redaction.build(draft, redact_names or ())
    messages = build_messages(prompts_dir, sent, criteria=criteria, question=question, level=level)
    return ReviewRequest(messages, sent, redaction, [c.id for c in judged(criteria)])


def to_review(
    answer: Answer, request: ReviewRequest, calls: list[CallRecord], model: str
) -> LlmReview:
    """Validate quotes against the text that was sent, restore names, total the usage."""
    restore = request.redaction.restore

    def verbatim(quote: str) -> str:
        span = locate(quote, request.sent_draft)
        if span is None:
            return ""
        return restore(unfence(request.sent_draft[span[0] : span[1]]))

    scores = [
        CriterionScore(
            criterion=cid,
            score=answer.criteria[cid].score,
            quote=verbatim(answer.criteria[cid].quote),
            fix=restore(unfence(answer.criteria[cid].fix)),
        )
        for cid in request.criterion_ids
    ]
    for instruction in answer.judge_instructions:
        quote = verbatim(instruction)
        if quote:
            scores.append(
                CriterionScore(
                    criterion=INJECTION,
                    score=1,
                    quote=quote,
                    fix="Remove the text addressed to the reviewer: it was not followed, "
                    "and in an interview it reads as gaming the process.",
                )
            )
            break
    return LlmReview(
        model=model,
        criteria=scores,
        verdict=answer.verdict,
        reason=restore(unfence(answer.reason)),
        weakest_sentence=verbatim(answer.weakest_sentence),
        rewrite=restore(unfence(answer.rewrite)),
        tokens_in=known_sum(c.tokens_in for c in calls),
        tokens_out=known_sum(c.tokens_out for c in calls),
        latency_ms=sum(c.latency_ms or 0 for c in calls),
        cost_usd=usage_cost(calls),
    )
