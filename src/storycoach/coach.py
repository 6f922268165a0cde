"""The LLM coach: one structured-output request per draft, validated, merged, never trusted.

Users pay per token, so a draft costs exactly one request unless the network or the model
misbehaves, and then every attempt is counted and returned as a `CallRecord` (the bank stores
them for cost reporting). Retries are ours, not the SDK's (`max_retries=0` in `make_client`),
so each one is visible: transient faults (429, 5xx, timeouts, refused connections) back off
exponentially with jitter up to `settings.max_retries`; an answer that is not valid JSON or does
not match the schema gets exactly one repair request; refusals, truncated answers and 401/403/404
stop at once. Every failure ends in one `ModelError` line with the attempts attached. That loop
is `Coach.complete_json` (messages and a pydantic model in, the validated answer and its
`CallRecord`s out); `score` and `propose_links` (one batched request for `coverage --llm`:
which candidate stories answer which gap questions) are both built on it.

The judged draft is untrusted: it is fenced in `<draft>` tags (a closing tag inside it is
neutralised), the system prompt says instructions inside it are content, and nothing the model
says is taken on trust: quotes must be verbatim in the draft or the score does not count, the
pass/fail verdict is computed here (`verdict`), and deterministic rubric errors always stand
(`merge`). The model's own "pass" is advice.

Prompts are files in `prompts/` rendered with `string.Template`, so they can be read, diffed and
tuned without touching code; the criteria they carry come from the same rubric files the
deterministic engine reads. This module never imports `openai` at import time: only
`make_client` does, so offline commands do not pay ~0.3 s for it.
"""

from __future__ import annotations

import gc
import hashlib
import json
import math
import random
import re
import string
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from storycoach.errors import ModelError, StorycoachError, first_error
from storycoach.models import CriterionScore, Finding, LlmReview, Question, Verdict
from storycoach.resources import resource_dir
from storycoach.settings import Settings, estimate_cost

if TYPE_CHECKING:
    import openai

__all__ = [
    "CallRecord",
    "Coach",
    "LinkAnswer",
    "LinkProposal",
    "LinkRequest",
    "PromptError",
    "make_client",
    "merge",
    "render_template",
    "strict_schema",
    "verdict",
]

#: Bump when the request or the answer's interpretation changes, so old cache entries expire.
CACHE_VERSION = 1
#: A score at or below this fails the review, whatever the model's own verdict says.
FAIL_AT_OR_BELOW = 2
#: The mean of the verified scores must reach this for a pass.
PASS_MEAN = 3.0
#: The criterion id under which instructions aimed at the judge are reported.
INJECTION = "prompt-injection"
#: The longest `Retry-After` we honour; a server asking for more is not retried.
MAX_RETRY_AFTER = 60.0
#: Exponential backoff: BACKOFF_BASE * 2**n seconds, capped, times a jitter in [0.5, 1].
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
#: A local server needs no key, but the SDK insists on one.
PLACEHOLDER_KEY = "storycoach-no-key"
#: Criteria the model does not score: they are arithmetic on facts the model cannot see or
#: does badly (the word count; today's date against the story's), which the rubric engine
#: checks exactly. Sending them would cost ~100 input tokens each and invite spurious fails.
DETERMINISTIC_ONLY = frozenset({"spoken-length", "story-age"})
#: How much of a broken answer is echoed back in the repair request.
REPAIR_ECHO = 8000
#: Characters per token for size estimates (tiktoken is not a dependency). OpenAI's rule of
#: thumb for English; it over-counts JSON and code a little, which is the safe side.
CHARS_PER_TOKEN = 4


_M = TypeVar("_M", bound=BaseModel)


class PromptError(StorycoachError):
    """A prompt file that cannot be rendered: a missing variable, a stray `$`."""


@dataclass
class CallRecord:
    """One request to the model, as stored in `llm_calls`. Never holds the key or the draft."""

    model: str
    status: str  # "ok" | "error" | "retry"
    error: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    latency_ms: int | None = None
    cost_usd: float | None = None


# -- client -------------------------------------------------------------------------------------


def make_client(settings: Settings) -> openai.OpenAI:
    """The one place an OpenAI client is built (and `openai` imported).

    `max_retries=0`: retries are ours so each attempt is counted and recorded. openai is pinned
    `<3` because 3.x sends through httpx2, which respx cannot intercept in tests; to lift the pin,
    pass `http_client=httpx.Client(...)` here.
    """
    if not settings.enabled:
        raise StorycoachError(settings.hint)
    openai = _import_openai()

    key = settings.api_key.get_secret_value() if settings.api_key else PLACEHOLDER_KEY
    return openai.OpenAI(
        api_key=key,
        base_url=settings.endpoint,
        timeout=settings.timeout,
        max_retries=0,
    )


def _import_openai() -> Any:
    """`import openai` with the cyclic GC paused, then `gc.freeze()`.

    The SDK builds ~2,000 pydantic classes on import; they live until exit anyway, but the
    collector walks them repeatedly during the import and once more at interpreter exit. In
    a CLI run that is ~0.1 s of the import and ~0.2 s of exit (measured with
    bench/bench_llm_bulk.py). Freezing moves everything alive now to the permanent
    generation: only cyclic garbage created before this point is never collected.
    """
    fresh = "openai" not in sys.modules
    was_enabled = gc.isenabled()
    if fresh:
        gc.disable()
    try:
        import openai  # a plain import: waits if another thread is mid-import
    finally:
        if fresh:
            gc.freeze()
            if was_enabled:
                gc.enable()
    return openai


