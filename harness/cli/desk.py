"""The runner's side of the operator's prompts: ``paircert run`` shows them on its terminal and reads the answers.

The test side (:mod:`harness.adapters.operator.desk`) drops each prompt in a private directory; the runner polls
it from its main loop, pauses the live progress, shows what the operator must do with the TC id, the step, the
run's progress ("test 12 of 104") and a countdown, and writes back the line the person typed. A prompt nobody
answers is given up by the test side at its deadline; the runner then says so and resumes the progress.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.adapters.operator.desk import ASK_SUFFIX, PROMPTS_ENV, SHOW_SUFFIX
from harness.errors import HarnessError
from harness.report.results import RunState


@dataclass
class _Open:
    ident: str
    deadline: float
    shown_left: int = -1


def progress_words(state: RunState, nodeid: str) -> str:
    """``test 12 of 104`` for ``nodeid`` (its place in the collection), or ``test 12`` while it is unknown."""
    total = len(state.collected)
    if nodeid in state.collected:
        return f"test {state.collected.index(nodeid) + 1} of {total}"
    done = len(state.merged())
    return f"test {done + 1} of {total}" if total else f"test {done + 1}"


class PromptDesk:
    """Shows the prompts the tests leave in ``directory`` and answers them from standard input."""

    def __init__(self, directory: Path, console: Any, input_fd: int) -> None:
        self.directory = directory
        self.console = console
        self.input_fd = input_fd
        self.open_prompt: _Open | None = None
        self._typed = b""
        self._paused: Any = None

    @classmethod
    def open(cls, directory: Path, console: Any) -> PromptDesk:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        return cls(directory, console, sys.stdin.fileno())

    def environment(self) -> dict[str, str]:
        return {PROMPTS_ENV: str(self.directory)}

    def _write(self, text: str) -> None:
        out = self.console.file
        out.write(text)
        out.flush()

    # -- the main loop's turn --------------------------------------------------------------------------------

    def serve(self, state: RunState, progress: Any) -> None:
        """Show what is new in the directory, count down, and take the answer if one was typed."""
        for shown in sorted(self.directory.glob("*" + SHOW_SUFFIX)):
            self._pause(progress)
            with contextlib.suppress(OSError, ValueError):
                self._write(str(json.loads(shown.read_text(encoding="utf-8")).get("text", "")))
            with contextlib.suppress(OSError):
                shown.unlink()
        if self.open_prompt is None:
            asks = sorted(self.directory.glob("*" + ASK_SUFFIX))
            if not asks:
                if self._paused is not None and not any(self.directory.glob("*" + SHOW_SUFFIX)):
                    self._resume()
                return
            self._start(asks[0], state, progress)
        self._tick()

    def _pause(self, progress: Any) -> None:
        if self._paused is None:
            progress.pause()
            self._paused = progress

    def _resume(self) -> None:
        if self._paused is not None:
            self._paused.resume()
            self._paused = None

    def _start(self, request: Path, state: RunState, progress: Any) -> None:
        try:
            body = json.loads(request.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return  # being replaced or withdrawn: the next turn sees it again or not at all
        self._pause(progress)
        ident = str(body.get("id", request.name.removesuffix(ASK_SUFFIX)))
        where = [part for part in (str(body.get("tc") or ""), progress_words(state, str(body.get("nodeid") or "")),
                                   str(body.get("step") or "").replace("_", " ")) if part]
        self._write(f"\n>>> [{' · '.join(where)}] {body.get('message', '')}\n")
        self._flush_typed()
        self.open_prompt = _Open(ident, float(body.get("deadline") or time.time()))
        with contextlib.suppress(OSError):
            request.unlink()

    def _flush_typed(self) -> None:
        """Forget what was typed before the question."""
        self._typed = b""
        with contextlib.suppress(OSError, ValueError):
            import termios

            termios.tcflush(self.input_fd, termios.TCIFLUSH)

    def _tick(self) -> None:
        prompt = self.open_prompt
        if prompt is None:
            raise HarnessError("broken invariant: prompt is not None")
        left = prompt.deadline - time.time()
        gone = self.directory / f"{prompt.ident}.gone"
        if left <= 0 or gone.exists():
            self._write("\r>>> no answer: the test gives up on this step        \n")
            with contextlib.suppress(OSError):
                gone.unlink()
            self._close_prompt()
            return
        if int(left) != prompt.shown_left:
            prompt.shown_left = int(left)
            self._write(f"\r    {int(left):4d} s left, press Enter when done ")
        line = self._read_line()
        if line is not None:
            answer = self.directory / f"{prompt.ident}.answer"
            tmp = self.directory / f".{prompt.ident}.answer.tmp"
            tmp.write_text(line, encoding="utf-8")
            os.replace(tmp, answer)
            self._write("\n>>> thanks: going on\n")
            self._close_prompt()

    def _read_line(self) -> str | None:
        try:
            ready, _, _ = select.select([self.input_fd], [], [], 0)
            if ready:
                chunk = os.read(self.input_fd, 4096)
                self._typed += chunk if chunk else b"\n"
        except (OSError, ValueError):
            return None
        if b"\n" not in self._typed:
            return None
        line, _, self._typed = self._typed.partition(b"\n")
        return line.decode("utf-8", "replace").rstrip("\r")

    def _close_prompt(self) -> None:
        self.open_prompt = None
        self._resume()

    def close(self) -> None:
        self._resume()


__all__ = ["PromptDesk", "progress_words"]
