"""`storycoach story ...` through the CLI: the happy paths and every kind of bad input."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest

from storycoach.cli import story as story_cli
from storycoach.storyfile import TEMPLATE, story_from_text


@pytest.fixture
def existing(invoke: Callable, story_args: Callable, json_of: Callable) -> dict:
    """One story in the bank, linked to a question and a marker."""
    return json_of(
        invoke(
            "story",
            "add",
            *story_args(when="2024-03"),
            "--question",
            "dissented-from-decision",
            "--marker",
            "farming-for-dissent",
            "--json",
        )
    )


@pytest.fixture
def seeded(invoke: Callable) -> None:
    """The bank exists (migrated and seeded), so a failing command can be shown to write nothing."""
    assert invoke("story", "list", "--json").exit_code == 0


# -- add ------------------------------------------------------------------------------------


def test_add_from_flags_then_list_and_show(
    invoke: Callable, story_args: Callable, json_of: Callable, story_fields: dict
) -> None:
    result = invoke(
        "story",
        "add",
        *story_args(when="2024-03-17", reflection="I now write the doc first."),
        "--company",
        "Acme",
        "--team",
        "Payments",
        "--person",
        "Priya Raman (staff engineer)",
        "--person",
        "Dana Ito: PM",
        "--metric",
        "p99 900 ms -> 300 ms",
        "--tag",
        "latency",
        "--level",
        "e5",
        "-q",
        "dissented-from-decision",
        "-m",
        "farming-for-dissent",
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"Added story #1: {story_fields['title']}")
    assert result.stderr == ""

    [listed] = json_of(invoke("story", "list", "--json"))
    assert listed["id"] == 1
    assert listed["verdict"] is None
    shown = json_of(invoke("story", "show", "1", "--json"))
    assert {k: v for k, v in listed.items() if k != "verdict"} == shown
    for key, value in story_fields.items():
        assert shown[key] == value
    assert shown["when"] == "2024-03-17"
    assert shown["reflection"] == "I now write the doc first."
    assert shown["company"] == "Acme"
    assert shown["team"] == "Payments"
    assert shown["people"] == [
        {"name": "Priya Raman", "role": "staff engineer"},
        {"name": "Dana Ito", "role": "PM"},
    ]
    assert shown["metrics"] == ["p99 900 ms -> 300 ms"]
    assert shown["tags"] == ["latency"]
    assert shown["level"] == "E5"
    assert shown["questions"] == ["dissented-from-decision"]
    assert shown["markers"] == ["farming-for-dissent"]
    assert shown["retired"] is False

    human = invoke("story", "show", "1")
    assert human.exit_code == 0
    assert f"#1 {story_fields['title']}" in human.stdout
    assert "dissented-from-decision" in human.stdout

    table = invoke("story", "list")
    assert table.exit_code == 0
    assert story_fields["title"] in table.stdout


def test_show_markdown_reads_back_as_the_same_story(
    invoke: Callable, existing: dict, tmp_path: Path, json_of: Callable
) -> None:
    result = invoke("story", "show", str(existing["id"]), "--markdown")
    assert result.exit_code == 0
    text = result.stdout
    assert text.startswith("---\ntitle: ")
    for heading in ("## Situation", "## Task", "## Action", "## Result"):
        assert heading in text
    parsed = story_from_text(text)
    volatile = {"id", "uid", "created", "updated"}
    assert parsed.model_dump(mode="json", exclude=volatile) == {
        k: v for k, v in existing.items() if k not in volatile
    }
    # and `story add --from` of that file gives an equal story
    path = tmp_path / "again.md"
    path.write_text(text, encoding="utf-8")
    again = json_of(invoke("story", "add", "--from", path, "--json"))
    assert {k: v for k, v in again.items() if k not in volatile} == {
        k: v for k, v in existing.items() if k not in volatile
    }


def test_add_from_file(
    invoke: Callable, story_file: Callable, json_of: Callable, story_fields: dict
) -> None:
    path = story_file(
        front={
            "when": "2024-03",
            "people": ["Priya Raman (staff engineer)"],
            "questions": ["received-critical-feedback"],
            "markers": "candid-feedback",
            "tags": ["feedback"],
        }
    )
    result = invoke("story", "add", "--from", path)
    assert result.exit_code == 0, result.stderr
    [saved] = json_of(invoke("story", "list", "--json"))
    assert saved["title"] == story_fields["title"]
    assert saved["result"] == story_fields["result"]
    assert saved["when"] == "2024-03"
    assert saved["people"] == [{"name": "Priya Raman", "role": "staff engineer"}]
    assert saved["questions"] == ["received-critical-feedback"]
    assert saved["markers"] == ["candid-feedback"]


def test_add_from_file_with_title_heading_and_flag_overrides(
    invoke: Callable, story_file: Callable, json_of: Callable
) -> None:
    body = (
        "# A title from the heading\n\n## Situation\nS.\n\n## Task\nT.\n\n"
        "## Actions\nA.\n\n## Outcome\nR.\n\n## Learning\nL.\n"
    )
    path = story_file(text=body)
    saved = json_of(invoke("story", "add", "--from", path, "--tag", "extra", "--json"))
    assert saved["title"] == "A title from the heading"
    assert (saved["action"], saved["result"], saved["reflection"]) == ("A.", "R.", "L.")
    assert saved["tags"] == ["extra"]


def test_add_from_stdin(invoke: Callable, json_of: Callable, story_text: Callable) -> None:
    text = story_text(title="From a pipe", front={"when": "2023-11"})
    result = invoke("story", "add", "--from", "-", "--json", input=text)
    saved = json_of(result)
    assert saved["title"] == "From a pipe"
    assert saved["when"] == "2023-11"
    assert len(json_of(invoke("story", "list", "--json"))) == 1


def test_add_from_file_with_bom_and_crlf(
    invoke: Callable, story_file: Callable, json_of: Callable, story_text: Callable
) -> None:
    text = story_text(title="Windows story", front={"when": "2024-03-17"})
    path = story_file(text=b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    saved = json_of(invoke("story", "add", "--from", path, "--json"))
    assert saved["title"] == "Windows story"
    assert saved["when"] == "2024-03-17"
    assert "\r" not in saved["situation"]
    assert saved["result"].endswith("two weeks.")


def test_edit_from_stdin(invoke: Callable, existing: dict, story_text: Callable, json_of) -> None:
    text = story_text(title="Piped edit")
    saved = json_of(invoke("story", "edit", "1", "--from", "-", "--json", input=text))
    assert saved["title"] == "Piped edit"
    result = invoke("story", "edit", "1", "--from", "-", input="no sections")
    assert result.stderr.startswith("storycoach: error: standard input: missing")


def test_add_without_fields_outside_a_terminal_explains(
    invoke: Callable, expect_error: Callable, db_path: Path
) -> None:
    db_path.unlink()
    result = invoke("story", "add")
    expect_error(result, "--from FILE")
    assert not db_path.exists()


# -- $EDITOR --------------------------------------------------------------------------------


def _filled_template() -> str:
    text = TEMPLATE.replace("title:\n", "title: Written in my editor\n", 1)
    return _fill_star(text.replace("when:  ", "when: 2024-05", 1))


def _fill_star(text: str) -> str:
    """The four STAR sections of an editor template, written."""
    for heading, content in (
        ("Situation", "Our deploys broke weekly."),
        ("Task", "I owned the release train."),
        ("Action", "I added canaries with Dana Ito."),
        ("Result", "Rollbacks fell from 6 to 1 a quarter."),
    ):
        text = text.replace(f"## {heading}\n", f"## {heading}\n\n{content}\n", 1)
    return text


@pytest.fixture
def editor(monkeypatch: pytest.MonkeyPatch) -> Callable[[str | None], list[str]]:
    """`editor(returned_text)`: pretend to be in a terminal whose $EDITOR returns that text.

    Returns the list of texts the editor was opened on.
    """

    def _setup(returned: str | None) -> list[str]:
        opened: list[str] = []

        def fake_edit(text: str, **kwargs: object) -> str | None:
            assert kwargs.get("extension") == ".md"
            opened.append(text)
            return returned

        monkeypatch.setattr(story_cli, "interactive", lambda: True)
        monkeypatch.setattr(click, "edit", fake_edit)
        return opened

    return _setup


def test_add_in_editor(invoke: Callable, editor: Callable, json_of: Callable) -> None:
    opened = editor(_filled_template())
    result = invoke("story", "add")
    assert result.exit_code == 0, result.stderr
    assert opened == [TEMPLATE]
    [saved] = json_of(invoke("story", "list", "--json"))
    assert saved["title"] == "Written in my editor"
    assert saved["when"] == "2024-05"
    assert saved["action"] == "I added canaries with Dana Ito."
    assert saved["people"] == []
    assert saved["level"] is None


@pytest.mark.parametrize("returned", [None, TEMPLATE], ids=["not-saved", "unchanged"])
def test_add_in_editor_cancelled(
    invoke: Callable, editor: Callable, expect_error: Callable, db_counts: Callable, returned
) -> None:
    editor(returned)
    result = invoke("story", "add")
    expect_error(result, "nothing saved", code=1)
    assert db_counts().get("stories", 0) == 0


def test_bad_edited_story_is_kept_in_a_recovery_file(
    invoke: Callable, editor: Callable, expect_error: Callable, db_counts: Callable, tmp_path: Path
) -> None:
    edited = _filled_template().replace("title: Written in my editor", "title: [unclosed")
    editor(edited)
    result = invoke("story", "add")
    line = expect_error(result, "malformed front matter", "Your text is saved in")
    match = re.search(r"saved in (\S+);", line)
    assert match, line
    recovery = Path(match[1])
    assert recovery.is_file()
    assert recovery.is_relative_to(tmp_path / "config" / "storycoach")
    assert recovery.read_text(encoding="utf-8") == edited
    assert f"storycoach story add --from {recovery}" in line
    assert db_counts().get("stories", 0) == 0


def test_two_bad_edits_keep_two_recovery_files(
    invoke: Callable, editor: Callable, expect_error: Callable
) -> None:
    paths = []
    for n in (1, 2):
        edited = _filled_template().replace("title: Written in my editor", f"title: [bad {n}")
        editor(edited)
        line = expect_error(invoke("story", "add"), "Your text is saved in")
        paths.append(Path(re.search(r"saved in (\S+);", line)[1]))
    assert paths[0] != paths[1]
    assert "[bad 1" in paths[0].read_text(encoding="utf-8")
    assert "[bad 2" in paths[1].read_text(encoding="utf-8")


def test_bad_edit_of_a_story_changes_nothing_and_suggests_edit(
    invoke: Callable, existing: dict, editor: Callable, expect_error: Callable, json_of: Callable
) -> None:
    shown = invoke("story", "show", "1", "--markdown").stdout
    editor(shown.replace("## Result", "## Nothing"))
    line = expect_error(invoke("story", "edit", "1"), "missing ## Result")
    recovery = re.search(r"saved in (\S+);", line)[1]
    assert f"`storycoach story edit 1 --from {recovery}`" in line
    assert Path(recovery).read_text(encoding="utf-8") == shown.replace("## Result", "## Nothing")
    assert json_of(invoke("story", "show", "1", "--json")) == existing


def test_editor_that_fails_to_start(
    invoke: Callable, expect_error: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real click.edit with EDITOR=false (set by conftest): a clean error, no traceback."""
    monkeypatch.setattr(story_cli, "interactive", lambda: True)
    result = invoke("story", "add")
    expect_error(result, "could not run your editor")


