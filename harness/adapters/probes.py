"""Small lab probes the suites use where no contract method exists: a raw ATOP activation, an MQTT login, raw EZ
air traffic and an impaired air.

Each probe speaks the wire through the sans-IO codecs of :mod:`harness.protocol`; the endpoints come from the
cloud adapter's ``info()`` (``atop_url``, ``mqtt`` as ``host:port``), so the probes work against the emulated cloud
and against ``paircert cloud serve`` alike. A probe that cannot do its job against the adapters it is given raises
:class:`~harness.adapters.contracts.CapabilityMissing` (the test is N/A); one whose lab I/O fails raises
:class:`~harness.adapters.contracts.AdapterError` (ERROR, never the device's FAIL).

Every wait here is bounded, and every socket goes to the address the cloud adapter names (loopback in the lab).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from harness.adapters import wire
from harness.adapters.contracts import (
    AdapterError,
    AirNetwork,
    ApAddress,
    CapabilityMissing,
    CloudAdapter,
    LabAir,
    NetworkAdapter,
)
from harness.protocol import apconfig, atop, smartconfig
from harness.protocol import mqtt as mq
from harness.protocol.errors import ProtocolError
from harness.protocol.mqtt import MqttCredentials
from harness.protocol.token import split_token_fixed

WAIT_S = 5.0
_OPTIONS = '{"otaChannel":0,"isFK":true}'


@dataclass(frozen=True)
class CloudEndpoints:
    """Where devices talk to the cloud: the ATOP URL and the MQTT broker, and the CA a device trusts there
    (§11.1, §11.2: the url_config ``caArr[0]``, base64 DER) when the cloud speaks TLS."""

    atop_url: str
    mqtt_host: str
    mqtt_port: int
    ca_der_base64: str | None = None

    @property
    def mqtt_tls(self) -> bool:
        """§11.2: a cloud that names an https ATOP URL and a CA speaks MQTT over TLS too (``mqttsSelfUrl``)."""
        return self.ca_der_base64 is not None and self.atop_url.startswith("https://")

    def tls_context(self) -> ssl.SSLContext | None:
        """A client context trusting the CA a device trusts there (None: no CA named, the system's store)."""
        if self.ca_der_base64 is None:
            return None
        der = base64.b64decode(self.ca_der_base64, validate=True)
        return ssl.create_default_context(cadata=ssl.DER_cert_to_PEM_cert(der))


def cloud_endpoints(cloud: CloudAdapter) -> CloudEndpoints:
    """The device-facing endpoints the cloud adapter names in ``info()``; N/A when it names none."""
    info = dict(cloud.info())
    url, mqtt, ca = info.get("atop_url"), info.get("mqtt"), info.get("ca")
    if not isinstance(url, str) or not isinstance(mqtt, str) or ":" not in mqtt:
        raise CapabilityMissing(cloud.name, "device endpoints in info() (atop_url, mqtt)")
    host, _, port = mqtt.rpartition(":")
    try:
        return CloudEndpoints(url, host, int(port), ca if isinstance(ca, str) and ca else None)
    except ValueError:
        raise CapabilityMissing(cloud.name, "device endpoints in info() (atop_url, mqtt)") from None


# ----------------------------------------------------------------------------------------------- ATOP (§4)


@dataclass(frozen=True)
class ActivationReply:
    """What the cloud answered one raw activation: accepted with an identity, or refused with an errorCode."""

    accepted: bool
    error_code: str | None = None
    error_msg: str | None = None
    dev_id: str | None = None
    sec_key: str | None = field(default=None, repr=False)
    local_key: str | None = field(default=None, repr=False)
    reset_factory: bool | None = None


def new_hid() -> str:
    """A fresh hardware id (a MAC as 12 hex digits), as a device that never activated would send."""
    return secrets.token_hex(6)


def activate_raw(endpoints: CloudEndpoints | str, *, uuid: str, auth_key: str, pid: str, token: str, hid: str,
                 t: int | None = None, et: int = 1, timeout_s: float = 10.0,
                 sign_key: str | None = None, dev_id: str | None = None) -> ActivationReply:
    """One activation (§4.2, ``tuya.device.active`` v4.4 for ``et=1``, opensdk for ``et=3``), signed and
    encrypted with ``auth_key``, carrying the 8-character part of the 14-character ``token``, at the cloud's
    ATOP endpoint (over TLS trusting the CA the endpoints name, §11.1; a bare URL trusts the system's store).
    ``sign_key`` signs the query with another key than the one the body is sealed with (a forged sign);
    ``dev_id`` puts a devId in the body, as the connect-kit does after a reset (§11.9.2)."""
    if isinstance(endpoints, str):
        atop_url, tls = endpoints, None
    else:
        atop_url, tls = endpoints.atop_url, endpoints.tls_context()
    when = int(time.time()) if t is None else t
    short = split_token_fixed(token)[1] if len(token) == 14 else token
    body = atop.ActivationRequest(token=short, soft_ver="1.0.0", product_key=pid, protocol_ver="2.3",
                                  baseline_ver="40.07", options=_OPTIONS, cad_ver="1.0.3", cd_ver="1.0.0", t=when,
                                  dev_attribute=2048, hid=hid, dev_id=dev_id)
    api, version = atop.API_ACTIVE_V44 if et == 1 else atop.API_OPENSDK_ACTIVE
    request = atop.AtopRequest(api=api, version=version, et=et, t=when, uuid=uuid, dev_id=None,
                               body=body.to_json().encode("utf-8"))
    query, form = atop.build_request(request, auth_key, nonce=os.urandom(12) if et == 3 else None)
    if sign_key is not None:
        query = request.signed_query(sign_key).to_query_string()
    raw = _post(f"{atop_url}?{query}", form, timeout_s, tls)
    try:
        reply = atop.decode_response(raw, auth_key, et)
    except ProtocolError as exc:  # an answer sealed under another key is a refusal as far as this key goes
        return ActivationReply(False, error_code="UNREADABLE", error_msg=exc.message)
    if not reply.success:
        return ActivationReply(False, error_code=reply.error_code, error_msg=reply.error_msg)
    result: dict[str, Any] = reply.result or {}
    return ActivationReply(True, dev_id=_str(result.get("devId")), sec_key=_str(result.get("secKey")),
                           local_key=_str(result.get("localKey")), reset_factory=bool(result.get("resetFactory")))


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _post(url: str, body: bytes, timeout_s: float, tls: ssl.SSLContext | None = None) -> bytes:
    return wire.exchange("POST", url, body, wire.ATOP_HEADERS, timeout_s=timeout_s, tls=tls)[1]


# ----------------------------------------------------------------------------------------------- MQTT (§5)


class MqttSession:
    """One MQTT login as a device would make it; what the broker granted and what arrived."""

    def __init__(self, host: str, port: int, credentials: MqttCredentials, *,
                 tls: ssl.SSLContext | None = None) -> None:
        self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id=credentials.client_id,
                                   protocol=paho.MQTTv311)
        self._client.username_pw_set(credentials.username, credentials.password)
        if tls is not None:  # §11.1: MQTT over TLS, verified against the lab CA
            self._client.tls_set_context(tls)
        self._answered = threading.Event()
        self._lock = threading.Lock()
        self._connack: Any = None
        self._subacks: dict[int, list[Any]] = {}
        self._messages: list[tuple[str, bytes]] = []
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._host, self._port = host, port
        self._looping = False

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if self._connack is None:
            self._connack = reason
        self._answered.set()

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, codes: list[Any], _p: Any) -> None:
        with self._lock:
            self._subacks[mid] = list(codes)

    def _on_message(self, _c: Any, _u: Any, message: Any) -> None:
        with self._lock:
            self._messages.append((str(message.topic), bytes(message.payload)))

    def connect(self, timeout_s: float = WAIT_S) -> bool:
        """True when the broker accepted the login (CONNACK 0)."""
        try:
            self._client.connect(self._host, self._port, keepalive=30)
        except OSError as exc:
            raise AdapterError(f"the MQTT broker at {self._host}:{self._port} could not be reached: {exc}") from exc
        deadline = time.monotonic() + timeout_s
        while not self._answered.is_set() and time.monotonic() < deadline:
            self._client.loop(timeout=0.02)
        if not self._answered.is_set():
            return False  # no CONNACK: not accepted
        accepted = not self._connack.is_failure
        if accepted:
            self._client.loop_start()
            self._looping = True
        return bool(accepted)

    def subscribe(self, topic_filter: str, timeout_s: float = WAIT_S) -> bool:
        """True when the broker granted the subscription (a SUBACK without the failure code)."""
        result, mid = self._client.subscribe(topic_filter, qos=1)
        if result != paho.MQTT_ERR_SUCCESS or mid is None:
            return False
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                codes = self._subacks.get(mid)
            if codes is not None:
                return bool(codes) and not codes[0].is_failure
            time.sleep(0.01)
        return False

    def publish(self, topic: str, payload: bytes, timeout_s: float = WAIT_S) -> None:
        info = self._client.publish(topic, payload, qos=1)
        with contextlib.suppress(RuntimeError, ValueError):
            info.wait_for_publish(timeout_s)

    def received(self, topic: str | None = None) -> list[tuple[str, bytes]]:
        with self._lock:
            return [(t, p) for t, p in self._messages if topic is None or t == topic]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._client.disconnect()
        if self._looping:
            self._client.loop_stop()
            self._looping = False


