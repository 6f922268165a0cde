"""No paid request unrecorded; unfinished reviews never pass; `doctor` checks and sweeps.

Real processes where the point is a process dying (kill -9) or being interrupted (SIGINT),
against the loopback OpenAI-compatible server the bench uses.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fake_openai_server as fake_server
import httpx
import pytest
import respx
from helpers import add, completion

from storycoach.bank import Bank
from storycoach.models import ReviewResult

DRAFT = (
    "---\ntitle: Cache\n---\n## Situation\n\nIn March 2024 our checkout p99 was 900 ms at Acme.\n\n"
    "## Action\n\nI wrote a design doc and walked Priya Raman through it.\n\n"
    "## Result\n\nWe tuned instead; p99 dropped from 900 ms to 300 ms in two weeks.\n"
)


def rows(db: Path, sql: str) -> list[dict[str, Any]]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql)]
    finally:
        conn.close()


# -- unfinished reviews never pass --------------------------------------------------------------


def _pending_review(bank: Bank, story_id: int, owner: str, verdict: str = "pass") -> int:
    result = ReviewResult(
        path=f"story #{story_id}", verdict=verdict, findings=[], llm_status="pending",
        story_id=story_id,
    )  # fmt: skip
    review_id = bank.add_review(result, "draft")
    bank.db.execute("UPDATE reviews SET owner = ? WHERE id = ?", [owner, review_id])
    bank.db.conn.commit()
    return review_id


def _dead_owner() -> str:
    """The owner token of a process that has certainly exited."""
    import socket

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return f"{socket.gethostname()}:{child.pid}"


def test_a_dead_processs_pending_review_shows_as_interrupted_never_pass(
    bank: Bank, invoke: Callable, json_of: Callable
) -> None:
    story = add(bank, "Cache")
    finished = ReviewResult(path="story #1", verdict="fail", findings=[], story_id=story.id)
    bank.add_review(finished, "old draft")
    _pending_review(bank, story.id or 0, _dead_owner())

    history = json_of(invoke("history", "--json"))
    assert [(h["verdict"], h["llm_status"]) for h in history] == [
        ("interrupted", "interrupted"),
        ("fail", "skipped"),
    ]
    listed = json_of(invoke("story", "list", "--json"))
    assert listed[0]["verdict"] == "interrupted"
    table = invoke("history").stdout
    assert "interrupted" in table and "pass" not in table
    # coverage counts the last *finished* review (here: the failed one), never the unfinished
    assert bank.latest_verdicts() == {story.id: "fail"}


def test_a_live_processs_pending_review_shows_as_pending(bank: Bank, invoke: Callable) -> None:
    import socket

    story = add(bank, "Cache")
    _pending_review(bank, story.id or 0, f"{socket.gethostname()}:{os.getpid()}")
    history = json.loads(invoke("history", "--json").stdout)
    assert history[0]["verdict"] == "pending"
    assert bank.latest_verdicts() == {}
    assert bank.latest_verdicts(include_unfinished=True) == {story.id: "pending"}


def test_the_next_open_sweeps_interrupted_reviews(db_path: Path) -> None:
    bank = Bank.open(db_path)
    story = add(bank, "Cache")
    review_id = _pending_review(bank, story.id or 0, _dead_owner())
    call_id = bank.start_call(review_id, "gpt-4.1-mini")
    bank.close()
    Bank.open(db_path).close()
    assert rows(db_path, "SELECT llm_status, owner FROM reviews") == [
        {"llm_status": "interrupted", "owner": None}
    ]
    assert rows(db_path, f"SELECT status FROM llm_calls WHERE id = {call_id}") == [
        {"status": "interrupted"}
    ]


# -- every request is recorded before it is sent ------------------------------------------------


def test_each_request_is_a_pending_row_before_it_is_sent(
    invoke: Callable, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import storycoach.coach.client

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-SECRET123456")
    monkeypatch.setenv("OPENAI_BASE_URL", "https://llm.test/v1")
    monkeypatch.setenv("STORYCOACH_MAX_RETRIES", "1")
    monkeypatch.setattr(storycoach.coach.client, "BACKOFF_BASE", 0.0)
    seen: list[list[dict[str, Any]]] = []
    attempts = iter([500, 200])

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(rows(db_path, "SELECT id, status FROM llm_calls ORDER BY id"))
        if next(attempts) == 500:
            return httpx.Response(500, json={"error": {"message": "boom"}})
        return completion(fake_server.review_answer(json.loads(request.content)))

    draft = tmp_path / "draft.md"
    draft.write_text(DRAFT, encoding="utf-8")
    with respx.mock() as mock:
        mock.post("https://llm.test/v1/chat/completions").mock(side_effect=reply)
        result = invoke("review", "--json", draft)
    assert result.exit_code in (0, 1), result.stderr
    # while each request was in flight, its row was already there, pending
    assert seen == [
        [{"id": 1, "status": "pending"}],
        [{"id": 1, "status": "retry"}, {"id": 2, "status": "pending"}],
    ]
    calls = rows(db_path, "SELECT status, tokens_in, cost_usd FROM llm_calls ORDER BY id")
    assert calls[0]["status"] == "retry" and calls[1]["status"] == "ok"
    assert calls[1]["tokens_in"] == 1200 and calls[1]["cost_usd"] > 0


# -- real processes ------------------------------------------------------------------------------


@pytest.fixture
def slow_server() -> Iterator[Any]:
    with fake_server.FakeOpenAI(delay=60) as server:
        yield server


def _env(db: Path, server: Any, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "STORYCOACH_DB": str(db),
        "OPENAI_BASE_URL": server.base_url,
        "STORYCOACH_MAX_RETRIES": "0",
        **extra,
    }


def _wait_for(predicate: Callable[[], bool], limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.05)


def test_kill_9_mid_request_leaves_a_recorded_call_and_an_interrupted_review(
    db_path: Path, tmp_path: Path, slow_server: Any
) -> None:
    draft = tmp_path / "draft.md"
    draft.write_text(DRAFT, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "storycoach", "review", str(draft)],
        env=_env(db_path, slow_server),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(lambda: len(slow_server.requests) == 1)
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rows(db_path, "SELECT status FROM llm_calls") == [{"status": "pending"}]
    history = subprocess.run(
        [sys.executable, "-m", "storycoach", "history", "--json"],
        env=_env(db_path, slow_server), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert history.returncode == 0, history.stderr
    assert json.loads(history.stdout)[0]["verdict"] == "interrupted"
    assert rows(db_path, "SELECT status FROM llm_calls") == [{"status": "interrupted"}]


# -- doctor --------------------------------------------------------------------------------------


def test_doctor_on_a_sound_bank(db_path: Path, invoke: Callable, json_of: Callable) -> None:
    bank = Bank.open(db_path)
    story = add(bank, "Cache")
    _pending_review(bank, story.id or 0, _dead_owner())
    bank.close()
    report = json_of(invoke("doctor", "--json"))
    assert report["healthy"] is True and report["problems"] == [] and report["fts"] == "ok"
    assert report["recovery"] == []


def _damage(path: Path) -> None:
    """Scribble over the middle of every third page (the header page stays readable)."""
    size = path.stat().st_size
    with path.open("r+b") as handle:
        for page in range(2, size // 4096, 3):
            handle.seek(page * 4096 + 8)
            handle.write(b"\x07" * 64)


def test_doctor_reports_damage_and_writes_stop(
    db_path: Path, invoke: Callable, expect_error: Callable, tmp_path: Path
) -> None:
    bank = Bank.open(db_path)
    for n in range(30):
        add(bank, f"Story {n}", reflection="x" * 500)
    copy = tmp_path / "copy.db"
    bank.backup(copy)
    bank.close()
    _damage(copy)
    result = invoke("--db", copy, "doctor")
    assert result.exit_code == 1
    assert "damaged" in result.stdout and ".recover" in result.stdout and "backup" in result.stdout
    expect_error(
        invoke(
            "--db",
            copy,
            "story",
            "add",
            "--title",
            "t",
            "--situation",
            "s",
            "--task",
            "t",
            "--action",
            "a",
            "--result",
            "r",
        ),
        "failed its integrity check",
        "doctor",
    )


def test_doctor_rebuilds_a_damaged_full_text_index(
    db_path: Path, invoke: Callable, json_of: Callable
) -> None:
    bank = Bank.open(db_path)
    add(bank, "Dissent on the cache")
    # index entries for a row the stories table does not have: the index disagrees with it
    bank.db.execute("INSERT INTO stories_fts (rowid, title) VALUES (999, 'ghost dissent')")
    bank.db.conn.commit()
    bank.close()
    report = json_of(invoke("doctor", "--json"))
    assert report["fts"].startswith("damaged") and "rebuilt" in report["fts"]
    assert json_of(invoke("doctor", "--json"))["fts"] == "ok"


def test_sigint_during_review_all_stops_spending_and_records_everything(
    db_path: Path, slow_server: Any
) -> None:
    """Ctrl-C while requests hang: exit 130 long before the server would answer, every
    request the server saw is a row, queued drafts are never sent, nothing stays pending and
    no unfinished review reads as a pass."""
    bank = Bank.open(db_path)
    for n in range(8):  # different text: identical drafts would share one request
        add(bank, f"Story {n}", situation=f"In March 2024 checkout p99 was {900 + n} ms at Acme.")
    bank.close()
    proc = subprocess.Popen(
        [sys.executable, "-m", "storycoach", "review", "--all"],
        env=_env(db_path, slow_server, STORYCOACH_CONCURRENCY="2", STORYCOACH_MAX_RETRIES="3"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: len(slow_server.requests) == 2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)  # the server would take 60 s per request
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert out.count("Keeper Test:") == 8  # the offline review of every draft is shown
    assert len(slow_server.requests) == 2  # queued drafts were never sent
    calls = rows(db_path, "SELECT status FROM llm_calls")
    assert [c["status"] for c in calls] == ["interrupted", "interrupted"]
    reviews = rows(db_path, "SELECT llm_status FROM reviews")
    assert {r["llm_status"] for r in reviews} == {"interrupted"}
    history = subprocess.run(
        [sys.executable, "-m", "storycoach", "history", "--json"],
        env=_env(db_path, slow_server), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert {h["verdict"] for h in json.loads(history.stdout)} == {"interrupted"}


def test_a_hung_server_costs_at_most_the_deadline(
    db_path: Path, tmp_path: Path, slow_server: Any
) -> None:
    """The offline review prints first; the model part gives up at STORYCOACH_DEADLINE,
    retries included, with exit 3 and the offline review standing."""
    draft = tmp_path / "draft.md"
    draft.write_text(DRAFT, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "storycoach", "review", str(draft)],
        env=_env(db_path, slow_server, STORYCOACH_DEADLINE="2", STORYCOACH_MAX_RETRIES="5"),
        capture_output=True, text=True, timeout=50,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert "deadline" in result.stderr and "STORYCOACH_DEADLINE" in result.stderr
    assert result.stdout.index("model review follows") < result.stdout.index("Keeper Test:")
    calls = rows(db_path, "SELECT status FROM llm_calls")
    assert calls and all(c["status"] != "pending" for c in calls)