def test_edit_in_editor(
    invoke: Callable, existing: dict, editor: Callable, json_of: Callable, story_fields: dict
) -> None:
    shown = invoke("story", "show", "1", "--markdown").stdout
    opened = editor(shown.replace(story_fields["result"], "p99 fell to 250 ms."))
    result = invoke("story", "edit", "1")
    assert result.exit_code == 0, result.stderr
    assert opened == [shown]
    saved = json_of(invoke("story", "show", "1", "--json"))
    assert saved["result"] == "p99 fell to 250 ms."
    assert saved["questions"] == existing["questions"]


def test_edit_in_editor_without_changes(invoke: Callable, existing: dict, editor: Callable):
    editor(None)
    result = invoke("story", "edit", "1")
    assert result.exit_code == 0
    assert "No changes." in result.stdout


# -- edit, rm, link, search -----------------------------------------------------------------


def test_edit_by_flags_and_retire(invoke: Callable, existing: dict, json_of: Callable) -> None:
    result = invoke("story", "edit", "1", "--title", "Sharper title", "--tag", "x", "--retire")
    assert result.exit_code == 0, result.stderr
    assert "Retired story #1: Sharper title" in result.stdout
    saved = json_of(invoke("story", "show", "1", "--json"))
    assert saved["title"] == "Sharper title"
    assert saved["tags"] == ["x"]
    assert saved["retired"] is True
    # untouched fields and links stay
    assert saved["situation"] == existing["situation"]
    assert saved["questions"] == existing["questions"]
    assert saved["markers"] == existing["markers"]
    assert saved["created"] == existing["created"]
    assert json_of(invoke("story", "list", "--active", "--json")) == []
    assert len(json_of(invoke("story", "list", "--json"))) == 1

    assert invoke("story", "edit", "1", "--unretire").exit_code == 0
    assert len(json_of(invoke("story", "list", "--active", "--json"))) == 1


