"""Ids the user types next are never cut, at any terminal width (issue #12).

Each table is rendered at 60, 80 and 120 columns; every id it shows (question ids, marker
slugs, rubric ids, story ids, dates) must appear whole on one line of the output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from helpers import add
from typer.testing import Result

from storycoach.cli.table import ID, IDS, TEXT, Col, column_widths

WIDTHS = (60, 80, 120)


def _lines(result: Result) -> list[str]:
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def _assert_whole(lines: list[str], ids: list[str], width: int) -> None:
    assert ids, "nothing to look for"
    for line in lines:
        assert len(line.rstrip()) <= width, f"line wider than {width}: {line!r}"
    for value in ids:
        assert any(value in line for line in lines), f"{value!r} cut at {width} columns"


@pytest.mark.parametrize("width", WIDTHS)
def test_questions_list_keeps_ids_and_slugs_whole(
    invoke: Callable[..., Result], bank: Any, width: int
) -> None:
    questions = bank.questions()
    ids = [q.id for q in questions] + sorted({m for q in questions for m in q.markers})
    lines = _lines(invoke("questions", "list", env={"COLUMNS": str(width)}))
    _assert_whole(lines, ids, width)


@pytest.mark.parametrize("width", WIDTHS)
def test_markers_keeps_slugs_whole(invoke: Callable[..., Result], bank: Any, width: int) -> None:
    lines = _lines(invoke("markers", env={"COLUMNS": str(width)}))
    _assert_whole(lines, bank.marker_slugs(), width)


@pytest.mark.parametrize("width", WIDTHS)
def test_rubrics_list_keeps_ids_whole(invoke: Callable[..., Result], width: int) -> None:
    from storycoach.rubric import load_criteria

    criteria = load_criteria()
    ids = [c.id for c in criteria] + sorted({t for c in criteria for t in c.themes})
    lines = _lines(invoke("rubrics", "list", env={"COLUMNS": str(width)}))
    _assert_whole(lines, ids, width)


@pytest.mark.parametrize("width", WIDTHS)
def test_story_list_keeps_ids_and_dates_whole(
    invoke: Callable[..., Result], bank: Any, width: int
) -> None:
    longest = sorted(bank.question_ids(), key=len)[-3:]
    slugs = bank.marker_slugs()[:3]
    title = "A long title that has to wrap somewhere in a narrow terminal " * 2
    stories = [add(bank, title, *longest, markers=slugs), add(bank, "Short", longest[0])]
    lines = _lines(invoke("story", "list", env={"COLUMNS": str(width)}))
    dates = [s.when for s in stories if s.when]
    _assert_whole(lines, [*longest, *slugs, *dates], width)
    assert any(line.lstrip().lstrip("#").startswith(str(stories[1].id)) for line in lines)


@pytest.mark.parametrize("width", WIDTHS)
def test_config_keeps_setting_names_whole(invoke: Callable[..., Result], width: int) -> None:
    from storycoach.settings import load_settings

    names = [row["name"] for row in load_settings().describe()]
    lines = _lines(invoke("config", env={"COLUMNS": str(width)}))
    _assert_whole(lines, names, width)


def test_widths_give_ids_their_room_and_share_the_rest() -> None:
    columns = [Col("id", ID), Col("text", TEXT), Col("ids", IDS)]
    # Fits as is: rich lays it out.
    assert column_widths(columns, [10, 20, 10], [10, 12, 5], 60) is None
    # Too wide: the id keeps 30, the others share 60 - 30 - 4 gaps = 26, never below floors.
    widths = column_widths(columns, [30, 80, 40], [30, 12, 10], 60)
    assert widths is not None
    assert widths[0] == 30
    assert sum(widths) == 56
    assert widths[1] >= 12 and widths[2] >= 10


@pytest.mark.parametrize("width", WIDTHS)
def test_history_keeps_question_ids_and_dates_whole(
    invoke: Callable[..., Result], bank: Any, width: int
) -> None:
    longest = sorted(bank.question_ids(), key=len)[-1]
    story = add(bank, "Long one", longest)
    assert invoke("review", "--story", str(story.id), "--offline").exit_code in (0, 1)
    [row] = bank.reviews()
    stamp = row["created"].replace("T", " ")[:16]
    lines = _lines(invoke("history", env={"COLUMNS": str(width)}))
    _assert_whole(lines, [longest, stamp], width)
