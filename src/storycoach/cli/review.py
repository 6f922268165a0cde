"""`storycoach review` and `storycoach history`: rubric feedback on drafts, and its record."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from storycoach.cli.common import (
    JsonOption,
    console,
    emit_json,
    err_console,
    escape,
    fail,
    open_bank,
)
from storycoach.cli.params import (
    level_option,
    offline_option,
    question_option,
    redact_option,
    story_option,
)
from storycoach.cli.words import plural

if TYPE_CHECKING:
    from storycoach.models import Finding
    from storycoach.reviewing import ReviewBatch, ReviewItem

_SEVERITY_STYLE = {"error": "red", "warning": "yellow", "info": "cyan"}


def review(
    files: Annotated[
        list[str] | None,
        typer.Argument(
            help="Draft files (Markdown, optional front matter); - reads stdin.", metavar="FILE..."
        ),
    ] = None,
    story: Annotated[
        list[int] | None, story_option("Review a story from the bank (repeatable).")
    ] = None,
    all_stories: Annotated[
        bool, typer.Option("--all", help="Review every active story in the bank.")
    ] = False,
    question: Annotated[
        str | None, question_option("Check against this question and its probes.")
    ] = None,
    level: Annotated[str | None, level_option("Target level band.", "--level", "-l")] = None,
    offline: Annotated[bool, offline_option()] = False,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Ask the model even for an unchanged draft.")
    ] = False,
    redact: Annotated[bool, redact_option()] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", help="Print only the summary line (exit code as usual).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Review drafts against the rubrics: one line per finding and a Keeper-Test verdict.

    Each draft is headed by its file or story; several drafts end with a summary line.

    Exit codes: 0 pass, 1 fail, 2 bad input, 3 the model failed (the offline review stands).
    """
    from storycoach.reviewing import ReviewInput, review_inputs, story_inputs
    from storycoach.storyfile import read_text

    files = files or []
    if not files and not story and not all_stories:
        if sys.stdin.isatty():
            raise fail("give draft FILEs, - for stdin, --story ID or --all")
        files = ["-"]
    if files.count("-") > 1:
        raise fail("standard input (-) can be read only once")
    bank = open_bank()
    inputs = [
        ReviewInput(label=f, text=read_text(f), question_id=question, level=level) for f in files
    ]
    inputs += story_inputs(
        bank, story or [], all_stories=all_stories, question=question, level=level
    )

    # Results print as they complete: the offline part of a single draft at once, the model
    # part when it answers; with several drafts, each one when it is done (progress bar).
    printed: dict[int, str] = {}
    named = {i.story_id for i in inputs if i.story_id is not None}
    titles = {s.id: s.title for s in bank.stories() if s.id in named} if named else {}

    def show(item: ReviewItem, part: str = "all") -> None:
        if as_json or quiet:
            return
        if printed:
            console().print()
        again = printed.get(id(item)) == "offline" and part == "all"
        render_item(item, titles, "model" if again else part)
        printed[id(item)] = part

    def offline_first(item: ReviewItem) -> None:
        if len(inputs) == 1:
            show(item, "offline")

    def run(on_result: Any) -> ReviewBatch:
        return review_inputs(
            bank, inputs, offline=offline, no_cache=no_cache, redact=redact,
            on_result=on_result, on_offline=offline_first,
        )  # fmt: skip

    if len(inputs) > 1 and not as_json and sys.stderr.isatty():
        from rich.progress import Progress

        with Progress(console=err_console(), transient=True) as progress:
            task = progress.add_task("Reviewing", total=len(inputs))

            def advance(item: ReviewItem) -> None:
                show(item)
                progress.advance(task)

            batch = run(advance)
    else:
        batch = run(show)

    if batch.interrupted:
        _interrupted(batch, printed, titles, as_json)
    if as_json:
        results = [r.model_dump(mode="json") for r in batch.results]
        emit_json(results[0] if len(results) == 1 else results)
    elif quiet or len(batch.items) > 1:
        if not quiet:
            console().print()
        console().print(summary_line(batch))
    for item in batch.items:
        if item.model_error:
            typer.echo(
                f"storycoach: model failed for {item.result.path}: {item.model_error} "
                "(the offline review above still stands)",
                err=True,
            )
    if batch.llm_hint:
        typer.echo(batch.llm_hint, err=True)
    raise typer.Exit(batch.exit_code)


