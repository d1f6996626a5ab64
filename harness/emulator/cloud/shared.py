"""Several processes over one cloud state (``paircert cloud serve --workers N``, :mod:`.workers`).

Over a shared store (:mod:`.store`) the state's lock is :class:`StateLock`: its outermost hold is one SQLite write
transaction that first applies what the other processes changed (:func:`apply_changes`), so every decision
(consuming a token, binding a device, refusing a revoked licence) is made on the latest state and written before
another process decides.
"""

from __future__ import annotations

import threading
from typing import Any

from harness import redaction
from harness.emulator.broker.authority import BrokerPolicy
from harness.protocol.mqtt import device_credentials

from .records import Device, LicenceRecord

# The state (harness.emulator.cloud.state.CloudState) is typed Any here: state.py imports this module.
CloudState = Any


class StateLock:
    """The state's re-entrant lock; over a shared store (several processes) the outermost hold is also one store
    transaction that first applies the other processes' changes (see :mod:`.store`)."""

    def __init__(self, state: Any) -> None:
        self._state = state
        self._rlock = threading.RLock()
        self._depth = 0
        self._told: list[LicenceRecord | Device] = []  # credentials to tell the link once the write lock is let go

    def __enter__(self) -> StateLock:
        self._rlock.acquire()
        self._depth += 1
        if self._depth == 1:
            try:
                self._state._store.begin()
            except BaseException:
                self._depth -= 1
                self._rlock.release()
                raise
            try:
                self._told = apply_changes(self._state, self._state._store.changes(), tell=False)
            except BaseException:
                self.__exit__(None, None, None)
                raise
        return self

    def __exit__(self, *_: object) -> None:
        told: list[LicenceRecord | Device] = []
        try:
            if self._depth == 1:
                told, self._told = self._told, []
                self._state._store.commit()  # what was written is kept, as each write was before sharing
        finally:
            try:
                for record in told:  # still under this process's lock, no longer under the other processes'
                    _tell_link(self._state, record)
            finally:
                self._depth -= 1
                self._rlock.release()


class StateReader:
    """A read-only hold of a :class:`StateLock`: outside a write hold it first applies what the other processes
    committed, read from one snapshot of the shared file without its write lock, so a lookup (an AuthKey, a
    secKey) neither waits for nor delays another process's write. A write hold nested inside starts its own
    transaction."""

    def __init__(self, lock: StateLock) -> None:
        self._lock = lock

    def __enter__(self) -> StateReader:
        lock = self._lock
        lock._rlock.acquire()
        if lock._depth == 0:
            try:
                apply_changes(lock._state, lock._state._store.refresh())
            except BaseException:
                lock._rlock.release()
                raise
        return self

    def __exit__(self, *_: object) -> None:
        self._lock._rlock.release()


def _credentials(record: LicenceRecord | Device) -> tuple[Any, ...]:
    """What of a licence or device the broker's credentials depend on."""
    if isinstance(record, LicenceRecord):
        return (record.revoked, record.auth_key)
    return (record.bound, record.sec_key, record.local_key, record.protocol_ver)


def apply_changes(state: CloudState, changes: list[tuple[str, str, Any]], *,
                  tell: bool = True) -> list[LicenceRecord | Device]:
    """Over a shared store: apply the rows other processes changed, and tell the link of the credentials
    they changed (the broker's process learns every device another worker activated); ``tell=False``: return
    the records to tell instead."""
    untold: list[LicenceRecord | Device] = []
    for kind, key, row in changes:
        before = state.licences.get(key) if kind == "licence" else state.devices.get(key) if kind == "device" else None
        was = None if before is None else _credentials(before)
        state._apply_row(kind, key, row)
        if row is not None and kind in ("licence", "device"):
            after = state.licences[key] if kind == "licence" else state.devices[key]
            if _credentials(after) != was:  # a DP report or online change rewrites a row, not its keys
                if tell:
                    _tell_link(state, after)
                else:
                    untold.append(after)
    return untold


def _tell_link(state: CloudState, record: LicenceRecord | Device) -> None:
    if isinstance(record, LicenceRecord):
        if record.revoked:
            state.link.licence_revoked(record.uuid)
        else:
            state.link.licence_issued(record.uuid, record.auth_key)
    elif record.bound:
        redaction.learn(record.sec_key, record.local_key,
                        device_credentials(record.dev_id, record.sec_key).password)
        state.link.device_activated(record.dev_id, record.sec_key, record.local_key)
        if record.protocol_ver is not None:
            state.link.device_protocol(record.dev_id, record.protocol_ver)
    else:
        state.link.device_removed(record.dev_id)


class NullLink:
    """No broker: credentials go nowhere and nothing is sent."""

    def licence_issued(self, uuid: str, auth_key: str) -> None:
        return None

    def licence_revoked(self, uuid: str) -> None:
        return None

    def device_activated(self, dev_id: str, sec_key: str, local_key: str) -> None:
        return None

    def device_removed(self, dev_id: str) -> None:
        return None

    def device_protocol(self, dev_id: str, protocol_ver: str) -> None:
        return None

    def send(self, dev_id: str, local_key: str, protocol: int, data: dict[str, Any],
             root: dict[str, Any] | None = None, *, retain: bool = False) -> bool:
        return False

    def set_policy(self, policy: BrokerPolicy) -> None:
        return None


def device_row(state: CloudState, dev: Device) -> dict[str, Any]:
    """A device's stored row: online only over a shared store (a restarted cloud starts with all offline)."""
    row = dev.to_dict()
    if state._store.shared:
        row["online"] = dev.online
    return row


def put_session(state: CloudState, digest: str, row: dict[str, Any] | None) -> None:
    """Keep (or with None forget) a login's bearer session, for every worker."""
    with state.lock:
        if row is None:
            state.sessions.pop(digest, None)
        else:
            state.sessions[digest] = row
        state._save(("session", digest, row))


__all__ = ["NullLink", "StateLock", "StateReader", "apply_changes", "device_row", "put_session"]
