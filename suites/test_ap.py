"""AP (hotspot) mode: the device takes its config from legacy 55AA frames and LPV3.5 frames, refuses broken
frames and payloads while staying in pairing mode, and closes its access point after success (seed
"device-pairing-qr-mode": "Hotspot mode (AP mode)"; PROTOCOL.md §3)."""

from __future__ import annotations

import json

import pytest

from harness.adapters import probes
from harness.adapters.contracts import ApAddress, DeviceAdapter, DeviceCapability, NetworkAdapter
from harness.app.activator import ApOptions
from harness.conformance.lab import SETTLE_S, Lab, eventually
from harness.conformance.verdicts import inconclusive
from harness.profiles import Profile
from harness.protocol.apconfig import PayloadStyle

BIND_WAIT_S = 10.0
STYLES: dict[str, tuple[PayloadStyle, bool]] = {  # name -> (JSON style, open network)
    "compact": ("compact", False),
    "spaced": ("spaced", False),
    "ascii-escaped": ("ascii-escaped", False),
    "open-network-without-passwd": ("compact", True),
}
BROKEN_FRAME_SHAPES = probes.broken_ap_frames("lab-net", "pw123456", "AYabcdefgh1234")  # names and variants only


def ap_address(device: DeviceAdapter) -> ApAddress:
    """The device's SoftAP, polled for a moment: in pairing mode it comes up soon after, not at the same instant."""
    seen: list[ApAddress] = []

    def up() -> bool:
        address = device.ap_address()
        if address is not None:
            seen.append(address)
        return address is not None

    assert eventually(up), f"the device in pairing mode offers no access point (none within {SETTLE_S:g} s)"
    return seen[-1]


@pytest.mark.tc("TC-AP-001", reqs=["REQ-AP-001"])
@pytest.mark.requires("mode:ap", "ap:legacy")
@pytest.mark.parametrize("style", sorted(STYLES))
def test_the_device_pairs_from_a_legacy_frame_in_every_json_style(lab: Lab, device: DeviceAdapter,
                                                                  style: str) -> None:
    """PROTOCOL.md §3.1: a 55AA frame (command 1, UDP 6669) whose JSON is compact, spaced, ASCII-escaped, or
    without passwd for an open network."""
    json_style, open_network = STYLES[style]
    ssid, password = ("Gäste-Netz", "") if open_network else ("Büro-Netz", "pässwört-123")
    lab.wifi(ssid, password)
    outcome = lab.pair("ap", ssid=ssid, password=password, options=ApOptions(variant="legacy", style=json_style))
    assert outcome.ok, f"{style}: {outcome.error}"


@pytest.mark.tc("TC-AP-002", reqs=["REQ-AP-002"])
@pytest.mark.requires("mode:ap", "ap:lpv35")
def test_the_device_pairs_from_an_lpv35_frame_and_answers_zero(lab: Lab, device: DeviceAdapter,
                                                               network: NetworkAdapter) -> None:
    """PROTOCOL.md §3.2: a type 0x14 frame in 6699 framing is answered with return code 0 and the device pairs."""
    home = lab.home()
    token = lab.activator().get_token(home)
    wifi = lab.default_wifi
    code = probes.lpv35_configure(network, ap_address(device), wifi.ssid, wifi.password, token)
    # The pairing it started ends within this test whatever the answer (else it would land in the next one).
    bound = eventually(lambda: lab.holds(home), BIND_WAIT_S, clock=lab.world.clock)
    assert code == 0, f"the device answered the 0x14 config frame with return code {code}, not 0"
    assert bound, "no activation after the 0x14 frame"


@pytest.mark.tc("TC-AP-003", reqs=["REQ-AP-003"])
@pytest.mark.requires("mode:ap")
@pytest.mark.parametrize("case", [pytest.param(name, marks=pytest.mark.requires(f"ap:{variant}"), id=name)
                                  for name, (variant, _) in sorted(BROKEN_FRAME_SHAPES.items())])
