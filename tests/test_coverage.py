"""The coverage core: statuses, markers, overuse, filters, suggestions, the weakest question.

Pure records in, report out: these tests build questions and stories by hand (no bank) with a
fixed `today`, so every boundary (18 months, two stories, the overuse limit) is exact.
"""

from __future__ import annotations

from datetime import date

import pytest

from storycoach.coverage import (
    BANK_TARGET,
    FRESH_MONTHS,
    OVERUSE_LIMIT,
    Bm25,
    compute_coverage,
    freshness,
    months_between,
    plan_accept,
    stem,
    terms,
    weakest,
)
from storycoach.errors import NotFoundError, StorycoachError
from storycoach.models import Marker, Question, Story

TODAY = date(2025, 6, 15)

MARKERS = [
    Marker(slug="farming-for-dissent", name="Farming for Dissent", meaning="m"),
    Marker(slug="keeper-test", name="The Keeper Test", meaning="m"),
    Marker(slug="candid-feedback", name="Candid Feedback", meaning="m"),
]


def question(qid: str, text: str = "", **fields: object) -> Question:
    return Question(id=qid, text=text or f"Tell me about {qid.replace('-', ' ')}", **fields)


def story(sid: int, *questions: str, when: str | None = "2025-01", **fields: object) -> Story:
    values: dict[str, object] = {
        "title": f"Story {sid}",
        "situation": "A situation.",
        "task": "A task.",
        "action": "An action.",
        "result": "A result.",
    }
    values.update(fields)
    values.setdefault("questions", list(questions))
    return Story(id=sid, when=when, **values)


def cover(questions, stories, verdicts=None, **kwargs):
    return compute_coverage(questions, MARKERS, stories, verdicts or {}, today=TODAY, **kwargs)


def row(report, qid):
    return next(r for r in report.questions if r.id == qid)


# -- statuses -----------------------------------------------------------------------------------


def test_question_without_stories_is_a_gap():
    report = cover([question("dissent")], [story(1)])
    r = row(report, "dissent")
    assert (r.status, r.stories, r.counting) == ("gap", [], [])
    assert r.reasons == ["no story linked"]


def test_one_story_is_thin():
    r = row(cover([question("dissent")], [story(1, "dissent")]), "dissent")
    assert (r.status, r.stories) == ("thin", [1])
    assert "only one story" in r.reasons


def test_two_fresh_passing_stories_cover():
    stories = [story(1, "dissent"), story(2, "dissent", when="2024-06-03")]
    r = row(cover([question("dissent")], stories, {1: "pass"}), "dissent")
    assert (r.status, r.stories, r.counting) == ("covered", [1, 2], [1, 2])


def test_only_stale_stories_are_thin():
    stories = [story(1, "dissent", when="2022-01"), story(2, "dissent", when="2023-11")]
    r = row(cover([question("dissent")], stories), "dissent")
    assert (r.status, r.counting) == ("thin", [])
    assert f"only stories older than {FRESH_MONTHS} months" in r.reasons


def test_freshness_boundary_is_eighteen_calendar_months():
    assert months_between(date(2023, 12, 1), TODAY) == 18
    assert freshness(story(1, when="2023-12"), TODAY) == "fresh"
    assert freshness(story(1, when="2023-11-30"), TODAY) == "stale"
    assert freshness(story(1, when=None), TODAY) == "undated"


def test_only_failing_stories_are_thin():
    stories = [story(1, "dissent"), story(2, "dissent")]
    r = row(cover([question("dissent")], stories, {1: "fail", 2: "fail"}), "dissent")
    assert (r.status, r.counting) == ("thin", [])
    assert "only stories whose latest review failed" in r.reasons


def test_latest_verdict_pass_counts_and_mixed_reasons_are_listed():
    stories = [story(1, "dissent"), story(2, "dissent", when="2021-05"), story(3, "dissent")]
    r = row(cover([question("dissent")], stories, {3: "fail"}), "dissent")
    assert (r.status, r.counting) == ("thin", [1])
    assert "1 of 3 stories count" in r.reasons
    assert any("#2" in reason and "older" in reason for reason in r.reasons)
    assert any("#3" in reason and "failed" in reason for reason in r.reasons)


def test_retired_stories_never_count():
    stories = [story(1, "dissent"), story(2, "dissent", retired=True)]
    report = cover([question("dissent")], stories)
    r = row(report, "dissent")
    assert (r.status, r.stories) == ("thin", [1])
    assert report.active_stories == 1 and report.retired_stories == 1
    retired_only = row(cover([question("dissent")], [story(2, "dissent", retired=True)]), "dissent")
    assert retired_only.status == "gap"


