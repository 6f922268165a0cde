"""Shared fixtures: every test runs in its own app dir, bank and environment.

The autouse `_isolate` fixture follows simonw/llm's conftest: nothing a test does can touch the
user's real bank, config or API key, and no command can believe it runs in a terminal (so it
never opens an editor or prompts). Output is fixed-width and colourless, as in fastapi-cli's.

Helpers for the CLI:

- `invoke("story", "list", "--json", input=None)` runs `storycoach.cli.app` in-process and
  returns the typer `Result` (`.exit_code`, `.stdout`, `.stderr` are separate streams in
  typer 0.29: its CliRunner has no `mix_stderr`; `.output` is both interleaved).
- `expect_error(result, "fragment", ...)` asserts the CLI's user-error contract: exit code 2, one
  `storycoach: error:` line on stderr, nothing on stdout, no traceback.
- `bank` is a `Bank` on the test's database; `db_counts()` counts its rows with plain sqlite3.
- `story_file(...)` writes a story Markdown file and returns its path; `story_text(...)` is its
  text, `story_args(...)` the `story add` flags and `story_fields` the values of that story.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

STORY_FIELDS = {
    "title": "Pushed back on the cache rewrite",
    "situation": "In March 2024 our checkout p99 was 900 ms on the payments team at Acme.",
    "task": "I owned the latency budget and had to decide whether to rewrite the cache.",
    "action": "I wrote a design doc comparing the rewrite with tuning and showed it to Priya.",
    "result": "We tuned instead; p99 dropped from 900 ms to 300 ms within two weeks.",
}


def _reset_state() -> None:
    from storycoach.cli import common

    for field in dataclasses.fields(common.state):
        if field.default is not dataclasses.MISSING:
            value = field.default
        elif field.default_factory is not dataclasses.MISSING:
            value = field.default_factory()
        else:  # pragma: no cover - State has defaults for everything
            continue
        setattr(common.state, field.name, value)


@pytest.fixture(scope="session")
def _template_bank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated, seeded bank per session, copied into each test (read commands refuse a
    `--db` path that does not exist, so every test starts with a bank, as a user would)."""
    from storycoach.bank import Bank

    path = tmp_path_factory.mktemp("template") / "bank.db"
    Bank.open(path).close()
    return path


@pytest.fixture(autouse=True)
def _isolate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _template_bank: Path
) -> Iterator[None]:
    home = tmp_path / "home"
    config = tmp_path / "config"
    home.mkdir()
    config.mkdir()
    for name in list(os.environ):
        if name.startswith(("STORYCOACH_", "OPENAI_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.setenv("STORYCOACH_DB", str(tmp_path / "bank.db"))
    shutil.copyfile(_template_bank, tmp_path / "bank.db")
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.setenv("CI", "1")
    # If anything ever reaches a real editor, it fails at once instead of hanging the run.
    monkeypatch.setenv("EDITOR", "false")
    monkeypatch.setenv("VISUAL", "false")
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    _reset_state()
    yield
    _reset_state()


@pytest.fixture
def db_path() -> Path:
    """The test's story bank file (what `STORYCOACH_DB` points to)."""
    return Path(os.environ["STORYCOACH_DB"])


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def invoke(runner: CliRunner) -> Callable[..., Result]:
    """Run the `storycoach` app in-process: `invoke("story", "list", input=...)`."""
    from storycoach.cli import app

    def _invoke(
        *args: str | os.PathLike[str], input: str | bytes | None = None, **kwargs: Any
    ) -> Result:
        return runner.invoke(app, [str(a) for a in args], input=input, **kwargs)

    return _invoke


def assert_user_error(result: Result, *fragments: str, code: int = 2) -> str:
    """The CLI's contract for bad input: exit code, one stderr line, no traceback, no stdout."""
    detail = f"exit={result.exit_code} stdout={result.stdout!r} stderr={result.stderr!r}"
    assert result.exit_code == code, detail
    assert isinstance(result.exception, SystemExit), f"{result.exception!r} {detail}"
    lines = result.stderr.splitlines()
    assert len(lines) == 1, detail
    assert lines[0].startswith("storycoach: error: "), detail
    assert "Traceback" not in result.output, detail
    assert result.stdout == "", detail
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    return lines[0]


@pytest.fixture
def expect_error() -> Callable[..., str]:
    """`expect_error(result, "fragment", code=2)`: see `assert_user_error`."""
    return assert_user_error


@pytest.fixture
def bank(db_path: Path) -> Iterator[Any]:
    """A migrated, seeded `Bank` on the test's database file."""
    from storycoach.bank import Bank

    opened = Bank.open(db_path)
    yield opened
    opened.close()


def count_rows(path: Path) -> dict[str, int]:
    """Rows per table of a database file (the FTS shadow tables excluded); {} if no file."""
    if not path.exists():
        return {}
    conn = sqlite3.connect(path)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '%_fts_%' "
                "AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        conn.close()


@pytest.fixture
def db_counts(db_path: Path) -> Callable[..., dict[str, int]]:
    """`db_counts(path=None)`: rows per table of the test's bank (or of `path`), to prove that a
    failing command wrote nothing."""
    return lambda path=None: count_rows(Path(path) if path else db_path)


def story_markdown(
    *, front: dict[str, Any] | None = None, body: str | None = None, **fields: str
) -> str:
    """A story file: YAML front matter (title plus `front`) and STAR sections."""
    import yaml

    values = {**STORY_FIELDS, **fields}
    meta = {"title": values["title"], **(front or {})}
    if body is None:
        body = "".join(
            f"## {name.title()}\n\n{values[name]}\n\n"
            for name in ("situation", "task", "action", "result")
        )
    header = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    return f"---\n{header}---\n{body}"


@pytest.fixture
def story_fields() -> dict[str, str]:
    """The fields of the default valid story that `story_args` and `story_file` write."""
    return dict(STORY_FIELDS)


@pytest.fixture
def story_text() -> Callable[..., str]:
    """`story_text(front=None, body=None, **fields)`: a story file's text (see `story_markdown`)."""
    return story_markdown


@pytest.fixture
def story_file(tmp_path: Path) -> Callable[..., Path]:
    """`story_file(name="story.md", text=None, front=None, body=None, **fields)` -> Path.

    With `text`, writes it verbatim (str, or bytes for encoding tests); otherwise builds a
    story from `STORY_FIELDS` overridden by `fields`, with `front` as extra front matter.
    """
    counter = iter(range(1, 10_000))

    def _write(
        name: str | None = None,
        *,
        text: str | bytes | None = None,
        front: dict[str, Any] | None = None,
        body: str | None = None,
        **fields: str,
    ) -> Path:
        path = tmp_path / (name or f"story-{next(counter)}.md")
        if text is None:
            text = story_markdown(front=front, body=body, **fields)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    return _write


@pytest.fixture
def story_args() -> Callable[..., list[str]]:
    """`story_args(title="x", when="2024-03")` -> the `story add` flags for a valid story."""

    def _args(**fields: str) -> list[str]:
        values = {**STORY_FIELDS, **fields}
        args: list[str] = []
        for key, value in values.items():
            args += [f"--{key}", value]
        return args

    return _args


def load_json(result: Result) -> Any:
    """The JSON a successful `--json` command printed."""
    assert result.exit_code == 0, f"{result.exit_code} {result.stderr!r} {result.exception!r}"
    return json.loads(result.stdout)


@pytest.fixture
def json_of() -> Callable[[Result], Any]:
    """`json_of(result)`: assert success and parse stdout as JSON."""
    return load_json
