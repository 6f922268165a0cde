"""`storycoach coverage` and `storycoach practice`: which questions your stories answer.

Thin commands over `storycoach.coverage` (the map, suggestions, the weakest question) and the
review pipeline (`practice` stores each attempt as a review with its question id, which is what
`history --question ID` shows). Register them as top-level commands:

    app.command("coverage")(coverage.coverage)
    app.command("practice")(coverage.practice)
"""

from __future__ import annotations

import re
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from storycoach.cli.common import (
    JsonOption,
    console,
    emit_json,
    err_console,
    escape,
    fail,
    interactive,
    launch_editor,
    open_bank,
)
from storycoach.cli.params import (
    level_option,
    marker_option,
    offline_option,
    question_option,
    role_option,
)
from storycoach.cli.words import plural

if TYPE_CHECKING:
    from rich.console import Console

    from storycoach.bank import Bank
    from storycoach.coverage import CoverageReport, QuestionCoverage

_STYLE = {"gap": "bold red", "thin": "yellow", "covered": "green"}

Role = Annotated[str | None, role_option('Only questions for this role, e.g. "Software Engineer".')]
MarkerOpt = Annotated[str | None, marker_option("Only questions probing this culture marker.")]
Today = Annotated[
    str | None,
    typer.Option(
        "--today",
        hidden=True,
        help="Pretend today is this date (YYYY-MM-DD), for reproducible reports.",
    ),
]


def _today(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"--today: expected YYYY-MM-DD, got {value!r}") from None


def coverage(
    role: Role = None,
    marker: MarkerOpt = None,
    level: Annotated[
        str | None,
        typer.Option("--level", "-l", help="Only questions asked at this level band: E3..E7."),
    ] = None,
    accept: Annotated[
        bool,
        typer.Option(
            "--accept",
            help="Link the top suggestion to each gap or thin question (asks first in a terminal).",
        ),
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="With --accept: link without asking.")
    ] = False,
    llm: Annotated[
        bool,
        typer.Option(
            "--llm",
            help="Ask the model which stories answer each gap or thin question, with reasons "
            "(one request for the whole map, cached in the bank). Needs OPENAI_API_KEY or "
            "OPENAI_BASE_URL.",
        ),
    ] = False,
    markdown: Annotated[
        bool,
        typer.Option("--markdown", help="Write a Markdown report to FILE (default: stdout)."),
    ] = False,
    file: Annotated[
        Path | None,
        typer.Argument(
            metavar="FILE",
            help="Where --markdown writes; - or nothing for stdout.",
            dir_okay=False,
        ),
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            metavar="FILE",
            help="Write a self-contained, printable HTML report with a heat map.",
            dir_okay=False,
        ),
    ] = None,
    today: Today = None,
    as_json: JsonOption = False,
) -> None:
    """Map questions to stories: gaps first, thin, covered, with stories to link.

    A question is covered by two or more stories from the last 18 months whose latest review
    did not fail; thin with fewer; a gap with none. Retired stories never count.
    Suggestions rank unlinked stories by how well their words match the question (offline).
    With --llm the model judges the top candidates for each gap and thin question and says why;
    --accept --llm links its top proposal (confidence 3/5 or more) instead.

    Exit codes: 0 ok, 2 bad input or no model configured for --llm, 3 the model failed (the
    offline map is still printed).
    """
    from storycoach.coverage import load_coverage

    to_stdout = markdown and (file is None or str(file) == "-")
    if file is not None and not markdown:
        raise fail(f"{file}: a FILE argument is only for --markdown (use --html FILE for HTML)")
    if as_json and to_stdout:
        raise fail("--json and --markdown both print to standard output; give --markdown a FILE")
    if llm:
        from storycoach.linking import link_settings

        settings = link_settings()
    else:
        settings = None

    bank = open_bank(write=settings is not None)
    when = _today(today)
    report = load_coverage(bank, today=when, role=role, marker=marker, level=level)
    run, model_error = None, None
    if settings is not None:
        from storycoach.linking import ask_model

        run, model_error = ask_model(bank, report, settings)
    linked: list[dict[str, Any]] = []
    if accept and model_error is None:
        linked = _accept(bank, report, yes=yes, quiet=as_json or to_stdout, llm=llm)
        if linked:
            report = load_coverage(bank, today=when, role=role, marker=marker, level=level)
            if run is not None:  # the same proposals on the new map: no second request
                from storycoach.linking import apply_links

                apply_links(report, run)

    def note(text: str) -> None:
        (err_console() if (as_json or to_stdout) else console()).print(text)

    if markdown or html:
        from storycoach.report.coverage import to_html, to_markdown

        if markdown:
            text = to_markdown(report)
            if to_stdout:
                sys.stdout.write(text)
            else:
                _write(file, text)
                note(f"Wrote the Markdown report to {file}")
        if html:
            _write(html, to_html(report))
            note(f"Wrote the HTML report to {html}")
    if as_json:
        data = report.to_json()
        if accept:
            data["linked"] = linked
        emit_json(data)
    elif not (markdown or html):
        render(report, console())
    elif not to_stdout:
        note(_summary(report))
        if run is not None:
            note(_llm_summary(report.llm or run.info))
    if model_error is not None:
        linked_note = "; nothing was linked" if accept else ""
        typer.echo(
            f"storycoach: model failed: {model_error} "
            f"(the offline coverage still stands{linked_note})",
            err=True,
        )
        raise typer.Exit(3)


