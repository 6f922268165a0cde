"""Run criteria over a draft: text in, located findings out. Pure apart from loading rubrics.

The engine owns what every rule shares: which criteria apply (question themes, target level),
the severity at that level, message templates, and turning character offsets into the line and
column of the *original* file (the caller strips front matter and passes `line_offset`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from storycoach.errors import StorycoachError
from storycoach.models import Finding, Level, Question
from storycoach.rubric.detectors import Context, Hit
from storycoach.rubric.model import Criterion
from storycoach.rubric.text import Doc


def applicable(
    criteria: list[Criterion], *, question: Question | None, level: Level | None
) -> list[Criterion]:
    """The criteria in play for this question and target level (the LLM coach uses this too)."""
    return [c for c in criteria if c.applies_to(question, level)]


def review_text(
    text: str,
    *,
    question: Question | None = None,
    level: Level | None = None,
    story_when: date | None = None,
    today: date | None = None,
    line_offset: int = 0,
    criteria: list[Criterion] | None = None,
) -> list[Finding]:
    """Findings for one draft body, sorted by position; raises on an empty draft."""
    if not text or not text.strip():
        raise StorycoachError("the draft is empty")
    if criteria is None:
        from storycoach.rubric.loader import load_criteria

        criteria = load_criteria()
    doc = Doc(text)
    ctx = Context(question=question, level=level, story_when=story_when, today=today)
    findings: list[tuple[tuple[int, int], Finding]] = []
    for criterion in applicable(criteria, question=question, level=level):
        for hit in criterion.runner.run(doc, ctx):
            found = _finding(criterion, hit, doc, level, line_offset)
            if criterion.needs_question and question is not None:
                found[1].question = question.id
            findings.append(found)
    findings.sort(key=lambda pair: pair[0])
    return [finding for _, finding in findings]


def _finding(
    criterion: Criterion, hit: Hit, doc: Doc, level: Level | None, line_offset: int
) -> tuple[tuple[int, int], Finding]:
    quote = None  # the span exactly as it stands in the file (editors highlight it)
    shown = None  # the same span as the rules read it, for the message
    line = column = None
    at = hit.pos
    if hit.start is not None and hit.end is not None:
        start, end = hit.start, hit.end
        while start < end and doc.text[start].isspace():
            start += 1
        while end > start and doc.text[end - 1].isspace():
            end -= 1
        at = start
        shown = doc.text[start:end] or None
        if shown is not None:
            a, b = doc.source_span(start, end)
            quote = doc.source[a:b]
    elif hit.start is not None:
        at = hit.start
    if at is not None:
        line, column = doc.line_col(at)
        line += line_offset
    template = criterion.messages.get(hit.kind, criterion.message)
    fields: dict[str, Any] = {"quote": shown or "", **hit.fields}
    message = template.format_map(_Blank(fields)).strip()
    finding = Finding(
        rule=criterion.id,
        severity=criterion.severity_for(level, hit.kind),
        message=message,
        line=line,
        column=column,
        quote=quote,
        source="rubric",
    )
    return (line or 0, column or 0), finding


class _Blank(dict[str, Any]):
    """Message templates may name fields a hit does not set: those render empty."""

    def __missing__(self, key: str) -> str:
        return ""