@contextlib.contextmanager
def mqtt_session(endpoints: CloudEndpoints, credentials: MqttCredentials) -> Iterator[MqttSession]:
    """An MQTT login with ``credentials`` (connected or not: see :meth:`MqttSession.connect`), closed after."""
    session = MqttSession(endpoints.mqtt_host, endpoints.mqtt_port, credentials,
                          tls=endpoints.tls_context() if endpoints.mqtt_tls else None)
    try:
        yield session
    finally:
        session.close()


@dataclass(frozen=True)
class TokenPush:
    """A protocol-46 push as a waiting device opened it (§11.6): its envelope version and its data."""

    pv: str
    token: str | None
    region: str | None
    env: str | None


@contextlib.contextmanager
def waiting_device(endpoints: CloudEndpoints, uuid: str, auth_key: str, *,
                   pv: str | None = "2.3") -> Iterator[MqttSession]:
    """A device waiting to be bound by its UUID (§11.6): logged in as ``acon_<uuid>`` (with ``|pv=2.3`` as TO,
    or ``pv=None`` for the connect-kit's bare name) and subscribed to ``d/ai/<uuid>``; AdapterError when the
    broker refuses either."""
    credentials = mq.preactivation_credentials(uuid, auth_key, pv="2.3" if pv == "2.3" else None)
    with mqtt_session(endpoints, credentials) as session:
        if not session.connect():
            raise AdapterError(f"the broker refused the pre-activation login of {uuid}")
        if not session.subscribe(mq.preactivation_topic(uuid)):
            raise AdapterError(f"the broker refused {uuid} its topic {mq.preactivation_topic(uuid)}")
        yield session


