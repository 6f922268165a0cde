"""The README demo: a throwaway bank with sample stories, reviewed, then the coverage map.

Run through `make demo`. Each step prints the command it runs, so you can repeat it by hand
against the same bank: `export STORYCOACH_DB=demo-bank/bank.db`.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BANK = ROOT / "demo-bank" / "bank.db"
# Exit codes that are part of the story: 1 is a failing verdict, 3 a model failure.
EXPECTED = {0, 1, 3}


def run(*args: str) -> int:
    print(f"\n$ storycoach {shlex.join(args)}", flush=True)
    code = subprocess.call([sys.executable, "-m", "storycoach", *args], cwd=ROOT)
    if code not in EXPECTED:
        sys.exit(f"demo step failed with exit code {code}")
    return code


def has_command(name: str) -> bool:
    out = subprocess.run(
        [sys.executable, "-m", "storycoach", "--help"], capture_output=True, text=True, cwd=ROOT
    ).stdout
    return f" {name} " in out


def main() -> None:
    BANK.parent.mkdir(exist_ok=True)  # storycoach creates directories only for its default bank
    for suffix in ("", "-wal", "-shm"):
        Path(f"{BANK}{suffix}").unlink(missing_ok=True)
    os.environ["STORYCOACH_DB"] = str(BANK)
    os.environ.setdefault("COLUMNS", "110")
    print(f"Demo story bank: {BANK.relative_to(ROOT)}")

    for story in sorted((ROOT / "demo" / "stories").glob("*.md")):
        run("story", "add", "--from", str(story.relative_to(ROOT)))
    run("story", "list")
    run("questions", "show", "dissented-from-decision")

    print("\n--- A weak draft: vague, unnamed, undated, all 'we' ---")
    run("review", "demo/drafts/weak.md")
    print("\n--- The same story, told strongly ---")
    run("review", "demo/drafts/strong.md", "--level", "E5")
    run("review", "--all")
    run("history", "--limit", "5")
    if has_command("coverage"):
        run("coverage")
    bank = BANK.relative_to(ROOT)
    print(
        "\nDone. To get a `storycoach` command on your PATH, run: make install\n"
        f"Then explore the demo bank: STORYCOACH_DB={bank} storycoach --help\n"
        f"(or without installing: STORYCOACH_DB={bank} .venv/bin/storycoach --help)"
    )


if __name__ == "__main__":
    main()
