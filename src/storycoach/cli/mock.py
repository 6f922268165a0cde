"""`storycoach mock`: the interviewer's follow-up round, its debrief, and its replay.

A thin command over `storycoach.mock`: it picks the question (yours, or the weakest-covered one
as `practice` picks it), reads answers from the terminal, `$EDITOR` or `--answers` files, and
renders the round; the round logic, the storage and the model requests live in the core.

    app.command("mock")(mock.mock)
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from storycoach.cli.common import (
    JsonOption,
    console,
    emit_json,
    err_console,
    escape,
    fail,
    launch_editor,
    open_bank,
)
from storycoach.cli.params import level_option, offline_option, redact_option, story_option

if TYPE_CHECKING:
    from rich.console import Console

    from storycoach.bank import Bank
    from storycoach.mock import Ask, MockSession, MockTurn, Reader

_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_VERDICT_STYLE = {"pass": "bold green", "fail": "bold red"}


def mock(
    args: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="QUESTION | show ID",
            help="The question id to be asked (default: your weakest-covered question), "
            "or `show ID` to replay a stored round.",
            show_default=False,
        ),
    ] = None,
    story: Annotated[int | None, story_option("Tell this story from your bank.")] = None,
    level: Annotated[str | None, level_option("Level band to answer at.", "--level", "-l")] = None,
    rounds: Annotated[
        int, typer.Option("--rounds", "-n", min=0, max=20, help="Follow-ups at most.")
    ] = 3,
    offline: Annotated[
        bool, offline_option("Rubric templates only; never call the model.")
    ] = False,
    time_box: Annotated[
        float | None,
        typer.Option(
            "--time",
            min=0.1,
            help="Time box in minutes: after each answer show the writing time and how long "
            "it takes to say aloud, and flag an answer over the box.",
        ),
    ] = None,
    editor: Annotated[bool, typer.Option("--editor", help="Write each answer in $EDITOR.")] = False,
    answers: Annotated[
        list[Path] | None,
        typer.Option(
            "--answers",
            help="Answer files, in order: the first answers the question, the next the "
            "follow-ups (no terminal needed). Repeat the option or list the files after it.",
            dir_okay=False,
        ),
    ] = None,
    redact: Annotated[bool, redact_option()] = False,
    draft: Annotated[
        bool, typer.Option("--draft", help="With `show ID`: print only the improved draft.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """A mock round: the question, your answer, the interviewer's follow-ups, then a debrief.

    After each answer the rubric engine reviews everything you have said so far, and the next
    follow-up targets the most serious gap (a name, a date, your own decision, the result),
    quoting what you said. The round ends when nothing serious is open or the rounds run out.
    The debrief shows which follow-up closed each gap, the Keeper-Test verdict for your first
    answer and for the whole transcript, and an improved draft built from your own answers.

    In a terminal, end an answer with two empty lines or Ctrl-D. Every round is stored: see
    `storycoach history --mock`, `storycoach mock show ID`, `storycoach story add --from-mock ID`.

    Exit codes: 0 pass, 1 fail, 2 bad input, 3 the model failed (the offline round stands).
    """
    words = list(args or [])
    if words[:1] == ["show"]:
        if len(words) != 2 or not words[1].isdigit():
            raise fail("usage: storycoach mock show ID")
        show(int(words[1]), as_json=as_json, draft_only=draft)
        return
    if answers is not None:
        # `--answers a.md b.md c.md`: the files after the first are positional to click.
        answers += [Path(w) for w in words if Path(w).is_file()]
        words = [w for w in words if not Path(w).is_file()]
    if len(words) > 1:
        raise fail(f"one question at a time (got {len(words)}: {' '.join(words)})")
    if draft:
        raise fail("--draft goes with `mock show ID`")
    if editor and answers:
        raise fail("--editor and --answers cannot be used together")
    session = _run(
        words[0] if words else None,
        story_id=story,
        level=level,
        rounds=rounds,
        offline=offline,
        time_box=time_box,
        editor=editor,
        answers=answers,
        redact=redact,
        as_json=as_json,
    )
    raise typer.Exit(session.exit_code)


def _run(
    question_id: str | None,
    *,
    story_id: int | None,
    level: str | None,
    rounds: int,
    offline: bool,
    time_box: float | None,
    editor: bool,
    answers: list[Path] | None,
    redact: bool,
    as_json: bool,
) -> MockSession:
    from storycoach.mock import Round, choose_question, follow_up_model, run_round, speaking_rate
    from storycoach.models import normalize_level
    from storycoach.rubric import load_criteria
    from storycoach.storyfile import read_text

    bank = open_bank()
    level = normalize_level(level)
    texts = [read_text(path) for path in answers or []]  # every file read before the round
    story = bank.story(story_id) if story_id is not None else None
    question = choose_question(bank, question_id, story=story, level=level)
    criteria = load_criteria()
    rnd = Round(
        question,
        level,
        criteria,
        rounds=rounds,
        story_when=story.when_date if story else None,
    )
    out = err_console() if as_json else console()
    model, hint = follow_up_model(offline=offline)
    wpm = speaking_rate(rnd.criteria or criteria)

    if answers is not None:
        read = _from_files(texts)
    elif editor:
        read = _from_editor
    else:
        read = _from_terminal(out)

    def on_ask(ask: Ask, index: int) -> None:
        if index == 0:
            out.print(f"[dim]Mock round: {escape(question.id)}"
                      f"{' at ' + level if level else ''}[/dim]")  # fmt: skip
            if story is not None:
                out.print(f"[dim]Tell your story #{story.id}: {escape(story.title)}[/dim]")
        out.print()
        out.print(f"[bold cyan]Interviewer:[/bold cyan] {escape(ask.text)}", soft_wrap=False)
        if answers is None and not editor:
            out.print("[dim](End your answer with two empty lines, or Ctrl-D.)[/dim]")

    def on_turn(turn: MockTurn) -> None:
        if answers is not None:
            out.print(f"[bold]You:[/bold] {escape(turn.answer)}")
        if time_box is not None:
            out.print(_timing(turn, time_box, wpm))

    session = run_round(
        bank,
        rnd,
        read,
        story_id=story_id,
        model=model,
        redact=redact,
        names=[p.name for p in story.people] if story else [],
        on_ask=on_ask,
        on_turn=on_turn,
    )
    if as_json:
        emit_json(session.contract())
    else:
        render(session, console())
    if session.llm is not None and session.llm.error:
        typer.echo(
            f"storycoach: model failed: {session.llm.error} (the offline round still stands)",
            err=True,
        )
    if hint and not as_json:
        typer.echo(hint, err=True)
    return session


# -- reading answers ---------------------------------------------------------------------------


def _from_files(texts: list[str]) -> Reader:
    def read(ask: Ask, index: int) -> tuple[str, float | None] | None:
        return (texts[index], None) if index < len(texts) else None

    return read


def _from_terminal(out: Console) -> Reader:
    """Lines from stdin until two empty lines in a row or end of input (Ctrl-D)."""

    def read(ask: Ask, index: int) -> tuple[str, float | None] | None:
        started = time.monotonic()
        lines: list[str] = []
        blank = 0
        while True:
            line = sys.stdin.readline()
            if not line:  # end of input
                break
            if not line.strip():
                blank += 1
                if blank >= 2 and any(x.strip() for x in lines):
                    break
                lines.append("")
                continue
            blank = 0
            lines.append(line.rstrip("\n"))
        text = "\n".join(lines).strip()
        if not text:
            return None
        return text, time.monotonic() - started

    return read


def _from_editor(ask: Ask, index: int) -> tuple[str, float | None] | None:
    started = time.monotonic()
    header = f"<!--\n{ask.text}\n\nWrite your answer below. This comment is removed.\n-->\n\n"
    edited = launch_editor(header)
    if edited is None:
        return None
    text = _COMMENT.sub("", edited, count=1).strip()
    return (text, time.monotonic() - started) if text else None


def _timing(turn: MockTurn, box: float, wpm: float | None) -> str:
    from storycoach.mock import spoken_minutes

    parts = []
    if turn.seconds is not None:
        minutes, seconds = divmod(round(turn.seconds), 60)
        parts.append(f"written in {minutes}:{seconds:02d}")
    spoken = spoken_minutes(turn.answer, wpm)
    if spoken is not None:
        said = f"{round(spoken * 60)} s" if spoken < 1 else f"{spoken:.1f} min"
        parts.append(f"about {said} aloud")
    line = f"[dim]{escape('; '.join(parts))}[/dim]"
    if spoken is not None and spoken > box:
        line += f" [bold yellow]over your {box:g}-minute box[/bold yellow]"
    return line


# -- rendering ---------------------------------------------------------------------------------


def render(session: MockSession, out: Console) -> None:
    """The debrief: per criterion, the two verdicts, the improved draft and its verdict."""
    from rich.markdown import Markdown
    from rich.table import Table

    out.print()
    out.rule("Debrief")
    if session.debrief:
        table = Table("criterion", "first answer", "now", box=None, padding=(0, 2, 0, 0))
        for o in session.debrief:
            first = "open" if o.opened_at == 0 else f"raised by answer {o.opened_at + 1}"
            if o.closed_at is None:
                style = "red" if o.severity == "error" else "yellow"
                now = f"[{style}]still open ({o.severity})[/{style}]"
            else:
                now = f"[green]closed by follow-up {o.closed_at}[/green]"
                if o.closed_by:
                    now += f": “{escape(o.closed_by)}”"
            table.add_row(o.rule, first, now)
        out.print(table)
    else:
        out.print("Nothing was open at any point of the round.")
    out.print()
    first = session.first_verdict or "fail"
    whole = session.verdict or "fail"
    out.print(
        f"Keeper Test, first answer alone: [{_VERDICT_STYLE[first]}]{first.upper()}[/]; "
        f"whole transcript: [{_VERDICT_STYLE[whole]}]{whole.upper()}[/]"
    )
    llm = session.llm
    origin = "model rewrite" if llm and llm.rewrite == "accepted" else "your answers, by STAR part"
    out.print()
    out.rule(f"Improved draft ({origin})")
    out.print(Markdown(session.improved_draft))
    if llm and llm.rewrite == "rejected":
        out.print(
            f"[yellow]The model's rewrite was rejected ({escape(llm.rewrite_note)}); "
            "this is the offline draft.[/yellow]"
        )
    if session.draft_verdict:
        out.print()
        errors = [f for f in session.draft_findings if f.severity == "error"]
        left = ", ".join(dict.fromkeys(f.rule for f in errors))
        out.print(
            f"Improved draft: [{_VERDICT_STYLE[session.draft_verdict]}]"
            f"{session.draft_verdict.upper()}[/]" + (f" (still open: {left})" if left else "")
        )
    if llm:
        usage = [f"model {llm.model}", f"{llm.calls} call{'s' if llm.calls != 1 else ''}"]
        if llm.tokens_in:
            usage.append(f"{llm.tokens_in}+{llm.tokens_out} tok")
        if llm.cost_usd:
            usage.append(f"${llm.cost_usd:.4f}")
        if llm.fallbacks:
            usage.append(f"{llm.fallbacks} offline follow-up(s)")
        out.print(f"[dim]{escape(', '.join(usage))}[/dim]")
    out.print()
    out.print(
        f"Saved mock session #{session.id}. Replay: storycoach mock show {session.id}; "
        f"keep the draft: storycoach story add --from-mock {session.id}"
    )


def show(session_id: int, *, as_json: bool, draft_only: bool) -> None:
    """Replay a stored round: the transcript, then the debrief."""
    bank = open_bank()
    session = bank.mock_session(session_id)
    if as_json:
        emit_json(session.contract())
        return
    if draft_only:
        sys.stdout.write(session.improved_draft.rstrip("\n") + "\n")
        return
    out = console()
    question = _question_text(bank, session.question)
    level = f" at {session.level}" if session.level else ""
    out.print(
        f"[dim]Mock session #{session.id}: {escape(session.question)}{level}, "
        f"{escape((session.created or '').replace('T', ' ')[:16])}[/dim]"
    )
    for turn in session.turns:
        out.print()
        ask = question if turn.targets is None and turn.source == "question" else turn.ask
        out.print(f"[bold cyan]Interviewer:[/bold cyan] {escape(ask)}")
        out.print(f"[bold]You:[/bold] {escape(turn.answer)}")
    if session.status != "done":
        out.print()
        out.print("[yellow]This round was interrupted before its debrief.[/yellow]")
        return
    render(session, out)


def _question_text(bank: Bank, question_id: str) -> str:
    from storycoach.errors import NotFoundError

    try:
        return bank.question(question_id).text
    except NotFoundError:  # a user question removed since: the stored ask is still there
        return question_id


def history(limit: int, as_json: bool) -> None:
    """`history --mock`: stored rounds, newest first."""
    bank = open_bank()
    sessions = bank.mock_sessions(limit=limit)
    if as_json:
        emit_json(
            [
                {
                    "session": s.id,
                    "created": s.created,
                    "question": s.question,
                    "level": s.level,
                    "story_id": s.story_id,
                    "status": s.status,
                    "follow_ups": max(0, len(s.turns) - 1),
                    "first_verdict": s.first_verdict,
                    "verdict": s.verdict,
                    "draft_verdict": s.draft_verdict,
                    "open": sorted({o.rule for o in s.debrief if o.closed_at is None}),
                    "llm": s.llm.model_dump(mode="json") if s.llm else None,
                }
                for s in sessions
            ]
        )
        return
    if not sessions:
        console().print("No mock rounds yet. Try: storycoach mock")
        return
    from rich.table import Table

    table = Table("id", "when", "question", "level", "asks", "first", "whole", "model", box=None)
    for s in sessions:
        table.add_row(
            str(s.id),
            (s.created or "").replace("T", " ")[:16],
            s.question,
            s.level or "",
            str(max(0, len(s.turns) - 1)),
            _verdict_cell(s.first_verdict),
            _verdict_cell(s.verdict) if s.status == "done" else "[yellow]interrupted[/yellow]",
            _model_cell(s),
        )
    console().print(table)


def _verdict_cell(verdict: str | None) -> str:
    if verdict is None:
        return ""
    return f"[{_VERDICT_STYLE[verdict]}]{verdict}[/]"


def _model_cell(session: MockSession) -> str:
    llm = session.llm
    if llm is None:
        return "[dim]offline[/dim]"
    if llm.error:
        return "[red]model failed[/red]"
    cost = f" ${llm.cost_usd:.4f}" if llm.cost_usd else ""
    return f"{escape(llm.model)} {llm.calls} calls{cost}"
