"""Precision and recall of the four core rules on blind, hand-labelled corpora.

Each corpus in `tests/corpus/` was written by someone who had not read the rule code; each draft
says which core rules should fire. A rule "fires" when any finding has its id (reviewed with no
question and no level). Every rule must reach the corpus's bar (`THRESHOLD`, else 0.95) in
precision and recall. The table and the misclassified draft ids are printed and attached to
the failure message, so a regression says exactly which drafts moved, except for the blind
corpus: for it only the totals are shown, so that nobody tunes a rule to its drafts.

- `labelled_drafts.toml` (120): the development corpus; the rules were tuned while reading it.
- `holdout_drafts.toml` (60): written later, in rougher voices; measured once blind (figures in
  docs/accuracy.md), then used for general fixes, so it is no longer blind.
- `final_holdout.toml` (50): written last and only measured: never used to change a rule.
- `trust_holdout.toml` (62): issue #8's holdout (hard-wrapped Markdown, terse notes, names in
  many scripts, no-digit outcomes, relative dates); measured once blind (docs/accuracy.md), then
  used for general fixes.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from storycoach.rubric import load_criteria, review_text

CORPORA = Path(__file__).parent / "corpus"
NAMES = ("labelled_drafts", "holdout_drafts", "final_holdout", "trust_holdout")
#: Corpora measured blind: their tables show totals only, never which drafts missed.
BLIND = frozenset({"final_holdout"})
CORE = ("vague-delta", "missing-names", "missing-dates", "collaborator-only")
#: The bar per corpus: 0.95 precision and recall for every core rule, except where a corpus
#: still misses it (see docs/accuracy.md): the blind final holdout, never tuned on, and the
#: issue #8 holdout, whose one remaining miss is a before/after told across two sentences.
THRESHOLD = {"final_holdout": 0.9, "trust_holdout": 0.9}
BAR = 0.95


def _score(corpus: Path) -> tuple[dict[str, tuple[float, float, list[str], list[str]]], int]:
    drafts = tomllib.loads(corpus.read_text(encoding="utf-8"))["draft"]
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


def _table(
    scores: dict[str, tuple[float, float, list[str], list[str]]], total: int, name: str
) -> str:
    lines = [f"core-rule accuracy on {total} labelled drafts ({name})", ""]
    lines.append(f"{'rule':<18} {'precision':>9} {'recall':>7}")
    for rule, (precision, recall, _, _) in scores.items():
        lines.append(f"{rule:<18} {precision:>9.3f} {recall:>7.3f}")
    if name in BLIND:
        lines.append("(blind corpus: totals only)")
        return "\n".join(lines)
    for rule, (_, _, fp, fn) in scores.items():
        if fp or fn:
            lines.append(f"{rule}: false positives {fp or '-'}; false negatives {fn or '-'}")
    return "\n".join(lines)


def _corpus(name: str) -> Path:
    corpus = CORPORA / f"{name}.toml"
    if not corpus.exists():
        pytest.skip(f"the labelled corpus {corpus.name} is not there")
    return corpus


@pytest.mark.parametrize("name", NAMES)
def test_core_rules_reach_the_accuracy_bar(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    by_rule, total = _score(_corpus(name))
    table = _table(by_rule, total, name)
    with capsys.disabled():  # shown even without -s
        print("\n" + table)
    low = [
        f"{rule} precision {p:.3f} recall {r:.3f}"
        for rule, (p, r, _, _) in by_rule.items()
        if p < THRESHOLD.get(name, BAR) or r < THRESHOLD.get(name, BAR)
    ]
    assert not low, f"below the {THRESHOLD.get(name, BAR)} bar: " + "; ".join(low) + "\n" + table


@pytest.mark.parametrize("name", NAMES)
def test_the_corpus_is_the_blind_format(name: str) -> None:
    drafts = tomllib.loads(_corpus(name).read_text(encoding="utf-8"))["draft"]
    assert len(drafts) >= 50
    for draft in drafts:
        assert {"id", "kind", "style", "text", "expect"} <= set(draft)
        assert set(draft["expect"]) <= set(CORE), draft["id"]
