"""One emulated device of a load run, on blocking sockets: the camera's own protocol code without its event loop.

A :class:`LoadDevice` holds a licence, asks the app side for a pairing token, activates over ATOP with the body, signed
call and reply reading of :mod:`harness.emulator.camera.activation` (HTTPS when the cloud is TLS, trusting the CA its
url_config names, PROTOCOL.md §11.1-11.2), logs in to MQTT with the §5 credentials (TLS when the cloud is), reports
DPs in the camera's envelope (:func:`harness.emulator.camera.online.seal_message`), answers the app's DP commands with
a report of what it applied, and honours an unbind or reset as the camera does (un-activated, devId kept, §6). It can
be removed and re-paired by the app (a rebind) or reset itself (``tuya.device.reset``, §6) and re-pair.

Every step is handed to ``sink(kind, name, milliseconds, size, error)``, which Locust turns into its request events;
the device's :class:`~harness.load.ledger.DeviceLedger` says what the cloud must hold of it when the run ends. The
sockets, threads and events are the standard library's: under Locust's gevent patching they are cooperative.
"""

from __future__ import annotations

import http.client
import json
import secrets
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from harness.adapters.contracts import AdapterError, Licence
from harness.adapters.probes import CloudEndpoints
from harness.adapters.remote import RemoteCloudError
from harness.emulator.camera.activation import (
    API_BY_NAME,
    ActivationApi,
    AtopCall,
    activation_body,
    atop_call,
    open_activation_reply,
)
from harness.emulator.camera.firmware import DEFAULT_DPS
from harness.emulator.camera.online import seal_message
from harness.load.ledger import COMMAND_DP, SEQ_DP, DeviceLedger
from harness.load.mqttclient import MqttClient, MqttClientError
from harness.protocol import atop
from harness.protocol import mqtt as mq
from harness.protocol.errors import ProtocolError
from harness.protocol.mqttpacket import Publish
from harness.protocol.token import split_token_fixed

#: sink(kind, name, response time in ms, response size in bytes, the failure or None)
StepSink = Callable[[str, str, float, int, BaseException | None], None]
T = TypeVar("T")
MAX_REPLY = 64 * 1024


class StepFailed(Exception):
    """A step of the device failed; the message is short and stable (Locust groups failures by it)."""


