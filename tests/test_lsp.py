"""The language server end to end: a real `storycoach lsp` process over stdio (pytest-lsp).

Each test gets its own server, bank and app dir: the server process inherits the environment
the autouse `_isolate` fixture set. The model is the loopback fake OpenAI server
(`tests/fake_openai_server.py`), because respx in this process cannot reach a request the
server process makes.
"""

from __future__ import annotations

import ast
import json
import sys
import tomllib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from fake_openai_server import FakeOpenAI
from helpers import add
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

ROOT = Path(__file__).resolve().parents[1]
SERVER = [sys.executable, "-m", "storycoach", "lsp"]

DRAFT = """\
---
level: E5
---
## Situation
Last year the team had a problem with the deploy pipeline, and things were slow.

## Action
We talked about it and the team fixed the pipeline together.

## Result
It improved a lot and everyone was happier.
"""

#: Accents, CJK and an emoji (two UTF-16 units) before the spans the rules quote.
UNICODE_DRAFT = """\
## Situation
Zoë 🚀 東京チーム: last year the team had a problem with the déploiement pipeline 🙂.

## Action
Équipe 🚀🚀 note: we talked about it and the team fixed the pipeline together.

## Result
Über 🎉 it improved a lot and everyone was happier.
"""


def utf16_offset(text: str, position: types.Position) -> int:
    """The text offset of an LSP position, counting characters in UTF-16 code units."""
    lines = text.split("\n")
    before = sum(len(line) + 1 for line in lines[: position.line])
    units = lines[position.line].encode("utf-16-le")[: position.character * 2]
    return before + len(units.decode("utf-16-le"))


def covered(text: str, rng: types.Range) -> str:
    return text[utf16_offset(text, rng.start) : utf16_offset(text, rng.end)]


def position_of(text: str, needle: str, shift: int = 0) -> types.Position:
    """The UTF-16 LSP position of `needle` (plus `shift` characters) in `text`."""
    at = text.index(needle) + shift
    line = text.count("\n", 0, at)
    start = text.rfind("\n", 0, at) + 1
    return types.Position(line=line, character=len(text[start:at].encode("utf-16-le")) // 2)


async def open_file(client: LanguageClient, path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    uri = path.resolve().as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="markdown", version=1, text=text
            )
        )
    )
    await published(client, uri)
    return uri


async def published(client: LanguageClient, uri: str) -> list[types.Diagnostic]:
    """Wait for the next diagnostics of `uri`."""
    while True:
        params = await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        if params.uri == uri:
            return list(params.diagnostics)


def by_rule(diagnostics: list[types.Diagnostic]) -> dict[str, types.Diagnostic]:
    return {str(d.code): d for d in diagnostics}


async def start(
    lsp_client: LanguageClient, root: Path, editor: str = "visual-studio-code", **options: Any
) -> None:
    """Initialize as `editor` would (VS Code's capabilities: UTF-16 positions, the default)."""
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities(editor),
            root_uri=root.as_uri(),
            initialization_options={"debounceMs": 0, **options},
        )
    )


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient, tmp_path: Path) -> AsyncIterator[None]:
    await start(lsp_client, tmp_path)
    yield
    await lsp_client.shutdown_session()


# -- diagnostics --------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_open_publishes_each_finding_on_its_span(
    client: LanguageClient, tmp_path: Path
) -> None:
    uri = await open_file(client, tmp_path / "draft.md", DRAFT)
    found = by_rule(client.diagnostics[uri])
    assert {"missing-dates", "missing-names", "collaborator-only", "vague-delta"} <= set(found)
    dates = found["missing-dates"]
    assert covered(DRAFT, dates.range) == "Last year"
    assert dates.source == "storycoach"
    assert dates.severity == types.DiagnosticSeverity.Error
    assert dates.code_description is not None
    assert dates.code_description.href.endswith("missing-dates.toml")
    assert covered(DRAFT, found["collaborator-only"].range) == "the team fixed"
    # A finding without a span covers its whole line.
    names = found["missing-names"]
    assert covered(DRAFT, names.range) == DRAFT.split("\n")[names.range.start.line]


