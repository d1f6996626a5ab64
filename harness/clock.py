"""Clocks shared by everything emulated in one world.

A world has exactly one clock. Emulated runs use :class:`VirtualClock`, so that a 10-minute token
lifetime or a 100-second activator timeout is tested by advancing time, costing milliseconds of wall
time. Real runs use :class:`SystemClock`.

Both are safe to call from any thread; ``sleep`` must be awaited on an asyncio event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import heapq
import itertools
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any, Protocol, runtime_checkable


class _CountingExecutor(concurrent.futures.ThreadPoolExecutor):
    """A world loop's default executor, counting what it has in hand (a QR decode, a socket connect)."""

    def __init__(self) -> None:
        super().__init__(thread_name_prefix="paircert-world")
        self._busy = 0
        self._busy_lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        with self._busy_lock:
            self._busy += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, _: concurrent.futures.Future[Any]) -> None:
        with self._busy_lock:
            self._busy -= 1

    @property
    def busy(self) -> bool:
        with self._busy_lock:
            return self._busy > 0


# The event loops that do an emulated world's work (the devices', the cloud's HTTP server, the broker), with their
# executors: see VirtualClock. Weak, so that a loop that is gone drops out by itself.
_WORLD_LOOPS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _CountingExecutor] = weakref.WeakKeyDictionary()
_WORLD_LOOPS_LOCK = threading.Lock()


