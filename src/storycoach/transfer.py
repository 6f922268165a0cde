"""The export file: its records, its limits and the result of an import.

`storycoach export` writes `{"version": 1, "stories", "questions", "reviews",
"link_suggestions"}`; files from before reviews were exported (only stories and questions, no
`uid`) still import. Every record is validated here before the bank sees it, so a malformed
file is one readable error and the bank is unchanged. SQL stays in `bank.py`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from storycoach.errors import StorycoachError, first_error
from storycoach.models import Question, Story
from storycoach.storyfile import MAX_TEXT_CHARS

EXPORT_VERSION = 1
#: An export file larger than this is refused before it is parsed (memory stays bounded).
MAX_IMPORT_CHARS = 32_000_000
MAX_ITEMS = 100_000
OnConflict = Literal["skip", "replace", "copy"]
ConflictAction = Literal["skipped", "replaced", "copied"]
#: Stories without a `uid` (files from older versions) get one derived from their text, so
#: importing such a file twice still changes nothing the second time.
_UID_NAMESPACE = uuid.UUID("5b0c6f7e-3f39-4a8f-9d0e-6f1d1b6c2a51")
STORY_TEXT = ("title", "situation", "task", "action", "result", "reflection")


def derived_uid(story: Story, salt: int = 0) -> str:
    """A uid from a story's content: the same story gets the same uid in every bank."""
    content = story.model_dump(mode="json", exclude={"id", "uid", "updated"})
    text = json.dumps(content, ensure_ascii=False, sort_keys=True)
    return str(uuid.uuid5(_UID_NAMESPACE, f"{text}#{salt}" if salt else text))


def new_uid() -> str:
    return str(uuid.uuid4())


class CallRow(BaseModel):
    """One model request as `llm_calls` stores it."""

    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    created: str
    model: str | None = None
    status: str | None = None
    error: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    latency_ms: int | None = None
    cost_usd: float | None = None


class ReviewRow(BaseModel):
    """A stored review with its model calls; `story_uid` names its story across banks."""

    model_config = ConfigDict(extra="ignore")  # columns added later must not break old readers

    id: int | None = None
    uid: str
    created: str
    path: str | None = None
    story_uid: str | None = None
    question_id: str | None = None
    level: str | None = None
    draft: str = Field(max_length=MAX_TEXT_CHARS)
    draft_hash: str
    findings: list[dict[str, Any]] = Field(default_factory=list)
    verdict: str
    llm: dict[str, Any] | None = None
    llm_status: str | None = None
    cache_key: str | None = None
    calls: list[CallRow] = Field(default_factory=list)


class SuggestionRow(BaseModel):
    """One `coverage --llm` run (see `link_suggestions`)."""

    model_config = ConfigDict(extra="ignore")

    id: int | None = None
    uid: str
    created: str
    cache_key: str
    model: str
    status: str
    proposals: list[dict[str, Any]] | None = None
    error: str | None = None
    calls: list[dict[str, Any]] = Field(default_factory=list)
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost_usd: float | None = None


class Conflict(BaseModel):
    """A record of the file whose id the bank already holds with different content."""

    kind: Literal["story", "question"]
    key: str
    title: str
    action: ConflictAction


class ImportReport(BaseModel):
    """What an import did: counts per kind, and every conflict and how it was resolved."""

    stories: int = 0  # added (new or copied)
    questions: int = 0  # added
    reviews: int = 0
    link_suggestions: int = 0
    unchanged: int = 0  # records already in the bank exactly as in the file
    replaced: int = 0
    conflicts: list[Conflict] = Field(default_factory=list)


class ExportFile(BaseModel):
    """A validated export file, de-duplicated."""

    stories: list[Story]
    questions: list[Question]
    reviews: list[ReviewRow]
    link_suggestions: list[SuggestionRow]


