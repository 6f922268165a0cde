"""Name redaction: people's names swapped for PERSON_n before a draft is sent, restored after.

Names come from the rubric's one name finder (`storycoach.rubric.names`), the same that the
`missing-names` rule counts, in its redaction mode: it errs towards redacting too much, because a
redacted word is restored in the output anyway.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_PLACEHOLDER = re.compile(r"PERSON_(\d+)\b")


def detect_names(draft: str, known: Iterable[str]) -> list[str]:
    """People's names in the draft, for redaction: the known names (the story's `people`) with
    each of their words, and whatever the one name finder (`rubric.names.find_people`, the
    `missing-names` rule's own) finds in redaction mode, which includes capitalised words it
    cannot classify. In order of first appearance, the longer name first at the same place."""
    from storycoach.rubric.names import people_names

    full = {name.strip() for name in known if len(name.strip()) >= 2}
    names = set(full)
    for name in full:
        names.update(part for part in name.split() if len(part) >= 2)
    names.update(people_names(draft, redact=True))
    found = []
    for name in names:
        hit = re.search(rf"(?<!\w){re.escape(name)}(?!\w)", draft)
        if hit:
            found.append((hit.start(), -len(name), name))
    return [name for _, _, name in sorted(found)]


@dataclass
class Redaction:
    """Names swapped for PERSON_n placeholders before sending, and swapped back after."""

    names: dict[str, str] = field(default_factory=dict)  # placeholder -> name

    @classmethod
    def build(cls, draft: str, known: Iterable[str]) -> tuple[Redaction, str]:
        names = detect_names(draft, known)
        placeholders = {name: f"PERSON_{index}" for index, name in enumerate(names, start=1)}
        text = draft
        for name in sorted(names, key=len, reverse=True):  # "Priya Raman" before "Priya"
            pattern = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)")
            text = pattern.sub(placeholders[name], text)
        return cls({p: n for n, p in placeholders.items()}), text

    def restore(self, text: str) -> str:
        if not self.names:
            return text
        return _PLACEHOLDER.sub(lambda m: self.names.get(m[0], m[0]), text)
