"""`storycoach mock` driven in a real pseudo-terminal, as a person types into it.

The command runs as its own process with a pty as its terminal (stdlib `pty`/`os.openpty`), so
line discipline, echo, Ctrl-D and rich's terminal detection are the real ones. The test waits
for each screen text before typing, like pexpect's `expect`/`sendline`; the wait has a bound
only so that a broken build fails instead of hanging.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
WAIT = 60.0  # seconds: a hang bound, not a speed check


class Terminal:
    """A child process on a pty: `expect` what it shows, `send` what a person types."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = os.openpty()
        self.proc = subprocess.Popen(
            args, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True
        )
        os.close(slave)
        self.screen = ""
        self.pos = 0  # where the next `expect` starts looking, in the screen without colours

    def expect(self, text: str) -> str:
        while (found := _ANSI.sub("", self.screen).find(text, self.pos)) < 0:
            ready, _, _ = select.select([self.master], [], [], WAIT)
            if not ready:
                raise AssertionError(f"never saw {text!r}; screen:\n{self.screen}")
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # the child closed the terminal
                chunk = b""
            if not chunk:
                raise AssertionError(f"exited before {text!r}; screen:\n{self.screen}")
            self.screen += chunk.decode("utf-8", "replace")
        self.pos = found + len(text)
        return _ANSI.sub("", self.screen)

    def send(self, text: str) -> None:
        os.write(self.master, text.encode("utf-8"))

    def finish(self) -> int:
        while True:
            ready, _, _ = select.select([self.master], [], [], WAIT)
            if not ready:
                break
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                break
            if not chunk:
                break
            self.screen += chunk.decode("utf-8", "replace")
        code = self.proc.wait(timeout=WAIT)
        os.close(self.master)
        return code


def test_a_round_typed_in_a_terminal(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "STORYCOACH_", "CI"))
    }
    env.update(
        STORYCOACH_DB=str(tmp_path / "bank.db"),
        HOME=str(tmp_path),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        TERM="xterm-256color",
        COLUMNS="80",
        LINES="40",
    )
    term = Terminal(
        [sys.executable, "-m", "storycoach", "mock", "disagree-data-architecture",
         "--level", "E5", "--rounds", "2", "--time", "2"],
        env,
    )  # fmt: skip
    term.expect("End your answer with two empty lines")
    term.send("My manager and I disagreed about the design.\r")
    term.send("We talked and agreed. It went well.\r\r\r")
    screen = term.expect("Who was involved, by name")  # the first follow-up
    assert "You said “My manager”." in screen
    assert re.search(r"written in 0:\d\d; about \d+ s aloud", screen)
    term.expect("End your answer with two empty lines")
    term.send("Dana Whitfield, our engineering manager.\r\r\r")
    term.expect("When was this: month and year?")
    term.expect("End your answer with two empty lines")
    term.send("It was in August 2026.\r")
    term.send("\x04")  # Ctrl-D ends the answer
    screen = term.expect("Saved mock session #1")
    code = term.finish()
    screen = _ANSI.sub("", term.screen)
    assert "Debrief" in screen
    assert "closed by follow-up 1" in screen and "closed by follow-up 2" in screen
    assert "first answer alone: FAIL" in screen
    assert code == 1  # "We talked and agreed. It went well." is still open
