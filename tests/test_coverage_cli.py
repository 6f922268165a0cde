"""`storycoach coverage`: the JSON contract, filters, --accept and the Markdown and HTML reports.

Runs against the seeded question bank of the test's own database (see conftest.py).
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from helpers import add
from typer.testing import CliRunner

from storycoach.cli import app
from storycoach.models import Story

SCRIPT_TITLE = "Dissent in design review <script>alert(1)</script>"


@pytest.fixture
def run(runner: CliRunner):
    def _run(*args: str, input: str | None = None):
        return runner.invoke(app, ["coverage", *args], input=input)

    return _run


@pytest.fixture
def stocked(bank: Any) -> dict[str, Story]:
    """Two fresh stories on dissented-from-decision, one on received-critical-feedback, one
    unlinked story that obviously answers dissent questions, and an unrelated one."""
    return {
        "a": add(bank, "Cache rewrite", "dissented-from-decision"),
        "b": add(bank, "Schema review", "dissented-from-decision"),
        "c": add(bank, "Review feedback", "received-critical-feedback"),
        "dissent": add(
            bank,
            SCRIPT_TITLE,
            situation="Priya proposed a decision to rewrite the cache; I disagreed.",
            task="I had to voice dissent about the decision.",
            action="I raised it in the design review, pushed back on the senior engineer with "
            "a written doc, and dissented openly.",
        ),
        "other": add(bank, "Billing migration", action="Moved forty cron jobs to Airflow."),
    }


def by_id(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {q["id"]: q for q in data["questions"]}


def test_json_contract(run, stocked, json_of):
    data = json_of(run("--json"))
    assert {"questions", "markers"} <= set(data)
    for q in data["questions"]:
        assert {"id", "markers", "stories", "status"} <= set(q)
        assert q["status"] in {"gap", "thin", "covered"}
        assert all(isinstance(i, int) for i in q["stories"])
    for m in data["markers"]:
        assert {"slug", "stories", "questions"} <= set(m)
        assert all(isinstance(i, int) for i in m["stories"])
        assert all(isinstance(i, str) for i in m["questions"])
    rows = by_id(data)
    a, b, c = stocked["a"].id, stocked["b"].id, stocked["c"].id
    assert rows["dissented-from-decision"]["status"] == "covered"
    assert rows["dissented-from-decision"]["stories"] == [a, b]
    assert rows["received-critical-feedback"]["status"] == "thin"
    assert rows["received-critical-feedback"]["stories"] == [c]
    assert rows["reverse-system-design"]["status"] == "gap"
    statuses = [q["status"] for q in data["questions"]]
    assert statuses == sorted(statuses, key=["gap", "thin", "covered"].index)
    assert data["bank"] == {"stories": 5, "target": 15, "retired": 0, "undated": []}
    dissent_marker = next(m for m in data["markers"] if m["slug"] == "farming-for-dissent")
    assert "dissented-from-decision" in dissent_marker["questions"]
    assert {a, b} <= set(dissent_marker["stories"])


def test_suggestions_in_json_name_the_matching_story_and_skip_linked_ones(run, stocked, json_of):
    rows = by_id(json_of(run("--json")))
    disagree = rows["disagree-principal-direction"]
    assert disagree["status"] == "gap"
    assert disagree["suggestions"][0]["story"] == stocked["dissent"].id
    assert disagree["suggestions"][0]["reason"].startswith("both mention: ")
    linked = rows["received-critical-feedback"]
    assert stocked["c"].id not in [s["story"] for s in linked["suggestions"]]
    assert rows["dissented-from-decision"]["suggestions"] == []


def test_retired_story_does_not_count(run, stocked, bank, json_of):
    story = stocked["b"]
    bank.update_story(story.id, story.model_copy(update={"retired": True}))
    data = json_of(run("--json"))
    assert by_id(data)["dissented-from-decision"]["status"] == "thin"
    assert by_id(data)["dissented-from-decision"]["stories"] == [stocked["a"].id]
    assert data["bank"]["stories"] == 4


def test_failing_latest_review_makes_a_question_thin(run, stocked, bank, json_of):
    from storycoach.models import ReviewResult

    for key in ("a", "b"):
        result = ReviewResult(path="x", verdict="fail", findings=[], story_id=stocked[key].id)
        bank.add_review(result, "draft")
    assert by_id(json_of(run("--json")))["dissented-from-decision"]["status"] == "thin"


@pytest.mark.parametrize(
    ("args", "check"),
    [
        (["--role", "software engineer"], lambda q: "Software Engineer" in q["roles"]),
        (["--marker", "candid-feedback"], lambda q: "candid-feedback" in q["markers"]),
        (["--level", "E6"], lambda q: not q["levels"] or "E6" in q["levels"]),
    ],
)
def test_filters(run, bank, json_of, args, check):
    questions = {q.id: q.model_dump() for q in bank.questions()}
    data = json_of(run("--json", *args))
    assert data["questions"]
    assert len(data["questions"]) < len(questions)
    assert all(check(questions[q["id"]]) for q in data["questions"])


def test_unknown_marker_is_a_usage_error(run, expect_error):
    expect_error(run("--marker", "keeper-tset"), "keeper-test")


def test_table_lists_gaps_first_with_what_the_round_probes(run, stocked):
    result = run()
    assert result.exit_code == 0, result.output
    out = result.stdout
    statuses = [
        line.split()[0] for line in out.splitlines() if re.match(r"(gap|thin|covered) ", line)
    ]
    assert statuses == sorted(statuses, key=["gap", "thin", "covered"].index)
    assert statuses[0] == "gap" and statuses[-1] == "covered"
    assert "Probing:" in out
    assert "Bank:" in out and "add 10 more" in out
    assert f"Try #{stocked['dissent'].id}" in out
    assert "<script>alert(1)</script>" in out  # rich markup escaped, text kept


def test_accept_links_the_top_suggestion(run, stocked, bank, json_of):
    dissent_id = stocked["dissent"].id
    before = json_of(run("--json"))
    tops = [
        (q["id"], q["suggestions"][0]["story"]) for q in before["questions"] if q["suggestions"]
    ]
    first = next(qid for qid, sid in tops if sid == dissent_id)
    result = run("--accept", "--yes")
    assert result.exit_code == 0, result.output
    assert f"Linked #{dissent_id}" in result.stdout
    assert f"-> {first}" in result.stdout
    linked = bank.story(dissent_id).questions
    assert first in linked
    assert len(linked) == 4  # the overuse limit: the other questions went to other stories
    after = by_id(json_of(run("--json")))
    assert after[first]["status"] == "thin"
    assert after[first]["stories"] == [dissent_id]


def test_accept_with_json_reports_the_links(run, stocked, json_of):
    data = json_of(run("--accept", "--yes", "--json"))
    assert data["linked"]
    assert {"story", "question", "reason"} == set(data["linked"][0])


def test_accept_without_a_terminal_needs_yes(run, stocked, bank, expect_error):
    expect_error(run("--accept"), "pass --yes")
    assert bank.story(stocked["dissent"].id).questions == []


def test_accept_with_nothing_to_suggest(run, bank):
    result = run("--accept")
    assert result.exit_code == 0
    assert "Nothing to accept" in result.stdout


def test_markdown_to_stdout_contains_gaps_and_escapes_html(run, stocked):
    result = run("--markdown")
    assert result.exit_code == 0, result.output
    md = result.stdout
    assert md.startswith("# Story coverage")
    assert "### gap: `reverse-system-design`" in md
    assert "<script>" not in md
    assert "&lt;script&gt;" in md
    assert "## Culture markers" in md


def test_markdown_and_html_files(run, stocked, tmp_path):
    md_file, html_file = tmp_path / "cov.md", tmp_path / "cov.html"
    result = run("--markdown", str(md_file), "--html", str(html_file))
    assert result.exit_code == 0, result.output
    assert "Wrote the Markdown report" in result.stdout
    assert "### gap: `reverse-system-design`" in md_file.read_text(encoding="utf-8")
    page = html_file.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "@media print" in page
    assert not re.search(r"(src|href)=|@import|url\(", page)  # self-contained
    assert 'class="heat"' in page
    assert 'class="c gap"' in page and 'class="c covered"' in page
    assert "reverse-system-design" in page
    _assert_balanced(page)


def test_json_with_html_file(run, stocked, tmp_path):
    html_file = tmp_path / "cov.html"
    result = run("--json", "--html", str(html_file))
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)
    assert "Wrote the HTML report" in result.stderr
    assert html_file.exists()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["report.md"], "only for --markdown"),
        (["--markdown", "--json"], "standard output"),
        (["--llm"], "OPENAI_API_KEY"),
        (["--level", "E9"], "level must be one of"),
        (["--today", "yesterday"], "YYYY-MM-DD"),
    ],
)
def test_usage_errors(run, expect_error, args, fragment):
    expect_error(run(*args), fragment)


def test_unwritable_report_file_is_an_input_error(run, tmp_path, expect_error):
    expect_error(run("--html", str(tmp_path / "missing" / "cov.html")), "cannot write")


def test_today_makes_reports_reproducible(run, bank, json_of):
    add(bank, "Old story", "dissented-from-decision", when="2023-01")
    add(bank, "Older story", "dissented-from-decision", when="2022-06")
    then = by_id(json_of(run("--json", "--today", "2023-06-01")))["dissented-from-decision"]
    now = by_id(json_of(run("--json", "--today", "2026-01-01")))["dissented-from-decision"]
    assert (then["status"], now["status"]) == ("covered", "thin")


class _Balance(HTMLParser):
    VOID = frozenset({"meta", "br", "link", "img", "hr", "input"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-3:])
        self.stack.pop()


def _assert_balanced(page: str) -> None:
    parser = _Balance()
    parser.feed(page)
    assert parser.stack == []


def test_accept_in_a_terminal_asks_first(run, stocked, bank, monkeypatch):
    import storycoach.cli.coverage as cli

    monkeypatch.setattr(cli, "interactive", lambda: True)
    declined = run("--accept", input="n\n")
    assert declined.exit_code == 0, declined.output
    assert "Links to add" in declined.stdout and "No links added." in declined.stdout
    assert bank.story(stocked["dissent"].id).questions == []
    accepted = run("--accept", input="y\n")
    assert f"Linked #{stocked['dissent'].id}" in accepted.stdout
    assert bank.story(stocked["dissent"].id).questions
    assert run("--accept", "--yes").exit_code == 0  # --yes never prompts


def test_a_rejected_link_is_never_suggested_again(run, stocked, bank, json_of, monkeypatch):
    import storycoach.cli.coverage as cli

    monkeypatch.setattr(cli, "interactive", lambda: True)
    before = json_of(run("--json"))
    tops = [
        (q["id"], q["suggestions"][0]["story"]) for q in before["questions"] if q["suggestions"]
    ]
    assert len(tops) >= 2
    # choose one by one: reject the first, link the second, skip the rest
    answers = "c\nn\ny\n" + "s\n" * len(tops)
    result = run("--accept", input=answers)
    assert result.exit_code == 0, result.output
    assert "Will not suggest 1 link again." in result.stdout
    (q1, s1), (q2, s2) = tops[0], tops[1]
    assert q1 not in bank.story(s1).questions
    assert q2 in bank.story(s2).questions
    assert (s1, q1) in bank.rejected_links()
    after = by_id(json_of(run("--json")))
    assert s1 not in [s["story"] for s in after[q1]["suggestions"]]


def test_reports_name_linked_stories_and_explain_every_cell(run, stocked, tmp_path):
    md_file, html_file = tmp_path / "cov.md", tmp_path / "cov.html"
    assert run("--markdown", str(md_file), "--html", str(html_file)).exit_code == 0
    page = html_file.read_text(encoding="utf-8")
    md = md_file.read_text(encoding="utf-8")
    for story in stocked.values():
        for question in story.questions:
            assert f"#{story.id} {story.title}" in page, (story.title, question)
            assert f"#{story.id} {story.title}" in md
    # every code a heat-map cell can hold is one the legend explains
    legend = page.split('class="legend muted">')[1].split("</p>")[0]
    cells = set(re.findall(r'<td class="c (?:gap|thin|covered)"[^>]*>([A-Z]\d*)</td>', page))
    assert cells
    for cell in cells:
        letter = cell[0]
        assert f">{letter}" in legend, cell
    assert "T0" in legend and "counts" in legend
    assert "latest review did not fail" in md
    _assert_balanced(page)
