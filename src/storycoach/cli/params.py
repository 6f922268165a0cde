"""Options and arguments several commands share: one metavar, one help style, one completion.

Every id-like parameter completes from the bank (`storycoach.bank.peek`: read-only, no
migrations, no model import), with the question text or story title as the shell's help.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import typer

_HELP_CHARS = 60


def _bank_path(ctx: typer.Context) -> str:
    from storycoach.cli.common import default_db

    root = ctx.find_root().params.get("db") if ctx else None
    return str(root or os.environ.get("STORYCOACH_DB") or default_db())


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _HELP_CHARS else text[: _HELP_CHARS - 1] + "…"


def completer(kind: str) -> Callable[[typer.Context, str], list[tuple[str, str]]]:
    """Candidates of one kind (questions, markers, stories, roles, tags) that start as typed."""

    def complete(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
        from storycoach.bank import peek

        try:
            pairs = peek(_bank_path(ctx), kind)
        except Exception:  # a completion must never print a traceback into the prompt
            return []
        low = incomplete.lower()
        return [(v, _short(d)) for v, d in pairs if v.lower().startswith(low)]

    return complete


def complete_levels(incomplete: str) -> list[tuple[str, str]]:
    from storycoach.models import LEVELS

    return [(lv, f"level band {lv}") for lv in LEVELS if lv.lower().startswith(incomplete.lower())]


def complete_rubrics(incomplete: str) -> list[tuple[str, str]]:
    from storycoach.rubric import load_criteria

    try:
        criteria = load_criteria()
    except Exception:
        return []
    return [(c.id, _short(c.title)) for c in criteria if c.id.startswith(incomplete)]


def question_option(help: str, *names: str) -> Any:
    return typer.Option(
        *(names or ("--question", "-q")),
        help=help,
        metavar="QUESTION",
        autocompletion=completer("questions"),
    )


def marker_option(help: str) -> Any:
    return typer.Option(
        "--marker", "-m", help=help, metavar="SLUG", autocompletion=completer("markers")
    )


def story_option(help: str) -> Any:
    return typer.Option(
        "--story", "-s", help=help, metavar="ID", autocompletion=completer("stories")
    )


def story_argument(help: str = "Story id (see `storycoach story list`).") -> Any:
    return typer.Argument(help=help, metavar="ID", autocompletion=completer("stories"))


def level_option(help: str, *names: str) -> Any:
    return typer.Option(
        *(names or ("--level",)), help=help, metavar="E3..E7", autocompletion=complete_levels
    )


def offline_option(help: str = "Rubric engine only; never call the model.") -> Any:
    return typer.Option("--offline", help=help)


def redact_option() -> Any:
    return typer.Option("--redact", help="Replace people's names before the model sees them.")


def role_option(help: str) -> Any:
    return typer.Option("--role", help=help, metavar="ROLE", autocompletion=completer("roles"))


def tag_option(help: str) -> Any:
    return typer.Option("--tag", help=help, metavar="TAG", autocompletion=completer("tags"))
