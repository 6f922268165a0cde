"""Search stems words and turns its own syntax errors into usage errors; edits make verdicts
stale, and coverage reads a stale verdict as "needs review"."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from helpers import add

from storycoach.bank import Bank
from storycoach.coverage import load_coverage
from storycoach.models import NEEDS_REVIEW, ReviewResult


def test_search_stems_words(bank: Bank, invoke: Callable) -> None:
    add(bank, "Dissented on the cache rewrite", action="I dissented and argued with data.")
    add(bank, "Unrelated", action="I shipped the billing migration.")
    assert [s.title for s in bank.search("dissent")] == ["Dissented on the cache rewrite"]
    assert [s.title for s in bank.search("arguing")] == ["Dissented on the cache rewrite"]
    result = invoke("story", "search", "dissenting")
    assert result.exit_code == 0 and "Dissented on the cache rewrite" in result.stdout


def test_search_syntax_errors_are_usage_errors_with_a_hint(
    bank: Bank, invoke: Callable, expect_error: Callable
) -> None:
    add(bank, "Cache")
    line = expect_error(invoke("story", "search", '"'), "cannot search for", "plain words")
    assert "database" not in line


@pytest.mark.parametrize("query", ['cache "rewrite', "NEAR(", "a AND", "(cache"])
def test_user_punctuation_never_reads_as_a_damaged_bank(
    query: str, bank: Bank, invoke: Callable
) -> None:
    add(bank, "Cache")
    result = invoke("story", "search", query)
    assert result.exit_code in (0, 2)
    assert "database" not in result.stderr and "Traceback" not in result.output


def _review(bank: Bank, story_id: int, verdict: str) -> None:
    bank.add_review(
        ReviewResult(path=f"story #{story_id}", verdict=verdict, findings=[], story_id=story_id),
        "draft",
    )


def test_an_edit_to_the_text_makes_the_latest_verdict_need_review(
    bank: Bank, invoke: Callable, json_of: Callable
) -> None:
    story = add(bank, "Cache", "dissented-from-decision")
    _review(bank, story.id or 0, "fail")
    assert bank.latest_verdicts() == {story.id: "fail"}
    # a link is not an edit to the text
    assert invoke("story", "link", str(story.id), "--marker", "keeper-test").exit_code == 0
    assert bank.latest_verdicts() == {story.id: "fail"}
    assert invoke("story", "edit", str(story.id), "--result", "p99 fell to 300 ms.").exit_code == 0
    assert bank.latest_verdicts() == {story.id: NEEDS_REVIEW}
    assert json_of(invoke("story", "list", "--json"))[0]["verdict"] == NEEDS_REVIEW
    _review(bank, story.id or 0, "pass")  # reviewed again: fresh verdict
    assert bank.latest_verdicts() == {story.id: "pass"}


def test_coverage_reads_a_stale_verdict_as_needs_review(bank: Bank) -> None:
    first = add(bank, "Cache", "dissented-from-decision")
    second = add(bank, "Billing", "dissented-from-decision")
    _review(bank, first.id or 0, "pass")
    _review(bank, second.id or 0, "pass")

    def row() -> object:
        report = load_coverage(bank)
        return next(q for q in report.questions if q.id == "dissented-from-decision")

    assert row().status == "covered"
    bank.update_story(
        first.id or 0, first.model_copy(update={"result": "Edited result, p99 300 ms."})
    )
    after = row()
    assert after.status == "thin"  # not passing: it does not count
    assert any("needs review" in r and f"#{first.id}" in r for r in after.reasons)
    assert not any("failed" in r for r in after.reasons)  # and not a failure either