def test_undated_stories_count_but_are_flagged():
    stories = [story(1, "dissent"), story(2, "dissent", when=None)]
    report = cover([question("dissent")], stories)
    r = row(report, "dissent")
    assert (r.status, r.counting) == ("covered", [1, 2])
    assert any("undated" in reason and "#2" in reason for reason in r.reasons)
    assert report.undated == [2]


def test_rows_are_ordered_gaps_first_then_thin_then_covered():
    qs = [question("a"), question("b"), question("c"), question("d")]
    stories = [story(1, "a", "c"), story(2, "a"), story(3, "c", when="2020-01")]
    order = [(r.id, r.status) for r in cover(qs, stories).questions]
    assert order == [("b", "gap"), ("d", "gap"), ("c", "thin"), ("a", "covered")]


# -- markers, overuse, bank size ----------------------------------------------------------------


def test_marker_summary_lists_story_and_covered_question_ids():
    qs = [
        question("dissent", markers=["farming-for-dissent"]),
        question("pushback", markers=["farming-for-dissent", "keeper-test"]),
        question("feedback", markers=["candid-feedback"]),
    ]
    stories = [
        story(1, "dissent"),
        story(2, "dissent"),
        story(3, markers=["candid-feedback"]),
        story(4, "pushback", retired=True),
    ]
    report = cover(qs, stories)
    summary = {m.marker.slug: m for m in report.markers}
    dissent = summary["farming-for-dissent"]
    assert dissent.stories == [1, 2]
    assert dissent.questions == ["dissent"]
    assert dissent.total == ["dissent", "pushback"]
    assert dissent.gaps == ["pushback"]
    assert summary["candid-feedback"].stories == [3]
    assert summary["candid-feedback"].questions == []
    assert summary["keeper-test"].stories == []
    data = report.to_json()["markers"]
    assert {"slug", "stories", "questions"} <= set(data[0])


def test_story_linked_to_more_questions_than_a_loop_carries_is_overused():
    qs = [question(f"q{i}") for i in range(OVERUSE_LIMIT + 1)]
    many = story(1, *[q.id for q in qs])
    enough = story(2, *[q.id for q in qs[:OVERUSE_LIMIT]])
    report = cover(qs, [many, enough])
    assert [o.story_id for o in report.overused] == [1]
    assert report.to_json()["overused"][0] == {
        "story": 1,
        "title": "Story 1",
        "questions": [q.id for q in qs],
        "limit": OVERUSE_LIMIT,
    }


def test_bank_size_is_reported_against_the_guides_target():
    data = cover([question("a")], [story(1), story(2, retired=True)]).to_json()
    assert data["bank"] == {"stories": 1, "target": BANK_TARGET, "retired": 1, "undated": []}
    assert BANK_TARGET == 15


def test_json_contract_keys():
    data = cover([question("a", markers=["keeper-test"])], [story(1, "a")]).to_json()
    assert {"questions", "markers"} <= set(data)
    q = data["questions"][0]
    assert {"id", "markers", "stories", "status"} <= set(q)
    assert q == {**q, "id": "a", "markers": ["keeper-test"], "stories": [1], "status": "thin"}
    assert data["summary"] == {"gap": 0, "thin": 1, "covered": 0}
    assert data["today"] == TODAY.isoformat()


# -- filters ------------------------------------------------------------------------------------

FILTER_QUESTIONS = [
    question("swe", roles=["Software Engineer"], levels=["E5"], markers=["keeper-test"]),
    question("de", roles=["Data Engineer"], levels=["E4", "E5"], markers=["candid-feedback"]),
    question("any-level", roles=["Software Engineer"], markers=["candid-feedback"]),
    question("staff", roles=["Software Engineer"], levels=["E6"], markers=["keeper-test"]),
]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"role": "software engineer"}, {"swe", "any-level", "staff"}),
        ({"marker": "candid-feedback"}, {"de", "any-level"}),
        ({"level": "e5"}, {"swe", "de", "any-level"}),
        ({"level": "E6", "marker": "keeper-test"}, {"staff"}),
        ({"role": "Software Engineer", "level": "E4"}, {"any-level"}),
    ],
)
def test_filters(kwargs, expected):
    report = cover(FILTER_QUESTIONS, [], **kwargs)
    assert {r.id for r in report.questions} == expected
    assert report.filters == {
        "role": kwargs.get("role"),
        "marker": kwargs.get("marker"),
        "level": kwargs["level"].upper() if "level" in kwargs else None,
    }


