"""The language server: rubric findings as diagnostics while you type, in any LSP editor.

Only `storycoach lsp` imports this module (pygls and lsprotocol stay out of every other
command). It is wiring: `storycoach.lsp.analysis` decides what to say about a file and
`storycoach.lsp.positions` where, in the client's position encoding.

- Diagnostics are debounced per file: an edit after a quiet spell is checked at once (the
  review takes about a millisecond), a burst of keystrokes once it pauses for `debounceMs`.
- "Review with the model" is a code action, never automatic: it runs the `review` pipeline
  (one structured request, the cache honoured, the review stored) in a worker thread with its
  own bank connection, and publishes the model's findings as `storycoach (model)`.
- Every handler runs inside `_guarded`: an exception is logged to the client
  (`window/logMessage`, with its traceback) and the server answers as if it had nothing to say,
  then keeps serving. A model failure is a `window/showMessage`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from storycoach import __version__
from storycoach.errors import StorycoachError
from storycoach.lsp.analysis import (
    COMPLETED_KEYS,
    SECTION,
    Analysis,
    Note,
    ServerSettings,
    analyze,
    as_story,
    candidates,
    explain,
    front_matter_key,
    in_scope,
)
from storycoach.lsp.positions import LineIndex

if TYPE_CHECKING:
    from storycoach.bank import Bank
    from storycoach.models import Finding
    from storycoach.rubric.model import Criterion

SOURCE = "storycoach"
MODEL_SOURCE = "storycoach (model)"
REVIEW_WITH_MODEL = "storycoach.reviewWithModel"
SAVE_STORY = "storycoach.saveStory"
SHOW_COVERAGE = "storycoach.showCoverage"

_SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "info": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}
_COMPLETION_KIND = {
    "question": types.CompletionItemKind.Reference,
    "marker": types.CompletionItemKind.EnumMember,
    "level": types.CompletionItemKind.EnumMember,
    "person": types.CompletionItemKind.Text,
    "key": types.CompletionItemKind.Property,
}

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Spot:
    """One published diagnostic and the text offsets it covers (for hover)."""

    start: int
    end: int
    rule: str
    message: str


@dataclass
class FileState:
    """What the server last published for one open file."""

    analysis: Analysis = field(default_factory=Analysis)
    spots: list[Spot] = field(default_factory=list)
    #: The model's findings from the last "Review with the model", and the text they judged.
    model: list[Finding] = field(default_factory=list)
    model_text: str = ""
    last_change: float = float("-inf")
    pending: asyncio.TimerHandle | None = None


class StorycoachServer(LanguageServer):
    """pygls server with the bank, the settings and per-file state of one editor session."""

    def __init__(self, bank_path: Path) -> None:
        # Full sync: a draft is a few KB, and replacing the text is cheaper than pygls applying
        # an incremental edit, which walks the edited line a character at a time in Python.
        super().__init__(
            "storycoach", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Full
        )
        self.bank_path = bank_path
        self.settings = ServerSettings()
        self.files: dict[str, FileState] = {}
        self._bank: Bank | None = None
        self._criteria: dict[str, Criterion] | None = None
        self._docs: dict[str, str | None] = {}  # rule id -> its rubric file's URI

    # -- shared resources -----------------------------------------------------------------------

    @property
    def bank(self) -> Bank:
        """The story bank, opened on first use (raises `StorycoachError` if it cannot be)."""
        if self._bank is None:
            from storycoach.bank import Bank

            self._bank = Bank.open(self.bank_path)
        return self._bank

    @property
    def criteria(self) -> dict[str, Criterion]:
        if self._criteria is None:
            from storycoach.rubric import load_criteria

            self._criteria = {c.id: c for c in load_criteria()}
        return self._criteria

    @property
    def encoding(self) -> str:
        return str(self.workspace.position_encoding or "utf-16")

    def roots(self) -> list[Path]:
        roots = [Path(to_fs_path(f.uri) or "") for f in self.workspace.folders.values()]
        if self.workspace.root_path:
            roots.append(Path(self.workspace.root_path))
        return roots or [Path.cwd()]

    # -- messages -------------------------------------------------------------------------------

    def log(self, message: str, kind: types.MessageType = types.MessageType.Log) -> None:
        self.window_log_message(types.LogMessageParams(type=kind, message=message))

    def tell(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def report_server_error(self, error: Exception, source: Any) -> None:
        """pygls's own errors (a bad message, say): logged, never a pop-up per keystroke."""
        self.log(f"storycoach: {type(error).__name__}: {error}", types.MessageType.Error)

    # -- settings -------------------------------------------------------------------------------

    def configure(self, options: Any) -> None:
        """Apply settings from the client; bad values are reported and the old ones kept."""
        if not isinstance(options, dict):
            return
        section = options.get(SECTION, options)
        if not isinstance(section, dict):
            return
        from pydantic import ValidationError

        from storycoach.errors import first_error

        try:
            merged = {**self.settings.model_dump(by_alias=True), **section}
            self.settings = ServerSettings.model_validate(merged)
        except ValidationError as error:
            self.tell(
                f"storycoach: ignoring settings: {first_error(error, 'settings')}",
                types.MessageType.Warning,
            )

    async def pull_configuration(self) -> None:
        """Ask the client for the `storycoach` section, when it can answer."""
        workspace = self.client_capabilities.workspace
        if workspace is None or not workspace.configuration:
            return
        answer = await self.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
        )
        if answer:
            self.configure(answer[0])

    # -- diagnostics ----------------------------------------------------------------------------

    def state(self, uri: str) -> FileState:
        return self.files.setdefault(uri, FileState())

    def path_of(self, uri: str) -> Path | None:
        path = to_fs_path(uri)
        return Path(path) if path else None

    def label(self, uri: str) -> str:
        path = self.path_of(uri)
        return str(path) if path else uri

    def changed(self, uri: str) -> None:
        """Debounce: check at once after a quiet spell, else once the typing pauses."""
        state = self.state(uri)
        loop = asyncio.get_running_loop()
        now = loop.time()
        delay = self.settings.debounce_ms / 1000
        quiet = now - state.last_change >= delay and state.pending is None
        state.last_change = now
        if state.pending is not None:
            state.pending.cancel()
            state.pending = None
        if quiet:
            self.refresh(uri)
        else:
            state.pending = loop.call_later(delay, self._refresh_pending, uri)

    def _refresh_pending(self, uri: str) -> None:
        state = self.files.get(uri)
        if state is None:
            return
        state.pending = None
        _guarded(self, "diagnostics", None, self.refresh, uri)

    def refresh(self, uri: str) -> None:
        """Review the file's current text and publish its diagnostics."""
        document = self.workspace.get_text_document(uri)
        state = self.state(uri)
        if not in_scope(self.path_of(uri), self.settings, self.roots()):
            state.analysis, state.spots = Analysis(), []
            self._publish(uri, document.version, [])
            return
        text = document.source
        try:
            bank = self.bank
        except StorycoachError as error:
            state.analysis = Analysis(notes=[Note(str(error), 1, "error", "bank")])
        else:
            state.analysis = analyze(
                bank, text, self.label(uri), self.settings, list(self.criteria.values())
            )
        diagnostics = self.diagnostics(uri, text)
        self._publish(uri, document.version, diagnostics)

    def _publish(self, uri: str, version: int | None, diagnostics: list[types.Diagnostic]) -> None:
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=version)
        )

    def diagnostics(self, uri: str, text: str) -> list[types.Diagnostic]:
        """The file's findings (and the model's, where their quotes still stand) as LSP."""
        state = self.state(uri)
        index = LineIndex(text)
        result = state.analysis.result
        findings = list(result.findings) if result else []
        if state.model and state.model_text != text:
            # The text changed since the model judged it: keep a finding while its quote is
            # still there, drop the rest (a verdict on a text that no longer exists misleads).
            state.model = [f for f in state.model if f.quote and f.quote in text]
            state.model_text = text
        findings += state.model
        out: list[types.Diagnostic] = []
        spots: list[Spot] = []
        for finding in findings:
            start, end = index.locate(finding.line, finding.column, finding.quote)
            if start < 0:
                start, end = _first_line(index, text)
            source = MODEL_SOURCE if finding.source == "llm" else SOURCE
            out.append(self._diagnostic(index, start, end, finding.severity, finding.rule,
                                        finding.message, source))  # fmt: skip
            spots.append(Spot(start, end, finding.rule, finding.message))
        for note in state.analysis.notes:
            line = index.line_span(note.line - 1, self.encoding)
            out.append(
                types.Diagnostic(
                    range=_range(line.start, line.end),
                    message=note.message,
                    severity=_SEVERITY[note.severity],
                    code=note.code,
                    source=SOURCE,
                )
            )
        state.spots = spots
        return out

    def _diagnostic(
        self, index: LineIndex, start: int, end: int, severity: str, rule: str, message: str,
        source: str,
    ) -> types.Diagnostic:  # fmt: skip
        span = index.span(start, end, self.encoding)
        link = self.rule_docs(rule)
        return types.Diagnostic(
            range=_range(span.start, span.end),
            message=message,
            severity=_SEVERITY[severity],
            code=rule,
            code_description=types.CodeDescription(href=link) if link else None,
            source=source,
        )

    def rule_docs(self, rule: str) -> str | None:
        """The rule's documentation: the configured URL, else its own rubric file."""
        if self.settings.rule_docs:
            return self.settings.rule_docs.replace("{rule}", rule)
        if rule not in self._docs:
            criterion = self.criteria.get(rule)
            path = criterion.path if criterion else None
            self._docs[rule] = path.resolve().as_uri() if path else None
        return self._docs[rule]

    # -- hover, completion, code actions ----------------------------------------------------------

    def hover(self, params: types.HoverParams) -> types.Hover | None:
        uri = params.text_document.uri
        state = self.files.get(uri)
        if state is None:
            return None
        text = self.workspace.get_text_document(uri).source
        offset = LineIndex(text).offset_at(
            params.position.line, params.position.character, self.encoding
        )
        parts = []
        for spot in state.spots:
            if spot.start <= offset <= spot.end:
                criterion = self.criteria.get(spot.rule)
                body = explain(criterion) if criterion else f"`{spot.rule}`"
                parts.append(f"{spot.message}\n\n{body}")
        if not parts:
            return None
        return types.Hover(
            contents=types.MarkupContent(
                kind=types.MarkupKind.Markdown, value="\n\n---\n\n".join(parts)
            )
        )

    def complete(self, params: types.CompletionParams) -> types.CompletionList | None:
        uri = params.text_document.uri
        lines = self.workspace.get_text_document(uri).source.split("\n")
        key = front_matter_key(lines, params.position.line)
        if key is None:
            return None
        found = candidates(self.bank, key) if key in COMPLETED_KEYS else []
        items = [
            types.CompletionItem(
                label=c.label,
                detail=c.detail or None,
                kind=_COMPLETION_KIND[c.kind],
                insert_text=_quoted(c.label) if c.kind == "person" else c.label,
            )
            for c in found
        ]
        return types.CompletionList(is_incomplete=False, items=items)

    def code_actions(self, params: types.CodeActionParams) -> list[types.CodeAction]:
        uri = params.text_document.uri
        state = self.files.get(uri)
        if state is None or state.analysis == Analysis():
            return []
        actions = [
            types.CodeAction(
                title="Review with the model (storycoach)",
                kind=types.CodeActionKind.Source,
                command=types.Command(
                    title="Review with the model", command=REVIEW_WITH_MODEL, arguments=[uri]
                ),
            )
        ]
        analysis = state.analysis
        text = self.workspace.get_text_document(uri).source
        if as_story(text, self.label(uri)) is not None:
            title = (
                f"Update story {analysis.story_id} in the bank"
                if analysis.story_id
                else "Add this file to the bank"
            )
            actions.append(
                types.CodeAction(
                    title=title,
                    kind=types.CodeActionKind.Source,
                    command=types.Command(title=title, command=SAVE_STORY, arguments=[uri]),
                )
            )
        question = analysis.result.question if analysis.result else None
        if question:
            title = f"Show coverage for {question}"
            actions.append(
                types.CodeAction(
                    title=title,
                    kind=types.CodeActionKind.Source,
                    command=types.Command(title=title, command=SHOW_COVERAGE, arguments=[question]),
                )
            )
        only = params.context.only
        if only:
            actions = [a for a in actions if any(str(a.kind).startswith(k) for k in only)]
        return actions

    # -- commands -------------------------------------------------------------------------------

    def save_story(self, uri: str) -> int | None:
        """Add the file to the bank (and write its new `id:` into the file), or update it."""
        from storycoach.storyfile import story_from_text

        document = self.workspace.get_text_document(uri)
        text = document.source
        try:
            story = story_from_text(text, self.label(uri))
            existing = self.files.get(uri, FileState()).analysis.story_id
            if existing:
                saved = self.bank.update_story(existing, story)
                self.tell(f"storycoach: updated story #{saved.id} ({saved.title})")
            else:
                saved = self.bank.add_story(story)
                self.tell(f"storycoach: added story #{saved.id} ({saved.title})")
                self._write_id(uri, text, document.version, saved.id)
        except StorycoachError as error:
            self.tell(f"storycoach: {error}", types.MessageType.Error)
            return None
        self.refresh(uri)
        return saved.id

    def _write_id(self, uri: str, text: str, version: int | None, story_id: int | None) -> None:
        """Record the new story's id in the file's front matter, so it becomes "Update"."""
        lines = text.split("\n")
        index = LineIndex(text)
        if lines and lines[0].strip() == "---":
            at = next(
                (i for i, line in enumerate(lines[1:], 1) if line.startswith("id:")),
                None,
            )
            if at is not None:
                span = index.line_span(at, self.encoding)
                edit = types.TextEdit(
                    range=_range(span.start, span.end), new_text=f"id: {story_id}"
                )
            else:
                span = index.line_span(0, self.encoding)
                edit = types.TextEdit(
                    range=_range(span.end, span.end), new_text=f"\nid: {story_id}"
                )
        else:
            edit = types.TextEdit(
                range=_range((0, 0), (0, 0)), new_text=f"---\nid: {story_id}\n---\n"
            )
        self.workspace_apply_edit(
            types.ApplyWorkspaceEditParams(
                label="storycoach: story id",
                edit=types.WorkspaceEdit(
                    document_changes=[
                        types.TextDocumentEdit(
                            text_document=types.OptionalVersionedTextDocumentIdentifier(
                                uri=uri, version=version
                            ),
                            edits=[edit],
                        )
                    ]
                ),
            )
        )

    def show_coverage(self, question_id: str) -> dict[str, Any] | None:
        from storycoach.coverage import load_coverage

        self.bank.question(question_id)  # an unknown id: one readable error
        report = load_coverage(self.bank, suggest=False)
        row = next((q for q in report.questions if q.id == question_id), None)
        if row is None:
            self.tell(f"storycoach: {question_id} is not in the coverage map")
            return None
        stories = ", ".join(f"#{s}" for s in row.stories) or "none"
        reasons = f" ({'; '.join(row.reasons)})" if row.reasons else ""
        self.tell(
            f"storycoach: {question_id}: {row.status}{reasons}; stories: {stories}. "
            f"{row.question.text}"
        )
        data: dict[str, Any] = row.to_json()
        return data

    async def review_with_model(self, uri: str) -> dict[str, Any] | None:
        """The `review` command's model pass for this file, off the event loop."""
        from storycoach.settings import load_settings

        document = self.workspace.get_text_document(uri)
        text = document.source
        settings = load_settings()
        if not settings.enabled:
            self.tell(f"storycoach: {settings.hint}", types.MessageType.Warning)
            return None
        label = self.label(uri)
        self.log(f"storycoach: asking {settings.model} to review {label}")
        result, model_error = await asyncio.get_running_loop().run_in_executor(
            None, _review_with_model, self.bank_path, text, label, self.settings
        )
        if model_error:
            self.tell(
                f"storycoach: the model failed: {model_error} (the offline review still stands)",
                types.MessageType.Error,
            )
            return None
        state = self.state(uri)
        state.model = [f for f in result.findings if f.source == "llm"]
        state.model_text = text
        if self.workspace.get_text_document(uri).source == text:
            self.refresh(uri)
        llm = result.llm
        if llm is not None:
            cached = " (cached: no request sent)" if llm.cached else ""
            self.tell(
                f"storycoach: model verdict {llm.verdict.upper()}: {llm.reason}{cached}",
                types.MessageType.Info,
            )
        data: dict[str, Any] = result.model_dump(mode="json")
        return data