def _llm_summary(info: dict[str, Any]) -> str:
    """One line on what the model was asked and what it cost."""
    model = info["model"]
    if not info.get("questions"):
        return (
            f"Model ({model}): nothing to ask: no gap or thin question shares a word with an "
            "unlinked story"
        )
    parts = [f"Model proposals ({model}): {info['questions']} questions in one request"]
    if info.get("cached"):
        parts.append("answer from the cache, no new request")
    else:
        attempts = info.get("requests") or 0
        if attempts > 1:
            parts.append(f"{attempts} attempts")
        if info.get("tokens_in") is not None:
            parts.append(f"{info['tokens_in']:,} tokens in / {info['tokens_out'] or 0:,} out")
        if info.get("cost_usd") is not None:
            parts.append(f"~${info['cost_usd']:.4f}")
    if info.get("skipped"):
        parts.append(f"{info['skipped']} more questions on a later run")
    return ", ".join(parts)


def _write(path: Path | None, text: str) -> None:
    from storycoach.errors import StorycoachError

    assert path is not None
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise StorycoachError(f"cannot write {path}: {error.strerror or error}") from None


def _accept(
    bank: Bank, report: CoverageReport, *, yes: bool, quiet: bool, llm: bool = False
) -> list[dict[str, Any]]:
    """Link the planned suggestions (the model's with --llm); a terminal user confirms first
    unless --yes."""
    from storycoach.coverage import ACCEPT_MIN_CONFIDENCE, plan_accept

    plan = plan_accept(report, llm=llm)
    out = err_console() if quiet else console()
    if not plan:
        if llm:
            out.print(
                "Nothing to accept: the model proposed no story with confidence "
                f"{ACCEPT_MIN_CONFIDENCE}/5 or more for a gap or thin question."
            )
        else:
            out.print(
                "Nothing to accept: no gap or thin question has a suggestion above the floor."
            )
        return []
    if not yes:
        if not interactive():
            raise fail("pass --yes to link suggestions without a prompt")
        plan = _confirm_plan(bank, plan, out)
        if not plan:
            out.print("No links added.")
            return []
    from storycoach.linking import accept_links

    linked = accept_links(bank, plan, llm=llm)
    for qid, s in plan:
        out.print(
            f"Linked #{s.story_id} {escape(s.title)} -> {qid} [dim]({escape(s.reason)})[/dim]"
        )
    return linked


