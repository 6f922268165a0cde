"""Export is lossless, import is idempotent, conflicts are listed, backup is a real copy."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import add

from storycoach.bank import Bank
from storycoach.errors import StorycoachError
from storycoach.models import CallRecord, Finding, Question, ReviewResult


def _filled(path: Path) -> Bank:
    """A bank with every kind of row: stories (one deleted, so ids have a gap), links, a user
    question, reviews with model calls (tokens, cost), an offline review and a link run."""
    bank = Bank.open(path)
    bank.add_question(
        Question(
            id="led-migration", text="Tell me about a migration you led", markers=["keeper-test"]
        )
    )
    first = add(bank, "Doomed")
    kept = add(bank, "Kept", "led-migration", tags=["sre"])
    add(bank, "Other", markers=["keeper-test"])
    bank.remove_story(first.id or 0)
    finding = Finding(rule="missing-dates", severity="error", message="No date", line=3, column=1)
    result = ReviewResult(
        path="story #2", question="led-migration", level="E5", verdict="fail",
        findings=[finding], llm_status="ok", story_id=kept.id,
    )  # fmt: skip
    review_id = bank.add_review(result, "## Situation\nDraft text", cache_key="k1")
    bank.record_llm_call(
        review_id, CallRecord(model="gpt-4.1-mini", status="retry", error="HTTP 500")
    )
    bank.record_llm_call(
        review_id,
        CallRecord(model="gpt-4.1-mini", status="ok", tokens_in=1200, tokens_out=300,
                   latency_ms=900, cost_usd=0.00096),
    )  # fmt: skip
    offline = result.model_copy(update={"llm_status": "skipped", "findings": [], "verdict": "pass"})
    bank.add_review(offline, "Another draft")
    run = bank.start_suggestions("key-1", model="gpt-4.1-mini")
    bank.finish_suggestions(
        run,
        [{"question": "led-migration", "story": kept.id, "reason": "it fits"}],
        calls=[CallRecord(model="gpt-4.1-mini", status="ok", tokens_in=10, tokens_out=5,
                          latency_ms=3, cost_usd=0.0001)],
    )  # fmt: skip
    return bank


def _tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (FTS shadow tables through their content; the migration log
    without its timestamps)."""
    conn = sqlite3.connect(path)
    try:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "AND name NOT LIKE '%_fts_%' ORDER BY name"
            )
        ]
        out = {}
        for name in names:
            if name == "_sqlite_migrations":
                rows = conn.execute(
                    "SELECT migration_set, name FROM _sqlite_migrations ORDER BY id"
                )
            elif name.endswith("_fts"):
                rows = conn.execute(f'SELECT rowid, * FROM "{name}" ORDER BY rowid')
            else:
                rows = conn.execute(f'SELECT * FROM "{name}" ORDER BY rowid')
            out[name] = [tuple(r) for r in rows]
        return out
    finally:
        conn.close()


def test_export_import_into_an_empty_bank_reproduces_every_table(tmp_path: Path) -> None:
    source = _filled(tmp_path / "source.db")
    exported = source.export_data()
    source.close()
    assert [len(exported[k]) for k in ("stories", "questions", "reviews", "link_suggestions")] == [
        2, 1, 2, 1,
    ]  # fmt: skip
    assert exported["reviews"][0]["calls"][1]["cost_usd"] == 0.00096
    assert exported["reviews"][0]["story_uid"] == exported["stories"][0]["uid"]

    target = Bank.open(tmp_path / "target.db")
    report = target.import_data(json.loads(json.dumps(exported)))
    assert (report.stories, report.questions, report.reviews, report.link_suggestions) == (
        2,
        1,
        2,
        1,
    )
    again = target.export_data()
    target.close()
    assert json.dumps(again, sort_keys=False) == json.dumps(exported, sort_keys=False)
    assert _tables(tmp_path / "target.db") == _tables(tmp_path / "source.db")


