"""The emulated camera as genuine firmware talks to the cloud (PROTOCOL.md §11): TLS verified against the CA it
trusts (and a wrong one refused), User-Agent twice on ATOP, and retries of a refused activation (§11.7)."""

from __future__ import annotations

import itertools
import socket
import threading
from collections.abc import Iterator

import pytest
from _camera_helpers import Lab as CameraLab
from _camera_helpers import lab, qr_image

from harness.emulator.camera.activation import CloudEndpoint
from harness.emulator.camera.states import State
from harness.emulator.cloud import EmulatedCloud, LabCa, TlsSettings
from harness.emulator.loop import DeviceLoop


@pytest.fixture(scope="module")
def lab_ca() -> LabCa:
    return LabCa.create()


@pytest.fixture(scope="module")
def cloud(lab_ca: LabCa) -> Iterator[EmulatedCloud]:
    with EmulatedCloud(tls=TlsSettings(lab_ca), plain_port=0) as served:
        yield served


@pytest.fixture
def tls_lab(cloud: EmulatedCloud) -> Iterator[CameraLab]:
    with DeviceLoop(cloud.clock) as devices:
        yield CameraLab(cloud, devices, cloud.clock)  # type: ignore[arg-type]


def scan(the_lab: CameraLab, cam: object, token: str) -> None:
    cam.present_qr(qr_image(token=token))  # type: ignore[attr-defined]


def test_the_camera_pairs_over_tls_trusting_the_lab_ca(tls_lab: CameraLab, cloud: EmulatedCloud,
                                                       lab_ca: LabCa) -> None:
    endpoint = CloudEndpoint(cloud.atop_url, cloud.mqtt_host, cloud.mqtt_port, ca_pem=lab_ca.cert_pem, mqtt_tls=True)
    cam = tls_lab.camera(cloud=endpoint, pairing_modes=("qr",))
    scan(tls_lab, cam, tls_lab.token())
    tls_lab.online(cam)
    assert cam.events("atop-request")[-1].details["url"].startswith("https://")


def test_the_camera_refuses_an_atop_server_its_ca_did_not_sign(tls_lab: CameraLab, cloud: EmulatedCloud) -> None:
    stranger = LabCa.create()
    endpoint = CloudEndpoint(cloud.atop_url, cloud.mqtt_host, cloud.mqtt_port, ca_pem=stranger.cert_pem,
                             mqtt_tls=True)
    cam = tls_lab.camera(cloud=endpoint, pairing_modes=("qr",))
    scan(tls_lab, cam, tls_lab.token())
    refused = cam.wait_for_event("atop-tls-refused", timeout=10)
    assert "certificate verify failed" in refused.details["error"]
    assert cam.wait_for_state(State.FAILED, State.PAIRING, timeout=10) in (State.FAILED, State.PAIRING)
    assert not cam.activated


def test_the_camera_refuses_a_broker_its_ca_did_not_sign(tls_lab: CameraLab, cloud: EmulatedCloud) -> None:
    """ATOP over the plain listener (activation succeeds), MQTT over TLS with the wrong CA: never online."""
    assert cloud.plain_http_url is not None
    endpoint = CloudEndpoint(f"{cloud.plain_http_url}/d.json", cloud.mqtt_host, cloud.mqtt_port,
                             ca_pem=LabCa.create().cert_pem, mqtt_tls=True)
    cam = tls_lab.camera(cloud=endpoint, pairing_modes=("qr",), mqtt_retry_s=60.0)
    scan(tls_lab, cam, tls_lab.token())
    failed = cam.wait_for_event("mqtt-unreachable", timeout=10)
    assert "CERTIFICATE_VERIFY_FAILED" in failed.details["reason"]
    assert cam.state is State.CONNECTING and not cam.mqtt_online


class FixedAtop:
    """A stand-in ATOP server on loopback that answers every request with ``body`` and keeps the request heads."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.heads: list[bytes] = []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.getsockname()[1]}/d.json"

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.heads.append(data.split(b"\r\n\r\n")[0])
                conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: " +
                             str(len(self.body)).encode() + b"\r\n\r\n" + self.body)

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        self.server.close()


def test_the_camera_sends_user_agent_twice() -> None:
    """§11.3: its own ``TUYA_IOT_SDK`` and its HTTP library's, as the connect-kit and TuyaOpen send them."""
    fake = FixedAtop(b"{}")
    try:
        with lab() as the_lab:
            cam = the_lab.camera(cloud=CloudEndpoint(fake.url, "127.0.0.1", 1), pairing_modes=("qr",))
            scan(the_lab, cam, the_lab.token())
            cam.wait_for_event("atop-bad-reply", timeout=10)
    finally:
        fake.close()
    agents = [line for line in fake.heads[0].split(b"\r\n") if line.lower().startswith(b"user-agent:")]
    assert agents == [b"User-Agent: TUYA_IOT_SDK", b"User-Agent: coreHTTP"], fake.heads[0]


def test_a_refused_activation_is_retried_every_second_with_the_same_token() -> None:
    """§11.7: a genuine device retries a refused activation about every second with the same token until it
    gives up; the token's attempt list grows by one per retry."""
    with lab() as the_lab:
        token = the_lab.token()
        the_lab.cloud.app.advance_clock(the_lab.cloud.state.token_ttl_s + 1)  # expired: refused EXPIRE every time
        cam = the_lab.camera(pairing_modes=("qr",), refused_retries=3, refused_retry_s=1.0)
        scan(the_lab, cam, token)
        cam.wait_for_state(State.FAILED, timeout=10)
        attempts = the_lab.cloud.state.token_attempts(token[2:10])
        assert [a.error_code for a in attempts] == ["EXPIRE"] * 4
        assert [round(b.at - a.at) for a, b in itertools.pairwise(attempts)] == [1, 1, 1]
        assert [e.details["attempt"] for e in cam.events("atop-refused")] == [1, 2, 3, 4]
        assert {e.details["token"] for e in cam.events("atop-request")} == {token[2:10]}


def test_gateway_not_exists_is_the_one_refusal_not_retried() -> None:
    """§11.7: a refused activation "other than GATEWAY_NOT_EXISTS" is retried (CK src/atop_base.c:257)."""
    fake = FixedAtop(b'{"success":false,"errorCode":"GATEWAY_NOT_EXISTS","errorMsg":"gone","t":1}')
    try:
        with lab() as the_lab:
            cam = the_lab.camera(cloud=CloudEndpoint(fake.url, "127.0.0.1", 1), pairing_modes=("qr",),
                                 refused_retries=5)
            scan(the_lab, cam, the_lab.token())
            cam.wait_for_state(State.FAILED, timeout=10)
            assert [e.details["error_code"] for e in cam.events("atop-refused")] == ["GATEWAY_NOT_EXISTS"]
    finally:
        fake.close()
    assert len(fake.heads) == 1
