"""Tab completion: every id-like argument and option completes from the bank (issue #12).

Tests call the completion entry point the shell calls (`_STORYCOACH_COMPLETE=complete_bash`
with COMP_WORDS/COMP_CWORD, or complete_zsh with _TYPER_COMPLETE_ARGS) and check candidates.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import add
from typer.testing import CliRunner

from storycoach.cli import app


def bash(*words: str) -> list[str]:
    """Candidates bash would offer for the last word of `storycoach WORDS...`."""
    line = " ".join(("storycoach", *words))
    env = {
        "_STORYCOACH_COMPLETE": "complete_bash",
        "COMP_WORDS": line,
        "COMP_CWORD": str(len(words)),
    }
    result = CliRunner().invoke(app, [], env=env, prog_name="storycoach")
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def zsh(*words: str) -> str:
    env = {"_STORYCOACH_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": " ".join(words)}
    result = CliRunner().invoke(app, [], env=env, prog_name="storycoach")
    assert result.exit_code == 0, result.output
    return result.stdout


def test_question_ids_complete_with_their_text(bank: Any) -> None:
    ids = [i for i in bank.question_ids() if i.startswith("push")]
    assert ids
    assert bash("questions", "show", "push") == ids
    assert bash("story", "add", "--question", "push") == ids
    assert bash("story", "list", "-q", "push") == ids
    question = bank.question(ids[0])
    assert question.text[:30] in zsh("storycoach", "questions", "show", "push")


def test_marker_slugs_roles_and_levels_complete(bank: Any) -> None:
    assert bash("questions", "list", "--marker", "keeper") == ["keeper-test"]
    assert bash("story", "link", "1", "-m", "farming") == ["farming-for-dissent"]
    assert "Software Engineer" in bash("questions", "list", "--role", "Soft")
    assert bash("story", "add", "--level", "E") == ["E3", "E4", "E5", "E6", "E7"]


def test_rubric_ids_complete() -> None:
    found = bash("rubrics", "show", "missing-")
    assert {"missing-dates", "missing-names"} <= set(found)
    assert all(c.startswith("missing-") for c in found)


def test_story_ids_complete_with_titles(bank: Any) -> None:
    first = add(bank, "Pushed back on the cache rewrite")
    second = add(bank, "Led the outage review", tags=["infra"])
    assert sorted(bash("story", "show", "")) == sorted([str(first.id), str(second.id)])
    assert "Led the outage review" in zsh("storycoach", "story", "show", "")
    assert bash("story", "list", "--tag", "in") == ["infra"]


def test_completion_never_creates_or_migrates_a_missing_bank(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nowhere" / "bank.db"
    monkeypatch.setenv("STORYCOACH_DB", str(missing))
    assert bash("questions", "list", "--marker", "keeper") == ["keeper-test"]
    assert [c for c in bash("story", "show", "") if c] == []
    assert not missing.exists()
    assert not missing.parent.exists()


def test_completion_reads_the_bank_named_by_db(bank: Any, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    from storycoach.bank import Bank

    theirs = Bank.open(other)
    add(theirs, "Only in the other bank")
    theirs.close()
    assert "Only in the other bank" in zsh("storycoach", "--db", str(other), "story", "show", "")


def test_completion_does_not_import_the_model_sdk(tmp_path: Path) -> None:
    code = (
        "import sys, os\n"
        "os.environ.update(_STORYCOACH_COMPLETE='complete_bash',"
        " COMP_WORDS='storycoach questions show push', COMP_CWORD='3')\n"
        "from storycoach.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('openai' in sys.modules)\n"
    )
    env = {**os.environ, "STORYCOACH_DB": str(tmp_path / "none.db")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.splitlines()[-1] == "False", out.stdout + out.stderr


@pytest.mark.parametrize(
    ("shell", "rc", "other"), [("zsh", ".zshrc", ".bashrc"), ("bash", ".bashrc", ".zshrc")]
)
def test_install_completion_installs_for_the_shell_asked(
    shell: str, rc: str, other: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Path(os.environ["HOME"])  # the test's own, from conftest
    monkeypatch.setenv("SHELL", "/bin/bash" if shell == "zsh" else "/bin/zsh")
    result = CliRunner().invoke(app, ["--install-completion", shell], prog_name="storycoach")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{shell} completion installed")
    assert (home / rc).is_file()
    assert not (home / other).exists()


def test_show_completion_prints_the_script_for_the_shell_asked() -> None:
    result = CliRunner().invoke(app, ["--show-completion", "zsh"], prog_name="storycoach")
    assert result.exit_code == 0
    assert "compdef" in result.stdout
    assert "complete_zsh" in result.stdout