def _create(client: openai.OpenAI, *, body: dict[str, Any]) -> Any:
    """`POST /chat/completions`, parsed into the SDK's `ChatCompletion`.

    The same request `client.chat.completions.create(**body)` sends, through the SDK's
    documented low-level `client.post` (README: "Making custom/undocumented requests"), so
    auth, timeouts and the SDK's error classes all apply. Why not `client.chat`: its first use
    imports every resource module of the SDK (`openai.resources`, ~0.4 s), on top of ~0.45 s
    for `import openai`, and a CLI run pays that on every `review`.
    """
    from openai.types.chat import ChatCompletion

    return client.post("/chat/completions", body=body, cast_to=ChatCompletion)


# -- prompt files -------------------------------------------------------------------------------


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
class _Prompts:
    directory: Path
    system: str
    user: str
    bands: dict[str, dict[str, Any]]
    default_level: str
    digest: str


_REVIEW_FILES = ("review_system.md", "review_user.md", "levels.toml")


@cache
def _load_prompts(directory: Path) -> _Prompts:
    files = {}
    for needed in _REVIEW_FILES:
        try:
            files[needed] = (directory / needed).read_bytes()
        except FileNotFoundError:
            raise PromptError(f"the prompt file {directory / needed} is missing") from None
    # The review's files only (sorted, as before, so existing cache keys stay valid): other
    # prompts, such as suggest_links.md, do not shape a review and must not expire its cache.
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name] + b"\0")
    try:
        levels = tomllib.loads(files["levels.toml"].decode("utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise PromptError(f"the prompt file {directory / 'levels.toml'}: {error}") from None
    bands = {}
    for key, band in levels.get("bands", {}).items():
        for level in band.get("levels", [key]):
            bands[level] = band
    return _Prompts(
        directory=directory,
        system=files["review_system.md"].decode("utf-8"),
        user=files["review_user.md"].decode("utf-8"),
        bands=bands,
        default_level=str(levels.get("default", "E5")),
        digest=digest.hexdigest(),
    )


_DRAFT_TAG = re.compile(r"<\s*(/?)\s*draft", re.IGNORECASE)
_ESCAPED_TAG = re.compile(r"&lt;(/?)draft", re.IGNORECASE)


def fence(draft: str) -> str:
    """Neutralise `<draft` / `</draft` inside the draft so it cannot close its own fence."""
    return _DRAFT_TAG.sub(lambda m: f"&lt;{m[1]}draft", draft)


def unfence(text: str) -> str:
    return _ESCAPED_TAG.sub(lambda m: f"<{m[1]}draft", text)


def _format_question(question: Question | None) -> str:
    if question is None:
        return "none given: judge it as a general behavioral answer."
    lines = [question.text]
    if question.probing:
        lines.append(f"What the interviewer is really probing: {question.probing}")
    if question.probes:
        lines.append("A strong answer covers:")
        lines.extend(f"- {probe}" for probe in question.probes)
    return "\n".join(lines)


def judged(criteria: Sequence[Any]) -> list[Any]:
    """The criteria the model scores: all applicable ones but `DETERMINISTIC_ONLY`, or those
    whose rubric file says `llm = false` (honoured if the rubric model grows that field)."""
    return [
        c
        for c in criteria
        if c.id not in DETERMINISTIC_ONLY and getattr(c, "llm", True) is not False
    ]


def _format_criteria(criteria: Sequence[Any]) -> str:
    if not criteria:
        return "(none: give the criteria object no entries)"
    blocks = []
    for c in criteria:
        anchors = " | ".join(f"{score}: {text}" for score, text in sorted(c.anchors.items()))
        blocks.append(f"- {c.id}: {c.title}\n  Good: {c.good}\n  {anchors}")
    return "\n".join(blocks)


# -- answer schema ------------------------------------------------------------------------------


class _Judgement(BaseModel):
    """The model's answer for one criterion."""

    model_config = ConfigDict(extra="forbid")

    score: Literal[1, 2, 3, 4, 5]
    quote: str
    fix: str


class _Answer(BaseModel):
    """The model's whole answer; `criteria` is keyed by criterion id (see `answer_schema`)."""

    model_config = ConfigDict(extra="forbid")

    criteria: dict[str, _Judgement]
    judge_instructions: list[str]
    reason: str
    verdict: Literal["pass", "fail"]
    weakest_sentence: str
    rewrite: str


def _strip_titles(schema: Any) -> Any:
    """Drop titles and docstring descriptions: they cost input tokens on every request."""
    if isinstance(schema, dict):
        return {
            k: _strip_titles(v)
            for k, v in schema.items()
            if k not in ("title", "description", "$defs")
        }
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema


def answer_schema(criterion_ids: Sequence[str]) -> dict[str, Any]:
    """A strict JSON schema for `_Answer` with one required property per criterion.

    Strict structured outputs need `additionalProperties: false` and every property required;
    keying `criteria` by id makes the server (where it enforces the schema) return exactly one
    judgement per criterion, no more, no fewer.
    """
    schema = _strip_titles(_Answer.model_json_schema())
    # One shared definition, referenced per criterion: the schema is billed as input tokens on
    # every request, and inlining it would cost ~60 tokens per criterion instead of ~8.
    schema["$defs"] = {"judgement": _strip_titles(_Judgement.model_json_schema())}
    schema["properties"]["criteria"] = {
        "type": "object",
        "properties": {cid: {"$ref": "#/$defs/judgement"} for cid in criterion_ids},
        "required": list(criterion_ids),
        "additionalProperties": False,
    }
    schema["required"] = list(schema["properties"])
    schema["additionalProperties"] = False
    return {
        key: schema[key]
        for key in ("type", "properties", "required", "additionalProperties", "$defs")
    }


def strict_schema(schema_model: type[BaseModel]) -> dict[str, Any]:
    """A strict structured-output schema for `schema_model`: no titles or descriptions (they
    are billed as input tokens on every request), every property required, no extra keys,
    nested models as shared `$defs`."""

    def clean(node: Any) -> Any:
        if isinstance(node, list):
            return [clean(v) for v in node]
        if not isinstance(node, dict):
            return node
        out = {}
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
    schema = clean(raw)
    if raw.get("$defs"):
        schema["$defs"] = {name: clean(d) for name, d in raw["$defs"].items()}
    return schema


def _json_format(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}


def _response_format(criterion_ids: Sequence[str]) -> dict[str, Any]:
    return _json_format("story_review", answer_schema(criterion_ids))


class _BadAnswer(Exception):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind  # "json" | "schema"
        self.detail = detail


def _parse_json(content: str | None, schema_model: type[_M]) -> _M:
    """The answer text as a validated `schema_model`; `_BadAnswer` says what is wrong."""
    text = (content or "").strip()
    if text.startswith("```"):  # some local models fence JSON despite the schema
        text = re.sub(r"\A```[a-zA-Z]*\s*|\s*```\Z", "", text)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise _BadAnswer("json", f"not valid JSON ({error.msg} at line {error.lineno})") from None
    try:
        return schema_model.model_validate(data)
    except ValidationError as error:
        raise _BadAnswer("schema", first_error(error, "answer")) from None


def _check_criteria(answer: _Answer, criterion_ids: Sequence[str]) -> None:
    """One judgement per criterion, no more, no fewer (servers that ignore the schema)."""
    missing = [cid for cid in criterion_ids if cid not in answer.criteria]
    extra = [cid for cid in answer.criteria if cid not in criterion_ids]
    if missing:
        raise ValueError(f"criteria: missing {missing}")
    if extra:
        raise ValueError(f"criteria: unknown {extra}")


# -- quotes -------------------------------------------------------------------------------------

_FOLD = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201b": "'",
        "\u2032": "'",
        "`": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u00a0": " ",
    }
)
_QUOTE_EDGES = "\"'“”‘’`«» \t\r\n"


