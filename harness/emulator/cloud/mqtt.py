"""The emulated cloud's privileged MQTT client (PROTOCOL.md §5).

It logs in with the cloud's own credentials, subscribes to every device's report and RPC-request topics,
opens each payload with that device's localKey and hands the message to the cloud; and it sends the cloud's
commands (protocol 5 DP set, 8 unbind, 11 reset, ...) sealed with the device's localKey. A payload that
does not decode is recorded, never raised: a device under test sending garbage must not stop the cloud.

An ``rpc/req`` payload in plaintext JSON is an MQTT-ATOP request (§11.4), not an envelope: it goes to
``on_rpc`` and the answer is published in plaintext on ``rpc/rsp/<devId>``. Before it has heard a device, the
client answers it in the version the device announced at activation (§11.9.5), not a fixed 2.2.

Callbacks run on paho's network thread.
"""

from __future__ import annotations

import collections
import logging
import os
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from harness.clock import Clock, SystemClock, take_hold
from harness.protocol import mqtt
from harness.protocol.errors import ProtocolError
from harness.protocol.matop import looks_like_matop

from .limits import RateLimitedLog

log = logging.getLogger(__name__)

MessageCallback = Callable[[str, mqtt.MqttMessage], None]
#: (devId, plaintext request) -> the plaintext answer, or None when the request cannot be answered (§11.4)
RpcCallback = Callable[[str, bytes], bytes | None]
#: Emulator-defined: the cmd_from / source written in the cloud's 2.2 and 2.3 envelopes (§5 names only
#: 1 = device).
CLOUD_SOURCE = 0
SUBSCRIPTIONS = (f"{mqtt.TopicKind.OUT.value}/+", f"{mqtt.TopicKind.RPC_REQ.value}/+")


class CloudMqttError(Exception):
    """The cloud's MQTT client could not do what it was asked (lab or harness trouble, not the device's)."""


@dataclass(frozen=True)
class MalformedPayload:
    """A PUBLISH the cloud could not turn into a message: when, on which topic, and why."""

    at: float
    topic: str
    reason: str
    size: int