def test_the_cli_round_trip_gives_identical_files(
    invoke: Callable, tmp_path: Path, db_path: Path
) -> None:
    _filled(db_path).close()
    first, second = tmp_path / "1.json", tmp_path / "2.json"
    assert invoke("export", first).exit_code == 0
    fresh = tmp_path / "fresh.db"
    assert invoke("--db", fresh, "import", first).exit_code == 0
    assert invoke("--db", fresh, "export", second).exit_code == 0
    assert first.read_bytes() == second.read_bytes()


def test_import_twice_is_import_once(bank: Bank, tmp_path: Path) -> None:
    source = _filled(tmp_path / "source.db")
    exported = source.export_data()
    source.close()
    bank.import_data(exported)
    once = _tables(bank.path)
    report = bank.import_data(exported)
    assert (report.stories, report.questions, report.reviews, report.link_suggestions) == (0,) * 4
    assert report.unchanged == 6 and report.conflicts == []
    assert _tables(bank.path) == once


def test_an_old_export_without_uids_imports_once(bank: Bank) -> None:
    """Files from before `uid` existed: the uid is derived from the story, so a second import
    still finds the stories it added the first time."""
    old = {
        "version": 1,
        "stories": [
            {"title": "A", "situation": "s", "task": "t", "action": "a", "result": "r"},
            {"title": "B", "situation": "s", "task": "t", "action": "a", "result": "r"},
        ],
    }
    assert bank.import_data(old).stories == 2
    report = bank.import_data(old)
    assert (report.stories, report.unchanged) == (0, 2)
    assert sorted(s.title for s in bank.stories()) == ["A", "B"]


def test_the_migration_gives_existing_stories_the_uid_an_old_export_derives(
    tmp_path: Path,
) -> None:
    """A bank made before m004 and an export made from it then still match after upgrading."""
    path = tmp_path / "old.db"
    bank = Bank.open(path)
    add(bank, "Before uids", tags=["x"])
    old_export = bank.export_data()
    for story in old_export["stories"]:
        del story["uid"]
    conn = bank.db.conn
    conn.execute("UPDATE stories SET uid = NULL")
    conn.commit()
    from storycoach.bank import m004_stable_ids  # re-derive as the migration would

    conn.execute("DROP INDEX idx_stories_uid")
    conn.execute("DROP INDEX idx_reviews_uid")
    conn.execute("DROP INDEX idx_link_suggestions_uid")
    for table in ("stories", "reviews", "link_suggestions"):
        conn.execute(f"ALTER TABLE {table} DROP COLUMN uid")
    conn.commit()
    m004_stable_ids(bank.db)
    conn.commit()
    report = bank.import_data(old_export)
    assert (report.stories, report.unchanged) == (0, 1)
    bank.close()


@pytest.fixture
def exported(bank: Bank) -> dict[str, Any]:
    bank.add_question(Question(id="led-migration", text="Tell me about a migration you led"))
    add(bank, "Original")
    return bank.export_data()


def test_a_changed_story_is_a_listed_conflict_skipped_by_default(
    bank: Bank, exported: dict[str, Any]
) -> None:
    exported["stories"][0]["title"] = "Edited elsewhere"
    report = bank.import_data(exported)
    assert [(c.kind, c.title, c.action) for c in report.conflicts] == [
        ("story", "Edited elsewhere", "skipped")
    ]
    assert [s.title for s in bank.stories()] == ["Original"]


def test_on_conflict_replace_and_copy(bank: Bank, exported: dict[str, Any]) -> None:
    exported["stories"][0]["title"] = "Edited elsewhere"
    assert bank.import_data(exported, on_conflict="replace").replaced == 1
    stories = bank.stories()
    assert [(s.id, s.title) for s in stories] == [(1, "Edited elsewhere")]
    exported["stories"][0]["title"] = "Third version"
    report = bank.import_data(exported, on_conflict="copy")
    assert report.conflicts[0].action == "copied" and report.stories == 1
    after = bank.stories()
    assert [s.title for s in after] == ["Edited elsewhere", "Third version"]
    assert after[0].uid != after[1].uid