def test_marker_filter_keeps_only_that_marker_in_the_summary():
    report = cover(FILTER_QUESTIONS, [], marker="keeper-test")
    assert [m.marker.slug for m in report.markers] == ["keeper-test"]


def test_unknown_filters_are_input_errors_with_hints():
    with pytest.raises(NotFoundError, match="keeper-test"):
        cover(FILTER_QUESTIONS, [], marker="keeper-tset")
    with pytest.raises(NotFoundError, match="Software Engineer"):
        cover(FILTER_QUESTIONS, [], role="Software Enginer")
    with pytest.raises(StorycoachError, match="E3, E4"):
        cover(FILTER_QUESTIONS, [], level="E9")


# -- suggestions --------------------------------------------------------------------------------

DISSENT_Q = question(
    "dissented-from-decision",
    "Tell me about a time you dissented from a decision",
    markers=["farming-for-dissent"],
    probes=[
        "Say where you raised it: one-on-one, design review, written doc",
        "Name who you disagreed with and the decision",
    ],
)
FEEDBACK_Q = question(
    "received-critical-feedback",
    "Tell me about a time you received critical feedback",
    markers=["candid-feedback"],
    probes=["Quote the feedback and the measurable behavior change it produced"],
)


def dissent_story(sid: int, **fields: object) -> Story:
    values: dict[str, object] = {
        "title": "Pushed back on the cache rewrite",
        "situation": "In March 2025 Priya proposed rewriting the checkout cache.",
        "task": "I disagreed with the decision and had to make the dissent heard.",
        "action": "I raised it in the design review with a written doc and pushed back.",
        "result": "We tuned the cache instead and p99 dropped from 900 ms to 300 ms.",
    }
    return story(sid, **{**values, **fields})


def unrelated_story(sid: int, **fields: object) -> Story:
    return story(
        sid,
        title="Migrated billing jobs",
        situation="The nightly billing jobs ran on a legacy scheduler.",
        task="Move forty jobs to Airflow before the vendor contract ended.",
        action="I wrote the migration tooling and ran both schedulers in parallel.",
        result="All jobs moved in six weeks with zero missed invoices.",
        **fields,
    )


def feedback_story(sid: int, **fields: object) -> Story:
    return story(
        sid,
        title="Feedback on my code reviews",
        situation="My manager Dana gave me critical feedback that my reviews blocked juniors.",
        task="Change how I review.",
        action="I started writing one summary comment and pairing on large changes.",
        result="Review turnaround fell from three days to one; the behavior change stuck.",
        **fields,
    )


def test_suggestions_rank_the_obviously_matching_story_first():
    stories = [unrelated_story(1), feedback_story(2), dissent_story(3)]
    report = cover([DISSENT_Q, FEEDBACK_Q], stories)
    dissent = row(report, DISSENT_Q.id)
    assert [s.story_id for s in dissent.suggestions][:1] == [3]
    top = dissent.suggestions[0]
    assert "dissented" in top.matches
    assert any(" " in m for m in top.matches)  # a phrase of the question, shown whole
    assert top.reason.startswith("matches: ")
    assert 0 < top.relevance < 1
    feedback = row(report, FEEDBACK_Q.id)
    assert [s.story_id for s in feedback.suggestions][:1] == [2]


def test_suggestions_leave_out_linked_retired_and_unrelated_stories():
    stories = [
        dissent_story(1, questions=[DISSENT_Q.id]),
        dissent_story(2, retired=True),
        unrelated_story(3),
        dissent_story(4),
    ]
    dissent = row(cover([DISSENT_Q], stories), DISSENT_Q.id)
    assert dissent.status == "thin"
    assert [s.story_id for s in dissent.suggestions] == [4]


def test_covered_questions_get_no_suggestions_and_suggest_can_be_off():
    stories = [
        dissent_story(1, questions=[DISSENT_Q.id]),
        dissent_story(2, questions=[DISSENT_Q.id]),
    ]
    stories.append(dissent_story(3))
    assert row(cover([DISSENT_Q], stories), DISSENT_Q.id).suggestions == []
    assert (
        row(cover([DISSENT_Q], [dissent_story(1)], suggest=False), DISSENT_Q.id).suggestions == []
    )