def _confirm_plan(bank: Any, plan: list[tuple[str, Any]], out: Console) -> list[tuple[str, Any]]:
    """Ask before linking: all, none, or one by one, where "no" is remembered (a link the user
    rejected is never suggested again)."""
    import click
    from rich.markup import escape

    out.print("[bold]Links to add[/bold] (answer c to choose; n = never suggest that link again):")
    for qid, s in plan:
        out.print(f"  #{s.story_id} {escape(s.title)} -> {qid}  [dim]{escape(s.reason)}[/dim]")
    answer = click.prompt(
        f"Add {'this link' if len(plan) == 1 else f'these {len(plan)} links'}? "
        "y = yes, n = no, c = choose one by one",
        default="y",
        type=click.Choice(["y", "n", "c"]),
        show_choices=False,
    )
    if answer != "c":
        return plan if answer == "y" else []
    chosen, rejected = [], []
    for qid, s in plan:
        pick = click.prompt(
            f"#{s.story_id} {s.title} -> {qid}? y = link, n = never, s = skip",
            default="s",
            type=click.Choice(["y", "n", "s"]),
            show_choices=False,
        )
        if pick == "y":
            chosen.append((qid, s))
        elif pick == "n":
            rejected.append((s.story_id, qid))
    if rejected:
        bank.reject_links(rejected)
        out.print(f"Will not suggest {plural(len(rejected), 'link')} again.")
    return chosen


def _summary(report: CoverageReport) -> str:
    from storycoach.coverage import BANK_TARGET

    bank = f"{report.active_stories} active stories (target {BANK_TARGET}+)"
    return (
        f"{report.count('gap')} gap, {report.count('thin')} thin, {report.count('covered')} "
        f"covered of {len(report.questions)} questions; {bank}"
    )


def render(report: CoverageReport, out: Console) -> None:
    """The map as rich tables: questions (gaps first), markers, then what needs attention."""
    from rich.markup import escape

    from storycoach.cli.table import ID, IDS, Col, print_table
    from storycoach.coverage import BANK_TARGET, FRESH_MONTHS, OVERUSE_LIMIT

    out.print(f"[bold]Coverage[/bold]  {escape(_summary(report))}")
    if not report.questions:
        out.print("No question matches these filters.")
        return
    print_table(
        out,
        [Col("status", ID), Col("question"), Col("stories", IDS)],
        [
            (
                f"[{_STYLE[row.status]}]{row.status}[/]",
                _question_cell(row),
                " ".join(f"#{i}" for i in row.stories) or "-",
            )
            for row in report.questions
        ],
    )
    rows = []
    for m in report.markers:
        done = f"{len(m.questions)} of {len(m.total)}"
        style = "green" if m.total and len(m.questions) == len(m.total) else "yellow"
        rows.append(
            (m.marker.slug, escape(m.marker.name), str(len(m.stories)), f"[{style}]{done}[/]")
        )
    out.print()
    columns = [Col("marker", ID), Col("name"), Col("stories", ID, "right")]
    print_table(out, [*columns, Col("questions covered", ID)], rows)
    out.print()
    short = BANK_TARGET - report.active_stories
    if short > 0:
        out.print(
            f"[yellow]Bank:[/yellow] {report.active_stories} active stories; the guide's 4-week "
            f"plan builds a bank of {BANK_TARGET}+: add {short} more."
        )
    for o in report.overused:
        out.print(
            f"[yellow]Overused:[/yellow] #{o.story_id} {escape(o.title)} answers "
            f"{len(o.questions)} questions (more than {OVERUSE_LIMIT} cannot all be told in one "
            "loop): find another story for some of them."
        )
    if report.undated:
        out.print(
            f"[yellow]Undated:[/yellow] {' '.join(f'#{i}' for i in report.undated)}: add "
            f"--when so freshness ({FRESH_MONTHS} months) can be checked "
            "(storycoach story edit ID --when 2024-03)."
        )
    if report.llm is not None and not report.llm.get("error"):
        out.print(escape(_llm_summary(report.llm)))
    if report.weak():
        command = "coverage --llm --accept" if report.llm is not None else "coverage --accept"
        out.print(
            "Link a story: storycoach story link ID --question QUESTION, or accept the top "
            f"suggestions: storycoach {command}"
        )


def _question_cell(row: QuestionCoverage) -> str:
    lines = [f"[bold]{row.id}[/bold] {escape(row.question.text)}"]
    if row.status != "covered":
        label, text = row.probing
        if text:
            lines.append(f"[dim]{label}:[/dim] {escape(text)}")
        if row.status == "thin":
            lines.append(f"[dim]Why thin:[/dim] {escape('; '.join(row.reasons))}")
        for s in row.suggestions:
            lines.append(
                f"[cyan]Try #{s.story_id}[/cyan] {escape(s.title)} [dim]({escape(s.reason)})[/dim]"
            )
        for m in row.llm_suggestions or []:
            lines.append(
                f"[magenta]Model: #{m.story_id}[/magenta] {escape(m.title)} "
                f"[dim]({m.confidence}/5: {escape(m.reason)})[/dim]"
            )
    return "\n".join(lines)


