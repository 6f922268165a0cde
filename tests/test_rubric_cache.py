"""The rubric disk cache (`storycoach.rubric.cache`): a hit is the same as a fresh load.

A hit skips validation, so the tests prove what makes that safe: the rebuilt criteria and the
reviews they give equal a fresh, validated load; any change to a rubric file's content is a
miss; a damaged cache file is only a miss and gets rewritten; a cache directory that cannot be
written never breaks loading; and nothing is written unless the command line turns it on.

Every test works on a private copy of the shipped rubrics and a cache directory in `tmp_path`.
Whether a load was a hit is read from the loader itself: a miss validates every rubric file
through `loader._load_file`, a hit calls it for none.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storycoach.models import Question
from storycoach.resources import resource_dir
from storycoach.rubric import Criterion, clear_cache, load_criteria, loader, review_text
from storycoach.rubric import cache as rubric_cache
from storycoach.rubric.cache import disk_cache

DRAFTS = [
    """## Situation
In March 2024 checkout p99 was 900 ms and Marcus, our tech lead, wanted a second Redis cluster.

## Action
I profiled the payments path and wrote a one-page doc showing the time went into row locks.

## Result
p99 fell from 900 ms to 310 ms, and we have had zero timeout pages since the change.
""",
    "Last year my manager asked us to speed up the build. We decided to cache the "
    "dependencies and the team rewrote the CI config. Things improved.",
    "- Pager fired at 2am, checkout errors at 30%\n- Rolled back the partner team's deploy\n"
    "- Wrote the incident timeline for the review",
    "sam (our em) wanted the revamp done before the reorg. we split it between the 3 of us "
    "and it went fine. I learned to communicate better.",
]
QUESTIONS = [
    None,
    Question(
        id="q",
        text="Tell me about a time you disagreed with a decision.",
        themes=["dissent", "critical-feedback", "incident"],
        markers=["context-not-control", "farming-for-dissent"],
    ),
]


@pytest.fixture
def rubrics(tmp_path: Path) -> Iterator[Path]:
    """A private copy of the shipped rubrics; the in-memory cache is cleared around the test."""
    target = tmp_path / "rubrics"
    shutil.copytree(resource_dir("rubrics"), target)
    clear_cache()
    yield target
    clear_cache()


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def validated(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The rubric files each load validated, in order (empty for a cache hit)."""
    seen: list[Path] = []
    real = loader._load_file

    def spy(path: Path, directory: Path) -> Criterion:
        seen.append(path)
        return real(path, directory)

    monkeypatch.setattr(loader, "_load_file", spy)
    return seen


def load(rubrics: Path, cache_dir: Path | None) -> list[Criterion]:
    """A load as a new process would do it: nothing in memory, the disk cache at `cache_dir`."""
    clear_cache()
    with disk_cache(cache_dir):
        return load_criteria(rubrics)


def cache_files(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.glob("rubrics-*.json")) if cache_dir.is_dir() else []


def snapshot(criteria: list[Criterion]) -> list[tuple[str, dict[str, Any]]]:
    """Everything a criterion carries: fields (set and default), file, detector and params."""
    return [
        (
            c.id,
            {
                "fields": c.model_dump(),
                "set": c.model_dump(exclude_unset=True),
                "path": c.path,
                "detector": type(c.runner),
                "params": c.runner.params.model_dump(),
                "params_set": c.runner.params.model_dump(exclude_unset=True),
            },
        )
        for c in criteria
    ]


def differences(
    got: list[tuple[str, dict[str, Any]]], want: list[tuple[str, dict[str, Any]]]
) -> list[str]:
    """What differs, as "criterion: part" (a readable failure instead of a 100 kB diff)."""
    if [i for i, _ in got] != [i for i, _ in want]:
        return [f"ids {[i for i, _ in got]} != {[i for i, _ in want]}"]
    return [
        f"{cid}: {part}"
        for (cid, a), (_, b) in zip(got, want, strict=True)
        for part in a
        if a[part] != b[part]
    ]


def reviews(criteria: list[Criterion]) -> list[Any]:
    return [
        [f.model_dump() for f in review_text(text, question=q, level=level, criteria=criteria)]
        for text in DRAFTS
        for q in QUESTIONS
        for level in (None, "E4", "E6")
    ]


# -- a hit equals a fresh load -----------------------------------------------------------------


def test_a_cache_hit_equals_a_fresh_load(
    rubrics: Path, cache_dir: Path, validated: list[Path]
) -> None:
    fresh = load(rubrics, None)
    assert validated and not cache_files(cache_dir)  # cache off: validated, nothing written

    validated.clear()
    first = load(rubrics, cache_dir)
    assert len(validated) == len(fresh)  # a miss validates every file ...
    assert len(cache_files(cache_dir)) == 1  # ... and stores the result

    validated.clear()
    hit = load(rubrics, cache_dir)
    assert validated == []  # a hit validates nothing

    assert [c.id for c in hit] == [c.id for c in fresh] == [c.id for c in first]
    assert [c.message for c in hit] == [c.message for c in fresh]
    assert [c.messages for c in hit] == [c.messages for c in fresh]
    assert differences(snapshot(hit), snapshot(fresh)) == []
    assert reviews(hit) == reviews(fresh)