def _review_with_model(
    bank_path: Path, text: str, label: str, settings: ServerSettings
) -> tuple[Any, str | None]:
    """Worker thread: `review_inputs` with a model, on a bank connection of its own."""
    from storycoach.bank import Bank
    from storycoach.lsp.analysis import review_input
    from storycoach.storyfile import split_front_matter

    bank = Bank.open(bank_path)
    try:
        from storycoach.reviewing import review_inputs

        source = review_input(text, label, settings, split_front_matter(text, label).meta)
        batch = review_inputs(bank, [source])
        item = batch.items[0]
        return item.result, item.model_error
    finally:
        bank.close()


def _first_line(index: LineIndex, text: str) -> tuple[int, int]:
    """The first non-blank line of the draft body (after any front matter)."""
    from storycoach.storyfile import split_front_matter

    try:
        offset = split_front_matter(text).line_offset
    except StorycoachError:
        offset = 0
    for line in range(offset, len(index.starts)):
        start, end = index.starts[line], index.line_end(line)
        if text[start:end].strip():
            return start, end
    return 0, index.line_end(0)


def _range(start: tuple[int, int], end: tuple[int, int]) -> types.Range:
    return types.Range(
        start=types.Position(line=start[0], character=start[1]),
        end=types.Position(line=end[0], character=end[1]),
    )


