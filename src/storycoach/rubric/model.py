"""The shape of a rubric file: one criterion per TOML file, validated strictly.

A typo in a rubric file must fail loudly and in one place (the file and the field), not turn a
rule silently off, so every model here forbids unknown keys, and each detector validates its own
``params`` table the same way (see `storycoach.rubric.detectors`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from storycoach.errors import StorycoachError
from storycoach.models import LEVELS, Level, Question, Severity

if TYPE_CHECKING:
    from pathlib import Path

    from storycoach.rubric.detectors import Detector

#: The question bank's theme vocabulary; a probe's `themes` must use these words.
THEMES: tuple[str, ...] = (
    "dissent",
    "critical-feedback",
    "giving-feedback",
    "ambiguity",
    "influence",
    "incident",
    "partner-incident",
    "failure",
    "reverse-design",
    "collaboration",
    "leadership",
    "pivot",
)

Kind = Literal["core", "structure", "probe"]


class RubricError(StorycoachError):
    """A rubric file that cannot be used: bad TOML, a wrong field, an unknown detector."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)


class Why(_Strict):
    """Why the criterion exists, with the guide line it comes from, quoted."""

    text: str = Field(description="The reason, in a sentence or two.")
    source: str = Field(description="The guide sentence this criterion comes from, quoted.")


class Example(_Strict):
    """A draft (or a passage of one) the rule must flag (`bad`) or must leave alone (`good`)."""

    verdict: Literal["bad", "good"] = Field(description="Whether the rule must flag it.")
    text: str = Field(description="The draft or passage; the tests run the rule on it.")
    note: str = Field(default="", description="Why it is bad or good, for the docs.")
    level: Level | None = Field(default=None, description="Target level to review it at.")
    story_when: str | None = Field(
        default=None,
        pattern=r"^\d{4}-\d{2}(-\d{2})?$",
        description="The story's date (YYYY-MM or YYYY-MM-DD), for date rules.",
    )
    today: str | None = Field(
        default=None,
        pattern=r"^\d{4}-\d{2}(-\d{2})?$",
        description="The review date to pretend, for date rules.",
    )
    markers: list[str] = Field(
        default_factory=list, description="Culture markers of the question it answers."
    )


#: STAR parts a follow-up answer can be placed in (L: reflection, what you learned).
Part = Literal["S", "T", "A", "R", "L"]


class FollowUp(_Strict):
    """What an interviewer asks when this criterion is open, and where the answer belongs.

    `ask` is a plain question; the mock round prefixes it with the quoted span when the finding
    quotes one ("You said “my manager”. Who was that, by name, ...?"). `part` is the STAR part
    of the story the answer is woven into in the improved draft.
    """

    ask: str
    part: Part

    @field_validator("ask")
    @classmethod
    def _question(cls, value: str) -> str:
        if not value.endswith("?"):
            raise ValueError("must be a question (end with '?')")
        if "{" in value or "}" in value:
            raise ValueError("takes no placeholders: the quoted span is added by the round")
        return value


class Criterion(_Strict):
    """One rubric criterion: what it checks, why, how to score it, and which detector runs it."""

    id: str = Field(description="Kebab-case id, unique across the rubrics; findings carry it.")
    title: str = Field(description="One line naming the quality it checks.")
    kind: Kind = Field(description="Its group in the docs: core, structure or probe.")
    severity: Severity = Field(description="Severity of its findings by default.")
    message: str = Field(
        description="The finding's message; {quote} and the detector's fields fill in."
    )
    messages: dict[str, str] = Field(
        default_factory=dict, description="Messages by hit kind, where a detector has several."
    )
    why: Why = Field(description="Why it exists, with the guide line it comes from.")
    good: str = Field(description="What a good draft does; the LLM coach reads it too.")
    examples: list[Example] = Field(
        description="Drafts it must flag and must leave alone: at least one of each."
    )
    levels: list[Level] = Field(
        default_factory=lambda: list(LEVELS), description="Target levels it runs at."
    )
    severity_by_level: dict[Level, Severity] = Field(
        default_factory=dict, description="Severity overrides at some levels."
    )
    severity_by_kind: dict[str, Severity] = Field(
        default_factory=dict,
        description="Hit kinds (keys of `messages`) with a severity of their own, at any level.",
    )
    level_note: str = Field(default="", description="Why the severity changes with the level.")
    themes: list[str] = Field(
        default_factory=list, description="Question themes it probes; runs only for those."
    )
    needs_question: bool = Field(
        default=False, description="Runs only when a question is given (implied by themes)."
    )
    llm: bool = Field(default=True, description="Whether the LLM coach scores it too.")
    detector: str = Field(description="The detector that runs it (see below).")
    params: dict[str, Any] = Field(
        default_factory=dict, description="The detector's parameters (see below)."
    )
    anchors: dict[int, str] = Field(
        description="What scores 1, 3 and 5 look like, for the LLM coach."
    )
    follow_up: FollowUp | None = Field(
        default=None, description="The interviewer's follow-up question when this fires."
    )

    _path: Path | None = PrivateAttr(default=None)
    _runner: Detector | None = PrivateAttr(default=None)

    @field_validator("id")
    @classmethod
    def _kebab(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", value):
            raise ValueError(f"must be a kebab-case id, got {value!r}")
        return value

    @field_validator("themes")
    @classmethod
    def _themes(cls, value: list[str]) -> list[str]:
        unknown = [theme for theme in value if theme not in THEMES]
        if unknown:
            raise ValueError(f"unknown theme(s) {unknown}; use one of {', '.join(THEMES)}")
        return value

    @field_validator("anchors")
    @classmethod
    def _anchors(cls, value: dict[int, str]) -> dict[int, str]:
        if set(value) != {1, 3, 5}:
            raise ValueError("needs exactly the scores 1, 3 and 5 (what each looks like)")
        return dict(sorted(value.items()))

    @model_validator(mode="after")
    def _consistent(self) -> Criterion:
        verdicts = {example.verdict for example in self.examples}
        if verdicts != {"bad", "good"}:
            raise ValueError("examples: needs at least one bad and one good example")
        if self.severity_by_level and not self.level_note:
            raise ValueError("level_note: say why severity_by_level changes the severity")
        if self.themes:
            self.needs_question = True
        return self

    @property
    def path(self) -> Path | None:
        """The file this criterion was loaded from."""
        return self._path

    @property
    def runner(self) -> Detector:
        """The compiled detector; set by the loader."""
        if self._runner is None:
            raise RubricError(f"criterion {self.id!r} was not loaded with load_criteria()")
        return self._runner

    def severity_for(self, level: Level | None, kind: str | None = None) -> Severity:
        """The severity at a target level (level bands may raise or lower the default), unless
        the hit's kind has its own ("far too short" is an error at every level)."""
        if kind is not None and kind in self.severity_by_kind:
            return self.severity_by_kind[kind]
        if level is None:
            return self.severity
        return self.severity_by_level.get(level, self.severity)

    def applies_to(self, question: Question | None, level: Level | None) -> bool:
        """Whether this criterion is in play for a question (by theme) and a target level."""
        if level is not None and level not in self.levels:
            return False
        if not self.needs_question:
            return True
        if question is None:
            return False
        if not self.themes:
            return True
        return bool(set(self.themes) & set(question.themes or question.tags))