def _normalise(text: str) -> tuple[str, list[int]]:
    """Fold quote marks, dashes, case and whitespace runs; map each output char to its source."""
    out: list[str] = []
    where: list[int] = []
    in_space = False
    for index, char in enumerate(text):
        if char.isspace():
            if not in_space and out:
                out.append(" ")
                where.append(index)
            in_space = True
            continue
        in_space = False
        for folded in char.translate(_FOLD).lower():
            out.append(folded)
            where.append(index)
    while out and out[-1] == " ":
        out.pop()
        where.pop()
    return "".join(out), where


def locate(quote: str, draft: str) -> tuple[int, int] | None:
    """The span of `draft` that `quote` copies, ignoring whitespace, quote-mark, dash and case
    differences (and quote marks or ellipses around it); None if it is not in the draft."""
    core = quote.strip(_QUOTE_EDGES)
    core = re.sub(r"\A(\.\.\.|…)\s*|\s*(\.\.\.|…)\Z", "", core).strip(_QUOTE_EDGES)
    needle, _ = _normalise(core)
    if len(needle) < 3:
        return None
    hay, where = _normalise(draft)
    start = hay.find(needle)
    if start < 0:
        return None
    return where[start], where[start + len(needle) - 1] + 1


def _line_col(draft: str, offset: int) -> tuple[int, int]:
    line = draft.count("\n", 0, offset) + 1
    column = offset - (draft.rfind("\n", 0, offset) + 1) + 1
    return line, column


# -- redaction ----------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"PERSON_(\d+)\b")
_CAPITALISED = re.compile(r"(?<![\w'’-])[A-Z][a-z]+(?:-[A-Z]?[a-z]+)?(?![\w-])")
_PERSON_CONTEXT = re.compile(
    r"(?<![\w'’-])([A-Z][a-z]+)(?=,?\s+(?:said|says|told|asked|agreed|replied|suggested|wrote|"
    r"objected|argued|decided|approved|pushed|and I\b|\())"
    r"|\b(?:told|asked|emailed|pinged|messaged|thanked|convinced|persuaded|with|by|from|"
    r"manager|lead|PM|engineer|director),?\s+([A-Z][a-z]+)(?![\w-])"
)
_PAIR = re.compile(r"(?<![\w'’-])([A-Z][a-z]+) ([A-Z][a-z]+(?:-[A-Z][a-z]+)?)(?![\w-])")


@cache
def _lexicon(name: str) -> frozenset[str]:
    """A word list shipped with the rubrics (the names rule's own), lower-cased; empty if the
    rubric package does not ship it."""
    try:
        path = resource_dir("rubrics") / "lexicon" / name
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, FileNotFoundError):
        return frozenset()
    return frozenset(
        line.strip().casefold() for line in lines if line.strip() and not line.startswith("#")
    )


def _detect_names(draft: str, known: Iterable[str]) -> list[str]:
    """People's names in the draft, for redaction: the known names (the story's `people`),
    capitalised words on the rubric's given-names list (minus its not-people list), capitalised
    words in a person's context ("Julia said", "told Okafor"), a given name followed by a
    capitalised surname, and each full name's words where they stand alone.
    Errs towards redacting too much: a redacted word is restored in the output anyway.
    In order of first appearance, the longer name first at the same place."""
    given = _lexicon("given-names.txt")
    not_people = _lexicon("not-people.txt")

    def is_given(word: str) -> bool:
        key = word.casefold()
        return key in given and key not in not_people

    full = {name.strip() for name in known if len(name.strip()) >= 2}
    for first, last in _PAIR.findall(draft):
        if is_given(first) and last.casefold() not in not_people:
            full.add(f"{first} {last}")
    names = set(full)
    for name in full:
        names.update(
            part
            for part in name.split()
            if len(part) > 2 and part[0].isupper() and part.casefold() not in not_people
        )
    names.update(word for word in _CAPITALISED.findall(draft) if is_given(word))
    hard_blocked = not_people - given  # tools, companies, calendar words: never people
    for match in _PERSON_CONTEXT.finditer(draft):
        word = match[1] or match[2]
        if word.casefold() not in hard_blocked and len(word) > 2:
            names.add(word)
    found = []
    for name in names:
        match = re.search(rf"(?<!\w){re.escape(name)}(?!\w)", draft)
        if match:
            found.append((match.start(), -len(name), name))
    return [name for _, _, name in sorted(found)]


