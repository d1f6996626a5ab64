"""Prompts that ``paircert run`` shows the person at the bench: the test side of the runner's prompt desk.

``paircert run`` runs pytest as a child without a terminal (its output is the run's log); the runner keeps the
terminal. When a person is there, it hands the child a private directory (``PAIRCERT_PROMPTS``, mode 0700) and
the operator adapter's :class:`DeskTerminal` puts each prompt there as one JSON file: the runner shows it with
the TC id, the step, the run's progress and a countdown, reads the answer from its terminal and writes it
back beside the request. Both sides poll; every wait is bounded by the prompt's timeout.

Files: ``<id>.ask.json`` ``{"id", "message", "timeout_s", "deadline", "tc", "nodeid", "step"}`` (answered by
``<id>.answer``, given up by the child with ``<id>.gone``), and ``<id>.show.json`` ``{"id", "text"}`` for
what is only shown (the QR code drawn in half blocks). Requests are written to a temporary name and renamed,
so the runner never reads half a request.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import IO, Any

from harness import evidence
from harness.adapters.contracts import AdapterError

PROMPTS_ENV = "PAIRCERT_PROMPTS"
POLL_S = 0.05
ASK_SUFFIX = ".ask.json"
SHOW_SUFFIX = ".show.json"


def write_request(directory: Path, name: str, body: dict[str, Any]) -> Path:
    """Write ``body`` as ``directory/name`` atomically (mode 0600)."""
    target = directory / name
    tmp = directory / f".{name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(body, out, ensure_ascii=False)
    os.replace(tmp, target)
    return target


def current_test() -> tuple[str, str]:
    """The TC id and node id of the test being run in this thread (empty outside a suite test)."""
    recorder = evidence.current()
    if recorder is None:
        return "", ""
    return recorder.tc_id, recorder.nodeid


class DeskTerminal:
    """The operator's terminal when ``paircert run`` keeps the real one: prompts go to the runner's desk."""

    person_present = True
    input_fd: int | None = None

    def __init__(self, directory: Path, output: IO[str] | None = None) -> None:
        self.directory = directory
        self.output = output
        self._ids = itertools.count(1)
        self._prefix = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._lock = threading.Lock()

    def _next_id(self) -> str:
        with self._lock:
            return f"{self._prefix}-{next(self._ids):04d}"

    def show(self, text: str) -> None:
        ident = self._next_id()
        try:
            write_request(self.directory, ident + SHOW_SUFFIX, {"id": ident, "text": text})
        except OSError as exc:
            raise AdapterError(f"the runner's prompt desk {self.directory} cannot be written: {exc}") from exc

    def ask(self, message: str, timeout_s: float, *, step: str = "") -> str:
        """Put the question on the desk and wait up to ``timeout_s`` for the runner to bring the answer."""
        ident = self._next_id()
        tc, nodeid = current_test()
        deadline = time.time() + timeout_s
        body = {"id": ident, "message": message, "timeout_s": timeout_s, "deadline": deadline, "tc": tc,
                "nodeid": nodeid, "step": step}
        try:
            request = write_request(self.directory, ident + ASK_SUFFIX, body)
        except OSError as exc:
            raise AdapterError(f"the runner's prompt desk {self.directory} cannot be written: {exc}") from exc
        answer = self.directory / f"{ident}.answer"
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if answer.exists():
                text = answer.read_text(encoding="utf-8")
                with contextlib.suppress(OSError):
                    answer.unlink()
                return text.rstrip("\r\n")
            time.sleep(POLL_S)
        with contextlib.suppress(OSError):
            request.unlink()
        with contextlib.suppress(OSError):
            (self.directory / f"{ident}.gone").touch()
        raise AdapterError(f"nobody answered the prompt within {timeout_s:g} s: {message}")

    def close(self) -> None:
        return None


def desk_terminal() -> DeskTerminal | None:
    """The desk ``paircert run`` offers (``PAIRCERT_PROMPTS``), if it offers one."""
    where = os.environ.get(PROMPTS_ENV)
    if not where or not Path(where).is_dir():
        return None
    return DeskTerminal(Path(where))


__all__ = ["ASK_SUFFIX", "PROMPTS_ENV", "SHOW_SUFFIX", "DeskTerminal", "current_test", "desk_terminal",
           "write_request"]
