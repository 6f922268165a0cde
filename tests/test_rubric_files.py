"""Every rubric file is valid, documented, and its own examples hold.

After proselint's `tests/test_check_examples.py`: each criterion ships at least one bad and one
good example, and the engine must flag every bad one with that rule and leave every good one
alone. A broken rubric file fails with one readable line naming the file and the field.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from storycoach.models import LEVELS, Question, parse_when
from storycoach.resources import resource_dir
from storycoach.rubric import Criterion, Example, RubricError, load_criteria, review_text
from storycoach.rubric.detectors import REGISTRY
from storycoach.rubric.docs import render_markdown

CRITERIA = load_criteria()
ROOT = Path(__file__).resolve().parents[1]
TODAY = date(2025, 6, 1)


def _example_cases() -> list[tuple[Criterion, int, Example]]:
    return [(c, i, e) for c in CRITERIA for i, e in enumerate(c.examples)]


def _review(criterion: Criterion, example: Example) -> list[str]:
    """The rule ids the engine reports for an example, in the context the example needs."""
    question = None
    if criterion.needs_question:
        question = Question(
            id="synthetic-question",
            text="A synthetic question for the rubric examples.",
            themes=criterion.themes[:1],
            markers=example.markers,
        )
    findings = review_text(
        example.text,
        question=question,
        level=example.level,
        story_when=parse_when(example.story_when) if example.story_when else None,
        today=parse_when(example.today) if example.today else TODAY,
        criteria=CRITERIA,
    )
    return [f.rule for f in findings]


@pytest.mark.parametrize(
    ("criterion", "index", "example"),
    _example_cases(),
    ids=[f"{c.id}-{i}-{e.verdict}" for c, i, e in _example_cases()],
)
def test_examples_hold(criterion: Criterion, index: int, example: Example) -> None:
    rules = _review(criterion, example)
    if example.verdict == "bad":
        assert criterion.id in rules, f"bad example {index} of {criterion.id} is not flagged"
    else:
        assert criterion.id not in rules, f"good example {index} of {criterion.id} is flagged"


def test_the_shipped_rubrics_have_the_core_rules_and_more() -> None:
    ids = {c.id for c in CRITERIA}
    assert {"vague-delta", "missing-names", "missing-dates", "collaborator-only"} <= ids
    assert {"missing-result", "story-age", "spoken-length", "culture-marker"} <= ids
    themes = {t for c in CRITERIA for t in c.themes}
    assert {
        "dissent",
        "critical-feedback",
        "ambiguity",
        "influence",
        "partner-incident",
        "reverse-design",
    } <= themes
    core = [c for c in CRITERIA if c.kind == "core"]
    assert [c.severity for c in core] == ["error"] * 4
    assert all(c.severity == "warning" for c in CRITERIA if c.kind == "probe")


@pytest.mark.parametrize("criterion", CRITERIA, ids=[c.id for c in CRITERIA])
def test_each_criterion_is_complete(criterion: Criterion) -> None:
    verdicts = [e.verdict for e in criterion.examples]
    assert "bad" in verdicts and "good" in verdicts
    assert criterion.why.source.strip() and criterion.why.text.strip()
    assert set(criterion.anchors) == {1, 3, 5}
    assert all(text.strip() for text in criterion.anchors.values())
    assert criterion.detector in REGISTRY
    assert set(criterion.levels) <= set(LEVELS)
    assert criterion.path is not None and criterion.path.name == f"{criterion.id}.toml"
    if criterion.severity_by_level:
        assert criterion.level_note.strip()


def test_every_why_source_quotes_the_guide_or_says_it_is_a_convention() -> None:
    """A criterion's `source` is a line from the guide, quoted (checked against the seed)."""
    seed = ROOT.parent / "shared" / "seeds" / "003_d169c9727d985a63.txt"
    if not seed.exists():
        pytest.skip("the guide is not checked out next to the repository")
    guide = seed.read_text(encoding="utf-8")
    for criterion in CRITERIA:
        assert criterion.why.source in guide, criterion.id


def test_levels_change_severity_where_the_guide_says_so() -> None:
    by_id = {c.id: c for c in CRITERIA}
    collab = by_id["collaborator-only"]
    assert collab.severity_for(None) == "error"
    assert collab.severity_for("E4") == "warning"
    assert collab.severity_for("E6") == "error"
    assert by_id["partner-not-escalated"].severity_for("E5") == "error"
    assert by_id["partner-not-escalated"].severity_for("E4") == "warning"
    assert by_id["reverse-design-alternatives"].severity_for("E6") == "error"