def token_pushes(session: MqttSession, uuid: str, auth_key: str, *, at_least: int = 1,
                 timeout_s: float = WAIT_S) -> list[TokenPush]:
    """The pushes a :func:`waiting_device` got on ``d/ai/<uuid>``, opened with authKey[:16] (§5, §11.6): waits
    (bounded) for ``at_least`` of them; a payload that does not open is a push with pv ``"unreadable"``."""
    topic = mq.preactivation_topic(uuid)
    deadline = time.monotonic() + timeout_s
    while len(session.received(topic)) < at_least and time.monotonic() < deadline:
        time.sleep(0.01)
    pushes: list[TokenPush] = []
    for _, payload in session.received(topic):
        try:
            envelope = mq.decode_envelope(payload, local_key=auth_key[:16])
            data = mq.parse_message_json(envelope.plaintext).data
        except ProtocolError:
            pushes.append(TokenPush("unreadable", None, None, None))
            continue
        pushes.append(TokenPush(envelope.pv, _str(data.get("token")), _str(data.get("region")), _str(data.get("env"))))
    return pushes


def mqtt_login(endpoints: CloudEndpoints, credentials: MqttCredentials, timeout_s: float = WAIT_S) -> bool:
    """Whether the broker accepts a login with ``credentials``; the session is closed at once."""
    with mqtt_session(endpoints, credentials) as session:
        return session.connect(timeout_s)


# ----------------------------------------------------------------------------------------------- EZ air (§2)


def _air(network: NetworkAdapter, what: str) -> LabAir:
    """The in-memory air behind ``network`` (:class:`~harness.adapters.contracts.AirNetwork`); N/A without one."""
    air = network.air if isinstance(network, AirNetwork) else None
    if air is None:
        raise CapabilityMissing(network.name, what)
    return air


