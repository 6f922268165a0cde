"""What the language server knows about one open file, computed without any LSP types.

`analyze` runs the review pipeline's own offline review (`reviewing.review_offline`) on the
editor's text, so a diagnostic is a finding of `review --offline`, never a second opinion, and
adds what only an editor wants: the one error a malformed file gets, and a note on the stored
story a file's front matter names (`id: 12`). Hover texts come from the rubric files, completion
candidates from the bank. No pygls here: `storycoach.lsp.server` turns these records into LSP.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from storycoach.errors import StorycoachError
from storycoach.models import LEVELS, Level, ReviewResult, Story

if TYPE_CHECKING:
    from storycoach.bank import Bank
    from storycoach.reviewing import ReviewInput
    from storycoach.rubric.model import Criterion

#: The settings section editors keep our options under (`workspace/configuration`).
SECTION = "storycoach"
_FRONT_LINE = re.compile(r"\(line (\d+)\)")


class ServerSettings(BaseModel):
    """Options from `initializationOptions` or the `storycoach` configuration section.

    Keys may be camelCase (as editors write them) or snake_case. A draft's own front matter
    (`question:`, `questions:`, `level:`) always wins over the defaults here.
    """

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )

    level: Level | None = Field(default=None, description="Default target level, E3..E7.")
    question: str | None = Field(default=None, description="Default question id.")
    story_folders: list[str] = Field(
        default_factory=list,
        description="Folders (relative to the workspace, or absolute) that hold story files; "
        "when set, Markdown elsewhere is left alone.",
    )
    debounce_ms: int = Field(default=150, ge=0, le=5000)
    rule_docs: str | None = Field(
        default=None,
        description="URL template for a rule's documentation, with {rule} for its id "
        "(default: the rule's own rubric file).",
    )

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) and value.strip() else None


@dataclass
class Note:
    """A diagnostic that is not a rubric finding: a broken file, or a stored story's status."""

    message: str
    line: int  # 1-based line of the file
    severity: Literal["error", "warning", "info", "hint"]
    code: str


@dataclass
class Analysis:
    """Everything the server publishes for one version of a file."""

    result: ReviewResult | None = None
    notes: list[Note] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    story: Story | None = None  # the file as a story (computed when `id:` names one)
    story_id: int | None = None  # the bank story its front matter names, if it exists


def in_scope(path: Path | None, settings: ServerSettings, roots: list[Path]) -> bool:
    """Whether a file is a draft to check: any file, unless story folders are configured."""
    if not settings.story_folders:
        return True
    if path is None:
        return False
    for folder in settings.story_folders:
        base = Path(folder).expanduser()
        candidates = [base] if base.is_absolute() else [root / base for root in roots]
        for candidate in candidates:
            if path.resolve().is_relative_to(candidate.resolve()):
                return True
    return False


def analyze(
    bank: Bank,
    text: str,
    label: str,
    settings: ServerSettings,
    criteria: list[Criterion] | None = None,
) -> Analysis:
    """The offline review of an editor's text, or the one note that says why there is none."""
    from storycoach.reviewing import review_offline
    from storycoach.storyfile import split_front_matter

    if not text.strip():
        return Analysis()  # a new, empty file: nothing to say yet
    try:
        meta = split_front_matter(text, label).meta
    except StorycoachError as error:
        return Analysis(notes=[_broken(error)])
    source = review_input(text, label, settings, meta)
    analysis = Analysis(meta=meta)
    try:
        analysis.result = review_offline(bank, source, criteria=criteria)
    except StorycoachError as error:
        analysis.notes.append(_broken(error))
    _story_status(bank, text, label, analysis)
    return analysis


def review_input(
    text: str, label: str, settings: ServerSettings, meta: dict[str, Any]
) -> ReviewInput:
    """The review input for an editor's text: its front matter decides the question and level,
    the server's settings fill in what it leaves out."""
    from storycoach.reviewing import ReviewInput

    source = ReviewInput(label=label, text=text)
    if "question" not in meta and "questions" not in meta:
        source.question_id = settings.question
    if "level" not in meta:
        source.level = settings.level
    return source


def _broken(error: StorycoachError) -> Note:
    where = _FRONT_LINE.search(str(error))
    return Note(str(error), int(where[1]) if where else 1, "error", "invalid-file")