class CloudMqttClient:
    """paho-mqtt 2.x client of the emulated cloud: decodes device reports, encodes commands."""

    def __init__(self, host: str, port: int, username: str, password: str, *,
                 key_lookup: Callable[[str], str | None], on_message: MessageCallback,
                 clock: Clock | None = None, client_id: str | None = None, keepalive_s: int = 60,
                 timeout_s: float = 10.0, malformed_kept: int = 1000, tls: ssl.SSLContext | None = None,
                 on_rpc: RpcCallback | None = None) -> None:
        self._host = host
        self._port = port
        self._key_lookup = key_lookup
        self._on_message = on_message
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._keepalive_s = keepalive_s
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._pv: dict[str, mqtt.ProtocolVersion] = {}
        self._announced_pv: dict[str, mqtt.ProtocolVersion] = {}
        self._on_rpc = on_rpc
        self._seq: dict[str, int] = {}
        self._malformed: collections.deque[MalformedPayload] = collections.deque(maxlen=malformed_kept)
        self._malformed_count = 0
        self._ready = threading.Event()
        self._failure: str | None = None
        self._pending_subscribe: int | None = None
        self._in_flight: dict[int, Callable[[], None]] = {}  # mid -> the clock hold it keeps until the broker has it
        self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"cloud-{username}",
                                   protocol=paho.MQTTv311, clean_session=True)
        self._client.username_pw_set(username, password)
        if tls is not None:  # §11.1: the broker speaks MQTT over TLS with the lab CA
            self._client.tls_set_context(tls)
        self._client.on_connect = self._handle_connect
        self._client.on_subscribe = self._handle_subscribe
        self._client.on_message = self._handle_message
        self._client.on_publish = self._handle_publish
        self._client.on_disconnect = self._handle_disconnect
        self._started = False

    def __repr__(self) -> str:
        return f"CloudMqttClient({self._host}:{self._port}, connected={self.connected})"

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect and subscribe; returns once both are acknowledged, raises CloudMqttError otherwise."""
        if self._started:
            raise RuntimeError("the cloud MQTT client is already started")
        self._ready.clear()
        self._failure = None
        try:
            self._client.connect(self._host, self._port, keepalive=self._keepalive_s)
        except OSError as exc:
            raise CloudMqttError(f"cannot reach the MQTT broker at {self._host}:{self._port}: {exc}") from exc
        self._client.loop_start()
        self._started = True
        if not self._ready.wait(self._timeout_s):
            self.stop()
            raise CloudMqttError(f"the MQTT broker did not accept the cloud within {self._timeout_s} s")
        failure = self._take_failure()
        if failure is not None:
            self.stop()
            raise CloudMqttError(failure)

    def _take_failure(self) -> str | None:
        failure, self._failure = self._failure, None
        return failure

    def stop(self) -> None:
        """Disconnect and stop paho's network thread."""
        if not self._started:
            return
        self._started = False
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> CloudMqttClient:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def connected(self) -> bool:
        return self._started and self._client.is_connected()

    # -- sending ---------------------------------------------------------------------------------------

    def publish(self, dev_id: str, message: mqtt.MqttMessage, *, pv: mqtt.ProtocolVersion = "2.2",
                qos: int = 1, retain: bool = False) -> paho.MQTTMessageInfo:
        """Seal ``message`` with the device's localKey and publish it on ``smart/device/in/<devId>``.

        Pass ``pv=client.pv_for(dev_id)`` to answer a device in the version it speaks.
        """
        local_key = self._key_lookup(dev_id)
        if local_key is None:
            raise CloudMqttError(f"no localKey for device {dev_id!r}: it is not registered")
        with self._lock:
            seq = self._seq.get(dev_id, 0) + 1
            self._seq[dev_id] = seq
        nonce = os.urandom(mqtt.NONCE_LEN) if pv == "2.3" else None
        payload = mqtt.encode_message(message, local_key=local_key, pv=pv, seq=seq, source=CLOUD_SOURCE, nonce=nonce)
        return self._publish(mqtt.topic_in(dev_id), payload, qos, retain=retain)

    def publish_raw(self, topic: str, payload: bytes, *, qos: int = 1) -> paho.MQTTMessageInfo:
        """Publish ``payload`` as it is (the protocol-46 push on ``d/ai/<uuid>``, MQTT-ATOP answers)."""
        return self._publish(topic, payload, qos)

    def _publish(self, topic: str, payload: bytes, qos: int, *, retain: bool = False) -> paho.MQTTMessageInfo:
        # The world's clock waits while the message crosses paho's network thread to the broker (a virtual clock
        # must not time a device out for a message still on its way); the broker's loop and the device's are
        # the clock's own business (harness.clock.register_world_loop).
        release = self._hold_until_published()
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            release()
            raise CloudMqttError(f"publish on {topic!r} failed: {paho.error_string(info.rc)}")
        with self._lock:
            self._in_flight[info.mid] = release
        if info.is_published():
            self._handle_publish(self._client, None, info.mid, None, None)
        return info

    def _hold_until_published(self) -> Callable[[], None]:
        """A hold on the clock, released when the broker has the message (or ``timeout_s`` later: a broker that
        never acknowledges holds no longer)."""
        hold = take_hold(self._clock)
        timer = threading.Timer(self._timeout_s, hold)
        timer.daemon = True
        timer.start()

        def release() -> None:
            timer.cancel()
            hold()

        return release

    def pv_for(self, dev_id: str, default: mqtt.ProtocolVersion = "2.2") -> mqtt.ProtocolVersion:
        """The envelope version the device used last, so that a reply matches it; before it has sent anything,
        the version it announced at activation (§11.9.5), else ``default``."""
        with self._lock:
            return self._pv.get(dev_id) or self._announced_pv.get(dev_id, default)

    def announce_pv(self, dev_id: str, pv: mqtt.ProtocolVersion) -> None:
        """The MQTT protocol version ``dev_id`` announced at activation (§11.9.5); what it sends later wins."""
        with self._lock:
            self._announced_pv[dev_id] = pv
            self._pv.pop(dev_id, None)  # a re-activation starts again from what it announces

    # -- what was received -----------------------------------------------------------------------------

    @property
    def malformed_count(self) -> int:
        with self._lock:
            return self._malformed_count

    @property
    def malformed(self) -> list[MalformedPayload]:
        """The most recent payloads that did not decode (oldest first)."""
        with self._lock:
            return list(self._malformed)

    # -- paho callbacks (network thread) ---------------------------------------------------------------

    def _handle_connect(self, client: paho.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            self._failure = f"the MQTT broker refused the cloud's login: {reason}"
            client.disconnect()  # no retrying with credentials the broker refuses
            self._ready.set()
            return
        result, mid = client.subscribe([(topic, 1) for topic in SUBSCRIPTIONS])
        if result != paho.MQTT_ERR_SUCCESS:
            self._failure = f"subscribing failed: {paho.error_string(result)}"
            self._ready.set()
            return
        self._pending_subscribe = mid

    def _handle_subscribe(self, _client: paho.Client, _userdata: Any, mid: int, reasons: list[Any],
                          _props: Any) -> None:
        if mid != self._pending_subscribe:
            return
        refused = [topic for topic, reason in zip(SUBSCRIPTIONS, reasons, strict=False) if reason.is_failure]
        if refused:
            self._failure = f"the MQTT broker refused the cloud's subscriptions {refused}"
        self._ready.set()

    def _handle_publish(self, _client: paho.Client, _userdata: Any, mid: int, _reason: Any, _props: Any) -> None:
        with self._lock:
            release = self._in_flight.pop(mid, None)
        if release is not None:
            release()

    def _handle_disconnect(self, _client: paho.Client, _userdata: Any, _flags: Any, reason: Any,
                           _props: Any) -> None:
        with self._lock:
            held, self._in_flight = list(self._in_flight.values()), {}
        for release in held:
            release()
        if self._started:
            log.warning("the cloud's MQTT connection dropped (%s); paho reconnects", reason)

    def _handle_message(self, _client: paho.Client, _userdata: Any, msg: paho.MQTTMessage) -> None:
        payload = bytes(msg.payload)
        parsed = mqtt.parse_topic(msg.topic)
        if parsed is None or parsed.kind not in (mqtt.TopicKind.OUT, mqtt.TopicKind.RPC_REQ):
            self._record(msg.topic, "not a device report or RPC topic", payload)
            return
        dev_id = parsed.id
        local_key = self._key_lookup(dev_id)
        if local_key is None:
            self._record(msg.topic, "unknown device", payload)
            return
        if parsed.kind is mqtt.TopicKind.RPC_REQ and looks_like_matop(payload):
            self._answer_rpc(msg.topic, dev_id, payload)
            return
        try:
            envelope = mqtt.decode_envelope(payload, local_key=local_key)
            message = mqtt.parse_message_json(envelope.plaintext)
        except ProtocolError as exc:
            self._record(msg.topic, str(exc), payload)
            return
        with self._lock:
            self._pv[dev_id] = envelope.pv
        try:
            self._on_message(dev_id, message)
        except Exception:
            log.exception("the cloud's handler failed on a message from %r", dev_id)

    def _answer_rpc(self, topic: str, dev_id: str, payload: bytes) -> None:
        """§11.4: a plaintext MQTT-ATOP request; its plaintext answer goes to ``rpc/rsp/<devId>``."""
        answer = None
        if self._on_rpc is not None:
            try:
                answer = self._on_rpc(dev_id, payload)
            except Exception:
                log.exception("the cloud's MQTT-ATOP handler failed on a request from %r", dev_id)
        if answer is None:
            self._record(topic, "an MQTT-ATOP request without a usable id", payload)
            return
        self._client.publish(mqtt.rpc_rsp(dev_id), answer, qos=1)

    def _record(self, topic: str, reason: str, payload: bytes) -> None:
        entry = MalformedPayload(at=self._clock.time(), topic=topic, reason=reason, size=len(payload))
        with self._lock:
            self._malformed.append(entry)
            self._malformed_count += 1
        _LIMITED.log(logging.INFO, "undecodable MQTT payloads", "undecodable MQTT payload on %r (%d bytes): %s",
                     topic, len(payload), reason)  # a device can send them as fast as it likes: rate-limited


_LIMITED = RateLimitedLog(log)

__all__ = ["CLOUD_SOURCE", "SUBSCRIPTIONS", "CloudMqttClient", "CloudMqttError", "MalformedPayload", "RpcCallback"]
