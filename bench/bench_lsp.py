"""The language server in a warm process: didChange -> publishDiagnostics, and idle memory.

A bare JSON-RPC client (standard library only, so the client adds nothing to the figures)
starts `storycoach lsp` on a throwaway bank, opens a 500-word draft and times, per edit, the
wall time from writing the `didChange` to reading the `publishDiagnostics` for that version:

- single edits, each after a pause longer than the debounce (how a writer usually edits):
  the server checks at once. Target: p95 <= 20 ms.
- typing bursts (an edit every 30 ms): the server waits for the pause, so the figure is the
  debounce (150 ms by default) plus the check, counted from the burst's last edit.

Then it opens 50 different drafts and reads the idle server's resident memory (VmRSS).
Linux only (/proc). Run from the repository: `.venv/bin/python bench/bench_lsp.py`.
"""

from __future__ import annotations

import json
import os
import queue
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

from bench_review import make_draft

ROOT = Path(__file__).resolve().parent.parent


class Client:
    """Just enough LSP over stdio: framed JSON-RPC out, a reader thread for what comes back."""

    def __init__(self, cmd: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=ROOT
        )
        assert self.proc.stdin and self.proc.stdout
        self.stdin: IO[bytes] = self.proc.stdin
        self.inbox: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        self._id = 0
        threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True).start()

    def _read(self, stream: IO[bytes]) -> None:
        while True:
            length = 0
            while True:
                line = stream.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            message = json.loads(stream.read(length))
            self.inbox.put((time.perf_counter(), message))

    def send(self, message: dict[str, Any]) -> float:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        sent = time.perf_counter()
        self.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.stdin.flush()
        return sent

    def request(self, method: str, params: Any) -> Any:
        self._id += 1
        self.send({"id": self._id, "method": method, "params": params})
        while True:
            _, message = self.inbox.get(timeout=30)
            if message.get("id") == self._id and "method" not in message:
                return message.get("result")

    def notify(self, method: str, params: Any) -> float:
        return self.send({"method": method, "params": params})

    def diagnostics(self, uri: str, version: int) -> tuple[float, list[Any]]:
        """When the diagnostics of `uri` at `version` arrived, and what they were."""
        while True:
            at, message = self.inbox.get(timeout=30)
            if message.get("method") == "textDocument/publishDiagnostics":
                params = message["params"]
                if params["uri"] == uri and params.get("version") == version:
                    return at, params["diagnostics"]

    def rss_kib(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
        return int(line.split()[1])

    def close(self) -> None:
        self.request("shutdown", None)
        self.notify("exit", None)
        self.proc.wait(timeout=10)


def draft_of(words: int, rng: random.Random) -> str:
    """A story file of `words` words: front matter, STAR headings, paragraphs of 3 sentences."""
    sentences: list[str] = []
    while sum(len(x.split()) for x in sentences) < words:
        sentences += make_draft(rng).replace(". ", ".\n").split("\n")
    kept, count = [], 0
    for sentence in sentences:
        if count >= words:
            break
        kept.append(sentence)
        count += len(sentence.split())
    paragraphs = [" ".join(kept[i : i + 3]) for i in range(0, len(kept), 3)]
    quarter = max(1, len(paragraphs) // 4)
    parts = ["---", "level: E5", "---"]
    for index, heading in enumerate(("Situation", "Task", "Action", "Result")):
        chunk = paragraphs[index * quarter : None if index == 3 else (index + 1) * quarter]
        parts += [f"## {heading}", "", "\n\n".join(chunk), ""]
    return "\n".join(parts)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    rng = random.Random(13)
    work = Path(tempfile.mkdtemp(prefix="storycoach-bench-lsp-"))
    env = {
        **os.environ,
        "HOME": str(work),
        "XDG_CONFIG_HOME": str(work / "config"),
        "STORYCOACH_DB": str(work / "bank.db"),
    }
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        env.pop(name, None)
    client = Client([sys.executable, "-m", "storycoach", "lsp"], env)
    capabilities = client.request(
        "initialize", {"processId": os.getpid(), "rootUri": work.as_uri(), "capabilities": {}}
    )["capabilities"]
    sync = capabilities["textDocumentSync"]
    incremental = (sync["change"] if isinstance(sync, dict) else sync) == 2
    client.notify("initialized", {})

    text = draft_of(500, rng)
    path = work / "draft.md"
    path.write_text(text)
    uri = path.as_uri()
    version = 1
    client.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "markdown", "version": 1, "text": text}},
    )
    _, first = client.diagnostics(uri, 1)
    last_line = text.count("\n") - 1
    end = len(text.split("\n")[last_line])  # ASCII: characters are UTF-16 units

    def edit(word: str) -> float:
        """Append a word at the end of the draft's last line, as the server asked to be told:
        the edit alone (incremental sync) or the whole new text (full sync)."""
        nonlocal version, end, text
        version += 1
        position = {"line": last_line, "character": end}
        lines = text.split("\n")
        lines[last_line] += f" {word}"
        text = "\n".join(lines)
        end += len(word) + 1
        change: dict[str, Any] = {"text": text}
        if incremental:
            change = {"range": {"start": position, "end": position}, "text": f" {word}"}
        return client.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]},
        )

    words = ["better", "improved", "latency", "Priya", "2024", "we", "I", "shipped"]
    single: list[float] = []
    for index in range(120):
        time.sleep(0.2)  # a pause longer than the 150 ms debounce
        sent = edit(words[index % len(words)])
        arrived, _ = client.diagnostics(uri, version)
        if index >= 20:  # the first 20 warm the process
            single.append((arrived - sent) * 1000)

    burst: list[float] = []
    for _ in range(15):
        time.sleep(0.4)
        for index in range(8):
            sent = edit(words[index])
            time.sleep(0.03)
        # The first edit of a burst is checked at once; wait for the last one's.
        arrived, _ = client.diagnostics(uri, version)
        burst.append((arrived - sent) * 1000)

    idle_before = client.rss_kib()
    for index in range(50):
        other = work / f"draft-{index}.md"
        body = draft_of(rng.randint(300, 500), rng)
        other.write_text(body)
        client.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": other.as_uri(),
                    "languageId": "markdown",
                    "version": 1,
                    "text": body,
                }
            },
        )
        client.diagnostics(other.as_uri(), 1)
    time.sleep(1.0)
    idle_after = client.rss_kib()
    client.close()

    print(
        f"500-word draft, {len(first)} diagnostics on open, "
        f"{'incremental' if incremental else 'full'} document sync"
    )
    print(
        f"didChange -> publishDiagnostics, single edits ({len(single)}): "
        f"median {statistics.median(single):.1f} ms, p95 {percentile(single, 95):.1f} ms, "
        f"max {max(single):.1f} ms (target p95 <= 20 ms)"
    )
    print(
        f"typing bursts ({len(burst)}), from the last edit: median "
        f"{statistics.median(burst):.1f} ms, p95 {percentile(burst, 95):.1f} ms "
        "(debounce 150 ms + the check)"
    )
    print(
        f"idle RSS: {idle_before / 1024:.1f} MiB with one draft open, "
        f"{idle_after / 1024:.1f} MiB after opening 50 more drafts"
    )


if __name__ == "__main__":
    main()
