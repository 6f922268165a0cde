"""Prompt files and the response schemas sent with them.

Every prompt is one Markdown file in `prompts/`: the system message, a line reading
`<!-- user -->`, then the user message, both rendered with `string.Template` (`$name`, `$$` for a
literal dollar sign). Prompts can be read, diffed and tuned without touching code; the level
bands they cite are `prompts/levels.toml` (`storycoach.levels`).

Every answer is a pydantic model, and `strict_schema` is the one way its JSON schema for strict
structured outputs is built.
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from storycoach.errors import StorycoachError

#: Characters per token for size estimates (tiktoken is not a dependency). OpenAI's rule of
#: thumb for English; it over-counts JSON and code a little, which is the safe side.
CHARS_PER_TOKEN = 4

_USER_SPLIT = re.compile(r"^<!-- user -->[ \t]*\n", re.MULTILINE)


class PromptError(StorycoachError):
    """A prompt file that cannot be rendered: a missing variable, a stray `$`."""


def render_template(text: str, name: str, values: dict[str, str]) -> str:
    """`string.Template` substitution with an error that names the variable and the file."""
    template = string.Template(text)
    try:
        return template.substitute(values)
    except KeyError as error:
        variable = error.args[0]
        raise PromptError(
            f"prompt file {name} uses ${variable}, which is not defined "
            f"(available: {', '.join('$' + k for k in sorted(values))})"
        ) from None
    except ValueError as error:
        raise PromptError(
            f"prompt file {name}: {error} (write $$ for a literal dollar sign)"
        ) from None


@dataclass(frozen=True)
class Prompt:
    """One prompt file: its system and user templates, and the file's bytes for cache keys."""

    name: str
    system: str
    user: str
    data: bytes

    def render(self, values: dict[str, str]) -> list[dict[str, str]]:
        """The system and user messages with `values` filled in."""
        return [
            {"role": "system", "content": render_template(self.system, self.name, values)},
            {"role": "user", "content": render_template(self.user, self.name, values)},
        ]


@cache
def load_prompt(path: Path) -> Prompt:
    """The prompt file at `path`, split at its `<!-- user -->` line."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PromptError(f"the prompt file {path} is missing") from None
    parts = _USER_SPLIT.split(data.decode("utf-8"))
    if len(parts) != 2:
        raise PromptError(
            f"prompt file {path.name} must have exactly one <!-- user --> line between the "
            "system and the user message"
        )
    return Prompt(path.name, parts[0].strip(), parts[1].strip(), data)


def digest(*parts: tuple[str, bytes]) -> str:
    """sha256 over named file contents, for cache keys."""
    sha = hashlib.sha256()
    for name, data in sorted(parts):
        sha.update(name.encode() + b"\0" + data + b"\0")
    return sha.hexdigest()


# -- response schemas ---------------------------------------------------------------------------


def strict_schema(schema_model: type[BaseModel]) -> dict[str, Any]:
    """A strict structured-output schema for `schema_model`: no titles or descriptions (they
    are billed as input tokens on every request), every property required, no extra keys,
    nested models as shared `$defs`."""

    def clean(node: Any) -> Any:
        if isinstance(node, list):
            return [clean(v) for v in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("title", "description", "$defs", "default"):
                continue
            if key == "properties":  # property names are data: never stripped
                out[key] = {name: clean(v) for name, v in value.items()}
            else:
                out[key] = clean(value)
        if "properties" in out:
            out["required"] = list(out["properties"])
            out["additionalProperties"] = False
        return out

    raw = schema_model.model_json_schema()
    schema: dict[str, Any] = clean(raw)
    if raw.get("$defs"):
        schema["$defs"] = {name: clean(d) for name, d in raw["$defs"].items()}
    return schema


def json_format(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The `response_format` of a strict structured-output request."""
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}


# -- fences for untrusted text ------------------------------------------------------------------


_DRAFT_TAG = re.compile(r"<\s*(/?)\s*draft", re.IGNORECASE)
_ESCAPED_DRAFT = re.compile(r"&lt;(/?)draft", re.IGNORECASE)
_BANK_TAG = re.compile(r"<\s*(/?)\s*bank", re.IGNORECASE)


def fence(draft: str) -> str:
    """Neutralise `<draft` / `</draft` inside the draft so it cannot close its own fence."""
    return _DRAFT_TAG.sub(lambda m: f"&lt;{m[1]}draft", draft)


def unfence(text: str) -> str:
    return _ESCAPED_DRAFT.sub(lambda m: f"<{m[1]}draft", text)


def bank_data(text: str) -> str:
    """One line of bank text for the prompt: whitespace collapsed, `<bank`/`</bank` inside it
    neutralised so it cannot close its own fence."""
    return _BANK_TAG.sub(lambda m: f"&lt;{m[1]}bank", " ".join(text.split()))
