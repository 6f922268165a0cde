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
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils
import sqlite_utils.db
from pydantic import BaseModel, ValidationError

from storycoach.errors import NotFoundError, StorycoachError, first_error
from storycoach.models import (
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

if TYPE_CHECKING:
    from storycoach.mock import MockSession

MIGRATIONS = sqlite_utils.Migrations("storycoach")
EXPORT_VERSION = 1
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


def _insert(table: sqlite_utils.db.Table, row: dict[str, Any]) -> int:
    """Insert one row; its integer primary key."""
    pk = table.insert(row).last_pk
    if not isinstance(pk, int):
        raise TypeError(f"{table.name}: expected an integer primary key, got {pk!r}")
    return pk


@MIGRATIONS()
def m0XX_mock_sessions(db: sqlite_utils.Database) -> None:
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


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _friendly(error: sqlite3.Error, path: Path) -> StorycoachError:
    """One readable line for a SQLite error, by its result code (`sqlite_errorname`, e.g.
    SQLITE_BUSY or the extended SQLITE_READONLY_DBMOVED), never by its message text."""
    name: str = getattr(error, "sqlite_errorname", None) or ""
    primary = "_".join(name.split("_")[:2])  # SQLITE_CANTOPEN_ISDIR -> SQLITE_CANTOPEN
    if primary in ("SQLITE_BUSY", "SQLITE_LOCKED"):
        return StorycoachError(
            f"the story bank {path} is locked by another process; try again in a moment"
        )
    if primary == "SQLITE_READONLY":
        return StorycoachError(f"the story bank {path} is read-only; check its permissions")
    if primary in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
        return StorycoachError(f"{path} is not a storycoach database (not SQLite, or damaged)")
    if primary == "SQLITE_CANTOPEN":
        return StorycoachError(f"cannot open the story bank at {path}")
    return StorycoachError(f"database error in {path}: {error}")


class Bank:
    """The story bank. Open it with `Bank.open(path)`; it migrates and seeds itself."""

    def __init__(self, db: sqlite_utils.Database, path: Path) -> None:
        self.db = db
        self.path = path

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | str) -> Bank:
        path = Path(path).expanduser()
        try:
            if str(path) != ":memory:":
                path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_dir():
                raise StorycoachError(f"{path} is a directory, not a story bank file")
            conn = sqlite3.connect(str(path), timeout=2.0)
            db = sqlite_utils.Database(conn, execute_plugins=False)
            db.execute("PRAGMA foreign_keys = ON")
            if str(path) != ":memory:":
                db.execute("PRAGMA journal_mode = WAL")
            bank = cls(db, path)
            MIGRATIONS.apply(db)
            bank._seed()
        except sqlite3.Error as error:
            raise _friendly(error, path) from error
        except OSError as error:
            raise StorycoachError(f"cannot open the story bank at {path}: {error}") from error
        return bank

    def close(self) -> None:
        self.db.conn.close()

    @contextmanager
    def _writing(self) -> Iterator[sqlite_utils.Database]:
        """One transaction; SQLite errors become one readable line."""
        try:
            with self.db.atomic():
                yield self.db
        except sqlite3.Error as error:
            raise _friendly(error, self.path) from error

    def _read(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        try:
            return list(self.db.query(sql, params))
        except sqlite3.Error as error:
            raise _friendly(error, self.path) from error

    # -- seed question bank -------------------------------------------------------------------

    def _seed(self) -> None:
        """Load the shipped question bank when it is new or changed; user rows stay as they are."""
        seed_file = resource_dir("data") / "questions.toml"
        raw = seed_file.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        row = self._read("SELECT value FROM meta WHERE key = 'seed_hash'")
        if row and row[0]["value"] == digest:
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
            story_id = _insert(db.table("stories"), row)
            self._put_links(db, story_id, story.questions, story.markers)
        return self.story(story_id)

    def update_story(self, story_id: int, story: Story) -> StoredStory:
        current = self.story(story_id)
        self._require_questions(story.questions)
        self._require_markers(story.markers)
        with self._writing() as db:
            row = self._story_row(story, created=current.created.isoformat(), updated=now())
            row["id"] = story_id
            db.table("stories").update(story_id, row)
            db.execute("DELETE FROM story_questions WHERE story_id = ?", [story_id])
            db.execute("DELETE FROM story_markers WHERE story_id = ?", [story_id])
            self._put_links(db, story_id, story.questions, story.markers)
        return self.story(story_id)

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
            clauses.append("EXISTS (SELECT 1 FROM json_each(stories.tags) WHERE value = ?)")
            params.append(tag)
        if not include_retired:
            clauses.append("retired = 0")
        return self._stories_where(" AND ".join(clauses) or "1", params)

    def search(self, query: str, limit: int = 20) -> list[StoredStory]:
        """Full-text search; the query is quoted so user punctuation is not FTS syntax."""
        if not query.strip():
            raise StorycoachError("the search query is empty")
        try:
            ids = [r["id"] for r in self.db.table("stories").search(query, limit=limit, quote=True)]
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
                },
            )

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
            r["findings"] = [Finding(**f) for f in json.loads(r["findings"] or "[]")]
            r["llm"] = json.loads(r["llm"]) if r["llm"] else None
            r["calls"] = calls.get(r["id"], [])
            out.append(r)
        return out

    def latest_verdicts(self) -> dict[int, str]:
        """Each story's most recent review verdict, for the coverage map."""
        rows = self._read(
            "SELECT story_id, verdict FROM reviews WHERE id IN "
            "(SELECT max(id) FROM reviews WHERE story_id IS NOT NULL GROUP BY story_id)"
        )
        return {r["story_id"]: r["verdict"] for r in rows}

    # -- export / import ----------------------------------------------------------------------

    def export_data(self) -> dict[str, Any]:
        stories = [s.model_dump(mode="json") for s in self.stories()]
        user_questions = [q.model_dump(mode="json") for q in self.questions() if q.source == "user"]
        return {"version": EXPORT_VERSION, "stories": stories, "questions": user_questions}

    def import_data(self, data: Any) -> tuple[int, int]:
        """Add exported stories and user questions; all or nothing. Returns the counts."""
        if not isinstance(data, dict) or data.get("version") != EXPORT_VERSION:
            raise StorycoachError(
                f'not a storycoach export: expected a JSON object with "version": {EXPORT_VERSION}'
            )
        questions: list[Question] = _import_items(data, "questions", Question)
        stories: list[Story] = _import_items(data, "stories", Story)
        existing = set(self.question_ids())
        new_questions = [q for q in questions if q.id not in existing]
        self._require_markers({m for q in new_questions for m in q.markers})
        known_questions = existing | {q.id for q in new_questions}
        for story in stories:
            for q in story.questions:
                if q not in known_questions:
                    raise NotFoundError("question", q, known_questions)
        self._require_markers({m for s in stories for m in s.markers})
        with self._writing() as db:
            for question in new_questions:
                self._put_question(db, question.model_copy(update={"source": "user"}))
            for story in stories:
                stamp = now()
                row = self._story_row(
                    story,
                    created=story.created.isoformat() if story.created else stamp,
                    updated=story.updated.isoformat() if story.updated else stamp,
                )
                row.pop("id", None)
                story_id = _insert(db.table("stories"), row)
                self._put_links(db, story_id, story.questions, story.markers)
        return len(stories), len(new_questions)

    # -- coverage -----------------------------------------------------------------------------

    def cached_suggestions(self, cache_key: str) -> list[dict[str, Any]] | None:
        """The proposals of the latest successful `coverage --llm` run with this key, or None."""
        rows = self._read(
            "SELECT proposals FROM link_suggestions WHERE cache_key = ? AND status = 'ok' "
            "ORDER BY id DESC LIMIT 1",
            [cache_key],
        )
        return json.loads(rows[0]["proposals"]) if rows else None

    def store_suggestions(
        self,
        cache_key: str,
        proposals: list[dict[str, Any]] | None,
        *,
        model: str,
        calls: Iterable[CallRecord],
        error: str | None = None,
    ) -> int:
        """Record one `coverage --llm` run: its proposals (None when the model failed, with
        `error`) and every attempt."""
        attempts = list(calls)
        row = {
            "created": now(),
            "cache_key": cache_key,
            "model": model,
            "status": "ok" if proposals is not None else "failed",
            "proposals": _dumps(proposals) if proposals is not None else None,
            "error": error,
            "calls": _dumps([c.model_dump() for c in attempts]),
            "tokens_in": known_sum(c.tokens_in for c in attempts),
            "tokens_out": known_sum(c.tokens_out for c in attempts),
            "cost_usd": usage_cost(attempts),
        }
        with self._writing() as db:
            return _insert(db.table("link_suggestions"), row)

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


def _import_items(data: dict[str, Any], key: str, model: type[BaseModel]) -> list[Any]:
    """The `key` list of an export as `model` records; an error names the item it is in.

    Story ids are dropped: the importing bank numbers its own stories.
    """
    items = data.get(key, [])
    if not isinstance(items, list):
        raise StorycoachError(f"the import file has the wrong shape: {key} must be a list")
    records = []
    for i, item in enumerate(items):
        where = f"the import file has the wrong shape: {key}[{i}]"
        if not isinstance(item, dict):
            raise StorycoachError(f"{where} must be an object")
        try:
            records.append(model(**({**item, "id": None} if model is Story else item)))
        except ValidationError as error:
            raise StorycoachError(f"{where}.{first_error(error)}") from None
    return records