def test_a_hit_is_a_hit_for_each_new_process(
    rubrics: Path, cache_dir: Path, validated: list[Path]
) -> None:
    load(rubrics, cache_dir)
    stored = cache_files(cache_dir)[0].read_bytes()
    for _ in range(3):
        validated.clear()
        load(rubrics, cache_dir)
        assert validated == []
    assert cache_files(cache_dir)[0].read_bytes() == stored  # a hit does not rewrite the file


# -- any change to a rubric file is a miss -----------------------------------------------------


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _change_message(rubrics: Path) -> None:
    _edit(rubrics / "core" / "missing-names.toml", "No person in this story", "Nobody here")


def _change_lexicon(rubrics: Path) -> None:
    with (rubrics / "lexicon" / "given-names.txt").open("a", encoding="utf-8") as out:
        out.write("\nxandor\n")


def _change_one_byte_keeping_size_and_time(rubrics: Path) -> None:
    # Content, not the modification time, decides: same length, same mtime, one byte differs.
    path = rubrics / "structure" / "story-age.toml"
    stat = path.stat()
    _edit(path, "max_months = 18", "max_months = 36")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size


def _add_a_criterion(rubrics: Path) -> None:
    source = (rubrics / "core" / "vague-delta.toml").read_text(encoding="utf-8")
    copy = source.replace('id = "vague-delta"', 'id = "vague-delta-copy"', 1)
    (rubrics / "core" / "vague-delta-copy.toml").write_text(copy, encoding="utf-8")


def _remove_a_criterion(rubrics: Path) -> None:
    (rubrics / "probes" / "feedback-quoted.toml").unlink()


@pytest.mark.parametrize(
    "change",
    [
        _change_message,
        _change_lexicon,
        _change_one_byte_keeping_size_and_time,
        _add_a_criterion,
        _remove_a_criterion,
    ],
)
def test_changing_a_rubric_file_invalidates_the_cache(
    rubrics: Path, cache_dir: Path, validated: list[Path], change: Any
) -> None:
    load(rubrics, cache_dir)
    change(rubrics)
    validated.clear()
    changed = load(rubrics, cache_dir)
    assert validated  # a miss: the files were validated again
    assert differences(snapshot(changed), snapshot(load(rubrics, None))) == []  # the new one
    validated.clear()
    assert differences(snapshot(load(rubrics, cache_dir)), snapshot(changed)) == []
    assert validated == []  # the new data was stored: the next load is a hit again


def test_a_changed_message_and_lexicon_show_in_the_review(rubrics: Path, cache_dir: Path) -> None:
    text = "Then Xandor rewrote the cache in May 2024; p99 fell from 900 ms to 300 ms."
    before = {f.rule: f for f in review_text(text, criteria=load(rubrics, cache_dir))}
    assert before["missing-names"].message.startswith("No person in this story")
    _change_message(rubrics)
    after = {f.rule: f for f in review_text(text, criteria=load(rubrics, cache_dir))}
    assert after["missing-names"].message.startswith("Nobody here")
    _change_lexicon(rubrics)
    named = {f.rule for f in review_text(text, criteria=load(rubrics, cache_dir))}
    assert "missing-names" not in named


# -- a damaged cache file is a miss and is rewritten --------------------------------------------


def _reseal(raw: bytes, body: bytes) -> bytes:
    """`body` under the stored header's key with a matching checksum: well-formed, wrong data."""
    import hashlib

    header = json.loads(raw.partition(b"\n")[0])
    header["sha256"] = hashlib.sha256(body).hexdigest()
    return json.dumps(header).encode() + b"\n" + body


def _entry_with_a_field_removed(raw: bytes) -> bytes:
    payload = json.loads(raw.partition(b"\n")[2])
    del payload["criteria"][0]["criterion"]["fields"]["message"]
    return _reseal(raw, json.dumps(payload).encode())


def _entry_naming_an_unknown_model(raw: bytes) -> bytes:
    payload = json.loads(raw.partition(b"\n")[2])
    payload["criteria"][0]["params"]["model"] = "storycoach.nowhere:Params"
    return _reseal(raw, json.dumps(payload).encode())


def _entry_for_a_missing_detector(raw: bytes) -> bytes:
    payload = json.loads(raw.partition(b"\n")[2])
    fields = payload["criteria"][0]["criterion"]["fields"]
    fields["detector"] = "no-such-detector"
    return _reseal(raw, json.dumps(payload).encode())


