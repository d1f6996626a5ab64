"""Which networks a lab can make: the declared capability, the INCONCLUSIVE rule, and fuzz strategies that draw
only from what the lab makes (issue "The lab's Wi-Fi under the harness's control")."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.adapters.contracts import (
    AccessPoint,
    AccessPointCapability,
    CannotMakeNetwork,
    NetworkCapability,
    Security,
    access_point_capability,
    cannot_make,
    make_access_point,
)
from harness.conformance.lab import Lab
from harness.conformance.verdicts import Inconclusive
from harness.evidence import EvidenceRecorder
from harness.fuzzing.targets import PairCase, valid_cases
from harness.profiles import load_profile
from harness.redaction import Redactor
from harness.testing.strategies import ssids

ASCII_ONLY = AccessPointCapability(non_ascii=False, securities=frozenset({Security.WPA2_PSK}),
                                   wpa_passphrases_only=True)


class FakeNetwork:
    """A network adapter that makes networks within ``access_point_capability`` and remembers them."""

    name = "fake"
    capabilities = frozenset({NetworkCapability.CREATE_NETWORKS.value})

    def __init__(self, capability: AccessPointCapability | None = None) -> None:
        if capability is not None:
            self.access_point_capability = capability
        self.made: dict[bytes, tuple[bytes, Security | None]] = {}
        self.removed: list[bytes] = []

    def add_access_point(self, ssid: bytes, password: bytes, security: Security | None = None) -> None:
        self.made[ssid] = (password, security)

    def remove_access_point(self, ssid: bytes) -> None:
        self.removed.append(ssid)
        self.made.pop(ssid, None)

    def access_points(self) -> Sequence[AccessPoint]:
        return [AccessPoint(ssid, security or Security.WPA2_PSK) for ssid, (_, security) in self.made.items()]


class OldNetwork:
    """A network adapter written before security existed: two-argument add_access_point, no capability."""

    name = "old"

    def __init__(self) -> None:
        self.made: dict[bytes, bytes] = {}

    def add_access_point(self, ssid: bytes, password: bytes) -> None:
        self.made[ssid] = password


def test_the_capability_names_what_the_lab_cannot_make() -> None:
    ssid = "カメラ家の無線ネットab".encode()
    assert len(ssid) == 32
    assert ASCII_ONLY.problem(ssid, b"correct horse", Security.WPA2_PSK) == (
        f"an SSID of 32 UTF-8 bytes with non-ASCII characters ({ssid.decode()!r}): it makes ASCII SSIDs only")
    assert ASCII_ONLY.problem(b"open", b"", Security.OPEN) == "an open network: it makes wpa2-psk networks"
    assert ASCII_ONLY.problem(b"x" * 33, b"password", Security.WPA2_PSK).startswith("an SSID of 33 bytes")
    assert "8 to 63 bytes or 64 hex digits" in (ASCII_ONLY.problem(b"net", b"short", Security.WPA2_PSK) or "")
    assert ASCII_ONLY.problem(b"net", b"0123456789abcdef" * 4, Security.WPA2_PSK) is None
    assert ASCII_ONLY.problem(b"say \"hi\" \\ a/b", b"pw\"\\/x12345", Security.WPA2_PSK) is None
    utf8_only = AccessPointCapability(non_utf8=False)
    assert "not UTF-8" in (utf8_only.problem(b"\xff\xfe", b"password", Security.WPA2_PSK) or "")
    assert AccessPointCapability().problem(b"\xff\xfe", b"", Security.OPEN) is None


def test_the_security_follows_the_password_and_what_the_lab_makes() -> None:
    assert AccessPointCapability().security_for(b"") is Security.OPEN
    assert AccessPointCapability().security_for(b"secret12") is Security.WPA2_PSK
    sae = AccessPointCapability(securities=frozenset({Security.WPA3_SAE}))
    assert sae.security_for(b"secret12") is Security.WPA3_SAE and sae.security_for(b"") is None


def test_cannot_make_says_why_and_make_access_point_refuses() -> None:
    network = FakeNetwork(ASCII_ONLY)
    reason = cannot_make(network, "open café".encode(), b"")  # type: ignore[arg-type]
    assert reason.startswith("the lab cannot create an open network") and "fake" in reason
    with pytest.raises(CannotMakeNetwork, match="non-ASCII"):
        make_access_point(network, "é-net".encode(), b"password")  # type: ignore[arg-type]
    assert network.made == {}
    assert make_access_point(network, b"lab-net", b"password1") is Security.WPA2_PSK  # type: ignore[arg-type]
    assert network.made == {b"lab-net": (b"password1", Security.WPA2_PSK)}


def test_a_network_without_the_capability_cannot_make_any() -> None:
    network = SimpleNamespace(name="scapy", capabilities=frozenset({NetworkCapability.SEND_EZ.value}))
    assert access_point_capability(network) is None  # type: ignore[arg-type]
    assert "cannot create networks" in (cannot_make(network, b"x", b"") or "")  # type: ignore[arg-type]


def test_an_adapter_written_before_security_is_called_the_old_way() -> None:
    network = OldNetwork()
    assert make_access_point(network, b"net", b"password1") is Security.WPA2_PSK  # type: ignore[arg-type]
    assert network.made == {b"net": b"password1"}
    with pytest.raises(TypeError):  # WPA3 cannot be asked of it: not silently made as WPA2
        make_access_point(network, b"net3", b"password1", Security.WPA3_SAE)  # type: ignore[arg-type]


def _lab(network: Any, tmp_path: Path) -> Lab:
    profile = load_profile("camera-strong")
    redactor = Redactor()
    world = SimpleNamespace(network=network, cloud=None, clock=None)
    evidence = EvidenceRecorder("TC-QR-002", "t", redactor=redactor)
    return Lab(world, profile, evidence=evidence, redactor=redactor,  # type: ignore[arg-type]
               device=lambda: None, rng=random.Random(1))  # type: ignore[arg-type,return-value]


def test_a_network_the_lab_cannot_make_is_inconclusive_with_the_reason(tmp_path: Path) -> None:
    network = FakeNetwork(ASCII_ONLY)
    lab = _lab(network, tmp_path)
    with pytest.raises(Inconclusive, match=r"the lab cannot create an SSID of 32 UTF-8 bytes with non-ASCII"):
        lab.wifi("カメラ家の無線ネットab", "correct horse battery")
    with pytest.raises(Inconclusive, match=r"the lab cannot create an open network"):
        lab.wifi("open-net", "")
    made = lab.wifi('say "hi" \\ a/b', 'pw"\\/x12345')
    assert made.ssid == 'say "hi" \\ a/b' and network.made[made.ssid.encode()][1] is Security.WPA2_PSK


def test_the_lab_removes_the_networks_the_test_made_but_keeps_its_own(tmp_path: Path) -> None:
    network = FakeNetwork()
    lab = _lab(network, tmp_path)
    lab.wifi("test-net", "password1")
    lab.wifi()  # a generated one
    assert len(network.made) == 2
    lab.close()
    assert b"test-net" in network.removed and network.made == {}


@settings(max_examples=60, database=None, deadline=None)
@given(st.data())
def test_fuzz_cases_draw_only_networks_the_lab_can_make(data: st.DataObject) -> None:
    case: PairCase = data.draw(valid_cases(["qr"], ASCII_ONLY))
    assert cannot_make(FakeNetwork(ASCII_ONLY), case.ssid.encode(), case.password.encode()) is None  # type: ignore[arg-type]


@settings(max_examples=40, database=None, deadline=None)
@given(ssids(min_bytes=3, max_bytes=20, ascii_only=True))
def test_ascii_ssids_stay_ascii_and_within_the_lengths(ssid: str) -> None:
    assert ssid.isascii() and 3 <= len(ssid.encode()) <= 20


def test_a_lab_that_makes_only_open_networks_gets_only_open_cases() -> None:
    open_only = AccessPointCapability(securities=frozenset({Security.OPEN}))

    @settings(max_examples=20, database=None, deadline=None)
    @given(valid_cases(["qr"], open_only))
    def only_open(case: PairCase) -> None:
        assert case.password == ""

    only_open()
