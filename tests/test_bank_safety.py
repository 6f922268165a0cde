"""Safe opening and concurrent writers, with real processes where locking is the point.

The full-size runs (20 processes of each kind, model reviews against a loopback server) are
`bench/bench_bank_stress.py`; these are the smaller versions CI runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from storycoach import bank as bank_module
from storycoach.bank import Bank
from storycoach.errors import StorycoachError
from storycoach.models import Story

WRITERS = 10


def run_cli(
    *args: str | os.PathLike[str], db: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`storycoach --db DB ARGS...` as its own process."""
    env = {**os.environ, "STORYCOACH_DB": str(db)}
    return subprocess.run(
        [sys.executable, "-m", "storycoach", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def story_add_args(n: int) -> list[str]:
    return [
        "story", "add", "--title", f"Story {n}",
        "--situation", "In March 2024 checkout p99 was 900 ms at Acme.",
        "--task", "I owned the latency budget.",
        "--action", "I wrote a design doc and showed it to Priya Raman.",
        "--result", "p99 dropped from 900 ms to 300 ms in two weeks.",
    ]  # fmt: skip


def parallel(jobs: list[Callable[[], subprocess.CompletedProcess[str]]]) -> list[Any]:
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(lambda job: job(), jobs))


# -- concurrent writers -------------------------------------------------------------------------


def test_concurrent_first_opens_and_adds_on_a_new_bank_all_succeed(tmp_path: Path) -> None:
    """Every process opens a bank that does not exist yet: migrations and seed are serialised,
    and every `story add` waits its turn instead of failing with "locked"."""
    db = tmp_path / "new.db"
    results = parallel([lambda n=n: run_cli(*story_add_args(n), db=db) for n in range(WRITERS)])
    for r in results:
        assert r.returncode == 0, r.stderr
    conn = sqlite3.connect(db)
    titles = sorted(row[0] for row in conn.execute("SELECT title FROM stories"))
    applied = conn.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0]
    conn.close()
    assert titles == sorted(f"Story {n}" for n in range(WRITERS))
    assert applied == len(bank_module.MIGRATIONS._migrations)


def test_concurrent_offline_reviews_are_all_stored(tmp_path: Path) -> None:
    db = tmp_path / "bank.db"
    Bank.open(db).close()
    draft = tmp_path / "draft.md"
    draft.write_text(
        "## Situation\nIn March 2024 checkout p99 was 900 ms.\n## Action\nI fixed it with Priya.\n"
        "## Result\np99 went from 900 ms to 300 ms.\n",
        encoding="utf-8",
    )
    results = parallel(
        [lambda: run_cli("review", "--offline", "--json", draft, db=db) for _ in range(WRITERS)]
    )
    for r in results:
        assert r.returncode in (0, 1), r.stderr
        assert json.loads(r.stdout)["verdict"] in ("pass", "fail")
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM reviews").fetchone()[0] == WRITERS
    conn.close()


# -- what --db may open -------------------------------------------------------------------------


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def foreign_db(tmp_path: Path) -> Path:
    """Another application's SQLite database (rollback journal, one table, one row)."""
    path = tmp_path / "other-app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("INSERT INTO notes (body) VALUES ('keep me')")
    conn.commit()
    conn.close()
    return path


FOREIGN_COMMANDS = [
    ["story", "list"],
    ["story", "show", "1"],
    ["story", "search", "x"],
    [*story_add_args(1)],
    ["questions", "list"],
    ["markers"],
    ["history"],
    ["coverage"],
    ["export"],
    ["review", "--offline", "--all"],
    ["backup", "copy.db"],
    ["doctor"],
    ["import", "-"],
]


@pytest.mark.parametrize("args", FOREIGN_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_a_foreign_sqlite_file_is_refused_and_left_unchanged(
    args: list[str], foreign_db: Path, invoke: Callable, expect_error: Callable, tmp_path: Path
) -> None:
    before = _digest(foreign_db)
    result = invoke("--db", foreign_db, *args, input='{"version": 1}')
    expect_error(result, "not a storycoach database", "unchanged")
    assert _digest(foreign_db) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("other-app")) == [
        "other-app.db"
    ]


