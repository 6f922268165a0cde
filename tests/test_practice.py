"""`storycoach practice`: the weakest question, the answer from stdin, a stored attempt.

Offline throughout: the review is the deterministic rubric engine, so verdicts are stable.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import recent
from typer.testing import CliRunner

from storycoach.cli import app
from storycoach.models import Question, Story

STRONG = """\
## Situation

In March 2024 our checkout p99 was 900 ms on the payments team at Acme, and I had shipped the
config change that took checkout down for 40 minutes on 12 March 2024.

## Task

I owned the rollback and the post-mortem, reporting to Dana Whitfield.

## Action

I rolled back within 6 minutes, told Dana and the on-call channel what broke, and ran the
blameless post-mortem with Priya Raman: three contributing factors, five action items with
owners. I decided to add a canary stage for config pushes.

## Result

Config incidents fell from 4 a quarter to 0 in the next two quarters.
"""

VAGUE = "We worked on it together as a team and things got a lot better after a while.\n"


@pytest.fixture
def practise(runner: CliRunner):
    def _run(*args: str, input: str | None = None):
        return runner.invoke(app, ["practice", "--offline", *args], input=input)

    return _run


@pytest.fixture
def mine(bank: Any) -> str:
    """A user question: user questions come first in bank order, so it is the first gap."""
    bank.add_question(
        Question(
            id="led-a-migration",
            text="Tell me about a time you led a migration",
            levels=["E5"],
            probes=["Name what you decided", "Give the before and after numbers"],
        )
    )
    return "led-a-migration"


def cover(bank: Any, question_id: str) -> None:
    for title in ("First", "Second"):
        bank.add_story(
            Story(
                title=title,
                situation="s",
                task="t",
                action="a",
                result="r",
                when=recent(),
                questions=[question_id],
            )
        )


def test_picks_the_weakest_question_and_stores_the_attempt(practise, bank, mine):
    result = practise(input=STRONG)
    assert result.exit_code in (0, 1), result.output
    assert f"Practice {mine} (gap)" in result.stdout
    assert "Tell me about a time you led a migration" in result.stdout
    assert "Name what you decided" in result.stdout
    assert "E5 (Senior)" in result.stdout  # the level band the question is asked at
    stored = bank.reviews(question=mine)
    assert len(stored) == 1
    assert stored[0]["question_id"] == mine
    assert stored[0]["story_id"] is None
    assert stored[0]["draft"].strip() == STRONG.strip()
    assert f"Saved attempt #{stored[0]['id']} for {mine}" in result.stdout


def test_covered_question_is_not_picked(practise, bank, mine):
    cover(bank, mine)
    result = practise(input=STRONG)
    assert f"Practice {mine}" not in result.stdout
    assert "(gap)" in result.stdout


def test_attempts_rotate_through_equally_weak_questions(practise, bank, mine):
    first = practise(input=STRONG)
    second = practise(input=STRONG)
    assert f"Practice {mine} (gap)" in first.stdout
    assert f"Practice {mine} " not in second.stdout
    assert "(gap)" in second.stdout


def test_given_question_and_level(practise, bank):
    result = practise("--question", "dissented-from-decision", "--level", "e6", input=STRONG)
    assert "Practice dissented-from-decision" in result.stdout
    assert "E6 (Staff)" in result.stdout
    assert "E5 (Senior)" not in result.stdout
    stored = bank.reviews(question="dissented-from-decision")
    assert [r["level"] for r in stored] == ["E6"]


def test_failing_answer_exits_1(practise, bank, json_of):
    result = practise("--question", "received-critical-feedback", "--json", input=VAGUE)
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["verdict"] == "fail"
    assert data["question"] == "received-critical-feedback"
    assert any(f["severity"] == "error" for f in data["findings"])
    assert "Practice received-critical-feedback" in result.stderr  # stdout is JSON only


def test_exit_code_follows_the_verdict(practise):
    result = practise("--question", "production-outage-mistake", "--json", input=STRONG)
    data = json.loads(result.stdout)
    assert result.exit_code == (0 if data["verdict"] == "pass" else 1)
    assert {"path", "question", "level", "verdict", "findings", "llm"} <= set(data)
    assert data["llm"] is None


def test_filters_choose_among_matching_questions(practise, bank):
    result = practise("--role", "Data Scientist", input=STRONG)
    assert result.exit_code in (0, 1), result.output
    picked = result.stdout.split()[1]
    assert "Data Scientist" in bank.question(picked).roles


@pytest.mark.parametrize(
    ("args", "stdin", "fragment"),
    [
        (["--question", "no-such-question"], STRONG, "unknown question"),
        ([], "   \n", "answer was empty"),
        (["--level", "E9"], STRONG, "level must be one of"),
        (["--marker", "nope"], STRONG, "unknown marker"),
    ],
)
def test_input_errors_exit_2_and_store_nothing(practise, bank, args, stdin, fragment):
    result = practise(*args, input=stdin)
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr
    assert bank.reviews() == []


def test_in_a_terminal_the_answer_comes_from_the_editor(practise, bank, mine, monkeypatch):
    import storycoach.cli.coverage as cli

    seen: dict[str, str] = {}

    def fake_edit(text: str) -> str:
        seen["template"] = text
        return text + STRONG

    monkeypatch.setattr(cli, "interactive", lambda: True)
    monkeypatch.setattr(cli, "launch_editor", fake_edit)
    result = practise(input="")
    assert result.exit_code in (0, 1), result.output
    assert "Tell me about a time you led a migration" in seen["template"]
    assert "Name what you decided" in seen["template"]
    draft = bank.reviews(question=mine)[0]["draft"]
    assert draft.strip() == STRONG.strip()  # the comment with the question is removed


def test_editor_closed_without_saving_stores_nothing(practise, bank, mine, monkeypatch):
    import storycoach.cli.coverage as cli

    monkeypatch.setattr(cli, "interactive", lambda: True)
    monkeypatch.setattr(cli, "launch_editor", lambda text: None)
    result = practise()
    assert result.exit_code == 2
    assert "not saved" in result.stderr
    assert bank.reviews() == []
