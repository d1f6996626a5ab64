"""Clocks shared by everything emulated in one world.

A world has exactly one clock. Emulated runs use :class:`VirtualClock`, so that a 10-minute token
lifetime or a 100-second activator timeout is tested by advancing time, costing milliseconds of wall
time. Real runs use :class:`SystemClock`.

Both are safe to call from any thread; ``sleep`` must be awaited on an asyncio event loop.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """What the emulators, adapters and activator need of a clock."""

    def time(self) -> float:
        """Seconds since the Unix epoch on this world's clock."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait until ``seconds`` have passed on this clock."""
        ...

    @property
    def is_virtual(self) -> bool:
        """True when time moves only when told to (time travel is possible)."""
        ...


class SystemClock:
    """Wall-clock time; sleeping really waits."""

    is_virtual = False

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def __repr__(self) -> str:
        return "SystemClock()"


class VirtualClock:
    """A clock that moves only when advanced.

    ``advance(seconds)`` moves time forward and wakes every sleeper whose deadline has come, on its own
    event loop. With ``autojump`` set, a sleeper that is still waiting after ``idle_s`` of real time
    moves the clock to its own deadline itself: time then passes as fast as the world is idle, so a
    100-second timeout costs about ``idle_s`` of wall time while still letting everything that is
    runnable run first.
    """

    is_virtual = True

    def __init__(self, start: float = 1_700_000_000.0, *, autojump: bool = True, idle_s: float = 0.002) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        self._autojump = autojump
        self._idle_s = idle_s
        self._counter = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def time(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (never backwards) and wake the sleepers that are due."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go backwards (advance({seconds}))")
        with self._lock:
            self._now += seconds
        self._wake_due()

    def set(self, when: float) -> None:
        """Move time forward to ``when`` (an absolute epoch time); earlier times are an error."""
        with self._lock:
            if when < self._now:
                raise ValueError(f"a clock cannot go backwards (set({when}) < {self._now})")
            self._now = when
        self._wake_due()

    def _wake_due(self) -> None:
        due: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        with self._lock:
            while self._sleepers and self._sleepers[0][0] <= self._now:
                _, _, loop, fut = heapq.heappop(self._sleepers)
                due.append((loop, fut))
        for loop, fut in due:
            if loop.is_closed():
                continue
            loop.call_soon_threadsafe(_resolve, fut)

    async def sleep(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        with self._lock:
            deadline = self._now + max(0.0, seconds)
            if deadline <= self._now:
                fut.set_result(None)
            else:
                heapq.heappush(self._sleepers, (deadline, next(self._counter), loop, fut))
        if fut.done():
            await asyncio.sleep(0)
            return
        if not self._autojump:
            await fut
            return
        while not fut.done():
            try:
                await asyncio.wait_for(asyncio.shield(fut), timeout=self._idle_s)
            except TimeoutError:
                # Still waiting after a moment of real time: jump to the earliest deadline.
                with self._lock:
                    earliest = self._sleepers[0][0] if self._sleepers else deadline
                    target = min(earliest, deadline)
                    if target > self._now:
                        self._now = target
                self._wake_due()

    def __repr__(self) -> str:
        return f"VirtualClock(now={self.time():.3f}, autojump={self._autojump})"


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


__all__ = ["Clock", "SystemClock", "VirtualClock"]
