"""Tab completion and help: how long a <TAB> and `--help` take, whole process.

A completion runs on every <TAB>, so it must feel instant: target <= 150 ms, measured against
a bank of 200 stories (story ids complete with their titles). Also checks that completing
never imports openai and never creates a missing bank.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, median_seconds, storycoach

TARGET_MS = 150


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bank = Path(tmp) / "bank.db"
        env = {**os.environ, "STORYCOACH_DB": str(bank)}
        for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
            env.pop(key, None)
        sc = storycoach()
        story = ROOT / "demo" / "stories"
        files = sorted(story.glob("*.md"))
        for i in range(200):
            subprocess.run(
                [*sc, "story", "add", "--from", str(files[i % len(files)])],
                env=env, capture_output=True, check=True,
            )  # fmt: skip

        def complete(*words: str, shell: str = "bash") -> dict[str, str]:
            line = " ".join(("storycoach", *words))
            return {
                **env,
                "_STORYCOACH_COMPLETE": f"complete_{shell}",
                "COMP_WORDS": line,
                "COMP_CWORD": str(len(words)),
                "_TYPER_COMPLETE_ARGS": line,
            }

        rows = {
            "storycoach --help": median_seconds([*sc, "--help"], env=env),
            "<TAB> storycoach questions show push": median_seconds(
                sc, env=complete("questions", "show", "push")
            ),
            "<TAB> storycoach story show (200 ids, zsh titles)": median_seconds(
                sc, env=complete("story", "show", "", shell="zsh")
            ),
            "<TAB> storycoach review --level E": median_seconds(
                sc, env=complete("review", "--level", "E")
            ),
        }
        for name, seconds in rows.items():
            mark = "" if name.startswith("storycoach") else (
                "  ok" if seconds * 1000 <= TARGET_MS else f"  over {TARGET_MS} ms"
            )  # fmt: skip
            print(f"{name:<50} {seconds * 1000:6.0f} ms (median of 9){mark}")

        missing = Path(tmp) / "none" / "bank.db"
        trace = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "storycoach"],
            env={**complete("story", "show", ""), "STORYCOACH_DB": str(missing)},
            capture_output=True, text=True, cwd=ROOT,
        ).stderr  # fmt: skip
        imports = any(line.rstrip().endswith(" openai") for line in trace.splitlines())
        print(f"completion imports openai: {'YES' if imports else 'no'}")
        print(f"completion created a missing bank: {'YES' if missing.exists() else 'no'}")


if __name__ == "__main__":
    main()
