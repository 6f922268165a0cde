"""What every command shares: the global options, the bank, output and the error boundary.

Command modules import this and nothing heavy at module level: `storycoach --help` must not pay
for pydantic, sqlite-utils or openai. Each command imports what it needs inside its body.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    from rich.console import Console

    from storycoach.bank import Bank


@dataclass
class State:
    db: Path | None = None
    debug: bool = False


state = State()

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def app_dir() -> Path:
    from storycoach.paths import app_dir

    return app_dir()


def default_db() -> Path:
    return app_dir() / "bank.db"


def open_bank() -> Bank:
    from storycoach.bank import Bank

    return Bank.open(state.db or default_db())


def console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def escape(text: str) -> str:
    """User text inside rich markup: a title like "[WIP] cache [/]" must print, not raise."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def emit_json(data: Any) -> None:
    """JSON on stdout, pydantic models included, never escaped to ASCII."""
    from pydantic import BaseModel

    def default(value: Any) -> Any:
        if isinstance(value, BaseModel):
            return value.model_dump(mode="json")
        if isinstance(value, Path):
            return str(value)
        raise TypeError(f"cannot serialise {type(value).__name__}")

    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=default) + "\n")


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one line on stderr and return the Exit to raise."""
    typer.echo(f"storycoach: error: {message}", err=True)
    return typer.Exit(code)


def interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty() and not os.environ.get("CI")


def launch_editor(text: str) -> str | None:
    """`$VISUAL`/`$EDITOR` on `text`; None when the user quits without saving.

    typer 0.29 vendors its own click without `edit`, so this uses click itself; click's own
    exceptions are not typer's, so they become a StorycoachError.
    """
    import click

    from storycoach.errors import StorycoachError

    try:
        return click.edit(text, extension=".md", require_save=True)
    except click.ClickException as error:
        raise StorycoachError(f"could not run your editor: {error.format_message()}") from None


class ErrorBoundary(TyperGroup):
    """Turns domain errors into one stderr line and an exit code; `--debug` shows the traceback."""

    def invoke(self, ctx: Any) -> Any:  # typer's vendored click Context
        from storycoach.errors import StorycoachError

        try:
            return super().invoke(ctx)
        except StorycoachError as error:
            if state.debug:
                raise
            raise fail(str(error), error.exit_code) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None
