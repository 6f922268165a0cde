"""Load rubric files: TOML -> validated `Criterion` -> compiled detector, once per directory.

Modelled on simonw/llm's template loading: each file is parsed into a strict pydantic model and
any problem becomes one readable `RubricError` naming the file and the field, so a broken rubric
is fixed in seconds instead of silently disabling a rule.

Validating is most of the cost of a short command, so when the disk cache is on
(`storycoach.rubric.cache`) a directory whose files have not changed since they were last
validated is rebuilt from the cached, already validated data, and its detectors compile their
regexes on first use instead of all at load.
"""

from __future__ import annotations

import sys
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from storycoach.errors import describe
from storycoach.rubric import cache
from storycoach.rubric.detectors import REGISTRY, Detector
from storycoach.rubric.detectors.base import D, Params
from storycoach.rubric.model import Criterion, Example, FollowUp, RubricError, Why

#: Folders under the rubric directory that hold word lists, not criteria.
DATA_DIRS = frozenset({"lexicon"})


def load_criteria(directory: Path | None = None) -> list[Criterion]:
    """Every criterion in `directory` (default: the shipped rubrics), cached per directory."""
    if directory is None:
        from storycoach.resources import resource_dir

        directory = resource_dir("rubrics")
    return list(_load(Path(directory).resolve()))


def detector_of(criterion_id: str, kind: type[D]) -> D:
    """The compiled detector of one shipped criterion, checked to be of `kind`: how the name
    finder and the grader check reach the rules they share with the engine."""
    for criterion in load_criteria():
        if criterion.id == criterion_id and isinstance(criterion.runner, kind):
            return criterion.runner
    raise LookupError(f"the {criterion_id!r} rubric ({kind.name!r} detector) is not loaded")


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
    key = _fingerprint(directory) if cache.directory is not None else None
    cache_name = f"rubrics-{_digest(str(directory).encode())[:16]}.json"
    criteria = _from_cache(cache.read(cache_name, key), directory) if key else None
    validated = criteria is None
    if criteria is None:
        criteria = []
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
    # Stored only if no file changed while it was read: else the key would not match the data.
    if validated and key and _fingerprint(directory) == key:
        payload = _to_cache(criteria, directory)
        if payload is not None:
            cache.write(cache_name, key, payload)
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
        raise RubricError(f"{label}: {describe(error)}") from None
    detector_cls = REGISTRY.get(criterion.detector)
    if detector_cls is None:
        known = ", ".join(sorted(REGISTRY))
        raise RubricError(
            f"{label}: detector: unknown detector {criterion.detector!r} (known: {known})"
        )
    try:
        params = detector_cls.Params.model_validate(criterion.params)
    except ValidationError as error:
        raise RubricError(f"{label}: {describe(error, prefix='params')}") from None
    runner = _runner(detector_cls, params, path, directory, compile=True)
    criterion._path = path
    criterion._runner = runner
    return criterion


def _runner(
    detector_cls: type[Detector], params: Params, path: Path, directory: Path, *, compile: bool
) -> Detector:
    """Build the detector; `compile` builds its regexes now, which validates them."""
    label = _label(path, directory)
    try:
        runner = detector_cls(params, directory)
        if compile:
            runner.compile()
    except OSError as error:
        raise RubricError(f"{label}: params: cannot read a word list: {error}") from None
    except Exception as error:  # a bad regex fragment, most likely
        raise RubricError(f"{label}: params: {type(error).__name__}: {error}") from None
    return runner


def _label(path: Path | None, directory: Path) -> str:
    if path is None:
        return str(directory)
    return str(Path(directory.name) / path.relative_to(directory))


# -- the disk cache ---------------------------------------------------------------------------
#
# An entry holds, per criterion in load order, its file (relative to the directory), the
# validated `Criterion` and the validated detector params, each as its field values plus the
# fields the file set. Rebuilding uses `model_construct`: no validation and no schema build,
# which is the point, and safe because the key says these exact files were validated by this
# exact code. Values are JSON, with dicts and models tagged so int keys and nesting survive.

_FORMAT = "storycoach-rubric-cache 1"


