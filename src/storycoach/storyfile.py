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
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from storycoach.errors import StorycoachError, first_error
from storycoach.models import Person, Story
from storycoach.rubric.text import STAR_FIELDS, star_kind

MAX_TEXT_CHARS = 60_000
# Front matter is a handful of short fields: these bound the YAML parser's time and memory
# whatever the file holds (an alias bomb, a million-node list, a 5,000-digit number).
MAX_FRONT_MATTER_CHARS = 16_000
MAX_FRONT_MATTER_NODES = 2_000
MAX_FRONT_MATTER_DEPTH = 20
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
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise StorycoachError(f"{label} contains a NUL byte at offset {nul}; it is not a text file")
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
    meta = load_front_matter(match[1], label) or {}
    if not isinstance(meta, dict):
        raise StorycoachError(f"{label}: front matter must be key: value pairs")
    return Document(
        meta={str(k): _plain(v) for k, v in meta.items()},
        body=text[match.end() :],
        line_offset=match[0].count("\n"),
    )


def load_front_matter(text: str, label: str = "the file") -> Any:
    """YAML front matter with a restricted safe loader, in bounded time and memory.

    Anchors and aliases are refused before anything is composed (an alias bomb of a few
    hundred bytes expands to gigabytes), as are blocks over `MAX_FRONT_MATTER_CHARS`, more than
    `MAX_FRONT_MATTER_NODES` nodes, or nesting deeper than `MAX_FRONT_MATTER_DEPTH`.
    """
    import yaml  # only files with front matter pay for it

    if len(text) > MAX_FRONT_MATTER_CHARS:
        raise StorycoachError(
            f"{label}: the front matter is too long ({len(text):,} characters; "
            f"up to {MAX_FRONT_MATTER_CHARS:,})"
        )
    try:
        return yaml.load(text, Loader=_bounded_loader())
    except _Refused as refused:
        raise StorycoachError(f"{label}: front matter {refused}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise StorycoachError(f"{label}: malformed front matter{where}: {problem}") from None
    except (ValueError, OverflowError, RecursionError) as error:  # e.g. int digit limits
        raise StorycoachError(f"{label}: malformed front matter: {error}") from None


class _Refused(Exception):
    """Front matter the bounded loader will not build."""


@cache
def _bounded_loader() -> type:
    import yaml

    class BoundedLoader(yaml.SafeLoader):
        """`SafeLoader` that refuses anchors and aliases and counts nodes and depth."""

        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self._nodes = 0
            self._depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.peek_event()  # type: ignore[no-untyped-call]
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise _Refused("uses YAML anchors or aliases (&, *); write the values out")
            self._nodes += 1
            if self._nodes > MAX_FRONT_MATTER_NODES:
                raise _Refused(f"has more than {MAX_FRONT_MATTER_NODES:,} values")
            self._depth += 1
            try:
                if self._depth > MAX_FRONT_MATTER_DEPTH:
                    raise _Refused(f"is nested more than {MAX_FRONT_MATTER_DEPTH} levels deep")
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

    return BoundedLoader


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
# Lines starting with # are comments. Fill in Situation, Task, Action and Result (Reflection
# is optional), then save and close to add the story. To cancel, close without saving or
# without changing anything. If a STAR section is missing the story is not added and your
# text is kept in a recovery file (the error says where).
title:
when:            # the month it happened, e.g. 2024-03
company:
team:
people: []       # e.g. ["Priya Raman (staff engineer)", "Dana Ito (PM)"]
metrics: []      # e.g. ["p99 900 ms -> 300 ms"]
tags: []
level:           # E3..E7, the band this story shows
questions: []    # ids from `storycoach questions list`
markers: []      # slugs from `storycoach markers`
---
## Situation

## Task

## Action

## Result

## Reflection
"""


def story_template(fields: dict[str, Any] | None = None) -> str:
    """The `$EDITOR` template with the flags already given filled in, so none is lost.

    Values are written as JSON, which is valid YAML: quotes and brackets in a title survive.
    """
    import json

    text = TEMPLATE
    for key, value in (fields or {}).items():
        if key in STAR_FIELDS.values():
            heading = f"## {key.title()}\n"
            text = text.replace(heading, f"{heading}\n{value}\n", 1)
            continue
        line = re.compile(rf"^{re.escape(key)}:[ \t]*(?:\[\])?[ \t]*", re.MULTILINE)
        rendered = json.dumps(value, ensure_ascii=False)
        filled = f"{key}: {rendered}  ".replace("\\", "\\\\")  # a backslash stays one
        text, found = line.subn(filled, text, count=1)
        if not found:
            raise ValueError(f"the template has no {key!r} line")
    return re.sub(r"[ \t]+$", "", text, flags=re.MULTILINE)