@pytest.mark.asyncio
async def test_spans_count_utf16_units_in_any_script(
    client: LanguageClient, tmp_path: Path
) -> None:
    uri = await open_file(client, tmp_path / "unicode.md", UNICODE_DRAFT)
    found = by_rule(client.diagnostics[uri])
    assert covered(UNICODE_DRAFT, found["missing-dates"].range) == "last year"
    assert found["missing-dates"].range.start == position_of(UNICODE_DRAFT, "last year")
    # "Zoë 🚀 東京チーム: " is 13 code points but 14 UTF-16 units (the rocket takes two).
    assert found["missing-dates"].range.start.character == 14
    assert covered(UNICODE_DRAFT, found["collaborator-only"].range) == "the team fixed"
    assert covered(UNICODE_DRAFT, found["vague-delta"].range) == "it improved"


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def neovim(lsp_client: LanguageClient, tmp_path: Path) -> AsyncIterator[None]:
    await start(lsp_client, tmp_path, editor="neovim")  # offers utf-8 first
    yield
    await lsp_client.shutdown_session()


@pytest.mark.asyncio
async def test_spans_follow_a_negotiated_utf8_encoding(
    neovim: LanguageClient, tmp_path: Path
) -> None:
    uri = await open_file(neovim, tmp_path / "unicode.md", UNICODE_DRAFT)
    dates = by_rule(neovim.diagnostics[uri])["missing-dates"]
    line = UNICODE_DRAFT.split("\n")[dates.range.start.line].encode("utf-8")
    assert line[dates.range.start.character : dates.range.end.character] == b"last year"


@pytest.mark.asyncio
async def test_an_edit_updates_the_diagnostics(client: LanguageClient, tmp_path: Path) -> None:
    uri = await open_file(client, tmp_path / "draft.md", DRAFT)
    assert "missing-dates" in by_rule(client.diagnostics[uri])
    start = position_of(DRAFT, "Last year")
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(
                        start=start,
                        end=types.Position(line=start.line, character=start.character + 9),
                    ),
                    text="In March 2024",
                )
            ],
        )
    )
    after = await published(client, uri)
    assert "missing-dates" not in by_rule(after)
    assert "collaborator-only" in by_rule(after)


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def slow_client(lsp_client: LanguageClient, tmp_path: Path) -> AsyncIterator[None]:
    await start(lsp_client, tmp_path, debounceMs=1000)
    yield
    await lsp_client.shutdown_session()


@pytest.mark.asyncio
async def test_a_burst_of_edits_is_checked_once_it_pauses(
    slow_client: LanguageClient, tmp_path: Path
) -> None:
    client = slow_client
    uri = await open_file(client, tmp_path / "draft.md", DRAFT)
    versions: list[int | None] = []
    for version in range(2, 7):
        text = (
            DRAFT.replace("Last year", "In March 2024") if version == 6 else DRAFT + "x" * version
        )
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )
    while not versions or versions[-1] != 6:
        params = await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        versions.append(params.version)
    # The first edit after a quiet spell is checked at once; the rest wait for the pause and
    # are checked once, on the last text.
    assert versions == [2, 6]
    assert "missing-dates" not in by_rule(client.diagnostics[uri])


@pytest.mark.asyncio
async def test_a_malformed_file_gets_one_diagnostic(client: LanguageClient, tmp_path: Path) -> None:
    broken = "---\ntitle: [unclosed\nlevel: E5\n---\n## Situation\nWe shipped it.\n"
    uri = await open_file(client, tmp_path / "broken.md", broken)
    diagnostics = client.diagnostics[uri]
    assert len(diagnostics) == 1
    assert "malformed front matter" in diagnostics[0].message
    assert diagnostics[0].severity == types.DiagnosticSeverity.Error
    assert diagnostics[0].code == "invalid-file"
    bad_level = await open_file(client, tmp_path / "level.md", "---\nlevel: E9\n---\nWe shipped.\n")
    [only] = client.diagnostics[bad_level]
    assert "level must be one of E3, E4, E5, E6, E7" in only.message