def _digest(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _fingerprint(directory: Path) -> str | None:
    """A hash of everything a validated load depends on: every file in the rubric directory
    (criteria and word lists), the rubric and record code, and the Python and pydantic
    versions. Content, not modification times: an edit within the same second still counts.
    None when a file cannot be read: then the load validates (and reports it) as usual."""
    try:
        return _hash_inputs(directory)
    except OSError:
        return None


def _hash_inputs(directory: Path) -> str:
    import hashlib

    import pydantic
    import pydantic_core

    here = Path(__file__).resolve().parent
    code = [*sorted(here.rglob("*.py")), here.parent / "models.py"]
    versions = [_FORMAT, sys.version, pydantic.VERSION, pydantic_core.__version__, str(directory)]
    digest = hashlib.sha256("\0".join(versions).encode())
    for base, paths in ((here.parent, code), (directory, _files(directory))):
        for path in paths:
            data = path.read_bytes()
            name = path.relative_to(base).as_posix()
            digest.update(f"\0{name}\0{len(data)}\0".encode())
            digest.update(data)
    return digest.hexdigest()


def _files(directory: Path) -> list[Path]:
    return sorted(path for path in directory.rglob("*") if path.is_file())


def _to_cache(criteria: list[Criterion], directory: Path) -> dict[str, Any] | None:
    try:
        entries = [
            {
                "path": c.path.relative_to(directory).as_posix(),  # type: ignore[union-attr]
                "criterion": _encode(c),
                "params": _encode(c.runner.params),
            }
            for c in criteria
        ]
    except (TypeError, ValueError):  # a value JSON cannot hold (a TOML date in params, say)
        return None
    return {"criteria": entries}


def _from_cache(payload: Any, directory: Path) -> list[Criterion] | None:
    """The criteria of a cache entry with unbuilt detectors, or None when it does not fit."""
    if payload is None:
        return None
    models = _models()
    try:
        loaded = []
        for entry in payload["criteria"]:
            path = directory / entry["path"]
            criterion = _decode(entry["criterion"], models)
            params = _decode(entry["params"], models)
            detector_cls = REGISTRY[criterion.detector]
            if type(criterion) is not Criterion or type(params) is not detector_cls.Params:
                return None
            loaded.append((path, criterion, detector_cls, params))
    except Exception:  # an entry of the wrong shape: rebuild from the files
        return None
    criteria = []
    for path, criterion, detector_cls, params in loaded:
        criterion._path = path
        criterion._runner = _runner(detector_cls, params, path, directory, compile=False)
        criteria.append(criterion)
    return criteria


def _encode(value: Any) -> Any:
    if isinstance(value, BaseModel):
        model = type(value)
        return {
            "model": _model_name(model),
            "fields": {name: _encode(getattr(value, name)) for name in model.model_fields},
            "set": sorted(value.model_fields_set),
        }
    if type(value) is dict:
        return {"dict": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if type(value) is list:
        return [_encode(item) for item in value]
    if value is None or type(value) in (str, int, float, bool):
        return value
    raise TypeError(f"cannot cache a {type(value).__name__}")


def _decode(value: Any, models: dict[str, type[BaseModel]]) -> Any:
    if type(value) is dict:
        if "dict" in value:
            return {_decode(k, models): _decode(v, models) for k, v in value["dict"]}
        model = models[value["model"]]
        fields = {name: _decode(item, models) for name, item in value["fields"].items()}
        if set(fields) != set(model.model_fields):
            raise ValueError(f"fields of {model.__name__} changed")
        return model.model_construct(_fields_set=set(value["set"]), **fields)
    if type(value) is list:
        return [_decode(item, models) for item in value]
    return value


def _model_name(model: type[BaseModel]) -> str:
    return f"{model.__module__}:{model.__qualname__}"


def _models() -> dict[str, type[BaseModel]]:
    """The models a cache entry may name: the rubric file's and every detector's params."""
    found: list[type[BaseModel]] = [Criterion, Why, Example, FollowUp]
    pending: list[type[BaseModel]] = [Params]
    while pending:
        model = pending.pop()
        found.append(model)
        pending.extend(model.__subclasses__())
    return {_model_name(model): model for model in found}
