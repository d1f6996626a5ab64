"""The in-memory BLE radio: advertising and scanning, connections with a negotiated MTU, writes and notifications
(CCCD first), seeded loss and duplication, disconnects heard on both ends, the log on the world's clock."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pytest

from harness.clock import VirtualClock
from harness.emulator.radio import LinkLost, Radio, RadioError, RadioLink, ScanResult
from harness.protocol.ble import advertise_v4, ble_id
from harness.protocol.ble.gatt import NOTIFY_CHARACTERISTIC, WRITE_CHARACTERISTIC, uuid16

ADDRESS = "02:00:00:00:00:01"


@dataclass
class Echo:
    """A peripheral that notifies every write back, with its own MTU offer."""

    max_att_mtu: int = 247
    writes: list[bytes] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    links: list[RadioLink] = field(default_factory=list)

    def connected(self, link: RadioLink) -> None:
        self.links.append(link)

    def written(self, link: RadioLink, characteristic: str, data: bytes) -> None:
        self.writes.append(data)
        link.notify(NOTIFY_CHARACTERISTIC, data)

    def disconnected(self, link: RadioLink, reason: str) -> None:
        self.closed.append(reason)


def tuya_advertisement() -> tuple[bytes, bytes]:
    return advertise_v4(id16=ble_id("pc0123456789abcdefgh"), id_field=b"pcertcamstrong01").encode()


def radio_with_echo(**kwargs: object) -> tuple[Radio, Echo]:
    radio = Radio(**kwargs)  # type: ignore[arg-type]
    echo = Echo()
    radio.register(ADDRESS, echo)
    radio.advertise(ADDRESS, *tuya_advertisement())
    return radio, echo


def test_a_scan_sees_the_advertisement_with_bleaks_keys() -> None:
    radio, _ = radio_with_echo()
    radio.register("02:00:00:00:00:02", Echo())
    radio.advertise("02:00:00:00:00:02", bytes.fromhex("0201060303 0f18".replace(" ", "")))
    found = radio.scan(service_uuid16=0xFD50)
    assert [r.address for r in found] == [ADDRESS]
    assert found[0].service_data[uuid16(0xFD50)] == bytes.fromhex("430c0010") + b"pcertcamstrong01"
    assert len(found[0].manufacturer_data[0x07D0]) == 20 and found[0].name == "TYBLE"
    assert len(radio.scan()) == 2
    radio.stop_advertising(ADDRESS)
    assert radio.scan(service_uuid16=0xFD50) == []


def test_a_malformed_ad_block_hides_only_itself() -> None:
    result = ScanResult(ADDRESS, b"\x05\x16\x50", tuya_advertisement()[1])
    assert result.service_data == {} and 0x07D0 in result.manufacturer_data


def test_a_scan_waits_until_what_it_wants_advertises() -> None:
    radio = Radio()
    radio.register(ADDRESS, Echo())
    timer = threading.Timer(0.05, radio.advertise, args=(ADDRESS, *tuya_advertisement()))
    timer.start()
    started = time.monotonic()
    found = radio.scan(timeout=5.0, until=bool)
    timer.join()
    assert [r.address for r in found] == [ADDRESS] and time.monotonic() - started < 4.0
    assert radio.scan(timeout=0.05, until=lambda results: len(results) > 1) == found  # gives up at the timeout


def test_connecting_negotiates_the_lower_mtu_and_refuses_what_does_not_advertise() -> None:
    radio, echo = radio_with_echo()
    echo.max_att_mtu = 185
    assert radio.connect(ADDRESS, att_mtu=247).att_mtu == 185
    assert radio.connect(ADDRESS).att_mtu == 23
    with pytest.raises(RadioError, match="nothing connectable"):
        radio.connect("02:00:00:00:00:09")
    with pytest.raises(ValueError):
        radio.connect(ADDRESS, att_mtu=600)


def test_writes_and_notifications_fit_the_mtu_and_need_a_subscription() -> None:
    radio, echo = radio_with_echo()
    link = radio.connect(ADDRESS, att_mtu=50)
    heard: list[bytes] = []
    link.write(WRITE_CHARACTERISTIC, b"before")
    assert echo.writes == [b"before"] and heard == []  # not subscribed: the notification goes nowhere
    assert radio.log[-1].fate == "unsubscribed"
    link.subscribe(NOTIFY_CHARACTERISTIC, heard.append)
    link.write(WRITE_CHARACTERISTIC, b"x" * 47)
    assert heard == [b"x" * 47]
    with pytest.raises(RadioError, match="does not fit ATT_MTU 50"):
        link.write(WRITE_CHARACTERISTIC, b"x" * 48)


def test_a_disconnect_is_heard_on_both_ends_once() -> None:
    radio, echo = radio_with_echo()
    link = radio.connect(ADDRESS)
    reasons: list[str] = []
    link.on_disconnect(reasons.append)
    echo.links[0].disconnect("pair-mismatch")
    link.disconnect("again")
    assert reasons == ["pair-mismatch"] and echo.closed == ["pair-mismatch"] and not link.connected
    with pytest.raises(LinkLost):
        link.write(WRITE_CHARACTERISTIC, b"late")
    late: list[str] = []
    link.on_disconnect(late.append)
    assert late == ["already disconnected"]
    radio.unregister(ADDRESS)
    assert radio.scan() == [] and radio.links == []


def heard_with(seed: int, **impairments: float) -> list[bytes]:
    radio, _ = radio_with_echo(seed=seed, **impairments)
    link = radio.connect(ADDRESS)
    heard: list[bytes] = []
    link.subscribe(NOTIFY_CHARACTERISTIC, heard.append)
    for i in range(200):
        link.write(WRITE_CHARACTERISTIC, bytes([i]))
    return heard


def test_loss_and_duplication_are_seeded_and_replay() -> None:
    clean = heard_with(1)
    assert clean == [bytes([i]) for i in range(200)]
    lossy = heard_with(5, loss=0.2)
    assert lossy == heard_with(5, loss=0.2) != heard_with(6, loss=0.2)
    assert 200 * 0.5 < len(lossy) < 200 * 0.8  # lost on the way out or on the way back
    doubled = heard_with(5, duplicate=0.3)
    assert len(doubled) > 200 and set(doubled) == set(clean)
    with pytest.raises(ValueError):
        Radio(loss=1.5)


def test_a_write_with_response_is_never_lost() -> None:
    radio, echo = radio_with_echo(seed=3, loss=1.0)
    link = radio.connect(ADDRESS)
    link.write(WRITE_CHARACTERISTIC, b"acked", response=True)
    link.write(WRITE_CHARACTERISTIC, b"dropped")
    assert echo.writes == [b"acked"]


def test_the_log_is_on_the_worlds_clock() -> None:
    clock = VirtualClock(start=1000.0, autojump=False)
    radio = Radio(clock=clock)
    radio.register(ADDRESS, Echo())
    mark = radio.seq
    clock.advance(5)
    radio.advertise(ADDRESS, *tuya_advertisement())
    records = radio.log_since(mark)
    assert [(r.kind, r.t) for r in records] == [("advertise", 1005.0)]
    with pytest.raises(RadioError, match="another peripheral"):
        radio.register(ADDRESS, Echo())
