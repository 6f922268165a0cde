"""Precision of the probe and structure rules: strong answers raise no error.

`tests/data/strong_answers.toml` holds strong answers (several per probe theme), each doing
what its question's probes ask in its own words. Reviewed against their question at their
level (E5 unless said otherwise), no probe or structure rule may raise an error; warnings are
counted and printed, as are per-rule false errors.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path

import pytest

from storycoach.bank import Bank
from storycoach.rubric import load_criteria, review_text

CORPUS = Path(__file__).parent / "data" / "strong_answers.toml"
ANSWERS = tomllib.loads(CORPUS.read_text(encoding="utf-8"))["answer"]


@pytest.fixture(scope="module")
def questions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    bank = Bank.open(tmp_path_factory.mktemp("strong") / "bank.db")
    return {a["question"]: bank.question(a["question"]) for a in ANSWERS}


def _kinds() -> dict[str, str]:
    return {c.id: c.kind for c in load_criteria()}


def test_the_set_is_large_and_covers_every_probe_theme(questions: dict[str, object]) -> None:
    assert len(ANSWERS) >= 40
    themes = Counter(t for a in ANSWERS for t in questions[a["question"]].themes)  # type: ignore[attr-defined]
    probe_themes = {t for c in load_criteria() if c.kind == "probe" for t in c.themes}
    assert all(themes[t] >= 3 for t in probe_themes), themes


def test_no_probe_or_structure_rule_raises_an_error_on_a_strong_answer(
    questions: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    kinds = _kinds()
    errors: Counter[str] = Counter()
    warnings: Counter[str] = Counter()
    failed = []
    for answer in ANSWERS:
        findings = review_text(
            answer["text"],
            question=questions[answer["question"]],  # type: ignore[arg-type]
            level=answer.get("level", "E5"),
            criteria=load_criteria(),
        )
        for f in findings:
            if kinds.get(f.rule) not in ("probe", "structure"):
                continue
            if f.severity == "error":
                errors[f.rule] += 1
                failed.append(f"{answer['id']}: {f.rule}: {f.quote or f.message[:60]}")
            elif f.severity == "warning":
                warnings[f.rule] += 1
    rules = sorted(c for c, k in kinds.items() if k in ("probe", "structure"))
    table = [f"probe/structure rules on {len(ANSWERS)} strong answers", ""]
    table.append(f"{'rule':<28} {'false errors':>12} {'warnings':>9}")
    table += [f"{r:<28} {errors[r]:>12} {warnings[r]:>9}" for r in rules]
    with capsys.disabled():
        print("\n" + "\n".join(table))
    assert not failed, "\n".join(failed)
