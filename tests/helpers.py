"""Builders shared by several test files (imported, not fixtures): stories, model answers."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import httpx

from storycoach.models import Story


def recent(months_ago: int = 2) -> str:
    """A `when` month this many months before today, so freshness tests never go stale."""
    today = date.today()
    total = today.year * 12 + today.month - 1 - months_ago
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


def add(bank: Any, title: str, *questions: str, **fields: Any) -> Story:
    """A strong, fresh story linked to `questions`; `fields` override any part of it."""
    values = {
        "title": title,
        "situation": "In March our checkout p99 was 900 ms at Acme.",
        "task": "I owned the latency budget.",
        "action": "I wrote a design doc and showed it to Priya.",
        "result": "p99 dropped from 900 ms to 300 ms within two weeks.",
        "when": recent(2),
    }
    values.update(fields)
    return bank.add_story(Story(questions=list(questions), **values))


def completion(
    content: str | dict[str, Any] | None,
    *,
    finish_reason: str = "stop",
    refusal: str | None = None,
    usage: tuple[int, int] = (1200, 300),
) -> httpx.Response:
    """A chat-completions reply as an OpenAI-compatible server sends it."""
    if isinstance(content, dict):
        content = json.dumps(content)
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4.1-mini",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": refusal},
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": usage[0],
                "completion_tokens": usage[1],
                "total_tokens": sum(usage),
            },
        },
    )
