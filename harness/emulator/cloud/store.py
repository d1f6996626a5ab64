"""Persistence of the emulated cloud's state: nothing (in memory) or a SQLite file.

One table of JSON rows keyed by (kind, key). The state calls :meth:`Store.write` with every row a mutation
changed, inside its own lock, and the store commits them in one transaction: a crash leaves either the
whole mutation or none of it. The in-memory store does nothing, so the in-memory cloud stays fast.

A *shared* SQLite store (``paircert cloud serve --workers N``: several processes, one file in WAL mode) also
numbers every changed row in a ``seqs`` table. A process holding the state's lock holds SQLite's write lock
(``BEGIN IMMEDIATE``, :meth:`SqliteStore.begin`, queued on the ``<file>.lock`` lock file): it first reads the rows
other processes changed since it last looked (:meth:`SqliteStore.changes`, skipped when ``PRAGMA data_version``
says nobody else committed), then decides and writes (buffered, and written under one seq by
:meth:`SqliteStore.commit`, which ends the transaction). So a decision across processes is as serial as one within
a process: a token consumed by one worker is seen used by the next activation on any other. A read-only lookup
(:meth:`SqliteStore.refresh`) reads the changes from one snapshot without the write lock.
"""

from __future__ import annotations

import fcntl
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
CHECKPOINT_EVERY = 256  # a shared store's process folds the WAL back in after this many of its commits
BUSY_TIMEOUT_MS = 30_000  # how long a shared store's process waits for another's write transaction
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

    shared = False  # other processes write the same store: the state re-reads their changes

    def begin(self) -> None:
        """Start the transaction of one locked state operation (shared stores only)."""
        return None

    def commit(self) -> None:
        return None

    def changes(self) -> list[tuple[str, str, Any]]:
        """The rows other processes changed since this one last looked or wrote (a row of None: deleted)."""
        return []

    def refresh(self) -> list[tuple[str, str, Any]]:
        """:meth:`changes`, for a read-only operation outside any transaction."""
        return []


