"""Model settings (env, config file, defaults), prices, and `storycoach config`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from storycoach.errors import StorycoachError
from storycoach.settings import (
    DEFAULT_MODEL,
    HINT,
    default_config_path,
    estimate_cost,
    load_settings,
    mask_key,
    model_price,
)

KEY = "sk-proj-FAKEFAKEFAKE-00000000abcd"


def write_config(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_offline(tmp_path: Path) -> None:
    s = load_settings({}, config_path=tmp_path / "config.toml")
    assert not s.enabled and s.hint == HINT
    assert (s.model, s.timeout, s.max_retries, s.concurrency) == (DEFAULT_MODEL, 60.0, 3, 8)
    assert s.endpoint == "https://api.openai.com/v1" and s.host == "api.openai.com"
    assert {row["source"] for row in s.describe()} == {"default"}


def test_key_or_base_url_enables_the_model_pass(tmp_path: Path) -> None:
    none = tmp_path / "none.toml"
    assert load_settings({"OPENAI_API_KEY": KEY}, config_path=none).enabled
    local = load_settings({"OPENAI_BASE_URL": "http://localhost:11434/v1/"}, config_path=none)
    assert local.enabled and local.api_key is None
    assert local.base_url == "http://localhost:11434/v1" and local.host == "localhost:11434"
    assert not load_settings({"OPENAI_API_KEY": "  "}, config_path=none).enabled


def test_env_wins_over_config_file_which_wins_over_defaults(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "config.toml",
        f'api_key = "{KEY}"\nmodel = "llama3.1:8b"\ntimeout = 30\nconcurrency = 2\n',
    )
    s = load_settings(
        {"STORYCOACH_MODEL": "gpt-4.1", "STORYCOACH_TIMEOUT": "12.5"}, config_path=config
    )
    assert (s.model, s.timeout, s.concurrency, s.max_retries) == ("gpt-4.1", 12.5, 2, 3)
    assert s.api_key is not None and s.api_key.get_secret_value() == KEY
    sources = {row["name"]: row["source"] for row in s.describe()}
    assert sources == {
        "OPENAI_API_KEY": "config file",
        "OPENAI_BASE_URL": "default",
        "STORYCOACH_MODEL": "env",
        "STORYCOACH_TIMEOUT": "env",
        "STORYCOACH_MAX_RETRIES": "default",
        "STORYCOACH_CONCURRENCY": "config file",
    }


def test_config_file_lives_in_the_app_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    path = default_config_path({})
    assert path.name == "config.toml" and path.parent == Path(typer.get_app_dir("storycoach"))
    assert default_config_path({"STORYCOACH_CONFIG": "/x/c.toml"}) == Path("/x/c.toml")
    write_config(path, 'model = "from-file"\n')
    monkeypatch.delenv("STORYCOACH_MODEL", raising=False)
    assert load_settings().model == "from-file"


@pytest.mark.parametrize(
    ("env", "file", "fragment"),
    [
        ({"STORYCOACH_TIMEOUT": "soon"}, "", "STORYCOACH_TIMEOUT: input should be a valid number"),
        ({"STORYCOACH_TIMEOUT": "0"}, "", "STORYCOACH_TIMEOUT: input should be greater than 0"),
        ({"STORYCOACH_CONCURRENCY": "0"}, "", "STORYCOACH_CONCURRENCY: input should be greater"),
        ({"OPENAI_BASE_URL": "localhost:11434"}, "", "OPENAI_BASE_URL: must be an"),
        ({}, "max_retries = -1\n", "config.toml: max_retries: input should be greater"),
        ({}, "modle = 'x'\n", "unknown setting 'modle'"),
        ({}, "model = \n", "is not valid TOML"),
    ],
)
def test_bad_values_name_their_source(
    tmp_path: Path, env: dict[str, str], file: str, fragment: str
) -> None:
    config = write_config(tmp_path / "config.toml", file)
    with pytest.raises(StorycoachError, match="^.*" + fragment.replace("(", r"\(")):
        load_settings(env, config_path=config)


def test_key_is_secret_everywhere(tmp_path: Path) -> None:
    s = load_settings({"OPENAI_API_KEY": KEY}, config_path=tmp_path / "c.toml")
    for text in (repr(s), str(s), s.model_dump_json(), json.dumps(s.describe())):
        assert KEY not in text and "FAKEFAKE" not in text
    assert mask_key(KEY) == "sk-...abcd"
    assert mask_key("short") == "***"
    with pytest.raises(StorycoachError) as info:
        load_settings({"OPENAI_API_KEY": KEY, "STORYCOACH_TIMEOUT": "x"}, config_path=None)
    assert KEY not in str(info.value)


def test_prices() -> None:
    assert model_price("gpt-4.1-mini") == (0.40, 1.60)
    assert model_price("gpt-4.1-mini-2025-04-14") == (0.40, 1.60)
    assert model_price("llama3.1:8b") is None
    assert estimate_cost("gpt-4.1-mini", 1_000_000, 1_000_000) == pytest.approx(2.0)
    assert estimate_cost("llama3.1:8b", 10, 10) is None
    assert estimate_cost("gpt-4.1-mini", None, 10) is None


# -- storycoach config --------------------------------------------------------------------------


@pytest.fixture
def config_app() -> typer.Typer:
    """`config` as the lead registers it: a top-level command of the app."""
    from storycoach.cli.config import config

    app = typer.Typer()
    app.command("config")(config)
    app.command("noop")(lambda: None)  # keep `config` a subcommand, as in the real app
    return app


def test_config_json_masks_the_key(
    config_app: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    write_config(default_config_path(), 'model = "gpt-4.1"\n')
    result = CliRunner().invoke(config_app, ["config", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert KEY not in result.output and "FAKEFAKE" not in result.output
    assert data["enabled"] is True
    assert data["config_file"] == str(default_config_path()) and data["config_file_exists"]
    assert data["settings"]["OPENAI_API_KEY"] == {"value": "sk-...abcd", "source": "env"}
    assert data["settings"]["STORYCOACH_MODEL"] == {"value": "gpt-4.1", "source": "config file"}
    assert data["settings"]["STORYCOACH_TIMEOUT"] == {"value": 60.0, "source": "default"}


def test_config_table(config_app: typer.Typer, monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(config_app, ["config"])
    assert result.exit_code == 0, result.output
    assert "OPENAI_API_KEY" in result.stdout and "(not set)" in result.stdout
    assert "model pass: off" in result.stdout and "(not created yet)" in result.stdout
    monkeypatch.setenv("OPENAI_BASE_URL", "http://user:pw@localhost:8080/v1")
    result = CliRunner().invoke(config_app, ["config"])
    assert "model pass: on (gpt-4.1-mini at localhost:8080)" in result.stdout
    assert "pw" not in result.stdout and "http://***@localhost:8080/v1" in result.stdout
