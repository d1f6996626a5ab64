"""The in-memory air: access points, seeded loss, duplication, reordering and noise, the log."""

from __future__ import annotations

import threading

import pytest

from harness.clock import VirtualClock
from harness.emulator.air import Air, AirObservation, DeviceAp


def run(air: Air, n: int = 400) -> list[AirObservation]:
    seen: list[AirObservation] = []
    with air.listen(seen.append):
        for i in range(n):
            air.send_length(256 + (i % 256))
        air.flush()
    return seen


def test_a_clean_air_delivers_everything_in_order() -> None:
    air = Air()
    seen = run(air, 50)
    assert [o.value for o in seen] == [256 + i for i in range(50)]
    assert {r.fate for r in air.log} == {"delivered"}


@pytest.mark.parametrize("knob", ["loss", "duplicate", "reorder", "noise"])
def test_each_impairment_is_deterministic_for_a_seed(knob: str) -> None:
    first = run(Air(seed=7, **{knob: 0.3}))
    again = run(Air(seed=7, **{knob: 0.3}))
    other = run(Air(seed=8, **{knob: 0.3}))
    assert first == again
    assert first != other


def test_loss_drops_about_the_asked_share() -> None:
    seen = run(Air(seed=1, loss=0.2), 1000)
    assert 700 < len(seen) < 900


def test_duplication_repeats_and_reorder_swaps_neighbours() -> None:
    dup = run(Air(seed=2, duplicate=0.5), 100)
    assert len(dup) > 130
    reordered = run(Air(seed=3, reorder=0.3), 100)
    values = [o.value for o in reordered]
    assert sorted(values) == [256 + i for i in range(100)]
    assert values != sorted(values)


def test_noise_adds_observations_of_the_same_channel() -> None:
    air = Air(seed=4, noise=0.5)
    seen: list[AirObservation] = []
    with air.listen(seen.append):
        for _ in range(100):
            air.send_address("226.120.89.84")
    assert len(seen) > 130
    assert all(o.kind == "address" for o in seen)
    assert sum(1 for r in air.log if r.fate == "noise") == len(seen) - 100


def test_a_closed_listener_hears_nothing_and_the_log_uses_the_clock() -> None:
    clock = VirtualClock(start=1000.0, autojump=False)
    air = Air(clock=clock)
    seen: list[AirObservation] = []
    handle = air.listen(seen.append)
    air.send_length(3)
    handle.close()
    air.send_length(6)
    assert [o.value for o in seen] == [3]
    assert [r.t for r in air.log] == [1000.0, 1000.0]
    assert air.listener_count == 0


def test_send_accepts_any_observation_like_object() -> None:
    class Obs:
        kind = "length"
        value = 10

    air = Air()
    seen: list[AirObservation] = []
    with air.listen(seen.append):
        air.send(Obs())
    assert seen == [AirObservation("length", 10)]
    with pytest.raises(ValueError):
        AirObservation("length", -1)


def test_access_points_and_joining() -> None:
    air = Air()
    air.add_access_point(b"home", b"secret123")
    air.add_access_point(b"cafe")
    assert air.join(b"home", b"secret123") == "ok"
    assert air.join(b"home", b"wrong") == "wrong-password"
    assert air.join(b"nowhere", b"x") == "no-such-ssid"
    assert air.join(b"cafe", b"") == "ok"
    assert air.access_point(b"cafe") is not None and air.access_point(b"cafe").is_open  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        air.add_access_point(b"x" * 33)


def test_device_aps_are_listed_while_open() -> None:
    air = Air()
    ap = DeviceAp("SmartLife-0A0B", "127.0.0.1", 1000, 1001)
    air.open_device_ap(ap)
    assert air.device_ap("SmartLife-0A0B") == ap and ap.address == ("127.0.0.1", 1000, 1001)
    air.close_device_ap("SmartLife-0A0B")
    assert air.device_aps == []


def test_sending_from_many_threads_is_safe() -> None:
    air = Air(seed=5, duplicate=0.1)
    seen: list[AirObservation] = []
    air.listen(seen.append)
    threads = [threading.Thread(target=lambda: [air.send_length(300) for _ in range(500)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(seen) == sum(1 for r in air.log if r.fate in ("delivered", "duplicated"))


def test_log_since_a_mark_returns_only_what_came_after_it_even_once_the_log_has_evicted() -> None:
    air = Air(seed=1, log_limit=5)
    assert air.seq == 0 and air.log_since(0) == []
    for length in range(3):
        air.send(AirObservation("length", length + 100))
    mark = air.seq
    for length in range(4):
        air.send(AirObservation("length", length + 200))
    assert [r.value for r in air.log_since(mark)] == [200, 201, 202, 203]
    assert [r.value for r in air.log_since(0)] == [102, 200, 201, 202, 203]  # 100 and 101 were evicted
    assert air.log_since(air.seq) == []
