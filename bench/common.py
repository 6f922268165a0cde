"""Shared helpers for the hand-run benchmarks in bench/ (never run in CI)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def median_seconds(cmd: list[str], runs: int = 9, env: dict[str, str] | None = None) -> float:
    """Whole-process wall time, median of `runs` after one warm-up."""
    full_env = {**os.environ, **(env or {})}
    subprocess.run(cmd, capture_output=True, env=full_env, cwd=ROOT)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, env=full_env, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def storycoach() -> list[str]:
    return [str(BIN / "storycoach")]
