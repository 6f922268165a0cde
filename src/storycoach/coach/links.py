"""Link proposals for `coverage --llm`: which candidate stories answer which gap questions.

One batched request for the whole map: each question with the ids of its candidate stories, each
candidate once with a short STAR summary. The answer is read defensively (`filter_links`): only
questions that were asked, only stories that were offered for them, each once.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from storycoach.coach.client import clip
from storycoach.coach.prompts import CHARS_PER_TOKEN, bank_data, load_prompt, strict_schema
from storycoach.models import Question, StoredStory, Story

#: The prompt for `coverage --llm`, in the prompts directory.
LINKS_PROMPT = "suggest_links.md"
#: Bump when the link request or the reading of its answer changes, so old cache entries expire.
LINKS_CACHE_VERSION = 1
#: Stories the model may propose per question (it sees up to ~5 candidates per question).
MAX_PROPOSALS = 3
#: Words of each candidate's STAR summary: enough to judge fit, one request for the whole map.
SUMMARY_WORDS = 60
TITLE_CHARS = 100
REASON_CHARS = 240


class _LinkPick(BaseModel):
    model_config = ConfigDict(extra="forbid")

    story: int
    reason: str
    confidence: Literal[1, 2, 3, 4, 5]


class _QuestionLinks(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str
    stories: list[_LinkPick]


class LinkAnswer(BaseModel):
    """The model's answer to a link request, validated before anything else reads it."""

    model_config = ConfigDict(extra="forbid")

    questions: list[_QuestionLinks]


@dataclass(frozen=True)
class LinkProposal:
    """One story the model proposes for one question, and why (its words, clipped)."""

    question: str
    story: int
    reason: str
    confidence: int


@dataclass(frozen=True)
class LinkRequest:
    """One batched link request: the messages, the story ids offered per question (the only
    ids an answer may use) and the cache key over everything that shapes the answer."""

    messages: list[dict[str, str]]
    offered: dict[str, tuple[int, ...]]
    key: str


def story_summary(story: Story, words: int = SUMMARY_WORDS) -> str:
    """The story's STAR text in at most `words` words, shared fairly between the four parts
    (a long situation cannot crowd out the action and result), "…" where a part was cut."""
    star = (("S", story.situation), ("T", story.task), ("A", story.action), ("R", story.result))
    parts = [(label, text.split()) for label, text in star]
    take = dict.fromkeys(range(len(parts)), 0)
    left = words
    open_ = [i for i, (_, w) in enumerate(parts) if w]
    while left > 0 and open_:
        share = max(1, left // len(open_))
        for i in open_:
            grant = min(share, len(parts[i][1]) - take[i], left)
            take[i] += grant
            left -= grant
        open_ = [i for i in open_ if take[i] < len(parts[i][1])]
    out = []
    for i, (label, w) in enumerate(parts):
        if take[i]:
            cut = " ".join(w[: take[i]]) + (" …" if take[i] < len(w) else "")
            out.append(f"{label}: {cut}")
    return " ".join(out)


def _format_link_stories(stories: Sequence[StoredStory]) -> str:
    lines = []
    for s in stories:
        lines.append(f"#{s.id} {bank_data(clip(s.title, TITLE_CHARS))}")
        lines.append(f"  {bank_data(story_summary(s))}")
    return "\n".join(lines)


def _format_link_questions(asks: Sequence[tuple[Question, Sequence[int]]]) -> str:
    blocks = []
    for q, ids in asks:
        lines = [f"- id: {bank_data(q.id)}", f"  text: {bank_data(q.text)}"]
        probing = q.probing or "; ".join(q.probes[:2])
        if probing:
            lines.append(f"  probing: {bank_data(probing)}")
        lines.append("  candidates: " + ", ".join(f"#{i}" for i in ids))
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def filter_links(answer: LinkAnswer, offered: dict[str, tuple[int, ...]]) -> list[LinkProposal]:
    """The proposals that stand: questions that were asked, stories that were offered for that
    question (any other id is dropped, not trusted), each once, at most `MAX_PROPOSALS` per
    question in the model's order, then highest confidence first."""
    out: list[LinkProposal] = []
    done: set[str] = set()
    for item in answer.questions:
        allowed = offered.get(item.question)
        if allowed is None or item.question in done:
            continue
        done.add(item.question)
        kept: list[LinkProposal] = []
        for pick in item.stories:
            if pick.story not in allowed or any(k.story == pick.story for k in kept):
                continue
            reason = clip(pick.reason, REASON_CHARS)
            kept.append(LinkProposal(item.question, pick.story, reason, pick.confidence))
        out.extend(sorted(kept[:MAX_PROPOSALS], key=lambda k: -k.confidence))
    return out


def link_request(
    prompts_dir: Path,
    asks: Sequence[tuple[Question, Sequence[int]]],
    stories: Sequence[StoredStory],
    *,
    model: str,
    endpoint: str,
) -> LinkRequest:
    """One request for every question in `asks` (each with the ids of its candidate
    stories, best first); `stories` are the candidates themselves, each sent once.

    The cache key is a sha256 over the prompt file's text, the model and server, the
    response schema and the messages, which carry each question's id, text and probing
    and each candidate's id, title and summary: exactly what the model sees, nothing else.
    """
    prompt = load_prompt(prompts_dir / LINKS_PROMPT)
    wanted = {i for _, ids in asks for i in ids}
    sent = sorted((s for s in stories if s.id in wanted), key=lambda s: s.id)
    messages = prompt.render(
        {
            "max_proposals": str(MAX_PROPOSALS),
            "stories": _format_link_stories(sent),
            "questions": _format_link_questions(asks),
        }
    )
    payload = {
        "version": LINKS_CACHE_VERSION,
        "prompt": hashlib.sha256(prompt.data).hexdigest(),
        "model": model,
        "endpoint": endpoint,
        "schema": strict_schema(LinkAnswer),
        "messages": messages,
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    return LinkRequest(
        messages=messages,
        offered={q.id: tuple(ids) for q, ids in asks},
        key=hashlib.sha256(blob.encode("utf-8")).hexdigest(),
    )


def link_instruction_tokens(prompts_dir: Path) -> int:
    """Estimated size of the link request without any question or story."""
    empty = link_request(prompts_dir, [], [], model="", endpoint="")
    return math.ceil(sum(len(m["content"]) for m in empty.messages) / CHARS_PER_TOKEN)
