"""One shared asyncio event loop, in one background thread, for every emulated camera of a world.

A thousand cameras pairing at once must not cost a thousand threads (DESIGN.md performance budgets): every
camera of a :class:`DeviceLoop` lives on its single loop, does HTTP through one shared aiohttp session and
drives its paho-mqtt client from the loop's socket callbacks. Code on other threads (tests, the activator,
adapters) talks to the cameras through :meth:`DeviceLoop.run`, which schedules a coroutine on the loop and
waits for it with a timeout; code already on the loop awaits the cameras' ``*_async`` methods directly.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import aiohttp

from harness.clock import Clock, SystemClock, register_world_loop, unregister_world_loop

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 10.0


class LoopError(RuntimeError):
    """The device loop is not running, or a call into it was made from its own thread."""


class DeviceLoop:
    """An event loop thread shared by the emulated devices of one world, with the world's clock.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. ``http_limit`` bounds the concurrent
    HTTP connections of the shared aiohttp session.
    """

    def __init__(self, clock: Clock | None = None, *, name: str = "paircert-devices", http_limit: int = 200) -> None:
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.name = name
        self._http_limit = http_limit
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._session: aiohttp.ClientSession | None = None
        self._ready = threading.Event()
        self._closers: list[Callable[[], Awaitable[None]]] = []

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> DeviceLoop:
        if self._thread is not None:
            return self
        self._ready.clear()
        self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
        self._thread.start()
        if not self._ready.wait(10.0):
            raise LoopError("the device loop's event loop did not start within 10 s")
        return self

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        register_world_loop(loop)  # a virtual clock lets the devices run what they have ready before jumping
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            unregister_world_loop(loop)
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def stop(self, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        """Close every registered device and the HTTP session, then stop the loop and join its thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if not loop.is_closed():
            with contextlib.suppress(LoopError, TimeoutError, concurrent.futures.TimeoutError):
                self.run(self._shutdown(), timeout=timeout)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._thread = None
        self._loop = None

    async def _shutdown(self) -> None:
        closers, self._closers = self._closers, []
        for close in reversed(closers):
            # Shutting down: one device's trouble must not keep the others open.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(close(), timeout=5.0)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def __enter__(self) -> DeviceLoop:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- access ------------------------------------------------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None or self._loop.is_closed():
            raise LoopError("the device loop is not running (call start())")
        return self._loop

    @property
    def running(self) -> bool:
        return self._loop is not None and not self._loop.is_closed()

    def in_loop_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = DEFAULT_TIMEOUT_S) -> T:
        """Run ``coro`` on the device loop and wait for its result, at most ``timeout`` seconds."""
        if self.in_loop_thread():
            coro.close()
            raise LoopError("a blocking call into the device loop from its own thread would deadlock; "
                             "await the *_async method instead")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"the device loop did not answer within {timeout} s") from None

    def call_soon(self, callback: Callable[..., object], *args: object) -> None:
        """Schedule a plain callback on the loop from any thread."""
        loop = self.loop
        if self.in_loop_thread():
            loop.call_soon(callback, *args)
        else:
            loop.call_soon_threadsafe(callback, *args)

    def http_session(self) -> aiohttp.ClientSession:
        """The shared aiohttp session (created on first use; call from the loop)."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._http_limit, force_close=False)
            self._session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=15))
        return self._session

    def on_stop(self, close: Callable[[], Awaitable[None]]) -> None:
        """Register a coroutine function to await (on the loop) when the device loop stops."""
        self._closers.append(close)


__all__ = ["DEFAULT_TIMEOUT_S", "DeviceLoop", "LoopError"]
