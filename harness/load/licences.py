"""Licences from a list: what a production cloud's devices get (PROTOCOL.md §8: Tuya hands a vendor its licences as a
list of UUID and AuthKey), one a device, shared out among the Locust processes of one machine.

``--licences FILE`` is CSV, ``uuid,authkey`` a line (a third column, the product id, is taken when present; else
``--product-id``); a header line ``uuid,...`` and blank lines are skipped. The AuthKeys are secrets: they are taught
to the redactor as they are read and never printed. Every process of one ``paircert load`` on a machine reads the
same file and takes the next unused line through a claims file of the run directory (a counter under an exclusive
``flock``), so no licence goes to two devices of that machine; machines of a distributed run each need a file of
their own.
"""

from __future__ import annotations

import csv
import fcntl
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from harness import redaction
from harness.model.licence import Licence

MAX_LINES = 200_000


class LicenceFileError(ValueError):
    """The licences file cannot be used: the message names the file (and the line)."""


def read_licences(path: Path, *, product_id: str | None) -> list[Licence]:
    """Every licence of the file, in its order; LicenceFileError naming the file and line when one is not usable."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LicenceFileError(f"--licences {path}: {getattr(exc, 'strerror', None) or exc}") from None
    licences: list[Licence] = []
    seen: set[str] = set()
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        if number > MAX_LINES:
            raise LicenceFileError(f"--licences {path}: more than {MAX_LINES} lines")
        cells = [cell.strip() for cell in row]
        if not any(cells) or (number == 1 and cells[0].lower() == "uuid"):
            continue
        if len(cells) not in (2, 3) or not cells[0] or not cells[1]:
            raise LicenceFileError(f"--licences {path}, line {number}: expected uuid,authkey[,product id]")
        pid = cells[2] if len(cells) == 3 and cells[2] else product_id
        if not pid:
            raise LicenceFileError(f"--licences {path}, line {number}: no product id (a third column or "
                                   "--product-id)")
        if cells[0] in seen:
            raise LicenceFileError(f"--licences {path}, line {number}: uuid {cells[0]} is listed twice")
        seen.add(cells[0])
        redaction.learn(cells[1])
        licences.append(Licence(cells[0], cells[1], pid))
    return licences


@dataclass
class LicencePool:
    """The licences of a file, handed out one at a time across this machine's processes (``claims`` is the
    counter file they share)."""

    licences: list[Licence]
    claims: Path

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def licence(self) -> Licence:
        """The next unused licence; LicenceFileError when the file has no more."""
        with self._lock:
            fd = os.open(self.claims, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # held for a read and a write of a few bytes
                raw = os.read(fd, 32).decode("ascii", "replace").strip()
                taken = int(raw) if raw.isdigit() else 0
                if taken >= len(self.licences):
                    raise LicenceFileError(f"all {len(self.licences)} licences of the list are taken")
                os.lseek(fd, 0, os.SEEK_SET)
                os.ftruncate(fd, 0)
                os.write(fd, str(taken + 1).encode("ascii"))
            finally:
                os.close(fd)  # releases the lock
            return self.licences[taken]


__all__ = ["LicenceFileError", "LicencePool", "read_licences"]
