"""Bench: `storycoach review --all` over 16 stories against a slow loopback model server.

Run by hand (not a test):  .venv/bin/python bench/bench_llm_bulk.py [--stories 16] [--delay 1]

What it measures, all in one run on this machine:
  * start-up: `storycoach --help` wall time (median of 3), the floor of any command;
  * bulk wall time of `storycoach review --all --json` with `OPENAI_BASE_URL` pointing at a
    loopback OpenAI-compatible server that answers each request after `--delay` seconds.
    Target: 1.3 x ceil(stories / concurrency) x delay + start-up (requests must overlap);
  * requests per draft (target exactly 1) and the most requests in flight at once;
  * a second run: every draft unchanged, so the cache should answer (target 0 requests);
  * instruction size per review: the server counts the characters of the system + user
    messages it received minus the draft between the <draft> tags, divided by 4 (the usual
    chars-per-token estimate; tiktoken is not a dependency). Target <= 2,000 tokens. The JSON
    schema in `response_format` is billed as input too and is reported separately.

Everything runs in a temp dir (bank, app dir, HOME); nothing touches the user's bank or the
network. Exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The loopback model server is a test double: it lives with the tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fake_openai_server import FakeOpenAI

PEOPLE = ["Priya Raman", "Marcus Chen", "Ana Souza", "Kenji Sato", "Fatima Okafor", "Lena Berg"]
TOPICS = [
    ("the cache rewrite", "p99 latency", "900 ms", "300 ms"),
    ("the Kafka migration", "consumer lag", "40 minutes", "2 minutes"),
    ("the payments retry policy", "double charges", "120 a week", "3 a week"),
    ("the on-call rotation", "pages per week", "35", "9"),
    ("the schema contract", "broken dashboards", "12 a month", "1 a month"),
    ("the ad frequency cap", "over-delivery", "6%", "1.5%"),
    ("the build pipeline", "CI time", "48 minutes", "14 minutes"),
    ("the feature-flag cleanup", "stale flags", "410", "60"),
]


def story(i: int) -> dict[str, object]:
    """A plausible, distinct story (distinct text, so no two share a cache key)."""
    topic, metric, before, after = TOPICS[i % len(TOPICS)]
    who = PEOPLE[i % len(PEOPLE)]
    month = f"2024-{(i % 12) + 1:02d}"
    return {
        "title": f"Pushed back on {topic} (#{i + 1})",
        "situation": f"In {month} our {metric} was {before} on the platform team (story {i + 1}).",
        "task": f"I owned {metric} and had to decide what to do about {topic}.",
        "action": (
            f"I wrote a design doc comparing two options for {topic}, raised my objection "
            f"with {who} in the design review and proposed a two-week experiment."
        ),
        "result": f"We ran the experiment; {metric} went from {before} to {after} in a month.",
        "when": month,
        "people": [{"name": who, "role": "staff engineer"}],
        "level": "E5",
    }


def run(cmd: list[str], env: dict[str, str], check: bool = True) -> tuple[float, int, str]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if check and proc.returncode not in (0, 1):
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"{' '.join(cmd[2:])} failed with exit code {proc.returncode}")
    return elapsed, proc.returncode, proc.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=16)
    parser.add_argument("--delay", type=float, default=1.0, help="server delay per request (s)")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    storycoach = [sys.executable, "-m", "storycoach"]
    with (
        tempfile.TemporaryDirectory(prefix="storycoach-bench-") as tmp,
        FakeOpenAI(delay=args.delay) as server,
    ):
        root = Path(tmp)
        (root / "home").mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "STORYCOACH_"))}
        env.update(
            HOME=str(root / "home"),
            XDG_CONFIG_HOME=str(root / "home" / ".config"),
            STORYCOACH_DB=str(root / "bank.db"),
            OPENAI_BASE_URL=server.base_url,
            STORYCOACH_MODEL="bench-local-model",
            STORYCOACH_CONCURRENCY=str(args.concurrency),
            NO_COLOR="1",
        )

        startup = statistics.median(run([*storycoach, "--help"], env)[0] for _ in range(3))

        export = root / "stories.json"
        stories = [story(i) for i in range(args.stories)]
        export.write_text(json.dumps({"version": 1, "stories": stories, "questions": []}))
        run([*storycoach, "import", str(export)], env)

        launched = time.perf_counter()
        wall, code, out = run([*storycoach, "review", "--all", "--json"], env)
        first_request = min(server.arrivals) - launched if server.arrivals else float("nan")
        last_request = max(server.arrivals) - launched if server.arrivals else float("nan")
        first_requests = len(server.requests)
        results = json.loads(out) if out.strip() else []
        results = results if isinstance(results, list) else [results]
        scored = sum(1 for r in results if r.get("llm"))
        max_in_flight = server.max_in_flight

        cached_wall, _, _ = run([*storycoach, "review", "--all", "--json"], env)
        cached_requests = len(server.requests) - first_requests

    waves = math.ceil(args.stories / args.concurrency)
    target = 1.3 * waves * args.delay + startup
    tokens = [math.ceil(c / 4) for c in server.instruction_chars]
    schema = server.requests[0]["response_format"] if server.requests else {}
    schema_tokens = math.ceil(len(json.dumps(schema, separators=(",", ":"))) / 4)

    checks = [
        ("start-up (storycoach --help, median of 3)", f"{startup:.2f} s", None),
        (
            f"review --all: {args.stories} stories, {args.delay:g} s/request, "
            f"concurrency {args.concurrency}",
            f"{wall:.2f} s (exit {code})",
            wall <= target,
        ),
        ("  target 1.3 x ceil(n/c) x delay + start-up", f"{target:.2f} s", None),
        (
            "  first request / last request sent after launch",
            f"{first_request:.2f} s / {last_request:.2f} s",
            None,
        ),
        (
            "  after the last answer (merge, store, print, exit)",
            f"{wall - last_request - args.delay:.2f} s",
            None,
        ),
        ("requests (target: one per story)", str(first_requests), first_requests == args.stories),
        ("reviews with a model score", f"{scored}/{len(results)}", scored == args.stories),
        ("most requests in flight", str(max_in_flight), max_in_flight > 1),
        (
            "second run (unchanged drafts, cache)",
            f"{cached_wall:.2f} s, {cached_requests} requests",
            cached_requests == 0,
        ),
    ]
    if tokens:
        checks.append(
            (
                "instruction tokens per review (server-side chars/4, draft excluded)",
                f"min {min(tokens)} / median {int(statistics.median(tokens))} / max {max(tokens)}",
                max(tokens) <= 2000,
            )
        )
        checks.append(("  + response schema per request (chars/4)", str(schema_tokens), None))

    width = max(len(name) for name, _, _ in checks)
    failed = False
    for name, value, ok in checks:
        mark = "" if ok is None else ("  ok" if ok else "  MISSED")
        failed |= ok is False
        print(f"{name:<{width}}  {value}{mark}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
