"""The bank's environment problems become one readable StorycoachError, never a traceback."""

from __future__ import annotations

import os
import random
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from storycoach.bank import Bank, _friendly
from storycoach.errors import StorycoachError
from storycoach.models import Story


def _story() -> Story:
    return Story(title="t", situation="s", task="t", action="a", result="r")


# -- locked ---------------------------------------------------------------------------------


@pytest.fixture
def write_lock(db_path: Path) -> Iterator[sqlite3.Connection]:
    """Another process holding the write lock on an existing bank."""
    Bank.open(db_path).close()
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    yield other
    other.execute("ROLLBACK")
    other.close()


def test_locked_bank_write_fails_fast_with_a_readable_error(
    db_path: Path, write_lock: sqlite3.Connection
) -> None:
    bank = Bank.open(db_path)  # reading still works in WAL mode
    assert "dissented-from-decision" in bank.question_ids()
    start = time.monotonic()
    with pytest.raises(StorycoachError, match="locked") as caught:
        bank.add_story(_story())
    assert time.monotonic() - start < 5
    assert str(db_path) in str(caught.value)
    assert "\n" not in str(caught.value)
    bank.close()
    assert write_lock.execute("SELECT count(*) FROM stories").fetchone()[0] == 0


def test_locked_new_bank_fails_to_open_within_seconds(tmp_path: Path) -> None:
    """The lock is held before storycoach ever set WAL mode: opening itself must wait, then fail."""
    path = tmp_path / "other.db"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("CREATE TABLE t (x)")
    other.execute("BEGIN EXCLUSIVE")
    try:
        start = time.monotonic()
        with pytest.raises(StorycoachError, match="locked by another process"):
            Bank.open(path)
        assert time.monotonic() - start < 5
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_locked_bank_through_the_cli(
    invoke: Callable, expect_error: Callable, story_args: Callable, write_lock: sqlite3.Connection
) -> None:
    result = invoke("story", "add", *story_args())
    expect_error(result, "locked by another process")


# -- read-only ------------------------------------------------------------------------------


def _sqlite_error(name: str, message: str = "whatever the message says") -> sqlite3.Error:
    """An error as sqlite3 raises it: the result code's name is what counts, not the text."""
    error = sqlite3.OperationalError(message)
    error.sqlite_errorname = name  # type: ignore[attr-defined]
    return error


@pytest.mark.parametrize("name", ["SQLITE_READONLY", "SQLITE_READONLY_DBMOVED"])
def test_friendly_maps_read_only(name: str, tmp_path: Path) -> None:
    error = _friendly(_sqlite_error(name), tmp_path / "bank.db")
    assert isinstance(error, StorycoachError)
    assert (
        str(error) == f"the story bank {tmp_path / 'bank.db'} is read-only; check its permissions"
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("SQLITE_BUSY", "is locked by another process"),
        ("SQLITE_LOCKED", "is locked by another process"),
        ("SQLITE_NOTADB", "is not a storycoach database"),
        ("SQLITE_CORRUPT", "is not a storycoach database"),
        ("SQLITE_CANTOPEN_ISDIR", "cannot open the story bank"),
        ("SQLITE_IOERR", "database error in"),
    ],
)
def test_friendly_maps_other_sqlite_errors(name: str, expected: str, tmp_path: Path) -> None:
    error = _friendly(_sqlite_error(name), tmp_path / "bank.db")
    assert expected in str(error)
    assert "\n" not in str(error)


def test_friendly_ignores_the_message_text(tmp_path: Path) -> None:
    error = _friendly(_sqlite_error("SQLITE_IOERR", "database is locked"), tmp_path / "bank.db")
    assert "database error in" in str(error)