def _quoted(label: str) -> str:
    """A person as a YAML list item: quoted when a colon or brackets would confuse YAML."""
    return f'"{label}"' if any(ch in label for ch in ':[]{}#,"') else label


def _guarded(
    ls: StorycoachServer, what: str, default: R, handler: Callable[..., R], *args: Any
) -> R:
    """Run a handler; on any exception, log it to the client and answer `default`."""
    try:
        return handler(*args)
    except Exception as error:
        _log_failure(ls, what, error)
        return default


def _log_failure(ls: StorycoachServer, what: str, error: BaseException) -> None:
    trace = "".join(traceback.format_exception(error)).rstrip()
    log.error("%s failed: %s", what, error)
    try:
        ls.log(f"storycoach: {what} failed: {error}\n{trace}", types.MessageType.Error)
    except Exception:  # the client is gone: nothing more to tell it
        log.exception("could not log to the client")


def build(bank_path: Path) -> StorycoachServer:
    """The server with its features registered (separate from `serve` for tests)."""
    server = StorycoachServer(bank_path)

    def guard(what: str, default: Any = None) -> Callable[[Callable[P, R]], Callable[P, R]]:
        def wrap(handler: Callable[P, R]) -> Callable[P, R]:
            @functools.wraps(handler)
            def inner(*args: P.args, **kwargs: P.kwargs) -> R:
                call: Callable[[], R] = functools.partial(handler, *args, **kwargs)
                result: R = _guarded(server, what, default, call)
                return result

            return inner

        return wrap

    def guard_async(
        what: str,
    ) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R | None]]]:
        def wrap(handler: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R | None]]:
            @functools.wraps(handler)
            async def inner(*args: P.args, **kwargs: P.kwargs) -> R | None:
                try:
                    return await handler(*args, **kwargs)
                except Exception as error:
                    _log_failure(server, what, error)
                    server.tell(f"storycoach: {what} failed: {error}", types.MessageType.Error)
                    return None

            return inner

        return wrap

    @server.feature(types.INITIALIZE)
    @guard("initialize")
    def initialize(ls: StorycoachServer, params: types.InitializeParams) -> None:
        ls.configure(params.initialization_options)

    @server.feature(types.INITIALIZED)
    @guard_async("initialized")
    async def initialized(ls: StorycoachServer, params: types.InitializedParams) -> None:
        # Load the rubrics and open the bank now, not on the first keystroke.
        _guarded(ls, "loading the rubrics", None, lambda: ls.criteria)
        _guarded(ls, "opening the bank", None, lambda: ls.bank)
        await ls.pull_configuration()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    @guard_async("configuration")
    async def did_change_configuration(
        ls: StorycoachServer, params: types.DidChangeConfigurationParams
    ) -> None:
        if isinstance(params.settings, dict) and SECTION in params.settings:
            ls.configure(params.settings)
        else:
            await ls.pull_configuration()
        for uri in list(ls.files):
            _guarded(ls, "diagnostics", None, ls.refresh, uri)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    @guard("diagnostics")
    def did_open(ls: StorycoachServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.state(params.text_document.uri).last_change = float("-inf")
        ls.refresh(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    @guard("diagnostics")
    def did_change(ls: StorycoachServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.changed(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    @guard("diagnostics")
    def did_save(ls: StorycoachServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.refresh(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    @guard("close")
    def did_close(ls: StorycoachServer, params: types.DidCloseTextDocumentParams) -> None:
        state = ls.files.pop(params.text_document.uri, None)
        if state is not None and state.pending is not None:
            state.pending.cancel()
        ls._publish(params.text_document.uri, None, [])

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    @guard("hover")
    def hover(ls: StorycoachServer, params: types.HoverParams) -> types.Hover | None:
        return ls.hover(params)

    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION,
        types.CompletionOptions(trigger_characters=[":", " ", "[", ",", "-"]),
    )
    @guard("completion")
    def completion(
        ls: StorycoachServer, params: types.CompletionParams
    ) -> types.CompletionList | None:
        return ls.complete(params)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.Source]),
    )
    @guard("code actions", [])
    def code_action(ls: StorycoachServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        return ls.code_actions(params)

    @server.command(REVIEW_WITH_MODEL)
    @guard_async("review with the model")
    async def review_with_model(ls: StorycoachServer, uri: str) -> dict[str, Any] | None:
        return await ls.review_with_model(uri)

    @server.command(SAVE_STORY)
    @guard("save story")
    def save_story(ls: StorycoachServer, uri: str) -> int | None:
        return ls.save_story(uri)

    @server.command(SHOW_COVERAGE)
    @guard("coverage")
    def show_coverage(ls: StorycoachServer, question_id: str) -> dict[str, Any] | None:
        try:
            return ls.show_coverage(question_id)
        except StorycoachError as error:
            ls.tell(f"storycoach: {error}", types.MessageType.Error)
            return None

    return server


def serve(bank_path: Path) -> None:
    """Serve one editor over stdin/stdout until it says exit."""
    build(bank_path).start_io()