def test_stale_and_failing_suggestions_rank_below_fresh_passing_ones_and_say_why():
    stories = [dissent_story(1, when="2020-01"), dissent_story(2), dissent_story(3)]
    dissent = row(cover([DISSENT_Q], stories, {3: "fail"}), DISSENT_Q.id)
    ranked = [s.story_id for s in dissent.suggestions]
    assert ranked[0] == 2
    notes = {s.story_id: s.notes for s in dissent.suggestions}
    assert notes.get(1, [f"older than {FRESH_MONTHS} months"]) == [
        f"older than {FRESH_MONTHS} months"
    ]
    assert notes.get(3, ["latest review failed"]) == ["latest review failed"]


def test_suggestions_are_limited():
    stories = [dissent_story(i) for i in range(1, 8)]
    dissent = row(cover([DISSENT_Q], stories), DISSENT_Q.id)
    assert len(dissent.suggestions) == 3
    assert [s.story_id for s in dissent.suggestions] == [1, 2, 3]  # ties: lowest id first


def test_plan_accept_takes_the_top_suggestion_and_never_overuses_a_story():
    qs = [question(f"q{i}", "Tell me about a time you dissented from a design review decision")
          for i in range(OVERUSE_LIMIT + 2)]  # fmt: skip
    best = dissent_story(1, questions=["q0"])
    second = dissent_story(2, title="Dissent in a design review", questions=["q0"])
    plan = plan_accept(cover(qs, [best, second]))
    chosen = [(qid, s.story_id) for qid, s in plan]
    assert [qid for qid, _ in chosen] == [f"q{i}" for i in range(1, OVERUSE_LIMIT + 2)]
    per_story = {sid: sum(1 for _, s in chosen if s == sid) for sid in (1, 2)}
    assert all(count + 1 <= OVERUSE_LIMIT for count in per_story.values())


# -- text and BM25 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "same"),
    [
        (("dissent", "dissented", "dissenting", "dissents"), True),
        (("push", "pushed", "pushes", "pushing"), True),
        (("decide", "decided", "decides", "deciding"), True),
        (("story", "stories"), True),
        (("process", "processes"), True),
        (("ambiguous", "ambiguity"), False),
    ],
)
def test_stem_conflates_inflections(words, same):
    assert (len({stem(w) for w in words}) == 1) is same


def test_terms_drop_stopwords_but_keep_their_place():
    assert terms("Tell me about the design review") == [
        None, None, None, None, stem("design"), stem("review")
    ]  # fmt: skip


def test_bm25_prefers_rare_terms_and_shorter_documents():
    docs = [
        (1, "latency latency cache"),
        (2, "cache eviction " + "filler " * 50),
        (3, "cache eviction"),
    ]
    index = Bm25(docs, {"cach", "eviction", "latency"})
    hits = index.search({"eviction": 1.0, "cach": 1.0}, exclude=set(), k=3)
    assert [doc for doc, _, _ in hits] == [3, 2, 1]
    assert hits[0][2] == ["eviction", "cach"]  # the rarer word contributes more
    assert index.search({"eviction": 1.0}, exclude={3}, k=3)[0][0] == 2
    assert index.search({"absent": 1.0}, exclude=set(), k=3) == []


# -- the weakest question -----------------------------------------------------------------------


def test_weakest_prefers_gaps_then_fewest_counting_stories_then_fewest_attempts():
    qs = [question("covered"), question("thin"), question("gap-a"), question("gap-b")]
    stories = [story(1, "covered", "thin"), story(2, "covered")]
    report = cover(qs, stories, suggest=False)
    assert weakest(report).id == "gap-a"
    assert weakest(report, {"gap-a": 2, "gap-b": 1}).id == "gap-b"
    only_thin = cover(qs[:2], stories, suggest=False)
    assert weakest(only_thin).id == "thin"


def test_weakest_with_no_question_is_an_input_error():
    with pytest.raises(StorycoachError):
        weakest(cover([], [], suggest=False))


def test_index_tokens_match_the_query_tokenizer():
    """The index reads bytes for speed; it must see the same words as `terms` does."""
    from storycoach.coverage import _ASCII_WORDS, _TOKEN

    text = "Pushed-back on Priya's CACHE rewrite (p99: 900ms) — naïve café, 2024-03! x_y"
    as_bytes = [w.decode() for w in text.encode().translate(_ASCII_WORDS).split()]
    assert as_bytes == _TOKEN.findall(text.lower())


def test_level_bands_come_from_the_review_prompt_levels():
    from storycoach.levels import load_levels

    levels = load_levels()
    assert [b.id for b in levels.covering(["E4", "E5"])] == ["E3-E4", "E5"]
    assert all(b.expects for b in levels.covering(["E3", "E5", "E6", "E7"]))
