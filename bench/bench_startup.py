"""Start-up: `storycoach --help`, `story list`, `review --offline FILE` against `llm --help`.

Target (issue 3): `storycoach review --offline FILE` <= 0.35 x the whole-process time of
`llm --help`, with llm installed in a scratch venv (bench/.venv-llm, created on first run) and
measured in the same run. Also checks that offline commands never import openai.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, median_seconds, storycoach

LLM_VENV = ROOT / "bench" / ".venv-llm"


def llm_command() -> list[str]:
    llm = LLM_VENV / "bin" / "llm"
    if not llm.exists():
        print("installing llm into bench/.venv-llm (first run only) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(LLM_VENV)], check=True)
        subprocess.run([str(LLM_VENV / "bin" / "pip"), "install", "--quiet", "llm"], check=True)
    return [str(llm), "--help"]


def imports_openai(args: list[str], env: dict[str, str]) -> bool:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "storycoach", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    ).stderr
    return any(line.rstrip().endswith(" openai") for line in out.splitlines())


def main() -> None:
    import os

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "STORYCOACH_DB": str(Path(tmp) / "bank.db")}
        env.pop("OPENAI_API_KEY", None)
        env.pop("OPENAI_BASE_URL", None)
        draft = ROOT / "demo" / "drafts" / "strong.md"
        sc = storycoach()
        subprocess.run([*sc, "story", "list"], env=env, capture_output=True)  # create + seed
        rows = {
            "storycoach --help": median_seconds([*sc, "--help"], env=env),
            "storycoach story list": median_seconds([*sc, "story", "list"], env=env),
            "storycoach review --offline FILE": median_seconds(
                [*sc, "review", "--offline", str(draft)], env=env
            ),
            "llm --help": median_seconds(llm_command()),
        }
        for name, seconds in rows.items():
            print(f"{name:<36} {seconds * 1000:7.0f} ms (median of 9)")
        ratio = rows["storycoach review --offline FILE"] / rows["llm --help"]
        print(f"review --offline / llm --help        {ratio:7.2f}x (target <= 0.35x)")
        for args in (["--help"], ["story", "list"], ["review", "--offline", str(draft)]):
            flag = "IMPORTS openai" if imports_openai(args, env) else "no openai import"
            print(f"storycoach {' '.join(args)[:40]:<40} {flag}")


if __name__ == "__main__":
    main()
