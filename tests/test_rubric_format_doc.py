"""rubrics/README.md, the rubric file format, is generated from the models the loader uses."""

from __future__ import annotations

from pathlib import Path

from storycoach.rubric.detectors import REGISTRY
from storycoach.rubric.format_doc import render_format
from storycoach.rubric.model import Criterion

ROOT = Path(__file__).resolve().parents[1]


def test_rubrics_readme_is_current() -> None:
    committed = (ROOT / "rubrics" / "README.md").read_text(encoding="utf-8")
    assert committed == render_format(), (
        "rubrics/README.md is stale: run "
        "`python -m storycoach.rubric.format_doc > rubrics/README.md` (or make docs)"
    )


def test_it_names_every_field_and_every_detector_parameter() -> None:
    text = render_format()
    for name in Criterion.model_fields:
        assert f"| `{name}` |" in text
    for name, detector in REGISTRY.items():
        assert f"### `{name}`" in text
        for param in detector.Params.model_fields:
            assert f"| `{param}` |" in text, (name, param)