def _story_status(bank: Bank, text: str, label: str, analysis: Analysis) -> None:
    """A hint on the stored story the front matter names (`id: 12`): its last verdict, whether
    that is stale, and whether this file differs from the bank's copy."""
    from storycoach.bank import text_hash
    from storycoach.storyfile import story_to_text

    raw = analysis.meta.get("id")
    if raw is None:
        return
    analysis.story = as_story(text, label)
    line = front_matter_line(text, "id")
    try:
        stored = bank.story(int(raw))
    except (StorycoachError, TypeError, ValueError):
        analysis.notes.append(
            Note(
                f"no story {raw!r} in the bank (`storycoach story list`); "
                "remove `id:` to add this file as a new story",
                line,
                "warning",
                "story-status",
            )
        )
        return
    assert stored.id is not None
    analysis.story_id = stored.id
    reviews = bank.reviews(story=stored.id, limit=1)
    if not reviews:
        status = f"never reviewed (`storycoach review --story {stored.id}`)"
    else:
        latest = reviews[0]
        when = str(latest["created"]).replace("T", " ")[:16]
        fresh = latest["draft_hash"] == text_hash(story_to_text(stored))
        status = f"last review {str(latest['verdict']).upper()} on {when} UTC, " + (
            "up to date" if fresh else "stale: the story changed since"
        )
    message = f"story #{stored.id} in the bank: {status}"
    if analysis.story is not None and _content(analysis.story) != _content(stored):
        message += f"; this file differs from the bank's copy (Update story {stored.id})"
    analysis.notes.append(Note(message, line, "hint", "story-status"))


def as_story(text: str, label: str) -> Story | None:
    """The file as a story for the bank, or None when it is not a complete story file."""
    from storycoach.storyfile import story_from_text

    try:
        return story_from_text(text, label)
    except StorycoachError:
        return None


def _content(story: Story) -> dict[str, Any]:
    return story.model_dump(exclude={"id", "created", "updated"})


def front_matter_line(text: str, key: str) -> int:
    """The 1-based line of `key:` in the front matter, or 1."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return 1
    for index, line in enumerate(lines[1:], start=2):
        if line.strip() == "---":
            break
        if line.startswith(f"{key}:"):
            return index
    return 1


# -- hover --------------------------------------------------------------------------------------


def explain(criterion: Criterion) -> str:
    """Markdown for a hover: the rule, why it exists (the guide's line), what good looks like
    and one good example, all from the rubric file."""
    good = next((e for e in criterion.examples if e.verdict == "good"), None)
    parts = [
        f"**{criterion.title}** (`{criterion.id}`)",
        f"**Why.** {criterion.why.text}",
        f"> {criterion.why.source}",
        f"**What good looks like.** {criterion.good}",
    ]
    if good is not None:
        example = " ".join(good.text.split())
        parts.append(f"**A good example.** {_clip(example, 400)}")
    return "\n\n".join(parts)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + " …"


# -- completion ---------------------------------------------------------------------------------


@dataclass
class Candidate:
    label: str
    detail: str = ""
    kind: Literal["question", "marker", "level", "person", "key"] = "key"


#: Front-matter keys the completion knows values for.
COMPLETED_KEYS = ("question", "questions", "markers", "level", "people")


def front_matter_key(lines: list[str], line: int) -> str | None:
    """The key whose value the cursor on 0-based `line` is in, when it is in the front matter:
    `level: E|`, `questions: [a, |`, or a `- ` item under `markers:`. None outside it."""
    if not lines or lines[0].strip() != "---" or line == 0 or line >= len(lines):
        return None
    if any(lines[i].strip() == "---" for i in range(1, line)):
        return None  # past the closing fence: the body
    current = lines[line]
    if current.strip() == "---":
        return None
    match = re.match(r"^([A-Za-z_][\w-]*)\s*:", current)
    if match:
        return match[1]
    if current.lstrip().startswith("-") or not current.strip():
        for above in range(line - 1, 0, -1):
            match = re.match(r"^([A-Za-z_][\w-]*)\s*:", lines[above])
            if match:
                return match[1]
            if not lines[above].lstrip().startswith("-"):
                break
    return None


def candidates(bank: Bank, key: str) -> list[Candidate]:
    """Values for a front-matter key: question ids (with their text), marker slugs, levels,
    or the people already named in the bank's stories."""
    if key in ("question", "questions"):
        return [Candidate(q.id, q.text, "question") for q in bank.questions()]
    if key == "markers":
        return [Candidate(m.slug, m.name, "marker") for m in bank.markers()]
    if key == "level":
        return [Candidate(level, "target level", "level") for level in LEVELS]
    if key == "people":
        named: dict[str, str] = {}
        for story in bank.stories():
            for person in story.people:
                label = f"{person.name} ({person.role})" if person.role else person.name
                named.setdefault(label, f"in story #{story.id}: {story.title}")
        return [Candidate(label, detail, "person") for label, detail in sorted(named.items())]
    return []