@pytest.fixture
def read_only(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """`read_only()`: from now on every SQLite connection refuses writes like a read-only file.

    Root ignores file permissions, so this is how a read-only bank is made for any user: SQLite
    answers a write on a `query_only` connection with "attempt to write a readonly database",
    the very error a chmod-ed file gives.
    """
    real_connect = sqlite3.connect

    def connect(*args, **kwargs):  # type: ignore[no-untyped-def]
        conn = real_connect(*args, **kwargs)
        conn.execute("PRAGMA query_only = ON")
        return conn

    return lambda: monkeypatch.setattr(sqlite3, "connect", connect)


def test_read_only_existing_bank_refuses_writes(db_path: Path, read_only: Callable) -> None:
    Bank.open(db_path).close()
    read_only()
    bank = Bank.open(db_path)  # an up-to-date bank opens without writing
    assert bank.questions()
    with pytest.raises(StorycoachError, match="is read-only; check its permissions"):
        bank.add_story(_story())
    bank.close()


def test_read_only_new_bank_fails_to_open(db_path: Path, read_only: Callable) -> None:
    read_only()
    with pytest.raises(StorycoachError, match="is read-only"):
        Bank.open(db_path)


def test_read_only_bank_through_the_cli(
    db_path: Path,
    invoke: Callable,
    expect_error: Callable,
    story_args: Callable,
    read_only: Callable,
    db_counts: Callable,
) -> None:
    Bank.open(db_path).close()
    before = db_counts()
    read_only()
    listed = invoke("story", "list", "--json")
    assert listed.exit_code == 0, listed.stderr
    assert listed.stdout.strip() == "[]"
    result = invoke("story", "add", *story_args())
    expect_error(result, "is read-only")
    assert db_counts() == before


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A bank in a directory where both the file and the directory are read-only."""
    folder = tmp_path / "ro"
    folder.mkdir()
    Bank.open(folder / "bank.db").close()
    (folder / "bank.db").chmod(0o444)
    folder.chmod(0o555)  # r-x: the file stays reachable, but no -wal/-shm can be created
    try:
        probe = folder / "probe"
        try:
            probe.write_text("x")
        except OSError:
            pass
        else:
            probe.unlink()
            pytest.skip("file permissions are not enforced for this user (root?)")
        yield folder
    finally:
        folder.chmod(stat.S_IRWXU)
        (folder / "bank.db").chmod(0o644)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_read_only_file_and_directory(read_only_dir: Path) -> None:
    path = read_only_dir / "bank.db"
    before = path.read_bytes()
    with pytest.raises(StorycoachError) as caught:
        Bank.open(path).add_story(_story())
    message = str(caught.value)
    assert "read-only" in message or "cannot open the story bank" in message, message
    assert path.read_bytes() == before


# -- not a bank -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        random.Random(7).randbytes(8192),
        b"# my notes\nnot a database at all, just text that is long enough to have a header\n" * 20,
        b"hello\n",
    ],
    ids=["random-bytes", "text-file", "tiny-text-file"],
)
def test_not_sqlite_is_reported_and_left_alone(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(content)
    with pytest.raises(StorycoachError, match="is not a storycoach database") as caught:
        Bank.open(path)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == content
    assert not Path(f"{path}-wal").exists()


def test_not_sqlite_through_the_cli(
    tmp_path: Path, invoke: Callable, expect_error: Callable
) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("shopping list\n- eggs\n" * 40)
    result = invoke("--db", path, "story", "list")
    expect_error(result, "is not a storycoach database")
    assert path.read_text() == "shopping list\n- eggs\n" * 40


def test_directory_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(StorycoachError, match="is a directory, not a story bank file"):
        Bank.open(folder)
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("how", ["flag", "env"])
def test_directory_through_the_cli(
    tmp_path: Path, invoke: Callable, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    if how == "flag":
        result = invoke("--db", folder, "story", "list")
    else:
        monkeypatch.setenv("STORYCOACH_DB", str(folder))
        result = invoke("story", "list")
    assert result.exit_code == 2
    assert "is a directory" in result.stderr
    assert "Traceback" not in result.output
    assert list(folder.iterdir()) == []


def test_parent_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    with pytest.raises(StorycoachError, match="cannot open the story bank"):
        Bank.open(blocker / "bank.db")


def test_default_bank_lives_in_the_app_dir(
    invoke: Callable, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("STORYCOACH_DB")
    result = invoke("story", "list", "--json")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "config" / "storycoach" / "bank.db").is_file()


def test_tests_are_isolated(tmp_path: Path) -> None:
    """The autouse fixture in conftest: no real app dir, key or terminal leaks into a test."""
    import typer

    from storycoach.cli.common import default_db, interactive, state

    assert Path(typer.get_app_dir("storycoach")).is_relative_to(tmp_path)
    assert default_db().is_relative_to(tmp_path)
    assert Path(os.environ["STORYCOACH_DB"]).is_relative_to(tmp_path)
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "STORYCOACH_MODEL"):
        assert name not in os.environ
    assert not interactive()
    assert (state.db, state.debug) == (None, False)