def test_edit_can_clear_an_optional_field(
    invoke: Callable, existing: dict, json_of: Callable
) -> None:
    assert invoke("story", "edit", "1", "--company", "Acme").exit_code == 0
    assert invoke("story", "edit", "1", "--company", "", "--when", "").exit_code == 0
    saved = json_of(invoke("story", "show", "1", "--json"))
    assert saved["company"] == ""
    assert saved["when"] is None


def test_edit_from_file(
    invoke: Callable, existing: dict, story_file: Callable, json_of: Callable
) -> None:
    path = story_file(title="Replaced", front={"questions": ["reverse-system-design"]})
    result = invoke("story", "edit", "1", "--from", path, "--json")
    saved = json_of(result)
    assert saved["id"] == 1
    assert saved["title"] == "Replaced"
    assert saved["questions"] == ["reverse-system-design"]
    assert saved["created"] == existing["created"]
    assert len(json_of(invoke("story", "list", "--json"))) == 1


def test_edit_with_nothing_to_change(
    invoke: Callable, existing: dict, expect_error: Callable
) -> None:
    expect_error(invoke("story", "edit", "1"), "nothing to change")


def test_rm_with_yes(invoke: Callable, existing: dict, json_of: Callable) -> None:
    result = invoke("story", "rm", "1", "--yes", "--json")
    assert json_of(result) == {"deleted": 1}
    assert json_of(invoke("story", "list", "--json")) == []


