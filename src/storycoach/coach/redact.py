"""Name redaction: people's names swapped for PERSON_n before a draft is sent, restored after.

The name finder here is the coach's own; it errs towards redacting too much, because a redacted
word is restored in the output anyway.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from storycoach.resources import resource_dir

_PLACEHOLDER = re.compile(r"PERSON_(\d+)\b")
_CAPITALISED = re.compile(r"(?<![\w'’-])[A-Z][a-z]+(?:-[A-Z]?[a-z]+)?(?![\w-])")
_PERSON_CONTEXT = re.compile(
    r"(?<![\w'’-])([A-Z][a-z]+)(?=,?\s+(?:said|says|told|asked|agreed|replied|suggested|wrote|"
    r"objected|argued|decided|approved|pushed|and I\b|\())"
    r"|\b(?:told|asked|emailed|pinged|messaged|thanked|convinced|persuaded|with|by|from|"
    r"manager|lead|PM|engineer|director),?\s+([A-Z][a-z]+)(?![\w-])"
)
_PAIR = re.compile(r"(?<![\w'’-])([A-Z][a-z]+) ([A-Z][a-z]+(?:-[A-Z][a-z]+)?)(?![\w-])")


@cache
def _lexicon(name: str) -> frozenset[str]:
    """A word list shipped with the rubrics (the names rule's own), lower-cased; empty if the
    rubric package does not ship it."""
    try:
        path = resource_dir("rubrics") / "lexicon" / name
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, FileNotFoundError):
        return frozenset()
    return frozenset(
        line.strip().casefold() for line in lines if line.strip() and not line.startswith("#")
    )


def detect_names(draft: str, known: Iterable[str]) -> list[str]:
    """People's names in the draft, for redaction: the known names (the story's `people`),
    capitalised words on the rubric's given-names list (minus its not-people list), capitalised
    words in a person's context ("Julia said", "told Okafor"), a given name followed by a
    capitalised surname, and each full name's words where they stand alone.
    Errs towards redacting too much: a redacted word is restored in the output anyway.
    In order of first appearance, the longer name first at the same place."""
    given = _lexicon("given-names.txt")
    not_people = _lexicon("not-people.txt")

    def is_given(word: str) -> bool:
        key = word.casefold()
        return key in given and key not in not_people

    full = {name.strip() for name in known if len(name.strip()) >= 2}
    for first, last in _PAIR.findall(draft):
        if is_given(first) and last.casefold() not in not_people:
            full.add(f"{first} {last}")
    names = set(full)
    for name in full:
        names.update(
            part
            for part in name.split()
            if len(part) > 2 and part[0].isupper() and part.casefold() not in not_people
        )
    names.update(word for word in _CAPITALISED.findall(draft) if is_given(word))
    hard_blocked = not_people - given  # tools, companies, calendar words: never people
    for match in _PERSON_CONTEXT.finditer(draft):
        word = match[1] or match[2]
        if word.casefold() not in hard_blocked and len(word) > 2:
            names.add(word)
    found = []
    for name in names:
        match = re.search(rf"(?<!\w){re.escape(name)}(?!\w)", draft)
        if match:
            found.append((match.start(), -len(name), name))
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
