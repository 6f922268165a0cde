"""`storycoach history`: the stored reviews, newest first, as JSON or a table (offline).

The model columns (usage, cost, cached, failed) are covered with a stubbed model in
`test_review_cli.py`.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

DRAFTS = Path(__file__).resolve().parents[1] / "demo" / "drafts"
WEAK = (DRAFTS / "weak.md").read_text(encoding="utf-8")
STRONG = (DRAFTS / "strong.md").read_text(encoding="utf-8")
DISSENT = "dissented-from-decision"
FEEDBACK = "received-critical-feedback"
PLAIN = "We worked on it as a team and it went well.\n"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # short relative paths in the output


@pytest.fixture
def reviewed(invoke: Any) -> list[dict[str, Any]]:
    """Three stored reviews, oldest first: weak.md, strong.md at E6, stdin for FEEDBACK."""
    Path("weak.md").write_text(WEAK, encoding="utf-8")
    Path("strong.md").write_text(STRONG, encoding="utf-8")
    out = []
    for args, stdin in (
        (["weak.md"], None),
        (["strong.md", "--level", "E6"], None),
        (["-", "--question", FEEDBACK], PLAIN),
    ):
        result = invoke("review", "--json", *args, input=stdin)
        assert result.exit_code in (0, 1), result.output
        out.append(json.loads(result.stdout))
    return out


def counts(review: dict[str, Any]) -> tuple[int, int]:
    severities = [f["severity"] for f in review["findings"]]
    return severities.count("error"), severities.count("warning")


def test_empty_history(invoke: Any, json_of: Any) -> None:
    assert json_of(invoke("history", "--json")) == []
    result = invoke("history")
    assert result.exit_code == 0
    assert "No reviews yet" in result.stdout


def test_json_lists_every_review_newest_first(
    invoke: Any, json_of: Any, reviewed: list[dict[str, Any]]
) -> None:
    rows = json_of(invoke("history", "--json"))
    newest_first = list(reversed(reviewed))

    assert [r["id"] for r in rows] == [r["review_id"] for r in newest_first]
    assert [r["path"] for r in rows] == ["-", "strong.md", "weak.md"]
    assert [r["question"] for r in rows] == [FEEDBACK, DISSENT, DISSENT]
    assert [r["level"] for r in rows] == [None, "E6", None]
    assert [r["verdict"] for r in rows] == [r["verdict"] for r in newest_first]
    assert [r["verdict"] for r in rows] == ["fail", "pass", "fail"]
    for row, review in zip(rows, newest_first, strict=True):
        assert (row["errors"], row["warnings"]) == counts(review)
        assert row["rules"] == sorted({f["rule"] for f in review["findings"]})
        assert row["llm_status"] == "skipped" and row["calls"] == []
        assert row["tokens_in"] == 0 and row["cost_usd"] is None
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", row["created"])
    assert rows[2]["errors"] >= 4  # the four core rules on the weak draft
    assert rows[1]["errors"] == 0
    assert rows[2]["draft_hash"] == hashlib.sha256(WEAK.encode()).hexdigest()
    assert rows[0]["draft_hash"] == hashlib.sha256(PLAIN.encode()).hexdigest()


def test_filter_by_question_story_and_limit(
    invoke: Any, json_of: Any, reviewed: list[dict[str, Any]], bank: Any
) -> None:
    dissent = json_of(invoke("history", "--json", "--question", DISSENT))
    assert [r["path"] for r in dissent] == ["strong.md", "weak.md"]
    feedback = json_of(invoke("history", "--json", "-q", FEEDBACK))
    assert [r["path"] for r in feedback] == ["-"]
    assert json_of(invoke("history", "--json", "--question", "lead-with-context")) == []

    from storycoach.models import Story

    story = bank.add_story(
        Story(title="T", situation="S in May 2024.", task="T", action="A", result="R")
    )
    assert invoke("review", "--story", str(story.id)).exit_code in (0, 1)
    by_story = json_of(invoke("history", "--json", "--story", str(story.id)))
    assert [(r["path"], r["story_id"]) for r in by_story] == [(f"story #{story.id}", story.id)]

    latest = json_of(invoke("history", "--json", "--limit", "1"))
    assert [r["story_id"] for r in latest] == [story.id]


def test_unknown_question_is_an_input_error(invoke: Any, expect_error: Any) -> None:
    expect_error(invoke("history", "--question", "dissented-from-decisoin"), DISSENT)


def test_table_has_a_row_per_review(invoke: Any, reviewed: list[dict[str, Any]]) -> None:
    result = invoke("history")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:3] == ["id", "when", "input"])
    assert lines[header].split() == [
        "id", "when", "input", "question", "level", "verdict", "errors", "warnings", "model",
    ]  # fmt: skip
    body = [line.split() for line in lines[header + 1 :] if line.strip()]
    newest_first = list(reversed(reviewed))
    assert [row[0] for row in body] == [str(r["review_id"]) for r in newest_first]
    for row, review in zip(body, newest_first, strict=True):
        errors, warnings = counts(review)
        assert row[-4:] == [review["verdict"], str(errors), str(warnings), "offline"]
        assert review["path"] in row and (review["question"] or "") in " ".join(row)
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", row[1]) and re.fullmatch(r"\d\d:\d\d", row[2])
    assert "E6" in body[1]
