"""What every detector shares: the registry, the hit record and regex helpers.

A detector is built once per rubric file (word lists become one alternation regex) and run
once per draft. It returns `Hit`s with character offsets; the engine turns them into findings.
Word lists and regex fragments come from the rubric file's ``params`` so a rule is tuned by
editing data, and each detector validates its params with its own strict model.

Regexes are `lazy` attributes, compiled on first use: compiling all of them takes longer than
a whole offline review, and a review that finds a measured delta early, or has no question for
the probes, never reaches most of them. `Detector.compile` builds them all at once; the loader
calls it whenever it validates rubric files, so a bad regex fragment still fails at load time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

from storycoach.models import Level, Question
from storycoach.rubric.text import Doc

_T = TypeVar("_T")


class Params(BaseModel):
    """Base for detector params: unknown keys are an error, like everywhere in a rubric file."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


@dataclass
class Hit:
    """One problem found: a span to quote, or just a position to point at."""

    kind: str = "default"
    start: int | None = None
    end: int | None = None
    pos: int | None = None
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    """What a review knows besides the text."""

    question: Question | None = None
    level: Level | None = None
    story_when: date | None = None
    today: date | None = None


class lazy(cached_property[_T]):
    """A compiled regex (or other costly attribute) built on first use, then a plain attribute.

    `Detector.compile` forces every one of them, in definition order.
    """


class Detector:
    """A compiled check. Subclasses set `Params` and implement `run`."""

    name: ClassVar[str]
    Params: ClassVar[type[Params]] = Params

    def __init__(self, params: Any, directory: Path) -> None:
        self.params = params
        self.directory = directory

    def bind(self, peers: dict[str, Detector]) -> None:
        """Resolve references to other criteria's detectors (by criterion id)."""

    def compile(self) -> None:
        """Build every `lazy` attribute now: what validating a rubric file means for its regexes."""
        for name in _lazy_names(type(self)):
            getattr(self, name)

    def run(self, doc: Doc, ctx: Context) -> list[Hit]:
        raise NotImplementedError

    def peer(self, peers: dict[str, Detector], criterion_id: str, kind: type[D]) -> D:
        found = peers.get(criterion_id)
        if not isinstance(found, kind):
            raise LookupError(
                f"needs the criterion {criterion_id!r} (detector {kind.name!r}) to be loaded"
            )
        return found


D = TypeVar("D", bound=Detector)


def _lazy_names(cls: type) -> list[str]:
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        names.extend(n for n, v in vars(klass).items() if isinstance(v, lazy) and n not in names)
    return names


REGISTRY: dict[str, type[Detector]] = {}


def register(cls: type[D]) -> type[D]:
    """Class decorator: make a detector available to rubric files by its `name`."""
    REGISTRY[cls.name] = cls
    return cls


# -- regex helpers ---------------------------------------------------------------------------


def alternation(words: Iterable[str]) -> str:
    """A regex alternation of literal phrases, longest first; spaces match any whitespace."""
    unique = sorted({w.strip() for w in words if w.strip()}, key=lambda w: (-len(w), w))
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in unique) or "(?!)"


# What `lower_source` keeps as it is: an escape (\S, \W, \\), a named group's opening with its
# name, or the "(?P" of any other (?P...) construct.
_KEEP_CASE = re.compile(r"\\.|\(\?P<[^>]*>|\(\?P", re.DOTALL)


def lower_source(pattern: str) -> str:
    """A regex source for lower-cased text: literals lower-cased, escapes (\\S, \\W) kept."""
    out = []
    pos = 0
    for keep in _KEEP_CASE.finditer(pattern):
        out.append(_lower(pattern[pos : keep.start()]))
        out.append(keep.group())
        pos = keep.end()
    out.append(_lower(pattern[pos:]))
    return "".join(out)


def _lower(text: str) -> str:
    # Character by character, as the pattern is matched: `str.lower` on a run would turn a
    # word-final capital sigma into "ς" where the character alone gives "σ".
    if "Σ" in text:
        return "".join(c.lower() for c in text)
    return text.lower()


def ci(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """Compile a case-insensitive pattern to run on `Doc.lower`.

    Python's `re.IGNORECASE` is several times slower on long alternations; matching a
    lower-cased copy of the text (same offsets) with a lower-cased pattern is not.
    """
    return re.compile(lower_source(pattern), flags)


def words_re(words: Iterable[str]) -> re.Pattern[str]:
    """Whole-word match of any phrase in `words`, for `Doc.lower`."""
    return ci(rf"(?<![\w'’-])(?:{alternation(words)})(?![\w'’-])")


_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def expand(pattern: str, fragments: dict[str, str]) -> str:
    """Fill ``{name}`` placeholders in a regex fragment from `fragments` (recursively)."""

    def fill(match: re.Match[str]) -> str:
        name = match[1]
        if name not in fragments:
            return match[0]
        return f"(?:{expand(fragments[name], fragments)})"

    return _PLACEHOLDER.sub(fill, pattern)


def compile_any(
    patterns: Iterable[str], fragments: dict[str, str] | None = None
) -> re.Pattern[str]:
    """One case-insensitive regex (for `Doc.lower`) matching any of several fragments."""
    parts = [expand(p, fragments or {}) for p in patterns if p.strip()]
    return ci("|".join(f"(?:{p})" for p in parts) or "(?!)")


def read_word_file(path: Path) -> frozenset[str]:
    """A word list file: one entry a line, ``#`` comments, compared case-insensitively."""
    words = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            words.add(line.casefold())
    return frozenset(words)


def first_in(
    pattern: re.Pattern[str], doc: Doc, spans: list[tuple[int, int]]
) -> re.Match[str] | None:
    """The first match of a case-insensitive `pattern` inside any of `spans`, in text order."""
    for start, end in spans:
        match = pattern.search(doc.lower, start, end)
        if match:
            return match
    return None


def cached(doc: Doc, key: Hashable, compute: Callable[[], _T]) -> _T:
    """Compute an analysis once per draft, shared by every criterion that needs it."""
    try:
        value: _T = doc.cache[key]
    except KeyError:
        value = doc.cache[key] = compute()
    return value
