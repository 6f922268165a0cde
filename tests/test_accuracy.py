"""Precision and recall of the four core rules on the blind, hand-labelled corpus.

`tests/corpus/labelled_drafts.toml` was written without reading the rule code; each draft says
which core rules should fire. A rule "fires" when any finding has its id (reviewed with no
question and no level). Every rule must reach 0.9 precision and 0.9 recall. The table and the
misclassified draft ids are printed and attached to the failure message, so a regression says
exactly which drafts moved.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from storycoach.rubric import load_criteria, review_text

CORPUS = Path(__file__).parent / "corpus" / "labelled_drafts.toml"
CORE = ("vague-delta", "missing-names", "missing-dates", "collaborator-only")
THRESHOLD = 0.9


def _score() -> tuple[dict[str, tuple[float, float, list[str], list[str]]], int]:
    drafts = tomllib.loads(CORPUS.read_text(encoding="utf-8"))["draft"]
    criteria = load_criteria()
    counts = {r: {"tp": 0, "fp": [], "fn": []} for r in CORE}
    for draft in drafts:
        fired = {f.rule for f in review_text(draft["text"], criteria=criteria)}
        expected = set(draft["expect"])
        for rule in CORE:
            if rule in fired and rule in expected:
                counts[rule]["tp"] += 1  # type: ignore[operator]
            elif rule in fired:
                counts[rule]["fp"].append(draft["id"])  # type: ignore[union-attr]
            elif rule in expected:
                counts[rule]["fn"].append(draft["id"])  # type: ignore[union-attr]
    scores = {}
    for rule, c in counts.items():
        tp, fp, fn = c["tp"], c["fp"], c["fn"]
        precision = tp / (tp + len(fp)) if tp + len(fp) else 1.0  # type: ignore[operator, arg-type]
        recall = tp / (tp + len(fn)) if tp + len(fn) else 1.0  # type: ignore[operator, arg-type]
        scores[rule] = (precision, recall, fp, fn)  # type: ignore[assignment]
    return scores, len(drafts)


def _table(scores: dict[str, tuple[float, float, list[str], list[str]]], total: int) -> str:
    lines = [f"core-rule accuracy on {total} labelled drafts", ""]
    lines.append(f"{'rule':<18} {'precision':>9} {'recall':>7}")
    for rule, (precision, recall, _, _) in scores.items():
        lines.append(f"{rule:<18} {precision:>9.3f} {recall:>7.3f}")
    for rule, (_, _, fp, fn) in scores.items():
        if fp or fn:
            lines.append(f"{rule}: false positives {fp or '-'}; false negatives {fn or '-'}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def scores() -> tuple[dict[str, tuple[float, float, list[str], list[str]]], int]:
    if not CORPUS.exists():
        pytest.skip(f"the labelled corpus {CORPUS.name} is not there yet")
    return _score()


def test_core_rules_reach_the_accuracy_bar(
    scores: tuple[dict[str, tuple[float, float, list[str], list[str]]], int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    by_rule, total = scores
    table = _table(by_rule, total)
    with capsys.disabled():  # shown even without -s
        print("\n" + table)
    low = [
        f"{rule} precision {p:.3f} recall {r:.3f}"
        for rule, (p, r, _, _) in by_rule.items()
        if p < THRESHOLD or r < THRESHOLD
    ]
    assert not low, "below the 0.9 bar: " + "; ".join(low) + "\n" + table


def test_the_corpus_is_the_blind_format() -> None:
    if not CORPUS.exists():
        pytest.skip(f"the labelled corpus {CORPUS.name} is not there yet")
    drafts = tomllib.loads(CORPUS.read_text(encoding="utf-8"))["draft"]
    assert len(drafts) >= 50
    for draft in drafts:
        assert {"id", "kind", "style", "text", "expect"} <= set(draft)
        assert set(draft["expect"]) <= set(CORE), draft["id"]
