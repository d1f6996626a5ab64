"""EZ mode (SmartConfig): the device pairs from datagram lengths and multicast addresses, over an imperfect air,
and never from corrupted or wrong credentials (seed "device-pairing-qr-mode": "Wi-Fi Easy Connect (EZ) mode,
also known as the SmartConfig mode"; PROTOCOL.md §2)."""

from __future__ import annotations

import pytest

from harness.adapters import probes
from harness.adapters.contracts import CloudAdapter, DeviceAdapter, NetworkAdapter
from harness.app.activator import EzOptions, Outcome
from harness.conformance.lab import Lab

# Every EZ test needs datagrams that reach the device: the in-memory air reaches emulated devices only.
pytestmark = pytest.mark.requires("network:send-ez")

TAILS = ["padded", "tuya-convert"]
# TC-EZ-001's credentials: the lab's network, and the longest legal ones (a 32-byte SSID, a 64-character password).
BROADCAST_CASES: dict[str, tuple[str, str] | None] = {
    "lab-network": None,
    "longest-ssid-and-password": ("paircert-ez-broadcast-longest-32", "0123456789abcdef" * 4),
}


def pair_by_ez(lab: Lab, channels: tuple[str, ...], tail: str = "padded", *, ssid: str | None = None,
               password: str | None = None, token: str | None = None) -> Outcome:
    """Pair in EZ mode with the app sending on ``channels`` with ``tail``; the lab's network unless told."""
    wifi = lab.default_wifi
    ssid = wifi.ssid if ssid is None else ssid
    password = wifi.password if password is None else password
    return lab.pair("ez", ssid=ssid, password=password, token=token, options=EzOptions(channels=channels, tail=tail))


@pytest.mark.tc("TC-EZ-001", reqs=["REQ-EZ-001"])
@pytest.mark.requires("mode:ez", "ez:broadcast")
@pytest.mark.parametrize("credentials", sorted(BROADCAST_CASES))
def test_the_device_pairs_from_the_broadcast_channel_alone(lab: Lab, device: DeviceAdapter, credentials: str) -> None:
    """PROTOCOL.md §2.3: datagram lengths to 255.255.255.255:30011 carry everything the device needs, up to the
    longest legal SSID and password (a message of 112 bytes: L is one byte, so a decoder must take up to 255)."""
    case = BROADCAST_CASES[credentials]
    wifi = lab.wifi(*case) if case else lab.default_wifi
    outcome = pair_by_ez(lab, ("broadcast",), ssid=wifi.ssid, password=wifi.password)
    assert outcome.ok, f"{credentials}: {outcome.error}"


@pytest.mark.tc("TC-EZ-002", reqs=["REQ-EZ-002"])
@pytest.mark.requires("mode:ez", "ez:multicast")
def test_the_device_pairs_from_the_multicast_channel_alone(lab: Lab, device: DeviceAdapter) -> None:
    """PROTOCOL.md §2.4: multicast addresses 226.x.y.z:30012 carry everything a device claiming them needs."""
    outcome = pair_by_ez(lab, ("multicast",))
    assert outcome.ok, outcome.error


@pytest.mark.tc("TC-EZ-003", reqs=["REQ-EZ-003"])
@pytest.mark.requires("mode:ez", "ez:broadcast")
@pytest.mark.parametrize("tail", TAILS)
def test_the_device_pairs_with_either_broadcast_tail(lab: Lab, device: DeviceAdapter, tail: str) -> None:
    """PROTOCOL.md §2.3: trailing 256 values after the last chunk, or a last chunk padded to 4 data values."""
    outcome = pair_by_ez(lab, ("broadcast",), tail)
    assert outcome.ok, f"tail {tail}: {outcome.error}"


# TC-EZ-004's sends: both channels with either tail, and the broadcast channel alone (padded: the tails are
# TC-EZ-003's matter), where no multicast section can make up for what a round of lengths lost.
LOSSY_AIR_SENDS = {
    "both-padded": (("broadcast", "multicast"), "padded"),
    "both-tuya-convert": (("broadcast", "multicast"), "tuya-convert"),
    "broadcast-only": (("broadcast",), "padded"),
}


