"""The bank under load and abuse, with the installed CLI as separate processes (issue #9).

Run by hand (`.venv/bin/python bench/bench_bank_stress.py`); the figures go in
docs/benchmarks.md. Each scenario prints one line; a scenario that misses its target says so.

1. 20 concurrent `story add` on a brand-new bank (first open + migrations + writes);
2. 20 concurrent offline reviews; 3. 20 concurrent model reviews against the loopback
   server (every request it received must be an `llm_calls` row, none pending);
4. SIGINT 2 s after the first request of `review --all` over 20 stories with a hung server
   (concurrency 8): time to exit, exit
   code, requests sent vs recorded, pending rows left, unfinished reviews shown as pass;
5. a hostile front-matter file (alias bomb): time and peak memory to refuse it;
6. import twice = import once; export -> import -> export identical with reviews;
7. a foreign SQLite file byte-for-byte unchanged after every command.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from common import storycoach
from fake_openai_server import FakeOpenAI

N = 20
DRAFT = (
    "---\ntitle: Cache {n}\n---\n## Situation\n\nIn March 2024 checkout p99 was {ms} ms at Acme."
    "\n\n## Action\n\nI wrote a design doc and walked Priya Raman through it.\n\n## Result\n\n"
    "We tuned instead; p99 dropped from {ms} ms to 300 ms in two weeks.\n"
)


def run(args: list[str], db: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "STORYCOACH_DB": str(db), **env}
    return subprocess.run([*storycoach(), *args], capture_output=True, text=True, env=full)


def parallel(n: int, job) -> tuple[list[subprocess.CompletedProcess[str]], float]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=n) as pool:
        results = list(pool.map(job, range(n)))
    return results, time.perf_counter() - start


def count(db: Path, sql: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def story_args(n: int) -> list[str]:
    return [
        "story", "add", "--title", f"Story {n}",
        "--situation", f"In March 2024 checkout p99 was {900 + n} ms at Acme.",
        "--task", "I owned the latency budget.",
        "--action", "I wrote a design doc and walked Priya Raman through it.",
        "--result", "p99 dropped from 900 ms to 300 ms in two weeks.",
    ]  # fmt: skip


def report(name: str, ok: bool, detail: str) -> None:
    print(f"{'ok  ' if ok else 'MISS'} {name}: {detail}", flush=True)


def sigint(tmp: Path) -> None:
    """4. SIGINT during review --all with a hung server."""
    all_db = tmp / "all.db"
    for n in range(N):
        run(story_args(n), all_db)
    with FakeOpenAI(delay=120) as server:
        env = {**os.environ, "STORYCOACH_DB": str(all_db), "OPENAI_BASE_URL": server.base_url}
        proc = subprocess.Popen(
            [*storycoach(), "review", "--all"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # 2 s after the first request left (start-up and `import openai` come first)
        started = time.perf_counter()
        while not server.requests and time.perf_counter() - started < 60:
            time.sleep(0.02)
        time.sleep(2)
        sent_at_signal = len(server.requests)
        signalled = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
        exit_s = time.perf_counter() - signalled
        sent = len(server.requests)
    recorded = count(all_db, "SELECT count(*) FROM llm_calls")
    pending = count(all_db, "SELECT count(*) FROM reviews WHERE llm_status = 'pending'")
    history = json.loads(run(["history", "--json", "--limit", "100"], all_db).stdout)
    as_pass = sum(h["verdict"] == "pass" for h in history if h["llm_status"] != "ok")
    report(
        f"SIGINT 2 s into review --all over {N} stories (hung server)",
        proc.returncode == 130 and exit_s < 2 and sent == recorded and not pending and not as_pass,
        f"exit {proc.returncode} in {exit_s:.2f} s; {sent} requests sent "
        f"({sent_at_signal} at the signal), {recorded} recorded, {pending} pending, "
        f"{as_pass} unfinished shown as pass",
    )


def main(only: set[int]) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bank-stress-"))
    drafts = []
    for n in range(N):
        path = tmp / f"draft-{n}.md"
        path.write_text(DRAFT.format(n=n, ms=900 + n), encoding="utf-8")
        drafts.append(path)

    if only == {4}:
        sigint(tmp)
        return
    # 1. first open + story add
    db = tmp / "new.db"
    results, wall = parallel(N, lambda n: run(story_args(n), db))
    failed = [r for r in results if r.returncode != 0]
    stories = count(db, "SELECT count(*) FROM stories")
    report(
        f"{N} concurrent story add on a new bank",
        not failed and stories == N,
        f"{N - len(failed)}/{N} succeeded, {stories} stories, {wall:.1f} s wall",
    )

    # 2. offline reviews
    results, wall = parallel(N, lambda n: run(["review", "--offline", str(drafts[n])], db))
    failed = [r for r in results if r.returncode not in (0, 1)]
    reviews = count(db, "SELECT count(*) FROM reviews")
    report(
        f"{N} concurrent offline reviews",
        not failed and reviews == N,
        f"{N - len(failed)}/{N} succeeded, {reviews} reviews stored, {wall:.1f} s wall",
    )

    # 3. model reviews
    model_db = tmp / "model.db"
    run(story_args(0), model_db)
    with FakeOpenAI(delay=0.5) as server:
        env = {"OPENAI_BASE_URL": server.base_url}
        results, wall = parallel(
            N, lambda n: run(["review", "--no-cache", str(drafts[n])], model_db, **env)
        )
        sent = len(server.requests)
    failed = [r for r in results if r.returncode not in (0, 1)]
    recorded = count(model_db, "SELECT count(*) FROM llm_calls")
    pending = count(model_db, "SELECT count(*) FROM llm_calls WHERE status = 'pending'")
    report(
        f"{N} concurrent model reviews",
        not failed and sent == recorded and pending == 0,
        f"{N - len(failed)}/{N} succeeded, {sent} requests sent, {recorded} recorded, "
        f"{pending} pending, {wall:.1f} s wall",
    )

    sigint(tmp)

    # 5. hostile front matter
    bomb_levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        bomb_levels.append(f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]")
    bomb = tmp / "bomb.md"
    bomb.write_text("---\n" + "\n".join(bomb_levels) + "\n---\n## Situation\ns\n")
    for args in (["review", "--offline", str(bomb)], ["story", "add", "--from", str(bomb)]):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.perf_counter()
        result = run(args, db)
        elapsed = time.perf_counter() - start
        peak_mb = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
        report(
            f"alias bomb ({bomb.stat().st_size} bytes) through {args[0]} {args[1]}",
            result.returncode == 2 and elapsed < 2 and peak_mb < 200,
            f"exit {result.returncode} in {elapsed:.2f} s, peak RSS of any child so far "
            f"{peak_mb:.0f} MB",
        )

    # 6. transfer
    run(["review", "--offline", "--all"], model_db)
    first, second = tmp / "1.json", tmp / "2.json"
    run(["export", str(first)], model_db)
    fresh = tmp / "fresh.db"
    run(["import", str(first)], fresh)
    once = hashlib.sha256(run(["export"], fresh).stdout.encode()).hexdigest()
    run(["import", str(first)], fresh)
    twice = hashlib.sha256(run(["export"], fresh).stdout.encode()).hexdigest()
    run(["export", str(second)], fresh)
    data = json.loads(first.read_text())
    report(
        "export -> import -> export; import twice",
        first.read_bytes() == second.read_bytes() and once == twice,
        f"{len(data['stories'])} stories, {len(data['reviews'])} reviews, "
        f"{sum(len(r['calls']) for r in data['reviews'])} model calls: files identical "
        f"{first.read_bytes() == second.read_bytes()}, import twice = once {once == twice}",
    )

    # 7. foreign file
    foreign = tmp / "other.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.execute("INSERT INTO notes VALUES ('keep')")
    conn.commit()
    conn.close()
    digest = hashlib.sha256(foreign.read_bytes()).hexdigest()
    commands = [
        ["story", "list"], story_args(1), ["review", "--offline", str(drafts[0])], ["history"],
        ["coverage"], ["export"], ["import", str(first)], ["backup", str(tmp / "b.db")],
        ["doctor"], ["questions", "list"],
    ]  # fmt: skip
    refused = sum(run(c, foreign).returncode == 2 for c in commands)
    same = hashlib.sha256(foreign.read_bytes()).hexdigest() == digest
    report(
        "foreign SQLite file",
        refused == len(commands) and same,
        f"{refused}/{len(commands)} commands refused it, file unchanged: {same}",
    )


if __name__ == "__main__":
    main({int(a) for a in sys.argv[1:]})
