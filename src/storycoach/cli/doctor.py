"""`storycoach doctor`: check the bank's integrity, sweep interrupted reviews, advise recovery."""

from __future__ import annotations

import typer

from storycoach.cli.common import JsonOption, console, emit_json, escape, open_bank


def doctor(as_json: JsonOption = False) -> None:
    """Check the bank (integrity, full-text index), mark reviews whose process died as
    interrupted, and say how to recover a damaged bank. Exit 1 when the bank is damaged."""
    bank = open_bank(write=False)
    report = bank.doctor()
    if as_json:
        emit_json({**report.model_dump(), "healthy": report.healthy, "recovery": report.recovery()})
    else:
        out = console()
        out.print(f"bank: {escape(report.path)}")
        out.print(
            "integrity: ok"
            if report.healthy
            else f"integrity: [red]damaged[/red] ({len(report.problems)} problems, first below)"
        )
        for problem in report.problems[:10]:
            out.print(f"  {escape(problem)}", soft_wrap=True)
        out.print(f"full-text index: {escape(report.fts)}")
        out.print(f"interrupted reviews swept: {report.swept}")
        if bank.read_only and report.healthy:
            out.print("(opened read-only: nothing was changed)")
        for step in report.recovery():
            out.print(f"  recover: {escape(step)}", soft_wrap=True)
    raise typer.Exit(0 if report.healthy else 1)
