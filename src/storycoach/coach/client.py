"""The model client: one structured-output request, its retries, and their accounting.

Users pay per token, so a request costs exactly one call unless the network or the model
misbehaves, and then every attempt is counted and returned as a `CallRecord` (the bank stores
them for cost reporting). Retries are ours, not the SDK's (`max_retries=0` in `make_client`),
so each one is visible: transient faults (429, 5xx, timeouts, refused connections) back off
exponentially with jitter up to `settings.max_retries`; an answer that is not valid JSON or does
not match the schema gets exactly one repair request; refusals, truncated answers and 401/403/404
stop at once. Every failure ends in one `ModelError` line with the attempts attached.

`ModelClient.complete_json` is that loop, in three steps: `_send` (one timed attempt, or the
classified fault), `_classify` (which faults are worth another try) and `_check` (the reply as
a validated answer, a repairable bad answer, or a final failure).

This is the only module that imports `openai`, and only inside functions: offline commands
never pay ~0.3 s for it.
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from storycoach.coach.prompts import json_format, strict_schema
from storycoach.errors import ModelError, StorycoachError, first_error
from storycoach.models import CallRecord
from storycoach.settings import Settings, estimate_cost

if TYPE_CHECKING:
    import openai
    from openai.types.chat import ChatCompletion

#: The longest `Retry-After` we honour; a server asking for more is not retried.
MAX_RETRY_AFTER = 60.0
#: Exponential backoff: BACKOFF_BASE * 2**n seconds, capped, times a jitter in [0.5, 1].
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
#: A local server needs no key, but the SDK insists on one.
PLACEHOLDER_KEY = "storycoach-no-key"
#: How much of a broken answer is echoed back in the repair request.
REPAIR_ECHO = 8000

_M = TypeVar("_M", bound=BaseModel)


def make_client(settings: Settings) -> openai.OpenAI:
    """The one place an OpenAI client is built (and `openai` imported).

    `max_retries=0`: retries are ours so each attempt is counted and recorded. openai is pinned
    `<3` because 3.x sends through httpx2, which respx cannot intercept in tests; to lift the pin,
    pass `http_client=httpx.Client(...)` here.
    """
    if not settings.enabled:
        raise StorycoachError(settings.hint)
    import openai  # the only import of openai, and only here: ~0.3 s offline commands never pay

    key = settings.api_key.get_secret_value() if settings.api_key else PLACEHOLDER_KEY
    return openai.OpenAI(
        api_key=key,
        base_url=settings.endpoint,
        timeout=settings.timeout,
        max_retries=0,
    )


def _create(client: openai.OpenAI, *, body: dict[str, Any]) -> ChatCompletion:
    """`POST /chat/completions`, parsed into the SDK's `ChatCompletion`.

    The same request `client.chat.completions.create(**body)` sends, through the SDK's
    documented low-level `client.post` (README: "Making custom/undocumented requests"), so
    auth, timeouts and the SDK's error classes all apply. Why not `client.chat`: its first use
    imports every resource module of the SDK (`openai.resources`, ~0.4 s), on top of ~0.45 s
    for `import openai`, and a CLI run pays that on every `review`.
    """
    from openai.types.chat import ChatCompletion

    return client.post("/chat/completions", body=body, cast_to=ChatCompletion)


# -- outcomes of one attempt --------------------------------------------------------------------


@dataclass
class _Fault:
    """A request that raised: whether another try may help, what is stored, what is shown."""

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


class _BadAnswer(Exception):
    """A reply that is not the JSON asked for: worth one repair request."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind  # "json" | "schema"
        self.detail = detail


class _GiveUp(Exception):
    """A reply that no repair can fix: a refusal, a cut-off answer, not a chat completion."""

    def __init__(self, message: str, record: str) -> None:
        super().__init__(message)
        self.message = message
        self.record = record


def parse_json(content: str | None, schema_model: type[_M]) -> _M:
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


# -- the client ---------------------------------------------------------------------------------


