"""`Coach`: the one object the core holds to score drafts and propose story links.

It is a `ModelClient` (retries, repair, call accounting) that knows the prompts directory and
the two kinds of request: a review of one draft (`score`) and one batched link request for
`coverage --llm` (`propose_links`).
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from storycoach.coach import links, review
from storycoach.coach.client import ModelClient
from storycoach.coach.prompts import CHARS_PER_TOKEN, json_format
from storycoach.models import CallRecord, LlmReview, Question, StoredStory
from storycoach.resources import resource_dir
from storycoach.settings import Settings

if TYPE_CHECKING:
    import openai

    from storycoach.rubric.model import Criterion


class Coach(ModelClient):
    """Scores drafts and proposes story links with the configured model. Thread-safe: `score`
    may run concurrently."""

    def __init__(
        self,
        settings: Settings,
        client: openai.OpenAI | None = None,
        *,
        prompts_dir: Path | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(settings, client, sleep=sleep, jitter=jitter)
        self._prompts_dir = Path(prompts_dir) if prompts_dir else None

    @property
    def prompts_dir(self) -> Path:
        return self._prompts_dir or resource_dir("prompts")

    # -- reviews --

    def build_messages(
        self,
        draft: str,
        *,
        criteria: Sequence[Criterion],
        question: Question | None,
        level: str | None,
    ) -> list[dict[str, str]]:
        """The system and user messages for one draft (already redacted if need be)."""
        return review.build_messages(
            self.prompts_dir, draft, criteria=criteria, question=question, level=level
        )

    def instruction_tokens(
        self, *, criteria: Sequence[Criterion], question: Question | None, level: str | None
    ) -> int:
        """Estimated prompt size without the draft, at `CHARS_PER_TOKEN` characters a token.

        Counts the system and user messages only; the JSON schema in `response_format` is
        billed as input too (see `schema_tokens`)."""
        messages = self.build_messages("", criteria=criteria, question=question, level=level)
        return math.ceil(sum(len(m["content"]) for m in messages) / CHARS_PER_TOKEN)

    def schema_tokens(self, criteria: Sequence[Criterion]) -> int:
        """Estimated size of the response schema sent with every request."""
        ids = [c.id for c in review.judged(criteria)]
        schema = json.dumps(
            json_format("story_review", review.answer_schema(ids)), separators=(",", ":")
        )
        return math.ceil(len(schema) / CHARS_PER_TOKEN)

    def cache_key(
        self,
        draft: str,
        *,
        criteria: Sequence[Criterion],
        question: Question | None,
        level: str | None,
    ) -> str:
        """See `review.cache_key`: everything that shapes the answer, never the key."""
        return review.cache_key(
            self.prompts_dir,
            draft,
            model=self.settings.model,
            endpoint=self.settings.endpoint,
            criteria=criteria,
            question=question,
            level=level,
        )

    def score(
        self,
        draft: str,
        *,
        criteria: Sequence[Criterion],
        question: Question | None,
        level: str | None,
        redact: bool = False,
        redact_names: Iterable[str] | None = None,
    ) -> tuple[LlmReview, list[CallRecord]]:
        """One model review of `draft` against `criteria` (already filtered with `applicable`;
        the model scores those of them whose rubric file does not say `llm = false`).

        Returns the validated review and one `CallRecord` per attempt. Raises `ModelError` with
        `.calls` attached when the model cannot give a usable answer within the retry budget.
        With `redact`, people's names (`redact_names` plus detected ones) are replaced by
        PERSON_n before sending and restored in the returned review.
        """
        request = review.review_request(
            self.prompts_dir,
            draft,
            criteria=criteria,
            question=question,
            level=level,
            redact=redact,
            redact_names=redact_names,
        )
        ids = request.criterion_ids
        answer, calls = self.complete_json(
            request.messages,
            review.Answer,
            name="story_review",
            schema=review.answer_schema(ids),
            check=lambda parsed: review.check_criteria(parsed, ids),
            task="review the draft",
        )
        return review.to_review(answer, request, calls, self.settings.model), calls

    # -- link suggestions --

    def link_request(
        self, asks: Sequence[tuple[Question, Sequence[int]]], stories: Sequence[StoredStory]
    ) -> links.LinkRequest:
        """See `links.link_request`."""
        return links.link_request(
            self.prompts_dir,
            asks,
            stories,
            model=self.settings.model,
            endpoint=self.settings.endpoint,
        )

    def propose_links(
        self, request: links.LinkRequest
    ) -> tuple[list[links.LinkProposal], list[CallRecord]]:
        """Ask the model once (plus retries and one repair, see `complete_json`); returns the
        proposals that survive `filter_links` and one `CallRecord` per attempt."""
        answer, calls = self.complete_json(
            request.messages, links.LinkAnswer, name="link_suggestions", task="propose links"
        )
        return links.filter_links(answer, request.offered), calls

    def link_instruction_tokens(self) -> int:
        """Estimated size of the link request without any question or story."""
        return links.link_instruction_tokens(self.prompts_dir)
