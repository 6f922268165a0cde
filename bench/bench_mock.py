"""The mock round, offline: how long the interviewer takes to answer back.

In process: the README's worked round (a weak first answer, four follow-ups) through
`storycoach.mock.Round`, timing each answer's review-and-next-ask and the debrief with the
improved draft (which re-reviews sentences to find the closing ones). Whole process:
`storycoach mock QUESTION --answers ... --offline --json`, median of 9.
Target: the next follow-up appears well under the ~100 ms a person perceives as instant. The
whole-process time is shown next to `review --offline FILE` measured in the same run.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, median_seconds, storycoach

sys.path.insert(0, str(ROOT / "src"))

QUESTION = "disagree-data-architecture"
ANSWERS = [
    "My manager and I disagreed about the design. We talked and agreed. It went well.",
    "Dana Whitfield, our engineering manager. She said the Kafka pipeline had to ship first.",
    "It was in August 2026.",
    "I decided to keep the batch pipeline for billing, and I wrote a two-page doc comparing "
    "both designs for Dana before the design review.",
    "Late invoices fell from 40 a month to 3 a month by October 2026.",
]


def in_process(runs: int = 50) -> tuple[float, float]:
    from storycoach.bank import Bank
    from storycoach.mock import Round
    from storycoach.rubric import load_criteria

    bank = Bank.open(":memory:")
    question = bank.question(QUESTION)
    criteria = load_criteria()
    turn_times: list[float] = []
    debrief_times: list[float] = []
    for _ in range(runs):
        rnd = Round(question, "E5", criteria, rounds=4)
        ask = rnd.first_ask()
        for text in ANSWERS:
            start = time.perf_counter()
            rnd.answer(ask, text)
            nxt = rnd.next_ask()
            turn_times.append(time.perf_counter() - start)
            if nxt is None:
                break
            ask = nxt
        start = time.perf_counter()
        rnd.debrief()
        rnd.verdicts()
        rnd.review(rnd.offline_draft())
        debrief_times.append(time.perf_counter() - start)
    return statistics.median(turn_times), statistics.median(debrief_times)


def main() -> None:
    turn, debrief = in_process()
    print(f"{'answer -> next follow-up (in process)':<44} {turn * 1000:7.2f} ms (median)")
    print(f"{'debrief + draft + its review (in process)':<44} {debrief * 1000:7.2f} ms (median)")
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for index, text in enumerate(ANSWERS, 1):
            path = Path(tmp) / f"a{index}.md"
            path.write_text(text + "\n", encoding="utf-8")
            paths.append(str(path))
        env = {**os.environ, "STORYCOACH_DB": str(Path(tmp) / "bank.db")}
        env.pop("OPENAI_API_KEY", None)
        env.pop("OPENAI_BASE_URL", None)
        cmd = [*storycoach(), "mock", QUESTION, "--level", "E5", "--rounds", "4", "--offline",
               "--json", "--answers", *paths]  # fmt: skip
        whole = median_seconds(cmd, env=env)
        review = median_seconds([*storycoach(), "review", "--offline", paths[0]], env=env)
        print(f"{'storycoach mock --answers (5) --json':<44} {whole * 1000:7.0f} ms (median of 9)")
        print(f"{'review --offline FILE (same run)':<44} {review * 1000:7.0f} ms (median of 9)")


if __name__ == "__main__":
    main()
