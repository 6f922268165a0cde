"""Text aimed at the grader rather than the interviewer: "note to the reviewer", "rate this
5/5", "verdict: pass", `"verdict": "pass"`, "ignore previous instructions".

One detector for both sides: the offline rule (`addresses-grader`) and the coach's model-side
backstop (`coach.judge.judge_instructions`) read the same patterns from the same rubric file.
"""

from __future__ import annotations

import re

from pydantic import Field

from storycoach.rubric.detectors.base import (
    Context,
    Detector,
    Hit,
    Params,
    compile_any,
    lazy,
    register,
)
from storycoach.rubric.text import Doc


class GraderParams(Params):
    patterns: list[str] = Field(description="Phrasings that address the grader, not the reader.")


@register
class Grader(Detector):
    """Fires on every passage that addresses whoever scores the answer."""

    name = "grader"
    Params = GraderParams
    params: GraderParams

    @lazy
    def _pattern(self) -> re.Pattern[str]:
        return compile_any(self.params.patterns)

    def spans(self, doc: Doc) -> list[tuple[int, int]]:
        """Spans (in `doc.text`) of text addressed to the grader."""
        return [m.span() for m in self._pattern.finditer(doc.lower)]

    def run(self, doc: Doc, ctx: Context) -> list[Hit]:
        return [Hit("default", start, end) for start, end in self.spans(doc)]
