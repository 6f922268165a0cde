"""Where shipped data lives: inside the wheel, or at the repository top level in a checkout.

`rubrics/` and `prompts/` sit at the top of the repository so they read as data, and the wheel
carries them inside the package (pyproject `force-include`). An editable install sees neither
copy through `importlib.resources`, so we fall back to the checkout.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@cache
def resource_dir(name: str) -> Path:
    """The directory of shipped `rubrics`, `prompts` or `data`."""
    for candidate in (_PACKAGE / name, _PACKAGE.parent.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"storycoach is missing its {name}/ directory (broken install?)")
