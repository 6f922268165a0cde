"""A loopback OpenAI-compatible chat-completions server for the bench and the socket tests.

It answers `POST /v1/chat/completions` after `delay` seconds with a valid structured review:
it reads the criterion ids from the request's JSON schema and quotes the draft (found between
the `<draft>` tags) verbatim, so the coach's validation passes. It records what it received,
including the size of the prompt without the draft, which is how the bench reports the
instruction size per review. Standard library only; binds 127.0.0.1 on a free port.

    with FakeOpenAI(delay=1.0) as server:
        os.environ["OPENAI_BASE_URL"] = server.base_url
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_DRAFT = re.compile(r"<draft>\n(.*)\n</draft>", re.DOTALL)


def _quote_from(draft: str) -> str:
    """A verbatim span of the draft: the start of its first line of prose."""
    for line in draft.splitlines():
        line = line.strip()
        if len(line) >= 12 and not line.startswith(("#", "---", "*", "-")):
            return line[:60].strip()
    return draft.strip()[:60]


def review_answer(body: dict[str, Any], score: int = 4, verdict: str = "pass") -> dict[str, Any]:
    """The structured answer a well-behaved model would give for this request."""
    schema = body["response_format"]["json_schema"]["schema"]
    ids = schema["properties"]["criteria"]["required"]
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    match = _DRAFT.search(user)
    draft = match[1] if match else ""
    quote = _quote_from(draft)
    return {
        "criteria": {
            cid: {"score": score, "quote": quote, "fix": f"Sharpen {cid}."} for cid in ids
        },
        "judge_instructions": [],
        "reason": "Clear ownership with a measured result.",
        "verdict": verdict,
        "weakest_sentence": quote,
        "rewrite": quote,
    }


class FakeOpenAI:
    """`with FakeOpenAI(delay=1.0) as server:` -> `server.base_url`, `server.requests`."""

    def __init__(self, delay: float = 0.0, score: int = 4, verdict: str = "pass") -> None:
        self.delay = delay
        self.score = score
        self.verdict = verdict
        self.requests: list[dict[str, Any]] = []
        self.arrivals: list[float] = []  # time.perf_counter() at each request
        self.instruction_chars: list[int] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls on keep-alive
            wbufsize = -1  # headers and body leave in one write (flushed per request)

            def log_message(self, *args: Any) -> None:  # keep test and bench output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self.path.endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                fake._received(body)
                with fake._lock:
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    time.sleep(fake.delay)
                    content = json.dumps(review_answer(body, fake.score, fake.verdict))
                    prompt = sum(len(m["content"]) for m in body["messages"])
                    self._send(
                        200,
                        {
                            "id": "chatcmpl-fake",
                            "object": "chat.completion",
                            "created": int(time.time()),
                            "model": body.get("model", "fake"),
                            "choices": [
                                {
                                    "index": 0,
                                    "message": {
                                        "role": "assistant",
                                        "content": content,
                                        "refusal": None,
                                    },
                                    "finish_reason": "stop",
                                }
                            ],
                            "usage": {
                                "prompt_tokens": math.ceil(prompt / 4),
                                "completion_tokens": math.ceil(len(content) / 4),
                                "total_tokens": math.ceil(prompt / 4) + math.ceil(len(content) / 4),
                            },
                        },
                    )
                finally:
                    with fake._lock:
                        fake.in_flight -= 1

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test); nothing to do

        ThreadingHTTPServer.request_queue_size = 128  # (default 5 drops bursts of connects)
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def _received(self, body: dict[str, Any]) -> None:
        user = next((m["content"] for m in body.get("messages", []) if m["role"] == "user"), "")
        match = _DRAFT.search(user)
        total = sum(len(m["content"]) for m in body.get("messages", []))
        with self._lock:
            self.arrivals.append(time.perf_counter())
            self.requests.append(body)
            self.instruction_chars.append(total - (len(match[1]) if match else 0))

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