@pytest.mark.asyncio
async def test_settings_give_the_defaults_the_front_matter_leaves_out(
    client: LanguageClient, tmp_path: Path
) -> None:
    body = "## Situation\nI disagreed with Dana in March 2024 and we shipped it.\n"
    plain = await open_file(client, tmp_path / "plain.md", body)
    assert not any(str(d.code).startswith("dissent") for d in client.diagnostics[plain])
    # The client pushes new settings: the default question's probes now apply.
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"storycoach": {"question": "dissented-from-decision", "level": "e6"}}
        )
    )
    after = await published(client, plain)
    assert any(str(d.code).startswith("dissent") for d in after)
    # A file's own front matter wins over the settings.
    own = await open_file(
        client, tmp_path / "own.md", "---\nquestion: biggest-failure\n---\n" + body
    )
    assert not any(str(d.code).startswith("dissent") for d in client.diagnostics[own])


@pytest.mark.asyncio
async def test_story_folders_from_workspace_configuration(
    client: LanguageClient, tmp_path: Path
) -> None:
    readme = await open_file(client, tmp_path / "README.md", DRAFT)
    assert client.diagnostics[readme]
    # No settings in the notification: the server asks for its section, then re-checks.
    client.set_configuration({"storyFolders": ["stories"]}, section="storycoach")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    assert await published(client, readme) == []
    story = await open_file(client, tmp_path / "stories" / "cache.md", DRAFT)
    assert "missing-dates" in by_rule(client.diagnostics[story])


# -- hover and completion -----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_hover_explains_the_rule(client: LanguageClient, tmp_path: Path) -> None:
    uri = await open_file(client, tmp_path / "draft.md", UNICODE_DRAFT)
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=position_of(UNICODE_DRAFT, "last year", shift=3),
        )
    )
    assert hover is not None
    text = hover.contents.value
    assert "(`missing-dates`)" in text
    assert "**Why.**" in text and "**What good looks like.**" in text
    assert "**A good example.**" in text
    nothing = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=2, character=0),  # a blank line: no finding there
        )
    )
    assert nothing is None


async def complete(
    client: LanguageClient, uri: str, text: str, line: int
) -> list[types.CompletionItem]:
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=len(text.split("\n")[line])),
        )
    )
    if result is None:
        return []
    return list(result.items if isinstance(result, types.CompletionList) else result)


@pytest.mark.asyncio
async def test_completion_in_the_front_matter(
    client: LanguageClient, tmp_path: Path, bank: Any
) -> None:
    add(bank, "Cache rewrite", people=[{"name": "Priya Raman", "role": "staff engineer"}])
    text = "---\nquestion: \nlevel: \nmarkers:\n  - \npeople: [\n---\n## Situation\nText.\n"
    uri = await open_file(client, tmp_path / "draft.md", text)
    questions = {i.label: i.detail for i in await complete(client, uri, text, 1)}
    assert "dissented-from-decision" in questions
    assert questions["dissented-from-decision"]  # the question's text
    assert {i.label for i in await complete(client, uri, text, 2)} == {"E3", "E4", "E5", "E6", "E7"}
    assert "keeper-test" in {i.label for i in await complete(client, uri, text, 4)}
    people = await complete(client, uri, text, 5)
    assert [i.label for i in people] == ["Priya Raman (staff engineer)"]
    assert await complete(client, uri, text, 8) == []  # the body: nothing to complete


# -- code actions -------------------------------------------------------------------------------

