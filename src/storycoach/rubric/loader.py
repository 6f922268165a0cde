"""Load rubric files: TOML -> validated `Criterion` -> compiled detector, once per directory.

Modelled on simonw/llm's template loading: each file is parsed into a strict pydantic model and
any problem becomes one readable `RubricError` naming the file and the field, so a broken rubric
is fixed in seconds instead of silently disabling a rule.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from storycoach.rubric.detectors import REGISTRY, Detector
from storycoach.rubric.model import Criterion, RubricError

#: Folders under the rubric directory that hold word lists, not criteria.
DATA_DIRS = frozenset({"lexicon"})


def load_criteria(directory: Path | None = None) -> list[Criterion]:
    """Every criterion in `directory` (default: the shipped rubrics), cached per directory."""
    if directory is None:
        from storycoach.resources import resource_dir

        directory = resource_dir("rubrics")
    return list(_load(Path(directory).resolve()))


def clear_cache() -> None:
    """Forget loaded rubrics (tests that edit rubric files call this)."""
    _load.cache_clear()


@lru_cache(maxsize=16)
def _load(directory: Path) -> tuple[Criterion, ...]:
    if not directory.is_dir():
        raise RubricError(f"rubric directory not found: {directory}")
    files = sorted(
        path
        for path in directory.rglob("*.toml")
        if not DATA_DIRS.intersection(path.relative_to(directory).parts[:-1])
    )
    if not files:
        raise RubricError(f"no rubric files (*.toml) in {directory}")
    criteria: list[Criterion] = []
    seen: dict[str, Path] = {}
    for path in files:
        criterion = _load_file(path, directory)
        if criterion.id in seen:
            raise RubricError(
                f"{_label(path, directory)}: id: {criterion.id!r} is already defined in "
                f"{_label(seen[criterion.id], directory)}"
            )
        seen[criterion.id] = path
        criteria.append(criterion)
    peers = {c.id: c.runner for c in criteria}
    for criterion in criteria:
        try:
            criterion.runner.bind(peers)
        except LookupError as error:
            raise RubricError(f"{_label(criterion.path, directory)}: params: {error}") from None
    order = {"core": 0, "structure": 1, "probe": 2}
    criteria.sort(key=lambda c: (order[c.kind], c.id))
    return tuple(criteria)


def _load_file(path: Path, directory: Path) -> Criterion:
    label = _label(path, directory)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise RubricError(f"{label}: invalid TOML: {error}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise RubricError(f"{label}: cannot read: {error}") from None
    try:
        criterion = Criterion.model_validate(data)
    except ValidationError as error:
        raise RubricError(f"{label}: {_describe(error)}") from None
    detector_cls = REGISTRY.get(criterion.detector)
    if detector_cls is None:
        known = ", ".join(sorted(REGISTRY))
        raise RubricError(
            f"{label}: detector: unknown detector {criterion.detector!r} (known: {known})"
        )
    try:
        params = detector_cls.Params.model_validate(criterion.params)
    except ValidationError as error:
        raise RubricError(f"{label}: {_describe(error, prefix='params')}") from None
    try:
        runner: Detector = detector_cls(params, directory)
    except OSError as error:
        raise RubricError(f"{label}: params: cannot read a word list: {error}") from None
    except Exception as error:  # a bad regex fragment, most likely
        raise RubricError(f"{label}: params: {type(error).__name__}: {error}") from None
    criterion._path = path
    criterion._runner = runner
    return criterion


def _label(path: Path | None, directory: Path) -> str:
    if path is None:
        return str(directory)
    return str(Path(directory.name) / path.relative_to(directory))


def _describe(error: ValidationError, prefix: str = "") -> str:
    """Pydantic errors as ``field.path: message``, joined on one line."""
    parts = []
    for item in error.errors():
        loc = [prefix] if prefix else []
        for part in item["loc"]:
            if isinstance(part, int) and loc:
                loc[-1] = f"{loc[-1]}[{part}]"
            else:
                loc.append(str(part))
        where = ".".join(loc)
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            message = "required field is missing"
        elif item["type"] == "extra_forbidden":
            message = "unknown field (typo?)"
        elif not item["loc"] and ": " in message:
            # A whole-file check names its own field: "examples: needs at least one ...".
            field, message = message.split(": ", 1)
            where = ".".join([*loc, field])
        parts.append(f"{where or '(file)'}: {message}")
    return "; ".join(_unique(parts))


def _unique(items: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    return [i for i in items if not (i in seen or seen.add(i))]
