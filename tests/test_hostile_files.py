"""Hostile story files are refused in bounded time and memory, with one error line.

The timed figures (< 2 s, < 200 MB per hostile file) are measured by
`bench/bench_bank_stress.py`; here the refusal itself, and one real process's peak memory.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from storycoach.errors import StorycoachError
from storycoach.storyfile import (
    MAX_FRONT_MATTER_NODES,
    decode_text,
    load_front_matter,
    split_front_matter,
)

BODY = "## Situation\ns\n## Task\nt\n## Action\na\n## Result\nr\n"


def alias_bomb(levels: int = 9) -> str:
    """The billion-laughs shape: ~400 bytes that expand to 9**9 strings if aliases resolve."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    names = "abcdefghijklmnop"
    for i in range(1, levels):
        ref = f"*{names[i - 1]}"
        lines.append(f"{names[i]}: &{names[i]} [{','.join([ref] * 9)}]")
    return "\n".join(lines) + "\ntitle: x\n"


HOSTILE_FRONT = {
    "alias bomb": (alias_bomb(), "anchors or aliases"),
    "one anchor": ("title: &t x\nteam: *t\n", "anchors or aliases"),
    "anchor without alias": ("title: &t x\n", "anchors or aliases"),
    "too many nodes": (
        "tags: [" + ",".join("x" for _ in range(MAX_FRONT_MATTER_NODES + 1)) + "]\n",
        "more than",
    ),
    "too deep": ("title: " + "[" * 500 + "]" * 500 + "\n", "nested more than"),
    "too large": ("title: " + "x" * 20_000 + "\n", "too long"),
    "huge integer": ("level: " + "9" * 5000 + "\n", "malformed front matter"),
    "not a mapping": ("- a\n- b\n", "key: value"),
}


@pytest.mark.parametrize(("front", "fragment"), HOSTILE_FRONT.values(), ids=HOSTILE_FRONT.keys())
def test_hostile_front_matter_is_refused(front: str, fragment: str) -> None:
    with pytest.raises(StorycoachError, match=fragment):
        split_front_matter(f"---\n{front}---\n{BODY}", "draft.md")


def test_ordinary_front_matter_still_loads() -> None:
    meta = load_front_matter(
        "title: Pushed back\nwhen: 2024-03\npeople: [Priya Raman (PM)]\ntags: [a, b]\n"
    )
    assert meta == {
        "title": "Pushed back",
        "when": "2024-03",
        "people": ["Priya Raman (PM)"],
        "tags": ["a", "b"],
    }


def test_nul_anywhere_is_refused() -> None:
    late = b"---\ntitle: x\n---\n" + b"s" * 20_000 + b"\x00"
    with pytest.raises(StorycoachError, match="NUL byte at offset 20017"):
        decode_text(late, "draft.md")
    with pytest.raises(StorycoachError, match="binary"):
        decode_text(b"\x00abc", "draft.md")


@pytest.mark.parametrize("command", [["review", "--offline"], ["story", "add", "--from"]])
@pytest.mark.parametrize("front", [alias_bomb(), "title: &t x\nteam: *t\n"], ids=["bomb", "alias"])
def test_the_cli_refuses_hostile_files_with_one_line(
    command: list[str],
    front: str,
    invoke: Callable,
    expect_error: Callable,
    db_counts: Callable,
    story_file: Callable,
) -> None:
    path = story_file(text=f"---\n{front}---\n{BODY}")
    before = db_counts()
    expect_error(invoke(*command, path), "anchors or aliases")
    assert db_counts() == before


def test_a_real_process_refuses_the_bomb_in_bounded_memory(tmp_path: Path) -> None:
    draft = tmp_path / "bomb.md"
    draft.write_text(f"---\n{alias_bomb()}---\n{BODY}", encoding="utf-8")
    env = {**os.environ, "STORYCOACH_DB": str(tmp_path / "bank.db")}
    result = subprocess.run(
        [sys.executable, "-m", "storycoach", "review", "--offline", str(draft)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "anchors or aliases" in result.stderr
    assert peak_kb < 200 * 1024  # the peak of any child so far (KB on Linux), this one included