def send_ez_lengths(network: NetworkAdapter, lengths: Sequence[int]) -> None:
    """Put raw EZ broadcast datagram lengths on the air (§2.3), e.g. a frame with a corrupted CRC."""
    air = _air(network, "raw EZ datagrams")
    for value in lengths:
        air.send_length(int(value))
    air.flush()


def send_ez_corrupted(network: NetworkAdapter, ssid: bytes, password: bytes, token: bytes, *,
                      rounds: int = 3) -> None:
    """Broadcast EZ rounds in which CRC-8 checks fail (§2.2, §2.3), two kinds of round taking turns:

    - the header announces a message one chunk shorter (L without its last, possibly short, chunk) but keeps
      CRC-8 of the true L: a receiver that checks the header takes no length from it; one that does not reads
      a message that ends a few bytes early, i.e. a truncated SSID, from this round alone;
    - the header is intact and the first data group has the password's first byte flipped, so the group's
      CRC-8 disagrees: a receiver that checks group CRCs takes nothing from it; one that does not takes a
      corrupted password.

    In every round the last group (the end of the SSID, outside the shorter message) fails its CRC-8 too, so a
    conformant receiver learns only the undamaged groups from these rounds and pairs from the clean rounds
    after. The two kinds take turns rather than share a round because a receiver that starts over at every
    new header would otherwise never meet a round it could misread whole.
    """
    clean = smartconfig.encode_broadcast(ssid, password, token)
    length = len(smartconfig.broadcast_data(ssid, password, token))
    short = 4 * ((length - 1) // 4)  # §2.3 step 4: every chunk but the last, which is 1 to 4 bytes
    damaged = list(clean)
    damaged[4 + 6 * ((length - 1) // 4) + 2] ^= 0x01  # the last group's first byte (4 header values, 6 per group)
    bad_header = [0x10 | short >> 4, 0x20 | short & 0xF, *damaged[2:]]  # CRC-8 nibbles still those of L
    bad_group = list(damaged)
    first_data = next(i for i, value in enumerate(clean) if value >= 256)
    bad_group[first_data + 1] ^= 0x01  # the password's first byte
    for round_ in range(rounds):
        send_ez_lengths(network, [*smartconfig.BROADCAST_PREAMBLE, *(bad_group if round_ % 2 else bad_header)])


def send_ez_multicast_corrupted(network: NetworkAdapter, ssid: bytes, password: bytes, token: bytes, *,
                                rounds: int = 3) -> None:
    """Multicast EZ rounds (§2.4) whose SSID section has its first SSID byte changed under an unchanged CRC-32: a
    receiver that checks the section's CRC-32 takes no SSID from them and pairs from the clean rounds after; one
    that does not takes a wrong SSID from these rounds alone."""
    air = _air(network, "raw EZ multicast datagrams")
    body = smartconfig.encode_multicast(ssid, password, token)
    # §2.4 steps 1-2: SSID section bytes 0-1 the length pair, 2-5 the CRC-32, 6.. the SSID; pair 3 holds
    # bytes 6 and 7 as 226.(base+3).(d[7]).(d[6]).
    octets = body[3].split(".")
    octets[3] = str(int(octets[3]) ^ 0x01)
    body[3] = ".".join(octets)
    for _ in range(rounds):
        for address in (*smartconfig.MULTICAST_PREAMBLE, *body):
            air.send_address(address)
    air.flush()


@contextlib.contextmanager
def impaired_air(network: NetworkAdapter, *, loss: float = 0.0, duplicate: float = 0.0, reorder: float = 0.0,
                 noise: float = 0.0) -> Iterator[None]:
    """A lossy, noisy air for the duration of the block (§2.5), restored after."""
    air = _air(network, "air impairments (loss, duplication, reordering, noise)")
    saved = (air.loss, air.duplicate, air.reorder, air.noise)
    air.loss, air.duplicate, air.reorder, air.noise = loss, duplicate, reorder, noise
    try:
        yield
    finally:
        air.loss, air.duplicate, air.reorder, air.noise = saved


# ----------------------------------------------------------------------------------------------- AP (§3)


def lpv35_configure(network: NetworkAdapter, address: ApAddress, ssid: str, password: str, token: str) -> int | None:
    """Send one LPV3.5 0x14 config request (§3.2) and return the device's ret_code (None: no readable answer)."""
    frame = apconfig.encode_ap_cfg_request(ssid, password, token, seq=1, nonce=os.urandom(apconfig.NONCE_LEN))
    for reply in network.send_ap_lpv35(address, [frame]):
        try:
            decoded = apconfig.decode_lpv35_frame(reply, key=apconfig.LPV35_APP_KEY)
            if decoded.type == apconfig.Lpv35Type.AP_CFG_WF_V40:
                return apconfig.parse_ap_cfg_ack(decoded.data).ret_code
        except ProtocolError:
            continue
    return None


def lpv35_send_payload(network: NetworkAdapter, address: ApAddress, payload: bytes) -> int | None:
    """Send one LPV3.5 0x14 frame carrying ``payload`` as is (any JSON, legal or not) and return the device's
    ret_code (None: no readable answer), §3.2."""
    frame = apconfig.encode_lpv35_frame(apconfig.Lpv35Type.AP_CFG_WF_V40, payload, seq=1, key=apconfig.LPV35_APP_KEY,
                                        nonce=os.urandom(apconfig.NONCE_LEN))
    for reply in network.send_ap_lpv35(address, [frame]):
        try:
            decoded = apconfig.decode_lpv35_frame(reply, key=apconfig.LPV35_APP_KEY)
            if decoded.type == apconfig.Lpv35Type.AP_CFG_WF_V40:
                return apconfig.parse_ap_cfg_ack(decoded.data).ret_code
        except ProtocolError:
            continue
    return None


def _flip(frame: bytes, index: int) -> bytes:
    return frame[:index] + bytes([frame[index] ^ 0xFF]) + frame[index + 1:]


def broken_ap_frames(ssid: str, password: str, token: str) -> dict[str, tuple[str, bytes]]:
    """AP frames a device must refuse (§3.1 framing, §3.2 authentication), by name: (variant, frame).

    Each carries a good config, so a device that skips the check would pair from it."""
    legacy = apconfig.encode_ap_config(ssid, password, token)
    lpv35 = apconfig.encode_ap_cfg_request(ssid, password, token, seq=1, nonce=os.urandom(apconfig.NONCE_LEN))
    length_at = 15  # prefix(4) seq(4) cmd(4) len(4): the length field's last byte
    return {
        "legacy-bad-crc": ("legacy", _flip(legacy, len(legacy) - 8)),
        "legacy-wrong-length": ("legacy", legacy[:length_at] + bytes([legacy[length_at] ^ 0x04]) +
                                legacy[length_at + 1:]),
        "lpv35-bad-tag": ("lpv35", _flip(lpv35, len(lpv35) - len(apconfig.LPV35_SUFFIX) - 1)),
    }


def oversize_ap_payloads(token: str) -> dict[str, bytes]:
    """§3.1/§3.2: legacy frames whose payload a device must refuse without crashing, by name."""
    payloads: dict[str, dict[str, Any]] = {
        "ssid-over-32-bytes": {"ssid": "x" * 40, "passwd": "pw123456", "token": token},
        "password-over-64-bytes": {"ssid": "lab-net", "passwd": "p" * 70, "token": token},
        "ssid-not-a-string": {"ssid": 12345, "passwd": "pw123456", "token": token},
        "token-not-a-string": {"ssid": "lab-net", "passwd": "pw123456", "token": ["x"]},
    }
    return {name: apconfig.encode_ap_frame(json.dumps(body).encode("utf-8")) for name, body in payloads.items()}


def describe(reply: ActivationReply) -> str:
    """A one-line account of a raw activation for an assertion message (no secret in it)."""
    return json.dumps({"accepted": reply.accepted, "errorCode": reply.error_code, "errorMsg": reply.error_msg,
                       "devId": reply.dev_id})


__all__ = [
    "ActivationReply",
    "CloudEndpoints",
    "MqttSession",
    "activate_raw",
    "broken_ap_frames",
    "cloud_endpoints",
    "describe",
    "impaired_air",
    "lpv35_configure",
    "mqtt_login",
    "mqtt_session",
    "new_hid",
    "oversize_ap_payloads",
    "send_ez_corrupted",
    "send_ez_lengths",
]
