"""Acme's own TCs: the plugin's fixtures (lab, device, cloud) and paircert's Hypothesis strategies, checked against
Acme's requirements and paircert's."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from harness.adapters.contracts import CloudAdapter, DeviceAdapter
from harness.conformance.lab import Lab, release_device
from harness.protocol.qr import QrPayload, parse_qr_text
from harness.testing.strategies import ssids, tokens, wpa_passwords


@pytest.mark.tc("TC-ACME-001", reqs=["REQ-ACME-001", "REQ-QR-001"])
@pytest.mark.requires("mode:qr")
def test_the_camera_pairs_by_qr_into_the_tokens_home(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter) -> None:
    """The camera pairs by QR code into the home of its token, on the first attempt."""
    home = lab.home()
    outcome = lab.pair("qr", home=home)
    assert outcome.ok, f"the camera did not pair by QR: {outcome.error}"
    assert outcome.device_model is not None and outcome.device_model.home == home
    assert any(d.uuid == device.licence.uuid for d in cloud.list_devices(home)), "the camera is not in the home"


@pytest.mark.tc("TC-ACME-002", reqs=["REQ-ACME-002"], title="the camera joins generated Wi-Fi networks")
@pytest.mark.requires("mode:qr")
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ssid=ssids(max_bytes=24), password=wpa_passwords(open_network=False))
def test_generated_networks(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter, ssid: str, password: str) -> None:
    """For SSIDs and WPA passwords drawn from paircert's strategies, the camera joins exactly that network."""
    lab.wifi(ssid, password)
    outcome = lab.pair("qr", ssid=ssid, password=password)
    assert outcome.ok, f"the camera did not join {ssid!r}: {outcome.error}"
    release_device(cloud, device)


@pytest.mark.tc("TC-ACMEAPP-001", reqs=["REQ-ACMEAPP-001"])
@settings(max_examples=50, deadline=None)
@given(ssid=ssids(), password=wpa_passwords(), token=tokens())
def test_every_payload_acmes_app_prints_reads_back(ssid: str, password: str, token: str) -> None:
    """Every payload Acme's app prints reads back unchanged."""
    payload = QrPayload(ssid, password, str(token))
    assert parse_qr_text(payload.to_text()) == payload
