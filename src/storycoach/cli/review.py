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

if TYPE_CHECKING:
    from storycoach.models import Finding
    from storycoach.reviewing import ReviewBatch, ReviewItem

_SEVERITY_STYLE = {"error": "red", "warning": "yellow", "info": "cyan"}


def review(
    files: Annotated[
        list[str] | None,
        typer.Argument(help="Draft files (Markdown, optional front matter); - reads stdin."),
    ] = None,
    story: Annotated[
        list[int] | None, typer.Option("--story", "-s", help="Review a story from the bank.")
    ] = None,
    all_stories: Annotated[
        bool, typer.Option("--all", help="Review every active story in the bank.")
    ] = False,
    question: Annotated[
        str | None,
        typer.Option("--question", "-q", help="Check against this question and its probes."),
    ] = None,
    level: Annotated[
        str | None, typer.Option("--level", "-l", help="Target level band: E3, E4, E5, E6 or E7.")
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Rubric engine only; never call the model.")
    ] = False,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Ask the model even for an unchanged draft.")
    ] = False,
    redact: Annotated[
        bool, typer.Option("--redact", help="Replace people's names before sending to the model.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Review drafts against the rubrics: one line per finding and a Keeper-Test verdict.

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

    if len(inputs) > 1 and not as_json and sys.stderr.isatty():
        from rich.progress import Progress

        with Progress(console=err_console(), transient=True) as progress:
            task = progress.add_task("Reviewing", total=len(inputs))
            batch = review_inputs(
                bank,
                inputs,
                offline=offline,
                no_cache=no_cache,
                redact=redact,
                on_result=lambda _: progress.advance(task),
            )
    else:
        batch = review_inputs(bank, inputs, offline=offline, no_cache=no_cache, redact=redact)

    if as_json:
        results = [r.model_dump(mode="json") for r in batch.results]
        emit_json(results[0] if len(results) == 1 else results)
    else:
        render_batch(batch)
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


def render_batch(batch: ReviewBatch) -> None:
    """Linter lines, a per-criterion table, the model's scores and the verdict, per draft."""
    for index, item in enumerate(batch.items):
        if index:
            console().print()
        render_item(item)


def render_item(item: ReviewItem) -> None:
    from rich.table import Table

    out = console()
    result = item.result
    for f in result.findings:
        style = _SEVERITY_STYLE[f.severity]
        where = f"{result.path}:{f.line or 1}:{f.column or 1}"
        tag = " [dim](llm)[/dim]" if f.source == "llm" else ""
        out.print(
            f"{escape(where)}: [{style}]{f.severity}[/{style}] [bold]{f.rule}[/bold] "
            f"{escape(f.message)}{tag}",
            soft_wrap=True,
        )
        if f.quote:
            out.print(f'    [dim]> "{escape(f.quote)}"[/dim]', soft_wrap=True)

    table = Table("criterion", "result", box=None, padding=(0, 2, 0, 0))
    by_rule: dict[str, list[Finding]] = {}
    for f in result.findings:
        by_rule.setdefault(f.rule, []).append(f)
    for rule in dict.fromkeys([*item.criteria, *by_rule]):
        found = by_rule.get(rule, [])
        if not found:
            table.add_row(rule, "[green]ok[/green]")
            continue
        worst = min(found, key=lambda f: ("error", "warning", "info").index(f.severity))
        style = _SEVERITY_STYLE[worst.severity]
        table.add_row(rule, f"[{style}]{worst.severity}[/{style}] x{len(found)}")
    out.print()
    out.print(table)

    if result.llm:
        llm = result.llm
        scores = Table("criterion", "score", "evidence", "fix", title=f"Model: {llm.model}")
        for c in llm.criteria:
            scores.add_row(c.criterion, f"{c.score}/5", escape(c.quote), escape(c.fix))
        out.print(scores)
        out.print(f"[bold]Model verdict:[/bold] {llm.verdict}: {escape(llm.reason)}")
        if llm.weakest_sentence:
            out.print(f'[bold]Weakest sentence:[/bold] "{escape(llm.weakest_sentence)}"')
        if llm.rewrite:
            out.print(f"[bold]Rewrite the weakest sentence:[/bold] {escape(llm.rewrite)}")
        usage = [
            f"{llm.tokens_in} in / {llm.tokens_out} out tokens" if llm.tokens_in else "",
            f"{llm.latency_ms} ms" if llm.latency_ms else "",
            f"${llm.cost_usd:.4f}" if llm.cost_usd else "",
            "cached, no request sent" if llm.cached else "",
        ]
        out.print(f"[dim]{', '.join(u for u in usage if u)}[/dim]")

    errors = sum(f.severity == "error" for f in result.findings)
    warnings = sum(f.severity == "warning" for f in result.findings)
    style = "green" if result.verdict == "pass" else "red"
    context = ", ".join(x for x in (result.question, result.level) if x)
    out.print(
        f"Keeper Test: [bold {style}]{result.verdict.upper()}[/bold {style}] "
        f"({_count(errors, 'error')}, {_count(warnings, 'warning')})"
        f"{f' for {context}' if context else ''}"
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def history(
    question: Annotated[
        str | None, typer.Option("--question", "-q", help="Only attempts at this question.")
    ] = None,
    story: Annotated[int | None, typer.Option("--story", "-s", help="Only this story.")] = None,
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

    rows = review_history(open_bank(), question=question, story=story, limit=limit)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        console().print("No reviews yet. Try: storycoach review draft.md")
        return
    from rich.table import Table

    table = Table(
        "id", "when", "input", "question", "level", "verdict", "errors", "warnings", "model",
        box=None,
    )  # fmt: skip
    for row in rows:
        style = "green" if row["verdict"] == "pass" else "red"
        table.add_row(
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
    console().print(table)


def _model_summary(row: dict[str, Any]) -> str:
    if row["llm_status"] in (None, "skipped"):
        return "[dim]offline[/dim]"
    if row["llm_status"] == "failed":
        return "[red]model failed[/red]"
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
