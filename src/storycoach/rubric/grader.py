"""Text aimed at the grader: the one detector, for the offline rule and the coach's backstop."""

from __future__ import annotations

from storycoach.rubric.detectors.grader import Grader
from storycoach.rubric.text import Doc

#: The rubric criterion whose patterns define text aimed at the grader.
CRITERION = "addresses-grader"


def grader_spans(text: str) -> list[tuple[int, int]]:
    """Spans (start, end) in `text` that address whoever scores the answer, in text order."""
    from storycoach.rubric.loader import detector_of

    doc = Doc(text)
    return [doc.source_span(a, b) for a, b in detector_of(CRITERION, Grader).spans(doc)]
