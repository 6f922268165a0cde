"""`storycoach lsp`: the language server, for editors (setup in the README)."""

from __future__ import annotations

from typing import Annotated

import typer


def lsp(
    stdio: Annotated[
        bool,
        typer.Option("--stdio", help="Talk LSP over stdin/stdout (the default and only way)."),
    ] = True,
) -> None:
    """Run the language server on stdin/stdout: rubric diagnostics as you type in your editor.

    Editors start it themselves; see the README for Neovim, Helix and VS Code.
    """
    from storycoach.cli.common import default_db, state
    from storycoach.lsp.server import serve

    serve(state.db or default_db())