class ModelClient:
    """Structured-output requests to the configured model. Thread-safe."""

    def __init__(
        self,
        settings: Settings,
        client: openai.OpenAI | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self._client = client
        self._lock = threading.Lock()
        self._sleep = sleep
        self._jitter = jitter

    @property
    def client(self) -> openai.OpenAI:
        with self._lock:
            if self._client is None:
                self._client = make_client(self.settings)
            return self._client

    def _scrub(self, text: str) -> str:
        """Belt and braces: no message we produce may carry the key, whatever a server echoes."""
        key = self.settings.api_key.get_secret_value() if self.settings.api_key else ""
        return text.replace(key, "***") if key else text

    def complete_json(
        self,
        messages: Sequence[dict[str, str]],
        schema_model: type[_M],
        *,
        name: str,
        schema: dict[str, Any] | None = None,
        check: Callable[[_M], None] | None = None,
        task: str = "answer",
    ) -> tuple[_M, list[CallRecord]]:
        """One structured-output request: `messages` in, a validated `schema_model` out.

        The one implementation of retries, repair and call accounting, for every kind of
        request. `name` names the JSON schema sent (`strict_schema(schema_model)` unless
        `schema` is given); `check` validates further and raises `ValueError` with what is
        wrong; `task` completes "the model refused to ..." in error messages.

        Transient faults back off and retry up to `settings.max_retries`; an answer that is not
        JSON, not `schema_model` or fails `check` gets one repair request; anything else stops.
        Returns the answer and one `CallRecord` per attempt; raises `ModelError` with `.calls`.
        """
        body = {
            "model": self.settings.model,
            "temperature": 0,
            "response_format": json_format(name, schema or strict_schema(schema_model)),
        }
        client = self.client  # built (and openai imported) outside the timed attempts
        calls: list[CallRecord] = []
        sending = list(messages)
        retries = 0
        repaired = False
        while True:
            sent = self._send(client, {**body, "messages": sending}, calls)
            if isinstance(sent, _Fault):
                if sent.retryable and retries < self.settings.max_retries:
                    self._sleep(sent.delay if sent.delay is not None else self._backoff(retries))
                    retries += 1
                    continue
                raise self._give_up(sent.final(retries), calls)
            try:
                return self._check(sent, schema_model, check, task, calls[-1]), calls
            except _GiveUp as stop:
                calls[-1].error = stop.record
                raise self._give_up(stop.message, calls) from None
            except _BadAnswer as bad:
                calls[-1].status = "retry"
                calls[-1].error = self._scrub(f"invalid answer: {bad.detail}")
                if repaired:
                    what = "invalid JSON" if bad.kind == "json" else "an answer off the schema"
                    raise self._give_up(
                        f"the model returned {what} twice (model {self.settings.model}): "
                        f"{clip(bad.detail)}",
                        calls,
                    ) from None
                repaired = True
                sending = _repair(messages, sent, bad)

    # -- the steps --

    def _send(self, client: openai.OpenAI, body: dict[str, Any], calls: list[CallRecord]) -> Any:
        """One timed attempt: the completion, or the `_Fault` it raised (both recorded)."""
        model = self.settings.model
        started = time.monotonic()
        try:
            completion = _create(client, body=body)
        except Exception as error:  # classified; unknown errors re-raise
            latency = _ms(started)
            fault = self._classify(error)
            calls.append(
                CallRecord(model=model, status="retry", error=fault.record, latency_ms=latency)
            )
            return fault
        latency = _ms(started)
        usage = getattr(completion, "usage", None)
        tokens_in = _int_or_none(getattr(usage, "prompt_tokens", None))
        tokens_out = _int_or_none(getattr(usage, "completion_tokens", None))
        cost = estimate_cost(model, tokens_in, tokens_out)
        calls.append(
            CallRecord(
                model=model,
                status="ok",
                tokens_in=tokens_in,
                tokens_out=tokens_out,
                latency_ms=latency,
                cost_usd=cost,
            )
        )
        return completion

    def _check(
        self,
        completion: ChatCompletion,
        schema_model: type[_M],
        check: Callable[[_M], None] | None,
        task: str,
        record: CallRecord,
    ) -> _M:
        """The completion's answer, validated; `_BadAnswer` to repair, `_GiveUp` to stop."""
        model = self.settings.model
        choices = getattr(completion, "choices", None)
        choice = choices[0] if isinstance(choices, list) and choices else None
        message = getattr(choice, "message", None)
        if message is None:
            raise _GiveUp(
                f"the model server at {self.settings.host} did not answer with a chat "
                "completion (is OPENAI_BASE_URL an OpenAI-compatible /v1 endpoint?)",
                "not a chat completion",
            )
        if getattr(message, "refusal", None):
            raise _GiveUp(
                f"the model refused to {task} (model {model}): {clip(message.refusal)}", "refusal"
            )
        finish_reason = getattr(choice, "finish_reason", None)
        if finish_reason == "length":
            raise _GiveUp(
                f"the model's answer was cut off at its output limit "
                f"(finish_reason=length, model {model})",
                "truncated (finish_reason=length)",
            )
        if finish_reason == "content_filter":
            raise _GiveUp(
                f"the model's content filter stopped the answer (model {model})", "content filter"
            )
        answer = parse_json(message.content, schema_model)
        if check is not None:
            try:
                check(answer)
            except ValueError as error:
                raise _BadAnswer("schema", str(error)) from None
        return answer

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
        suffix = f": {clip(detail)}" if detail else ""
        return _Fault(False, record, f"the model server rejected the request ({status}){suffix}")

    def _backoff(self, retries: int) -> float:
        return min(BACKOFF_CAP, BACKOFF_BASE * 2.0**retries) * (0.5 + self._jitter() / 2)

    def _give_up(self, message: str, calls: list[CallRecord]) -> ModelError:
        if calls:
            calls[-1].status = "error"
        return ModelError(self._scrub(message), calls)


def _repair(
    messages: Sequence[dict[str, str]], completion: ChatCompletion, bad: _BadAnswer
) -> list[dict[str, str]]:
    """The first request again, the rejected answer (clipped: a runaway answer must not be paid
    for twice) and what was wrong with it."""
    content = completion.choices[0].message.content or ""
    return [
        *messages,
        {"role": "assistant", "content": content[:REPAIR_ECHO]},
        {
            "role": "user",
            "content": (
                f"Your answer was rejected: {bad.detail}. Reply with only a JSON "
                "object that matches the response schema exactly: every required "
                "key, no extra keys, no Markdown fences."
            ),
        },
    ]


def _retry_after(headers: Mapping[str, str]) -> float | None:
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


def _server_detail(error: openai.APIStatusError) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if message:
            return clip(str(message))
    return ""


def clip(text: str | None, limit: int = 200) -> str:
    """`text` on one line, at most `limit` characters ("…" where it was cut)."""
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