STORY = """\
---
title: Pushed back on the cache rewrite
when: 2024-03
questions: [dissented-from-decision]
---
## Situation
In March 2024 our checkout p99 was 900 ms on the payments team at Acme.

## Task
I owned the latency budget and had to decide whether to rewrite the cache.

## Action
I wrote a design doc comparing the rewrite with tuning and showed it to Priya.

## Result
We tuned instead; p99 dropped from 900 ms to 300 ms within two weeks.
"""


async def actions(client: LanguageClient, uri: str) -> dict[str, types.Command]:
    """The code actions offered for `uri`, by title, as the commands they run."""
    found = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(
                start=types.Position(line=6, character=0), end=types.Position(line=6, character=0)
            ),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    out = {}
    for item in found or []:
        if isinstance(item, types.CodeAction):
            assert item.kind == types.CodeActionKind.Source
            assert item.command is not None
            out[item.title] = item.command
        else:
            # lsprotocol's client-side parser reads any code action that carries a command as
            # a bare Command, with the whole command object stringified into `command`.
            inner = ast.literal_eval(item.command)
            out[item.title] = types.Command(
                title=inner["title"], command=inner["command"], arguments=inner["arguments"]
            )
    return out


async def run(client: LanguageClient, command: types.Command) -> Any:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command.command, arguments=command.arguments)
    )


@pytest.mark.asyncio
async def test_add_a_story_file_then_update_it(
    client: LanguageClient, tmp_path: Path, bank: Any
) -> None:
    edits: list[types.ApplyWorkspaceEditParams] = []

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        edits.append(params)
        return types.ApplyWorkspaceEditResult(applied=True)

    uri = await open_file(client, tmp_path / "cache.md", STORY)
    offered = await actions(client, uri)
    assert set(offered) == {
        "Review with the model (storycoach)",
        "Add this file to the bank",
        "Show coverage for dissented-from-decision",
    }
    story_id = await run(client, offered["Add this file to the bank"])
    assert bank.story(story_id).title == "Pushed back on the cache rewrite"
    assert bank.story(story_id).questions == ["dissented-from-decision"]
    assert any(f"added story #{story_id}" in m.message for m in client.messages)
    # The server writes the new id into the front matter, so the file is now that story.
    [edit] = edits
    [change] = edit.edit.document_changes
    [text_edit] = change.edits
    assert change.text_document.uri == uri
    assert (text_edit.range.start.line, text_edit.range.start.character) == (0, 3)
    assert text_edit.new_text == f"\nid: {story_id}"

    # With `id:` in the front matter, the file is that story: a hint tells its status.
    with_id = STORY.replace("---\ntitle:", f"---\nid: {story_id}\ntitle:", 1)
    uri = await open_file(client, tmp_path / "stored.md", with_id)
    hint = by_rule(client.diagnostics[uri])["story-status"]
    assert hint.severity == types.DiagnosticSeverity.Hint
    assert hint.range.start.line == 1
    assert f"story #{story_id} in the bank: never reviewed" in hint.message
    offered = await actions(client, uri)
    changed = with_id.replace("two weeks", "three weeks")
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=changed)],
        )
    )
    after = by_rule(await published(client, uri))
    assert "differs from the bank's copy" in after["story-status"].message
    offered = await actions(client, uri)
    assert await run(client, offered[f"Update story {story_id} in the bank"]) == story_id
    assert "three weeks" in bank.story(story_id).result


@pytest.mark.asyncio
async def test_a_stored_story_shows_its_latest_verdict_and_staleness(
    client: LanguageClient, tmp_path: Path, bank: Any, invoke: Any
) -> None:
    story = add(bank, "Cache rewrite")
    assert invoke("review", "--story", str(story.id), "--offline").exit_code in (0, 1)
    text = f"---\nid: {story.id}\n---\n## Situation\nIn March 2024 I asked Priya.\n"
    uri = await open_file(client, tmp_path / "s.md", text)
    hint = by_rule(client.diagnostics[uri])["story-status"].message
    assert "last review" in hint and "up to date" in hint
    bank.update_story(story.id, story.model_copy(update={"result": "p99 fell to 250 ms."}))
    uri = await open_file(client, tmp_path / "s2.md", text)
    assert (
        "stale: the story changed since" in by_rule(client.diagnostics[uri])["story-status"].message
    )
    missing = await open_file(client, tmp_path / "s3.md", "---\nid: 999\n---\nText.\n")
    assert (
        "no story 999 in the bank" in by_rule(client.diagnostics[missing])["story-status"].message
    )