# -- practice -----------------------------------------------------------------------------------

_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def practice(
    question: Annotated[
        str | None,
        question_option("Practise this question instead of the weakest.", "--question", "-q"),
    ] = None,
    level: Annotated[str | None, level_option("Level band to answer at.", "--level", "-l")] = None,
    role: Role = None,
    marker: MarkerOpt = None,
    offline: Annotated[bool, offline_option()] = False,
    today: Today = None,
    as_json: JsonOption = False,
) -> None:
    """Practise your weakest-covered question: answer it, get a review, keep the attempt.

    Picks a gap first, then a thin question (or the one you name), shows what the round
    probes and what your level band expects, and reads your answer from $EDITOR in a terminal
    or from standard input. The review is stored with the question id
    (see `storycoach history --question ID`).

    Exit codes: 0 pass, 1 fail, 2 bad input, 3 the model failed (the offline review stands).
    """
    from storycoach.models import normalize_level
    from storycoach.practice import pick_question, practise

    bank = open_bank()
    level = normalize_level(level)
    row, report = pick_question(
        bank, question=question, role=role, marker=marker, level=level, today=_today(today)
    )
    out = err_console() if as_json else console()
    _show_prompt(out, row, level, report)
    batch = practise(bank, row, _read_answer(row, level), level=level, offline=offline)
    if as_json:
        result = batch.results[0].model_dump(mode="json")
        emit_json(result)
    else:
        from storycoach.cli.review import render_batch

        render_batch(batch)
    for item in batch.items:
        if item.model_error:
            typer.echo(
                f"storycoach: model failed: {item.model_error} (the offline review still stands)",
                err=True,
            )
    if batch.llm_hint:
        typer.echo(batch.llm_hint, err=True)
    review_id = batch.results[0].review_id
    out.print(
        f"Saved attempt #{review_id} for {row.id}; see storycoach history --question {row.id}"
    )
    raise typer.Exit(batch.exit_code)


def _show_prompt(
    out: Console, row: QuestionCoverage, level: str | None, report: CoverageReport
) -> None:
    from storycoach.cli.questions import print_probes
    from storycoach.levels import load_levels

    q = row.question
    style = _STYLE[row.status]
    out.print(f"[bold]Practice[/bold] {q.id} [{style}]({row.status})[/]")
    out.print(f"[bold]{escape(q.text)}[/bold]")
    print_probes(out, q)
    bands = load_levels().covering([level] if level else q.levels)
    for band in bands:
        out.print(f"[dim]At {escape(band.name)}:[/dim] {escape(band.expects)}")
    titles = report.titles
    if row.stories:
        linked = ", ".join(f"#{i} {titles.get(i, '')}" for i in row.stories)
        out.print(f"[dim]Your stories for it:[/dim] {escape(linked)}")
    for s in row.suggestions:
        out.print(
            f"[dim]Might fit:[/dim] #{s.story_id} {escape(s.title)} [dim]({escape(s.reason)})[/dim]"
        )
    out.print()


def _read_answer(row: QuestionCoverage, level: str | None) -> str:
    """$EDITOR in a terminal (the question stays visible in a comment), else stdin."""
    if interactive():
        q = row.question
        probes = "\n".join(f"  - {p}" for p in q.probes)
        header = (
            f"<!--\n{q.text}\n\n{probes}\n\n"
            f"Answer {'at ' + level + ' ' if level else ''}in STAR order: Situation, Task, "
            "Action, Result, what you would do differently. This comment is removed.\n-->\n\n"
        )
        edited = launch_editor(header)
        if edited is None:
            raise fail("nothing to review: the answer was not saved")
        return _COMMENT.sub("", edited, count=1).strip() + "\n"
    from storycoach.storyfile import read_text

    return read_text("-")
