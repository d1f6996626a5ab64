"""A small blocking MQTT 3.1.1 client for one emulated device: a socket, :mod:`harness.protocol.mqttpacket`, and a
reader thread.

It is written against the standard library's ``socket``, ``ssl`` and ``threading`` only, so that it runs as it is
in plain threads (the project's tests) and cooperatively under Locust, whose gevent monkey-patching turns the
socket into a gevent socket and the reader thread into a greenlet: thousands of devices in one process, one
greenlet each for reading. The broker is the device's (PROTOCOL.md §5): QoS 1 PUBLISH is acknowledged by PUBACK,
the reader answers the broker's QoS 1 PUBLISH with a PUBACK itself, and keeps the link alive with PINGREQ.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from harness.errors import HarnessError
from harness.protocol.errors import ProtocolError
from harness.protocol.mqttpacket import (
    ConnAck,
    Connect,
    Disconnect,
    PacketReader,
    PingReq,
    PubAck,
    Publish,
    SubAck,
    Subscribe,
)

MessageHandler = Callable[[Publish], None]
LostHandler = Callable[[str], None]
AckHandler = Callable[[bool], None]
_READ_SIZE = 65536


class MqttClientError(Exception):
    """The broker could not be reached, refused the login or went away; ``reason`` is short and stable (it names a
    row of Locust's failure table), ``detail`` says more."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass
class _Pending:
    """A request waiting for its acknowledgement (PUBACK or SUBACK), with what to do when it comes."""

    done: threading.Event
    on_ack: AckHandler | None = None
    suback: SubAck | None = None
    ok: bool = False


class MqttClient:
    """One MQTT session: :meth:`connect`, then :meth:`subscribe`, :meth:`publish` (QoS 1 waits for its PUBACK) or
    :meth:`publish_nowait`, and :meth:`close`. Received PUBLISHes go to ``on_message`` on the reader thread, which
    must not block on this client; ``on_lost`` hears a session that ended without :meth:`close`."""

    def __init__(self, host: str, port: int, *, tls: ssl.SSLContext | None = None, timeout_s: float = 10.0,
                 on_message: MessageHandler | None = None, on_lost: LostHandler | None = None) -> None:
        self.host = host
        self.port = port
        self._tls = tls
        self.timeout_s = timeout_s
        self._on_message = on_message
        self._on_lost = on_lost
        self._sock: socket.socket | None = None
        self._reader: threading.Thread | None = None
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self._pending: dict[int, _Pending] = {}
        self._next_id = 0
        self._keepalive = 0
        self._last_sent = 0.0
        self._closing = False
        self._connected = False

    @property
    def connected(self) -> bool:
        return self._connected

    # -- connecting --------------------------------------------------------------------------------------------

    def connect(self, client_id: str, username: str, password: str, *, keepalive: int = 120) -> None:
        """Open the socket (TLS when given a context), log in and start reading; MqttClientError when the broker
        cannot be reached (``unreachable``, ``tls``), does not answer (``timeout``) or refuses (``refused``)."""
        try:
            raw = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
        except OSError as exc:
            raise MqttClientError("unreachable", str(exc)) from None
        try:
            sock = raw if self._tls is None else self._tls.wrap_socket(raw, server_hostname=self.host)
        except (ssl.SSLError, ssl.CertificateError, OSError) as exc:
            raw.close()
            raise MqttClientError("tls", str(exc)) from None
        self._sock = sock
        self._keepalive = keepalive
        reader = PacketReader()
        try:
            self._send(Connect(client_id, username, password, keepalive=keepalive).encode())
            connack = self._read_connack(sock, reader)
        except MqttClientError:
            self._shutdown()
            raise
        if not connack.accepted:
            self._shutdown()
            raise MqttClientError("refused", connack.reason)
        self._connected = True
        # One timeout for the socket from here on: the reader wakes at it to ping, the writers never wait longer.
        sock.settimeout(max(0.5, keepalive / 2) if keepalive else self.timeout_s)
        self._reader = threading.Thread(target=self._read_loop, args=(sock, reader), name=f"mqtt-{client_id}",
                                        daemon=True)
        self._reader.start()

    def _read_connack(self, sock: socket.socket, reader: PacketReader) -> ConnAck:
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                packet = reader.next_packet()
            except ProtocolError as exc:
                raise MqttClientError("malformed", exc.message) from None
            if isinstance(packet, ConnAck):
                return packet
            if packet is not None:
                raise MqttClientError("malformed", f"the broker sent {type(packet).__name__} before CONNACK")
            left = deadline - time.monotonic()
            if left <= 0:
                raise MqttClientError("timeout", f"no CONNACK within {self.timeout_s} s")
            sock.settimeout(left)
            try:
                data = sock.recv(_READ_SIZE)
            except TimeoutError:
                raise MqttClientError("timeout", f"no CONNACK within {self.timeout_s} s") from None
            except OSError as exc:
                raise MqttClientError("lost", str(exc)) from None
            if not data:
                raise MqttClientError("lost", "the broker closed the connection before CONNACK")
            reader.feed(data)

    # -- requests ----------------------------------------------------------------------------------------------

    def _new_id(self, pending: _Pending) -> int:
        with self._lock:
            for _ in range(0xFFFF):  # bounded: at most every identifier once
                self._next_id = self._next_id % 0xFFFF + 1
                if self._next_id not in self._pending:
                    self._pending[self._next_id] = pending
                    return self._next_id
        raise MqttClientError("busy", "65535 requests are waiting for their acknowledgement")

    def _wait(self, packet_id: int, pending: _Pending, what: str) -> None:
        if not pending.done.wait(self.timeout_s):
            with self._lock:
                self._pending.pop(packet_id, None)
            raise MqttClientError("timeout", f"no {what} within {self.timeout_s} s")
        if not pending.ok:
            raise MqttClientError("lost", f"the connection closed before the {what}")

    def subscribe(self, topic: str, qos: int = 1) -> SubAck:
        """SUBSCRIBE one filter and wait for the SUBACK (whatever it grants: the caller judges it)."""
        pending = _Pending(threading.Event())
        packet_id = self._new_id(pending)
        self._send(Subscribe(packet_id, ((topic, qos),)).encode())
        self._wait(packet_id, pending, "SUBACK")
        if pending.suback is None:
            raise HarnessError("broken invariant: pending.suback is not None")
        return pending.suback

    def publish(self, topic: str, payload: bytes, *, qos: int = 1) -> None:
        """PUBLISH; at QoS 1 return once the broker's PUBACK has come (MqttClientError otherwise)."""
        if qos == 0:
            self._send(Publish(topic, payload).encode())
            return
        pending = _Pending(threading.Event())
        packet_id = self._new_id(pending)
        self._send(Publish(topic, payload, qos=1, packet_id=packet_id).encode())
        self._wait(packet_id, pending, "PUBACK")

    def publish_nowait(self, topic: str, payload: bytes, on_ack: AckHandler) -> None:
        """PUBLISH at QoS 1 without waiting: ``on_ack(True)`` on the reader thread when the PUBACK comes,
        ``on_ack(False)`` if the session ends first. Safe to call from ``on_message``."""
        pending = _Pending(threading.Event(), on_ack=on_ack)
        packet_id = self._new_id(pending)
        self._send(Publish(topic, payload, qos=1, packet_id=packet_id).encode())

    def _send(self, data: bytes) -> None:
        with self._send_lock:  # the reader closes the socket under this lock: never a send to a reused fd
            sock = self._sock
            if sock is None:
                raise MqttClientError("lost", "not connected")
            try:
                sock.sendall(data)
            except (OSError, ValueError) as exc:
                raise MqttClientError("lost", str(exc)) from None
            self._last_sent = time.monotonic()

    # -- the reader ---------------------------------------------------------------------------------------------

    def _read_loop(self, sock: socket.socket, reader: PacketReader) -> None:
        reason = "closed"
        try:
            reason = self._read_until_closed(sock, reader)
        finally:
            with self._send_lock:  # the reader owns the socket's end: nobody else is in a call on it now
                if self._sock is sock:
                    self._sock = None
                sock.close()
            self._connected = False
            self._fail_pending()
            if not self._closing and self._on_lost is not None:
                self._on_lost(reason)

    def _read_until_closed(self, sock: socket.socket, reader: PacketReader) -> str:
        tick = max(0.5, self._keepalive / 2) if self._keepalive else None
        while not self._closing:
            try:
                data = sock.recv(_READ_SIZE)
            except TimeoutError:
                if tick is not None and time.monotonic() - self._last_sent >= tick:
                    self._ping()
                continue
            except (OSError, ValueError) as exc:  # ValueError: an SSL socket shut down under the call
                return f"socket error: {exc}"
            if not data:
                return "the broker closed the connection"
            try:
                reader.feed(data)
                while (packet := reader.next_packet()) is not None:
                    self._dispatch(packet)
            except ProtocolError as exc:
                self._shutdown()
                return f"malformed packet: {exc.message}"
        return "closed"

    def _ping(self) -> None:
        with contextlib.suppress(MqttClientError):  # the next recv sees the broken socket
            self._send(PingReq().encode())

    def _dispatch(self, packet: object) -> None:
        if isinstance(packet, PubAck | SubAck):
            with self._lock:
                pending = self._pending.pop(packet.packet_id, None)
            if pending is None:
                return  # an acknowledgement we stopped waiting for
            pending.ok = True
            pending.suback = packet if isinstance(packet, SubAck) else None
            pending.done.set()
            if pending.on_ack is not None:
                pending.on_ack(True)
        elif isinstance(packet, Publish):
            if packet.qos == 1 and packet.packet_id is not None:
                try:
                    self._send(PubAck(packet.packet_id).encode())  # §5: the device subscribes at QoS 1
                except MqttClientError:
                    return
            if self._on_message is not None:
                self._on_message(packet)

    def _fail_pending(self) -> None:
        with self._lock:
            pending, self._pending = list(self._pending.values()), {}
        for item in pending:
            item.done.set()
            if item.on_ack is not None:
                item.on_ack(False)

    # -- closing -----------------------------------------------------------------------------------------------

    def close(self) -> None:
        """DISCONNECT (when connected) and close the socket; the reader stops without calling ``on_lost``, and
        is waited for (at most ``timeout_s``), so that its socket is closed when this returns."""
        self._closing = True
        if self._connected:
            with contextlib.suppress(MqttClientError):
                self._send(Disconnect().encode())
        self._shutdown()
        self._connected = False
        self._fail_pending()
        reader = self._reader
        if reader is not None and reader is not threading.current_thread():
            reader.join(self.timeout_s)

    def _shutdown(self) -> None:
        """Shut the connection down. With a reader, its recv returns and the reader closes the socket: closing
        it here, under a recv in another thread, would free the descriptor for the next socket opened while the
        reader still reads it."""
        sock = self._sock
        if sock is None:
            return
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the descriptor's, not the TLS layer's shutdown
        if self._reader is None:
            with self._send_lock:
                self._sock = None
                sock.close()


__all__ = ["MqttClient", "MqttClientError"]