def test_the_name_lexicon_is_broad() -> None:
    lexicon = resource_dir("rubrics") / "lexicon"
    names = {
        line.strip().casefold()
        for line in (lexicon / "given-names.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert len(names) > 1000
    # A few from each family of names the list is meant to cover.
    for name in (
        "dana",
        "priya",
        "wei",
        "chinedu",
        "mateo",
        "oksana",
        "yusuf",
        "haruto",
        "aigerim",
    ):
        assert name in names, name


def test_docs_are_current() -> None:
    """docs/rubrics.md is generated; regenerate with `python -m storycoach.rubric.docs`."""
    committed = (ROOT / "docs" / "rubrics.md").read_text(encoding="utf-8")
    assert committed == render_markdown(CRITERIA), (
        "docs/rubrics.md is stale: run `python -m storycoach.rubric.docs > docs/rubrics.md`"
    )


def test_docs_show_each_criterion_with_its_source_and_examples() -> None:
    text = render_markdown(CRITERIA)
    for criterion in CRITERIA:
        assert f"### `{criterion.id}`" in text
        assert criterion.why.source in text
    assert text.count("#### Bad example") >= len(CRITERIA)
    assert text.count("#### Good example") >= len(CRITERIA)


def test_loading_is_cached_per_directory() -> None:
    first = load_criteria()
    second = load_criteria()
    assert first is not second  # callers get their own list ...
    assert [id(c) for c in first] == [id(c) for c in second]  # ... of the same criteria


# -- broken rubric files ----------------------------------------------------------------------


@pytest.fixture
def rubric_copy(tmp_path: Path) -> Path:
    """A private copy of the shipped rubrics that a test may break."""
    target = tmp_path / "rubrics"
    shutil.copytree(resource_dir("rubrics"), target)
    return target


def _break(directory: Path, name: str, old: str, new: str) -> None:
    path = next(directory.rglob(name))
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        (
            "missing-dates.toml",
            'severity = "error"',
            'severity = "fatal"',
            "rubrics/core/missing-dates.toml: severity: Input should be 'error', 'warning'",
        ),
        (
            "missing-dates.toml",
            'severity = "error"',
            'severity = "error"\nseverty = "error"',
            "rubrics/core/missing-dates.toml: severty: unknown field (typo?)",
        ),
        (
            "vague-delta.toml",
            'title = "',
            'titel = "',
            "rubrics/core/vague-delta.toml: title: required field is missing",
        ),
        (
            "story-age.toml",
            'verdict = "good"',
            'verdict = "bad"',
            "rubrics/structure/story-age.toml: examples: needs at least one bad and one good",
        ),
        (
            "missing-names.toml",
            'detector = "names"',
            'detector = "nmaes"',
            "rubrics/core/missing-names.toml: detector: unknown detector 'nmaes'",
        ),
        (
            "story-age.toml",
            "max_months = 18",
            "max_months = -1",
            "rubrics/structure/story-age.toml: params.max_months: Input should be greater than 0",
        ),
        (
            "story-age.toml",
            "max_months = 18",
            "max_monhts = 18",
            "rubrics/structure/story-age.toml: params.max_months: required field is missing; "
            "params.max_monhts: unknown field (typo?)",
        ),
        (
            "feedback-quoted.toml",
            'themes = ["critical-feedback"]',
            'themes = ["critical-feedbak"]',
            "rubrics/probes/feedback-quoted.toml: themes: unknown theme(s)",
        ),
        (
            "collaborator-only.toml",
            '1 = "Only',
            '2 = "Only',
            "rubrics/core/collaborator-only.toml: anchors: needs exactly the scores",
        ),
        (
            "feedback-quoted.toml",
            'kind = "probe"',
            'kind = "probe',
            "rubrics/probes/feedback-quoted.toml: invalid TOML:",
        ),
        (
            "influence-follow-up.toml",
            "'''\\b(?:weeks?",
            "'''\\b(?:(weeks?",
            "rubrics/probes/influence-follow-up.toml: params: error: missing ), unterminated",
        ),
        (
            "missing-names.toml",
            '"lexicon/given-names.txt"',
            '"lexicon/given-nmaes.txt"',
            "rubrics/core/missing-names.toml: params: cannot read a word list",
        ),
        (
            "story-age.toml",
            'dates_from = "missing-dates"',
            'dates_from = "missing-date"',
            "rubrics/structure/story-age.toml: params: needs the criterion 'missing-date'",
        ),
    ],
    ids=[
        "bad-enum",
        "unknown-key",
        "missing-key",
        "no-good-example",
        "unknown-detector",
        "bad-param-value",
        "param-typo",
        "unknown-theme",
        "bad-anchors",
        "bad-toml",
        "bad-regex",
        "missing-word-list",
        "unknown-peer",
    ],
)
def test_a_broken_rubric_is_one_readable_error(
    rubric_copy: Path, name: str, old: str, new: str, expected: str
) -> None:
    _break(rubric_copy, name, old, new)
    with pytest.raises(RubricError) as caught:
        load_criteria(rubric_copy)
    message = str(caught.value)
    assert message.startswith(expected), message
    assert "\n" not in message
    assert "pydantic" not in message and "errors.pydantic.dev" not in message


def test_duplicate_ids_are_an_error(rubric_copy: Path) -> None:
    shutil.copy(rubric_copy / "core" / "missing-dates.toml", rubric_copy / "probes" / "dup.toml")
    with pytest.raises(RubricError, match=r"rubrics/probes/dup.toml: id: 'missing-dates' is alre"):
        load_criteria(rubric_copy)


def test_an_empty_rubric_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RubricError, match="no rubric files"):
        load_criteria(tmp_path)


def test_a_tuned_copy_changes_the_rule_without_code(rubric_copy: Path) -> None:
    """Rules are tuned by editing data: widen the story-age window in the file, and it applies."""
    text = "In March 2023 I disagreed with Marcus about the cache design."
    shipped = review_text(text, today=TODAY, criteria=load_criteria())
    assert "story-age" in [f.rule for f in shipped]
    _break(rubric_copy, "story-age.toml", "max_months = 18", "max_months = 36")
    tuned = review_text(text, today=TODAY, criteria=load_criteria(rubric_copy))
    assert "story-age" not in [f.rule for f in tuned]
