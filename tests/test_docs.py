"""Every command is documented: help text in the CLI, a mention in the README.

After sqlite-utils `tests/test_docs.py`. The command tree is walked from the click command typer
builds, so a command added anywhere in the app is checked without touching this file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main

from storycoach.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"


def _walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        if not getattr(sub, "hidden", False):
            yield from _walk(sub, (*path, name))


ROOT = typer.main.get_command(app)
COMMANDS = list(_walk(ROOT, ()))
TOP_LEVEL = sorted(ROOT.commands)


def _id(path: tuple[str, ...]) -> str:
    return " ".join(("storycoach", *path))


def test_the_tree_has_the_contract_commands() -> None:
    paths = {" ".join(path) for path, _ in COMMANDS}
    expected = {
        "story add",
        "story list",
        "story show",
        "story edit",
        "story rm",
        "story link",
        "story search",
        "questions list",
        "questions show",
        "questions add",
        "markers",
        "export",
        "import",
    }
    assert expected <= paths


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[_id(p) for p, _ in COMMANDS])
def test_every_command_has_help(path: tuple[str, ...], command: Any) -> None:
    text = (command.help or command.short_help or "").strip()
    assert text, f"`{_id(path)}` has no help text"
    assert len(text) >= 10, f"`{_id(path)}` help is too short: {text!r}"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[_id(p) for p, _ in COMMANDS])
def test_every_option_and_argument_has_help(path: tuple[str, ...], command: Any) -> None:
    missing = [
        param.name
        for param in command.params
        if not getattr(param, "hidden", False) and not (getattr(param, "help", None) or "").strip()
    ]
    assert not missing, f"`{_id(path)}`: no help for {missing}"


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=[_id(p) for p, _ in COMMANDS])
def test_help_runs(invoke: Callable, path: tuple[str, ...]) -> None:
    result = invoke(*path, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout
    assert result.stderr == ""


def _commands_section() -> str | None:
    if not README.is_file():
        return None
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Commands[^\n]*\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    return match[1] if match else None


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_every_top_level_command_is_in_the_readme(name: str) -> None:
    section = _commands_section()
    if section is None:
        pytest.skip("README.md has no '## Commands' section yet")
    # `story add`, `storycoach story add` or `export` / `import` in a table or a list
    assert re.search(rf"`(?:storycoach )?{re.escape(name)}\b", section), (
        f"README.md '## Commands' does not document `{name}`"
    )
