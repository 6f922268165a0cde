"""Coverage map at scale: 5,000 stories x 500 questions (target: <= 1 s beyond start-up).

Builds a throwaway bank in a temp dir through the public import API (one transaction), with
story text drawn from a Zipf-like vocabulary of ~250 words per story and a random mix of links
so that gaps, thin and covered questions all occur. Then times, in process, loading the records
and `compute_coverage` (BM25 suggestions included), and, as whole processes,
`storycoach coverage --json` against `storycoach --help` (the start-up floor).
Run by hand: `python bench/bench_coverage.py` (also part of `make bench`).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from common import median_seconds, storycoach

from storycoach.bank import Bank
from storycoach.coverage import compute_coverage

N_STORIES = 5000
N_QUESTIONS = 500
WORDS_PER_STORY = 250
#: Fixed, so that in process and as a subprocess the same questions are gap or thin.
TODAY = date(2025, 6, 1)

TOPICS = [
    "dissent design review architecture decision pushed back senior engineer evidence",
    "production outage rollback incident postmortem blameless action items owners pager",
    "ambiguity undefined goal success metric prototype interviews committed deferred",
    "critical feedback manager behavior change design doc escalation delta",
    "product decision pm designer performance ceiling security exposure experiment",
    "partner team deploy broke service mitigation communication root cause",
    "migration platform library spec client teams upgrade cadence coordination",
    "latency cache eviction memory p99 throughput capacity regional failover",
    "hiring mentoring onboarding junior engineer growth promotion calibration",
    "data pipeline late events backfill schema contract kafka consumer lag",
]
_FILLER = (
    "team project service users weeks quarter launch customers dashboard budget roadmap "
    "review meeting proposal tradeoff risk plan estimate deadline support oncall alert "
    "metric cost savings reliability quality scope stakeholder leadership context ownership"
)
FILLER = _FILLER.split()


def vocabulary(rng: random.Random) -> list[str]:
    """Topic words plus ~3,000 rare synthetic words: a long tail like real prose."""
    rare = [
        "".join(rng.choice("bcdfghjklmnprstvz") + rng.choice("aeiou") for _ in range(3))
        for _ in range(3000)
    ]
    return FILLER + rare


def story(rng: random.Random, vocab: list[str], qids: list[str], month: int) -> dict:
    topic = rng.choice(TOPICS).split()
    words = []
    weights = [1.0 / (i + 1) for i in range(len(vocab))]
    words = rng.choices(vocab, weights=weights, k=WORDS_PER_STORY - 40)
    words += rng.choices(topic, k=40)
    rng.shuffle(words)
    text = " ".join(words)
    quarter = len(text) // 4
    # Links go to the first 150 questions only: the other 350 are gaps, the worst case for
    # suggestions (every gap question is scored against every story).
    links = rng.sample(qids[:150], k=rng.choice([0, 0, 0, 0, 0, 0, 1, 1, 2]))
    year, mon = divmod(month, 12)
    return {
        "title": " ".join(rng.sample(topic, 4)).capitalize(),
        "situation": text[:quarter],
        "task": text[quarter : 2 * quarter],
        "action": text[2 * quarter : 3 * quarter],
        "result": text[3 * quarter :],
        "when": None if rng.random() < 0.1 else f"{year:04d}-{mon + 1:02d}",
        "tags": rng.sample(topic, 2),
        "questions": links,
        "retired": rng.random() < 0.05,
    }


def build(path: Path) -> None:
    rng = random.Random(11)
    vocab = vocabulary(rng)
    bank = Bank.open(path)
    slugs = bank.marker_slugs()
    seeded = bank.question_ids()
    questions = []
    for i in range(N_QUESTIONS - len(seeded)):
        topic = rng.choice(TOPICS).split()
        questions.append(
            {
                "id": f"bench-q-{i:04d}",
                "text": "Tell me about a time you handled " + " ".join(rng.sample(topic, 5)),
                "roles": [rng.choice(["Software Engineer", "Data Engineer", "Cloud Engineer"])],
                "tags": rng.sample(topic, 2),
                "markers": rng.sample(slugs, 2),
                "levels": rng.sample(["E4", "E5", "E6"], 2),
                "probes": [" ".join(rng.sample(topic, 6)) for _ in range(3)],
            }
        )
    qids = seeded + [q["id"] for q in questions]
    start_month = 2021 * 12
    stories = [story(rng, vocab, qids, start_month + rng.randrange(54)) for _ in range(N_STORIES)]
    bank.import_data({"version": 1, "stories": stories, "questions": questions})
    bank.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bank.db"
        t0 = time.perf_counter()
        build(db)
        print(
            f"built bank: {N_STORIES} stories, {N_QUESTIONS} questions "
            f"in {time.perf_counter() - t0:.1f} s"
        )

        bank = Bank.open(db)
        t0 = time.perf_counter()
        records = (bank.questions(), bank.markers(), bank.stories(), bank.latest_verdicts())
        t_load = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = compute_coverage(*records, today=TODAY, suggest=False)
        t_status = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = compute_coverage(*records, today=TODAY)
        t_full = time.perf_counter() - t0
        summary = {s: report.count(s) for s in ("gap", "thin", "covered")}
        print(f"statuses: {summary}; suggestions for {len(report.weak())} questions")
        print(f"load records (bank.questions/markers/stories/verdicts) {t_load * 1000:7.0f} ms")
        print(f"compute_coverage, statuses only                        {t_status * 1000:7.0f} ms")
        print(f"compute_coverage, with BM25 suggestions               {t_full * 1000:7.0f} ms")
        print(
            f"load + compute (in process)                            "
            f"{(t_load + t_full) * 1000:7.0f} ms (target <= 1000 ms)"
        )

        env = {**os.environ, "STORYCOACH_DB": str(db)}
        env.pop("OPENAI_API_KEY", None)
        sc = storycoach()
        probe = subprocess.run([*sc, "coverage", "--help"], capture_output=True, env=env)
        if probe.returncode == 0:
            cmd = [*sc, "coverage", "--json", "--today", TODAY.isoformat()]
        else:  # not registered yet: the same app with the command added
            cmd = [
                sys.executable,
                "-c",
                "from storycoach.cli import app; from storycoach.cli.coverage import coverage; "
                "app.command('coverage')(coverage); app(prog_name='storycoach')",
                "coverage",
                "--json",
                "--today",
                TODAY.isoformat(),
            ]
        check = subprocess.run(cmd, capture_output=True, env=env, text=True)
        assert check.returncode == 0 and '"questions"' in check.stdout, check.stderr[-500:]
        help_s = median_seconds([*sc, "--help"], runs=5, env=env)
        cov_s = median_seconds(cmd, runs=5, env=env)
        print(f"storycoach --help (start-up)                           {help_s * 1000:7.0f} ms")
        print(f"storycoach coverage --json (whole process)             {cov_s * 1000:7.0f} ms")
        print(
            f"coverage beyond start-up                               "
            f"{(cov_s - help_s) * 1000:7.0f} ms (target <= 1000 ms)"
        )


if __name__ == "__main__":
    main()
