"""A paho-mqtt 2.x client driven by the device loop's asyncio loop: no thread per camera.

paho supports an external event loop through its socket callbacks (``on_socket_open``,
``on_socket_close``, ``on_socket_register_write``, ``on_socket_unregister_write``): the loop watches the
socket and calls ``loop_read`` / ``loop_write`` when it is ready, and a small task calls ``loop_misc`` every
second for keepalive. paho's TCP connect itself is blocking (``socket.create_connection``), so it runs in the
loop's default executor; the socket callbacks it fires from there are handed back to the loop.

§5: the device logs in with clientId = username = devId and the derived password, subscribes to
``smart/device/in/<devId>`` (QoS 1) and publishes on ``smart/device/out/<devId>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

MessageHandler = Callable[[str, bytes], None]
LostHandler = Callable[[str], None]

# MQTT 3.1.1 CONNACK return codes 4 and 5 and their MQTT 5 reason codes (paho maps 3.1.1 codes onto them).
_NOT_AUTHORISED = {4, 5, 134, 135}
# A TLS socket may hold whole packets in its own buffer, which the loop's reader never sees as readable.
_MAX_BUFFERED_READS = 1000


class ConnectOutcome:
    """What a login attempt ended in: accepted, refused by the broker (with its code), or a network failure."""

    def __init__(self, accepted: bool, refused: bool, code: int, reason: str) -> None:
        self.accepted = accepted
        self.refused = refused
        self.code = code
        self.reason = reason

    def __repr__(self) -> str:
        return f"ConnectOutcome(accepted={self.accepted}, refused={self.refused}, code={self.code}, {self.reason!r})"


class LoopMqttClient:
    """One device's MQTT session on a shared asyncio loop. Every method is called from that loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, client_id: str, username: str, password: str,
                 on_message: MessageHandler, on_lost: LostHandler, keepalive: int = 120,
                 tls: ssl.SSLContext | None = None) -> None:
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._keepalive = keepalive
        self._on_message = on_message
        self._on_lost = on_lost
        self._connack: asyncio.Future[ConnectOutcome] | None = None
        self._misc: asyncio.Task[None] | None = None
        self._closing = False
        self._connected = False
        self._sock: Any = None
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311,
                             clean_session=True)
        client.username_pw_set(username, password)
        if tls is not None:  # §11.1: MQTT over TLS, the broker's certificate verified against the CA trusted
            client.tls_set_context(tls)
        client.on_socket_open = self._socket_open
        client.on_socket_close = self._socket_close
        client.on_socket_register_write = self._register_write
        client.on_socket_unregister_write = self._unregister_write
        client.on_connect = self._connected_cb
        client.on_disconnect = self._disconnected_cb
        client.on_message = self._message_cb
        client.on_subscribe = self._subscribed_cb
        self._subacks: dict[int, asyncio.Future[bool]] = {}
        self._client = client

    # -- socket plumbing: always performed on the loop --------------------------------------------------

    def _on_loop(self, fn: Callable[..., object], *args: object) -> None:
        if threading.get_ident() == self._loop_thread:
            fn(*args)
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(fn, *args)

    def _socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._on_loop(self._add_reader, sock)

    def _add_reader(self, sock: Any) -> None:
        if self._closing or sock.fileno() < 0:
            return
        self._sock = sock
        self._loop.add_reader(sock, self._read)

    def _read(self) -> None:
        self._client.loop_read()
        # Packets already decrypted into the TLS socket's buffer make no readiness event of their own.
        for _ in range(_MAX_BUFFERED_READS):
            sock = self._sock
            pending = getattr(sock, "pending", None)
            if self._closing or pending is None or sock is not self._client.socket() or pending() <= 0:
                return
            if self._client.loop_read() != mqtt.MQTT_ERR_SUCCESS:
                return

    def _write(self) -> None:
        self._client.loop_write()

    def _socket_close(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._on_loop(self._remove_socket, sock)

    def _remove_socket(self, sock: Any) -> None:
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_reader(sock)
            self._loop.remove_writer(sock)

    def _register_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._on_loop(self._add_writer, sock)

    def _add_writer(self, sock: Any) -> None:
        if self._closing or sock.fileno() < 0:
            return
        self._loop.add_writer(sock, self._write)

    def _unregister_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._on_loop(self._drop_writer, sock)

    def _drop_writer(self, sock: Any) -> None:
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_writer(sock)

    # -- paho callbacks (on the loop, from loop_read) ----------------------------------------------------

    def _connected_cb(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
                      properties: Any) -> None:
        code = int(reason.value)
        if reason.is_failure:
            outcome = ConnectOutcome(False, code in _NOT_AUTHORISED, code, str(reason))
        else:
            self._connected = True
            outcome = ConnectOutcome(True, False, code, str(reason))
        if self._connack is not None and not self._connack.done():
            self._connack.set_result(outcome)

    def _disconnected_cb(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
                         properties: Any) -> None:
        was_connected, self._connected = self._connected, False
        if self._connack is not None and not self._connack.done():
            self._connack.set_result(ConnectOutcome(False, False, int(reason.value), f"connection closed: {reason}"))
        if was_connected and not self._closing:
            self._on_lost(str(reason))

    def _subscribed_cb(self, client: mqtt.Client, userdata: Any, mid: int, reason_codes: list[ReasonCode],
                       properties: Any) -> None:
        fut = self._subacks.pop(mid, None)
        if fut is not None and not fut.done():
            fut.set_result(all(not code.is_failure for code in reason_codes))

    def _message_cb(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._on_message(message.topic, bytes(message.payload))

    async def _misc_loop(self) -> None:
        while not self._closing:
            await asyncio.sleep(1.0)
            if self._client.loop_misc() != mqtt.MQTT_ERR_SUCCESS and not self._closing:
                if self._connected:
                    self._connected = False
                    self._on_lost("keepalive or socket failure")
                return

    # -- the session ------------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected

    async def connect(self, host: str, port: int, *, timeout: float = 10.0) -> ConnectOutcome:
        """Open the TCP connection, send CONNECT and wait for the CONNACK (at most ``timeout`` seconds)."""
        self._connack = self._loop.create_future()
        try:
            await asyncio.wait_for(
                self._loop.run_in_executor(None, self._client.connect, host, port, self._keepalive), timeout)
        except (OSError, TimeoutError) as exc:
            return ConnectOutcome(False, False, -1, f"network: {exc!r}")
        self._misc = self._loop.create_task(self._misc_loop())
        try:
            outcome = await asyncio.wait_for(asyncio.shield(self._connack), timeout)
        except TimeoutError:
            outcome = ConnectOutcome(False, False, -1, "no CONNACK in time")
        if not outcome.accepted:
            self.abort()
        return outcome

    def subscribe(self, topic: str, qos: int = 1) -> None:
        self._client.subscribe(topic, qos)

    async def subscribe_acked(self, topic: str, qos: int = 1, *, timeout: float = 10.0) -> bool:
        """Subscribe and wait for the SUBACK: True when the broker granted it (§5: the device's own topic)."""
        fut: asyncio.Future[bool] = self._loop.create_future()
        result, mid = self._client.subscribe(topic, qos)
        if result != mqtt.MQTT_ERR_SUCCESS or mid is None:
            return False
        self._subacks[mid] = fut
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            return False
        finally:
            self._subacks.pop(mid, None)

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self._client.publish(topic, payload, qos)

    async def disconnect(self) -> None:
        """A clean DISCONNECT, then close the socket."""
        if self._closing:
            return
        self._closing = True
        if self._connected:
            self._client.disconnect()
            # Let the loop flush the DISCONNECT packet before the socket goes.
            for _ in range(3):
                await asyncio.sleep(0)
        self._connected = False
        self._teardown()

    def abort(self) -> None:
        """Drop the connection without a DISCONNECT (a crash or a power cut)."""
        self._closing = True
        self._connected = False
        self._teardown()

    def _teardown(self) -> None:
        if self._misc is not None and not self._misc.done():
            self._misc.cancel()
        sock = self._client.socket()
        if sock is not None:
            self._remove_socket(sock)
            with contextlib.suppress(OSError):
                sock.close()
        if self._sock is not None and self._sock is not sock:
            self._remove_socket(self._sock)
        if self._connack is not None and not self._connack.done():
            self._connack.set_result(ConnectOutcome(False, False, -1, "closed"))


__all__ = ["ConnectOutcome", "LoopMqttClient"]
