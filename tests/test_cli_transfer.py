"""`storycoach export` and `storycoach import`: the bank as one JSON file, all or nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def filled(invoke: Callable, story_args: Callable) -> None:
    """A bank with a user question, linked stories, a retired one and a deleted one (id gap)."""
    steps = [
        ["questions", "add", "--id", "led-migration", "--text", "Tell me about a migration"],
        [
            "story",
            "add",
            *story_args(when="2024-03", reflection="Docs first now."),
            "--person",
            "Priya Raman (staff engineer)",
            "--metric",
            "p99 900 -> 300 ms",
            "--tag",
            "latency",
            "--level",
            "E5",
            "-q",
            "dissented-from-decision",
            "-q",
            "led-migration",
            "-m",
            "farming-for-dissent",
        ],
        ["story", "add", *story_args(title="Retired one"), "-m", "keeper-test"],
        ["story", "edit", "2", "--retire"],
        ["story", "add", *story_args(title="Plain one", when="2023-01-15")],
    ]
    for args in steps:
        result = invoke(*args)
        assert result.exit_code == 0, (args, result.stderr)


def test_export_to_stdout_is_json_version_1(
    invoke: Callable, filled: None, json_of: Callable
) -> None:
    data = json_of(invoke("export"))
    assert data["version"] == 1
    assert [s["title"] for s in data["stories"]][1:] == ["Retired one", "Plain one"]
    first = data["stories"][0]
    assert first["questions"] == ["dissented-from-decision", "led-migration"]
    assert first["markers"] == ["farming-for-dissent"]
    assert first["people"] == [{"name": "Priya Raman", "role": "staff engineer"}]
    assert data["stories"][1]["retired"] is True
    assert [q["id"] for q in data["questions"]] == ["led-migration"]
    assert "verdict" not in first


def test_export_import_export_roundtrip(
    invoke: Callable, filled: None, tmp_path: Path, json_of: Callable
) -> None:
    out = tmp_path / "bank.json"
    result = invoke("export", out)
    assert result.exit_code == 0, result.stderr
    assert "Exported 3 stories" in result.stdout
    exported = json.loads(out.read_text(encoding="utf-8"))

    fresh = tmp_path / "fresh.db"
    imported = invoke("--db", fresh, "import", out, "--json")
    counts = json_of(imported)
    assert (counts["stories"], counts["questions"], counts["conflicts"]) == (3, 1, [])
    again = tmp_path / "again.json"
    assert invoke("--db", fresh, "export", again).exit_code == 0
    assert json.loads(again.read_text(encoding="utf-8")) == exported
    assert again.read_text(encoding="utf-8") == out.read_text(encoding="utf-8")

    # the links are real links in the new bank, not just text in the file
    linked = json_of(invoke("--db", fresh, "story", "list", "-q", "led-migration", "--json"))
    assert [s["title"] for s in linked] == [exported["stories"][0]["title"]]
    mine = json_of(invoke("--db", fresh, "questions", "show", "led-migration", "--json"))
    assert mine["source"] == "user"


def test_roundtrip_after_a_delete_keeps_stories_and_links(
    invoke: Callable, filled: None, tmp_path: Path, json_of: Callable
) -> None:
    assert invoke("story", "rm", "1", "--yes").exit_code == 0
    exported = json_of(invoke("export"))
    assert [s["id"] for s in exported["stories"]] == [2, 3]
    fresh = tmp_path / "fresh.db"
    assert invoke("--db", fresh, "import", "-", input=json.dumps(exported)).exit_code == 0
    again = json_of(invoke("--db", fresh, "export"))

    def without_ids(data: dict) -> list[dict]:
        return [{k: v for k, v in s.items() if k != "id"} for s in data["stories"]]

    assert without_ids(again) == without_ids(exported)
    assert again["questions"] == exported["questions"]


def test_import_human_output(invoke: Callable, filled: None, tmp_path: Path) -> None:
    out = tmp_path / "bank.json"
    invoke("export", out)
    result = invoke("--db", tmp_path / "fresh.db", "import", out)
    assert result.exit_code == 0, result.stderr
    assert "Imported 3 stories and 1 question\n" in result.stdout


BAD_FILES = {
    "invalid JSON": ('{"version": 1, "stories": [', "is not valid JSON (line 1)"),
    "empty file": ("", "is not valid JSON"),
    "JSON list": ("[]", '"version": 1'),
    "wrong version": ('{"version": 2, "stories": []}', '"version": 1'),
    "story missing result": (
        json.dumps(
            {
                "version": 1,
                "stories": [{"title": "t", "situation": "s", "task": "t", "action": "a"}],
            }
        ),
        "stories[0].result",
    ),
    "link to an unknown question": (
        json.dumps(
            {
                "version": 1,
                "stories": [
                    {
                        "title": "t",
                        "situation": "s",
                        "task": "t",
                        "action": "a",
                        "result": "r",
                        "questions": ["dissented-from-decison"],
                    }
                ],
            }
        ),
        "dissented-from-decision",
    ),
    "binary": (b"\x00\x01\x02", "binary"),
    "not UTF-8": (b'{"version": 1, "stories": [{"title": "caf\xe9"}]}', "not UTF-8"),
}


@pytest.mark.parametrize(("content", "fragment"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_import_changes_nothing(
    invoke: Callable,
    filled: None,
    expect_error: Callable,
    db_counts: Callable,
    tmp_path: Path,
    content: str | bytes,
    fragment: str,
) -> None:
    path = tmp_path / "import.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    before = db_counts()
    expect_error(invoke("import", path), fragment)
    assert db_counts() == before


def test_bad_import_into_a_fresh_bank_adds_nothing(
    invoke: Callable, expect_error: Callable, db_counts: Callable, tmp_path: Path
) -> None:
    fresh = tmp_path / "fresh.db"
    good = {"title": "ok", "situation": "s", "task": "t", "action": "a", "result": "r"}
    data = {"version": 1, "stories": [good, {**good, "markers": ["no-such-marker"]}]}
    result = invoke("--db", fresh, "import", "-", input=json.dumps(data))
    expect_error(result, "unknown marker 'no-such-marker'")
    assert db_counts(fresh)["stories"] == 0


def test_import_missing_file(invoke: Callable, expect_error: Callable, tmp_path: Path) -> None:
    expect_error(invoke("import", tmp_path / "nope.json"), "no such file")


def test_export_to_an_unwritable_place(
    invoke: Callable, filled: None, expect_error: Callable, tmp_path: Path
) -> None:
    expect_error(invoke("export", tmp_path / "no-such-dir" / "out.json"), "cannot write")