@dataclass
class _Redaction:
    """Names swapped for PERSON_n placeholders before sending, and swapped back after."""

    names: dict[str, str] = field(default_factory=dict)  # placeholder -> name

    @classmethod
    def build(cls, draft: str, known: Iterable[str]) -> tuple[_Redaction, str]:
        names = _detect_names(draft, known)
        placeholders = {name: f"PERSON_{index}" for index, name in enumerate(names, start=1)}
        text = draft
        for name in sorted(names, key=len, reverse=True):  # "Priya Raman" before "Priya"
            pattern = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)")
            text = pattern.sub(placeholders[name], text)
        return cls({p: n for n, p in placeholders.items()}), text

    def restore(self, text: str) -> str:
        if not self.names:
            return text
        return _PLACEHOLDER.sub(lambda m: self.names.get(m[0], m[0]), text)


# -- link suggestions (coverage --llm) ----------------------------------------------------------

#: The prompt for `coverage --llm`: the system message, a `<!-- user -->` line, the user message.
LINKS_PROMPT = "suggest_links.md"
_USER_SPLIT = re.compile(r"^<!-- user -->[ \t]*\n", re.MULTILINE)
#: Bump when the link request or the reading of its answer changes, so old cache entries expire.
LINKS_CACHE_VERSION = 1
#: Stories the model may propose per question (it sees up to ~5 candidates per question).
MAX_PROPOSALS = 3
#: Words of each candidate's STAR summary: enough to judge fit, one request for the whole map.
SUMMARY_WORDS = 60
TITLE_CHARS = 100
REASON_CHARS = 240


class _LinkPick(BaseModel):
    model_config = ConfigDict(extra="forbid")

    story: int
    reason: str
    confidence: Literal[1, 2, 3, 4, 5]


