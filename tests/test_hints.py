"""Every command the tool tells a user to run is a command that works (issue #12).

The hints ("Next: ...", "See `storycoach questions list`", "Try: storycoach review draft.md",
the editor template, the report templates) are found in the source, not listed by hand: a hint
added anywhere is checked without touching this file. Each is filled in with real values
(a story id, a question id, a marker slug, a draft file) and run; a click usage error (unknown
command or option, missing argument) fails the test. Domain errors are fine: a hint only has to
be a valid command line.
"""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from helpers import add
from typer.main import get_command
from typer.testing import CliRunner

from storycoach.cli import app

SRC = Path(__file__).resolve().parents[1] / "src" / "storycoach"
ROOT = get_command(app)
_MENTION = re.compile(r"storycoach((?: +(?:[\w.<>{}/-]+|\"[^\"]*\"))+)")
_STOP = {"or", "and", "to", "for", "with", "instead", "then", "is", "the", "in", "as", "a"}
HOLE = "\x00"


def _texts() -> list[tuple[str, str]]:
    """(where, text) for every string the code can print: literals and f-strings (each
    interpolation replaced by HOLE), docstrings left out; plus the report templates."""
    found: list[tuple[str, str]] = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        inside_fstring = {
            id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values
        }
        for node in ast.walk(tree):
            where = f"{path.relative_to(SRC)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.JoinedStr):
                text = "".join(
                    v.value if isinstance(v, ast.Constant) else HOLE for v in node.values
                )
                found.append((where, text))
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and id(node) not in inside_fstring
            ):
                found.append((where, node.value))
    for path in sorted(SRC.rglob("*.html")):
        found.append((str(path.relative_to(SRC)), re.sub(r"<[^>]+>", " ", path.read_text())))
    return found


def _hints() -> list[tuple[str, list[str]]]:
    """(where, argv) for every `storycoach <command> ...` mention the code can print."""
    hints = []
    for where, text in _texts():
        for match in _MENTION.finditer(text.replace(HOLE, "{}")):
            words = shlex.split(match[1])
            argv: list[str] = []
            for word in words:
                if word.lower() in _STOP:
                    break
                bare = word.rstrip(".,;:")  # a sentence goes on after the command
                if bare:
                    argv.append(bare)
                if bare != word:
                    break
            if argv and (argv[0] in ROOT.commands or argv[0].startswith("--")):  # type: ignore[attr-defined]
                hints.append((where, argv))
    return hints


HINTS = _hints()


def test_the_hints_are_found() -> None:
    """The scan itself works: it finds the hints issue #12 was about."""
    lines = {" ".join(argv) for _, argv in HINTS}
    assert "questions list" in lines
    assert "story add --question {}" in lines
    assert "markers" in lines
    assert len(HINTS) >= 10


def _fill(argv: list[str], values: dict[str, str]) -> list[str]:
    """Placeholders (`ID`, `QUESTION`, `{}`...) become real values, chosen by the word before.

    A hint that ends in an option is a prefix the code completes (`story add --from` + the
    recovery file), so it gets a placeholder value too."""
    if argv[-1] in ("--from", "--question", "-q", "--marker", "-m", "--story", "--when"):
        argv = [*argv, "{}"]
    out: list[str] = []
    for i, word in enumerate(argv):
        before = argv[i - 1] if i else ""
        if word in ("{}", "ID", "QUESTION", "SLUG", "FILE", "FILE...", "TEXT", "N", "ROLE"):
            if before in ("--question", "-q") or word == "QUESTION":
                word = values["question"]
            elif before in ("--marker", "-m") or word == "SLUG":
                word = values["marker"]
            elif before == "--from" or word.startswith("FILE"):
                word = values["file"]
            elif before == "--when":
                word = "2024-03"
            elif before == "--role" or word == "ROLE":
                word = "Software Engineer"
            else:
                word = values["story"]
        elif word == "draft.md":
            word = values["file"]
        out.append(word)
    return out


@pytest.mark.parametrize(("where", "argv"), HINTS, ids=[f"{w} {' '.join(a)}" for w, a in HINTS])
def test_every_hint_is_a_command_that_parses_and_runs(
    where: str, argv: list[str], bank: Any, tmp_path: Path
) -> None:
    story = add(bank, "Pushed back on the cache rewrite", "dissented-from-decision")
    draft = tmp_path / "draft.md"
    draft.write_text(
        "---\ntitle: A draft\n---\n## Situation\nIn March 2024 at Acme.\n## Task\nI owned it.\n"
        "## Action\nI wrote the doc with Priya.\n## Result\np99 fell from 900 ms to 300 ms.\n",
        encoding="utf-8",
    )
    values = {
        "story": str(story.id),
        "question": "dissented-from-decision",
        "marker": "farming-for-dissent",
        "file": str(draft),
    }
    args = _fill(argv, values)
    if "--install-completion" in args:
        pytest.skip("installs into the user's shell rc")
    result = CliRunner().invoke(app, args, input="n\n")
    if "--help" in args:
        assert result.exit_code == 0, f"{where}: {args}: {result.output}"
        return
    usage = "Usage:" in result.output or "Try 'storycoach" in result.output
    assert not usage, (
        f"{where}: `storycoach {' '.join(argv)}` is not a valid command:\n{result.output}"
    )
    assert result.exit_code in (0, 1, 2), f"{where}: {args} crashed: {result.exception!r}"
    if result.exit_code == 2:  # a domain error is fine only when it is ours, one clean line
        assert result.stderr.startswith("storycoach: error: "), result.output


def test_setup_leaves_a_working_storycoach_and_the_docs_agree() -> None:
    """The README's set-up, the Makefile and the demo's last hint tell one story: after
    `make install`, the bare `storycoach` of "A first session" is on PATH."""
    repo = SRC.parents[1]
    readme = (repo / "README.md").read_text(encoding="utf-8")
    setup = readme.split("## On a fresh clone")[1].split("## A first session")[0]
    first = readme.split("## A first session")[1].split("## ")[0]
    makefile = (repo / "Makefile").read_text(encoding="utf-8")
    demo = (repo / "demo" / "run_demo.py").read_text(encoding="utf-8")
    assert re.search(r"^install: ", makefile, re.MULTILINE)
    assert "ln -sf $(CURDIR)/$(BIN)/storycoach $(BINDIR)/storycoach" in makefile
    assert "make install" in setup
    assert "After `make install`" in first and "\nstorycoach " in first
    assert "make install" in demo.split("Done.")[1]
    for line in re.findall(r"^storycoach (.+?)(?:\s+#.*)?$", first, re.MULTILINE):
        argv = shlex.split(line)
        assert argv[0] in ROOT.commands, line  # type: ignore[attr-defined]