@pytest.mark.tc("TC-EZ-004", reqs=["REQ-EZ-004"])
@pytest.mark.requires("mode:ez")
@pytest.mark.parametrize("send", sorted(LOSSY_AIR_SENDS))
def test_the_device_pairs_over_a_lossy_noisy_air(lab: Lab, device: DeviceAdapter, network: NetworkAdapter,
                                                 send: str) -> None:
    """PROTOCOL.md §2.5: with datagrams dropped, duplicated, reordered and stray ones added, the device still pairs
    as the app repeats its rounds: on the broadcast channel alone it builds the message up from what each round
    delivered, since hardly a round arrives whole."""
    channels, tail = LOSSY_AIR_SENDS[send]
    if channels == ("broadcast",) and lab.profile.na_reason("ez_channel:broadcast"):
        from harness.conformance.verdicts import NotApplicable

        raise NotApplicable(str(lab.profile.na_reason("ez_channel:broadcast")))
    with probes.impaired_air(network, loss=0.08, duplicate=0.05, reorder=0.05, noise=0.05):
        outcome = pair_by_ez(lab, channels, tail)
    assert outcome.ok, f"{send} over a lossy air: {outcome.error}"


@pytest.mark.tc("TC-EZ-005", reqs=["REQ-EZ-005"])
@pytest.mark.requires("mode:ez", "ez:broadcast", "device:events")
def test_the_device_ignores_ez_data_with_a_bad_crc(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter,
                                                   network: NetworkAdapter) -> None:
    """PROTOCOL.md §2.2/§2.3: a header or group whose CRC-8 does not match is ignored, never used: the device joins
    nothing with the corrupted password or the length the bad header announces (a truncated SSID), and pairs from
    the clean rounds that follow."""
    seen = len(device.events())  # by position: an earlier test's events may carry this same world time
    wifi = lab.default_wifi
    token = lab.activator().get_token(lab.home())
    probes.send_ez_corrupted(network, wifi.ssid.encode(), wifi.password.encode(), token.encode())
    outcome = pair_by_ez(lab, ("broadcast",), token=token)
    joins = [e for e in device.events()[seen:] if e.name == "wifi-join"]
    assert all(e.details.get("outcome") == "ok" for e in joins), f"the device joined with corrupted data: {joins}"
    assert outcome.ok, outcome.error


@pytest.mark.tc("TC-EZ-008", reqs=["REQ-EZ-005", "REQ-EZ-002"])
@pytest.mark.requires("mode:ez", "ez:multicast", "device:events")
def test_the_device_ignores_a_multicast_section_with_a_bad_crc(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter,
                                                               network: NetworkAdapter) -> None:
    """PROTOCOL.md §2.4: a multicast section carries the CRC-32 of its plaintext; rounds whose SSID does not match
    it are ignored, never joined, and the device pairs from the clean multicast rounds that follow."""
    seen = len(device.events())  # by position: an earlier test's events may carry this same world time
    wifi = lab.default_wifi
    token = lab.activator().get_token(lab.home())
    probes.send_ez_multicast_corrupted(network, wifi.ssid.encode(), wifi.password.encode(), token.encode())
    outcome = pair_by_ez(lab, ("multicast",), token=token)
    joins = [e for e in device.events()[seen:] if e.name == "wifi-join"]
    bad = [f"{e.details.get('ssid')!r}: {e.details.get('outcome')}" for e in joins if e.details.get("outcome") != "ok"]
    assert not bad, f"the device tried to join an SSID whose CRC-32 failed: {bad} (the SSID sent: {wifi.ssid!r})"
    assert outcome.ok, outcome.error


@pytest.mark.tc("TC-EZ-006", reqs=["REQ-EZ-006"])
@pytest.mark.requires("mode:ez")
def test_the_device_joins_exactly_the_network_sent_over_ez(lab: Lab, device: DeviceAdapter) -> None:
    """PROTOCOL.md §2.1/§2.6: SSID and password travel as their exact UTF-8 bytes."""
    ssid, password = "Wohnzimmer-Ü 📶", "pässwörd-ß-123"
    lab.wifi(ssid, password)
    outcome = pair_by_ez(lab, ("broadcast", "multicast"), ssid=ssid, password=password)
    assert outcome.ok, outcome.error


@pytest.mark.tc("TC-EZ-007", reqs=["REQ-EZ-007"])
@pytest.mark.requires("mode:ez")
def test_a_wrong_wifi_password_never_activates(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter) -> None:
    """PROTOCOL.md §0 step 3: a device that cannot join the network activates nothing."""
    token = lab.activator().get_token(lab.home())
    outcome = pair_by_ez(lab, ("broadcast", "multicast"), password="not-the-password", token=token)
    assert not outcome.ok, "the device paired with a wrong Wi-Fi password"
    assert not lab.is_bound(), "the device is bound after a wrong Wi-Fi password"
    attempts = list(cloud.token_attempts(token))
    assert attempts == [], f"the device activated without joining the network: {[a.outcome for a in attempts]}"
