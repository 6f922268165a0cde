"""The deterministic rubric engine: rubric files in, located findings out.

Criteria live as data in ``rubrics/`` (one TOML file each: message, why with its source, examples,
levels, detector params and LLM-judge anchors), so the offline engine and the LLM coach read the
same definitions. Importing this package is cheap: pydantic and the standard library only.
"""

from storycoach.rubric.engine import applicable, review_text
from storycoach.rubric.loader import clear_cache, load_criteria
from storycoach.rubric.model import THEMES, Criterion, Example, RubricError, Why

__all__ = [
    "THEMES",
    "Criterion",
    "Example",
    "RubricError",
    "Why",
    "applicable",
    "clear_cache",
    "load_criteria",
    "review_text",
]
