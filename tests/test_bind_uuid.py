"""Binding by UUID (PROTOCOL.md §11.6, §11.9.1) through the TLS lab cloud: the app API call, the protocol-46 push
in the envelope of the device's acon login, its errors (never a 500), and the emulated camera that waits on
d/ai/<uuid> and activates with the token it is pushed."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from _camera_helpers import Lab as CameraLab
from _cloud_helpers import World, activate, make_world
from _tls_helpers import DeviceMqtt

from harness.emulator.broker.authority import BrokerIdentity, CredentialAuthority
from harness.emulator.camera.activation import CloudEndpoint
from harness.emulator.camera.states import State
from harness.emulator.cloud import EmulatedCloud, LabCa, TlsSettings
from harness.emulator.loop import DeviceLoop
from harness.protocol import mqtt as mq


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


def app(cloud: EmulatedCloud, lab_ca: LabCa, method: str, path: str, body: Any, account: str | None,
        raw: bytes | None = None) -> tuple[int, dict[str, Any]]:
    """The app API over HTTPS (trusting the lab CA)."""
    data = raw if raw is not None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **({"X-Paircert-Account": account} if account else {})}
    request = urllib.request.Request(cloud.app_url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10, context=lab_ca.client_context()) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def waiting(cloud: EmulatedCloud, lab_ca: LabCa, uuid: str, auth_key: str, pv: str | None) -> DeviceMqtt:
    creds = mq.preactivation_credentials(uuid, auth_key, pv="2.3" if pv else None)
    device = DeviceMqtt(cloud, creds.client_id, creds.username, creds.password, tls=lab_ca.client_context())
    assert device.accepted
    device.subscribe(mq.preactivation_topic(uuid))
    return device


@pytest.mark.parametrize(("login_pv", "envelope"), [("2.3", "2.3"), (None, "2.2")], ids=["to", "ck"])
def test_the_bind_call_pushes_a_token_in_the_logins_envelope(cloud: EmulatedCloud, lab_ca: LabCa, world: World,
                                                             login_pv: str | None, envelope: str) -> None:
    lic = world.licence()
    device = waiting(cloud, lab_ca, lic.uuid, lic.auth_key, login_pv)
    try:
        status, answer = app(cloud, lab_ca, "POST", f"/homes/{world.home}/devices/bind", {"uuid": lic.uuid},
                             world.owner)
        assert status == 201 and answer["success"], answer
        grant = answer["result"]
        payload = device.wait_message(mq.preactivation_topic(lic.uuid))[0]
    finally:
        device.close()
    opened = mq.decode_envelope(payload, local_key=lic.auth_key[:16])
    message = mq.parse_message_json(opened.plaintext)
    assert opened.pv == envelope and grant["pv"] == envelope
    assert message.protocol == mq.MqttProtocol.ACTIVE_TOKEN
    assert message.data == {"token": grant["token"], "region": grant["region"], "env": grant["secret"]}
    assert grant["pairingToken"] == grant["region"] + grant["token"] + grant["secret"]
    assert grant["home"] == world.home and grant["expireTime"] > cloud.clock.time()


def test_refusals_are_app_errors_never_a_500(cloud: EmulatedCloud, lab_ca: LabCa, world: World) -> None:
    path = f"/homes/{world.home}/devices/bind"
    offline = world.licence()
    cases = {
        "unknown": (app(cloud, lab_ca, "POST", path, {"uuid": "pcnosuchdevice000000"}, world.owner),
                    404, "UUID_NOT_EXISTS"),
        "offline": (app(cloud, lab_ca, "POST", path, {"uuid": offline.uuid}, world.owner), 409, "DEVICE_OFFLINE"),
        "no uuid": (app(cloud, lab_ca, "POST", path, {}, world.owner), 400, "ILLEGAL_PARAM"),
        "number": (app(cloud, lab_ca, "POST", path, {"uuid": 7}, world.owner), 400, "ILLEGAL_PARAM"),
        "wildcard": (app(cloud, lab_ca, "POST", path, {"uuid": "d/ai/#"}, world.owner), 400, "ILLEGAL_PARAM"),
        "not json": (app(cloud, lab_ca, "POST", path, None, world.owner, raw=b"{uuid"), 400, "ILLEGAL_PARAM"),
        "stranger": (app(cloud, lab_ca, "POST", path, {"uuid": offline.uuid}, cloud.app.create_account("x")),
                     403, "PERMISSION_DENIED"),
        "no home": (app(cloud, lab_ca, "POST", "/homes/home0/devices/bind", {"uuid": offline.uuid}, world.owner),
                    404, "HOME_NOT_EXISTS"),
    }
    for name, ((status, answer), want_status, want_code) in cases.items():
        assert (status, answer["success"], answer["errorCode"]) == (want_status, False, want_code), (name, answer)


def test_a_strong_device_of_another_account_is_refused_3711_before_any_push(cloud: EmulatedCloud, lab_ca: LabCa,
                                                                            world: World) -> None:
    lic = world.licence()
    device = waiting(cloud, lab_ca, lic.uuid, lic.auth_key, "2.3")
    try:
        grant = cloud.app.bind_uuid(world.owner, world.home, lic.uuid)
        assert activate(cloud, lic, grant.token).success  # the device activates with the pushed token
        stranger = cloud.app.create_account("stranger")
        home = cloud.app.create_home(stranger, "elsewhere")
        status, answer = app(cloud, lab_ca, "POST", f"/homes/{home}/devices/bind", {"uuid": lic.uuid}, stranger)
        assert (status, answer["errorCode"]) == (409, "DEVICE_ALREADY_BIND"), answer
        assert len(device.wait_message(mq.preactivation_topic(lic.uuid))) == 1, "the refused bind pushed a token"
    finally:
        device.close()


def test_the_login_suffix_reaches_the_identity() -> None:
    auth = CredentialAuthority()
    auth.set_preactivation("pcuuid00000000000001", "k" * 32)
    to = mq.preactivation_credentials("pcuuid00000000000001", "k" * 32, pv="2.3")
    ck = mq.preactivation_credentials("pcuuid00000000000001", "k" * 32, pv=None)
    assert auth.authenticate(*to) == BrokerIdentity("preactivation", "pcuuid00000000000001")
    assert [auth.authenticate(*c).pv for c in (to, ck)] == ["2.3", None]  # type: ignore[union-attr]
    assert [mq.active_token_pv(p) for p in ("2.3", None, "9.9")] == ["2.3", "2.2", "2.2"]


# -------------------------------------------------------------------------------------- the emulated camera


@pytest.fixture
def camera_lab(cloud: EmulatedCloud) -> Iterator[CameraLab]:
    with DeviceLoop(cloud.clock) as devices:
        yield CameraLab(cloud, devices, cloud.clock)  # type: ignore[arg-type]


def endpoint(cloud: EmulatedCloud, ca: LabCa) -> CloudEndpoint:
    return CloudEndpoint(cloud.atop_url, cloud.mqtt_host, cloud.mqtt_port, ca_pem=ca.cert_pem, mqtt_tls=True)


@pytest.mark.parametrize("mqtt_pv", ["2.3", "2.2"])
def test_the_camera_bound_by_its_uuid_activates_and_comes_online(camera_lab: CameraLab, cloud: EmulatedCloud,
                                                                 lab_ca: LabCa, mqtt_pv: str) -> None:
    cam = camera_lab.camera(cloud=endpoint(cloud, lab_ca), bind_by_uuid=True, mqtt_pv=mqtt_pv,
                            activation_api="opensdk" if mqtt_pv == "2.3" else "v4.4", pairing_modes=("qr",))
    cam.wait_for_event("bind-waiting", timeout=10)
    grant = cloud.app.bind_uuid(camera_lab.owner, camera_lab.home, cam.uuid)
    cam.wait_for_state(State.ONLINE, timeout=10)
    received = cam.events("bind-token-received")[-1].details
    assert (received["token"], received["region"], received["env"]) == (grant.token, grant.region, grant.secret)
    record = cloud.device(cam.dev_id or "")
    assert record is not None and record.home == camera_lab.home and record.online
    assert [a.outcome for a in cloud.state.token_attempts(grant.token)] == ["activated"]


def test_a_camera_refuses_a_push_in_the_wrong_envelope(camera_lab: CameraLab, cloud: EmulatedCloud,
                                                       lab_ca: LabCa) -> None:
    """§11.9.1: TuyaOpen opens only 2.3 ("version error, must pv2.3"): a 2.2 push leaves it waiting."""
    cam = camera_lab.camera(cloud=endpoint(cloud, lab_ca), bind_by_uuid=True, mqtt_pv="2.3", pairing_modes=("qr",))
    cam.wait_for_event("bind-waiting", timeout=10)
    message = mq.active_token_message("abcdefgh", "EU", t=int(cloud.clock.time()), env="wxyz")
    payload = mq.encode_message(message, local_key=cam.auth_key[:16], pv="2.2")
    client = cloud._broker_link._client  # type: ignore[union-attr]  # the cloud's own MQTT client
    client.publish_raw(mq.preactivation_topic(cam.uuid), payload)
    cam.wait_for_event("bind-push-refused", timeout=10)
    assert cam.state is State.PAIRING
