"""Records that cross a boundary: the bank, files, the model, JSON output.

Every record is a pydantic model so that a bad story file, a malformed import or a model answer
of the wrong shape fails in one place with one readable error, instead of deep inside SQL or
rendering code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Annotated, Literal, TypeVar, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from storycoach.errors import StorycoachError

_Level = Literal["E3", "E4", "E5", "E6", "E7"]
LEVELS: tuple[_Level, ...] = get_args(_Level)


def parse_level(value: object) -> _Level:
    """A level band as written by a user (``e5``, `` E5 ``) as the `Level` it names; the one
    level normaliser. `ValueError` names the allowed values."""
    text = str(value).strip().upper()
    if text not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {value!r}")
    return text


def normalize_level(level: str | None) -> _Level | None:
    """`parse_level` for command options and front matter: None stays None, a bad value is an
    input error."""
    if level is None:
        return None
    try:
        return parse_level(level)
    except ValueError as error:
        raise StorycoachError(str(error)) from None


#: A level band, E3..E7; records accept any case and surrounding spaces (`parse_level`).
Level = Annotated[_Level, BeforeValidator(parse_level)]
Severity = Literal["error", "warning", "info"]
Verdict = Literal["pass", "fail"]
#: A story's latest verdict when its text was edited after that review: neither pass nor fail.
NEEDS_REVIEW = "needs-review"
Difficulty = Literal["easy", "medium", "hard"]

_WHEN = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")


def parse_when(value: str) -> date:
    """A story's `when` (``2024-03`` or ``2024-03-17``) as a date; months become the 1st."""
    match = _WHEN.match(value.strip())
    if not match:
        raise ValueError(f"expected a month like 2024-03 or a date like 2024-03-17, got {value!r}")
    year, month, day = int(match[1]), int(match[2]), int(match[3] or 1)
    return date(year, month, day)


def _non_blank(value: str, field: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError(f"{field} must not be empty")
    return value


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)


class Person(Record):
    name: str
    role: str = ""

    @classmethod
    def parse(cls, text: str) -> Person:
        """``"Priya Raman: staff engineer"`` or ``"Priya Raman (staff engineer)"``."""
        text = text.strip()
        if m := re.match(r"^(.+?)\s*\((.+)\)$", text):
            return cls(name=m[1], role=m[2])
        name, _, role = text.partition(":")
        return cls(name=name, role=role)


class Story(Record):
    """A STAR story: the unit the bank stores, links and reviews."""

    id: int | None = None
    # A stable identity across banks (a UUID): export carries it, import matches on it.
    uid: str | None = None
    title: str
    situation: str
    task: str
    action: str
    result: str
    reflection: str = ""
    when: str | None = None
    company: str = ""
    team: str = ""
    people: list[Person] = Field(default_factory=list)
    metrics: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    level: Level | None = None
    questions: list[str] = Field(default_factory=list)
    markers: list[str] = Field(default_factory=list)
    retired: bool = False
    created: datetime | None = None
    updated: datetime | None = None

    @field_validator("title", "situation", "task", "action", "result")
    @classmethod
    def _required(cls, value: str, info: ValidationInfo) -> str:
        return _non_blank(value, info.field_name or "field")

    @field_validator("when")
    @classmethod
    def _when(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parse_when(value)
        return value.strip()

    @property
    def when_date(self) -> date | None:
        return parse_when(self.when) if self.when else None

    def body(self) -> str:
        """The story as a Markdown draft: what `review --story` and the editor see."""
        parts = [
            ("Situation", self.situation),
            ("Task", self.task),
            ("Action", self.action),
            ("Result", self.result),
        ]
        if self.reflection:
            parts.append(("Reflection", self.reflection))
        return "\n\n".join(f"## {heading}\n\n{text}" for heading, text in parts) + "\n"


class StoredStory(Story):
    """A story as the bank returns it: it has an id and its timestamps."""

    id: int
    created: datetime
    updated: datetime


class Marker(Record):
    """A culture marker such as Context Not Control: what interviewers listen for."""

    slug: str
    name: str
    meaning: str
    source: str = ""


class Question(Record):
    """A behavioral question and what the round behind it probes."""

    id: str
    text: str
    company: str = ""
    roles: list[str] = Field(default_factory=list)
    difficulty: Difficulty | None = None
    tags: list[str] = Field(default_factory=list)
    markers: list[str] = Field(default_factory=list)
    themes: list[str] = Field(default_factory=list)
    levels: list[Level] = Field(default_factory=list)
    probing: str | None = None
    probes: list[str] = Field(default_factory=list)
    source: str = "user"

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", value):
            raise ValueError(f"question id must be a kebab-case slug, got {value!r}")
        return value

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        return _non_blank(value, "text")


class Finding(Record):
    """One problem in a draft, located like a linter finding."""

    rule: str
    severity: Severity
    message: str
    line: int | None = None
    column: int | None = None
    quote: str | None = None
    source: Literal["rubric", "llm"] = "rubric"
    #: The question whose probe raised it (probe rules only), so a story linked to several
    #: questions says which question each finding comes from.
    question: str | None = None


class CriterionScore(Record):
    """The model's judgment of one rubric criterion."""

    criterion: str
    score: int = Field(ge=1, le=5)
    quote: str
    fix: str


class CallRecord(Record):
    """One request to the model: what the coach returns per attempt, what `llm_calls` stores
    and `history --json` shows. Never holds the key or the draft."""

    model: str
    # pending: recorded before it was sent; interrupted: its process died or was stopped
    status: Literal["ok", "error", "retry", "pending", "interrupted"]
    error: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    latency_ms: int | None = None
    cost_usd: float | None = None


_N = TypeVar("_N", int, float)


def known_sum(values: Iterable[_N | None]) -> _N | None:
    """The sum of the known values; None when none is known (unknown is not zero)."""
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def usage_cost(calls: Iterable[CallRecord]) -> float | None:
    """The estimated cost of `calls` in USD, where any is known."""
    cost = known_sum(c.cost_usd for c in calls)
    return round(cost, 8) if cost is not None else None


class LlmReview(Record):
    """What the coach adds to a review when a model is configured."""

    model: str
    criteria: list[CriterionScore]
    verdict: Verdict
    reason: str
    #: The draft's weakest sentence, verbatim ("" when the model's pick is not in the draft),
    #: and that sentence rewritten with the candidate's facts, gaps marked like [date].
    weakest_sentence: str = ""
    rewrite: str
    tokens_in: int | None = None
    tokens_out: int | None = None
    latency_ms: int | None = None
    cost_usd: float | None = None
    cached: bool = False


class ReviewResult(Record):
    """The JSON contract of `storycoach review` for one input."""

    path: str
    question: str | None = None
    #: Every question the draft was reviewed against (several for a story linked to several).
    questions: list[str] = Field(default_factory=list)
    level: Level | None = None
    verdict: Verdict
    findings: list[Finding]
    llm: LlmReview | None = None
    llm_status: str = "skipped"
    story_id: int | None = None
    review_id: int | None = None


def is_uncounted_note(finding: Finding) -> bool:
    """A model note that did not count toward the verdict (e.g. a score without a quote).

    Shown apart from the findings and never in the error or warning counts."""
    return finding.source == "llm" and finding.severity == "info"


def verdict_for(findings: list[Finding]) -> Verdict:
    """Keeper-Test verdict: binary, and any error-level finding sinks it."""
    return "fail" if any(f.severity == "error" for f in findings) else "pass"
