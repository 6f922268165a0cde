"""Data is never read as rich markup: every command prints `[bold]`, `[/]` and `[link=...]`
exactly as stored (a model name, a title, a config value, a server's message)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fake_openai_server as fake_server
import httpx
import pytest
import respx
from helpers import completion

from storycoach.bank import Bank
from storycoach.models import Question, Story

MARKUP = "[bold]x[/] [link=https://evil.test]y[/link]"
MODEL = "llama[/]:[bold]8b"


@pytest.fixture
def marked(db_path: Path) -> None:
    bank = Bank.open(db_path)
    bank.add_question(Question(id="markup-question", text=f"Tell me {MARKUP}"))
    bank.add_story(
        Story(
            title=f"Title {MARKUP}",
            situation=f"In March 2024 {MARKUP} checkout p99 was 900 ms.",
            task="I owned the budget.",
            action=f"I wrote a doc with Priya {MARKUP}.",
            result="p99 fell from 900 ms to 300 ms.",
            tags=[MARKUP],
            questions=["markup-question"],
        )
    )
    bank.close()


COMMANDS = [
    ["story", "list"],
    ["story", "show", "1"],
    ["story", "search", "checkout"],
    ["questions", "list"],
    ["questions", "show", "markup-question"],
    ["coverage"],
    ["review", "--offline", "DRAFT"],
    ["history"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_every_command_prints_markup_verbatim(
    args: list[str], marked: None, invoke: Callable, tmp_path: Path
) -> None:
    draft = tmp_path / "[bold]x [link=y]z.md"  # the path is printed on every finding line
    draft.write_text("## Situation\n\nWe fixed it.\n", encoding="utf-8")
    if args[0] == "history":
        invoke("review", "--offline", draft)
    result = invoke(*[str(draft) if a == "DRAFT" else a for a in args])
    assert result.exit_code in (0, 1), result.stderr
    assert "[bold]" in result.stdout or "[/]" in result.stdout or "[link=" in result.stdout


def test_model_name_and_server_text_are_printed_verbatim(
    marked: None, invoke: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-SECRET123456")
    monkeypatch.setenv("OPENAI_BASE_URL", "https://llm.test/v1")
    monkeypatch.setenv("STORYCOACH_MODEL", MODEL)

    def reply(request: httpx.Request) -> httpx.Response:
        answer: dict[str, Any] = fake_server.review_answer(json.loads(request.content))
        answer["reason"] = f"Because {MARKUP}"
        return completion(answer)

    with respx.mock() as mock:
        mock.post(url__startswith="https://llm.test/v1/chat/completions").mock(side_effect=reply)
        result = invoke("review", "--story", "1")
    assert result.exit_code in (0, 1), result.stderr
    assert f"Model: {MODEL}" in result.stdout
    assert f"Because {MARKUP}" in result.stdout
    history = invoke("history")
    assert history.exit_code == 0 and MODEL in history.stdout
    monkeypatch.setenv("OPENAI_BASE_URL", "https://llm.test/v1?api-key=SECRET-IN-URL")
    config = invoke("config")
    assert config.exit_code == 0 and MODEL in config.stdout
    assert "SECRET-IN-URL" not in config.stdout + config.stderr
    assert "api-key=***" in config.stdout
    # a model not in the price table gets no estimate
    assert "estimate" not in result.stdout


def test_a_local_server_gets_no_openai_price(invoke: Callable, tmp_path: Path) -> None:
    from fake_openai_server import FakeOpenAI

    draft = tmp_path / "d.md"
    draft.write_text("## Situation\n\nIn March 2024 checkout p99 was 900 ms at Acme.\n")
    with FakeOpenAI() as server:
        result = invoke("review", "--json", draft, env={"OPENAI_BASE_URL": server.base_url})
    data = json.loads(result.stdout)
    assert data["llm"]["model"] == "gpt-4.1-mini"  # a name in the price table...
    assert data["llm"]["cost_usd"] is None  # ...but served locally: no OpenAI price