def register_world_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Count ``loop`` as one that does an emulated world's work: a :class:`VirtualClock` lets it run what it
    has ready, and waits for what its default executor has in hand, before time jumps ahead (call from the
    thread that runs the loop, before it uses its executor)."""
    executor = _CountingExecutor()
    loop.set_default_executor(executor)
    with _WORLD_LOOPS_LOCK:
        _WORLD_LOOPS[loop] = executor


def unregister_world_loop(loop: asyncio.AbstractEventLoop) -> None:
    with _WORLD_LOOPS_LOCK:
        _WORLD_LOOPS.pop(loop, None)


def _world_loops() -> list[asyncio.AbstractEventLoop]:
    with _WORLD_LOOPS_LOCK:
        return [loop for loop in _WORLD_LOOPS if loop.is_running() and not loop.is_closed()]


def _world_executors_busy() -> bool:
    with _WORLD_LOOPS_LOCK:
        executors = list(_WORLD_LOOPS.values())
    return any(executor.busy for executor in executors)


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

    "Idle" is not a matter of wall time: before each jump, every registered world loop
    (:func:`register_world_loop`: the devices', the cloud's, the broker's) runs what it has ready, ``settle_rounds``
    times over, and what their executors have in hand (a QR decode, a socket connect) ends, so that a busy machine
    that is slow to schedule a device delays virtual time rather than being overtaken by it (a device halfway
    through an activation is never timed out by a clock that raced ahead). A loop that does not answer, or an
    executor that stays busy, for ``settle_timeout_s`` is not waited for any longer (it may be stuck), and nothing
    jumps at all while the clock is held (:meth:`hold`).
    """

    is_virtual = True

    def __init__(self, start: float = 1_700_000_000.0, *, autojump: bool = True, idle_s: float = 0.002,
                 settle_rounds: int = 1, settle_timeout_s: float = 2.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        self._autojump = autojump
        self._idle_s = idle_s
        self._settle_rounds = settle_rounds
        self._settle_timeout_s = settle_timeout_s
        self._holds = 0
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

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """No autojump while held: what the holder does (a lab step playing a device's part over real sockets)
        happens before time moves on. ``advance`` still moves it."""
        release = self.take_hold()
        try:
            yield
        finally:
            release()

    def take_hold(self) -> Callable[[], None]:
        """:meth:`hold` for work that ends elsewhere (a message on its way through another thread): returns the
        release, which may be called from any thread, more than once."""
        with self._lock:
            self._holds += 1
        released = threading.Event()

        def release() -> None:
            with self._lock:
                if not released.is_set():
                    released.set()
                    self._holds -= 1

        return release

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
        busy_since: float | None = None
        while not fut.done():
            # asyncio.wait, not wait_for(shield(fut)): on Python 3.11 wait_for swallows a cancellation that arrives
            # as the future resolves (a device reset while its retry sleep ends would then go on retrying).
            await asyncio.wait((fut,), timeout=self._idle_s)
            if not fut.done():
                # Still waiting after a moment of real time: once the world has run what it had ready, and
                # unless the clock is held, jump to the earliest deadline.
                if self._held():
                    continue
                if _world_executors_busy():
                    busy_since = busy_since if busy_since is not None else time.monotonic()
                    if time.monotonic() - busy_since < self._settle_timeout_s:
                        continue
                busy_since = None
                if not await self._settle(loop, fut):
                    continue
                with self._lock:
                    earliest = self._sleepers[0][0] if self._sleepers else deadline
                    target = min(earliest, deadline)
                    if target > self._now:
                        self._now = target
                self._wake_due()

    def _held(self) -> bool:
        with self._lock:
            return self._holds > 0

    async def _settle(self, own: asyncio.AbstractEventLoop, fut: asyncio.Future[None]) -> bool:
        """Every world loop but ``own`` runs what it has ready, ``settle_rounds`` times; False when the clock
        was held or ``fut`` resolved meanwhile (then there is nothing to jump for)."""
        for _ in range(self._settle_rounds):
            probes: list[asyncio.Future[None]] = []
            for loop in _world_loops():
                if loop is own:
                    continue
                probe: concurrent.futures.Future[None] = concurrent.futures.Future()
                with contextlib.suppress(RuntimeError):  # closed meanwhile
                    loop.call_soon_threadsafe(_set_result, probe)
                    probes.append(asyncio.wrap_future(probe))
            if not probes:
                break
            await asyncio.wait(probes, timeout=self._settle_timeout_s)  # never swallows a cancellation
            if fut.done() or self._held():
                return False
        return True

    def __repr__(self) -> str:
        return f"VirtualClock(now={self.time():.3f}, autojump={self._autojump})"


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _set_result(probe: concurrent.futures.Future[None]) -> None:
    if not probe.done():
        probe.set_result(None)


@contextlib.contextmanager
def holding(clock: Clock) -> Iterator[None]:
    """:meth:`VirtualClock.hold` for any clock (a real clock cannot be held: nothing to do)."""
    if isinstance(clock, VirtualClock):
        with clock.hold():
            yield
    else:
        yield


def take_hold(clock: Clock) -> Callable[[], None]:
    """:meth:`VirtualClock.take_hold` for any clock (on a real clock the release does nothing)."""
    return clock.take_hold() if isinstance(clock, VirtualClock) else _nothing


def _nothing() -> None:
    return None


REAL_FLOOR_S = 2.0  # a wait on a virtual clock that fails still lasts this long in real time (see eventually_on)
REAL_STRETCH = 3.0  # ... and may last this many times its seconds in real time, while the world's time lags behind
WORLD_LOOKS = 100  # how often a wait on a virtual clock looks at its predicate over its world seconds (at most)
WORLD_POLL_S = 0.1  # ... but not more often than every this many world-clock seconds


def real_limit_s(clock: Clock | None, seconds: float) -> float:
    """The most real time a wait of ``seconds`` on ``clock`` lasts (:func:`eventually_on`, :func:`wait_for_on`):
    ``seconds`` on a real clock; on a :class:`VirtualClock` :data:`REAL_STRETCH` times as many, for the world's
    time moves only as fast as its loops settle, and a busy machine slows them. A timeout around such a wait
    must be longer than this."""
    return seconds * REAL_STRETCH if clock is not None and clock.is_virtual else seconds


def eventually_on(clock: Clock | None, predicate: Callable[[], bool], seconds: float, *, poll_s: float = 0.02,
                  real_floor_s: float = REAL_FLOOR_S) -> bool:
    """Whether ``predicate()`` holds within ``seconds`` on the world's ``clock``, polled.

    On a real clock (or none) that is ``seconds`` of real time, looked at every ``poll_s``. On a
    :class:`VirtualClock` it is ``seconds`` of the world's time: the wait sleeps on the clock, which moves only once
    every world loop has run what it had ready, so a predicate that never holds costs what the world takes to idle
    through ``seconds``, not ``seconds`` of wall time. Such a wait still lasts at least ``real_floor_s`` of real
    time (for work outside the world's loops: a probe's MQTT client, a message in a socket) and never more than
    :func:`real_limit_s` (a held clock, or a machine too busy for the world's loops to keep up, does not stretch
    it further)."""
    start = time.monotonic()
    real_deadline = start + real_limit_s(clock, seconds)
    if clock is None or not clock.is_virtual:
        while time.monotonic() < real_deadline:
            if predicate():
                return True
            time.sleep(poll_s)
        return predicate()
    floor = start + min(seconds, real_floor_s)
    world_deadline = clock.time() + seconds
    step = max(WORLD_POLL_S, seconds / WORLD_LOOKS)
    loop = asyncio.new_event_loop()
    try:
        while not predicate():
            now = time.monotonic()
            world_left = world_deadline - clock.time()
            if now >= real_deadline or (world_left <= 0 and now >= floor):
                return predicate()
            if world_left <= 0:
                time.sleep(poll_s)  # the world's time is up, the real floor is not
                continue
            with contextlib.suppress(TimeoutError):
                loop.run_until_complete(asyncio.wait_for(clock.sleep(min(step, world_left)),
                                                         max(poll_s, real_deadline - now)))
        return True
    finally:
        loop.close()


async def _world_seconds(clock: Clock, seconds: float) -> None:
    """Sleep ``seconds`` on ``clock`` in steps (as :func:`eventually_on` looks): a waiter moves a virtual clock
    by one step at a time, never by its whole wait in one jump while a message is on its way between loops."""
    deadline = clock.time() + seconds
    step = max(WORLD_POLL_S, seconds / WORLD_LOOKS)
    while (left := deadline - clock.time()) > 0:
        await clock.sleep(min(step, left))


async def wait_for_on(clock: Clock, future: asyncio.Future[Any], seconds: float, *,
                      real_floor_s: float = REAL_FLOOR_S) -> Any:
    """``future``'s result, awaited for ``seconds`` of the world's ``clock`` (TimeoutError after them).

    :func:`eventually_on` for a loop of the world: on a :class:`VirtualClock` the wait ends once the world idled
    through ``seconds`` and at least ``real_floor_s`` of real time passed, and never lasts more than
    :func:`real_limit_s`; on a real clock it is ``asyncio.wait_for``. ``future`` is left as it is (the caller owns
    it)."""
    if not clock.is_virtual:
        done, _ = await asyncio.wait((future,), timeout=seconds)
        if not done:
            raise TimeoutError
        return future.result()
    loop = asyncio.get_running_loop()
    floor = loop.time() + min(seconds, real_floor_s)
    timer = loop.create_task(_world_seconds(clock, seconds))
    try:
        await asyncio.wait((future, timer), timeout=real_limit_s(clock, seconds), return_when=asyncio.FIRST_COMPLETED)
        if not future.done() and timer.done() and floor > loop.time():
            await asyncio.wait((future,), timeout=floor - loop.time())  # the world's time is up, the floor is not
        if not future.done():
            raise TimeoutError
        return future.result()
    finally:
        timer.cancel()


def wait_until(clock: Clock, predicate: Callable[[], bool], seconds: float, *, poll_s: float = 0.25) -> bool:
    """Poll ``predicate`` until it holds or ``seconds`` have passed on ``clock``, sleeping on the clock between
    polls (from a thread that runs no event loop); its last value. On a :class:`VirtualClock` the wait costs
    what the world needs to settle, not ``seconds`` of wall time."""
    deadline = clock.time() + seconds
    while not predicate():
        left = deadline - clock.time()
        if left <= 0:
            return False
        asyncio.run(clock.sleep(min(poll_s, left)))
    return True


__all__ = ["REAL_FLOOR_S", "REAL_STRETCH", "Clock", "SystemClock", "VirtualClock", "eventually_on", "holding",
           "real_limit_s", "register_world_loop", "take_hold", "unregister_world_loop", "wait_for_on", "wait_until"]