def test_a_question_whose_id_exists_with_other_text_is_reported(
    bank: Bank, exported: dict[str, Any]
) -> None:
    exported["questions"][0]["text"] = "Another wording"
    report = bank.import_data(exported)
    assert [(c.kind, c.key, c.action) for c in report.conflicts] == [
        ("question", "led-migration", "skipped")
    ]
    assert bank.question("led-migration").text == "Tell me about a migration you led"
    assert bank.import_data(exported, on_conflict="replace").replaced == 1
    assert bank.question("led-migration").text == "Another wording"


def test_a_seed_question_id_in_the_file_is_reported_not_silently_skipped(bank: Bank) -> None:
    data = {
        "version": 1,
        "questions": [{"id": "dissented-from-decision", "text": "My own wording"}],
    }
    report = bank.import_data(data)
    assert [(c.key, c.action) for c in report.conflicts] == [("dissented-from-decision", "skipped")]


def test_duplicates_inside_one_file(bank: Bank, exported: dict[str, Any]) -> None:
    """An exact repeat counts once; two different records with one id are an error."""
    fresh_data = json.loads(json.dumps(exported))
    bank.remove_story(1)
    fresh_data["stories"].append(dict(fresh_data["stories"][0]))
    fresh_data["questions"].append(dict(fresh_data["questions"][0]))
    report = bank.import_data(fresh_data)
    assert (report.stories, report.questions, report.unchanged) == (1, 0, 1)
    assert len(bank.stories()) == 1
    fresh_data["stories"][1]["title"] = "Different"
    with pytest.raises(StorycoachError, match="two different stories"):
        bank.import_data(fresh_data)


HOSTILE = {
    "deep nesting": '{"version": 1, "stories": ' + "[" * 100_000 + "]" * 100_000 + "}",
    "huge integer": '{"version": 1, "stories": [{"id": ' + "9" * 5000 + "}]}",
    "wrong shape": '{"version": 1, "stories": {"title": "x"}}',
    "review of the wrong shape": '{"version": 1, "reviews": [{"uid": 5}]}',
    "NUL in a field": json.dumps(
        {
            "version": 1,
            "stories": [
                {"title": "a\x00b", "situation": "s", "task": "t", "action": "a", "result": "r"}
            ],
        }
    ),
    "story over the size limit": json.dumps(
        {
            "version": 1,
            "stories": [
                {"title": "t", "situation": "s" * 70_000, "task": "t", "action": "a", "result": "r"}
            ],
        }
    ),
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_malformed_import_is_one_error_line(
    text: str, invoke: Callable, expect_error: Callable, db_counts: Callable, tmp_path: Path
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    before = db_counts()
    expect_error(invoke("import", path))
    assert db_counts() == before


def test_import_lists_conflicts_on_the_command_line(
    invoke: Callable, bank: Bank, exported: dict[str, Any], tmp_path: Path
) -> None:
    exported["stories"][0]["title"] = "[bold]Edited[/]"
    path = tmp_path / "e.json"
    path.write_text(json.dumps(exported), encoding="utf-8")
    result = invoke("import", path)
    assert result.exit_code == 0, result.stderr
    assert "conflict: story" in result.stdout and "[bold]Edited[/]" in result.stdout
    assert "--on-conflict replace" in result.stdout
    bad = invoke("import", path, "--on-conflict", "merge")
    assert bad.exit_code == 2


def test_backup_is_a_consistent_copy_of_a_live_bank(
    invoke: Callable, db_path: Path, tmp_path: Path
) -> None:
    _filled(db_path).close()
    writer = sqlite3.connect(db_path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process mid-write: its rows must not appear
    writer.execute("INSERT INTO meta (key, value) VALUES ('uncommitted', 'x')")
    try:
        copy = tmp_path / "copy.db"
        result = invoke("backup", copy)
        assert result.exit_code == 0, result.stderr
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert _tables(copy) == _tables(db_path)
    assert invoke("--db", copy, "story", "list").exit_code == 0
    assert invoke("backup", copy).exit_code == 2  # no silent overwrite
    assert invoke("backup", copy, "--force").exit_code == 0
