"""The story bank: seed questions, stories and links, search, export/import, reviews."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from storycoach import bank as bank_module
from storycoach.bank import Bank
from storycoach.errors import NotFoundError, StorycoachError
from storycoach.models import (
    CallRecord,
    CriterionScore,
    Finding,
    LlmReview,
    Person,
    Question,
    ReviewResult,
    Story,
)
from storycoach.resources import resource_dir

GUIDE_IDS = {
    "dissented-from-decision",
    "received-critical-feedback",
    "navigated-significant-ambiguity",
    "influenced-product-decision",
    "reverse-system-design",
    "partner-deploy-broke-service",
}


def make_story(**overrides: object) -> Story:
    fields: dict[str, object] = {
        "title": "Pushed back on the cache rewrite",
        "situation": "In March 2024 checkout p99 was 900 ms at Acme.",
        "task": "I owned the latency budget.",
        "action": "I wrote a design doc and walked Priya Raman through the numbers.",
        "result": "We tuned instead of rewriting; p99 fell to 300 ms in two weeks.",
    }
    return Story(**{**fields, **overrides})


def rich_story(**overrides: object) -> Story:
    """A story using every field, to prove nothing is lost on the way through the bank."""
    fields: dict[str, object] = {
        "reflection": "I now write the doc before the meeting.",
        "when": "2024-03",
        "company": "Acme",
        "team": "Payments",
        "people": [Person(name="Priya Raman", role="staff engineer"), Person(name="Dana Ito")],
        "metrics": ["p99 900 ms -> 300 ms"],
        "tags": ["latency", "c++"],
        "level": "E5",
        "questions": ["dissented-from-decision", "influenced-product-decision"],
        "markers": ["farming-for-dissent", "keeper-test"],
    }
    return make_story(**{**fields, **overrides})


# -- the seed question bank ------------------------------------------------------------------


def test_seed_bank_is_loaded(bank: Bank) -> None:
    ids = set(bank.question_ids())
    assert ids >= GUIDE_IDS
    assert len(ids) == 26  # 20 Behavioral entries of seeds/000 + 6 guide questions
    assert all(q.source == "seed" for q in bank.questions())
    assert {
        "context-not-control",
        "farming-for-dissent",
        "keeper-test",
        "freedom-and-responsibility",
    } <= set(bank.marker_slugs())
    question = bank.question("dissented-from-decision")
    assert question.text == "Tell me about a time you dissented from a decision"
    assert "farming-for-dissent" in question.markers
    assert question.probes


def test_reopening_does_not_duplicate_the_seed(db_path: Path, db_counts: Callable) -> None:
    Bank.open(db_path).close()
    first = db_counts()
    assert first["questions"] == 26
    assert first["markers"] >= 6
    Bank.open(db_path).close()
    Bank.open(db_path).close()
    assert db_counts() == first


def _changed_seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str) -> str:
    """Point the bank at a copy of the shipped seed with `extra` appended; returns old text."""
    data = tmp_path / "seed-data"
    data.mkdir()
    original = resource_dir("data") / "questions.toml"
    shutil.copy(original, data / "questions.toml")
    text = (data / "questions.toml").read_text(encoding="utf-8")
    old = 'text = "Tell me about a time you received critical feedback"'
    assert old in text
    text = text.replace(old, 'text = "Tell me about critical feedback you received"')
    (data / "questions.toml").write_text(text + extra, encoding="utf-8")
    monkeypatch.setattr(bank_module, "resource_dir", lambda name: data)
    return old


def test_changed_seed_updates_seed_rows_and_keeps_user_rows(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bank = Bank.open(db_path)
    mine = bank.add_question(
        Question(id="led-migration", text="Tell me about a migration you led", roles=["SRE"])
    )
    story = bank.add_story(make_story(questions=["led-migration", "received-critical-feedback"]))
    bank.close()

    extra = """
[[questions]]
id = "led-migration"
text = "The seed's own wording, which must not replace the user's"
markers = ["keeper-test"]

