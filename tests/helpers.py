"""Story builders shared by the coverage and practice tests (imported, not fixtures)."""

from __future__ import annotations

from datetime import date
from typing import Any

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
