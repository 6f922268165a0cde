"""Accepting links is one bank call in one transaction: all the planned links, or none."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import add

from storycoach.coverage import Suggestion
from storycoach.errors import NotFoundError
from storycoach.linking import accept_links


def _suggestion(story_id: int, title: str) -> Suggestion:
    return Suggestion(story_id, title, 1.0, 1.0, ["latency"])


def test_accept_links_every_planned_link(bank: Any) -> None:
    one = add(bank, "Cache rewrite")
    two = add(bank, "Kafka migration")
    assert one.id is not None and two.id is not None
    plan = [
        ("production-outage-mistake", _suggestion(one.id, one.title)),
        ("critical-pipeline-bug", _suggestion(two.id, two.title)),
    ]
    linked = accept_links(bank, plan, llm=True)
    assert [(x["story"], x["question"], x["source"]) for x in linked] == [
        (one.id, "production-outage-mistake", "llm"),
        (two.id, "critical-pipeline-bug", "llm"),
    ]
    assert bank.story(one.id).questions == ["production-outage-mistake"]
    assert bank.story(two.id).questions == ["critical-pipeline-bug"]


def test_an_unknown_question_links_nothing(bank: Any) -> None:
    one = add(bank, "Cache rewrite")
    assert one.id is not None
    plan = [
        ("production-outage-mistake", _suggestion(one.id, one.title)),
        ("no-such-question", _suggestion(one.id, one.title)),
    ]
    with pytest.raises(NotFoundError):
        accept_links(bank, plan)
    assert bank.story(one.id).questions == []
