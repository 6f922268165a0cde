"""Layers point down: the core never imports the CLI libraries, and offline commands never
read the model settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

DRAFT = """## Situation

In March 2024 our checkout p99 was 900 ms on the payments team.

## Action

I wrote a design doc and showed it to Priya Raman, our staff engineer.

## Result

p99 dropped from 900 ms to 300 ms within two weeks.
"""


def test_the_core_imports_no_cli_library() -> None:
    core = [
        "storycoach.settings",
        "storycoach.paths",
        "storycoach.bank",
        "storycoach.reviewing",
        "storycoach.coverage",
        "storycoach.linking",
        "storycoach.practice",
        "storycoach.history",
        "storycoach.levels",
        "storycoach.coach",
        "storycoach.rubric",
        "storycoach.report.coverage",
        "storycoach.lsp.server",
    ]
    # Not click: sqlite-utils imports it for its own command line.
    code = (
        f"import sys, {', '.join(core)}\n"
        "storycoach.settings.load_settings()\n"
        "print(' '.join(m for m in ('typer', 'rich', 'openai') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == []


@pytest.mark.parametrize("command", [["review", "--offline"], ["practice", "--offline"]])
def test_offline_commands_ignore_a_broken_config_file(
    invoke: Any, tmp_path: Path, command: list[str]
) -> None:
    config = tmp_path / "config" / "storycoach" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('modle = "gpt-4.1"\n')  # a typo: an unknown setting

    draft = tmp_path / "draft.md"
    draft.write_text(DRAFT)
    args = [*command, str(draft)] if command[0] == "review" else command
    result = invoke(*args, input=None if command[0] == "review" else DRAFT)
    assert result.exit_code in (0, 1), result.stderr
    assert "Keeper Test" in result.stdout
    assert "config" not in result.stderr

    # The same file still breaks a run that would use the model, with one clear line.
    result = invoke("review", str(draft))
    assert result.exit_code == 2
    assert "unknown setting 'modle'" in result.stderr
