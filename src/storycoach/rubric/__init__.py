"""The deterministic rubric engine: rubric files in, located findings out.

Criteria live as data in ``rubrics/`` (one TOML file each: message, why with its source, examples,
levels, detector params and LLM-judge anchors), so the offline engine and the LLM coach read the
same definitions. Importing this package is cheap: pydantic and the standard library only, and
those only when a name below is first used, so the command line can reach `cache` without them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storycoach.rubric.engine import applicable, review_text
    from storycoach.rubric.loader import clear_cache, load_criteria
    from storycoach.rubric.model import THEMES, Criterion, Example, RubricError, Why

#: Public name -> the module that defines it, imported on first use (PEP 562).
_HOMES = {
    "THEMES": "model",
    "Criterion": "model",
    "Example": "model",
    "RubricError": "model",
    "Why": "model",
    "applicable": "engine",
    "clear_cache": "loader",
    "load_criteria": "loader",
    "review_text": "engine",
}

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


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
