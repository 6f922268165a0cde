"""The language server end to end: a real `storycoach lsp` process over stdio (pytest-lsp).

Each test gets its own server, bank and app dir (the autouse `_isolate` fixture's environment
is inherited by the server process). The model is the loopback fake OpenAI server, since respx
in this process cannot reach a request made in the server's.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

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


def uri_of(path: Path) -> str:
    return path.resolve().as_uri()


async def open_file(client: LanguageClient, path: Path, text: str, version: int = 1) -> str:
    path.write_text(text, encoding="utf-8")
    uri = uri_of(path)
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="markdown", version=version, text=text
            )
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return uri


def utf16_slice(text: str, rng: types.Range) -> str:
    """The text an LSP range covers, counting characters in UTF-16 code units."""
    lines = text.split("\n")

    def offset(pos: types.Position) -> int:
        before = sum(len(line) + 1 for line in lines[: pos.line])
        units = lines[pos.line].encode("utf-16-le")[: pos.character * 2]
        return before + len(units.decode("utf-16-le"))

    return text[offset(rng.start) : offset(rng.end)]


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient, tmp_path: Path) -> AsyncIterator[None]:
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("neovim"),
            root_uri=tmp_path.as_uri(),
            initialization_options={"debounceMs": 0},
        )
    )
    yield
    await lsp_client.shutdown_session()


@pytest.mark.asyncio
async def test_open_publishes_findings_on_their_spans(client: LanguageClient, tmp_path: Path) -> None:
    uri = await open_file(client, tmp_path / "draft.md", DRAFT)
    diagnostics = client.diagnostics[uri]
    assert diagnostics
    for d in diagnostics:
        print(d.code, d.range, repr(utf16_slice(DRAFT, d.range)), d.message)
    assert False
