"""MQTT over TLS on both brokers (PROTOCOL.md §11.1): the embedded amqtt one and Mosquitto (when installed), the
plain listener beside it, and binding by UUID through each (the login's |pv= suffix read back, §11.9.1)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import pytest
from _cloud_helpers import make_world
from _tls_helpers import DeviceMqtt

from harness.emulator.broker.mosquitto import find_mosquitto
from harness.emulator.cloud import EmulatedCloud, LabCa, TlsSettings
from harness.protocol import mqtt as mq

BROKERS = [pytest.param("amqtt"), pytest.param("mosquitto", marks=pytest.mark.skipif(
    find_mosquitto() is None,
    reason="mosquitto is not installed (make mosquitto)"))]


@pytest.fixture(scope="module")
def lab_ca() -> LabCa:
    return LabCa.create()


@pytest.fixture(scope="module", params=BROKERS)
def cloud(request: pytest.FixtureRequest, lab_ca: LabCa) -> Iterator[EmulatedCloud]:
    with EmulatedCloud(tls=TlsSettings(lab_ca), broker=request.param, plain_mqtt_port=0) as served:
        yield served


@pytest.mark.parametrize("pv", ["2.3", None])
def test_a_waiting_device_over_tls_is_pushed_its_token(cloud: EmulatedCloud, lab_ca: LabCa, pv: str | None) -> None:
    world = make_world(cloud)
    lic = world.licence()
    creds = mq.preactivation_credentials(lic.uuid, lic.auth_key, pv="2.3" if pv else None)
    device = DeviceMqtt(cloud, creds.client_id, creds.username, creds.password, tls=lab_ca.client_context())
    try:
        assert device.accepted, device.reason
        device.subscribe(mq.preactivation_topic(lic.uuid))
        grant = _bind_when_seen(cloud, world.owner, world.home, lic.uuid)
        payload = device.wait_message(mq.preactivation_topic(lic.uuid))[0]
    finally:
        device.close()
    opened = mq.decode_envelope(payload, local_key=lic.auth_key[:16])
    assert opened.pv == ("2.3" if pv else "2.2") == grant.pv
    assert mq.parse_message_json(opened.plaintext).data["token"] == grant.token


def _bind_when_seen(cloud: EmulatedCloud, owner: str, home: str, uuid: str) -> object:
    """Mosquitto reports a connection from its log a few milliseconds late: bind once the broker has seen it."""
    from _camera_helpers import wait_until

    link = cloud._broker_link
    assert link is not None
    wait_until(lambda: link.preactivation_login(uuid) is not None)
    return cloud.app.bind_uuid(owner, home, uuid)


def test_the_plain_listener_beside_tls_and_a_wrong_ca(cloud: EmulatedCloud, lab_ca: LabCa) -> None:
    world = make_world(cloud)
    lic = world.licence()
    creds = mq.preactivation_credentials(lic.uuid, lic.auth_key)
    with pytest.raises(ssl.SSLCertVerificationError):
        DeviceMqtt(cloud, creds.client_id, creds.username, creds.password, tls=LabCa.create().client_context())
    assert cloud.plain_mqtt_port is not None
    plain = DeviceMqtt(cloud, creds.client_id, creds.username, creds.password, port=cloud.plain_mqtt_port)
    try:
        assert plain.accepted, plain.reason
    finally:
        plain.close()