class SqliteStore(Store):
    """A SQLite file holding every row as JSON; reopened, it gives back the same state."""

    persistent = True

    def __init__(self, path: str | Path, *, shared: bool = False) -> None:
        self.path = Path(path)
        self.shared = shared
        self._seen = 0  # shared: the latest change this process has applied
        self._version = -1  # shared: PRAGMA data_version when changes() last read the seqs
        self._pending: dict[tuple[str, str], Any] = {}  # shared: this transaction's rows, written at commit
        self._commits = 0
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
        if shared:
            self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            # No checkpoint inside a commit, under the write lock every other process waits on: commit() runs it
            # after letting go (a PASSIVE checkpoint does not stop the other writers).
            self._db.execute("PRAGMA wal_autocheckpoint=0")
            self._db.execute("CREATE TABLE IF NOT EXISTS seqs (kind TEXT NOT NULL, key TEXT NOT NULL, "
                             "seq INTEGER NOT NULL, PRIMARY KEY (kind, key)) WITHOUT ROWID")  # two B-trees, not three
            self._db.execute("CREATE INDEX IF NOT EXISTS seqs_by_seq ON seqs (seq)")
            # The writers queue on a lock file: the kernel wakes the next one the moment the holder lets go, where
            # SQLite's busy handler polls in sleeps of 1 to 100 ms (most of the time two workers lost to it).
            self._gate: int | None = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        else:
            self._gate = None

    def begin(self) -> None:
        if self.shared:
            self._lock.acquire()
            try:
                if self._gate is not None:
                    fcntl.flock(self._gate, fcntl.LOCK_EX)
                try:
                    self._db.execute("BEGIN IMMEDIATE")
                except BaseException:
                    self._ungate()
                    raise
            except BaseException:
                self._lock.release()
                raise

    def commit(self) -> None:
        if self.shared:
            try:
                self._flush()
                self._db.execute("COMMIT")
            finally:
                self._pending.clear()
                self._ungate()
                self._lock.release()
            self._commits += 1
            if self._commits % CHECKPOINT_EVERY == 0:
                with self._lock:
                    self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _ungate(self) -> None:
        if self._gate is not None:
            fcntl.flock(self._gate, fcntl.LOCK_UN)

    def _flush(self) -> None:
        """Write the rows buffered by this transaction's :meth:`write` calls, all numbered with one new seq.
        Under the write lock, after :meth:`changes`, ``_seen`` is the newest seq (no other process wrote since)."""
        if not self._pending:
            return
        batch = [(kind, key, row) for (kind, key), row in self._pending.items()]
        self._write_rows(batch)
        self._seen += 1
        self._db.executemany(
            "INSERT INTO seqs (kind, key, seq) VALUES (?, ?, ?) ON CONFLICT (kind, key) DO UPDATE SET seq = "
            "excluded.seq", [(kind, key, self._seen) for kind, key, _ in batch])

    def changes(self) -> list[tuple[str, str, Any]]:
        # PRAGMA data_version moves only when another connection commits: an unchanged one spares the query.
        version = self._db.execute("PRAGMA data_version").fetchone()[0]
        if version == self._version:
            return []
        rows = self._db.execute(
            "SELECT s.seq, s.kind, s.key, r.body FROM seqs s LEFT JOIN rows r ON r.kind = s.kind AND r.key = s.key "
            "WHERE s.seq > ? ORDER BY s.seq", (self._seen,)).fetchall()
        self._version = version
        if not rows:
            return []
        self._seen = rows[-1][0]
        return [(kind, key, None if body is None else json.loads(body)) for _, kind, key, body in rows]

    def refresh(self) -> list[tuple[str, str, Any]]:
        """:meth:`changes` for a read-only operation, outside any write transaction: one SELECT is one snapshot
        of the WAL file, so it reads while another process writes, and takes no lock another process waits on."""
        with self._lock:
            return self.changes()

    def _head(self) -> int:
        return int(self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM seqs").fetchone()[0])

    def load(self) -> Iterator[tuple[str, str, Any]]:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                rows = self._db.execute("SELECT kind, key, body FROM rows ORDER BY kind, rowid").fetchall()
                self._seen = self._head() if self.shared else 0  # what this process knows from now on
            finally:
                self._db.execute("COMMIT")
        for kind, key, body in rows:
            yield kind, key, json.loads(body)

    def write(self, changes: Iterable[Change]) -> None:
        batch = list(changes)
        if not batch:
            return
        if self.shared and self._db.in_transaction:  # the one begin() opened, under the state's lock
            for kind, key, row in batch:  # the last row of a key wins; commit() writes them in one go
                self._pending.pop((kind, key), None)
                self._pending[(kind, key)] = row
            return
        if self.shared:
            raise RuntimeError("a shared store writes only inside begin() and commit()")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._write_rows(batch)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _write_rows(self, batch: list[Change]) -> None:
        for kind, key, row in batch:
            if row is None:
                self._db.execute("DELETE FROM rows WHERE kind = ? AND key = ?", (kind, key))
            else:
                self._db.execute(
                    "INSERT INTO rows (kind, key, body) VALUES (?, ?, ?) "
                    "ON CONFLICT (kind, key) DO UPDATE SET body = excluded.body",
                    (kind, key, json.dumps(row, separators=(",", ":"))),
                )

    def compact(self, deleted: int) -> None:
        """After a purge: return free pages to the file system and fold the write-ahead log back in."""
        if self.shared:
            return  # another process may be reading: no VACUUM under it (SQLite reuses the free pages)
        with self._lock:
            # Many rows gone: rebuild the file (half-empty pages included); a few: hand back the free pages.
            self._db.execute("VACUUM" if deleted >= FULL_VACUUM_ROWS else "PRAGMA incremental_vacuum")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock:
            self._db.close()
            if self._gate is not None:
                os.close(self._gate)
                self._gate = None


def open_store(path: str | Path | None, *, shared: bool = False) -> Store:
    """A SQLite store at ``path`` (``shared`` by several processes), or the in-memory store when ``path`` is
    None."""
    return Store() if path is None else SqliteStore(path, shared=shared)


__all__ = ["Change", "SqliteStore", "Store", "open_store"]