DAMAGE = {
    "empty": lambda raw: b"",
    "garbage": lambda raw: b"\x00\xff\xfenot json at all",
    "truncated": lambda raw: raw[: len(raw) // 2],
    "header only": lambda raw: raw.partition(b"\n")[0] + b"\n",
    "body tampered": lambda raw: raw.replace(b"No person in this story", b"No person in this tale"),
    "header not json": lambda raw: b"{not json\n" + raw.partition(b"\n")[2],
    "header a list": lambda raw: b"[]\n" + raw.partition(b"\n")[2],
    "body a list": lambda raw: _reseal(raw, b"[]"),
    "body null": lambda raw: _reseal(raw, b"null"),
    "criteria not a list": lambda raw: _reseal(raw, b'{"criteria": 7}'),
    "entry wrong shape": lambda raw: _reseal(raw, b'{"criteria": [{"path": 1}]}'),
    "field removed": _entry_with_a_field_removed,
    "unknown model": _entry_naming_an_unknown_model,
    "unknown detector": _entry_for_a_missing_detector,
}


@pytest.mark.parametrize("damage", list(DAMAGE), ids=list(DAMAGE))
def test_a_damaged_cache_file_is_ignored_and_rewritten(
    rubrics: Path, cache_dir: Path, validated: list[Path], damage: str
) -> None:
    fresh = snapshot(load(rubrics, None))
    load(rubrics, cache_dir)
    [path] = cache_files(cache_dir)
    good = path.read_bytes()
    path.write_bytes(DAMAGE[damage](good))

    validated.clear()
    criteria = load(rubrics, cache_dir)
    assert validated  # a miss, not an error
    assert differences(snapshot(criteria), fresh) == []
    assert path.read_bytes() == good  # rewritten with the same, valid data

    validated.clear()
    assert differences(snapshot(load(rubrics, cache_dir)), fresh) == []
    assert validated == []  # and the next load is a hit again


def test_a_cache_file_that_is_a_directory_is_a_miss(rubrics: Path, cache_dir: Path) -> None:
    load(rubrics, cache_dir)
    [path] = cache_files(cache_dir)
    path.unlink()
    path.mkdir()
    assert differences(snapshot(load(rubrics, cache_dir)), snapshot(load(rubrics, None))) == []


# -- an unwritable cache directory never breaks loading ----------------------------------------


def _under_a_file(tmp_path: Path) -> Path:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache directory's parent should be\n")
    return blocker / "cache"


def _is_a_file(tmp_path: Path) -> Path:
    path = tmp_path / "cache-file"
    path.write_text("a file where the cache directory should be\n")
    return path


@pytest.mark.parametrize("where", [_under_a_file, _is_a_file])
def test_an_unusable_cache_directory_does_not_break_loading(
    rubrics: Path, tmp_path: Path, validated: list[Path], where: Any
) -> None:
    unusable = where(tmp_path)
    fresh = snapshot(load(rubrics, None))
    for _ in range(2):
        validated.clear()
        assert differences(snapshot(load(rubrics, unusable)), fresh) == []
        assert validated  # every load validates: there is nowhere to keep the result
    assert not list(tmp_path.rglob("rubrics-*.json"))
    assert not list(tmp_path.rglob(".rubrics-*.tmp"))  # no temporary file left behind


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="file permissions are not enforced for this user (root?)",
)
def test_a_read_only_cache_directory_does_not_break_loading(
    rubrics: Path, cache_dir: Path, validated: list[Path]
) -> None:
    cache_dir.mkdir()
    cache_dir.chmod(0o500)
    try:
        fresh = snapshot(load(rubrics, None))
        assert differences(snapshot(load(rubrics, cache_dir)), fresh) == []
        assert not cache_files(cache_dir)
    finally:
        cache_dir.chmod(0o700)


def test_writing_failures_are_swallowed_and_leave_no_temporary_file(tmp_path: Path) -> None:
    with disk_cache(tmp_path / "cache"):
        rubric_cache.write("entry.json", "key", {"value": {1, 2}})  # a set is not JSON
        assert rubric_cache.read("entry.json", "key") is None
        rubric_cache.write("entry.json", "key", {"value": [1, 2]})
        assert rubric_cache.read("entry.json", "key") == {"value": [1, 2]}
        assert rubric_cache.read("entry.json", "other key") is None
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["entry.json"]


# -- off outside the command line --------------------------------------------------------------


def test_the_cache_is_off_for_library_calls(rubrics: Path, tmp_path: Path) -> None:
    assert rubric_cache.directory is None
    clear_cache()
    criteria = load_criteria(rubrics)
    load_criteria()  # the shipped rubrics too
    review_text(DRAFTS[0], criteria=criteria)
    rubric_cache.write("entry.json", "key", {"value": 1})  # off: a no-op
    assert rubric_cache.read("entry.json", "key") is None
    assert not list(tmp_path.rglob("*.json"))  # not in the app dir, not anywhere


def test_the_cache_is_on_only_for_the_length_of_a_command(invoke: Any, tmp_path: Path) -> None:
    from storycoach.cli.common import app_dir

    clear_cache()  # else this process already holds the shipped rubrics in memory
    result = invoke("rubrics", "list", "--json")
    assert result.exit_code == 0, result.stderr
    assert len(cache_files(app_dir() / "cache")) == 1
    assert app_dir().is_relative_to(tmp_path)  # the isolated app dir, not the user's
    assert rubric_cache.directory is None  # off again once the command returned