class _QuestionLinks(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str
    stories: list[_LinkPick]


class LinkAnswer(BaseModel):
    """The model's answer to a link request, validated before anything else reads it."""

    model_config = ConfigDict(extra="forbid")

    questions: list[_QuestionLinks]


@dataclass(frozen=True)
class LinkProposal:
    """One story the model proposes for one question, and why (its words, clipped)."""

    question: str
    story: int
    reason: str
    confidence: int


@dataclass(frozen=True)
class LinkRequest:
    """One batched link request: the messages, the story ids offered per question (the only
    ids an answer may use) and the cache key over everything that shapes the answer."""

    messages: list[dict[str, str]]
    offered: dict[str, tuple[int, ...]]
    key: str


@cache
def _load_links_prompt(path: Path) -> tuple[str, str, str]:
    """(system, user, whole file text) of the link prompt."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PromptError(f"the prompt file {path} is missing") from None
    parts = _USER_SPLIT.split(text)
    if len(parts) != 2:
        raise PromptError(
            f"prompt file {path.name} must have exactly one <!-- user --> line between the "
            "system and the user message"
        )
    return parts[0].strip(), parts[1].strip(), text


_BANK_TAG = re.compile(r"<\s*(/?)\s*bank", re.IGNORECASE)


def _bank_data(text: str) -> str:
    """One line of bank text for the prompt: whitespace collapsed, `<bank`/`</bank` inside it
    neutralised so it cannot close its own fence."""
    return _BANK_TAG.sub(lambda m: f"&lt;{m[1]}bank", " ".join(text.split()))


def story_summary(story: Any, words: int = SUMMARY_WORDS) -> str:
    """The story's STAR text in at most `words` words, shared fairly between the four parts
    (a long situation cannot crowd out the action and result), "…" where a part was cut."""
    parts = [
        (label, (getattr(story, name) or "").split())
        for label, name in (("S", "situation"), ("T", "task"), ("A", "action"), ("R", "result"))
    ]
    take = dict.fromkeys(range(len(parts)), 0)
    left = words
    open_ = [i for i, (_, w) in enumerate(parts) if w]
    while left > 0 and open_:
        share = max(1, left // len(open_))
        for i in open_:
            grant = min(share, len(parts[i][1]) - take[i], left)
            take[i] += grant
            left -= grant
        open_ = [i for i in open_ if take[i] < len(parts[i][1])]
    out = []
    for i, (label, w) in enumerate(parts):
        if take[i]:
            cut = " ".join(w[: take[i]]) + (" …" if take[i] < len(w) else "")
            out.append(f"{label}: {cut}")
    return " ".join(out)


def _format_link_stories(stories: Sequence[Any]) -> str:
    lines = []
    for s in stories:
        lines.append(f"#{s.id} {_bank_data(_clip(s.title, TITLE_CHARS))}")
        lines.append(f"  {_bank_data(story_summary(s))}")
    return "\n".join(lines)


def _format_link_questions(asks: Sequence[tuple[Question, Sequence[int]]]) -> str:
    blocks = []
    for q, ids in asks:
        lines = [f"- id: {_bank_data(q.id)}", f"  text: {_bank_data(q.text)}"]
        probing = q.probing or "; ".join(q.probes[:2])
        if probing:
            lines.append(f"  probing: {_bank_data(probing)}")
        lines.append("  candidates: " + ", ".join(f"#{i}" for i in ids))
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def filter_links(answer: LinkAnswer, offered: dict[str, tuple[int, ...]]) -> list[LinkProposal]:
    """The proposals that stand: questions that were asked, stories that were offered for that
    question (any other id is dropped, not trusted), each once, at most `MAX_PROPOSALS` per
    question in the model's order, then highest confidence first."""
    out: list[LinkProposal] = []
    done: set[str] = set()
    for item in answer.questions:
        allowed = offered.get(item.question)
        if allowed is None or item.question in done:
            continue
        done.add(item.question)
        kept: list[LinkProposal] = []
        for pick in item.stories:
            if pick.story not in allowed or any(k.story == pick.story for k in kept):
                continue
            reason = _clip(pick.reason, REASON_CHARS)
            kept.append(LinkProposal(item.question, pick.story, reason, pick.confidence))
        out.extend(sorted(kept[:MAX_PROPOSALS], key=lambda k: -k.confidence))
    return out


# -- the coach ----------------------------------------------------------------------------------


@dataclass
class _Request:
    messages: list[dict[str, str]]
    sent_draft: str
    redaction: _Redaction
    criterion_ids: list[str]


class Coach:
    """Scores drafts and proposes story links with the configured model. Thread-safe: `score`
    may run concurrently."""

    def __init__(
        self,
        settings: Settings,
        client: openai.OpenAI | None = None,
        *,
        prompts_dir: Path | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self._client = client
        self._lock = threading.Lock()
        self._prompts_dir = Path(prompts_dir) if prompts_dir else None
        self._sleep = sleep
        self._jitter = jitter

    # -- plumbing --

    @property
    def client(self) -> openai.OpenAI:
        with self._lock:
            if self._client is None:
                self._client = make_client(self.settings)
            return self._client

    def _prompts(self) -> _Prompts:
        return _load_prompts(self._prompts_dir or resource_dir("prompts"))

    def _scrub(self, text: str) -> str:
        """Belt and braces: no message we produce may carry the key, whatever a server echoes."""
        key = self.settings.api_key.get_secret_value() if self.settings.api_key else ""
        return text.replace(key, "***") if key else text

    # -- prompt --

    def build_messages(
        self,
        draft: str,
        *,
        criteria: Sequence[Any],
        question: Question | None,
        level: str | None,
    ) -> list[dict[str, str]]:
        """The system and user messages for one draft (already redacted if need be)."""
        prompts = self._prompts()
        band = prompts.bands.get(level or prompts.default_level)
        if band is None:
            raise PromptError(f"levels.toml has no band for level {level!r}")
        band_name = band.get("name", level)
        if level is None:
            band_name = f"not given; judge against {band_name}"
        values = {
            "question": _format_question(question),
            "level_band": band_name,
            "level_expects": band.get("expects", ""),
            "criteria": _format_criteria(judged(criteria)),
            "draft": fence(draft),
        }
        system = render_template(prompts.system, "review_system.md", values)
        user = render_template(prompts.user, "review_user.md", values)
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def instruction_tokens(
        self, *, criteria: Sequence[Any], question: Question | None, level: str | None
    ) -> int:
        """Estimated prompt size without the draft, at `CHARS_PER_TOKEN` characters a token.

        Counts the system and user messages only; the JSON schema in `response_format` is
        billed as input too (see `schema_tokens`)."""
        messages = self.build_messages("", criteria=criteria, question=question, level=level)
        return math.ceil(sum(len(m["content"]) for m in messages) / CHARS_PER_TOKEN)

    def schema_tokens(self, criteria: Sequence[Any]) -> int:
        """Estimated size of the response schema sent with every request."""
        ids = [c.id for c in judged(criteria)]
        schema = json.dumps(_response_format(ids), separators=(",", ":"))
        return math.ceil(len(schema) / CHARS_PER_TOKEN)

    def cache_key(
        self,
        draft: str,
        *,
        criteria: Sequence[Any],
        question: Question | None,
        level: str | None,
    ) -> str:
        """sha256 over everything that shapes the answer: the draft, the criteria (their rubric
        files' bytes), every prompt file, the model and server, the level and the question.
        Never the key, the timeout or the retry settings, which do not change the answer."""
        payload = {
            "version": CACHE_VERSION,
            "draft": draft,
            "criteria": [_criterion_fingerprint(c) for c in judged(criteria)],
            "prompts": self._prompts().digest,
            "model": self.settings.model,
            "endpoint": self.settings.endpoint,
            "level": level,
            "question": None
            if question is None
            else {
                "id": question.id,
                "text": question.text,
                "probing": question.probing,
                "probes": question.probes,
            },
        }
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def _request(
        self,
        draft: str,
        *,
        criteria: Sequence[Any],
        question: Question | None,
        level: str | None,
        redact: bool,
        redact_names: Iterable[str] | None,
    ) -> _Request:
        redaction = _Redaction()
        sent = draft
        if redact:
            redaction, sent = _Redaction.build(draft, redact_names or ())
        messages = self.build_messages(sent, criteria=criteria, question=question, level=level)
        return _Request(messages, sent, redaction, [c.id for c in judged(criteria)])

    # -- scoring --

    def score(
        self,
        draft: str,
        *,
        criteria: Sequence[Any],
        question: Question | None,
        level: str | None,
        redact: bool = False,
        redact_names: Iterable[str] | None = None,
        on_send: Callable[[str, list[CallRecord]], object] | None = None,
    ) -> tuple[LlmReview, list[CallRecord]]:
        """One model review of `draft` against `criteria` (already filtered with `applicable`;
        the model scores those of them not in `DETERMINISTIC_ONLY`).

        Returns the validated review and one `CallRecord` per attempt. Raises `ModelError` with
        `.calls` attached when the model cannot give a usable answer within the retry budget.
        With `redact`, people's names (`redact_names` plus detected ones) are replaced by
        PERSON_n before sending and restored in the returned review.
        """
        request = self._request(
            draft,
            criteria=criteria,
            question=question,
            level=level,
            redact=redact,
            redact_names=redact_names,
        )
        ids = request.criterion_ids
        answer, calls = self.complete_json(
            request.messages,
            _Answer,
            name="story_review",
            schema=answer_schema(ids),
            check=lambda parsed: _check_criteria(parsed, ids),
            task="review the draft",
            on_send=on_send,
        )
        return self._review(answer, request, calls), calls

    # -- the request loop --

    def complete_json(
        self,
        messages: Sequence[dict[str, str]],
        schema_model: type[_M],
        *,
        name: str,
        schema: dict[str, Any] | None = None,
        check: Callable[[_M], None] | None = None,
        task: str = "answer",
        on_send: Callable[[str, list[CallRecord]], object] | None = None,
    ) -> tuple[_M, list[CallRecord]]:
        """One structured-output request: `messages` in, a validated `schema_model` out.

        The one implementation of retries, repair and call accounting, for every kind of
        request. `name` names the JSON schema sent (`strict_schema(schema_model)` unless
        `schema` is given); `check` validates further and raises `ValueError` with what is
        wrong; `task` completes "the model refused to ..." in error messages.

        Transient faults back off and retry up to `settings.max_retries`; an answer that is not
        JSON, not `schema_model` or fails `check` gets one repair request; anything else stops.
        Returns the answer and one `CallRecord` per attempt; raises `ModelError` with `.calls`.
        `on_send(model, calls)` runs before each attempt is sent, with the attempts so far, so
        the caller can record it first (a paid request is never unrecorded) and complete the
        earlier ones; the n-th call matches the n-th `CallRecord`.
        """
        body = {
            "model": self.settings.model,
            "temperature": 0,
            "response_format": _json_format(name, schema or strict_schema(schema_model)),
        }
        first = list(messages)
        sending = first
        model = self.settings.model
        calls: list[CallRecord] = []
        retries = 0
        repaired = False
        client = self.client  # built (and openai imported) outside the timed attempts

        def give_up(message: str) -> ModelError:
            if calls:
                calls[-1].status = "error"
            error = ModelError(self._scrub(message))
            error.calls = calls  # type: ignore[attr-defined]
            return error

        while True:
            if on_send is not None:
                on_send(model, calls)
            started = time.monotonic()
            try:
                completion = _create(client, body={**body, "messages": sending})
            except Exception as error:  # classified below; unknown errors re-raise
                latency = _ms(started)
                fault = self._classify(error)
                calls.append(CallRecord(model, "retry", fault.record, latency_ms=latency))
                if fault.retryable and retries < self.settings.max_retries:
                    self._sleep(fault.delay if fault.delay is not None else self._backoff(retries))
                    retries += 1
                    continue
                raise give_up(fault.final(retries)) from None

            latency = _ms(started)
            usage = getattr(completion, "usage", None)
            tokens_in = _int_or_none(getattr(usage, "prompt_tokens", None))
            tokens_out = _int_or_none(getattr(usage, "completion_tokens", None))
            record = CallRecord(
                model,
                "ok",
                None,
                tokens_in,
                tokens_out,
                latency,
                estimate_cost(model, tokens_in, tokens_out),
            )
            calls.append(record)
            choices = getattr(completion, "choices", None)
            choice = choices[0] if isinstance(choices, list) and choices else None
            message = getattr(choice, "message", None)
            if message is None:
                record.error = "not a chat completion"
                raise give_up(
                    f"the model server at {self.settings.host} did not answer with a chat "
                    "completion (is OPENAI_BASE_URL an OpenAI-compatible /v1 endpoint?)"
                )
            if getattr(message, "refusal", None):
                record.error = "refusal"
                raise give_up(
                    f"the model refused to {task} (model {model}): {_clip(message.refusal)}"
                )
            if choice.finish_reason == "length":
                record.error = "truncated (finish_reason=length)"
                raise give_up(
                    f"the model's answer was cut off at its output limit "
                    f"(finish_reason=length, model {model})"
                )
            if choice.finish_reason == "content_filter":
                record.error = "content filter"
                raise give_up(f"the model's content filter stopped the answer (model {model})")
            try:
                answer = _parse_json(message.content, schema_model)
                if check is not None:
                    try:
                        check(answer)
                    except ValueError as error:
                        raise _BadAnswer("schema", str(error)) from None
            except _BadAnswer as bad:
                record.status, record.error = "retry", self._scrub(f"invalid answer: {bad.detail}")
                if repaired:
                    what = "invalid JSON" if bad.kind == "json" else "an answer off the schema"
                    raise give_up(
                        f"the model returned {what} twice (model {model}): {_clip(bad.detail)}"
                    ) from None
                repaired = True
                sending = [
                    *first,
                    # Clipped: a runaway answer must not be paid for twice.
                    {"role": "assistant", "content": (message.content or "")[:REPAIR_ECHO]},
                    {
                        "role": "user",
                        "content": (
                            f"Your answer was rejected: {bad.detail}. Reply with only a JSON "
                            "object that matches the response schema exactly: every required "
                            "key, no extra keys, no Markdown fences."
                        ),
                    },
                ]
                continue
            return answer, calls

    def _review(self, answer: _Answer, request: _Request, calls: list[CallRecord]) -> LlmReview:
        """Validate quotes against the text that was sent, restore names, total the usage."""
        restore = request.redaction.restore

        def verbatim(quote: str) -> str:
            span = locate(quote, request.sent_draft)
            if span is None:
                return ""
            return restore(unfence(request.sent_draft[span[0] : span[1]]))

        scores = [
            CriterionScore(
                criterion=cid,
                score=answer.criteria[cid].score,
                quote=verbatim(answer.criteria[cid].quote),
                fix=restore(unfence(answer.criteria[cid].fix)),
            )
            for cid in request.criterion_ids
        ]
        for instruction in answer.judge_instructions:
            quote = verbatim(instruction)
            if quote:
                scores.append(
                    CriterionScore(
                        criterion=INJECTION,
                        score=1,
                        quote=quote,
                        fix="Remove the text addressed to the reviewer: it was not followed, "
                        "and in an interview it reads as gaming the process.",
                    )
                )
                break
        tokens_in = _total(c.tokens_in for c in calls)
        tokens_out = _total(c.tokens_out for c in calls)
        costs = [c.cost_usd for c in calls if c.cost_usd is not None]
        return LlmReview(
            model=self.settings.model,
            criteria=scores,
            verdict=answer.verdict,
            reason=restore(unfence(answer.reason)),
            rewrite=restore(unfence(answer.rewrite)),
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            latency_ms=sum(c.latency_ms or 0 for c in calls),
            cost_usd=round(sum(costs), 8) if costs else None,
        )

    # -- link suggestions --

    def _links_prompt(self) -> tuple[str, str, str]:
        return _load_links_prompt((self._prompts_dir or resource_dir("prompts")) / LINKS_PROMPT)

    def link_request(
        self, asks: Sequence[tuple[Question, Sequence[int]]], stories: Sequence[Any]
    ) -> LinkRequest:
        """One request for every question in `asks` (each with the ids of its candidate
        stories, best first); `stories` are the candidates themselves, each sent once.

        The cache key is a sha256 over the prompt file's text, the model and server, the
        response schema and the messages, which carry each question's id, text and probing
        and each candidate's id, title and summary: exactly what the model sees, nothing else.
        """
        system, user, text = self._links_prompt()
        wanted = {i for _, ids in asks for i in ids}
        sent = sorted((s for s in stories if s.id in wanted), key=lambda s: s.id)
        values = {
            "max_proposals": str(MAX_PROPOSALS),
            "stories": _format_link_stories(sent),
            "questions": _format_link_questions(asks),
        }
        messages = [
            {"role": "system", "content": render_template(system, LINKS_PROMPT, values)},
            {"role": "user", "content": render_template(user, LINKS_PROMPT, values)},
        ]
        payload = {
            "version": LINKS_CACHE_VERSION,
            "prompt": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "model": self.settings.model,
            "endpoint": self.settings.endpoint,
            "schema": strict_schema(LinkAnswer),
            "messages": messages,
        }
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False)
        return LinkRequest(
            messages=messages,
            offered={q.id: tuple(ids) for q, ids in asks},
            key=hashlib.sha256(blob.encode("utf-8")).hexdigest(),
        )

    def propose_links(self, request: LinkRequest) -> tuple[list[LinkProposal], list[CallRecord]]:
        """Ask the model once (plus retries and one repair, see `complete_json`); returns the
        proposals that survive `filter_links` and one `CallRecord` per attempt."""
        answer, calls = self.complete_json(
            request.messages, LinkAnswer, name="link_suggestions", task="propose links"
        )
        return filter_links(answer, request.offered), calls

    def link_instruction_tokens(self) -> int:
        """Estimated size of the link request without any question or story."""
        empty = self.link_request([], [])
        return math.ceil(sum(len(m["content"]) for m in empty.messages) / CHARS_PER_TOKEN)

    def _backoff(self, retries: int) -> float:
        return min(BACKOFF_CAP, BACKOFF_BASE * 2**retries) * (0.5 + self._jitter() / 2)

    def _classify(self, error: Exception) -> _Fault:
        import openai  # already imported by the client that raised

        s = self.settings
        model, host = s.model, s.host
        if isinstance(error, openai.APITimeoutError):
            return _Fault(True, "timeout", f"model request timed out after {s.timeout:g} s")
        if isinstance(error, openai.APIConnectionError):
            return _Fault(
                True,
                "connection error",
                f"cannot connect to the model server at {host}",
            )
        if not isinstance(error, openai.APIStatusError):
            raise error
        status = error.status_code
        detail = self._scrub(_server_detail(error))
        record = f"HTTP {status}" + (f": {detail}" if detail else "")
        if status == 429:
            if getattr(error, "code", None) == "insufficient_quota":
                return _Fault(False, record, "the account behind the API key is out of quota (429)")
            delay = _retry_after(error.response.headers)
            if delay is not None and delay > MAX_RETRY_AFTER:
                return _Fault(
                    False,
                    record,
                    f"rate-limited by the model server (429); it asks to wait {delay:.0f} s",
                )
            return _Fault(True, record, "rate-limited by the model server (429)", delay=delay)
        if status >= 500 or status in (408, 409):
            return _Fault(True, record, f"the model server failed ({status})")
        if status == 401:
            return _Fault(False, record, "the API key was rejected (401)")
        if status == 403:
            return _Fault(False, record, f"the API key may not use model '{model}' (403)")
        if status == 404:
            return _Fault(False, record, f"model '{model}' not found at {host}")
        suffix = f": {_clip(detail)}" if detail else ""
        return _Fault(False, record, f"the model server rejected the request ({status}){suffix}")


@dataclass
class _Fault:
    retryable: bool
    record: str
    message: str
    delay: float | None = None

    def final(self, retries: int) -> str:
        """The one line the user sees: "... after 3 retries" or "... (4 attempts)"."""
        if not self.retryable or retries == 0:
            return self.message
        if " after " in self.message:
            return f"{self.message} ({retries + 1} attempts)"
        return f"{self.message} after {retries} {'retry' if retries == 1 else 'retries'}"


def _retry_after(headers: Any) -> float | None:
    """Seconds to wait from `retry-after-ms` or `Retry-After` (seconds; dates are ignored)."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / scale
        except ValueError:
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None


def _server_detail(error: Any) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if message:
            return _clip(str(message))
    return ""


def _clip(text: str | None, limit: int = 200) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _total(values: Iterable[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _criterion_fingerprint(criterion: Any) -> Any:
    """A criterion's rubric file bytes when it has one (what the engine read), else its fields."""
    path = getattr(criterion, "path", None)
    if path is not None:
        try:
            return {"id": criterion.id, "file": hashlib.sha256(Path(path).read_bytes()).hexdigest()}
        except OSError:
            pass
    if isinstance(criterion, BaseModel):
        return criterion.model_dump(mode="json")
    return {k: v for k, v in vars(criterion).items() if not k.startswith("_")}


# -- merging and the verdict --------------------------------------------------------------------

_INJECTION_PATTERNS = re.compile(
    r"\b(ignore|disregard|forget)\b[^.\n]{0,40}\b(rubric|instructions?|criteria|prompt|rules)\b"
    r"|\b(give|award|score|rate)\b[^.\n]{0,30}\b(perfect|full|maximum|top|5/5|10/10)\b[^.\n]{0,15}"
    r"\b(score|marks?|points|rating)\b"
    r"|\bverdict\s*[:=]\s*\"?pass\b"
    r"|\b(as an ai|language model|dear (reviewer|grader|judge))\b",
    re.IGNORECASE,
)


def judge_instructions(draft: str) -> list[tuple[int, int]]:
    """Spans of text in the draft that address the judge ("ignore the rubric", "verdict: pass").

    A deterministic backstop: a model that falls for an injection also fails to report it."""
    return [m.span() for m in _INJECTION_PATTERNS.finditer(draft)]


def merge(
    findings: list[Finding],
    llm: LlmReview,
    *,
    draft: str | None = None,
    line_offset: int = 0,
) -> list[Finding]:
    """The deterministic findings, unchanged, plus the model's (source="llm"), sorted by line.

    A criterion scored <= 2 becomes a warning whose message is the model's fix; a model "fail"
    becomes an error `keeper-test` with its reason; text addressed to the judge becomes an error
    `prompt-injection`; a high score without a verbatim quote gets an info note that it did not
    count. With `draft` (and the line offset of its front matter), quotes get a line and column.
    """
    merged = list(findings)

    def at(quote: str | None) -> tuple[int | None, int | None, str | None]:
        if not quote:
            return None, None, None
        if draft is None:
            return None, None, quote
        span = locate(quote, draft)
        if span is None:
            return None, None, quote
        line, column = _line_col(draft, span[0])
        return line + line_offset, column, draft[span[0] : span[1]]

    injected = False
    for item in llm.criteria:
        line, column, quote = at(item.quote)
        if item.criterion == INJECTION:
            injected = True
            merged.append(
                Finding(
                    rule=INJECTION,
                    severity="error",
                    message=f"the draft addresses the reviewer; {item.fix}",
                    line=line,
                    column=column,
                    quote=quote,
                    source="llm",
                )
            )
        elif item.score <= FAIL_AT_OR_BELOW:
            merged.append(
                Finding(
                    rule=item.criterion,
                    severity="warning",
                    message=f"model score {item.score}/5: {item.fix}",
                    line=line,
                    column=column,
                    quote=quote,
                    source="llm",
                )
            )
        elif not item.quote:
            merged.append(
                Finding(
                    rule=item.criterion,
                    severity="info",
                    message=(
                        f"model score {item.score}/5 not counted: its evidence is not a verbatim "
                        "quote from the draft"
                    ),
                    source="llm",
                )
            )
    if draft is not None and not injected:
        for start, end in judge_instructions(draft)[:1]:
            line, column = _line_col(draft, start)
            merged.append(
                Finding(
                    rule=INJECTION,
                    severity="error",
                    message="the draft addresses the reviewer; remove that text: it was not "
                    "followed, and in an interview it reads as gaming the process",
                    line=line + line_offset,
                    column=column,
                    quote=draft[start:end],
                    source="llm",
                )
            )
    if llm.verdict == "fail":
        merged.append(
            Finding(
                rule="keeper-test",
                severity="error",
                message=f"Keeper Test: fail. {llm.reason}",
                source="llm",
            )
        )
    big = 1 << 30
    return sorted(merged, key=lambda f: (f.line or big, f.column or 0))


def verdict(findings: list[Finding], llm: LlmReview | None) -> Verdict:
    """Pass or fail, computed here, never taken from the judge.

    Fails on any error finding (deterministic ones included: the model cannot clear them), on a
    model "fail", on text addressed to the judge, on any criterion scored <= 2, and when the
    mean of the *verified* scores (those backed by a verbatim quote) is below 3 or there are
    none. A high score without evidence counts for nothing; a low one counts regardless.
    """
    if any(f.severity == "error" for f in findings):
        return "fail"
    if llm is None:
        return "pass"
    if llm.verdict == "fail":
        return "fail"
    scored = [c for c in llm.criteria if c.criterion != INJECTION]
    if len(scored) != len(llm.criteria):
        return "fail"
    if any(c.score <= FAIL_AT_OR_BELOW for c in scored):
        return "fail"
    if scored:
        verified = [c.score for c in scored if c.quote]
        if not verified or sum(verified) / len(verified) < PASS_MEAN:
            return "fail"
    return "pass"