def test_rm_without_yes_outside_a_terminal_deletes_nothing(
    invoke: Callable, existing: dict, expect_error: Callable, json_of: Callable
) -> None:
    expect_error(invoke("story", "rm", "1"), "--yes")
    assert len(json_of(invoke("story", "list", "--json"))) == 1


def test_rm_asks_in_a_terminal(
    invoke: Callable, existing: dict, json_of: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(story_cli, "interactive", lambda: True)
    declined = invoke("story", "rm", "1", input="n\n")
    assert declined.exit_code == 1  # typer's Abort
    assert len(json_of(invoke("story", "list", "--json"))) == 1
    accepted = invoke("story", "rm", "1", input="y\n")
    assert accepted.exit_code == 0, accepted.stderr
    assert json_of(invoke("story", "list", "--json")) == []


def test_rm_unknown_story(invoke: Callable, seeded: None, expect_error: Callable) -> None:
    expect_error(invoke("story", "rm", "42", "--yes"), "no story with id 42")


def test_link_and_unlink(invoke: Callable, existing: dict, json_of: Callable) -> None:
    result = invoke("story", "link", "1", "-q", "reverse-system-design", "-m", "keeper-test")
    assert result.exit_code == 0, result.stderr
    assert "reverse-system-design" in result.stdout
    saved = json_of(invoke("story", "show", "1", "--json"))
    assert saved["questions"] == ["dissented-from-decision", "reverse-system-design"]
    assert saved["markers"] == ["farming-for-dissent", "keeper-test"]

    removed = json_of(
        invoke("story", "link", "1", "--remove", "-q", "dissented-from-decision", "--json")
    )
    assert removed["questions"] == ["reverse-system-design"]
    assert removed["markers"] == ["farming-for-dissent", "keeper-test"]
    linked = json_of(invoke("story", "list", "--question", "reverse-system-design", "--json"))
    assert [s["id"] for s in linked] == [1]
    assert json_of(invoke("story", "list", "-q", "dissented-from-decision", "--json")) == []


def test_link_needs_something_to_link(
    invoke: Callable, existing: dict, expect_error: Callable
) -> None:
    expect_error(invoke("story", "link", "1"), "--question")


def test_link_unknown_question_suggests(
    invoke: Callable, existing: dict, expect_error: Callable, db_counts: Callable
) -> None:
    before = db_counts()
    result = invoke("story", "link", "1", "-q", "reverse-sytem-design")
    expect_error(result, "unknown question 'reverse-sytem-design'", "reverse-system-design")
    assert db_counts() == before


def test_search_json(invoke: Callable, story_args: Callable, json_of: Callable) -> None:
    invoke("story", "add", *story_args(action="I profiled the flamegraph.", title="One"))
    invoke(
        "story", "add", *story_args(action="I rewrote the runbook.", title="Two"), "--tag", "c++"
    )
    found = json_of(invoke("story", "search", "flamegraph", "--json"))
    assert [s["title"] for s in found] == ["One"]
    assert [s["title"] for s in json_of(invoke("story", "search", "c++", "--json"))] == ["Two"]
    assert json_of(invoke("story", "search", '"unbalanced', "--json")) == []
    human = invoke("story", "search", "runbook")
    assert human.exit_code == 0
    assert "#2  Two" in human.stdout
    none = invoke("story", "search", "zebra")
    assert none.exit_code == 0
    assert "No story matches" in none.stdout


def test_show_unknown_story(invoke: Callable, seeded: None, expect_error: Callable) -> None:
    expect_error(invoke("story", "show", "7"), "no story with id 7")


# -- bad input: exit 2, one line on stderr, nothing written -----------------------------------

BAD_FLAGS = {
    "empty title": ({"title": ""}, [], "title must not be empty"),
    "blank result": ({"result": "   "}, [], "result must not be empty"),
    "unknown question": ({}, ["-q", "disented-from-decision"], "dissented-from-decision"),
    "unknown marker": ({}, ["-m", "keeper-tset"], "unknown marker 'keeper-tset'"),
    "bad when": ({"when": "March 2024"}, [], "expected a month like 2024-03"),
    "impossible date": ({"when": "2024-13"}, [], "when"),
    "bad level": ({}, ["--level", "E9"], "level"),
}


@pytest.mark.parametrize(("fields", "extra", "fragment"), BAD_FLAGS.values(), ids=BAD_FLAGS.keys())
def test_bad_flags(
    invoke: Callable,
    story_args: Callable,
    expect_error: Callable,
    db_counts: Callable,
    seeded: None,
    fields: dict,
    extra: list,
    fragment: str,
) -> None:
    before = db_counts()
    result = invoke("story", "add", *story_args(**fields), *extra)
    expect_error(result, fragment)
    assert db_counts() == before


def test_unknown_question_message_suggests_the_closest_id(
    invoke: Callable, story_args: Callable, expect_error: Callable
) -> None:
    result = invoke("story", "add", *story_args(), "-q", "disented-from-decision")
    line = expect_error(result)
    assert re.search(r"Did you mean: dissented-from-decision\b", line), line


HUGE = "## Situation\n" + "word " * 12_001 + "\n## Task\nT\n## Action\nA\n## Result\nR\n"

BAD_FILES = {
    "malformed front matter": (
        "---\ntitle: [unclosed\n---\n## Situation\nS\n## Task\nT\n## Action\nA\n## Result\nR\n",
        "malformed front matter",
    ),
    "front matter not a mapping": (
        "---\n- a\n- b\n---\n## Situation\nS\n## Task\nT\n## Action\nA\n## Result\nR\n",
        "front matter must be key: value pairs",
    ),
    "unknown front matter field": (
        "---\ntitle: X\nmood: happy\n---\n## Situation\nS\n## Task\nT\n## Action\nA\n"
        "## Result\nR\n",
        "mood: unknown field",
    ),
    "bad when in front matter": (
        "---\ntitle: X\nwhen: March 2024\n---\n## Situation\nS\n## Task\nT\n## Action\nA\n"
        "## Result\nR\n",
        "expected a month like 2024-03",
    ),
    "missing result section": (
        "---\ntitle: X\n---\n## Situation\nS\n## Task\nT\n## Action\nA\n",
        "missing ## Result",
    ),
    "no title": ("## Situation\nS\n## Task\nT\n## Action\nA\n## Result\nR\n", "title"),
    "non-UTF-8": ("## Situation\ncaf\xe9\n".encode("latin-1"), "is not UTF-8 text"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "looks like a binary file"),
    "huge": (HUGE, "is too long (60,"),
    "huge multi-byte": ("é" * 130_000, "is too long (more than 60,000 characters)"),
    "empty": ("", "missing ## Situation"),
}


@pytest.mark.parametrize(("content", "fragment"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_story_files(
    invoke: Callable,
    story_file: Callable,
    expect_error: Callable,
    db_counts: Callable,
    seeded: None,
    content: str | bytes,
    fragment: str,
) -> None:
    path = story_file("bad.md", text=content)
    before = db_counts()
    expect_error(invoke("story", "add", "--from", path), fragment)
    assert db_counts() == before


@pytest.mark.parametrize(("content", "fragment"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_story_files_on_edit_change_nothing(
    invoke: Callable,
    story_file: Callable,
    expect_error: Callable,
    existing: dict,
    json_of: Callable,
    content: str | bytes,
    fragment: str,
) -> None:
    path = story_file("bad.md", text=content)
    expect_error(invoke("story", "edit", "1", "--from", path), fragment)
    assert json_of(invoke("story", "show", "1", "--json")) == existing


def test_bad_stdin(invoke: Callable, expect_error: Callable, db_counts: Callable, seeded) -> None:
    before = db_counts()
    expect_error(invoke("story", "add", "--from", "-", input=b"\xff\xfe\x00"), "standard input")
    expect_error(invoke("story", "add", "--from", "-", input="just words"), "missing ## Situation")
    assert db_counts() == before


def test_missing_file(
    invoke: Callable, expect_error: Callable, tmp_path: Path, db_path: Path
) -> None:
    db_path.unlink()
    expect_error(invoke("story", "add", "--from", tmp_path / "nope.md"), "no such file")
    expect_error(invoke("story", "add", "--from", tmp_path), "is a directory")
    assert not db_path.exists()


def test_db_pointing_to_a_non_sqlite_file(
    invoke: Callable, expect_error: Callable, story_args: Callable, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("# My notes\n\nNothing to see here, certainly not SQLite.\n" * 20)
    before = notes.read_bytes()
    result = invoke("--db", notes, "story", "add", *story_args())
    expect_error(result, "is not a storycoach database")
    assert notes.read_bytes() == before


def test_debug_shows_the_traceback_and_keeps_the_exit_code(
    invoke: Callable, tmp_path: Path
) -> None:
    plain = invoke("story", "add", "--from", tmp_path / "nope.md")
    result = invoke("--debug", "story", "add", "--from", tmp_path / "nope.md")
    assert plain.exit_code == result.exit_code == 2
    assert "Traceback" in result.stderr
    assert "StorycoachError" in result.stderr
    assert result.stderr.rstrip().endswith(plain.stderr.rstrip())


def test_errors_never_print_a_python_repr(invoke: Callable, story_args: Callable) -> None:
    result = invoke("story", "add", *story_args(title=""))
    assert result.exit_code == 2
    assert "ValidationError" not in result.output
    assert "pydantic" not in result.output


def test_user_text_that_looks_like_rich_markup_prints_verbatim(invoke):
    """Titles, text and file paths are the user's: "[WIP] ... [/]" is text, not markup."""
    title = "[WIP] cache [/] rewrite [bold]"
    added = invoke(
        "story", "add", "--title", title, "--situation", "[red]s", "--task", "t",
        "--action", "I did [x]", "--result", "r", "--company", "[/]",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert title in added.stdout
    for args in (["story", "list"], ["story", "show", "1"], ["story", "search", "cache"]):
        result = invoke(*args)
        assert result.exit_code == 0, (args, result.output)
        assert "[WIP] cache [/] rewrite" in result.stdout.replace("\n", " "), args
    question = invoke("questions", "add", "--id", "my-q", "--text", "Why [/] this?")
    assert question.exit_code == 0
    shown = invoke("questions", "show", "my-q")
    assert shown.exit_code == 0 and "Why [/] this?" in shown.stdout


def test_flags_given_with_the_editor_are_kept(
    invoke: Callable, json_of: Callable, bank: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`story add --question Q` in a terminal: the template opens with Q filled in."""
    question = bank.question_ids()[0]
    slug = bank.marker_slugs()[0]

    opened: list[str] = []
    monkeypatch.setattr(story_cli, "interactive", lambda: True)
    monkeypatch.setattr(click, "edit", lambda text, **_: opened.append(text) or _fill_star(text))
    args = ["--question", question, "--marker", slug, "--team", "Core", "--title", 'Said "no"']
    result = invoke("story", "add", *args, "--reflection", "I ask earlier now.")
    assert result.exit_code == 0, result.stderr
    assert f'questions: ["{question}"]' in opened[0]
    assert "I ask earlier now." in opened[0]
    [saved] = json_of(invoke("story", "list", "--json"))
    assert saved["questions"] == [question]
    assert saved["markers"] == [slug]
    assert saved["team"] == "Core"
    assert saved["title"] == 'Said "no"'
    assert saved["reflection"] == "I ask earlier now."


def test_template_tells_the_truth() -> None:
    """It points to commands that exist and says what an empty section does."""
    assert "storycoach markers`" in TEMPLATE
    assert "markers list" not in TEMPLATE
    assert "empty to cancel" not in TEMPLATE
    assert "recovery file" in TEMPLATE


def test_show_prints_the_users_text_verbatim(
    invoke: Callable, story_args: Callable, bank: Any
) -> None:
    args = story_args(action="I changed List<Order> and __init__ and **kept** it.")
    assert invoke("story", "add", *args, "--team", "Core").exit_code == 0
    out = invoke("story", "show", "1").stdout
    assert "List<Order>" in out
    assert "__init__" in out
    assert "**kept**" in out
    assert "team  Core" in out
    assert "company" not in out


def test_retire_says_retired(invoke: Callable, story_args: Callable) -> None:
    assert invoke("story", "add", *story_args()).exit_code == 0
    assert invoke("story", "edit", "1", "--retire").stdout.startswith("Retired story #1")
    assert invoke("story", "edit", "1", "--unretire").stdout.startswith("Unretired story #1")
    assert invoke("story", "edit", "1", "--when", "2024-01").stdout.startswith("Updated story #1")


def test_list_with_filters_that_match_nothing(
    invoke: Callable, story_args: Callable, bank: Any, expect_error: Callable
) -> None:
    assert invoke("story", "add", *story_args(), "--tag", "infra").exit_code == 0
    question = bank.question_ids()[0]
    assert "No story matches" in invoke("story", "list", "--question", question).stdout
    expect_error(invoke("story", "list", "--tag", "infr"), "unknown tag", "infra", "story list")


def test_show_joins_lines_wrapped_in_the_editor_and_keeps_lists() -> None:
    from storycoach.cli.words import reflow

    text = "In March 2025 we had no\nmetric at all.\n\n- asked Priya\n- wrote the brief\nOK"
    assert reflow(text) == (
        "In March 2025 we had no metric at all.\n\n- asked Priya\n- wrote the brief OK"
    )
    assert reflow("List<Order>  and __init__") == "List<Order>  and __init__"