[[questions]]
id = "brand-new-seed-question"
text = "Tell me about a brand new thing"
markers = ["keeper-test"]
"""
    _changed_seed(tmp_path, monkeypatch, extra)
    bank = Bank.open(db_path)
    try:
        assert bank.question("received-critical-feedback").text == (
            "Tell me about critical feedback you received"
        )
        assert bank.question("brand-new-seed-question").markers == ["keeper-test"]
        kept = bank.question("led-migration")
        assert kept == mine
        assert kept.source == "user"
        assert kept.markers == []
        assert bank.question_ids().count("led-migration") == 1
        # links to seed and user questions survive the reseed
        assert bank.story(story.id).questions == ["led-migration", "received-critical-feedback"]
        # and the new hash is recorded: a third open changes nothing
        before = bank.db.execute("SELECT value FROM meta WHERE key = 'seed_hash'").fetchone()
    finally:
        bank.close()
    again = Bank.open(db_path)
    after = again.db.execute("SELECT value FROM meta WHERE key = 'seed_hash'").fetchone()
    assert after == before
    again.close()


# -- stories --------------------------------------------------------------------------------


def test_add_get_update_remove_story(bank: Bank) -> None:
    saved = bank.add_story(rich_story())
    assert saved.id == 1
    assert saved.created is not None and saved.updated is not None
    fetched = bank.story(saved.id)
    assert fetched == saved
    expected = rich_story().model_dump(exclude={"id", "created", "updated", "questions"})
    assert fetched.model_dump(exclude={"id", "created", "updated", "questions"}) == expected
    assert sorted(fetched.questions) == sorted(rich_story().questions)

    changed = bank.update_story(saved.id, rich_story(title="Renamed", retired=True, markers=[]))
    assert changed.title == "Renamed"
    assert changed.retired is True
    assert changed.markers == []
    assert changed.created == saved.created
    assert bank.stories(include_retired=False) == []
    assert [s.id for s in bank.stories()] == [saved.id]

    removed = bank.remove_story(saved.id)
    assert removed.title == "Renamed"
    assert bank.stories() == []
    with pytest.raises(StorycoachError, match="no story with id 1"):
        bank.story(saved.id)


def test_story_filters(bank: Bank) -> None:
    a = bank.add_story(make_story(title="A", tags=["latency"], questions=["reverse-system-design"]))
    b = bank.add_story(make_story(title="B", markers=["keeper-test"]))
    assert [s.id for s in bank.stories(tag="latency")] == [a.id]
    assert [s.id for s in bank.stories(question="reverse-system-design")] == [a.id]
    assert [s.id for s in bank.stories(marker="keeper-test")] == [b.id]
    with pytest.raises(NotFoundError):
        bank.stories(question="no-such-question")


def test_removing_a_story_cascades_its_links(bank: Bank) -> None:
    keep = bank.add_story(make_story(questions=["dissented-from-decision"]))
    gone = bank.add_story(
        make_story(questions=["dissented-from-decision"], markers=["keeper-test"])
    )
    bank.remove_story(gone.id)
    rows = list(bank.db.query("SELECT * FROM story_questions"))
    assert rows == [{"story_id": keep.id, "question_id": "dissented-from-decision"}]
    assert bank.db["story_markers"].count == 0
    # the seed question itself is untouched
    assert "dissented-from-decision" in bank.question_ids()


def test_link_and_unlink(bank: Bank) -> None:
    story = bank.add_story(make_story())
    linked = bank.link(
        story.id, questions=["reverse-system-design"], markers=["keeper-test", "keeper-test"]
    )
    assert linked.questions == ["reverse-system-design"]
    assert linked.markers == ["keeper-test"]
    # linking twice is harmless
    again = bank.link(story.id, questions=["reverse-system-design"])
    assert again.questions == ["reverse-system-design"]
    unlinked = bank.link(story.id, markers=["keeper-test"], unlink=True)
    assert unlinked.markers == []
    assert unlinked.questions == ["reverse-system-design"]
    assert bank.db["story_markers"].count == 0


def test_unknown_ids_raise_not_found_with_suggestions(bank: Bank, db_counts: Callable) -> None:
    before = db_counts()
    with pytest.raises(NotFoundError) as caught:
        bank.add_story(make_story(questions=["disented-from-decision"]))
    assert "Did you mean: dissented-from-decision" in str(caught.value)

    with pytest.raises(NotFoundError) as caught:
        bank.add_story(make_story(markers=["keeper-tset"]))
    assert "Did you mean: keeper-test" in str(caught.value)

    story = bank.add_story(make_story())
    after_add = db_counts()
    with pytest.raises(NotFoundError):
        bank.link(story.id, questions=["reverse-system-desing"])
    with pytest.raises(NotFoundError):
        bank.link(story.id, markers=["context-not-contrl"])
    with pytest.raises(NotFoundError) as caught:
        bank.question("recieved-critical-feedback")
    assert "received-critical-feedback" in str(caught.value)
    with pytest.raises(NotFoundError):
        bank.questions(marker="keepr-test")
    with pytest.raises(NotFoundError):
        bank.update_story(story.id, make_story(questions=["nope-nope"]))
    assert db_counts() == after_add
    assert after_add["stories"] == before["stories"] + 1
    assert isinstance(NotFoundError("question", "x"), StorycoachError)


def test_add_question_validates(bank: Bank) -> None:
    bank.add_question(Question(id="my-q", text="Tell me something", markers=["keeper-test"]))
    with pytest.raises(StorycoachError, match="already exists"):
        bank.add_question(Question(id="my-q", text="again"))
    with pytest.raises(StorycoachError, match="already exists"):
        bank.add_question(Question(id="reverse-system-design", text="seed id"))
    with pytest.raises(NotFoundError):
        bank.add_question(Question(id="other-q", text="x", markers=["no-such-marker"]))
    assert "other-q" not in bank.question_ids()
    assert bank.question("my-q").source == "user"


# -- search ---------------------------------------------------------------------------------


def test_search_finds_words_in_story_text(bank: Bank) -> None:
    cache = bank.add_story(make_story(title="Cache", action="I profiled the flamegraph."))
    other = bank.add_story(make_story(title="Runbook", action="I wrote the oncall runbook."))
    assert [s.id for s in bank.search("flamegraph")] == [cache.id]
    assert [s.id for s in bank.search("runbook")] == [other.id]
    assert bank.search("nowhere-to-be-found") == []
    assert len(bank.search("Acme", limit=1)) == 1


@pytest.mark.parametrize(
    "query",
    ["c++", '"quotes', '"quoted words"', "AND", "OR NOT", "a*", "title:x", "NEAR(", "-", "'", "(("],
)
def test_search_survives_user_punctuation(bank: Bank, query: str) -> None:
    bank.add_story(make_story(tags=["c++"], action='He said "ship it" and we did.'))
    found = bank.search(query)
    assert isinstance(found, list)


def test_search_with_punctuation_still_matches(bank: Bank) -> None:
    story = bank.add_story(make_story(tags=["c++"], action='He said "ship it" and we did.'))
    assert [s.id for s in bank.search("c++")] == [story.id]
    assert [s.id for s in bank.search('"ship it"')] == [story.id]


def test_empty_search_is_an_error(bank: Bank) -> None:
    with pytest.raises(StorycoachError, match="empty"):
        bank.search("   ")


# -- export / import ------------------------------------------------------------------------


def _fill(bank: Bank) -> None:
    bank.add_question(
        Question(
            id="led-migration",
            text="Tell me about a migration you led",
            roles=["SRE"],
            difficulty="hard",
            tags=["Ownership"],
            markers=["freedom-and-responsibility"],
            probes=["Name the cutover date"],
        )
    )
    bank.add_story(rich_story())
    bank.add_story(make_story(title="Second", questions=["led-migration"], retired=True))
    bank.add_story(make_story(title="Third", when="2023-11-02", tags=["oncall"]))


def test_export_import_export_is_identical(bank: Bank, tmp_path: Path) -> None:
    _fill(bank)
    exported = bank.export_data()
    assert exported["version"] == 1
    assert [q["id"] for q in exported["questions"]] == ["led-migration"]
    assert len(exported["stories"]) == 3
    text = json.dumps(exported)

    fresh = Bank.open(tmp_path / "fresh.db")
    try:
        assert fresh.import_data(json.loads(text)) == (3, 1)
        again = fresh.export_data()
        assert again == exported
        assert fresh.question("led-migration") == bank.question("led-migration")
        assert fresh.story_links() == bank.story_links()
    finally:
        fresh.close()


def test_export_after_deletes_roundtrips_stories_and_links(bank: Bank, tmp_path: Path) -> None:
    """Ids are reassigned on import, so a bank with gaps compares without them."""
    _fill(bank)
    bank.remove_story(1)
    exported = bank.export_data()
    fresh = Bank.open(tmp_path / "fresh.db")
    try:
        fresh.import_data(exported)
        again = fresh.export_data()
    finally:
        fresh.close()

    def strip(data: dict) -> list[dict]:
        return [{k: v for k, v in s.items() if k != "id"} for s in data["stories"]]

    assert strip(again) == strip(exported)
    assert again["questions"] == exported["questions"]


def test_import_into_a_bank_that_has_the_question_already(bank: Bank, tmp_path: Path) -> None:
    _fill(bank)
    exported = bank.export_data()
    assert bank.import_data(exported) == (3, 0)  # the user question is already there
    assert len(bank.stories()) == 6
    assert bank.question_ids().count("led-migration") == 1


BAD_IMPORTS = {
    "a list": [],
    "a string": "stories",
    "no version": {"stories": []},
    "version 2": {"version": 2, "stories": []},
    "version as text": {"version": "1", "stories": []},
    "stories not a list": {"version": 1, "stories": 5},
    "story not an object": {"version": 1, "stories": ["just text"]},
    "story missing result": {
        "version": 1,
        "stories": [
            {"title": "ok", "situation": "s", "task": "t", "action": "a", "result": "r"},
            {"title": "t", "situation": "s", "task": "t", "action": "a"},
        ],
    },
    "story with an unknown field": {
        "version": 1,
        "stories": [
            {"title": "t", "situation": "s", "task": "t", "action": "a", "result": "r", "x": 1}
        ],
    },
    "story with a bad date": {
        "version": 1,
        "stories": [
            {
                "title": "t",
                "situation": "s",
                "task": "t",
                "action": "a",
                "result": "r",
                "when": "March 2024",
            }
        ],
    },
    "link to an unknown question": {
        "version": 1,
        "stories": [
            {"title": "ok", "situation": "s", "task": "t", "action": "a", "result": "r"},
            {
                "title": "t",
                "situation": "s",
                "task": "t",
                "action": "a",
                "result": "r",
                "questions": ["no-such-question"],
            },
        ],
    },
    "link to an unknown marker": {
        "version": 1,
        "stories": [
            {
                "title": "t",
                "situation": "s",
                "task": "t",
                "action": "a",
                "result": "r",
                "markers": ["no-such-marker"],
            }
        ],
    },
    "question with a bad id": {
        "version": 1,
        "questions": [{"id": "Not A Slug", "text": "x"}],
        "stories": [],
    },
    "question with an unknown marker": {
        "version": 1,
        "questions": [{"id": "my-q", "text": "x", "markers": ["nope"]}],
        "stories": [],
    },
}


@pytest.mark.parametrize("data", BAD_IMPORTS.values(), ids=BAD_IMPORTS.keys())
def test_bad_import_raises_one_line_and_writes_nothing(
    bank: Bank, db_counts: Callable, data: object
) -> None:
    _fill(bank)
    before = db_counts()
    with pytest.raises(StorycoachError) as caught:
        bank.import_data(data)
    message = str(caught.value)
    assert message and "\n" not in message
    assert db_counts() == before


def test_import_error_messages_say_what_is_wrong(bank: Bank) -> None:
    with pytest.raises(StorycoachError, match='"version": 1'):
        bank.import_data([])
    with pytest.raises(StorycoachError, match=r"stories\[1\]\.result: required field is missing"):
        bank.import_data(BAD_IMPORTS["story missing result"])
    with pytest.raises(StorycoachError, match=r"stories\[0\] must be an object"):
        bank.import_data(BAD_IMPORTS["story not an object"])
    with pytest.raises(StorycoachError, match="stories must be a list"):
        bank.import_data(BAD_IMPORTS["stories not a list"])
    with pytest.raises(StorycoachError, match=r"questions\[0\]\.id: .*kebab-case"):
        bank.import_data(BAD_IMPORTS["question with a bad id"])
    with pytest.raises(NotFoundError, match="no-such-question"):
        bank.import_data(BAD_IMPORTS["link to an unknown question"])


def test_import_is_all_or_nothing_when_the_database_fails(
    bank: Bank, db_counts: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(bank)
    exported = bank.export_data()
    before = db_counts()
    calls = []
    real = Bank._put_links

    def flaky(db, story_id, questions, markers):  # type: ignore[no-untyped-def]
        calls.append(story_id)
        if len(calls) == 2:
            raise sqlite3.OperationalError("disk I/O error")
        real(db, story_id, questions, markers)

    monkeypatch.setattr(Bank, "_put_links", staticmethod(flaky))
    with pytest.raises(StorycoachError, match="disk I/O error"):
        bank.import_data(exported)
    assert len(calls) == 2
    assert db_counts() == before


# -- reviews --------------------------------------------------------------------------------


def _result(verdict: str = "fail", story_id: int | None = None, **kw: object) -> ReviewResult:
    findings = [
        Finding(rule="missing-dates", severity="error", message="No date", line=3, column=1)
    ]
    return ReviewResult(
        path="draft.md",
        question="dissented-from-decision",
        level="E5",
        verdict=verdict,
        findings=findings if verdict == "fail" else [],
        story_id=story_id,
        **kw,
    )


def _llm(**kw: object) -> LlmReview:
    return LlmReview(
        model="gpt-test",
        criteria=[CriterionScore(criterion="ownership", score=4, quote="I decided", fix="none")],
        verdict="pass",
        reason="clear",
        rewrite="",
        tokens_in=100,
        tokens_out=50,
        **kw,
    )


def test_add_and_finish_review(bank: Bank) -> None:
    story = bank.add_story(make_story())
    review_id = bank.add_review(_result(story_id=story.id), "## Situation\n...", cache_key="k1")
    [stored] = bank.reviews()
    assert stored["id"] == review_id
    assert stored["draft"] == "## Situation\n..."
    assert stored["draft_hash"] == bank_module.text_hash("## Situation\n...")
    assert stored["verdict"] == "fail"
    assert stored["findings"][0].rule == "missing-dates"
    assert stored["llm"] is None
    assert stored["llm_status"] == "skipped"
    assert bank.cached_llm("k1") is None  # stored before the model answered: not a cache hit

    finished = _result("pass", story_id=story.id, llm=_llm(), llm_status="ok")
    bank.finish_review(review_id, finished)
    [stored] = bank.reviews()
    assert stored["verdict"] == "pass"
    assert stored["findings"] == []
    assert stored["llm"]["model"] == "gpt-test"
    assert stored["llm_status"] == "ok"
    assert bank.cached_llm("k1") == _llm()
    assert bank.cached_llm("other-key") is None


def test_record_llm_call_is_listed_with_its_review(bank: Bank) -> None:
    review_id = bank.add_review(_result(), "draft")
    bank.record_llm_call(review_id, CallRecord(model="gpt-test", status="error", error="timeout"))
    bank.record_llm_call(
        review_id,
        CallRecord(
            model="gpt-test",
            status="ok",
            tokens_in=100,
            tokens_out=50,
            latency_ms=812,
            cost_usd=0.0012,
        ),
    )
    [stored] = bank.reviews()
    calls = stored["calls"]
    assert [c["status"] for c in calls] == ["error", "ok"]
    assert calls[0]["error"] == "timeout"
    assert calls[1]["tokens_in"] == 100
    assert calls[1]["cost_usd"] == pytest.approx(0.0012)
    assert re.match(r"\d{4}-\d{2}-\d{2}T", calls[1]["created"])


def test_reviews_newest_first_and_filters(bank: Bank) -> None:
    one = bank.add_story(make_story())
    two = bank.add_story(make_story(title="Two"))
    first = bank.add_review(_result(story_id=one.id), "a")
    second = bank.add_review(_result("pass", story_id=two.id), "b")
    third = bank.add_review(_result(story_id=None), "c")
    assert [r["id"] for r in bank.reviews()] == [third, second, first]
    assert [r["id"] for r in bank.reviews(story=one.id)] == [first]
    assert [r["id"] for r in bank.reviews(limit=1)] == [third]
    assert [r["id"] for r in bank.reviews(question="dissented-from-decision")] == [
        third,
        second,
        first,
    ]


def test_latest_verdicts(bank: Bank) -> None:
    one = bank.add_story(make_story())
    two = bank.add_story(make_story(title="Two"))
    bank.add_review(_result("fail", story_id=one.id), "a")
    bank.add_review(_result("pass", story_id=one.id), "b")
    bank.add_review(_result("fail", story_id=two.id), "c")
    bank.add_review(_result("pass", story_id=None), "d")
    assert bank.latest_verdicts() == {one.id: "pass", two.id: "fail"}
    bank.remove_story(two.id)
    assert bank.latest_verdicts() == {one.id: "pass"}
    assert len(bank.reviews()) == 4  # history outlives the story
