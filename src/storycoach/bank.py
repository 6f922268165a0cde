"""The story bank: the one place that knows SQL.

Stories, questions and culture markers are rows; the links between them are two small join
tables with foreign keys, so removing a story removes its links and nothing dangles. List-shaped
fields (tags, people, metrics) are JSON columns: they are read with their row and never queried
one by one. Story text is indexed with FTS5 (kept current by triggers) for `story search`.

Reviews are stored before any model call (the draft is never lost to a network failure) and the
model attempts are stored per call in `llm_calls`, which is where history, cost reporting and
the review cache read from. No setting with a secret in it is ever written here.

The schema evolves only through `MIGRATIONS`; every write that touches several rows runs in one
transaction, so a failed import or edit leaves the bank as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils
import sqlite_utils.db
from pydantic import BaseModel

from storycoach.errors import NotFoundError, StorycoachError
from storycoach.models import (
    NEEDS_REVIEW,
    CallRecord,
    Finding,
    LlmReview,
    Marker,
    Person,
    Question,
    ReviewResult,
    StoredStory,
    Story,
    known_sum,
    usage_cost,
)
from storycoach.resources import resource_dir
from storycoach.transfer import (
    EXPORT_VERSION,
    Conflict,
    ConflictAction,
    ExportFile,
    ImportReport,
    OnConflict,
    ReviewRow,
    SuggestionRow,
    new_uid,
    validate_export,
)

if TYPE_CHECKING:
    from storycoach.mock import MockSession

MIGRATIONS = sqlite_utils.Migrations("storycoach")
_STORY_TEXT = ("title", "situation", "task", "action", "result", "reflection")


@MIGRATIONS()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.table("markers").create(
        {"slug": str, "name": str, "meaning": str, "source": str}, pk="slug", not_null={"name"}
    )
    db.table("questions").create(
        {
            "id": str,
            "text": str,
            "company": str,
            "roles": str,
            "difficulty": str,
            "tags": str,
            "themes": str,
            "levels": str,
            "probing": str,
            "probes": str,
            "source": str,
        },
        pk="id",
        not_null={"text", "source"},
    )
    db.table("question_markers").create(
        {"question_id": str, "marker_slug": str},
        pk=("question_id", "marker_slug"),
        foreign_keys=[("question_id", "questions", "id"), ("marker_slug", "markers", "slug")],
    )
    db.table("stories").create(
        {
            "id": int,
            "title": str,
            "situation": str,
            "task": str,
            "action": str,
            "result": str,
            "reflection": str,
            "happened": str,
            "company": str,
            "team": str,
            "people": str,
            "metrics": str,
            "tags": str,
            "level": str,
            "retired": int,
            "created": str,
            "updated": str,
        },
        pk="id",
        not_null={"title", "situation", "task", "action", "result", "created", "updated"},
        defaults={"retired": 0, "reflection": "", "company": "", "team": ""},
    )
    db.table("story_questions").create(
        {"story_id": int, "question_id": str},
        pk=("story_id", "question_id"),
        foreign_keys=[("story_id", "stories", "id"), ("question_id", "questions", "id")],
    )
    db.table("story_markers").create(
        {"story_id": int, "marker_slug": str},
        pk=("story_id", "marker_slug"),
        foreign_keys=[("story_id", "stories", "id"), ("marker_slug", "markers", "slug")],
    )
    db.table("stories").enable_fts([*_STORY_TEXT, "tags"], create_triggers=True)
    db.table("reviews").create(
        {
            "id": int,
            "created": str,
            "path": str,
            "story_id": int,
            "question_id": str,
            "level": str,
            "draft": str,
            "draft_hash": str,
            "findings": str,
            "verdict": str,
            "llm": str,
            "llm_status": str,
            "cache_key": str,
        },
        pk="id",
        not_null={"created", "draft", "draft_hash", "verdict"},
    )
    db.table("reviews").create_index(["story_id"])
    db.table("reviews").create_index(["cache_key"])
    db.table("llm_calls").create(
        {
            "id": int,
            "review_id": int,
            "created": str,
            "model": str,
            "status": str,
            "error": str,
            "tokens_in": int,
            "tokens_out": int,
            "latency_ms": int,
            "cost_usd": float,
        },
        pk="id",
        foreign_keys=[("review_id", "reviews", "id")],
    )
    db.table("meta").create({"key": str, "value": str}, pk="key")


def _cascade_links(db: sqlite_utils.Database) -> None:
    """Links die with their story (sqlite-utils creates plain foreign keys)."""
    for table in ("story_questions", "story_markers"):
        db.execute(
            f"CREATE TRIGGER IF NOT EXISTS {table}_cascade AFTER DELETE ON stories "
            f"BEGIN DELETE FROM {table} WHERE story_id = old.id; END"
        )
    db.execute(
        "CREATE TRIGGER IF NOT EXISTS reviews_unlink AFTER DELETE ON stories "
        "BEGIN UPDATE reviews SET story_id = NULL WHERE story_id = old.id; END"
    )


MIGRATIONS(name="m002_cascade_links")(_cascade_links)


@MIGRATIONS()
def m003_link_suggestions(db: sqlite_utils.Database) -> None:
    """`coverage --llm` runs: the cache of the model's link proposals and what each run cost.

    One row per run that reached the model, like a review row: `cache_key` (sha256 over the
    request), `status` ok or failed, the validated `proposals` (JSON, null when it failed), the
    error line, and its attempts in `calls` (JSON, the `llm_calls` fields). The attempts live
    in the row because `llm_calls.review_id` points at a review and this run is not one; a
    failed run is stored too, so no paid attempt goes unrecorded.
    """
    db.table("link_suggestions").create(
        {
            "id": int,
            "created": str,
            "cache_key": str,
            "model": str,
            "status": str,
            "proposals": str,
            "error": str,
            "calls": str,
            "tokens_in": int,
            "tokens_out": int,
            "cost_usd": float,
        },
        pk="id",
        not_null={"created", "cache_key", "model", "status", "calls"},
    )
    db.table("link_suggestions").create_index(["cache_key"])


def _rollback(conn: sqlite3.Connection) -> None:
    """Undo the open transaction, if the failure left one open."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _insert(table: sqlite_utils.db.Table, row: dict[str, Any]) -> int:
    """Insert one row; its integer primary key."""
    pk = table.insert(row).last_pk
    if not isinstance(pk, int):
        raise TypeError(f"{table.name}: expected an integer primary key, got {pk!r}")
    return pk


@MIGRATIONS()
def m004_stable_ids(db: sqlite_utils.Database) -> None:
    """A stable `uid` for stories, reviews and link-suggestion runs, carried by export.

    Stories get a uid derived from their text (as import derives one for stories of older
    export files, so those files still match); reviews and runs a random one."""
    from storycoach.transfer import derived_uid, new_uid

    for table in ("stories", "reviews", "link_suggestions"):
        db.table(table).add_column("uid", str)
    taken: set[str] = set()
    links: dict[str, dict[int, list[str]]] = {"story_questions": {}, "story_markers": {}}
    for table, column in (("story_questions", "question_id"), ("story_markers", "marker_slug")):
        for r in db.query(f"SELECT * FROM {table} ORDER BY story_id, {column}"):
            links[table].setdefault(r["story_id"], []).append(r[column])
    for row in db.query("SELECT * FROM stories ORDER BY id"):
        story = Bank._story_from_row(
            {k: v for k, v in row.items() if k != "uid"},
            links["story_questions"].get(row["id"], []),
            links["story_markers"].get(row["id"], []),
        )
        salt = 0
        uid = derived_uid(story)
        while uid in taken:
            salt += 1
            uid = derived_uid(story, salt)
        taken.add(uid)
        db.execute("UPDATE stories SET uid = ? WHERE id = ?", [uid, row["id"]])
    for table in ("reviews", "link_suggestions"):
        for row in db.query(f"SELECT id FROM {table}"):
            db.execute(f"UPDATE {table} SET uid = ? WHERE id = ?", [new_uid(), row["id"]])
        db.table(table).create_index(["uid"], unique=True)
    db.table("stories").create_index(["uid"], unique=True)


