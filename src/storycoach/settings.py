"""Model settings: environment first, then `config.toml` in the app dir, then defaults.

This module must stay cheap to import and must never import `openai`: every command loads
settings to decide whether the model pass runs at all, and most runs need no model.

The API key is a `SecretStr` from the moment it is read, so it cannot leak through a repr, a
log line, an exception or a database row; `mask_key` is the only way it is ever shown, and only
as `sk-...abcd`. A local OpenAI-compatible server (Ollama, vLLM, llama.cpp, LM Studio) needs no
key: setting `OPENAI_BASE_URL` alone enables the model pass, and the client sends a placeholder.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from storycoach.errors import StorycoachError, problem
from storycoach.paths import app_dir

DEFAULT_MODEL = "gpt-4.1-mini"
OPENAI_URL = "https://api.openai.com/v1"
HINT = (
    "LLM pass skipped: set OPENAI_API_KEY (or OPENAI_BASE_URL for a local server) "
    "to add model scoring"
)
CONFIG_ENV = "STORYCOACH_CONFIG"

# field name -> environment variable; the config file uses the field names as keys.
ENV_VARS: dict[str, str] = {
    "api_key": "OPENAI_API_KEY",
    "base_url": "OPENAI_BASE_URL",
    "model": "STORYCOACH_MODEL",
    "timeout": "STORYCOACH_TIMEOUT",
    "max_retries": "STORYCOACH_MAX_RETRIES",
    "concurrency": "STORYCOACH_CONCURRENCY",
}

Source = str  # "env" | "config file" | "default"


class Settings(BaseModel):
    """The effective model settings and where each one came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key: SecretStr | None = None
    base_url: str | None = None
    model: str = DEFAULT_MODEL
    timeout: float = Field(default=60.0, gt=0, le=3600)
    max_retries: int = Field(default=3, ge=0, le=10)
    concurrency: int = Field(default=8, ge=1, le=64)
    sources: dict[str, Source] = Field(default_factory=dict, repr=False)
    config_path: Path | None = Field(default=None, repr=False)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http:// or https:// URL, e.g. http://localhost:11434/v1")
        return value

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        return value

    @property
    def enabled(self) -> bool:
        """The model pass runs with a key, or with a base URL (local servers need no key)."""
        return self.api_key is not None or self.base_url is not None

    @property
    def hint(self) -> str:
        """What to tell a user whose review ran offline because nothing is configured."""
        return HINT

    @property
    def endpoint(self) -> str:
        """The base URL requests go to."""
        return self.base_url or OPENAI_URL

    @property
    def host(self) -> str:
        """The server's host[:port], for error messages (never the path or credentials)."""
        return urlsplit(self.endpoint).netloc.rpartition("@")[2]

    def source(self, name: str) -> Source:
        return self.sources.get(name, "default")

    def describe(self) -> list[dict[str, Any]]:
        """One row per setting for `storycoach config`: safe to print, key masked."""
        rows = []
        for name, env in ENV_VARS.items():
            value: Any = getattr(self, name)
            if name == "api_key":
                value = mask_key(value.get_secret_value()) if value is not None else None
            elif name == "base_url" and value is not None:
                value = safe_url(value)
            rows.append({"name": env, "setting": name, "value": value, "source": self.source(name)})
        return rows


def mask_key(key: str) -> str:
    """`sk-...abcd`: enough to tell two keys apart, never enough to use one."""
    key = key.strip()
    if len(key) < 12:
        return "***"
    return f"{key[:3]}...{key[-4:]}"


def safe_url(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()


def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """`config.toml` in the storycoach app dir, or `$STORYCOACH_CONFIG`."""
    environ = os.environ if environ is None else environ
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV]).expanduser()
    return app_dir() / "config.toml"


def _read_config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise StorycoachError(f"cannot read the config file {path}: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise StorycoachError(f"the config file {path} is not valid TOML: {error}") from None
    unknown = sorted(set(data) - set(ENV_VARS))
    if unknown:
        raise StorycoachError(
            f"the config file {path} has an unknown setting {unknown[0]!r} "
            f"(known: {', '.join(ENV_VARS)})"
        )
    return data


def load_settings(
    environ: Mapping[str, str] | None = None, *, config_path: Path | None = None
) -> Settings:
    """Effective settings: environment variables win over the config file, which wins over
    defaults. Empty environment variables count as unset. Bad values raise one
    `StorycoachError` naming the variable or file they came from."""
    environ = os.environ if environ is None else environ
    path = config_path or default_config_path(environ)
    values: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    for name, value in _read_config(path).items():
        values[name], sources[name] = value, "config file"
    for name, env in ENV_VARS.items():
        value = environ.get(env, "").strip()
        if value:
            values[name], sources[name] = value, "env"
    try:
        return Settings(**values, sources=sources, config_path=path)
    except ValidationError as error:
        first = error.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "?"
        where = ENV_VARS.get(name, name) if sources.get(name) == "env" else f"{path}: {name}"
        shown = "***" if name == "api_key" else repr(values.get(name))
        raise StorycoachError(f"{where}: {problem(first).lower()} (got {shown})") from None


@cache
def _prices() -> dict[str, tuple[float, float]]:
    from storycoach.resources import resource_dir

    data = tomllib.loads((resource_dir("data") / "prices.toml").read_text(encoding="utf-8"))
    return {
        name: (float(row["input"]), float(row["output"]))
        for name, row in data.get("models", {}).items()
    }


_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")


def model_price(model: str) -> tuple[float, float] | None:
    """USD per 1M (input, output) tokens, or None for a model we have no price for."""
    prices = _prices()
    name = model.strip()
    return prices.get(name) or prices.get(_SNAPSHOT.sub("", name))


def estimate_cost(model: str, tokens_in: int | None, tokens_out: int | None) -> float | None:
    """The call's cost in USD from the price table; None when the model or usage is unknown."""
    price = model_price(model)
    if price is None or tokens_in is None or tokens_out is None:
        return None
    cost = (tokens_in * price[0] + tokens_out * price[1]) / 1_000_000
    return round(cost, 8) if math.isfinite(cost) else None