def parse_export(text: str, label: str) -> ExportFile:
    """Parse and validate an export file; any problem is one `StorycoachError`."""
    if len(text) > MAX_IMPORT_CHARS:
        raise StorycoachError(
            f"{label} is too large to import ({len(text):,} characters; up to {MAX_IMPORT_CHARS:,})"
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise StorycoachError(
            f"{label} is not valid JSON (line {error.lineno}): {error.msg}"
        ) from None
    except RecursionError:
        raise StorycoachError(f"{label} is nested too deeply to be a storycoach export") from None
    except ValueError as error:  # e.g. an integer past Python's digit limit
        raise StorycoachError(f"{label} has a value storycoach cannot read: {error}") from None
    return validate_export(data)


def validate_export(data: object) -> ExportFile:
    """A decoded export (any JSON value) as a validated, de-duplicated `ExportFile`."""
    if not isinstance(data, dict) or data.get("version") != EXPORT_VERSION:
        raise StorycoachError(
            f'not a storycoach export: expected a JSON object with "version": {EXPORT_VERSION}'
        )
    _no_nul(data, "")
    stories = _dedupe(_items(data, "stories", Story), "stories", lambda s: s.uid or "")
    questions = _dedupe(_items(data, "questions", Question), "questions", lambda q: q.id)
    for i, story in enumerate(stories):
        size = sum(len(getattr(story, k) or "") for k in STORY_TEXT)
        if size > MAX_TEXT_CHARS:
            raise StorycoachError(
                f"the import file has the wrong shape: stories[{i}] is too long ({size:,} "
                f"characters; storycoach takes up to {MAX_TEXT_CHARS:,})"
            )
    return ExportFile(
        stories=stories,
        questions=questions,
        reviews=_dedupe(_items(data, "reviews", ReviewRow), "reviews", lambda r: r.uid),
        link_suggestions=_dedupe(
            _items(data, "link_suggestions", SuggestionRow), "link_suggestions", lambda r: r.uid
        ),
    )


def _no_nul(value: Any, where: str) -> None:
    """NUL is refused anywhere, as in story files: SQLite and terminals mishandle it."""
    stack = [(value, where)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise StorycoachError(f"the import file has a NUL character in {at or 'a key'}")
        elif isinstance(item, dict):
            stack.extend((v, f"{at}.{k}" if at else str(k)) for k, v in item.items())
            stack.extend((k, at) for k in item)
        elif isinstance(item, list):
            stack.extend((v, f"{at}[{i}]") for i, v in enumerate(item))


def _items(data: dict[str, Any], key: str, model: type[Any]) -> list[Any]:
    """The `key` list as `model` records; an error names the item it is in."""
    items = data.get(key, [])
    if not isinstance(items, list):
        raise StorycoachError(f"the import file has the wrong shape: {key} must be a list")
    if len(items) > MAX_ITEMS:
        raise StorycoachError(f"the import file has more than {MAX_ITEMS:,} {key}")
    records = []
    for i, item in enumerate(items):
        where = f"the import file has the wrong shape: {key}[{i}]"
        if not isinstance(item, dict):
            raise StorycoachError(f"{where} must be an object")
        if model is Story:
            item = {**item, "id": _int_or_none(item.get("id"))}
        try:
            record = model(**item)
            if model is Story and not record.uid:
                record = record.model_copy(update={"uid": derived_uid(record)})
            records.append(record)
        except ValidationError as error:
            raise StorycoachError(f"{where}.{first_error(error)}") from None
        except TypeError as error:
            raise StorycoachError(f"{where}: {error}") from None
    return records


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dedupe(records: list[Any], key: str, identity: Any) -> list[Any]:
    """One record per identity: exact repeats count once, different ones are an error."""
    seen: dict[str, Any] = {}
    out = []
    for record in records:
        ident = identity(record)
        if ident in seen:
            if _same(seen[ident], record):
                continue
            raise StorycoachError(
                f"the import file has two different {key} with the id {ident!r}; "
                "keep one and import again"
            )
        seen[ident] = record
        out.append(record)
    return out


def _same(a: BaseModel, b: BaseModel) -> bool:
    return a.model_dump(exclude={"id"}) == b.model_dump(exclude={"id"})
