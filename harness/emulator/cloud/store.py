"""Persistence of the emulated cloud's state: nothing (in memory) or a SQLite file.

One table of JSON rows keyed by (kind, key). The state calls :meth:`Store.write` with every row a mutation
changed, inside its own lock, and the store commits them in one transaction: a crash leaves either the
whole mutation or none of it. The in-memory store does nothing, so the in-memory cloud stays fast.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

AUTO_VACUUM_INCREMENTAL = 2
WAL_SIZE_LIMIT = 4 * 1024 * 1024
FULL_VACUUM_ROWS = 256
# (kind, key, row) to write; a row of None deletes.
Change = tuple[str, str, dict[str, Any] | list[Any] | None]


class Store:
    """The in-memory store: keeps nothing."""

    persistent = False  # the state builds rows only for a store that keeps them

    def load(self) -> Iterator[tuple[str, str, Any]]:
        return iter(())

    def write(self, changes: Iterable[Change]) -> None:
        return None

    def close(self) -> None:
        return None

    def compact(self, deleted: int) -> None:
        """Give back the space of ``deleted`` rows just removed (nothing to do in memory)."""
        return None


class SqliteStore(Store):
    """A SQLite file holding every row as JSON; reopened, it gives back the same state."""

    persistent = True

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        # The state holds AuthKeys, secKeys and password hashes: the file is the owner's only (SQLite gives its
        # -wal and -shm files the same mode).
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        os.chmod(self.path, 0o600)
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        if self._db.execute("PRAGMA auto_vacuum").fetchone()[0] != AUTO_VACUUM_INCREMENTAL:
            self._db.execute(f"PRAGMA auto_vacuum={AUTO_VACUUM_INCREMENTAL}")
            self._db.execute("VACUUM")  # an auto_vacuum mode takes effect on a file only through a VACUUM
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS rows (kind TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL, "
            "PRIMARY KEY (kind, key))"
        )

    def load(self) -> Iterator[tuple[str, str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT kind, key, body FROM rows ORDER BY kind, rowid").fetchall()
        for kind, key, body in rows:
            yield kind, key, json.loads(body)

    def write(self, changes: Iterable[Change]) -> None:
        batch = list(changes)
        if not batch:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for kind, key, row in batch:
                    if row is None:
                        self._db.execute("DELETE FROM rows WHERE kind = ? AND key = ?", (kind, key))
                    else:
                        self._db.execute(
                            "INSERT INTO rows (kind, key, body) VALUES (?, ?, ?) "
                            "ON CONFLICT (kind, key) DO UPDATE SET body = excluded.body",
                            (kind, key, json.dumps(row, separators=(",", ":"))),
                        )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def compact(self, deleted: int) -> None:
        """After a purge: return free pages to the file system and fold the write-ahead log back in."""
        with self._lock:
            # Many rows gone: rebuild the file (half-empty pages included); a few: hand back the free pages.
            self._db.execute("VACUUM" if deleted >= FULL_VACUUM_ROWS else "PRAGMA incremental_vacuum")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock:
            self._db.close()


def open_store(path: str | Path | None) -> Store:
    """A SQLite store at ``path``, or the in-memory store when ``path`` is None."""
    return Store() if path is None else SqliteStore(path)


__all__ = ["Change", "SqliteStore", "Store", "open_store"]
