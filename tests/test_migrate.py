"""The schema, as migrations build it (after simonw/llm `tests/test_migrate.py`)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from storycoach.bank import MIGRATIONS, Bank
from storycoach.models import Story

EXPECTED_SCHEMA = {
    "markers": {"slug": str, "name": str, "meaning": str, "source": str},
    "questions": {
        "id": str,
        "text": str,
        "company": str,
        "roles": str,
        "difficulty": str,
        "tags": str,
        "themes": str,
        "levels": str,
        "probing": str,
        "probes": str,
        "source": str,
    },
    "question_markers": {"question_id": str, "marker_slug": str},
    "stories": {
        "id": int,
        "title": str,
        "situation": str,
        "task": str,
        "action": str,
        "result": str,
        "reflection": str,
        "happened": str,
        "company": str,
        "team": str,
        "people": str,
        "metrics": str,
        "tags": str,
        "level": str,
        "retired": int,
        "created": str,
        "updated": str,
    },
    "story_questions": {"story_id": int, "question_id": str},
    "story_markers": {"story_id": int, "marker_slug": str},
    "stories_fts": {
        "title": str,
        "situation": str,
        "task": str,
        "action": str,
        "result": str,
        "reflection": str,
        "tags": str,
    },
    "reviews": {
        "id": int,
        "created": str,
        "path": str,
        "story_id": int,
        "question_id": str,
        "level": str,
        "draft": str,
        "draft_hash": str,
        "findings": str,
        "verdict": str,
        "llm": str,
        "llm_status": str,
        "cache_key": str,
    },
    "llm_calls": {
        "id": int,
        "review_id": int,
        "created": str,
        "model": str,
        "status": str,
        "error": str,
        "tokens_in": int,
        "tokens_out": int,
        "latency_ms": int,
        "cost_usd": float,
    },
    "meta": {"key": str, "value": str},
    "link_suggestions": {
        "id": int,
        "created": str,
        "cache_key": str,
        "model": str,
        "status": str,
        "proposals": str,
        "error": str,
        "calls": str,
        "tokens_in": int,
        "tokens_out": int,
        "cost_usd": float,
    },
    "mock_sessions": {
        "id": int,
        "created": str,
        "updated": str,
        "question_id": str,
        "level": str,
        "story_id": int,
        "status": str,
        "turns": str,
        "first_verdict": str,
        "verdict": str,
        "debrief": str,
        "improved_draft": str,
        "draft_verdict": str,
        "draft_findings": str,
        "llm": str,
        "llm_status": str,
    },
    "mock_calls": {
        "id": int,
        "session_id": int,
        "created": str,
        "purpose": str,
        "model": str,
        "status": str,
        "error": str,
        "tokens_in": int,
        "tokens_out": int,
        "latency_ms": int,
        "cost_usd": float,
    },
}

EXPECTED_FOREIGN_KEYS = {
    ("question_markers", "question_id", "questions", "id"),
    ("question_markers", "marker_slug", "markers", "slug"),
    ("story_questions", "story_id", "stories", "id"),
    ("story_questions", "question_id", "questions", "id"),
    ("story_markers", "story_id", "stories", "id"),
    ("story_markers", "marker_slug", "markers", "slug"),
    ("llm_calls", "review_id", "reviews", "id"),
    ("mock_calls", "session_id", "mock_sessions", "id"),
}


def _migrated() -> sqlite_utils.Database:
    db = sqlite_utils.Database(memory=True)
    MIGRATIONS.apply(db)
    return db


def _story(**overrides: str) -> Story:
    fields = {
        "title": "Cache rewrite",
        "situation": "The checkout service was slow",
        "task": "Own the latency budget",
        "action": "Profiled the hot path with Priya",
        "result": "p99 fell from 900 ms to 300 ms",
    }
    return Story(**{**fields, **overrides})


def test_migrations_build_the_expected_schema() -> None:
    db = _migrated()
    user_tables = {
        name
        for name in db.table_names()
        if not name.startswith("_sqlite_migrations") and not name.startswith("stories_fts_")
    }
    assert user_tables == set(EXPECTED_SCHEMA)
    for table, columns in EXPECTED_SCHEMA.items():
        assert db[table].columns_dict == columns, table


def test_primary_keys_and_foreign_keys() -> None:
    db = _migrated()
    assert db["stories"].pks == ["id"]
    assert db["questions"].pks == ["id"]
    assert db["markers"].pks == ["slug"]
    assert db["story_questions"].pks == ["story_id", "question_id"]
    assert db["story_markers"].pks == ["story_id", "marker_slug"]
    assert db["question_markers"].pks == ["question_id", "marker_slug"]
    found = {
        (table, fk.column, fk.other_table, fk.other_column)
        for table in EXPECTED_SCHEMA
        for fk in db[table].foreign_keys
    }
    assert found == EXPECTED_FOREIGN_KEYS


def test_migrations_are_recorded_with_conventional_names() -> None:
    db = _migrated()
    names = [m.name for m in MIGRATIONS.applied(db)]
    assert names[0] == "m001_initial"
    assert all(name.startswith("m0") for name in names)
    assert MIGRATIONS.pending(db) == []


def test_migrations_are_idempotent() -> None:
    db = _migrated()
    before = list(db.query("SELECT * FROM _sqlite_migrations"))
    schema = {t: db[t].columns_dict for t in db.table_names()}
    MIGRATIONS.apply(db)
    assert list(db.query("SELECT * FROM _sqlite_migrations")) == before
    assert {t: db[t].columns_dict for t in db.table_names()} == schema


def test_opening_a_bank_twice_applies_nothing_new(db_path: Path) -> None:
    Bank.open(db_path).close()
    conn = sqlite3.connect(db_path)
    first = conn.execute("SELECT name, applied_at FROM _sqlite_migrations ORDER BY id").fetchall()
    conn.close()
    assert first[0][0] == "m001_initial"
    bank = Bank.open(db_path)
    second = bank.db.execute(
        "SELECT name, applied_at FROM _sqlite_migrations ORDER BY id"
    ).fetchall()
    bank.close()
    assert second == first


def test_foreign_keys_are_on(bank: Bank) -> None:
    assert bank.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    story = bank.add_story(_story())
    with pytest.raises(sqlite3.IntegrityError):
        bank.db.execute(
            "INSERT INTO story_questions (story_id, question_id) VALUES (?, ?)",
            [story.id, "no-such-question"],
        )


def test_in_memory_bank_opens_and_seeds() -> None:
    bank = Bank.open(":memory:")
    assert bank.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert "dissented-from-decision" in bank.question_ids()
    bank.close()


def test_file_bank_uses_wal(bank: Bank, db_path: Path) -> None:
    assert bank.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn = sqlite3.connect(db_path)
    try:  # WAL is a property of the file: a fresh connection sees it too
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def _fts_ids(bank: Bank, word: str) -> list[int]:
    return [
        r[0]
        for r in bank.db.execute(
            "SELECT rowid FROM stories_fts WHERE stories_fts MATCH ? ORDER BY rowid", [word]
        ).fetchall()
    ]


def test_fts_table_and_triggers_exist(bank: Bank) -> None:
    assert bank.db["stories"].detect_fts() == "stories_fts"
    triggers = set(bank.db.triggers_dict)
    assert {"stories_ai", "stories_ad", "stories_au"} <= triggers


def test_fts_triggers_keep_the_index_current(bank: Bank) -> None:
    first = bank.add_story(_story(action="Profiled the flamegraph with Priya"))
    second = bank.add_story(_story(title="Other", action="Wrote a runbook", tags=["oncall"]))
    assert _fts_ids(bank, "flamegraph") == [first.id]
    assert _fts_ids(bank, "oncall") == [second.id]  # tags are indexed too

    bank.update_story(first.id, _story(action="Rewrote the tokenizer alone"))
    assert _fts_ids(bank, "flamegraph") == []
    assert _fts_ids(bank, "tokenizer") == [first.id]

    bank.remove_story(first.id)
    assert _fts_ids(bank, "tokenizer") == []
    assert _fts_ids(bank, "runbook") == [second.id]
    # the index agrees with its content table (FTS5 integrity check raises on mismatch)
    bank.db.execute("INSERT INTO stories_fts(stories_fts) VALUES('integrity-check')")


def test_deleting_a_story_cascades_its_links_and_keeps_reviews(bank: Bank) -> None:
    story = bank.add_story(
        _story(questions=["dissented-from-decision"], markers=["farming-for-dissent"])
    )
    bank.db.execute(
        "INSERT INTO reviews (created, story_id, draft, draft_hash, verdict) "
        "VALUES ('2024-03-01', ?, 'x', 'h', 'pass')",
        [story.id],
    )
    bank.db.conn.commit()
    bank.remove_story(story.id)
    assert bank.db["story_questions"].count == 0
    assert bank.db["story_markers"].count == 0
    rows = list(bank.db.query("SELECT story_id FROM reviews"))
    assert rows == [{"story_id": None}]