@MIGRATIONS()
def m005_review_owner(db: sqlite_utils.Database) -> None:
    """`reviews.owner`: the process (`host:pid`) that is still to finish a pending review, so
    a review whose process died can be told from one in progress and swept as interrupted."""
    db.table("reviews").add_column("owner", str)
    db.table("reviews").create_index(["llm_status"])


def _index_stories(db: sqlite_utils.Database) -> None:
    """The one definition of the story search index: FTS5 with Porter stemming (so "dissent"
    finds "dissented"), kept current by triggers. Replaces any index there is."""
    # Dropped by hand, not `replace=True`: a damaged index cannot be read to be replaced.
    for trigger in ("stories_ai", "stories_ad", "stories_au"):
        db.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    db.execute("DROP TABLE IF EXISTS stories_fts")
    db.table("stories").enable_fts([*_STORY_TEXT, "tags"], create_triggers=True, tokenize="porter")


@MIGRATIONS()
def m006_stemmed_search(db: sqlite_utils.Database) -> None:
    """Rebuild the story search index with the Porter stemmer."""
    _index_stories(db)


@MIGRATIONS()
def m007_review_stale_and_story_fk(db: sqlite_utils.Database) -> None:
    """`reviews.stale`: set when the reviewed story's text is edited afterwards, so its verdict
    reads "needs review"; and `reviews.story_id` becomes a real foreign key (Datasette and
    other tools can follow it). Deleting a story still keeps its reviews (the
    `reviews_unlink` trigger clears `story_id`)."""
    db.table("reviews").add_column("stale", int, not_null_default=0)
    db.table("reviews").transform(add_foreign_keys=[("story_id", "stories", "id")])


@MIGRATIONS()
def m008_mock_sessions(db: sqlite_utils.Database) -> None:
    """`storycoach mock` rounds and their model calls (renumber after the last migration).

    A session row is written when the round starts and rewritten after every answer and every
    model call: `turns`, `debrief` and `llm` are JSON (`storycoach.mock.MockSession` fields),
    so an interrupted round keeps what was said. Its model attempts live in `mock_calls`
    (the `llm_calls` fields plus `purpose`: follow-up or rewrite), because `llm_calls` points
    at reviews.
    """
    db.table("mock_sessions").create(
        {
            "id": int,
            "created": str,
            "updated": str,
            "question_id": str,
            "level": str,
            "story_id": int,
            "status": str,
            "turns": str,
            "first_verdict": str,
            "verdict": str,
            "debrief": str,
            "improved_draft": str,
            "draft_verdict": str,
            "draft_findings": str,
            "llm": str,
            "llm_status": str,
        },
        pk="id",
        not_null={"created", "updated", "question_id", "status", "turns"},
    )
    db.table("mock_calls").create(
        {
            "id": int,
            "session_id": int,
            "created": str,
            "purpose": str,
            "model": str,
            "status": str,
            "error": str,
            "tokens_in": int,
            "tokens_out": int,
            "latency_ms": int,
            "cost_usd": float,
        },
        pk="id",
        foreign_keys=[("session_id", "mock_sessions", "id")],
    )
    db.table("mock_calls").create_index(["session_id"])


@MIGRATIONS()
def m009_rejected_links(db: sqlite_utils.Database) -> None:
    """Story-question links the user said no to: never suggested again (`coverage --accept`).

    Keyed like `story_questions`; a rejection dies with its story (trigger, as for links).
    """
    db.table("rejected_links").create(
        {"story_id": int, "question_id": str, "created": str},
        pk=("story_id", "question_id"),
        foreign_keys=[("story_id", "stories", "id"), ("question_id", "questions", "id")],
    )
    db.execute(
        "CREATE TRIGGER IF NOT EXISTS rejected_links_cascade AFTER DELETE ON stories "
        "BEGIN DELETE FROM rejected_links WHERE story_id = old.id; END"
    )


#: Review states whose verdict is not final: never shown or counted as a pass.
UNFINISHED = ("pending", "interrupted")
_HOST = socket.gethostname()
#: A pending review from another host is presumed dead after this long.
FOREIGN_PENDING_SECONDS = 24 * 3600


def owner_token() -> str:
    return f"{_HOST}:{os.getpid()}"


def owner_alive(owner: str | None, created: str | None = None) -> bool:
    """Is the process that owns a pending review still running?"""
    if not owner:
        return False  # pending rows from before owners were recorded
    host, _, pid_text = owner.rpartition(":")
    if host != _HOST:
        if created is None:
            return True
        try:
            age = datetime.now(UTC) - datetime.fromisoformat(created)
        except ValueError:
            return False
        return age.total_seconds() < FOREIGN_PENDING_SECONDS
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def effective_status(row: dict[str, Any]) -> str | None:
    """`llm_status` as it should be read: a pending review whose process died is interrupted."""
    status = row.get("llm_status")
    if status == "pending" and not owner_alive(row.get("owner"), row.get("created")):
        return "interrupted"
    return status


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _os_reason(path: Path) -> str:
    """Why the OS will not let us write `path` (or create files next to it), or ""."""
    target = path if path.exists() else path.parent
    try:
        if not target.is_dir():
            os.close(os.open(target, os.O_RDWR))
        probe = (target if target.is_dir() else target.parent) / f".storycoach-probe-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as error:
        return f"{error.filename or target}: {error.strerror}"
    return ""


def _friendly(error: sqlite3.Error, path: Path) -> StorycoachError:
    """A SQLite error as one line, chosen by its error name, never by its message text."""
    name = getattr(error, "sqlite_errorname", "") or ""
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return StorycoachError(
            f"the story bank {path} is locked by another process; try again in a moment "
            "(or raise STORYCOACH_BUSY_TIMEOUT)"
        )
    if name.startswith("SQLITE_READONLY"):
        reason = _os_reason(path)
        return StorycoachError(
            f"the story bank {path} is read-only; check its permissions"
            + (f" ({reason})" if reason else "")
        )
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
        return StorycoachError(
            f"{path} is not a storycoach database (not SQLite, or damaged); "
            "run `storycoach doctor` for how to recover"
        )
    if name.startswith("SQLITE_CANTOPEN"):
        reason = _os_reason(path)
        return StorycoachError(
            f"cannot open the story bank at {path}" + (f": {reason}" if reason else "")
        )
    if name.startswith("SQLITE_FULL"):
        return StorycoachError(f"the disk holding {path} is full; nothing was written")
    if name.startswith("SQLITE_IOERR"):
        return StorycoachError(f"I/O error on the story bank {path}: {error}")
    return StorycoachError(f"database error in {path}: {error}")


SQLITE_MAGIC = b"SQLite format 3\x00"
MIGRATIONS_TABLE = MIGRATIONS.migrations_table
DEFAULT_BUSY_TIMEOUT = 30.0


