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
    cues: list[str] = Field(
        description="Plain lowercase substrings, one of which every pattern needs: only the "
        "sentences holding a cue are read."
    )


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
        """Spans (in `doc.text`) of text addressed to the grader.

        The patterns are read only in the sentences that hold a cue word: the long alternation
        is costly to try at every position of a whole draft."""
        lower = doc.lower
        # A leading space in a cue means a word start: search a copy that starts with a space
        # too (offsets in it are one more than in `lower`).
        hay = " " + lower.replace("\n", " ")
        sentences: set[tuple[int, int]] = set()
        for cue in self.params.cues:  # substring search: far cheaper than a regex scan
            at = hay.find(cue)
            while at >= 0:
                start, end = doc.sentence_bounds(max(0, at))
                sentences.add((start, end))
                at = hay.find(cue, max(end + 1, at + 1))
        found: list[tuple[int, int]] = []
        for start, end in sorted(sentences):
            found += [m.span() for m in self._pattern.finditer(lower, start, end)]
        return sorted(set(found))

    def run(self, doc: Doc, ctx: Context) -> list[Hit]:
        return [Hit("default", start, end) for start, end in self.spans(doc)]
