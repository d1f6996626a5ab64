"""The secrets sink file that ``paircert run`` and its pytest processes share (one JSON line per secret), and the
environment variables that name it and the events file: kept apart from :mod:`harness.report.sink` so that the
runner follows the file without importing pytest."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

SECRETS_ENV = "PAIRCERT_SECRETS_SINK"
EVENTS_ENV = "PAIRCERT_EVENTS"


class SecretFeed:
    """Follows a sink file: each refresh hands the secrets appended since the last one to ``learn``."""

    def __init__(self, path: Path, learn: Callable[[str], None]) -> None:
        self.path = path
        self._learn = learn
        self._offset = 0

    def refresh(self) -> None:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except FileNotFoundError:
            return
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits for the next refresh
        self._offset += len(complete)
        for secret in read_secret_lines(complete):
            self._learn(secret)


def read_secret_lines(data: bytes) -> list[str]:
    """The secrets in a sink file's content."""
    secrets: list[str] = []
    for line in data.splitlines():
        try:
            value = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if isinstance(value, dict) and isinstance(value.get("secret"), str):
            secrets.append(value["secret"])
    return secrets


__all__ = ["EVENTS_ENV", "SECRETS_ENV", "SecretFeed", "read_secret_lines"]