def _check_header(path: Path) -> None:
    """An existing non-empty file must start as a SQLite database does (read, never written)."""
    with path.open("rb") as handle:
        head = handle.read(len(SQLITE_MAGIC))
    if head and head != SQLITE_MAGIC:
        raise StorycoachError(
            f"{path} is not a storycoach database (not a SQLite file); storycoach leaves it "
            "unchanged: pick another --db path"
        )


def _writable(path: Path) -> bool:
    """May this process write the bank file and create its -wal/-shm files next to it?"""
    if not path.exists():
        return True  # created by a write command only; a read command never gets here
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)


def _identify(conn: sqlite3.Connection, path: Path) -> bool:
    """True when `conn` holds a storycoach bank, False when it is an empty database.

    Reads only: anything else (another application's tables) is refused before a single byte
    of the file changes (no table, no WAL switch)."""
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not names:
        return False
    if MIGRATIONS_TABLE in names:
        try:
            sets = {
                r[0]
                for r in conn.execute(f"SELECT migration_set FROM {MIGRATIONS_TABLE} NOT INDEXED")
            }
        except sqlite3.DatabaseError:
            return True  # our table, unreadable: damaged; the integrity check will say so
        # Only the migrations table and nothing recorded: a first open that stopped half-way.
        if MIGRATIONS.name in sets or (names == {MIGRATIONS_TABLE} and not sets):
            return True
    shown = ", ".join(sorted(names)[:5]) + (", ..." if len(names) > 5 else "")
    raise StorycoachError(
        f"{path} is not a storycoach database (another application's SQLite file, tables: "
        f"{shown}); storycoach leaves it unchanged: pick another --db path"
    )


def _seed_bytes() -> tuple[bytes, str]:
    """The shipped question bank and its sha256 (read once per process)."""
    return _read_seed(resource_dir("data") / "questions.toml")


@cache
def _read_seed(path: Path) -> tuple[bytes, str]:
    raw = path.read_bytes()
    return raw, hashlib.sha256(raw).hexdigest()


class Diagnosis(BaseModel):
    """What `storycoach doctor` found."""

    path: str
    problems: list[str]
    fts: str
    swept: int

    @property
    def healthy(self) -> bool:
        return not self.problems

    def recovery(self) -> list[str]:
        """How to get a sound bank back, when it is damaged."""
        if self.healthy:
            return []
        return [
            f"sqlite3 {self.path} '.recover' | sqlite3 recovered.db   (salvage what is readable)",
            "storycoach --db recovered.db doctor   (check the salvaged copy)",
            "or copy your latest backup (made by the backup command) over the damaged file",
        ]


