from __future__ import annotations

import asyncio
import threading
import time

import pytest

from harness.clock import (
    REAL_STRETCH,
    SystemClock,
    VirtualClock,
    eventually_on,
    real_limit_s,
    register_world_loop,
    unregister_world_loop,
    wait_for_on,
    wait_until,
)


def test_virtual_clock_moves_only_when_advanced() -> None:
    clock = VirtualClock(start=1000.0, autojump=False)
    assert clock.time() == 1000.0
    clock.advance(599.5)
    assert clock.time() == 1599.5
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        clock.set(10.0)


def test_advance_wakes_exactly_the_sleepers_that_are_due() -> None:
    clock = VirtualClock(start=0.0, autojump=False)
    woke: list[float] = []

    async def sleeper(seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(seconds)

    async def main() -> None:
        tasks = [asyncio.create_task(sleeper(s)) for s in (10, 20, 30)]
        await asyncio.sleep(0.01)
        clock.advance(15)
        await asyncio.sleep(0.01)
        assert woke == [10]
        clock.advance(15)
        await asyncio.gather(*tasks)

    asyncio.run(main())
    assert woke == [10, 20, 30]


def test_autojump_makes_a_long_sleep_cost_no_wall_time() -> None:
    clock = VirtualClock(start=0.0, autojump=True)
    started = time.monotonic()
    asyncio.run(clock.sleep(100.0))
    assert clock.time() == pytest.approx(100.0)
    assert time.monotonic() - started < 5.0  # generous: a real 100 s sleep would hang the test


def test_system_clock_tracks_wall_time() -> None:
    clock = SystemClock()
    assert abs(clock.time() - time.time()) < 1.0
    assert clock.is_virtual is False


def _watched_loop() -> tuple[asyncio.AbstractEventLoop, threading.Thread]:
    """A world loop in its own thread, registered as doing the world's work."""
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def main() -> None:
        asyncio.set_event_loop(loop)
        register_world_loop(loop)
        loop.call_soon(started.set)
        try:
            loop.run_forever()
        finally:
            unregister_world_loop(loop)
            loop.close()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    assert started.wait(5.0)
    return loop, thread


def _stop(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5.0)


def test_a_busy_world_loop_holds_the_jump_until_it_has_run_what_was_ready() -> None:
    """Virtual time never overtakes a world loop the machine is slow to run: the jump waits for it."""
    clock = VirtualClock(start=0.0)
    loop, thread = _watched_loop()
    busy = threading.Event()
    seen: list[float] = []

    def work() -> None:  # a device halfway through something, on a machine that gives it no CPU for a while
        busy.set()
        time.sleep(0.3)
        seen.append(clock.time())

    try:
        loop.call_soon_threadsafe(work)
        assert busy.wait(5.0)
        asyncio.run(clock.sleep(100.0))
        assert seen == [0.0], "time jumped while the world loop still had work in hand"
        assert clock.time() == pytest.approx(100.0)
    finally:
        _stop(loop, thread)


def test_no_jump_while_held_and_the_release_is_idempotent() -> None:
    clock = VirtualClock(start=0.0)
    release = clock.take_hold()
    woke = threading.Event()
    sleeper = threading.Thread(target=lambda: (asyncio.run(clock.sleep(10.0)), woke.set()), daemon=True)
    sleeper.start()
    assert not woke.wait(0.2)  # 100 idle windows: without the hold it would have jumped
    assert clock.time() == 0.0
    release()
    release()
    assert woke.wait(5.0)
    assert clock.time() == pytest.approx(10.0)
    with clock.hold():
        clock.advance(1.0)  # an explicit advance is not a jump: a hold does not stop it
    assert clock.time() == pytest.approx(11.0)


def test_wait_until_polls_on_the_clock() -> None:
    clock = VirtualClock(start=0.0)
    started = time.monotonic()
    assert wait_until(clock, lambda: clock.time() >= 30.0, 60.0, poll_s=1.0)
    assert 30.0 <= clock.time() <= 31.0
    assert not wait_until(clock, lambda: False, 600.0, poll_s=10.0)
    assert clock.time() == pytest.approx(631.0, abs=1.0)
    assert time.monotonic() - started < 30.0  # 10 minutes of world time, polled, not waited


def test_work_in_a_world_loops_executor_holds_the_jump_until_it_ends() -> None:
    """A QR decode or a socket connect in a world loop's executor (another thread) is world work too."""
    clock = VirtualClock(start=0.0)
    loop, thread = _watched_loop()
    started = threading.Event()
    seen: list[float] = []

    def decode() -> None:  # a slow decode on a machine that gives its thread no CPU for a while
        started.set()
        time.sleep(0.3)
        seen.append(clock.time())

    try:
        loop.call_soon_threadsafe(loop.run_in_executor, None, decode)
        assert started.wait(5.0)
        asyncio.run(clock.sleep(100.0))
        assert seen == [0.0], "time jumped while the world's executor still had work in hand"
    finally:
        _stop(loop, thread)


def test_a_wait_on_a_virtual_clock_that_fails_is_counted_in_world_seconds_above_a_real_floor() -> None:
    clock = VirtualClock(start=0.0)
    started = time.monotonic()
    assert not eventually_on(clock, lambda: False, 600.0, real_floor_s=0.2)
    assert clock.time() >= 600.0  # the whole wait, in the world's time
    assert time.monotonic() - started >= 0.2  # never shorter than the real floor


def test_a_wait_on_a_virtual_clock_sees_what_the_world_does_meanwhile() -> None:
    clock = VirtualClock(start=0.0)
    assert eventually_on(clock, lambda: clock.time() >= 5.0, 10.0)
    assert 5.0 <= clock.time() < 10.0  # it looked again as the world's time passed, and stopped when it held


def test_a_wait_on_a_held_virtual_clock_ends_at_its_real_limit() -> None:
    """A world whose time does not move (held here; on a busy machine, loops slow to settle) still ends the wait:
    after REAL_STRETCH times its seconds of real time, not sooner (the world may just be slow) and not never."""
    clock = VirtualClock(start=0.0)
    assert real_limit_s(clock, 0.3) == pytest.approx(0.3 * REAL_STRETCH) and real_limit_s(SystemClock(), 0.3) == 0.3
    with clock.hold():
        started = time.monotonic()
        assert not eventually_on(clock, lambda: False, 0.3, real_floor_s=0.1)
        assert time.monotonic() - started >= real_limit_s(clock, 0.3)
    assert clock.time() == 0.0


def test_a_wait_for_a_slow_world_is_not_cut_at_its_seconds_of_real_time() -> None:
    """The world's time lags behind real time (each step waits on work outside the clock): what the device does
    at 1 s of the world's time is still seen, though more than 1 s of real time has passed by then."""
    clock = VirtualClock(start=0.0)
    started = time.monotonic()

    def slow_world() -> bool:
        with clock.hold():
            time.sleep(0.15)  # the busy machine: each look costs real time while the world's time stands still
        return clock.time() >= 1.0

    assert eventually_on(clock, slow_world, 1.0, real_floor_s=0.0)  # 10 looks, 0.1 s of the world's time apart
    assert time.monotonic() - started > 1.0


def test_a_wait_on_a_real_clock_is_real_seconds() -> None:
    started = time.monotonic()
    assert not eventually_on(SystemClock(), lambda: False, 0.2)
    assert time.monotonic() - started >= 0.2
    assert eventually_on(None, lambda: True, 0.2)


def test_wait_for_on_a_virtual_clock_gives_the_result_or_times_out_in_world_time() -> None:
    clock = VirtualClock(start=0.0)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[str] = loop.create_future()

        async def answer() -> None:
            await clock.sleep(30.0)
            answered.set_result("up")

        task = loop.create_task(answer())
        assert await wait_for_on(clock, answered, 60.0) == "up"
        await task
        never: asyncio.Future[str] = loop.create_future()
        started, world = time.monotonic(), clock.time()
        with pytest.raises(TimeoutError):
            await wait_for_on(clock, never, 600.0, real_floor_s=0.1)
        assert clock.time() - world >= 600.0 and time.monotonic() - started >= 0.1
        assert not never.done()  # the caller's future is left as it was
        with pytest.raises(TimeoutError):
            await wait_for_on(SystemClock(), never, 0.05)

    asyncio.run(main())
