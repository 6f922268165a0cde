"""Story files: Markdown with a YAML front-matter block and STAR headings.

The same format serves `story add --from`, the `$EDITOR` template, `story edit` and review
inputs, so a user who has written one story file knows them all:

    ---
    title: Pushed back on the cache rewrite
    when: 2024-03
    people: ["Priya Raman (staff engineer)"]
    questions: [dissented-from-decision]
    ---
    ## Situation
    ...
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from storycoach.errors import StorycoachError, first_error
from storycoach.models import Person, Story
from storycoach.rubric.text import STAR_FIELDS, star_kind

MAX_TEXT_CHARS = 60_000
_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*\r?\n?", re.DOTALL | re.MULTILINE)
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


@dataclass
class Document:
    """A parsed story file: its front matter, its body and where the body starts."""

    meta: dict[str, Any] = field(default_factory=dict)
    body: str = ""
    line_offset: int = 0


def read_text(path: str | Path, *, limit: int = MAX_TEXT_CHARS) -> str:
    """Read a UTF-8 text file (or stdin for '-'), refusing binary, non-UTF-8 and huge input."""
    if str(path) == "-":
        raw = sys.stdin.buffer.read(limit * 4 + 1)
        label = "standard input"
    else:
        p = Path(path)
        if not p.exists():
            raise StorycoachError(f"{p}: no such file")
        if p.is_dir():
            raise StorycoachError(f"{p} is a directory, not a draft file")
        try:
            with p.open("rb") as handle:
                raw = handle.read(limit * 4 + 1)
        except OSError as error:
            raise StorycoachError(f"cannot read {p}: {error.strerror}") from error
        label = str(p)
    return decode_text(raw, label, limit)


def decode_text(raw: bytes, label: str, limit: int = MAX_TEXT_CHARS) -> str:
    if b"\x00" in raw[:8192]:
        raise StorycoachError(f"{label} looks like a binary file, not text")
    if len(raw) > limit * 4:
        # More bytes than `limit` characters can take even at 4 bytes each. `read_text` cuts the
        # input here, possibly inside a character, so this must come before decoding.
        raise StorycoachError(_too_long(label, f"more than {limit:,}", limit))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise StorycoachError(
            f"{label} is not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start}); "
            "save it as UTF-8 and try again"
        ) from None
    if len(text) > limit:
        raise StorycoachError(_too_long(label, f"{len(text):,}", limit))
    return text


def _too_long(label: str, size: str, limit: int) -> str:
    return (
        f"{label} is too long ({size} characters); storycoach takes up to {limit:,}. "
        "A spoken answer is 2-3 minutes: trim it to one story"
    )


def split_front_matter(text: str, label: str = "the file") -> Document:
    """Separate the YAML block from the body; the offset keeps finding lines true to the file."""
    match = _FRONT.match(text)
    if not match:
        return Document(body=text)
    import yaml  # only files with front matter pay for it

    try:
        # libyaml's safe loader when PyYAML has it (its wheels do): the same safe constructor,
        # about 6x faster than the pure-Python parser, which the language server pays per edit.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        meta = yaml.load(match[1], Loader=loader) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise StorycoachError(f"{label}: malformed front matter{where}: {problem}") from None
    if not isinstance(meta, dict):
        raise StorycoachError(f"{label}: front matter must be key: value pairs")
    return Document(
        meta={str(k): _plain(v) for k, v in meta.items()},
        body=text[match.end() :],
        line_offset=match[0].count("\n"),
    )


def _plain(value: Any) -> Any:
    """YAML turns `when: 2024-03-17` into a date; the record wants the text."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def sections(body: str) -> tuple[str | None, dict[str, str]]:
    """The `# Title` (if any) and the STAR sections keyed by field name.

    Headings follow the review's STAR grammar (`rubric.text.star_kind`): "## Context" is the
    Situation, "## Outcome" the Result, "## Lessons learned" the Reflection.
    """
    title = None
    found: dict[str, str] = {}
    headings = list(_HEADING.finditer(body))
    for i, heading in enumerate(headings):
        kind = star_kind(heading[1])  # the one STAR grammar, shared with reviews
        end = headings[i + 1].start() if i + 1 < len(headings) else len(body)
        content = body[heading.end() : end].strip()
        if kind is not None and STAR_FIELDS[kind] not in found:
            found[STAR_FIELDS[kind]] = content
        elif title is None and heading[0].startswith("# "):
            title = heading[1].strip()
    return title, found


def story_from_text(text: str, label: str = "the file") -> Story:
    """Build a story from a story file, with one readable error for anything missing."""
    doc = split_front_matter(text, label)
    title, found = sections(doc.body)
    data: dict[str, Any] = {**found, **doc.meta}
    data.setdefault("title", title or "")
    missing = [s for s in ("situation", "task", "action", "result") if not data.get(s)]
    if missing:
        raise StorycoachError(
            f"{label}: missing {', '.join(f'## {m.title()}' for m in missing)} "
            "(a story needs Situation, Task, Action and Result sections)"
        )
    return story_from_fields(data, label)


def story_from_fields(data: dict[str, Any], label: str = "the story") -> Story:
    data = {k: v for k, v in data.items() if v is not None}
    for key in ("tags", "metrics", "questions", "markers"):
        if isinstance(data.get(key), str):
            data[key] = [data[key]]
    if "people" in data:
        people = data["people"] if isinstance(data["people"], list) else [data["people"]]
        data["people"] = [Person.parse(p) if isinstance(p, str) else p for p in people]
    if "when" in data:
        data["when"] = str(data["when"])
    try:
        return Story(**data)
    except ValidationError as error:
        raise StorycoachError(f"{label}: {first_error(error, 'story')}") from None


def story_to_text(story: Story) -> str:
    """The story as an editable file; `story_from_text` reads it back unchanged."""
    import yaml

    meta: dict[str, Any] = {"title": story.title}
    if story.when:
        meta["when"] = story.when
    for key in ("company", "team", "level"):
        if getattr(story, key):
            meta[key] = getattr(story, key)
    if story.people:
        meta["people"] = [f"{p.name} ({p.role})" if p.role else p.name for p in story.people]
    for key in ("metrics", "tags", "questions", "markers"):
        if getattr(story, key):
            meta[key] = list(getattr(story, key))
    if story.retired:
        meta["retired"] = True
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=100)
    return f"---\n{front}---\n{story.body()}"


TEMPLATE = """\
---
# Lines starting with # in this block are comments. Save and close to add the story;
# leave a STAR section empty to cancel.
title:
when:            # the month it happened, e.g. 2024-03
company:
team:
people: []       # e.g. ["Priya Raman (staff engineer)", "Dana Ito (PM)"]
metrics: []      # e.g. ["p99 900 ms -> 300 ms"]
tags: []
level:           # E3..E7, the band this story shows
questions: []    # ids from `storycoach questions list`
markers: []      # slugs from `storycoach markers list`
---
## Situation

## Task

## Action

## Result

## Reflection
"""
