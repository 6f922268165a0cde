"""A disk cache for what `load_criteria` validated, so a short command skips the validation.

Reading and validating the rubric files (TOML, the pydantic models, every regex) costs more
than a whole offline review. The loader keeps the validated data, not compiled regexes, in one
JSON file per rubric directory, keyed by a hash of everything that decides the outcome: the
bytes of every file in the directory, the rubric code and the Python and pydantic versions. Any
change is a miss and a full, validating load; a missing, stale, corrupt or unwritable cache
file is never an error, only a miss.

It is off unless turned on: the command line turns it on for the length of a command, in its
app directory (`storycoach.cli.common`). A library caller gets no files written behind its back.
This module stays cheap to import (the standard library only) for that reason.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

#: Where cache files go while the cache is on; None when it is off.
directory: Path | None = None


@contextmanager
def disk_cache(path: Path | None) -> Iterator[None]:
    """Keep validated rubric data in `path` (None: keep none) inside this block."""
    global directory
    previous, directory = directory, path
    try:
        yield
    finally:
        directory = previous


def read(name: str, key: str) -> Any | None:
    """The payload stored under `name` with this `key`, or None on any mismatch or damage."""
    if directory is None:
        return None
    import hashlib

    try:
        raw = (directory / name).read_bytes()
        head, _, body = raw.partition(b"\n")
        header = json.loads(head)
        if header["key"] != key or header["sha256"] != hashlib.sha256(body).hexdigest():
            return None
        return json.loads(body)
    except Exception:  # missing, unreadable, truncated, not JSON, wrong shape: just a miss
        return None


def write(name: str, key: str, payload: Any) -> None:
    """Store `payload` (JSON-able) under `name`; failing to write is not an error."""
    if directory is None:
        return
    import hashlib

    path = directory / name
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        header = json.dumps({"key": key, "sha256": hashlib.sha256(body).hexdigest()})
        directory.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(header.encode("ascii") + b"\n" + body)
        os.replace(temporary, path)  # readers see the old file or the new one, never half
    except (OSError, ValueError, TypeError):
        with suppress(OSError):
            temporary.unlink(missing_ok=True)