def _interrupted(
    batch: ReviewBatch, printed: dict[int, str], titles: dict[int, str], as_json: bool
) -> None:
    """Ctrl-C during the model part: show what was computed (the offline review of every
    draft not yet shown), say what was marked interrupted, and leave at once with 130.

    `os._exit`: requests still in flight sit in worker threads that the interpreter would
    otherwise wait for at exit (up to the request timeout); everything is stored already."""
    import os

    if as_json:
        results = [r.model_dump(mode="json") for r in batch.results]
        emit_json(results[0] if len(results) == 1 else results)
    else:
        for item in batch.items:
            if printed.get(id(item)) != "all":
                if printed:
                    console().print()
                render_item(item, titles, "model" if printed.get(id(item)) == "offline" else "all")
                printed[id(item)] = "all"
    stopped = sum(i.result.llm_status == "interrupted" for i in batch.items)
    typer.echo(
        f"storycoach: interrupted: {stopped} model review(s) stopped and marked interrupted; "
        "the offline reviews above are stored",
        err=True,
    )
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)


def render_batch(
    batch: ReviewBatch, titles: dict[int, str] | None = None, *, quiet: bool = False
) -> None:
    """Per draft: a heading, linter lines, the criterion table, the model's part, the verdict.

    Several drafts (or --quiet) end with one summary line, as a linter does."""
    out = console()
    if not quiet:
        for index, item in enumerate(batch.items):
            if index:
                out.print()
            render_item(item, titles or {})
    if quiet or len(batch.items) > 1:
        if not quiet:
            out.print()
        out.print(summary_line(batch))


def summary_line(batch: ReviewBatch) -> str:
    """`12 drafts: 9 fail, 3 pass; 31 errors, 14 warnings; most common: missing-dates x7`."""
    total = batch.summary()
    line = (
        f"{plural(total.drafts, 'draft')}: {total.fails} fail, {total.passes} pass; "
        f"{plural(total.errors, 'error')}, {plural(total.warnings, 'warning')}"
    )
    if total.common:
        line += "; most common: " + ", ".join(f"{rule} x{n}" for rule, n in total.common)
    return line


def _heading(item: ReviewItem, titles: dict[int, str]) -> str:
    result = item.result
    if result.story_id is not None:
        title = titles.get(result.story_id)
        name = f"story #{result.story_id}" + (f": {title}" if title else "")
    else:
        name = "standard input" if result.path == "-" else result.path
    return f"[bold]== {escape(name)}[/bold]"


def render_item(item: ReviewItem, titles: dict[int, str], part: str = "all") -> None:
    """One draft's review. `part="offline"` prints the heading, the rubric engine's findings and
    the criterion table as soon as they are ready; `part="model"` then adds the model's
    findings, scores and the verdict; "all" is both at once."""
    from storycoach.cli.table import ID, Col, print_table
    from storycoach.models import is_uncounted_note
    from storycoach.settings import prices_checked

    out = console()
    result = item.result
    counted = [f for f in result.findings if not is_uncounted_note(f)]
    notes = [f for f in result.findings if is_uncounted_note(f)]
    shown = {"all": ("rubric", "llm"), "offline": ("rubric",), "model": ("llm",)}[part]
    if part != "model":
        out.print(_heading(item, titles))
    for f in counted:
        if (f.source if f.source == "llm" else "rubric") not in shown:
            continue
        style = _SEVERITY_STYLE[f.severity]
        where = f"{result.path}:{f.line or 1}:{f.column or 1}"
        tag = " [dim](model)[/dim]" if f.source == "llm" else ""
        out.print(
            f"{escape(where)}: [{style}]{f.severity}[/{style}] [bold]{f.rule}[/bold] "
            f"{escape(f.message)}{tag}",
            soft_wrap=True,
        )
        if f.quote:
            out.print(f'    [dim]> "{escape(f.quote)}"[/dim]', soft_wrap=True)

    rubric: dict[str, list[Finding]] = {}
    model: dict[str, list[Finding]] = {}
    for f in counted:
        (model if f.source == "llm" else rubric).setdefault(f.rule, []).append(f)
    scores = {c.criterion: c.score for c in result.llm.criteria} if result.llm else {}
    rows = []
    for rule in dict.fromkeys([*item.criteria, *rubric, *model]):
        cells = [rule, _worst(rubric.get(rule, []), "ok" if rule in item.criteria else "-")]
        if result.llm:
            score = f"{scores[rule]}/5 " if rule in scores else ""
            cells.append(score + _worst(model.get(rule, []), "" if score else "-"))
        rows.append(cells)
    columns = [Col("criterion", ID), Col("rubric", ID)]
    if part != "model" or result.llm:  # streamed: the table again, now with the model's scores
        out.print()
        print_table(out, [*columns, Col("model", ID)] if result.llm else columns, rows)
    if part == "offline":
        out.print("[dim]model review follows...[/dim]")
        return

    if notes:
        out.print("[dim]Model notes, not counted:[/dim]")
        for f in notes:
            out.print(f"  [dim]{f.rule}: {escape(f.message)}[/dim]", soft_wrap=True)
    if result.llm:
        llm = result.llm
        out.print()
        print_table(
            out,
            [Col("criterion", ID), Col("score", ID), Col("evidence"), Col("fix")],
            [(c.criterion, f"{c.score}/5", escape(c.quote), escape(c.fix)) for c in llm.criteria],
            title=f"Model: {escape(llm.model)}",
        )
        out.print(
            f"[dim]The model's own opinion (advice; the verdict below is computed):[/dim] "
            f"{llm.verdict}: {escape(llm.reason)}",
            soft_wrap=True,
        )
        if llm.weakest_sentence:
            out.print(f'[bold]Weakest sentence:[/bold] "{escape(llm.weakest_sentence)}"')
        if llm.rewrite:
            out.print(f"[bold]Rewrite the weakest sentence:[/bold] {escape(llm.rewrite)}")
        usage = [
            f"{llm.tokens_in} in / {llm.tokens_out} out tokens" if llm.tokens_in else "",
            f"{llm.latency_ms} ms" if llm.latency_ms else "",
            f"${llm.cost_usd:.4f} (estimate, {prices_checked()} prices)" if llm.cost_usd else "",
            "cached, no request sent" if llm.cached else "",
        ]
        out.print(f"[dim]{', '.join(u for u in usage if u)}[/dim]")

    errors = sum(f.severity == "error" for f in counted)
    warnings = sum(f.severity == "warning" for f in counted)
    style = "green" if result.verdict == "pass" else "red"
    context = ", ".join(x for x in (result.question, result.level) if x)
    note = " [yellow](offline only: the model review was interrupted)[/yellow]"
    out.print(
        f"Keeper Test: [bold {style}]{result.verdict.upper()}[/bold {style}] "
        f"({plural(errors, 'error')}, {plural(warnings, 'warning')})"
        f"{f' for {escape(context)}' if context else ''}"
        f"{note if result.llm_status == 'interrupted' else ''}"
    )


