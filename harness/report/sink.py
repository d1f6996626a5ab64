"""The runner's side of a pytest run: a pytest plugin ``paircert run`` loads with ``-p harness.report.sink``.

It does three things, each only when the runner asked for it through the environment:

- ``PAIRCERT_SECRETS_SINK``: every secret met at run time (:func:`harness.redaction.learn`, in the controller
  and in every xdist worker) is appended to this private file (mode 0600, outside the report directory), so
  that the runner's final sweep knows the cloud's issued keys too. The runner deletes the file afterwards.
- pytest's reports are redacted before junitxml, the terminal or xdist see them: failure texts, skip reasons,
  captured output and user properties lose every secret known so far (the sink file is re-read first, so a
  controller also knows what its workers learned).
- ``PAIRCERT_EVENTS`` (controller only): what was collected, what started and finished, and pytest's reports,
  as JSON lines the live display follows.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import pytest

from harness import redaction
from harness.report.secretfeed import EVENTS_ENV, SECRETS_ENV, SecretFeed, read_secret_lines

if TYPE_CHECKING:
    from harness.adapters.contracts import World

_MESSAGE_LIMIT = 2000


class SinkRedactor(redaction.Redactor):
    """A redactor that also appends each newly learned secret to a file, and learns what others appended."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._file_lock = threading.Lock()
        self._feed = SecretFeed(path, lambda secret: redaction.Redactor.add(self, secret))

    def add(self, secret: object) -> None:
        before = len(self)
        super().add(secret)
        if len(self) == before:
            return
        getter = getattr(secret, "get_secret_value", None)
        value = getter() if callable(getter) else secret
        if isinstance(value, bytes | bytearray):
            value = bytes(value).decode("utf-8", "replace")
        line = json.dumps({"secret": str(value)}) + "\n"
        with self._file_lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)

    def refresh(self) -> None:
        """Learn the secrets other processes appended since the last refresh."""
        with self._file_lock:
            self._feed.refresh()




class _Sink:
    def __init__(self, config: pytest.Config) -> None:
        self.is_worker = hasattr(config, "workerinput")
        secrets_path = os.environ.get(SECRETS_ENV)
        self.redactor: SinkRedactor | None = SinkRedactor(Path(secrets_path)) if secrets_path else None
        if self.redactor is not None:
            redaction.register(self.redactor)
        events_path = os.environ.get(EVENTS_ENV)
        self.events: TextIO | None = None
        if events_path and not self.is_worker:
            self.events = open(events_path, "a", encoding="utf-8")  # noqa: SIM115 (closed at unconfigure)
        self.collected_written = False
        self._lock = threading.Lock()

    def emit(self, **event: Any) -> None:
        if self.events is None:
            return
        line = json.dumps(event, ensure_ascii=False, default=str)
        with self._lock:
            self.events.write(line + "\n")
            self.events.flush()

    def redact(self, text: str) -> str:
        return self.redactor.redact(text) if self.redactor is not None else text

    def clean(self, report: pytest.TestReport) -> None:
        """Remove known secrets from everything a report carries, before anyone writes it."""
        if self.redactor is None:
            return
        self.redactor.refresh()
        if not len(self.redactor):
            return
        longrepr = report.longrepr
        if isinstance(longrepr, tuple) and len(longrepr) == 3:
            report.longrepr = (longrepr[0], longrepr[1], self.redact(str(longrepr[2])))
        elif longrepr is not None:
            text = str(longrepr)
            cleaned = self.redact(text)
            if cleaned != text:
                report.longrepr = cleaned
        report.sections = [(title, self.redact(content)) for title, content in report.sections]
        report.user_properties = [(name, self.redactor.redact_obj(value)) for name, value in report.user_properties]

    def close(self) -> None:
        if self.redactor is not None:
            redaction.unregister(self.redactor)
        if self.events is not None:
            self.events.close()
            self.events = None


_KEY = pytest.StashKey[_Sink]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_KEY] = _Sink(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    sink = config.stash.get(_KEY, None)
    if sink is not None:
        sink.close()


def pytest_collection_finish(session: pytest.Session) -> None:
    sink = session.config.stash[_KEY]
    if session.items and not sink.collected_written:
        sink.collected_written = True
        sink.emit(event="collected", nodeids=[item.nodeid for item in session.items])


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    sink = node.config.stash[_KEY]
    if not sink.collected_written:
        sink.collected_written = True
        sink.emit(event="collected", nodeids=list(ids))


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    sink = _current
    if sink is not None:
        sink.emit(event="start", nodeid=nodeid)


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    sink = _current
    if sink is not None:
        sink.emit(event="finish", nodeid=nodeid)


def _message(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if longrepr is None:
        return ""
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])[:_MESSAGE_LIMIT]
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        return str(getattr(crash, "message", ""))[:_MESSAGE_LIMIT]
    lines = str(longrepr).strip().splitlines()
    return (lines[-1] if lines else "")[:_MESSAGE_LIMIT]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    sink = _current
    if sink is None:
        return
    sink.clean(report)
    node = getattr(report, "node", None)
    gateway = getattr(node, "gateway", None)
    worker = getattr(gateway, "id", None)
    properties = {str(k): v for k, v in report.user_properties}
    sink.emit(event="report", nodeid=report.nodeid, when=report.when, outcome=report.outcome,
              duration=report.duration, worker=worker, message=sink.redact(_message(report)),
              user_properties=properties)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    sink = _current
    if sink is None or not report.failed:
        return
    text = str(report.longrepr) if report.longrepr is not None else "collection failed"
    lines = [line for line in text.strip().splitlines() if line.strip()]
    message = next((line for line in reversed(lines) if line.lstrip().startswith("E ")), lines[-1] if lines else "")
    sink.emit(event="collect_error", nodeid=report.nodeid or "<collection>",
              message=sink.redact(message.lstrip("E ").strip()[:_MESSAGE_LIMIT]))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    sink = session.config.stash.get(_KEY, None)
    if sink is not None:
        sink.emit(event="session_finish", exitstatus=int(exitstatus))


@pytest.hookimpl(wrapper=True, optionalhook=True)
def pytest_paircert_make_world(config: pytest.Config) -> Generator[None, World | None, World | None]:
    """Hear the secrets of every world the plugin builds (its device's AuthKey, the world's own secrets)."""
    world = yield
    if world is not None:
        redaction.learn(world.device.licence.auth_key)
        for secret in world.secrets():
            redaction.learn(secret)
    return world


# The hooks without a config argument find the sink of the (one) configured session of this process.
_current: _Sink | None = None


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    global _current
    _current = session.config.stash[_KEY]


__all__ = ["EVENTS_ENV", "SECRETS_ENV", "SecretFeed", "SinkRedactor", "read_secret_lines"]
