"""The language server's pure parts: positions in every encoding, front matter, settings, and
that no other command pays for pygls."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from storycoach.lsp.analysis import (
    ServerSettings,
    analyze,
    front_matter_key,
    in_scope,
)
from storycoach.lsp.positions import LineIndex, units

TEXT = "ab\ncafé 🚀 東京 done\r\nlast\n"


@pytest.mark.parametrize(("encoding", "expected"), [("utf-16", 10), ("utf-8", 17), ("utf-32", 9)])
def test_units_per_encoding(encoding: str, expected: int) -> None:
    assert units("café 🚀 東京", encoding) == expected


def test_positions_round_trip_in_every_encoding() -> None:
    index = LineIndex(TEXT)
    done = TEXT.index("done")
    assert index.position(done, "utf-16") == (1, 11)  # é is 1 unit, 🚀 2, 東京 1 each
    assert index.position(done, "utf-8") == (1, 18)
    assert index.position(done, "utf-32") == (1, 10)
    for encoding in ("utf-16", "utf-8", "utf-32"):
        for offset in range(len(TEXT) + 1):
            if TEXT[offset - 1 : offset] == "\r":
                continue  # inside a CRLF: not a place a client can name
            line, character = index.position(offset, encoding)
            assert index.offset_at(line, character, encoding) == offset, (encoding, offset)


def test_finding_offsets_and_line_ends() -> None:
    index = LineIndex(TEXT)
    assert index.offset(2, 6) == TEXT.index("🚀")  # 1-based code-point column
    assert index.line_end(1) == TEXT.index("\r")  # a CRLF line ends before the CR
    assert index.offset(2, 99) == TEXT.index("\r")  # clamped to its line
    assert index.offset(99, 1) == len(TEXT)
    assert index.line_span(1).end == (1, 15)


def test_locate_prefers_the_quote_at_its_place_then_the_nearest() -> None:
    text = "we fixed it\nthen we fixed it again\n"
    index = LineIndex(text)
    second = text.index("we fixed", 5)
    assert index.locate(2, 6, "we fixed") == (second, second + 8)
    # A quote that moved (the text changed since): the occurrence nearest the old place.
    assert index.locate(2, 1, "we fixed") == (second, second + 8)
    assert index.locate(1, 4, None) == (3, 11)  # no quote: to the end of its line
    assert index.locate(None, None, "x") == (-1, -1)


@pytest.mark.parametrize(
    ("line", "key"),
    [(1, "question"), (2, "level"), (4, "markers"), (5, "markers"), (6, None), (7, None)],
)
def test_front_matter_key(line: int, key: str | None) -> None:
    lines = ["---", "question: a", "level: E5", "markers:", "  - keeper-test", "  - ", "---"]
    lines += ["body: x", ""]
    assert front_matter_key(lines, line) == key


def test_no_front_matter_no_key() -> None:
    assert front_matter_key(["## Situation", "level: x"], 1) is None


def test_settings_accept_editor_spelling_and_reject_bad_values() -> None:
    settings = ServerSettings.model_validate(
        {"level": "e6", "storyFolders": ["stories"], "debounceMs": 50, "unknown": 1}
    )
    assert settings.level == "E6"
    assert settings.story_folders == ["stories"]
    assert ServerSettings.model_validate({"debounce_ms": 0}).debounce_ms == 0
    with pytest.raises(ValidationError):
        ServerSettings.model_validate({"level": "E9"})


def test_story_folders_scope(tmp_path: Path) -> None:
    settings = ServerSettings(story_folders=["stories"])
    assert in_scope(tmp_path / "stories" / "a.md", settings, [tmp_path])
    assert not in_scope(tmp_path / "README.md", settings, [tmp_path])
    assert in_scope(tmp_path / "README.md", ServerSettings(), [tmp_path])


def test_analysis_of_an_empty_file_says_nothing(bank: Any) -> None:
    analysis = analyze(bank, "  \n", "new.md", ServerSettings())
    assert analysis.result is None and analysis.notes == []


def test_unknown_default_question_is_one_note(bank: Any) -> None:
    analysis = analyze(bank, "We shipped it.\n", "d.md", ServerSettings(question="nope"))
    assert analysis.result is None
    [note] = analysis.notes
    assert note.severity == "error" and "nope" in note.message


def _imported(*args: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "storycoach", *args],
        capture_output=True,
        text=True,
        input="## Situation\nWe shipped it.\n",
    )
    return {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in out.stderr.splitlines()}


@pytest.mark.parametrize("args", [("--help",), ("lsp", "--help"), ("review", "--offline", "-")])
def test_only_the_server_imports_pygls(args: tuple[str, ...]) -> None:
    modules = _imported(*args)
    assert "storycoach" in modules
    assert not modules & {"pygls", "lsprotocol", "cattrs"}, args