class Bank:
    """The story bank. Open it with `Bank.open(path)`; it migrates and seeds itself.

    Every write runs in `_writing()`: `BEGIN IMMEDIATE`, so a writer waits (up to the busy
    timeout) for another process's write instead of failing when a deferred read has to be
    upgraded. The connection may be used from worker threads (model calls record themselves
    before they are sent); a lock serialises its use.
    """

    def __init__(self, db: sqlite_utils.Database, path: Path, *, read_only: bool = False) -> None:
        self.db = db
        self.path = path
        self.read_only = read_only
        self.busy_timeout = DEFAULT_BUSY_TIMEOUT
        self.damage: str | None = None  # quick_check's complaint when the file is damaged
        self._lock = threading.RLock()

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: Path | str,
        *,
        write: bool = True,
        create: bool = True,
        make_parents: bool = False,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    ) -> Bank:
        """Open (and if needed create, migrate and seed) the bank at `path`.

        `create=False`: a missing file is an error that says how to make a bank. Parent
        directories are created only with `make_parents` (the default bank in the app dir).
        `write=False` (read commands): a file or directory we may not write is opened
        read-only instead of failing. A file that is not a storycoach bank is never changed.
        """
        memory = str(path) == ":memory:"
        path = Path(path).expanduser()
        try:
            if not memory:
                if path.is_dir():
                    raise StorycoachError(f"{path} is a directory, not a story bank file")
                if not path.exists():
                    if not create:
                        raise StorycoachError(
                            f"no story bank at {path}; create one with `storycoach --db {path} "
                            "story add ...` or `storycoach --db {path} import FILE`".replace(
                                "{path}", str(path)
                            )
                        )
                    if make_parents:
                        path.parent.mkdir(parents=True, exist_ok=True)
                    elif not path.parent.is_dir():
                        what = "is not a directory" if path.parent.exists() else "does not exist"
                        raise StorycoachError(
                            f"cannot open the story bank at {path}: {path.parent} {what} "
                            "(storycoach creates directories only for its default bank)"
                        )
                else:
                    _check_header(path)
            read_only = not memory and not write and not _writable(path)
            if read_only:
                uri = f"{path.resolve().as_uri()}?mode=ro"
                conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout, check_same_thread=False)
            else:
                conn = sqlite3.connect(str(path), timeout=busy_timeout, check_same_thread=False)
            db = sqlite_utils.Database(conn, execute_plugins=False)
            bank = cls(db, path, read_only=read_only)
            bank.busy_timeout = busy_timeout
            try:
                bank._start(memory=memory, write=write)
            except BaseException:
                conn.close()
                raise
        except sqlite3.Error as error:
            raise _friendly(error, path) from error
        except OSError as error:
            raise StorycoachError(
                f"cannot open the story bank at {path}: {error.strerror}"
            ) from error
        return bank

    def _start(self, *, memory: bool, write: bool) -> None:
        conn = self.db.conn
        known = _identify(conn, self.path)
        conn.execute("PRAGMA foreign_keys = ON")
        self.damage = self.quick_check() if known else None
        if self.damage is not None:
            if write:
                raise StorycoachError(
                    f"the story bank {self.path} failed its integrity check ({self.damage}); "
                    "writes are stopped to protect it. Run `storycoach doctor` for how to "
                    "recover"
                )
            self.read_only = True  # a read command may still read what is readable
            return
        if self.read_only:
            if not known or MIGRATIONS.pending(self.db):
                raise StorycoachError(
                    f"the story bank {self.path} needs an upgrade but is read-only "
                    f"({_os_reason(self.path) or 'read-only'}); open it once with write access"
                )
            return
        if not memory:
            self._wal()
        # First open and migrations are serialised: the write lock is taken first, then the
        # state re-read, so of 20 processes opening a new bank one migrates and 19 find it done.
        if not known or MIGRATIONS.pending(self.db) or not self._seed_current():
            with self._writing():
                _identify(conn, self.path)
                MIGRATIONS.apply(self.db)
                self._seed()
        self.sweep_interrupted()

    def _wal(self) -> None:
        """Switch to WAL once (the mode is stored in the file); waits out a busy database."""
        conn = self.db.conn
        if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
            return
        deadline = time.monotonic() + max(1.0, self.busy_timeout)
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as error:
                name = getattr(error, "sqlite_errorname", "")
                if not name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
                    raise
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def close(self) -> None:
        self.db.conn.close()

    # -- health -------------------------------------------------------------------------------

    def quick_check(self) -> str | None:
        """`PRAGMA quick_check`: None when the file is sound, else its first complaint."""
        try:
            rows = [r[0] for r in self.db.conn.execute("PRAGMA quick_check(1)")]
        except sqlite3.DatabaseError as error:
            return str(error)
        if rows == ["ok"]:
            return None
        lines = [line for r in rows for line in str(r).splitlines() if not line.startswith("***")]
        return lines[0] if lines else "integrity check failed"

    def doctor(self) -> Diagnosis:
        """Full integrity and FTS checks, then (if sound) sweep interrupted reviews.

        A damaged full-text index is derived data: it is rebuilt from the stories."""
        try:
            rows = [r[0] for r in self.db.conn.execute("PRAGMA integrity_check(20)")]
        except sqlite3.DatabaseError as error:
            rows = [str(error)]
        problems = [] if rows == ["ok"] else [p for r in rows for p in str(r).splitlines()]
        problems = [p for p in problems if not p.startswith("*** in database")]
        fts = "ok" if not problems else "not checked (the file is damaged)"
        if not problems:
            try:
                with self._lock:
                    try:
                        self.db.conn.execute(
                            "INSERT INTO stories_fts(stories_fts, rank) "
                            "VALUES('integrity-check', 1)"
                        )
                    finally:  # the check is a statement that writes nothing: end its transaction
                        if self.db.conn.in_transaction:
                            self.db.conn.rollback()
            except sqlite3.DatabaseError as error:
                fts = f"damaged ({error})"
                if not self.read_only:
                    with self._writing() as db:
                        _index_stories(db)
                    fts += "; rebuilt from the stories"
        swept = self.sweep_interrupted() if not problems else 0
        return Diagnosis(path=str(self.path), problems=problems, fts=fts, swept=swept)

    @contextmanager
    def _writing(self) -> Iterator[sqlite_utils.Database]:
        """One write transaction, `BEGIN IMMEDIATE`; SQLite errors become one readable line.

        Nested use joins the outer transaction (a savepoint)."""
        if self.read_only:
            raise StorycoachError(
                f"the story bank {self.path} is open read-only "
                f"({_os_reason(self.path) or 'read-only'})"
            )
        with self._lock:
            conn = self.db.conn
            try:
                if conn.in_transaction:
                    with self.db.atomic():
                        yield self.db
                    return
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self.db
                except BaseException:
                    _rollback(conn)
                    raise
                conn.execute("COMMIT")
            except sqlite3.Error as error:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise _friendly(error, self.path) from error

    def _read(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        try:
            with self._lock:
                return list(self.db.query(sql, params))
        except sqlite3.Error as error:
            raise _friendly(error, self.path) from error

    # -- seed question bank -------------------------------------------------------------------

    def _seed_current(self) -> bool:
        row = self._read("SELECT value FROM meta WHERE key = 'seed_hash'")
        return bool(row) and row[0]["value"] == _seed_bytes()[1]

    def _seed(self) -> None:
        """Load the shipped question bank when it is new or changed; user rows stay as they are.

        Runs inside the opening transaction, after the lock: it re-reads the stored hash."""
        raw, digest = _seed_bytes()
        if self._seed_current():
            return
        import tomllib  # only when the shipped question bank is new or changed

        data = tomllib.loads(raw.decode("utf-8"))
        markers = [Marker(**m) for m in data.get("markers", [])]
        questions = [Question(**{**q, "source": "seed"}) for q in data.get("questions", [])]
        user_ids = {r["id"] for r in self._read("SELECT id FROM questions WHERE source = 'user'")}
        with self._writing() as db:
            db.table("markers").upsert_all([m.model_dump() for m in markers], pk="slug")
            for question in questions:
                if question.id not in user_ids:
                    self._put_question(db, question)
            db.table("meta").upsert({"key": "seed_hash", "value": digest}, pk="key")

    # -- markers and questions ----------------------------------------------------------------

    def markers(self) -> list[Marker]:
        return [Marker(**r) for r in self._read("SELECT * FROM markers ORDER BY slug")]

    def marker_slugs(self) -> list[str]:
        return [r["slug"] for r in self._read("SELECT slug FROM markers ORDER BY slug")]

    def question_ids(self) -> list[str]:
        return [r["id"] for r in self._read("SELECT id FROM questions ORDER BY id")]

    def questions(self, *, marker: str | None = None, role: str | None = None) -> list[Question]:
        if marker is not None:
            self._require_markers([marker])
        links: dict[str, list[str]] = {}
        for r in self._read("SELECT * FROM question_markers ORDER BY marker_slug"):
            links.setdefault(r["question_id"], []).append(r["marker_slug"])
        out = []
        for row in self._read("SELECT * FROM questions ORDER BY source DESC, rowid"):
            question = self._question_from_row(row, links.get(row["id"], []))
            if marker and marker not in question.markers:
                continue
            if role and not any(role.lower() == r.lower() for r in question.roles):
                continue
            out.append(question)
        if role and not out:
            roles = {r.lower(): r for row in self._read("SELECT roles FROM questions")
                     for r in json.loads(row["roles"] or "[]")}  # fmt: skip
            if role.lower() not in roles:
                raise NotFoundError("role", role, sorted(roles.values()))
        return out

    def question(self, question_id: str) -> Question:
        rows = self._read("SELECT * FROM questions WHERE id = ?", [question_id])
        if not rows:
            raise NotFoundError("question", question_id, self.question_ids())
        markers = self._read(
            "SELECT marker_slug FROM question_markers WHERE question_id = ? ORDER BY marker_slug",
            [question_id],
        )
        return self._question_from_row(rows[0], [m["marker_slug"] for m in markers])

    def add_question(self, question: Question) -> Question:
        if question.id in self.question_ids():
            raise StorycoachError(f"a question with id {question.id!r} already exists")
        self._require_markers(question.markers)
        question = question.model_copy(update={"source": "user"})
        with self._writing() as db:
            self._put_question(db, question)
        return question

    def _put_question(self, db: sqlite_utils.Database, question: Question) -> None:
        row = question.model_dump(exclude={"markers"})
        for key in ("roles", "tags", "themes", "levels", "probes"):
            row[key] = _dumps(row[key])
        db.table("questions").upsert(row, pk="id")
        db.execute("DELETE FROM question_markers WHERE question_id = ?", [question.id])
        db.table("question_markers").insert_all(
            [{"question_id": question.id, "marker_slug": m} for m in question.markers]
        )

    @staticmethod
    def _question_from_row(row: dict[str, Any], markers: list[str]) -> Question:
        data = dict(row)
        for key in ("roles", "tags", "themes", "levels", "probes"):
            data[key] = json.loads(data[key] or "[]")
        data = {k: v for k, v in data.items() if v is not None}
        return Question(**data, markers=markers)

    def _require_markers(self, slugs: Iterable[str]) -> None:
        known = self.marker_slugs()
        for slug in slugs:
            if slug not in known:
                raise NotFoundError("marker", slug, known)

    def _require_questions(self, ids: Iterable[str]) -> None:
        known = self.question_ids()
        for question_id in ids:
            if question_id not in known:
                raise NotFoundError("question", question_id, known)

    # -- stories ------------------------------------------------------------------------------

    def add_story(self, story: Story) -> StoredStory:
        self._require_questions(story.questions)
        self._require_markers(story.markers)
        stamp = now()
        with self._writing() as db:
            row = self._story_row(story, created=stamp, updated=stamp)
            row.pop("id", None)
            row["uid"] = story.uid or new_uid()
            story_id = _insert(db.table("stories"), row)
            self._put_links(db, story_id, story.questions, story.markers)
        return self.story(story_id)

    def update_story(self, story_id: int, story: Story) -> StoredStory:
        current = self.story(story_id)
        self._require_questions(story.questions)
        self._require_markers(story.markers)
        with self._writing() as db:
            row = self._story_row(story, created=current.created.isoformat(), updated=now())
            row["id"], row["uid"] = story_id, current.uid
            db.table("stories").update(story_id, row)
            self._mark_stale(db, current, story)
            db.execute("DELETE FROM story_questions WHERE story_id = ?", [story_id])
            db.execute("DELETE FROM story_markers WHERE story_id = ?", [story_id])
            self._put_links(db, story_id, story.questions, story.markers)
        return self.story(story_id)

    @staticmethod
    def _mark_stale(db: sqlite_utils.Database, before: Story, after: Story) -> None:
        """An edit to the story's text makes the verdicts of its earlier reviews stale."""
        if any(getattr(before, f) != getattr(after, f) for f in _STORY_TEXT):
            db.execute("UPDATE reviews SET stale = 1 WHERE story_id = ? AND stale = 0", [before.id])

    def remove_story(self, story_id: int) -> StoredStory:
        story = self.story(story_id)
        with self._writing() as db:
            db.execute("DELETE FROM stories WHERE id = ?", [story_id])
        return story

    def link(
        self,
        story_id: int,
        *,
        questions: Iterable[str] = (),
        markers: Iterable[str] = (),
        unlink: bool = False,
    ) -> StoredStory:
        self.story(story_id)
        questions, markers = list(questions), list(markers)
        self._require_questions(questions)
        self._require_markers(markers)
        with self._writing() as db:
            if unlink:
                for q in questions:
                    db.execute(
                        "DELETE FROM story_questions WHERE story_id = ? AND question_id = ?",
                        [story_id, q],
                    )
                for m in markers:
                    db.execute(
                        "DELETE FROM story_markers WHERE story_id = ? AND marker_slug = ?",
                        [story_id, m],
                    )
            else:
                self._put_links(db, story_id, questions, markers)
            db.table("stories").update(story_id, {"updated": now()})
        return self.story(story_id)

    def link_questions(self, links: Iterable[tuple[int, str]]) -> None:
        """Link each (story id, question id) pair, all in one transaction: every id is checked
        first, so an unknown one links nothing."""
        links = list(links)
        for story_id in dict.fromkeys(s for s, _ in links):
            self.story(story_id)
        self._require_questions(q for _, q in links)
        with self._writing() as db:
            for story_id, question_id in links:
                self._put_links(db, story_id, [question_id], [])
                db.table("stories").update(story_id, {"updated": now()})

    def reject_links(self, links: Iterable[tuple[int, str]]) -> None:
        """Remember (story id, question id) pairs the user said do not belong together."""
        stamp = now()
        rows = [{"story_id": s, "question_id": q, "created": stamp} for s, q in links]
        with self._writing() as db:
            db.table("rejected_links").upsert_all(rows, pk=("story_id", "question_id"))

    def rejected_links(self) -> set[tuple[int, str]]:
        rows = self._read("SELECT story_id, question_id FROM rejected_links")
        return {(r["story_id"], r["question_id"]) for r in rows}

    def story(self, story_id: int) -> StoredStory:
        stories = self._stories_where("id = ?", [story_id])
        if not stories:
            raise StorycoachError(f"no story with id {story_id} (see `storycoach story list`)")
        return stories[0]

    def stories(
        self,
        *,
        question: str | None = None,
        marker: str | None = None,
        tag: str | None = None,
        include_retired: bool = True,
    ) -> list[StoredStory]:
        clauses: list[str] = []
        params: list[str | int] = []
        if question:
            self._require_questions([question])
            clauses.append("id IN (SELECT story_id FROM story_questions WHERE question_id = ?)")
            params.append(question)
        if marker:
            self._require_markers([marker])
            clauses.append("id IN (SELECT story_id FROM story_markers WHERE marker_slug = ?)")
            params.append(marker)
        if tag:
            tags = [r["value"] for r in self._read(
                "SELECT DISTINCT value FROM stories, json_each(stories.tags) ORDER BY value"
            )]  # fmt: skip
            if tag not in tags:
                raise NotFoundError("tag", tag, tags)
            clauses.append("EXISTS (SELECT 1 FROM json_each(stories.tags) WHERE value = ?)")
            params.append(tag)
        if not include_retired:
            clauses.append("retired = 0")
        return self._stories_where(" AND ".join(clauses) or "1", params)

    def search(self, query: str, limit: int = 20) -> list[StoredStory]:
        """Full-text search with stemming ("dissent" finds "dissented"); the query is quoted so
        most punctuation is not FTS syntax, and what still is becomes a usage error."""
        if not query.strip():
            raise StorycoachError("the search query is empty")
        try:
            with self._lock:
                found = self.db.table("stories").search(query, limit=limit, quote=True)
                ids = [r["id"] for r in found]
        except sqlite3.OperationalError as error:
            if getattr(error, "sqlite_errorname", "") != "SQLITE_ERROR":
                raise _friendly(error, self.path) from error
            # The bank is fine: the query is not something the search syntax can read.
            raise StorycoachError(
                f"cannot search for {query!r}: use plain words (a stray quote or bracket "
                'confuses the search); e.g. storycoach story search "cache rewrite"'
            ) from None
        except sqlite3.Error as error:
            raise _friendly(error, self.path) from error
        by_id = {s.id: s for s in self._stories_where(f"id IN ({','.join('?' * len(ids))})", ids)}
        return [by_id[i] for i in ids if i in by_id]

    def story_links(self) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
        """All story->questions and story->markers links, for coverage and export."""
        questions: dict[int, list[str]] = {}
        for r in self._read("SELECT * FROM story_questions ORDER BY story_id, question_id"):
            questions.setdefault(r["story_id"], []).append(r["question_id"])
        markers: dict[int, list[str]] = {}
        for r in self._read("SELECT * FROM story_markers ORDER BY story_id, marker_slug"):
            markers.setdefault(r["story_id"], []).append(r["marker_slug"])
        return questions, markers

    def _stories_where(self, where: str, params: list[str | int]) -> list[StoredStory]:
        rows = self._read(f"SELECT * FROM stories WHERE {where} ORDER BY id", params)
        if not rows:
            return []
        questions, markers = self.story_links()
        return [
            self._story_from_row(r, questions.get(r["id"], []), markers.get(r["id"], []))
            for r in rows
        ]

    @staticmethod
    def _story_row(story: Story, *, created: str, updated: str) -> dict[str, Any]:
        row = story.model_dump(exclude={"questions", "markers", "when", "created", "updated"})
        row["happened"] = story.when
        row["people"] = _dumps(row["people"])
        row["metrics"] = _dumps(row["metrics"])
        row["tags"] = _dumps(row["tags"])
        row["retired"] = int(story.retired)
        row["created"], row["updated"] = created, updated
        return row

    @staticmethod
    def _story_from_row(
        row: dict[str, Any], questions: list[str], markers: list[str]
    ) -> StoredStory:
        data = dict(row)
        data["when"] = data.pop("happened")
        data["people"] = [Person(**p) for p in json.loads(data["people"] or "[]")]
        data["metrics"] = json.loads(data["metrics"] or "[]")
        data["tags"] = json.loads(data["tags"] or "[]")
        data["retired"] = bool(data["retired"])
        return StoredStory(**data, questions=questions, markers=markers)

    @staticmethod
    def _put_links(
        db: sqlite_utils.Database, story_id: int, questions: Iterable[str], markers: Iterable[str]
    ) -> None:
        db.table("story_questions").insert_all(
            [{"story_id": story_id, "question_id": q} for q in questions], ignore=True
        )
        db.table("story_markers").insert_all(
            [{"story_id": story_id, "marker_slug": m} for m in markers], ignore=True
        )

    # -- reviews ------------------------------------------------------------------------------

    def add_review(self, result: ReviewResult, draft: str, *, cache_key: str | None = None) -> int:
        """Store a review before any model call: the draft must survive a failing network."""
        row = {
            "created": now(),
            "path": result.path,
            "story_id": result.story_id,
            "question_id": result.question,
            "level": result.level,
            "draft": draft,
            "draft_hash": text_hash(draft),
            "findings": _dumps([f.model_dump() for f in result.findings]),
            "verdict": result.verdict,
            "llm": _dumps(result.llm.model_dump()) if result.llm else None,
            "llm_status": result.llm_status,
            "cache_key": cache_key,
            "uid": new_uid(),
            "owner": owner_token() if result.llm_status == "pending" else None,
        }
        with self._writing() as db:
            return _insert(db.table("reviews"), row)

    def finish_review(self, review_id: int, result: ReviewResult) -> None:
        """Record the merged outcome once the model has answered (or failed)."""
        with self._writing() as db:
            db.table("reviews").update(
                review_id,
                {
                    "findings": _dumps([f.model_dump() for f in result.findings]),
                    "verdict": result.verdict,
                    "llm": _dumps(result.llm.model_dump()) if result.llm else None,
                    "llm_status": result.llm_status,
                    "owner": None,
                },
            )

    def start_call(self, review_id: int, model: str) -> int:
        """Record a model request *before* it is sent (status `pending`): a request that is
        paid for is never unrecorded, even if the process dies while it is in flight.
        Safe to call from worker threads."""
        with self._writing() as db:
            return _insert(
                db.table("llm_calls"),
                {"review_id": review_id, "created": now(), "model": model, "status": "pending"},
            )

    def finish_call(self, call_id: int, call: CallRecord) -> None:
        """Complete a `start_call` row with the attempt's outcome (status, tokens, cost...)."""
        with self._writing() as db:
            db.table("llm_calls").update(call_id, call.model_dump())

    def interrupt_reviews(self, review_ids: Iterable[int]) -> int:
        """Mark these unfinished reviews and their pending calls `interrupted` (Ctrl-C)."""
        ids = list(review_ids)
        if not ids:
            return 0
        marks = ",".join("?" * len(ids))
        with self._writing() as db:
            db.execute(
                f"UPDATE llm_calls SET status = 'interrupted' WHERE status = 'pending' "
                f"AND review_id IN ({marks})",
                ids,
            )
            cursor = db.execute(
                f"UPDATE reviews SET llm_status = 'interrupted', owner = NULL "
                f"WHERE llm_status = 'pending' AND id IN ({marks})",
                ids,
            )
            return int(cursor.rowcount)

    def sweep_interrupted(self) -> int:
        """Pending reviews whose process is gone become `interrupted` (run on every open for
        writing, and by `doctor`). Returns how many were swept."""
        rows = self._read(
            "SELECT id, owner, created, llm_status FROM reviews WHERE llm_status = 'pending'"
        )
        dead = [r["id"] for r in rows if effective_status(r) == "interrupted"]
        return self.interrupt_reviews(dead) if dead and not self.read_only else 0

    def record_llm_call(self, review_id: int, call: CallRecord) -> None:
        with self._writing() as db:
            db.table("llm_calls").insert(
                {"review_id": review_id, "created": now(), **call.model_dump()}
            )

    def cached_llm(self, cache_key: str) -> LlmReview | None:
        rows = self._read(
            "SELECT llm FROM reviews WHERE cache_key = ? AND llm_status = 'ok' "
            "ORDER BY id DESC LIMIT 1",
            [cache_key],
        )
        return LlmReview.model_validate_json(rows[0]["llm"]) if rows else None

    def reviews(
        self,
        *,
        question: str | None = None,
        story: int | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Stored reviews, newest first, each with its model calls."""
        clauses: list[str] = []
        params: list[str | int] = []
        if question:
            clauses.append("question_id = ?")
            params.append(question)
        if story is not None:
            clauses.append("story_id = ?")
            params.append(story)
        sql = f"SELECT * FROM reviews WHERE {' AND '.join(clauses) or '1'} ORDER BY id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        rows = self._read(sql, params)
        calls: dict[int, list[dict[str, Any]]] = {}
        if rows:
            ids = [r["id"] for r in rows]
            for c in self._read(
                f"SELECT * FROM llm_calls WHERE review_id IN ({','.join('?' * len(ids))}) "
                "ORDER BY id",
                ids,
            ):
                calls.setdefault(c["review_id"], []).append(c)
        out = []
        for r in rows:
            r = dict(r)
            r["llm_status"] = effective_status(r)
            if r["llm_status"] in UNFINISHED:
                r["verdict"] = r["llm_status"]  # never the offline pass of an unfinished review
            r["findings"] = [Finding(**f) for f in json.loads(r["findings"] or "[]")]
            r["llm"] = json.loads(r["llm"]) if r["llm"] else None
            r["calls"] = calls.get(r["id"], [])
            out.append(r)
        return out

    def latest_verdicts(self, *, include_unfinished: bool = False) -> dict[int, str]:
        """Each story's most recent review verdict, for the coverage map and `story list`.

        A review that never finished (pending, or interrupted: the process died or was
        stopped) has no verdict: it is skipped, so the story's previous finished review
        counts; with `include_unfinished` it is reported as `pending` or `interrupted`. A
        verdict on text edited since is `needs-review` (neither a pass nor a fail)."""
        rows = self._read(
            "SELECT story_id, verdict, llm_status, owner, created, stale FROM reviews "
            "WHERE story_id IS NOT NULL ORDER BY id DESC"
        )
        out: dict[int, str] = {}
        for r in rows:
            if r["story_id"] in out:
                continue
            status = effective_status(r)
            if status in UNFINISHED:
                if include_unfinished:
                    out[r["story_id"]] = str(status)
                continue
            out[r["story_id"]] = NEEDS_REVIEW if r["stale"] else r["verdict"]
        return out

    # -- export / import ----------------------------------------------------------------------

    def export_data(self) -> dict[str, Any]:
        """The whole bank as one JSON-ready object: stories (with `uid` and links), user
        questions, reviews with their model calls, and link-suggestion runs. Importing it into
        an empty bank reproduces every table."""
        stories = [s.model_dump(mode="json") for s in self.stories()]
        user_questions = [q.model_dump(mode="json") for q in self.questions() if q.source == "user"]
        uids = {r["id"]: r["uid"] for r in self._read("SELECT id, uid FROM stories")}
        calls: dict[int, list[dict[str, Any]]] = {}
        for c in self._read("SELECT * FROM llm_calls ORDER BY id"):
            review_id = c.pop("review_id")
            calls.setdefault(review_id, []).append(c)
        reviews = []
        for r in self._read("SELECT * FROM reviews ORDER BY id"):
            r["story_uid"] = uids.get(r.pop("story_id"))
            r["findings"] = json.loads(r["findings"] or "[]")
            r["llm"] = json.loads(r["llm"]) if r["llm"] else None
            r["calls"] = calls.get(r["id"], [])
            reviews.append(r)
        suggestions = []
        for r in self._read("SELECT * FROM link_suggestions ORDER BY id"):
            r["proposals"] = json.loads(r["proposals"]) if r["proposals"] is not None else None
            r["calls"] = json.loads(r["calls"] or "[]")
            suggestions.append(r)
        return {
            "version": EXPORT_VERSION,
            "stories": stories,
            "questions": user_questions,
            "reviews": reviews,
            "link_suggestions": suggestions,
        }

    def import_data(
        self, data: ExportFile | object, *, on_conflict: OnConflict = "skip"
    ) -> ImportReport:
        """Merge an export into the bank; all or nothing, and idempotent.

        Stories match on `uid`, questions on `id`, reviews and runs on `uid`: a record the bank
        already holds unchanged is counted `unchanged`; one it holds with different content is
        a conflict, resolved by `on_conflict` (skip it, replace the bank's copy, or add it as a
        new story) and listed in the report. Row ids are kept when they are free, so an
        import into an empty bank is an exact copy."""
        if not isinstance(data, ExportFile):
            data = validate_export(data)
        report = ImportReport()
        with self._writing() as db:
            existing_questions = {q.id: q for q in self.questions()}
            for question in data.questions:
                current = existing_questions.get(question.id)
                incoming = question.model_copy(update={"source": "user"})
                if current is None:
                    self._require_markers(question.markers)
                    self._put_question(db, incoming)
                    report.questions += 1
                elif _same_question(current, incoming):
                    report.unchanged += 1
                else:
                    action: ConflictAction = "replaced" if on_conflict == "replace" else "skipped"
                    report.conflicts.append(
                        Conflict(
                            kind="question",
                            key=question.id,
                            title=question.text[:80],
                            action=action,
                        )
                    )
                    if action == "replaced":
                        self._require_markers(question.markers)
                        self._put_question(db, incoming)
                        report.replaced += 1
            known_questions = set(self.question_ids())
            self._require_markers({m for s in data.stories for m in s.markers})
            for story in data.stories:
                for q in story.questions:
                    if q not in known_questions:
                        raise NotFoundError("question", q, known_questions)
            by_uid = {r["uid"]: r["id"] for r in self._read("SELECT id, uid FROM stories")}
            for story in data.stories:
                uid = story.uid or new_uid()
                current_id = by_uid.get(uid)
                if current_id is None:
                    by_uid[uid] = self._insert_story(db, story, uid)
                    report.stories += 1
                    continue
                held = self.story(current_id)
                if _same_story(held, story):
                    report.unchanged += 1
                    continue
                resolved: dict[OnConflict, ConflictAction] = {
                    "skip": "skipped", "replace": "replaced", "copy": "copied",
                }  # fmt: skip
                action = resolved[on_conflict]
                report.conflicts.append(
                    Conflict(kind="story", key=uid, title=story.title[:80], action=action)
                )
                if on_conflict == "replace":
                    row = self._story_row(
                        story, created=_stamp(story.created), updated=_stamp(story.updated)
                    )
                    row["id"], row["uid"] = current_id, uid
                    db.table("stories").update(current_id, row)
                    self._mark_stale(db, held, story)
                    db.execute("DELETE FROM story_questions WHERE story_id = ?", [current_id])
                    db.execute("DELETE FROM story_markers WHERE story_id = ?", [current_id])
                    self._put_links(db, current_id, story.questions, story.markers)
                    report.replaced += 1
                elif on_conflict == "copy":
                    self._insert_story(db, story.model_copy(update={"id": None}), new_uid())
                    report.stories += 1
            self._import_reviews(db, data.reviews, by_uid, report)
            self._import_suggestions(db, data.link_suggestions, report)
        return report

    def _insert_story(self, db: sqlite_utils.Database, story: Story, uid: str) -> int:
        row = self._story_row(story, created=_stamp(story.created), updated=_stamp(story.updated))
        row["uid"] = uid
        if row.get("id") is None or self._read("SELECT 1 FROM stories WHERE id = ?", [row["id"]]):
            row.pop("id", None)
        story_id = _insert(db.table("stories"), row)
        self._put_links(db, story_id, story.questions, story.markers)
        return story_id

    def _import_reviews(
        self,
        db: sqlite_utils.Database,
        reviews: list[ReviewRow],
        story_ids: dict[str, int],
        report: ImportReport,
    ) -> None:
        have = {r["uid"] for r in self._read("SELECT uid FROM reviews")}
        columns = set(db.table("reviews").columns_dict)
        for review in reviews:
            if review.uid in have:
                report.unchanged += 1
                continue
            row = review.model_dump(exclude={"calls", "story_uid"})
            row["story_id"] = story_ids.get(review.story_uid) if review.story_uid else None
            row["findings"] = _dumps(review.findings)
            row["llm"] = _dumps(review.llm) if review.llm is not None else None
            row = {k: v for k, v in row.items() if k in columns}
            if row.get("id") is None or self._read(
                "SELECT 1 FROM reviews WHERE id = ?", [row["id"]]
            ):
                row.pop("id", None)
            review_id = _insert(db.table("reviews"), row)
            for call in review.calls:
                call_row = {**call.model_dump(), "review_id": review_id}
                if call_row["id"] is None or self._read(
                    "SELECT 1 FROM llm_calls WHERE id = ?", [call_row["id"]]
                ):
                    call_row.pop("id")
                db.table("llm_calls").insert(call_row)
            have.add(review.uid)
            report.reviews += 1

    def _import_suggestions(
        self, db: sqlite_utils.Database, runs: list[SuggestionRow], report: ImportReport
    ) -> None:
        have = {r["uid"] for r in self._read("SELECT uid FROM link_suggestions")}
        for run in runs:
            if run.uid in have:
                report.unchanged += 1
                continue
            row = run.model_dump()
            row["proposals"] = _dumps(run.proposals) if run.proposals is not None else None
            row["calls"] = _dumps(run.calls)
            if row["id"] is None or self._read(
                "SELECT 1 FROM link_suggestions WHERE id = ?", [row["id"]]
            ):
                row.pop("id")
            db.table("link_suggestions").insert(row)
            have.add(run.uid)
            report.link_suggestions += 1

    def backup(self, target: Path | str, *, overwrite: bool = False) -> int:
        """A consistent copy of the live bank at `target` (SQLite's online backup API: other
        processes may keep writing). Returns the number of pages copied."""
        target = Path(target).expanduser()
        if target.exists() and not overwrite:
            raise StorycoachError(f"{target} exists; pass --force to overwrite it")
        if target.resolve() == self.path.resolve():
            raise StorycoachError("the backup must go to another file than the bank itself")
        if not target.parent.is_dir():
            raise StorycoachError(f"cannot write {target}: {target.parent} is not a directory")
        partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
        copied = 0

        def progress(status: int, remaining: int, total: int) -> None:
            nonlocal copied
            copied = total

        try:
            dest = sqlite3.connect(partial)
            try:
                with self._lock:
                    self.db.conn.backup(dest, progress=progress)  # one step: one snapshot
                dest.execute("PRAGMA journal_mode = DELETE")
            finally:
                dest.close()
            os.replace(partial, target)
        except sqlite3.Error as error:
            partial.unlink(missing_ok=True)
            raise _friendly(error, target) from error
        except OSError as error:
            partial.unlink(missing_ok=True)
            raise StorycoachError(f"cannot write {target}: {error.strerror}") from error
        return copied

    # -- coverage -----------------------------------------------------------------------------

    def cached_suggestions(self, cache_key: str) -> list[dict[str, Any]] | None:
        """The proposals of the latest successful `coverage --llm` run with this key, or None."""
        rows = self._read(
            "SELECT proposals FROM link_suggestions WHERE cache_key = ? AND status = 'ok' "
            "ORDER BY id DESC LIMIT 1",
            [cache_key],
        )
        return json.loads(rows[0]["proposals"]) if rows else None

    def start_suggestions(self, cache_key: str, *, model: str) -> int:
        """Record a `coverage --llm` run *before* its request is sent (status `pending`), so a
        request that is paid for is never unrecorded, even if the process dies in flight."""
        row = {
            "created": now(),
            "cache_key": cache_key,
            "model": model,
            "status": "pending",
            "proposals": None,
            "error": None,
            "calls": "[]",
            "tokens_in": None,
            "tokens_out": None,
            "cost_usd": None,
            "uid": new_uid(),
        }
        with self._writing() as db:
            return _insert(db.table("link_suggestions"), row)

    def finish_suggestions(
        self,
        run_id: int,
        proposals: list[dict[str, Any]] | None,
        *,
        calls: Iterable[CallRecord],
        error: str | None = None,
    ) -> None:
        """Complete a run `start_suggestions` recorded: its proposals (None when the model
        failed or was interrupted, with `error`) and every attempt."""
        attempts = list(calls)
        row = {
            "status": "ok" if proposals is not None else "failed",
            "proposals": _dumps(proposals) if proposals is not None else None,
            "error": error,
            "calls": _dumps([c.model_dump() for c in attempts]),
            "tokens_in": known_sum(c.tokens_in for c in attempts),
            "tokens_out": known_sum(c.tokens_out for c in attempts),
            "cost_usd": usage_cost(attempts),
        }
        with self._writing() as db:
            db.table("link_suggestions").update(run_id, row)

    def practice_counts(self) -> dict[str, int]:
        """Reviews per question id, so `practice` rotates through equally weak questions."""
        rows = self._read(
            "SELECT question_id, count(*) AS n FROM reviews "
            "WHERE question_id IS NOT NULL GROUP BY question_id"
        )
        return {r["question_id"]: r["n"] for r in rows}

    # -- mock rounds --------------------------------------------------------------------------

    def add_mock_session(self, session: MockSession) -> int:
        """Store a new round before anything else happens; returns its id."""
        stamp = now()
        with self._writing() as db:
            row = {"created": stamp, **self._mock_row(session, stamp)}
            pk = db.table("mock_sessions").insert(row).last_pk
            assert isinstance(pk, int)
            return pk

    def save_mock_session(self, session: MockSession) -> None:
        """Rewrite a round's row with its current turns, verdicts, draft and model summary."""
        if session.id is None:
            raise StorycoachError("save_mock_session needs a stored session")
        with self._writing() as db:
            db.table("mock_sessions").update(session.id, self._mock_row(session, now()))

    @staticmethod
    def _mock_row(session: MockSession, stamp: str) -> dict[str, Any]:
        return {
            "updated": stamp,
            "question_id": session.question,
            "level": session.level,
            "story_id": session.story_id,
            "status": session.status,
            "turns": _dumps([t.model_dump(mode="json") for t in session.turns]),
            "first_verdict": session.first_verdict,
            "verdict": session.verdict,
            "debrief": _dumps([o.model_dump(mode="json") for o in session.debrief]),
            "improved_draft": session.improved_draft,
            "draft_verdict": session.draft_verdict,
            "draft_findings": _dumps([f.model_dump(mode="json") for f in session.draft_findings]),
            "llm": _dumps(session.llm.model_dump(mode="json")) if session.llm else None,
            "llm_status": session.llm_status,
        }

    def record_mock_call(self, session_id: int, purpose: str, call: CallRecord) -> None:
        """One model attempt of a round (`purpose`: follow-up or rewrite), as `llm_calls`
        stores a review's: never the key or the text."""
        with self._writing() as db:
            db.table("mock_calls").insert(
                {"session_id": session_id, "created": now(), "purpose": purpose,
                 **call.model_dump()}
            )  # fmt: skip

    def mock_session(self, session_id: int) -> MockSession:
        rows = self._read("SELECT * FROM mock_sessions WHERE id = ?", [session_id])
        if not rows:
            known = [str(r["id"]) for r in self._read("SELECT id FROM mock_sessions")]
            raise NotFoundError("mock session", str(session_id), known)
        return self._mock_from_row(rows[0])

    def mock_sessions(self, *, limit: int | None = None) -> list[MockSession]:
        """Stored rounds, newest first."""
        sql = "SELECT * FROM mock_sessions ORDER BY id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [self._mock_from_row(r) for r in self._read(sql)]

    def mock_calls(self, session_id: int) -> list[dict[str, Any]]:
        return self._read("SELECT * FROM mock_calls WHERE session_id = ? ORDER BY id", [session_id])

    @staticmethod
    def _mock_from_row(row: dict[str, Any]) -> MockSession:
        from storycoach.mock import MockSession  # only commands that read rounds pay for it

        return MockSession.model_validate(
            {
                "id": row["id"],
                "created": row["created"],
                "question": row["question_id"],
                "level": row["level"],
                "story_id": row["story_id"],
                "status": row["status"],
                "turns": json.loads(row["turns"] or "[]"),
                "first_verdict": row["first_verdict"],
                "verdict": row["verdict"],
                "debrief": json.loads(row["debrief"] or "[]"),
                "improved_draft": row["improved_draft"] or "",
                "draft_verdict": row["draft_verdict"],
                "draft_findings": json.loads(row["draft_findings"] or "[]"),
                "llm": json.loads(row["llm"]) if row["llm"] else None,
                "llm_status": row["llm_status"] or "skipped",
            }
        )


def _stamp(value: datetime | None) -> str:
    return value.isoformat() if value else now()


def _same_story(a: Story, b: Story) -> bool:
    skip = {"id", "uid", "created", "updated"}
    return a.model_dump(exclude=skip) == b.model_dump(exclude=skip)


def _same_question(a: Question, b: Question) -> bool:
    return a.model_dump(exclude={"source"}) == b.model_dump(exclude={"source"})


# -- shell completion ---------------------------------------------------------------------------

_PEEK_SQL = {
    "questions": "SELECT id, text FROM questions ORDER BY id",
    "markers": "SELECT slug, name FROM markers ORDER BY slug",
    "stories": "SELECT id, title FROM stories ORDER BY retired, id DESC",
    "roles": "SELECT DISTINCT value, '' FROM questions, json_each(questions.roles) ORDER BY value",
    "tags": "SELECT DISTINCT value, '' FROM stories, json_each(stories.tags) ORDER BY value",
}


def peek(path: Path | str, kind: str) -> list[tuple[str, str]]:
    """`(value, description)` pairs for shell completion, read without opening a `Bank`.

    A completion runs on every <TAB>, so this opens the file read-only: it never creates a
    bank, never migrates one and never writes. Without a readable bank, questions, markers and
    roles come from the shipped question bank, and there are no stories or tags yet.
    """
    path = Path(path).expanduser()
    if path.is_file():
        try:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=0.5)
            try:
                return [(str(a), b or "") for a, b in conn.execute(_PEEK_SQL[kind])]
            finally:
                conn.close()
        except sqlite3.Error:
            pass  # an old or damaged bank: fall back to what ships
    if kind in ("stories", "tags"):
        return []
    import tomllib

    seed = tomllib.loads((resource_dir("data") / "questions.toml").read_text(encoding="utf-8"))
    if kind == "markers":
        return sorted((m["slug"], m["name"]) for m in seed.get("markers", []))
    if kind == "roles":
        return [(r, "") for r in sorted({r for q in seed["questions"] for r in q.get("roles", [])})]
    return sorted((q["id"], q["text"]) for q in seed.get("questions", []))
