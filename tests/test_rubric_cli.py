"""`storycoach rubrics list|show`: thin commands over the rubric files."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from storycoach.cli.rubrics import app
from storycoach.errors import NotFoundError
from storycoach.rubric import load_criteria

runner = CliRunner()


def test_list_json_has_every_criterion_with_its_summary() -> None:
    result = runner.invoke(app, ["list", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["id"] for r in rows] == [c.id for c in load_criteria()]
    first = next(r for r in rows if r["id"] == "collaborator-only")
    assert first == {
        "id": "collaborator-only",
        "severity": "error",
        "title": 'Only "we" acts: no first-person decision or action',
        "levels": ["E3", "E4", "E5", "E6", "E7"],
        "themes": [],
    }
    assert next(r for r in rows if r["id"] == "dissent-channel")["themes"] == ["dissent"]


def test_list_table_shows_ids_and_severities() -> None:
    result = runner.invoke(app, ["list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "vague-delta" in result.stdout and "warning" in result.stdout


def test_show_json_has_everything() -> None:
    result = runner.invoke(app, ["show", "vague-delta", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["id"] == "vague-delta"
    assert data["why"]["source"].startswith("Vague “I learned to communicate better”")
    assert {e["verdict"] for e in data["examples"]} == {"bad", "good"}
    assert set(data["anchors"]) == {"1", "3", "5"}
    assert data["path"].endswith("vague-delta.toml")
    assert "measured" in data["params"]


def test_show_renders_why_examples_and_anchors() -> None:
    result = runner.invoke(app, ["show", "collaborator-only"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    for part in ("Why", "Source:", "Bad example", "Good example", "Judge anchors", "E3: warning"):
        assert part in out, part


def test_show_unknown_id_suggests_the_closest() -> None:
    result = runner.invoke(app, ["show", "vague-delt"])
    assert isinstance(result.exception, NotFoundError)
    assert "vague-delta" in str(result.exception)