@pytest.mark.asyncio
async def test_show_coverage_for_the_question(client: LanguageClient, tmp_path: Path) -> None:
    uri = await open_file(client, tmp_path / "cache.md", STORY)
    result = await run(
        client, (await actions(client, uri))["Show coverage for dissented-from-decision"]
    )
    assert result["id"] == "dissented-from-decision"
    assert result["status"] == "gap"
    assert any("dissented-from-decision: gap" in m.message for m in client.messages)


@pytest.mark.asyncio
async def test_review_with_model_without_a_model_says_how_to_set_one(
    client: LanguageClient, tmp_path: Path
) -> None:
    uri = await open_file(client, tmp_path / "cache.md", STORY)
    assert (
        await run(client, (await actions(client, uri))["Review with the model (storycoach)"])
        is None
    )
    assert any("OPENAI_API_KEY" in m.message for m in client.messages)


# -- robustness ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_server_keeps_serving_after_a_handler_fails(
    client: LanguageClient, tmp_path: Path
) -> None:
    uri = await open_file(client, tmp_path / "draft.md", DRAFT)
    # Completion in a file that was never opened and does not exist: reading it raises.
    ghost = (tmp_path / "ghost.md").as_uri()
    failed = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=ghost),
            position=types.Position(line=0, character=0),
        )
    )
    assert failed is None
    logged = [m.message for m in client.log_messages if "completion failed" in m.message]
    assert logged and "FileNotFoundError" in logged[0]
    # ... and the server goes on: hover, completion and diagnostics still work.
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=position_of(DRAFT, "Last year"),
        )
    )
    assert hover is not None and "missing-dates" in hover.contents.value
    again = await open_file(client, tmp_path / "other.md", UNICODE_DRAFT)
    assert "missing-dates" in by_rule(client.diagnostics[again])


# -- the model ----------------------------------------------------------------------------------


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with FakeOpenAI(score=2, verdict="fail") as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("STORYCOACH_MAX_RETRIES", "0")
        yield server


@pytest.mark.asyncio
async def test_review_with_the_model_publishes_its_findings_and_uses_the_cache(
    fake_model: Any, client: LanguageClient, tmp_path: Path, bank: Any
) -> None:
    # `fake_model` comes first: the server process starts with the environment it sets.
    uri = await open_file(client, tmp_path / "cache.md", STORY)
    assert not any(d.source == "storycoach (model)" for d in client.diagnostics[uri])
    review = (await actions(client, uri))["Review with the model (storycoach)"]
    result = await run(client, review)
    assert result["verdict"] == "fail"
    model = [d for d in client.diagnostics[uri] if d.source == "storycoach (model)"]
    assert model and any(d.code == "keeper-test" for d in model)
    assert len(fake_model.requests) == 1
    assert bank.reviews(limit=1)[0]["llm_status"] == "ok"
    # The same text again: answered from the cache, no second request.
    await run(client, review)
    assert len(fake_model.requests) == 1
    assert any("cached" in m.message for m in client.messages)


@pytest.fixture
def dead_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # discard port: refused
    monkeypatch.setenv("STORYCOACH_MAX_RETRIES", "0")
    monkeypatch.setenv("STORYCOACH_TIMEOUT", "5")


