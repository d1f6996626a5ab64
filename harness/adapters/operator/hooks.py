"""How the operator adapter gets something done to a real device: a shell hook, or a person at the terminal.

Hooks are the ``[hooks]`` commands of a profile (``reset``, ``power_cycle``, ...). They run through the shell
(``shell=True``) on purpose: a hook *is* a shell command line that the profile's author wrote, with pipes,
``&&`` and ``sleep`` (``./lab/relay.sh off && sleep 2 && ./lab/relay.sh on``). Nothing the harness or a
device produced is ever pasted into that command line; what a hook needs to know comes in environment
variables (``PAIRCERT_ACTION``, ``PAIRCERT_DEVICE_UUID``, ``PAIRCERT_QR_PNG``, ...).

Secrets stay out: the hook's environment is the harness's minus every variable the profile names as a
secret (``env:NAME`` references) and every variable holding a secret value; a hook gets a secret only when
the profile maps it explicitly (``hook_env``). Output is captured, redacted and kept as evidence.

A failing hook is the lab's problem, not the device's: a nonzero exit or a timeout raises
:class:`HookFailed` (an :class:`AdapterError`, so the verdict is ERROR).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from harness.adapters.contracts import AdapterError
from harness.adapters.operator.desk import DeskTerminal, current_test, desk_terminal
from harness.errors import HarnessError
from harness.redaction import Redactor

log = logging.getLogger(__name__)

MAX_OUTPUT_CHARS = 64 * 1024
_REAP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class HookSpec:
    """A command line and how long it may take (a profile's ``Hook``, or a hook given as an adapter argument)."""

    command: str
    timeout_s: float = 60.0

    @classmethod
    def parse(cls, value: object, what: str) -> HookSpec:
        """From ``"command"``, ``{command, timeout_s}``, or anything with those attributes (``profiles.Hook``)."""
        if isinstance(value, HookSpec):
            return value
        if isinstance(value, str):
            value = {"command": value}
        if not isinstance(value, Mapping):
            value = {"command": getattr(value, "command", None), "timeout_s": getattr(value, "timeout_s", 60.0)}
        command, timeout = value.get("command"), value.get("timeout_s", 60.0)
        if not isinstance(command, str) or not command.strip():
            raise AdapterError(f"{what}: expected a shell command (a string, or a table with 'command')")
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
            raise AdapterError(f"{what}: timeout_s must be a positive number of seconds")
        return cls(command=command, timeout_s=float(timeout))


@dataclass(frozen=True)
class HookResult:
    """What a hook did: its exit status and its output (stdout and stderr together, redacted)."""

    name: str
    command: str
    returncode: int
    output: str
    duration_s: float


class HookFailed(AdapterError):
    """A hook exited nonzero or ran out of time: the lab's fault (ERROR), never the device's."""

    def __init__(self, result: HookResult, timeout_s: float, *, timed_out: bool) -> None:
        self.result = result
        self.timed_out = timed_out
        tail = result.output.strip().splitlines()[-5:]
        said = (": " + " | ".join(tail)) if tail else ""
        if timed_out:
            message = f"hook {result.name!r} ({result.command}) timed out after {timeout_s:g} s{said}"
        else:
            message = f"hook {result.name!r} ({result.command}) exited with status {result.returncode}{said}"
        super().__init__(message)


def hook_environment(base: Mapping[str, str], *, secret_names: Iterable[str], secret_values: Iterable[str],
                     extra: Mapping[str, str]) -> dict[str, str]:
    """``base`` without the secrets (by name and by value), then ``extra`` (the explicit mapping) on top."""
    names = set(secret_names)
    values = {v for v in secret_values if v}
    env = {k: v for k, v in base.items() if k not in names and v not in values}
    env.update({k: str(v) for k, v in extra.items()})
    return env


class HookRunner:
    """Runs hooks with their timeouts, in their own process group, and redacts what they print."""

    def __init__(self, *, redactor: Redactor, env: Mapping[str, str], cwd: Path | None = None) -> None:
        self.redactor = redactor
        self.env = dict(env)
        self.cwd = cwd

    def run(self, name: str, hook: HookSpec, *, env: Mapping[str, str] | None = None) -> HookResult:
        """Run ``hook``; its result when it exits 0, else :class:`HookFailed`."""
        result, timed_out = self.run_unchecked(name, hook, env=env)
        if timed_out or result.returncode != 0:
            raise HookFailed(result, hook.timeout_s, timed_out=timed_out)
        return result

    def run_unchecked(self, name: str, hook: HookSpec, *,
                      env: Mapping[str, str] | None = None) -> tuple[HookResult, bool]:
        """Run ``hook``; ``(result, timed_out)`` whatever its exit status (AdapterError if it cannot start)."""
        full_env = {**self.env, **(env or {}), "PAIRCERT_TIMEOUT_S": f"{hook.timeout_s:g}"}
        started = time.monotonic()
        log.info("running hook %s: %s (timeout %g s)", name, hook.command, hook.timeout_s)
        try:
            # shell=True: the hook is a shell command line the profile's author wrote (see the module docstring)
            proc = subprocess.Popen(hook.command, shell=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, env=full_env, cwd=self.cwd, start_new_session=True)
        except OSError as exc:
            raise AdapterError(f"hook {name!r} ({hook.command}) could not start: {exc}") from exc
        timed_out = False
        try:
            raw, _ = proc.communicate(timeout=hook.timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
            try:
                raw, _ = proc.communicate(timeout=_REAP_TIMEOUT_S)
            except subprocess.TimeoutExpired:  # a grandchild holds the pipe open: give up on its output
                raw = b""
        output = self.redactor.redact(raw[-MAX_OUTPUT_CHARS:].decode("utf-8", "replace"))
        result = HookResult(name=name, command=hook.command, returncode=proc.returncode if proc.returncode is not None
                            else -1, output=output, duration_s=round(time.monotonic() - started, 3))
        log.info("hook %s %s after %.3f s%s", name, "timed out" if timed_out else f"exited {result.returncode}",
                 result.duration_s, (":\n" + output.rstrip()) if output.strip() else "")
        return result, timed_out


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill the hook and everything it started (its own session, so its own process group)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()


class Terminal:
    """Where a person at the lab bench sees the QR and prompts and answers them, with timeouts.

    Input is read from a file descriptor by one background thread into a queue, so that waiting for an answer
    is bounded and lines typed before a prompt are not taken as its answer. The thread polls (``select``) so
    that :meth:`close` ends it without waiting for a keypress.
    """

    def __init__(self, output: IO[str], input_fd: int | None = None, *, owned: bool = False) -> None:
        self.output = output
        self.input_fd = input_fd
        self._owned = owned
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader: threading.Thread | None = None
        self._closing = threading.Event()
        self._lock = threading.Lock()

    @classmethod
    def open(cls, interactive: bool | None) -> Terminal | DeskTerminal:
        """The runner's prompt desk when ``paircert run`` keeps the terminal (:mod:`.desk`), else the controlling
        terminal (``/dev/tty``: it works even when pytest captures stdin and stdout).

        ``interactive`` False: output only (to stderr), no person. None: a person is present when there is a
        terminal. True: a person must be present (AdapterError when there is no terminal to reach them).
        """
        fallback = sys.__stderr__ or sys.stderr
        if interactive is False:
            return cls(fallback)
        desk = desk_terminal()
        if desk is not None:
            return desk
        try:
            read_fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
        except OSError:
            if interactive:
                raise AdapterError("interactive = true, but there is no terminal to prompt a person on") from None
            return cls(fallback)
        try:
            output = open("/dev/tty", "w", encoding="utf-8")  # noqa: SIM115 (closed by close())
        except OSError:
            os.close(read_fd)
            if interactive:
                raise AdapterError("interactive = true, but the terminal cannot be written to") from None
            return cls(fallback)
        return cls(output, read_fd, owned=True)

    @property
    def person_present(self) -> bool:
        return self.input_fd is not None

    def show(self, text: str) -> None:
        with self._lock:
            try:
                self.output.write(text)
                self.output.flush()
            except (OSError, ValueError) as exc:
                log.warning("could not write to the terminal: %s", exc)

    def _read_lines(self) -> None:
        fd = self.input_fd
        if fd is None:
            raise HarnessError("broken invariant: fd is not None")
        pending = b""
        while not self._closing.is_set():
            try:
                ready, _, _ = select.select([fd], [], [], 0.2)
                chunk = os.read(fd, 4096) if ready else None
            except (OSError, ValueError):
                break
            if chunk is None:
                continue
            if not chunk:
                break  # end of input
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                self._lines.put(line.decode("utf-8", "replace").rstrip("\r"))
        self._lines.put(None)

    def ask(self, message: str, timeout_s: float, *, step: str = "") -> str:
        """Show ``message`` (with the TC id and the step) and wait up to ``timeout_s`` for a line, counting down
        on the terminal; AdapterError when nobody answers."""
        if self.input_fd is None:
            raise AdapterError("no person at a terminal to ask: " + message)
        if self._reader is None:
            self._reader = threading.Thread(target=self._read_lines, name="operator-terminal", daemon=True)
            self._reader.start()
        while True:  # forget what was typed before the question
            try:
                if self._lines.get_nowait() is None:
                    self._lines.put(None)
                    break
            except queue.Empty:
                break
        tc, _ = current_test()
        where = " · ".join(part for part in (tc, step.replace("_", " ")) if part)
        self.show(f"\n>>> {'[' + where + '] ' if where else ''}{message} ({timeout_s:g} s)\n")
        end = time.monotonic() + timeout_s
        answer: str | None = None
        while True:
            left = end - time.monotonic()
            if left <= 0:
                self.show("\r>>> no answer: giving up          \n")
                raise AdapterError(f"nobody answered the prompt within {timeout_s:g} s: {message}")
            self.show(f"\r    {left:4.0f} s left ")
            try:
                answer = self._lines.get(timeout=min(1.0, left))
                break
            except queue.Empty:
                continue
        self.show("\n")
        if answer is None:
            self._lines.put(None)
            raise AdapterError(f"the terminal closed before the prompt was answered: {message}")
        return answer

    def close(self) -> None:
        self._closing.set()
        if self._reader is not None:
            self._reader.join(timeout=2)
        if self._owned:
            with contextlib.suppress(OSError, ValueError):
                self.output.close()
            if self.input_fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self.input_fd)


__all__ = ["HookFailed", "HookResult", "HookRunner", "HookSpec", "Terminal", "hook_environment"]