def _worst(found: list[Finding], empty: str) -> str:
    if not found:
        return f"[green]{empty}[/green]" if empty == "ok" else empty
    worst = min(found, key=lambda f: ("error", "warning", "info").index(f.severity))
    style = _SEVERITY_STYLE[worst.severity]
    return f"[{style}]{worst.severity}[/{style}]" + (f" x{len(found)}" if len(found) > 1 else "")


def history(
    question: Annotated[str | None, question_option("Only attempts at this question.")] = None,
    story: Annotated[int | None, story_option("Only this story.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many reviews.")] = 50,
    mock: Annotated[bool, typer.Option("--mock", help="List mock rounds instead.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Stored reviews, newest first, with model usage and cost (`--mock`: mock rounds)."""
    if mock:
        from storycoach.cli.mock import history as mock_history

        mock_history(limit, as_json)
        return
    from storycoach.history import review_history

    entries = review_history(open_bank(write=False), question=question, story=story, limit=limit)
    if as_json:
        emit_json(entries)
        return
    if not entries:
        console().print("No reviews yet. Try: storycoach review draft.md")
        return
    from storycoach.cli.table import ID, Col, print_table

    rows = []
    for row in entries:
        style = {"pass": "green", "fail": "red", "interrupted": "yellow"}.get(row["verdict"], "dim")
        rows.append(
            (
                str(row["id"]),
                row["created"].replace("T", " ")[:16],
                escape(row["path"] or ""),
                row["question"] or "",
                row["level"] or "",
                f"[{style}]{row['verdict']}[/{style}]",
                str(row["errors"]),
                str(row["warnings"]),
                _model_summary(row),
            )
        )
    columns = [Col("id", ID, "right"), Col("when", ID), Col("input"), Col("question", ID)]
    columns += [Col("level", ID), Col("verdict", ID), Col("errors", ID, "right")]
    print_table(console(), [*columns, Col("warnings", ID, "right"), Col("model")], rows)


def _model_summary(row: dict[str, Any]) -> str:
    if row["llm_status"] in (None, "skipped"):
        return "[dim]offline[/dim]"
    if row["llm_status"] == "failed":
        return "[red]model failed[/red]"
    if row["llm_status"] == "interrupted":
        return "[yellow]interrupted[/yellow]"
    if row["llm_status"] == "pending":
        return "[dim]in progress[/dim]"
    parts = [escape(row["llm_model"] or "")]
    if row["llm_mean_score"] is not None:
        parts.append(f"mean {row['llm_mean_score']}/5")
    if row["tokens_in"]:
        parts.append(f"{row['tokens_in']}+{row['tokens_out']} tok")
    if row["cost_usd"]:
        parts.append(f"${row['cost_usd']:.4f}")
    if row["llm_status"] == "cached":
        parts.append("cached")
    return " ".join(p for p in parts if p)