@pytest.mark.asyncio
async def test_a_model_failure_is_a_message_not_a_dead_server(
    dead_model: None, client: LanguageClient, tmp_path: Path
) -> None:
    uri = await open_file(client, tmp_path / "cache.md", STORY)
    assert (
        await run(client, (await actions(client, uri))["Review with the model (storycoach)"])
        is None
    )
    errors = [m for m in client.messages if m.type == types.MessageType.Error]
    assert errors and "the model failed" in errors[0].message
    again = await open_file(client, tmp_path / "draft.md", DRAFT)
    assert "missing-dates" in by_rule(client.diagnostics[again])


# -- diagnostics equal `review --offline --json` ---------------------------------------------

#: The corpora's question names -> the bank's question ids.
CORPUS_QUESTIONS = {
    "dissent-from-decision": "dissented-from-decision",
    "received-critical-feedback": "received-critical-feedback",
    "navigated-ambiguity": "navigated-significant-ambiguity",
    "influenced-product-decision": "influenced-product-decision",
    "reverse-system-design": "reverse-system-design",
    "partner-deploy-broke-service": "partner-deploy-broke-service",
}
#: Put before some paragraphs so columns must be converted: accents, CJK and emoji.
UNICODE_PREFIX = "Zoë 🚀 東京チーム — "


def corpus_drafts(folder: Path) -> dict[Path, str]:
    """Every corpus draft as a file, with its question (and for some, a level) in front
    matter, and every third draft's paragraphs prefixed with non-ASCII text."""
    files: dict[Path, str] = {}
    folder.mkdir()
    for corpus in sorted((ROOT / "tests" / "corpus").glob("*.toml")):
        drafts = tomllib.loads(corpus.read_text(encoding="utf-8"))["draft"]
        for index, draft in enumerate(drafts):
            text = draft["text"].lstrip("\n")
            if index % 3 == 1:
                text = "\n\n".join(UNICODE_PREFIX + part for part in text.split("\n\n"))
            front = []
            if draft.get("question"):
                front.append(f"question: {CORPUS_QUESTIONS[draft['question']]}")
            if index % 4 == 2:
                front.append("level: E6")
            if front:
                text = "---\n" + "\n".join(front) + "\n---\n" + text
            path = folder / f"{corpus.stem}-{draft['id']}.md"
            path.write_text(text, encoding="utf-8")
            files[path] = text
    return files


def as_finding(text: str, d: types.Diagnostic) -> tuple[Any, ...]:
    """A diagnostic read back as a finding: 1-based line, code-point column, the quote."""
    start = utf16_offset(text, d.range.start)
    line_start = text.rfind("\n", 0, start) + 1
    severity = {1: "error", 2: "warning", 3: "info"}[d.severity]
    return (d.code, severity, d.message, d.range.start.line + 1, start - line_start + 1,
            covered(text, d.range))  # fmt: skip


def expected_finding(text: str, f: dict[str, Any]) -> tuple[Any, ...]:
    """A finding of `review --json` as the diagnostic must show it: its quote, or (no quote)
    the rest of its line."""
    lines = text.split("\n")
    quote = f["quote"]
    if quote is None:
        quote = lines[f["line"] - 1][f["column"] - 1 :].rstrip("\r")
    return (f["rule"], f["severity"], f["message"], f["line"], f["column"], quote)


@pytest.mark.asyncio
async def test_diagnostics_equal_review_offline_json_on_the_corpora(
    client: LanguageClient, tmp_path: Path, invoke: Any
) -> None:
    files = corpus_drafts(tmp_path / "corpus")
    result = invoke("review", "--offline", "--json", *map(str, files))
    assert result.exit_code in (0, 1), result.stderr
    reviews = {r["path"]: r for r in json.loads(result.stdout)}
    assert len(reviews) == len(files) >= 200
    unicode_checked = 0
    for path, text in files.items():
        uri = await open_file(client, path, text)
        got = [as_finding(text, d) for d in client.diagnostics[uri]]
        want = [expected_finding(text, f) for f in reviews[str(path)]["findings"]]
        assert sorted(got) == sorted(want), path.name
        unicode_checked += UNICODE_PREFIX in text and bool(want)
    assert unicode_checked > 50
