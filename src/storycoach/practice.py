"""Practice: the question to answer next, and the answer stored as a review of that question.

`storycoach practice` picks a gap first, then a thin question (or the one named), with the
stories that might fit it; the answer is reviewed by the same pipeline as any draft and stored
with the question id, which is what `history --question ID` shows and what makes repeated runs
rotate through equally weak questions.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from storycoach.coverage import (
    CoverageReport,
    QuestionCoverage,
    compute_coverage,
    load_coverage,
    weakest,
)

if TYPE_CHECKING:
    from storycoach.bank import Bank
    from storycoach.reviewing import ReviewBatch


def pick_question(
    bank: Bank,
    *,
    question: str | None = None,
    role: str | None = None,
    marker: str | None = None,
    level: str | None = None,
    today: date | None = None,
) -> tuple[QuestionCoverage, CoverageReport]:
    """The question to practise (`question`, or the weakest under the filters) and the map it
    was picked from; a question that is not covered carries its story suggestions."""
    if question:
        bank.question(question)  # an unknown id fails here, with close matches
        report = load_coverage(bank, today=today, suggest=False)
        row = next(r for r in report.questions if r.id == question)
    else:
        report = load_coverage(
            bank, today=today, role=role, marker=marker, level=level, suggest=False
        )
        row = weakest(report, bank.practice_counts())
    _add_suggestions(bank, row, today)
    return row, report


def _add_suggestions(bank: Bank, row: QuestionCoverage, today: date | None) -> None:
    """Suggestions for the one practised question only (cheap: one query)."""
    if row.status == "covered":
        return
    one = compute_coverage(
        [row.question], bank.markers(), bank.stories(), bank.latest_verdicts(), today=today
    )
    row.suggestions = one.questions[0].suggestions


def practise(
    bank: Bank, row: QuestionCoverage, answer: str, *, level: str | None, offline: bool
) -> ReviewBatch:
    """Review `answer` to the row's question and store it as an attempt at that question."""
    from storycoach.errors import StorycoachError
    from storycoach.reviewing import ReviewInput, review_inputs

    if not answer.strip():
        raise StorycoachError("nothing to review: the answer was empty")
    source = ReviewInput(label=f"practice:{row.id}", text=answer, question_id=row.id, level=level)
    return review_inputs(bank, [source], offline=offline)
