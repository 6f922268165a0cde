"""Offline review throughput: 1,000 drafts of ~300 words in one process (target <= 1 s).

Drafts are generated from varied sentence pools (names, dates, deltas, we/I framing mixed
at random with a fixed seed) so the engine sees different text each time, not one string.
"""

from __future__ import annotations

import random
import time

from storycoach.rubric import load_criteria, review_text

OPENERS = [
    "In March 2024 our checkout service started timing out during the evening peak.",
    "Last year the team was asked to migrate the billing jobs off a legacy scheduler.",
    "A few months ago a partner team's deploy broke token validation for our API.",
    "During Q3 2023 I noticed the nightly ETL was silently dropping late events.",
]
MIDDLES = [
    "I profiled the hot path with Priya Raman and found a lock held across a network call.",
    "We discussed options with the team and agreed to try a different approach.",
    "My manager asked me to look into it, so we looked at the dashboards together.",
    "I wrote a design doc comparing three options and presented it to Marcus Lee.",
    "The team decided to roll back and we worked on a fix over the next sprint.",
    "I proposed a canary rollout in Spinnaker and ran it on 5% of traffic for two days.",
    "Kafka consumer lag grew to 40 minutes, and the on-call rotation of 8 engineers was paged.",
    "I pushed back in the design review because the replay showed a 40% cross-AZ hop.",
]
RESULTS = [
    "p99 latency fell from 900 ms to 310 ms and pages dropped from 12 to 2 a week.",
    "Things improved a lot and everyone was happy with the outcome.",
    "We saved $40,000 a month in compute and cut the job from 6 hours to 45 minutes.",
    "It went well and I learned to communicate better.",
    "Since then I write a design doc before any change above 200 lines.",
]


def make_draft(rng: random.Random) -> str:
    sentences = [rng.choice(OPENERS)]
    while sum(len(s.split()) for s in sentences) < 280:
        sentences.append(rng.choice(MIDDLES))
    sentences.append(rng.choice(RESULTS))
    return " ".join(sentences)


def main() -> None:
    rng = random.Random(7)
    drafts = [make_draft(rng) for _ in range(1000)]
    words = sum(len(d.split()) for d in drafts) / len(drafts)
    criteria = load_criteria()
    review_text(drafts[0], criteria=criteria)  # warm caches and compiled patterns
    start = time.perf_counter()
    findings = sum(len(review_text(d, criteria=criteria)) for d in drafts)
    elapsed = time.perf_counter() - start
    print(
        f"reviewed {len(drafts)} drafts of ~{words:.0f} words in {elapsed:.3f} s "
        f"({elapsed / len(drafts) * 1000:.2f} ms each, {findings} findings; target <= 1 s)"
    )


if __name__ == "__main__":
    main()
