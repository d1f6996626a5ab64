from __future__ import annotations

import asyncio
import time

import pytest

from harness.clock import SystemClock, VirtualClock


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