class AppSide(Protocol):
    """What the device needs of the app: pairing tokens for a home, removing it, sending it DPs."""

    def token(self) -> tuple[str, str]:
        """A fresh pairing token and the home it pairs into."""

    def remove(self, dev_id: str) -> None: ...

    def send_dps(self, dev_id: str, dps: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class DeviceSettings:
    """How the emulated devices of a run behave: the activation API and MQTT envelope of the camera, timing."""

    activation_api: ActivationApi = "v4.4"
    mqtt_pv: mq.ProtocolVersion = "2.2"
    firmware: str = "1.0.0"
    keepalive_s: int = 120
    timeout_s: float = 10.0


def _reason(exc: BaseException) -> str:
    """A failure as a short, stable text without identifiers (one row per kind in Locust's failure table)."""
    if isinstance(exc, StepFailed):
        return str(exc)
    if isinstance(exc, RemoteCloudError):
        return f"app API refused: HTTP {exc.status} {exc.code}"
    if isinstance(exc, AdapterError):
        return "app API failed: unreachable, timed out or HTTP 5xx"
    if isinstance(exc, MqttClientError):
        return f"MQTT {exc.reason}"
    if isinstance(exc, ProtocolError):
        return f"malformed answer ({exc.section or 'protocol'})"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"network error: {type(exc).__name__}"


class LoadDevice:
    """One emulated device; each method blocks the calling thread (greenlet) at most ``settings.timeout_s`` a step."""

    def __init__(self, licence: Licence, endpoints: CloudEndpoints, app: AppSide, *, sink: StepSink,
                 tls: ssl.SSLContext | None = None, settings: DeviceSettings | None = None, worker: str = "") -> None:
        self.licence = licence
        self.endpoints = endpoints
        self.app = app
        self.sink = sink
        self.tls = tls
        self.settings = settings or DeviceSettings()
        self.mac = "02:" + ":".join(secrets.token_hex(1) for _ in range(5))  # locally administered
        self.ledger = DeviceLedger(uuid=licence.uuid, worker=worker)
        self.dps: dict[str, Any] = dict(DEFAULT_DPS)
        self.kept_dev_id: str | None = None
        self._keys: tuple[str, str] | None = None  # (secKey, localKey) of the current activation
        self._lock = threading.Lock()
        self._epoch = 0
        self._mqtt: MqttClient | None = None
        self._mqtt_seq = 0
        self._report_seq = 0
        self._command_seq = 0
        self._waiters: dict[int, threading.Event] = {}
        self._unbound = threading.Event()

    @property
    def dev_id(self) -> str | None:
        return self.ledger.dev_id if self._keys is not None else None

    @property
    def online(self) -> bool:
        return self._mqtt is not None and self._mqtt.connected

    # -- steps ------------------------------------------------------------------------------------------------

    def _timed(self, kind: str, name: str, action: Callable[[], T], size: Callable[[T], int] = lambda _: 0) -> T:
        started = time.perf_counter()
        try:
            value = action()
        except (StepFailed, AdapterError, MqttClientError, ProtocolError, OSError, http.client.HTTPException) as exc:
            failure = StepFailed(_reason(exc))
            self.sink(kind, name, (time.perf_counter() - started) * 1000, 0, failure)
            raise failure from exc
        self.sink(kind, name, (time.perf_counter() - started) * 1000, size(value), None)
        return value

    def _set_expected(self, expected: str) -> None:
        with self._lock:
            self._epoch += 1
            self.ledger.expected = expected  # type: ignore[assignment]

    # -- activation (§4) ---------------------------------------------------------------------------------------

    def pair(self, *, name: str = "activate") -> None:
        """Get a token from the app, activate with it and go online: the whole of pairing as the device sees it."""
        token, home = self._timed("APP", "pairing token", self.app.token)
        self.activate(token, home, name=name)
        self.go_online()

    def activate(self, pairing_token: str, home: str, *, name: str = "activate") -> None:
        """§4: the camera's activation request with the token's middle 8 characters; StepFailed when refused."""
        _region, token, _secret = split_token_fixed(pairing_token)
        t = int(time.time())
        body = activation_body(token=token, t=t, firmware=self.settings.firmware, pid=self.licence.pid,
                               activation_api=self.settings.activation_api, mac=self.mac,
                               kept_dev_id=self.kept_dev_id)
        call = atop_call(API_BY_NAME[self.settings.activation_api], key=self.licence.auth_key,
                         body=json.dumps(body, separators=(",", ":")).encode("utf-8"), t=t, uuid=self.licence.uuid)
        with self._lock:
            previous = self.ledger.expected
        self._set_expected("unknown")  # from here until the answer, the cloud may hold it either way
        self.ledger.home = home

        def exchange() -> bytes:
            try:
                wire = self._post(call)
                reply, result = open_activation_reply(wire, self.licence.auth_key, call.et)
            except (OSError, http.client.HTTPException, StepFailed, ProtocolError):
                self.ledger.unanswered += 1  # no answer, or none the device can read: it cannot know
                raise
            self._accept(reply, result, previous)
            return wire

        self._timed("ATOP", name, exchange, len)

    def _accept(self, reply: atop.AtopResponse, result: atop.ActivationResult | None, previous: str) -> None:
        if result is None:
            self.ledger.refusals += 1
            # a refusal leaves the binding as it was: unbound for a device that was not bound
            self._set_expected("unbound" if previous == "unbound" else "unknown")
            raise StepFailed(f"refused: {reply.error_code}")
        with self._lock:
            self._epoch += 1
            self._keys = (result.sec_key, result.local_key)
            self.kept_dev_id = result.dev_id
            self.ledger.dev_id = result.dev_id
            self.ledger.expected = "bound"
            self.ledger.activations += 1
            self.ledger.reports_acked = 0
            self.ledger.last_seq = self.ledger.sent_seq = None
            if result.reset_factory:  # §6 GW_RESET_DATA_FACTORY, as the camera does
                self.dps = dict(DEFAULT_DPS)

    def _post(self, call: AtopCall) -> bytes:
        """``POST <atop url>?<query>`` with the SDK's headers (§11.3), over TLS for an https URL (§11.1)."""
        url = urlsplit(self.endpoints.atop_url)
        host, port = url.hostname or "", url.port
        connection: http.client.HTTPConnection
        if url.scheme == "https":
            connection = http.client.HTTPSConnection(host, port, timeout=self.settings.timeout_s, context=self.tls)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=self.settings.timeout_s)
        try:
            connection.putrequest("POST", f"{url.path or '/'}?{call.query}", skip_host=True,
                                  skip_accept_encoding=True)
            for header, value in call.headers(url.netloc):
                connection.putheader(header, value)
            connection.putheader("Content-Length", str(len(call.form)))
            connection.endheaders(call.form)
            answer = connection.getresponse()
            wire = answer.read(MAX_REPLY)
        finally:
            connection.close()
        if answer.status >= 500:
            raise StepFailed(f"ATOP HTTP {answer.status}")
        return wire

    # -- MQTT (§5) ----------------------------------------------------------------------------------------------

    def go_online(self, *, name: str = "connect") -> None:
        """Log in with the §5 credentials, subscribe to ``smart/device/in/<devId>`` and send the first report."""
        dev_id, keys = self.ledger.dev_id, self._keys
        if dev_id is None or keys is None:
            raise StepFailed("not activated")
        credentials = mq.device_credentials(dev_id, keys[0])
        made: list[MqttClient] = []  # the reader may report a loss only of this client, never of a later one
        client = MqttClient(self.endpoints.mqtt_host, self.endpoints.mqtt_port,
                            tls=self.tls if self.endpoints.mqtt_tls else None, timeout_s=self.settings.timeout_s,
                            on_message=self._on_message, on_lost=lambda _reason: self._on_lost(made))
        made.append(client)

        def login() -> None:
            client.connect(*credentials, keepalive=self.settings.keepalive_s)
            granted = client.subscribe(mq.topic_in(dev_id), 1)
            if not granted.granted:
                client.close()
                raise StepFailed("MQTT subscribe refused")

        self._timed("MQTT", name, login)
        self._mqtt = client
        self.report(first=True)

    def report(self, *, first: bool = False) -> None:
        """A DP report (protocol 4) at QoS 1, timed to its PUBACK; the first after login carries every DP."""
        client, keys, dev_id = self._mqtt, self._keys, self.ledger.dev_id
        if client is None or not client.connected or keys is None or dev_id is None:
            if keys is None:
                raise StepFailed("not activated")
            self.go_online(name="reconnect")
            return
        with self._lock:
            self._report_seq += 1
            seq, epoch = self._report_seq, self._epoch
            dps = {**self.dps, SEQ_DP: seq} if first else {SEQ_DP: seq}
            if epoch == self._epoch:
                self.ledger.sent_seq = seq
        payload = self._seal(mq.dp_report(dps, t=int(time.time())), keys[1])
        self._timed("MQTT", "dp report", lambda: client.publish(mq.topic_out(dev_id), payload), lambda _: len(payload))
        with self._lock:
            if epoch == self._epoch:
                self.ledger.reports_acked += 1
                self.ledger.last_seq = seq
            self.ledger.reports_total += 1

    def _seal(self, message: mq.MqttMessage, local_key: str) -> bytes:
        with self._lock:
            self._mqtt_seq += 1
            seq = self._mqtt_seq
        return seal_message(message, local_key=local_key, pv=self.settings.mqtt_pv, seq=seq)

    def _on_lost(self, made: list[MqttClient]) -> None:
        """A session ended without close(): forget it, unless the device has moved on to a newer one."""
        with self._lock:
            if made and self._mqtt is made[0]:
                self._mqtt = None

    def _on_message(self, packet: Publish) -> None:
        """The reader thread: the camera's handling of protocol 5, 8 and 11 (§5, §6); never blocks."""
        keys, client = self._keys, self._mqtt
        if keys is None or client is None:
            return
        try:
            message = mq.decode_message(packet.payload, local_key=keys[1])
            dps = dict(message.dps) if message.protocol == mq.MqttProtocol.DP_COMMAND else {}
        except ProtocolError:
            return  # the camera records and ignores a message it cannot read
        if message.protocol == mq.MqttProtocol.DP_COMMAND:
            self._answer_command(client, dps, keys[1])
        elif message.protocol in (mq.MqttProtocol.UNBIND, mq.MqttProtocol.RESET):
            self._unbound.set()  # the camera un-activates and keeps its devId (§6)

    def _answer_command(self, client: MqttClient, dps: dict[str, Any], local_key: str) -> None:
        dev_id = self.ledger.dev_id
        if dev_id is None:
            return
        with self._lock:
            self.dps.update(dps)
            epoch = self._epoch
        payload = self._seal(mq.dp_report(dps, t=int(time.time())), local_key)
        value = dps.get(COMMAND_DP)

        def acked(ok: bool) -> None:
            if not ok:
                return
            with self._lock:
                if epoch == self._epoch:
                    self.ledger.reports_acked += 1
                self.ledger.reports_total += 1
                self.ledger.commands += 1
                waiter = self._waiters.pop(value, None) if isinstance(value, int) else None
            if waiter is not None:
                waiter.set()

        try:
            client.publish_nowait(mq.topic_out(dev_id), payload, acked)
        except MqttClientError:
            return

    # -- what the app does to the device -----------------------------------------------------------------------

    def command_round_trip(self) -> None:
        """The app sets a DP; timed until the device's report of it is acknowledged by the broker."""
        dev_id = self.ledger.dev_id
        if dev_id is None or not self.online:
            raise StepFailed("not online")
        with self._lock:
            self._command_seq += 1
            value = self._command_seq
            done = self._waiters[value] = threading.Event()

        def round_trip() -> None:
            self.app.send_dps(dev_id, {COMMAND_DP: value})
            if not done.wait(self.settings.timeout_s):
                with self._lock:
                    self._waiters.pop(value, None)
                raise StepFailed("no report of the command within the timeout")

        self._timed("DP", "app command round trip", round_trip)

    def rebind(self) -> None:
        """The app removes the device (it hears the unbind, §6) and pairs it again with a fresh token."""
        dev_id = self.ledger.dev_id
        if dev_id is None:
            raise StepFailed("not activated")
        self._unbound.clear()
        self._set_expected("unknown")
        started = time.perf_counter()
        self._timed("APP", "remove device", lambda: self.app.remove(dev_id))
        self._set_expected("unbound")
        self.ledger.rebinds += 1
        heard = self._unbound.wait(self.settings.timeout_s) if self.online else False
        self.sink("MQTT", "unbind pushed", (time.perf_counter() - started) * 1000, 0,
                  None if heard else StepFailed("no unbind (protocol 8) within the timeout"))
        self._unactivate()
        self.pair(name="re-activate")

    def reset(self) -> None:
        """``tuya.device.reset`` v4.0 over ATOP, signed with the secKey (§6): unbound, devId kept; then pair again."""
        dev_id, keys = self.ledger.dev_id, self._keys
        if dev_id is None or keys is None:
            raise StepFailed("not activated")
        t = int(time.time())
        call = atop_call(atop.API_RESET, key=keys[0], body=json.dumps({"t": t}).encode("utf-8"), t=t, dev_id=dev_id,
                         et=atop.ET_ECB)
        self._set_expected("unknown")

        def exchange() -> bytes:
            wire = self._post(call)
            reply = atop.decode_response(wire, keys[0], call.et)
            if not reply.success:
                raise StepFailed(f"refused: {reply.error_code}")
            return wire

        self._timed("ATOP", "reset", exchange, len)
        self._set_expected("unbound")
        self.ledger.resets += 1
        self._unactivate()
        self.pair(name="re-activate")

    def _unactivate(self) -> None:
        """As the camera: activation wiped, devId kept, MQTT closed (§6)."""
        client, self._mqtt = self._mqtt, None
        if client is not None:
            client.close()
        with self._lock:
            self._keys = None

    def close(self) -> None:
        """Leave MQTT cleanly (DISCONNECT): the end of the run, not a reset; the binding stays."""
        client, self._mqtt = self._mqtt, None
        if client is not None:
            client.close()


__all__ = ["AppSide", "DeviceSettings", "LoadDevice", "StepFailed", "StepSink"]
