"""The coach over real sockets: a loopback OpenAI-compatible server on 127.0.0.1.

respx proves the logic; this proves the real client path (httpx transport, timeouts, a thread
pool of concurrent requests) against the same fake server the bench uses
(`tests/fake_openai_server.py`), without touching the internet.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fake_openai_server import FakeOpenAI

from storycoach.coach import Coach
from storycoach.errors import ModelError
from storycoach.models import Question
from storycoach.rubric import load_criteria
from storycoach.settings import load_settings

CRITERIA = [c for c in load_criteria() if c.id in ("vague-delta", "missing-names")]
QUESTION = Question(id="dissent", text="Tell me about a time you dissented.")
DRAFT = (
    "## Situation\n\nIn March 2024 our checkout p99 was 900 ms.\n\n"
    "## Result\n\nWe tuned instead; p99 dropped from 900 ms to 300 ms.\n"
)


def make_coach(base_url: str, tmp_path: Path, **env: str) -> Coach:
    settings = load_settings(
        {
            "OPENAI_BASE_URL": base_url,
            "STORYCOACH_MODEL": "llama3.1:8b",
            "STORYCOACH_MAX_RETRIES": "0",
            **env,
        },
        config_path=tmp_path / "none.toml",
    )
    return Coach(settings)


def review(coach: Coach, draft: str = DRAFT) -> Any:
    return coach.score(draft, criteria=CRITERIA, question=QUESTION, level="E5")


def test_real_socket_round_trip(tmp_path: Path) -> None:
    with FakeOpenAI() as server:
        llm, calls = review(make_coach(server.base_url, tmp_path))
    assert [c.criterion for c in llm.criteria] == [c.id for c in CRITERIA]
    assert all(c.quote and c.quote in DRAFT for c in llm.criteria)
    assert calls[0].status == "ok" and calls[0].tokens_in and calls[0].cost_usd is None
    body = server.requests[0]
    assert body["response_format"]["json_schema"]["strict"] is True
    # A local server needs no key: the client sends a placeholder.
    assert server.instruction_chars[0] > 0


def test_real_timeout(tmp_path: Path) -> None:
    with FakeOpenAI(delay=2.0) as server:
        coach = make_coach(server.base_url, tmp_path, STORYCOACH_TIMEOUT="0.5")
        with pytest.raises(ModelError, match=r"timed out after 0\.5 s") as info:
            review(coach)
    assert [c.status for c in info.value.calls] == ["error"]


def test_concurrent_scores_overlap(tmp_path: Path) -> None:
    delay = 0.5
    with FakeOpenAI(delay=delay) as server:
        coach = make_coach(server.base_url, tmp_path)
        review(coach)  # warm up: client built, connection pool ready
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda i: review(coach, f"{DRAFT}\nTake {i}.\n"), range(4)))
    assert len(results) == 4 and all(r[0].criteria for r in results)
    assert server.max_in_flight == 4, "the four requests did not overlap"


def test_redact_sends_no_name_from_any_script(tmp_path: Path) -> None:
    """With redaction, no person's name reaches the model, whatever its script or its place
    in the sentence (checked on the loopback server's own request log)."""
    import json
    import tomllib

    data = tomllib.loads((Path(__file__).parent / "data" / "names.toml").read_text("utf-8"))
    groups = list(data["names"].values())
    templates = [
        "After {0} paged me, I told {1} and {2} what I found.",
        "My manager, {3}, asked me to write it up; {4}'s plan was to roll back.",
        "I paired with {5} on the fix, and Dr {6} reviewed it with {7}, our SRE lead.",
        "{8} said the cache was fine, but {9} and I disagreed.",
    ]
    drafts = []
    for index in range(0, len(groups)):
        pool = [groups[(index + k) % len(groups)][(index * 3 + k) % 14] for k in range(10)]
        body = " ".join(t.format(*pool) for t in templates)
        drafts.append((pool, f"In March 2024 we moved from Austin to Denver. {body}"))
    with FakeOpenAI() as server:
        coach = make_coach(server.base_url, tmp_path)
        for _, draft in drafts:
            coach.score(draft, criteria=CRITERIA, question=QUESTION, level="E5", redact=True)
        sent = [json.dumps(r, ensure_ascii=False) for r in server.requests]
    assert len(sent) == len(drafts)
    for (pool, _), body in zip(drafts, sent, strict=True):
        assert "PERSON_" in body
        for name in pool:
            for part in name.split():
                assert part not in body, f"{part!r} was sent to the model"
