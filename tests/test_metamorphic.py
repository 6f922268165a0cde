"""Metamorphic tests over every labelled corpus: the same answer, written differently, gets the
same core findings.

Each draft is re-wrapped at 40, 60, 72 and 100 columns, given CRLF line ends, and has every
named person swapped for names from `tests/data/names.toml` (252 names, 18 cultures and
scripts); drafts with nobody named get a sentence of place and product traps instead. The core
findings (`vague-delta`, `missing-names`, `missing-dates`, `collaborator-only`) must not change.
And no answer of one sentence passes.
"""

from __future__ import annotations

import random
import re
import textwrap
import tomllib
from functools import cache
from pathlib import Path

import pytest

from storycoach.rubric import load_criteria, review_text
from storycoach.rubric.names import find_people

HERE = Path(__file__).parent
CORPORA = [*sorted((HERE / "corpus").glob("*.toml")), HERE / "data" / "strong_answers.toml"]
CORE = ("vague-delta", "missing-names", "missing-dates", "collaborator-only")
WIDTHS = (40, 60, 72, 100)
# A line that opens a block of its own in Markdown or in STAR notes.
_BLOCK = re.compile(r"^\s*(?:[-*•+]\s|\d{1,3}[.)]\s|#|>|\*\*[^*]+\*\*\s*$|[A-Za-z ]{1,20}:(\s|$))")


@cache
def _names() -> dict[str, list[str]]:
    data = tomllib.loads((HERE / "data" / "names.toml").read_text(encoding="utf-8"))
    return {"names": [n for group in data["names"].values() for n in group], **data["traps"]}


def _drafts() -> list[tuple[str, str]]:
    found = []
    for corpus in CORPORA:
        data = tomllib.loads(corpus.read_text(encoding="utf-8"))
        for draft in data.get("draft") or data.get("answer") or []:
            found.append((f"{corpus.stem}:{draft['id']}", draft["text"]))
    return found


DRAFTS = _drafts()


def _core(text: str) -> set[str]:
    return {f.rule for f in review_text(text, criteria=load_criteria()) if f.rule in CORE}


def _closed(first: str) -> bool:
    """A heading or a bare label ("A:", "**Result**") takes no continuation lines."""
    first = first.strip()
    return first.startswith("#") or (
        _BLOCK.match(first) is not None and first.endswith((":", "**"))
    )


def rewrap(text: str, width: int) -> str:
    """Re-wrap every paragraph and list item at `width`, as an editor would."""
    blocks: list[list[str]] = []
    for line in text.strip("\n").split("\n"):
        if not line.strip():
            blocks.append([])
        elif not blocks or not blocks[-1] or _BLOCK.match(line) or _closed(blocks[-1][0]):
            blocks.append([line])
        else:
            blocks[-1].append(line)
    out = []
    for block in blocks:
        if not block:
            out.append("")
            continue
        joined = " ".join(part.strip() for part in block)
        indent = re.match(r"\s*(?:[-*•+]\s+|\d{1,3}[.)]\s+)?", block[0]).group()
        out.append(
            textwrap.fill(
                joined,
                width,
                subsequent_indent=" " * len(indent),
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return "\n".join(out) + "\n"


def swap_people(text: str, seed: str) -> str:
    """Every named person swapped for another name; nobody named: add place and product traps."""
    rng = random.Random(seed)
    spans = find_people(text)
    pool = _names()
    if not spans:
        a, b = rng.sample(pool["places"], 2)
        product = rng.choice(pool["products"])
        day = rng.choice(pool["days"])
        return text.rstrip() + f"\n\nThe {product} cluster moved from {a} to {b} after {day}.\n"
    chosen: dict[str, str] = {}
    for start, end in spans:
        name = text[start:end]
        if name not in chosen:
            words = len(name.split())
            options = [n for n in pool["names"] if (len(n.split()) > 1) == (words > 1)]
            chosen[name] = rng.choice(options)
    # Each word of a swapped name is swapped wherever it stands ("June Okafor ... June agreed").
    words: dict[str, str] = {}
    for old, new in chosen.items():
        old_parts, new_parts = old.split(), new.split()
        words.setdefault(old, new)
        if len(old_parts) > 1:
            for i, part in enumerate(old_parts):
                words.setdefault(part, new_parts[min(i, len(new_parts) - 1)])
    pattern = re.compile(
        r"(?<![\w'’-])(?:"
        + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        + r")(?![\w-])"
    )
    return pattern.sub(lambda m: words[m.group()], text)


@pytest.mark.parametrize(("key", "text"), DRAFTS, ids=[k for k, _ in DRAFTS])
def test_core_findings_survive_rewrapping_crlf_and_name_swaps(key: str, text: str) -> None:
    expected = _core(text)
    variants = {f"wrap{w}": rewrap(text, w) for w in WIDTHS}
    variants["crlf"] = text.replace("\n", "\r\n")
    variants["names"] = swap_people(text, key)
    variants["names+wrap40"] = rewrap(variants["names"], 40)
    changed = {name: sorted(_core(v) ^ expected) for name, v in variants.items()}
    changed = {name: diff for name, diff in changed.items() if diff}
    assert not changed, f"{key}: findings moved {changed}\n{variants.get('names')}"


def test_the_names_list_is_broad() -> None:
    data = tomllib.loads((HERE / "data" / "names.toml").read_text(encoding="utf-8"))
    assert len(data["names"]) >= 15
    assert sum(len(group) for group in data["names"].values()) >= 200


def _first_sentence(text: str) -> str:
    """The draft's first sentence (or first line, for notes without full stops)."""
    first = next(line for line in text.strip().split("\n\n") if line.strip())
    flat = " ".join(first.split())
    match = re.search(r"[.!?](?:\s|$)", flat)
    sentence = flat[: match.end()] if match else flat
    return " ".join(sentence.split()[:50])


@pytest.mark.parametrize(("key", "text"), DRAFTS[::5], ids=[k for k, _ in DRAFTS[::5]])
def test_no_one_line_answer_passes(key: str, text: str) -> None:
    line = _first_sentence(text)
    findings = review_text(line, criteria=load_criteria())
    assert any(f.severity == "error" for f in findings), f"{key}: {line!r} passes"