def test_a_foreign_file_is_refused_by_a_real_process(foreign_db: Path) -> None:
    before = _digest(foreign_db)
    result = run_cli("story", "list", db=foreign_db)
    assert result.returncode == 2
    assert result.stderr.startswith("storycoach: error: ")
    assert _digest(foreign_db) == before
    conn = sqlite3.connect(foreign_db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()


def test_an_empty_sqlite_file_becomes_a_bank(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    bank = Bank.open(path)
    assert bank.questions()
    bank.close()


@pytest.mark.parametrize(
    "args", [["story", "list"], ["export"], ["history"], ["questions", "list"]]
)
def test_a_read_command_on_a_missing_bank_says_how_to_create_one(
    args: list[str], invoke: Callable, expect_error: Callable, tmp_path: Path
) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "bank.db"
    expect_error(invoke("--db", missing, *args), "no story bank at", "story add", "import")
    assert not (tmp_path / "no").exists()
    expect_error(invoke("--db", tmp_path / "absent.db", *args), "no story bank at")
    assert not (tmp_path / "absent.db").exists()


def test_a_write_command_does_not_create_directories_for_a_db_path(
    invoke: Callable, expect_error: Callable, tmp_path: Path
) -> None:
    missing = tmp_path / "no" / "such" / "bank.db"
    expect_error(invoke("--db", missing, *story_add_args(1)), "does not exist")
    assert not (tmp_path / "no").exists()


def test_the_default_bank_gets_its_directory(
    invoke: Callable, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("STORYCOACH_DB")
    assert invoke("story", "list").exit_code == 0
    assert (tmp_path / "config" / "storycoach" / "bank.db").is_file()


def test_a_bank_we_may_not_write_opens_read_only_for_reading(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, invoke: Callable, expect_error: Callable
) -> None:
    """Root ignores permissions, so `_writable` is what decides here; the real chmod case is
    `test_read_only_location_really_opens_read_only`."""
    bank = Bank.open(db_path)
    bank.add_story(Story(title="t", situation="s", task="t", action="a", result="r"))
    bank.close()
    monkeypatch.setattr(bank_module, "_writable", lambda path: False)
    before = _digest(db_path)
    assert invoke("story", "list").exit_code == 0
    exported = invoke("export")
    assert exported.exit_code == 0, exported.stderr
    assert json.loads(exported.stdout)["stories"][0]["title"] == "t"
    read_only = Bank.open(db_path, write=False)
    assert read_only.read_only
    with pytest.raises(StorycoachError, match="read-only"):
        read_only.add_story(Story(title="u", situation="s", task="t", action="a", result="r"))
    read_only.close()
    assert _digest(db_path) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_location_really_opens_read_only(
    db_path: Path, invoke: Callable, expect_error: Callable, tmp_path: Path
) -> None:
    Bank.open(db_path).close()
    db_path.chmod(0o444)
    tmp_path.chmod(0o555)
    try:
        assert invoke("export").exit_code == 0
        expect_error(invoke("story", "add", *story_add_args(1)[2:]), "read-only")
    finally:
        tmp_path.chmod(0o755)
        db_path.chmod(0o644)


def test_concurrent_model_reviews_record_every_request(tmp_path: Path) -> None:
    """Each process sends one request to the loopback server: every request the server saw is
    an `llm_calls` row, completed, and every review finished."""
    from fake_openai_server import FakeOpenAI

    db = tmp_path / "bank.db"
    Bank.open(db).close()
    drafts = []
    for n in range(8):
        draft = tmp_path / f"draft-{n}.md"
        draft.write_text(
            f"## Situation\nIn March 2024 checkout p99 was {900 + n} ms.\n## Action\nI fixed it "
            "with Priya Raman.\n## Result\np99 went from 900 ms to 300 ms.\n",
            encoding="utf-8",
        )
        drafts.append(draft)
    with FakeOpenAI(delay=0.2) as server:
        env = {"OPENAI_BASE_URL": server.base_url}

        def job(n: int) -> subprocess.CompletedProcess[str]:
            full = {**os.environ, "STORYCOACH_DB": str(db), **env}
            return subprocess.run(
                [sys.executable, "-m", "storycoach", "review", "--no-cache", str(drafts[n])],
                capture_output=True, text=True, env=full, timeout=120,
            )  # fmt: skip

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(job, range(8)))
        sent = len(server.requests)
    for r in results:
        assert r.returncode in (0, 1), r.stderr
    conn = sqlite3.connect(db)
    statuses = [row[0] for row in conn.execute("SELECT status FROM llm_calls")]
    reviews = [row[0] for row in conn.execute("SELECT llm_status FROM reviews")]
    conn.close()
    assert sent == 8 and statuses == ["ok"] * 8
    assert reviews == ["ok"] * 8