def test_the_device_refuses_a_broken_ap_frame_and_stays_in_pairing_mode(lab: Lab, device: DeviceAdapter,
                                                                        network: NetworkAdapter, case: str) -> None:
    """PROTOCOL.md §3.1/§3.2: a bad CRC, a wrong length or a tag that does not verify is refused; the device stays
    in pairing mode and pairs normally afterwards."""
    wifi = lab.default_wifi
    token = lab.activator().get_token(lab.home())
    variant, frame = probes.broken_ap_frames(wifi.ssid, wifi.password, token)[case]
    if variant == "legacy":
        network.send_ap_legacy(ap_address(device), frame)
    else:
        network.send_ap_lpv35(ap_address(device), [frame], timeout=1.0)
    lab.expect_still_pairing(case)
    assert not lab.is_bound(), f"the device activated from a frame with a {case}"
    outcome = lab.pair("ap", options=ApOptions(variant=variant))
    assert outcome.ok, f"after {case}: {outcome.error}"


@pytest.mark.tc("TC-AP-004", reqs=["REQ-AP-004"])
@pytest.mark.requires("mode:ap")
def test_the_device_leaves_ap_mode_after_pairing(lab: Lab, device: DeviceAdapter, profile: Profile) -> None:
    """PROTOCOL.md §3.2: after pairing succeeds the device's access point and discovery beacon stop."""
    if DeviceCapability.AP_STATUS not in device.capabilities:
        inconclusive(f"the {device.name} device adapter cannot tell whether the access point is open (it has a fixed "
                     f"AP address and no way to ask the device, e.g. the operator adapter without an ap_hook): "
                     f"whether the access point closed after pairing is not observable")
    assert ap_address(device)
    outcome = lab.pair("ap", options=ApOptions(variant=profile.capabilities.ap_variants[0]))
    assert outcome.ok, outcome.error
    assert device.ap_address() is None, "the device still offers its access point after pairing"


@pytest.mark.tc("TC-AP-005", reqs=["REQ-AP-005"])
@pytest.mark.requires("mode:ap", "ap:legacy")
@pytest.mark.parametrize("case", sorted(probes.oversize_ap_payloads("AYabcdefgh1234")))
def test_the_device_refuses_an_oversize_or_mistyped_ap_payload(lab: Lab, device: DeviceAdapter,
                                                               network: NetworkAdapter, case: str) -> None:
    """PROTOCOL.md §3.1/§3.2: an SSID over 32 bytes, a password over 64 bytes, or a non-string ssid, passwd or
    token is refused without crashing."""
    token = lab.activator().get_token(lab.home())
    network.send_ap_legacy(ap_address(device), probes.oversize_ap_payloads(token)[case])
    lab.expect_still_pairing(case)
    assert not lab.is_bound(), f"the device activated from a payload with {case}"
    outcome = lab.pair("ap", options=ApOptions(variant="legacy"))
    assert outcome.ok, f"after {case}: {outcome.error}"


def refused_lpv35_payloads(token: str) -> dict[str, bytes]:
    """§3.2 0x14 payloads a device must refuse, by name: well framed and sealed, wrong inside."""
    return {"ssid-over-32-bytes": json.dumps({"ssid": "x" * 40, "passwd": "pw123456", "token": token}).encode(),
            "ssid-not-a-string": json.dumps({"ssid": 12345, "passwd": "pw123456", "token": token}).encode(),
            "not-json": b'{"ssid": "lab-net", "passwd": '}


@pytest.mark.tc("TC-AP-006", reqs=["REQ-AP-002", "REQ-AP-003"])
@pytest.mark.requires("mode:ap", "ap:lpv35", "device:events")
@pytest.mark.parametrize("case", sorted(refused_lpv35_payloads("AYabcdefgh1234")))
def test_the_lpv35_answer_says_whether_the_config_was_taken(lab: Lab, device: DeviceAdapter, network: NetworkAdapter,
                                                            case: str) -> None:
    """PROTOCOL.md §3.2: return code 0 means the device took the configuration; a 0x14 request it refuses (an SSID
    over 32 bytes or not a string, not JSON) is answered with a non-zero code, and the device takes nothing from it."""
    token = lab.activator().get_token(lab.home())
    seen = len(device.events())  # by position: an earlier test's events may carry this same world time
    code = probes.lpv35_send_payload(network, ap_address(device), refused_lpv35_payloads(token)[case])
    taken = [e.details.get("ssid") for e in device.events()[seen:] if e.name == "config-received"]
    assert not taken, f"{case}: the device took a configuration from a request it must refuse (SSID {taken})"
    assert code is not None and code != 0, f"{case}: the device answered a refused configuration with {code!r}, " \
                                           "the code that says it was taken"
    lab.expect_still_pairing(case)
