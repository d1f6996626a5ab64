"""A device's calls after activation (PROTOCOL.md §11.4, §11.5, §11.9.5) against the TLS lab cloud: plaintext
MQTT-ATOP on rpc/req answered on rpc/rsp, tuya.device.versions.update over HTTPS, and the cloud's first command
in the protocol version the device announced at activation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from _cloud_helpers import World, activation_body, make_world
from _tls_helpers import DeviceMqtt, http_exchange, port_of, sdk_request

from harness.emulator.cloud import EmulatedCloud, LabCa, TlsSettings
from harness.protocol import mqtt as mq
from harness.protocol.atop import API_OPENSDK_ACTIVE, AtopRequest, build_request, decode_response
from harness.protocol.matop import API_VERSIONS_UPDATE, MatopRequest, MatopResponse


@pytest.fixture(scope="module")
def lab_ca() -> LabCa:
    return LabCa.create()


@pytest.fixture(scope="module")
def cloud(lab_ca: LabCa) -> Iterator[EmulatedCloud]:
    with EmulatedCloud(tls=TlsSettings(lab_ca)) as served:
        yield served


@pytest.fixture
def world(cloud: EmulatedCloud) -> World:
    return make_world(cloud)


def atop_call(cloud: EmulatedCloud, lab_ca: LabCa, request: AtopRequest, key: str) -> Any:
    query, form = build_request(request, key, nonce=b"0123456789ab" if request.et == 3 else None)
    status, _, raw = http_exchange("127.0.0.1", port_of(cloud.http_url), sdk_request(f"/d.json?{query}", form),
                                   tls=lab_ca.client_context())
    assert status == 200
    return decode_response(raw, key, request.et)


def activate_opensdk(cloud: EmulatedCloud, lab_ca: LabCa, world: World) -> tuple[str, str, str]:
    """A TuyaOpen activation (opensdk, et=3, protocolVer 2.3) over HTTPS: (devId, secKey, localKey)."""
    lic = world.licence()
    t = int(cloud.clock.time())
    request = AtopRequest(api=API_OPENSDK_ACTIVE[0], version=API_OPENSDK_ACTIVE[1], et=3, t=t, uuid=lic.uuid,
                          dev_id=None, body=activation_body(world.token(), lic.pid, t=t))
    reply = atop_call(cloud, lab_ca, request, lic.auth_key)
    assert reply.success, reply
    return reply.result["devId"], reply.result["secKey"], reply.result["localKey"]


@pytest.fixture
def online(cloud: EmulatedCloud, lab_ca: LabCa, world: World) -> Iterator[tuple[str, str, str, DeviceMqtt]]:
    dev_id, sec_key, local_key = activate_opensdk(cloud, lab_ca, world)
    creds = mq.device_credentials(dev_id, sec_key)
    device = DeviceMqtt(cloud, creds.client_id, creds.username, creds.password, tls=lab_ca.client_context())
    assert device.accepted
    for topic in (mq.topic_in(dev_id), mq.rpc_rsp(dev_id)):
        device.subscribe(topic)
    try:
        yield dev_id, sec_key, local_key, device
    finally:
        device.close()


def rpc(device: DeviceMqtt, dev_id: str, request: MatopRequest, answers: int = 1) -> MatopResponse:
    device.client.publish(mq.rpc_req(dev_id), request.to_json(), qos=0)  # §11.4: QoS 0, plaintext JSON
    return MatopResponse.from_json(device.wait_message(mq.rpc_rsp(dev_id), answers)[-1])


def test_plaintext_mqtt_atop_requests_are_answered_and_none_is_undecodable(
        cloud: EmulatedCloud, online: tuple[str, str, str, DeviceMqtt]) -> None:
    dev_id, _, _, device = online
    client = cloud._broker_link._client  # type: ignore[union-attr]  # the cloud's own MQTT client
    malformed_before = client.malformed_count
    t = int(cloud.clock.time())
    silent = rpc(device, dev_id, MatopRequest(1, "tuya.device.upgrade.silent.get", "4.4", t, {"subId": None, "t": t}))
    assert (silent.id, silent.success, silent.error_code) == (1, False, "NOUPDATE")
    versions = rpc(device, dev_id, MatopRequest(2, *API_VERSIONS_UPDATE, t, {"versions": "1.2.3", "t": t}), 2)
    assert (versions.id, versions.success, versions.result) == (2, True, True)
    unknown = rpc(device, dev_id, MatopRequest(3, "tuya.device.nothing.here", "1.0", t, {}), 3)
    assert (unknown.id, unknown.success, unknown.error_code) == (3, False, "UNKNOWN_API")
    assert client.malformed_count == malformed_before, client.malformed[-3:]
    record = cloud.device(dev_id)
    assert record is not None and record.versions == "1.2.3"


def test_the_answer_has_what_the_connect_kit_dereferences(cloud: EmulatedCloud,
                                                          online: tuple[str, str, str, DeviceMqtt]) -> None:
    """CK matop_service.c: id a number, data.result.success, and on success data.t read with no NULL check."""
    dev_id, _, _, device = online
    t = int(cloud.clock.time())
    device.client.publish(mq.rpc_req(dev_id), MatopRequest(9, *API_VERSIONS_UPDATE, t, {"versions": "x"}).to_json())
    raw = json.loads(device.wait_message(mq.rpc_rsp(dev_id))[-1])
    assert isinstance(raw["id"], int) and isinstance(raw["data"]["t"], int)
    assert raw["data"]["result"]["success"] is True and raw["data"]["result"]["result"] is True


def test_versions_update_over_https_is_answered_success_and_recorded(cloud: EmulatedCloud, lab_ca: LabCa,
                                                                     world: World) -> None:
    """§11.5: sent after activation and on every boot, signed with the secKey, devId in the query, et=3 (TO)."""
    dev_id, sec_key, _ = activate_opensdk(cloud, lab_ca, world)
    t = int(cloud.clock.time())
    body = json.dumps({"versions": '[{"type":0,"version":"1.0.7"}]', "t": t}).encode()
    request = AtopRequest(api=API_VERSIONS_UPDATE[0], version=API_VERSIONS_UPDATE[1], et=3, t=t, uuid=None,
                          dev_id=dev_id, body=body)
    reply = atop_call(cloud, lab_ca, request, sec_key)
    assert reply.success and reply.payload["result"] is True, reply
    record = cloud.device(dev_id)
    assert record is not None and record.versions == '[{"type":0,"version":"1.0.7"}]'
    bad = AtopRequest(api=API_VERSIONS_UPDATE[0], version=API_VERSIONS_UPDATE[1], et=3, t=t, uuid=None,
                      dev_id=dev_id, body=b'{"t":1}')
    refused = atop_call(cloud, lab_ca, bad, sec_key)
    assert not refused.success and refused.error_code == "ILLEGAL_PARAM"


def test_the_first_command_uses_the_version_announced_at_activation(
        cloud: EmulatedCloud, world: World, online: tuple[str, str, str, DeviceMqtt]) -> None:
    """§11.9.5: TuyaOpen accepts only 2.3 and says nothing until a DP changes; the cloud's first command must be
    2.3 because the activation announced protocolVer 2.3, not a 2.2 default."""
    dev_id, _, local_key, device = online
    assert cloud.app.send_dps(world.owner, dev_id, {"1": False})
    envelope = mq.decode_envelope(device.wait_message(mq.topic_in(dev_id))[-1], local_key=local_key)
    assert envelope.pv == "2.3"
    assert mq.parse_message_json(envelope.plaintext).dps == {"1": False}
