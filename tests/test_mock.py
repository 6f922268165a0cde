"""The mock round: follow-ups from open findings, the debrief, the improved draft, storage.

The core (`storycoach.mock.Round`) is tested directly; the command through typer's CliRunner,
with answers from `--answers` files and from stdin; the model with respx stubs of
`POST {base}/chat/completions` (one request per follow-up, one for the rewrite). The
interactive terminal flow has its own test in a real pseudo-terminal (`test_mock_pty.py`).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from helpers import completion

from storycoach.mock import Round, invented_facts, speaking_rate, spoken_minutes
from storycoach.rubric import RubricError, load_criteria

QUESTION = "disagree-data-architecture"
WEAK = "My manager and I disagreed about the design. We talked and agreed. It went well."
FACTS = [
    "Dana Whitfield, our engineering manager. She said the Kafka pipeline had to ship first.",
    "It was in August 2026.",
    "I decided to keep the batch pipeline for billing, and I wrote a two-page doc comparing "
    "both designs for Dana before the design review.",
    "Late invoices fell from 40 a month to 3 a month by October 2026.",
]
BASE = "https://llm.test/v1"
ROOT = Path(__file__).resolve().parents[1]
#: A strong answer: the spoken-length rule's own good example (names, dates, decision, result).
STRONG = next(
    e.text
    for c in load_criteria()
    if c.id == "spoken-length"
    for e in c.examples
    if e.verdict == "good"
)


def files(tmp_path: Path, *texts: str) -> list[Path]:
    paths = []
    for index, text in enumerate(texts, 1):
        path = tmp_path / f"answer{index}.md"
        path.write_text(text + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def run_json(invoke: Callable[..., Any], *args: Any) -> tuple[int, dict[str, Any]]:
    result = invoke("mock", *args, "--json")
    assert "Traceback" not in result.output, result.output
    return result.exit_code, json.loads(result.stdout)


# -- follow-up templates in the rubric files ----------------------------------------------------


def test_every_criterion_that_can_fire_has_a_follow_up() -> None:
    # Every criterion ships a bad example the engine flags (test_rubric_files), so each can fire.
    criteria = load_criteria()
    assert criteria
    missing = [c.id for c in criteria if c.follow_up is None]
    assert missing == []
    for c in criteria:
        assert c.follow_up is not None and c.follow_up.ask.endswith("?"), c.id


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        ('follow_up = { ask = "Tell me when", part = "S" }', "follow_up.ask: must be a question"),
        ('follow_up = { ask = "When?", part = "X" }', "follow_up.part"),
        ('follow_up = { ask = "When was {quote}?", part = "S" }', "takes no placeholders"),
        ('follow_up = { ask = "When?", part = "S", tone = "x" }', "unknown field"),
    ],
)
def test_a_bad_follow_up_is_one_readable_error(tmp_path: Path, new: str, expected: str) -> None:
    copy = tmp_path / "rubrics"
    shutil.copytree(ROOT / "rubrics", copy)
    path = copy / "core" / "missing-dates.toml"
    lines = [
        new if line.startswith("follow_up =") else line
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(RubricError) as caught:
        load_criteria(copy)
    assert "core/missing-dates.toml: " in str(caught.value)
    assert expected in str(caught.value)


# -- the round ----------------------------------------------------------------------------------


def test_the_weak_answer_is_asked_for_name_date_decision_and_result_in_order(
    invoke: Callable[..., Any], tmp_path: Path
) -> None:
    paths = files(tmp_path, WEAK, *FACTS)
    code, out = run_json(invoke, QUESTION, "--level", "E5", "--rounds", "4", "--answers", *paths)
    turns = out["turns"]
    assert turns[0]["ask"].startswith("Netflix culture heavily emphasizes")
    assert turns[0]["targets"] is None
    assert [t["targets"] for t in turns[1:]] == [
        "missing-names",
        "missing-dates",
        "collaborator-only",
        "vague-delta",
    ]
    asks = [t["ask"] for t in turns[1:]]
    assert asks[0].startswith("You said “My manager”.") and "name" in asks[0]
    assert "month and year" in asks[1]
    assert asks[2].startswith("You said “We talked and agreed.”") and "decide" in asks[2]
    assert asks[3].startswith("You said “It went well”.") and "changed" in asks[3]
    first_open = set(turns[0]["open"])
    assert {"missing-names", "missing-dates", "collaborator-only", "vague-delta"} <= first_open
    # Each answer closes what it was asked about.
    for turn in turns[1:]:
        assert turn["targets"] not in turn["open"], turn
    assert out["first_verdict"] == "fail"
    assert out["verdict"] == "pass"
    assert code == 0
    assert set(out) == {
        "session", "question", "level", "turns", "first_verdict", "verdict", "improved_draft",
        "llm",
    }  # fmt: skip
    assert out["llm"] is None and out["level"] == "E5" and out["question"] == QUESTION
    assert [t["answer"] for t in turns] == [WEAK, *FACTS]


def test_the_debrief_says_which_follow_up_closed_what(bank: Any) -> None:
    from storycoach.mock import run_round

    rnd = Round(bank.question(QUESTION), "E5", load_criteria(), rounds=4)
    answers = iter([WEAK, *FACTS])
    session = run_round(bank, rnd, lambda ask, index: (next(answers), None))
    by_rule = {o.rule: o for o in session.debrief}
    assert by_rule["missing-names"].closed_at == 1
    assert by_rule["missing-names"].closed_by == FACTS[0].split(". ")[0] + "."
    assert by_rule["missing-dates"].closed_at == 2
    assert by_rule["missing-dates"].closed_by == "It was in August 2026."
    assert by_rule["collaborator-only"].closed_at == 3
    assert by_rule["vague-delta"].closed_at == 4
    assert by_rule["vague-delta"].closed_by == FACTS[3]
    assert all(o.opened_at == 0 for o in by_rule.values() if o.rule != "story-age")
    # Warnings nobody asked about stay open and say so.
    assert by_rule["spoken-length"].status == "open"


def test_the_offline_draft_puts_each_answer_in_its_star_part(bank: Any) -> None:
    from storycoach.mock import run_round
    from storycoach.storyfile import sections

    rnd = Round(bank.question(QUESTION), "E5", load_criteria(), rounds=4)
    answers = iter([WEAK, *FACTS])
    session = run_round(bank, rnd, lambda ask, index: (next(answers), None))
    _, parts = sections(session.improved_draft)
    assert "Dana Whitfield" in parts["situation"] and "August 2026" in parts["situation"]
    assert parts["situation"].startswith("My manager and I disagreed about the design.")
    # A vague sentence quoted back whole is replaced by the answer that closed it.
    assert parts["action"] == FACTS[2]
    assert parts["result"] == FACTS[3]
    assert "It went well" not in session.improved_draft
    assert session.draft_verdict == "pass"


def test_a_strong_first_answer_ends_after_at_most_one_probe(
    invoke: Callable[..., Any], tmp_path: Path
) -> None:
    paths = files(tmp_path, STRONG, "I raised it with Marcus in the design review.", "More.")
    code, out = run_json(
        invoke, "push-back-senior-architecture", "--level", "E5", "--answers", *paths
    )
    assert out["first_verdict"] == "pass"
    assert len(out["turns"]) <= 2
    if len(out["turns"]) == 2:
        target = out["turns"][1]["targets"]
        assert target.startswith("probe:") or target in {
            c.id for c in load_criteria() if c.kind == "probe"
        }
    assert code == 0


def test_rounds_limit_the_follow_ups(invoke: Callable[..., Any], tmp_path: Path) -> None:
    paths = files(tmp_path, WEAK, *FACTS)
    code, out = run_json(invoke, QUESTION, "--level", "E5", "--rounds", "2", "--answers", *paths)
    assert len(out["turns"]) == 3
    assert out["verdict"] == "fail" and code == 1


def test_the_round_ends_when_the_answers_run_out(
    invoke: Callable[..., Any], tmp_path: Path
) -> None:
    code, out = run_json(invoke, QUESTION, "--answers", *files(tmp_path, WEAK))
    assert len(out["turns"]) == 1
    assert out["first_verdict"] == out["verdict"] == "fail"
    assert code == 1


def test_an_answer_that_does_not_close_a_gap_is_not_asked_twice(bank: Any) -> None:
    rnd = Round(bank.question(QUESTION), "E5", load_criteria(), rounds=6)
    ask = rnd.first_ask()
    asked = []
    for text in [WEAK, "Hmm.", "Hmm.", "Hmm.", "Hmm.", "Hmm.", "Hmm."]:
        rnd.answer(ask, text)
        nxt = rnd.next_ask()
        if nxt is None:
            break
        asked.append(nxt.targets)
        ask = nxt
    assert len(asked) == len(set(asked))


def test_without_a_question_the_weakest_is_asked(
    invoke: Callable[..., Any], tmp_path: Path, bank: Any
) -> None:
    from storycoach.coverage import load_coverage, weakest

    expected = weakest(load_coverage(bank, suggest=False), bank.practice_counts()).id
    _, out = run_json(invoke, "--answers", *files(tmp_path, WEAK))
    assert out["question"] == expected


def test_answers_from_stdin_end_with_two_empty_lines(invoke: Callable[..., Any]) -> None:
    typed = f"{WEAK}\n\n\n{FACTS[0]}\nShe runs the data platform.\n\n\n"
    result = invoke("mock", QUESTION, "--level", "E5", "--rounds", "3", input=typed)
    assert result.exit_code == 1, result.output
    out = result.stdout
    assert "Interviewer: Netflix culture heavily emphasizes" in out
    assert "Interviewer: You said “My manager”." in out
    assert "Interviewer: When was this: month and year?" in out  # asked, then input ended
    assert "Debrief" in out and "closed by follow-up 1" in out
    assert "Keeper Test, first answer alone: FAIL; whole transcript: FAIL" in out
    assert "Saved mock session #1" in out


def test_time_box_shows_spoken_length_and_flags_an_answer_over_it(
    invoke: Callable[..., Any],
) -> None:
    result = invoke("mock", QUESTION, "--rounds", "0", "--time", "1", input=STRONG + "\n")
    assert result.exit_code in (0, 1), result.output
    assert "written in 0:0" in result.stdout
    wpm = speaking_rate(load_criteria())
    minutes = spoken_minutes(STRONG, wpm)
    assert minutes is not None and minutes > 1
    assert f"about {minutes:.1f} min aloud" in result.stdout
    assert "over your 1-minute box" in result.stdout
    short = invoke("mock", QUESTION, "--rounds", "0", "--time", "1", input=WEAK + "\n")
    assert " s aloud" in short.stdout and "over your" not in short.stdout


def test_spoken_minutes_use_the_spoken_length_rules_rate() -> None:
    criteria = load_criteria()
    rule = next(c for c in criteria if c.id == "spoken-length")
    wpm = speaking_rate(criteria)
    low, high = rule.params["words_per_minute_low"], rule.params["words_per_minute_high"]
    assert wpm == (low + high) / 2
    assert spoken_minutes("## Action\n" + "word " * 300, wpm) == pytest.approx(300 / wpm)


def test_bad_input_is_one_error(
    invoke: Callable[..., Any], expect_error: Callable[..., str], tmp_path: Path
) -> None:
    expect_error(invoke("mock", "no-such-question", "--answers", *files(tmp_path, WEAK)),
                 "unknown question")  # fmt: skip
    empty = invoke("mock", QUESTION, input="\n\n\n")
    assert empty.exit_code == 2
    assert empty.stderr == "storycoach: error: nothing to review: the first answer was empty\n"
    assert json.loads(invoke("history", "--mock", "--json").stdout) == []
    expect_error(invoke("mock", QUESTION, "--level", "E9", input=WEAK), "level")
    expect_error(invoke("mock", "show", "x"), "usage: storycoach mock show ID")
    expect_error(invoke("mock", "show", "42"), "unknown mock session")
    expect_error(invoke("mock", QUESTION, "--answers", tmp_path / "missing.md"), "no such file")


# -- storage, replay, stories --------------------------------------------------------------------


def test_sessions_are_stored_listed_and_replayed(
    invoke: Callable[..., Any], tmp_path: Path
) -> None:
    paths = files(tmp_path, WEAK, *FACTS)
    _, out = run_json(invoke, QUESTION, "--level", "E5", "--rounds", "4", "--answers", *paths)
    listed = json.loads(invoke("history", "--mock", "--json").stdout)
    assert [s["session"] for s in listed] == [out["session"]]
    assert listed[0]["first_verdict"] == "fail" and listed[0]["verdict"] == "pass"
    assert listed[0]["follow_ups"] == 4 and listed[0]["status"] == "done"
    table = invoke("history", "--mock").stdout
    assert QUESTION[:10] in table and "offline" in table
    replay = json.loads(invoke("mock", "show", str(out["session"]), "--json").stdout)
    assert replay == out
    shown = invoke("mock", "show", str(out["session"])).stdout
    assert "You: Dana Whitfield" in shown and "Debrief" in shown
    draft = invoke("mock", "show", str(out["session"]), "--draft").stdout
    assert draft == out["improved_draft"].rstrip("\n") + "\n"


def test_story_add_from_mock_needs_every_star_part(
    invoke: Callable[..., Any], expect_error: Callable[..., str], tmp_path: Path
) -> None:
    paths = files(tmp_path, WEAK, *FACTS)
    _, out = run_json(invoke, QUESTION, "--level", "E5", "--rounds", "4", "--answers", *paths)
    expect_error(invoke("story", "add", "--from-mock", str(out["session"])), "has no Task")


def test_story_add_and_edit_from_mock(invoke: Callable[..., Any], tmp_path: Path) -> None:
    headed = (
        "## Situation\nMy manager and I disagreed about the design.\n\n"
        "## Task\nI owned the billing pipeline.\n\n"
        "## Action\nWe talked and agreed.\n\n## Result\nIt went well."
    )
    # Headed, the draft is asked about the date first (it sits at the top), then the name.
    paths = files(tmp_path, headed, FACTS[1], FACTS[0], FACTS[3], FACTS[2])
    _, out = run_json(invoke, QUESTION, "--level", "E5", "--rounds", "4", "--answers", *paths)
    assert [t["targets"] for t in out["turns"][1:3]] == ["missing-dates", "missing-names"]
    added = json.loads(invoke("story", "add", "--from-mock", str(out["session"]), "--json").stdout)
    assert added["questions"] == [QUESTION]
    assert added["task"] == "I owned the billing pipeline."
    assert "Dana Whitfield" in added["situation"] and "40 a month" in added["result"]
    assert added["title"] == "My manager and I disagreed about the design."

    base = invoke(
        "story", "add", "--title", "Cache", "--situation", "S.", "--task", "Kept.",
        "--action", "A.", "--result", "R.", "--json",
    )  # fmt: skip
    story_id = json.loads(base.stdout)["id"]
    edited = invoke("story", "edit", str(story_id), "--from-mock", str(out["session"]), "--json")
    story = json.loads(edited.stdout)
    assert story["title"] == "Cache" and story["task"] == "I owned the billing pipeline."
    assert QUESTION in story["questions"] and "I decided" in story["action"]


def test_an_interrupted_round_keeps_what_was_said(bank: Any) -> None:
    from storycoach.mock import run_round

    rnd = Round(bank.question(QUESTION), "E5", load_criteria())
    answers = iter([WEAK])

    def read(ask: Any, index: int) -> tuple[str, None]:
        if index == 1:
            raise KeyboardInterrupt
        return next(answers), None

    with pytest.raises(KeyboardInterrupt):
        run_round(bank, rnd, read)
    (stored,) = bank.mock_sessions()
    assert stored.status == "running"
    assert [t.answer for t in stored.turns] == [WEAK]


# -- the model ----------------------------------------------------------------------------------


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-mock-0123456789")
    monkeypatch.setenv("OPENAI_BASE_URL", BASE)
    monkeypatch.setenv("STORYCOACH_MAX_RETRIES", "0")
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        yield mock


def stub(api: Any, *responses: httpx.Response) -> Any:
    route = api.post("/chat/completions")
    route.side_effect = list(responses)
    return route


def follow(target: str, question: str) -> httpx.Response:
    return completion({"targets": target, "question": question}, usage=(900, 40))


def rewrite(text: str) -> httpx.Response:
    return completion({"draft": text}, usage=(1500, 300))


def request(route: Any, index: int) -> dict[str, Any]:
    return json.loads(route.calls[index].request.content)


#: A rewrite of WEAK, FACTS[0] and FACTS[1] that uses only their facts.
GOOD_REWRITE = (
    "## Situation\nIn August 2026 my engineering manager, Dana Whitfield, said the Kafka "
    "pipeline had to ship first. We disagreed about the design.\n\n## Action\nWe talked and "
    "agreed.\n\n## Result\nIt went well."
)


def test_one_request_per_follow_up_and_one_for_the_rewrite(
    invoke: Callable[..., Any], tmp_path: Path, api: Any, db_path: Path
) -> None:
    route = stub(
        api,
        follow("missing-names", "Who is your manager, and what did they ask for?"),
        follow("missing-dates", "When did this happen?"),
        rewrite(GOOD_REWRITE),
    )
    paths = files(tmp_path, WEAK, FACTS[0], FACTS[1])
    code, out = run_json(invoke, QUESTION, "--level", "E5", "--rounds", "2", "--answers", *paths)
    assert route.call_count == 3
    assert [t["ask"] for t in out["turns"][1:]] == [
        "Who is your manager, and what did they ask for?",
        "When did this happen?",
    ]
    assert [t["targets"] for t in out["turns"][1:]] == ["missing-names", "missing-dates"]
    assert out["improved_draft"] == GOOD_REWRITE
    llm = out["llm"]
    assert llm["calls"] == 3 and llm["follow_ups"] == 2 and llm["rewrite"] == "accepted"
    assert llm["tokens_in"] == 900 + 900 + 1500 and llm["tokens_out"] == 40 + 40 + 300
    first, last = request(route, 0), request(route, 2)
    assert first["response_format"]["json_schema"]["name"] == "mock_follow_up"
    assert last["response_format"]["json_schema"]["name"] == "mock_rewrite"
    user = first["messages"][1]["content"]
    assert "<draft>" in user and WEAK in user and "missing-names" in user
    assert "sk-test-mock" not in json.dumps([request(route, i) for i in range(3)])
    from storycoach.bank import Bank

    stored = Bank.open(db_path).mock_calls(out["session"])
    assert [c["purpose"] for c in stored] == ["follow-up", "follow-up", "rewrite"]
    assert all(c["tokens_in"] for c in stored)
    assert code == 1  # two follow-ups are not enough to close everything


def test_a_rewrite_that_invents_a_fact_is_rejected(
    invoke: Callable[..., Any], tmp_path: Path, api: Any
) -> None:
    invented = GOOD_REWRITE.replace("It went well.", "Errors fell by 45%. Priya agreed.")
    stub(
        api,
        follow("missing-names", "Who?"),
        follow("missing-dates", "When?"),
        rewrite(invented),
    )
    paths = files(tmp_path, WEAK, FACTS[0], FACTS[1])
    _, out = run_json(invoke, QUESTION, "--rounds", "2", "--answers", *paths)
    assert out["llm"]["rewrite"] == "rejected"
    assert out["llm"]["rewrite_note"] == "not in your answers: 45, Priya"
    assert "45%" not in out["improved_draft"]
    assert out["improved_draft"].startswith("## Situation\n\nMy manager and I disagreed")


def test_a_follow_up_off_the_allowed_targets_falls_back_offline(
    invoke: Callable[..., Any], tmp_path: Path, api: Any
) -> None:
    route = stub(api, follow("made-up-rule", "Tell me about your hobbies?"), rewrite(""))
    _, out = run_json(invoke, QUESTION, "--rounds", "1", "--answers", *files(tmp_path, WEAK, "x"))
    assert route.call_count == 2
    assert out["turns"][1]["targets"] == "missing-names"
    assert out["turns"][1]["ask"].startswith("You said “My manager”.")
    assert out["llm"]["fallbacks"] == 1 and out["llm"]["rewrite"] == "rejected"


def test_a_model_failure_mid_round_falls_back_and_the_session_is_stored(
    invoke: Callable[..., Any], tmp_path: Path, api: Any
) -> None:
    route = stub(
        api,
        follow("missing-names", "Who is your manager?"),
        httpx.Response(401, json={"error": {"message": "bad key", "type": "auth"}}),
    )
    paths = files(tmp_path, WEAK, *FACTS)
    result = invoke("mock", QUESTION, "--level", "E5", "--rounds", "4", "--answers", *paths,
                    "--json")  # fmt: skip
    assert result.exit_code == 3, result.output
    out = json.loads(result.stdout)
    assert route.call_count == 2  # no more requests after the failure, no rewrite
    assert out["turns"][1]["ask"] == "Who is your manager?"
    assert [t["targets"] for t in out["turns"][2:]] == [
        "missing-dates",
        "collaborator-only",
        "vague-delta",
    ]
    assert out["turns"][2]["ask"] == "When was this: month and year?"
    assert out["verdict"] == "pass"
    assert out["llm"]["error"] and out["llm"]["calls"] == 2
    assert "model failed" in result.stderr
    listed = json.loads(invoke("history", "--mock", "--json").stdout)
    assert listed[0]["session"] == out["session"] and listed[0]["status"] == "done"


def test_redact_keeps_names_out_of_every_request(
    invoke: Callable[..., Any], tmp_path: Path, api: Any
) -> None:
    route = stub(
        api,
        follow("missing-dates", "When was this, PERSON_1?"),
        rewrite(GOOD_REWRITE.replace("Dana Whitfield", "PERSON_1")),
    )
    paths = files(tmp_path, WEAK, FACTS[0], FACTS[1])
    _, out = run_json(invoke, QUESTION, "--rounds", "2", "--redact", "--answers", *paths)
    bodies = json.dumps([request(route, i) for i in range(route.call_count)])
    assert "Whitfield" not in bodies and "Dana" not in bodies
    assert "PERSON_" in bodies
    assert "Dana Whitfield" in out["improved_draft"]  # restored, and said by the candidate


# -- the invented-facts check --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rewrite_text", "invented"),
    [
        ("In March 2024 Dana cut p99 to 300 ms.", []),
        ("In April 2024 Dana cut p99 to 300 ms.", ["April"]),
        ("In March 2024 Dana cut p99 to 250 ms.", ["250"]),
        ("In March 2024 Dana and Priya cut p99 to 300 ms.", ["Priya"]),
        ("## Result\nDana cut it in 2023.", ["2023"]),
        ("Since then, Dana cut p99 by 3x.", []),
    ],
)
def test_invented_facts(rewrite_text: str, invented: list[str]) -> None:
    said = ["In March 2024 my manager Dana asked me.", "p99 fell from 900 ms to 300 ms, 3x."]
    assert invented_facts(rewrite_text, said) == invented


def test_story_add_from_mock_in_a_terminal_opens_the_draft_to_fill_in(
    invoke: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = files(tmp_path, WEAK, *FACTS)
    _, out = run_json(invoke, QUESTION, "--level", "E5", "--rounds", "4", "--answers", *paths)
    shown: list[str] = []

    def editor(text: str) -> str:
        shown.append(text)
        return text.replace("## Task\n\n", "## Task\n\nI owned the billing pipeline.\n\n")

    monkeypatch.setattr("storycoach.cli.story.interactive", lambda: True)
    monkeypatch.setattr("storycoach.cli.story.launch_editor", editor)
    result = invoke("story", "add", "--from-mock", str(out["session"]), "--json")
    assert result.exit_code == 0, result.output
    story = json.loads(result.stdout)
    assert story["task"] == "I owned the billing pipeline."
    assert story["questions"] == [QUESTION] and story["level"] == "E5"
    assert "questions: [disagree-data-architecture]" in shown[0]
    assert "## Task\n\n## Action" in shown[0]


def test_editor_answers(invoke: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([WEAK, FACTS[0], None])
    seen: list[str] = []

    def editor(text: str) -> str | None:
        seen.append(text)
        answer = next(answers)
        return None if answer is None else text + answer + "\n"

    monkeypatch.setattr("storycoach.cli.mock.launch_editor", editor)
    result = invoke("mock", QUESTION, "--editor", "--json")
    out = json.loads(result.stdout)
    assert [t["answer"] for t in out["turns"]] == [WEAK, FACTS[0]]
    assert "Netflix culture heavily emphasizes" in seen[0] and "<!--" in seen[0]
    assert "You said “My manager”." in seen[1]
    assert "<!--" not in out["turns"][0]["answer"]
