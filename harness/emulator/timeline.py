"""A device's event timeline: (clock time, event name, details), with secrets redacted on the way in.

DESIGN.md "Evidence": every test keeps a timeline on the run's clock, and secrets (Wi-Fi password, AuthKey,
secKey, localKey, MQTT passwords) are redacted everywhere evidence is written. The timeline redacts when an
event is recorded, so an unredacted secret never sits in it. Each event also keeps the wall-clock time it happened
at: on a virtual clock a whole pairing happens at one instant, and a person reading the timeline needs the order.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.clock import Clock
from harness.redaction import is_secret_key


# Detail keys whose values are secrets: the harness's one rule, plus the QR payload's password member "p"
# (§1.1), a name too short for the general rule.
def is_secret_detail(key: str) -> bool:
    return key == "p" or is_secret_key(key)


def redact_value(value: Any) -> str:
    """A secret's stand-in: its length only (an empty secret stays visibly empty)."""
    size = len(value) if isinstance(value, str | bytes) else 0
    return f"<redacted {size}>"


def redact(details: Mapping[str, Any]) -> dict[str, Any]:
    """``details`` with every secret replaced, nested mappings included; bytes shown as text where possible."""
    out: dict[str, Any] = {}
    for key, value in details.items():
        if is_secret_detail(key):
            out[key] = redact_value(value)
        elif isinstance(value, Mapping):
            out[key] = redact(value)
        elif isinstance(value, bytes):
            out[key] = value.decode("utf-8", "backslashreplace")
        else:
            out[key] = value
    return out


@dataclass(frozen=True)
class TimelineEvent:
    """One thing a device did, on the world's clock (and when, on the wall clock)."""

    t: float
    name: str
    details: Mapping[str, Any] = field(default_factory=dict)
    wall: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {"t": self.t, "event": self.name, "details": dict(self.details), "wall": self.wall}


class Timeline:
    """An append-only, bounded, thread-safe list of :class:`TimelineEvent`."""

    def __init__(self, clock: Clock, limit: int = 10_000) -> None:
        self._clock = clock
        self.limit = limit
        self._events: deque[TimelineEvent] = deque(maxlen=limit)
        self._lock = threading.Lock()
        self._recorded = 0  # events ever recorded (the bound and clear() drop some, never this count)

    def record(self, name: str, **details: Any) -> TimelineEvent:
        event = TimelineEvent(self._clock.time(), name, redact(details))
        with self._lock:
            self._events.append(event)
            self._recorded += 1
        return event

    def events(self, name: str | None = None) -> list[TimelineEvent]:
        with self._lock:
            events = list(self._events)
        return events if name is None else [e for e in events if e.name == name]

    def events_since(self, count: int) -> tuple[list[TimelineEvent], int]:
        """The events recorded after the first ``count`` ever recorded (those still kept), and the count now: a
        reader that follows the timeline converts each event once instead of the whole timeline every time."""
        with self._lock:
            kept = len(self._events)
            fresh = min(max(0, self._recorded - count), kept)
            return [self._events[i] for i in range(kept - fresh, kept)], self._recorded  # O(fresh) near the end

    def names(self) -> list[str]:
        return [e.name for e in self.events()]

    def clear(self) -> None:
        """Forget the kept events (a reader of :meth:`events_since` keeps what it has read already)."""
        with self._lock:
            self._events.clear()


__all__ = ["Timeline", "TimelineEvent", "is_secret_detail", "redact", "redact_value"]
