"""The one text model: blocks, not physical lines; offsets back to the original file."""

from __future__ import annotations

from storycoach.rubric import review_text
from storycoach.rubric.text import Doc, star_kind
from storycoach.storyfile import sections, story_from_text


def test_lines_of_a_paragraph_are_joined_and_blocks_stay_apart() -> None:
    doc = Doc("the import was slow and we\nbuilt a cache.\n\n- one\n  more\n- two\n## Result\nok")
    assert (
        doc.text == "the import was slow and we built a cache.\n\n- one more\n- two\n## Result\nok"
    )


def test_crlf_tabs_trailing_spaces_and_emphasis_change_nothing() -> None:
    plain = Doc("In May 2023 I told Dana the plan.\n\n- shipped it")
    noisy = Doc("In May  2023 I told **Dana**\tthe _plan_.   \r\n\r\n- shipped *it*  \r\n")
    assert noisy.text == plain.text
    # snake_case and arithmetic are not emphasis
    assert Doc("user_id and 2*3").text == "user_id and 2*3"


def test_offsets_map_back_to_the_original_line_and_column() -> None:
    source = "Intro line that\r\n  wraps **here** and\r\nbuilt it.\r\n"
    doc = Doc(source)
    assert doc.line_col(doc.text.index("here")) == (2, 11)
    assert doc.line_col(doc.text.index("built")) == (3, 1)


def test_hard_wrapping_does_not_invent_an_implied_i() -> None:
    one_line = (
        "In March 2023 Priya Raman said the import was slow and we built a new cache;"
        " it fell from 40 to 6 minutes."
    )
    wrapped = one_line.replace("we built", "we\nbuilt")
    fired = {f.rule for f in review_text(wrapped)}
    assert "collaborator-only" in fired
    assert fired == {f.rule for f in review_text(one_line)}


def test_findings_point_into_the_original_file() -> None:
    text = "In 2024 we\r\nrewrote the **billing** job and\r\nthe team shipped it; it went well."
    finding = next(f for f in review_text(text) if f.rule == "collaborator-only")
    assert (finding.line, finding.column) == (1, 9)


def test_one_star_heading_grammar_for_story_files_and_reviews() -> None:
    for heading, kind in [
        ("Context", "S"),
        ("Situation", "S"),
        ("Outcome", "R"),
        ("Results:", "R"),
        ("Lessons learned", "L"),
        ("Actions", "A"),
    ]:
        assert star_kind(heading) == kind
    assert star_kind("Pushed back on the cache") is None
    body = "## Context\nC\n## Task\nT\n## Action\nA\n## Outcome\nR\n## Lessons learned\nL\n"
    _, found = sections(body)
    assert found == {"situation": "C", "task": "T", "action": "A", "result": "R", "reflection": "L"}
    story = story_from_text("---\ntitle: t\n---\n" + body)
    assert story.situation == "C"
    assert {s.kind for s in Doc(body).sections} == {"S", "T", "A", "R", "L"}
