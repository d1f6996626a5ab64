"""MQTT 3.1.1 control packets, sans-IO (PROTOCOL.md §5 rides on them; OASIS MQTT 3.1.1 is the wire format).

What a device needs to speak to its broker over a socket it owns: CONNECT, SUBSCRIBE, PUBLISH (QoS 0 and 1),
PUBACK, PINGREQ and DISCONNECT out; CONNACK, SUBACK, PUBLISH, PUBACK and PINGRESP in. Every packet is a small
frozen record with ``encode()``; :class:`PacketReader` is fed bytes as they arrive (h11's ``receive_data``) and hands
back whole packets. Anything it is fed either parses or raises
:class:`~harness.protocol.errors.RemoteProtocolError`, whatever it is, whole or one byte at a time.

QoS 2 is out of scope: a device that subscribes at QoS 1 is never sent it, and a QoS 2 PUBLISH is refused here.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field

from .errors import LocalProtocolError, RemoteProtocolError

SECTION = "§5"
#: MQTT 3.1.1 §2.2.3: the remaining length is at most four 7-bit groups.
MAX_REMAINING_LENGTH = 268_435_455
#: What a reader accepts by default: a device's messages are small, and a peer must not make it buffer a gigabyte.
DEFAULT_MAX_PACKET = 1024 * 1024
_U16 = struct.Struct(">H")


class PacketType(enum.IntEnum):
    """MQTT 3.1.1 §2.2.1 control packet types."""

    CONNECT = 1
    CONNACK = 2
    PUBLISH = 3
    PUBACK = 4
    PUBREC = 5
    PUBREL = 6
    PUBCOMP = 7
    SUBSCRIBE = 8
    SUBACK = 9
    UNSUBSCRIBE = 10
    UNSUBACK = 11
    PINGREQ = 12
    PINGRESP = 13
    DISCONNECT = 14


#: MQTT 3.1.1 §3.2.2.3 CONNACK return codes.
CONNACK_CODES = {0: "accepted", 1: "unacceptable protocol version", 2: "identifier rejected",
                 3: "server unavailable", 4: "bad user name or password", 5: "not authorized"}
#: MQTT 3.1.1 §3.9.3: a SUBACK return code of 0x80 is a refused subscription.
SUBACK_FAILURE = 0x80


# ---------------------------------------------------------------------------------------------- encoding helpers


def _remaining_length(n: int) -> bytes:
    # MQTT 3.1.1 §2.2.3: seven bits a byte, least significant group first, high bit = more follow.
    if not 0 <= n <= MAX_REMAINING_LENGTH:
        raise LocalProtocolError(f"a packet body of {n} bytes exceeds MQTT's {MAX_REMAINING_LENGTH}")
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(text: str, what: str) -> bytes:
    # MQTT 3.1.1 §1.5.3: UTF-8, a 16-bit length first, no U+0000.
    if not isinstance(text, str):
        raise LocalProtocolError(f"{what} must be a string")
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        raise LocalProtocolError(f"{what} is not encodable as UTF-8") from None
    if "\x00" in text or len(raw) > 0xFFFF:
        raise LocalProtocolError(f"{what} must hold no NUL and fit 65535 bytes")
    return _U16.pack(len(raw)) + raw


def _packet_id(value: int | None) -> bytes:
    # MQTT 3.1.1 §2.3.1: a non-zero 16-bit packet identifier.
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 0xFFFF:
        raise LocalProtocolError(f"a packet identifier is 1..65535, got {value!r}")
    return _U16.pack(value)


def _frame(first: int, body: bytes) -> bytes:
    return bytes([first]) + _remaining_length(len(body)) + body


def _check_qos(qos: int, allowed: tuple[int, ...] = (0, 1)) -> None:
    if isinstance(qos, bool) or qos not in allowed:
        raise LocalProtocolError(f"QoS must be one of {allowed}, got {qos!r}")


# --------------------------------------------------------------------------------------------------- packets


@dataclass(frozen=True)
class Connect:
    """CONNECT (MQTT 3.1.1 §3.1), protocol level 4, without a will: the device's login."""

    client_id: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    keepalive: int = 120
    clean_session: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.keepalive, bool) or not isinstance(self.keepalive, int) or not 0 <= self.keepalive <= 0xFFFF:
            raise LocalProtocolError(f"keepalive is 0..65535 seconds, got {self.keepalive!r}")
        if self.password is not None and self.username is None:
            raise LocalProtocolError("MQTT 3.1.1 §3.1.2.9: a password needs a user name")
        self.encode()  # every string checked once, here

    def encode(self) -> bytes:
        flags = (0x02 if self.clean_session else 0) | (0x80 if self.username is not None else 0)
        flags |= 0x40 if self.password is not None else 0
        body = _string("MQTT", "protocol name") + bytes([4, flags]) + _U16.pack(self.keepalive)
        body += _string(self.client_id, "client id")
        if self.username is not None:
            body += _string(self.username, "user name")
        if self.password is not None:
            body += _string(self.password, "password")
        return _frame(PacketType.CONNECT << 4, body)


@dataclass(frozen=True)
class ConnAck:
    """CONNACK (§3.2): whether the broker took the login, and why not."""

    session_present: bool
    return_code: int

    @property
    def accepted(self) -> bool:
        return self.return_code == 0

    @property
    def reason(self) -> str:
        return CONNACK_CODES.get(self.return_code, f"return code {self.return_code}")

    def encode(self) -> bytes:
        return _frame(PacketType.CONNACK << 4, bytes([1 if self.session_present else 0, self.return_code]))


@dataclass(frozen=True)
class Publish:
    """PUBLISH (§3.3) at QoS 0 or 1; ``packet_id`` is set exactly when ``qos`` is 1."""

    topic: str
    payload: bytes
    qos: int = 0
    packet_id: int | None = None
    retain: bool = False
    dup: bool = False

    def __post_init__(self) -> None:
        _check_qos(self.qos)
        if not isinstance(self.payload, bytes):
            raise LocalProtocolError("a PUBLISH payload is bytes")
        if (self.packet_id is None) != (self.qos == 0):
            raise LocalProtocolError("MQTT 3.1.1 §2.3.1: a packet identifier exactly when QoS > 0")
        if not self.topic or any(c in self.topic for c in "+#"):
            raise LocalProtocolError(f"MQTT 3.1.1 §3.3.2.1: a PUBLISH topic is non-empty, without wildcards: "
                                     f"{self.topic!r}")
        _string(self.topic, "topic")

    def encode(self) -> bytes:
        first = PacketType.PUBLISH << 4 | (0x08 if self.dup else 0) | self.qos << 1 | (1 if self.retain else 0)
        body = _string(self.topic, "topic") + (b"" if self.qos == 0 else _packet_id(self.packet_id)) + self.payload
        return _frame(first, body)


@dataclass(frozen=True)
class PubAck:
    """PUBACK (§3.4): the receiver took a QoS 1 PUBLISH."""

    packet_id: int

    def encode(self) -> bytes:
        return _frame(PacketType.PUBACK << 4, _packet_id(self.packet_id))


@dataclass(frozen=True)
class Subscribe:
    """SUBSCRIBE (§3.8): topic filters and the QoS asked for each."""

    packet_id: int
    topics: tuple[tuple[str, int], ...]

    def __post_init__(self) -> None:
        if not self.topics:
            raise LocalProtocolError("MQTT 3.1.1 §3.8.3: a SUBSCRIBE names at least one topic filter")
        self.encode()

    def encode(self) -> bytes:
        body = _packet_id(self.packet_id)
        for topic, qos in self.topics:
            _check_qos(qos, (0, 1, 2))
            if not topic:
                raise LocalProtocolError("a topic filter is non-empty")
            body += _string(topic, "topic filter") + bytes([qos])
        return _frame(PacketType.SUBSCRIBE << 4 | 0x02, body)  # §3.8.1: flags 0010


@dataclass(frozen=True)
class SubAck:
    """SUBACK (§3.9): the QoS granted to each filter, or 0x80 for a refusal."""

    packet_id: int
    return_codes: tuple[int, ...]

    @property
    def granted(self) -> bool:
        return bool(self.return_codes) and SUBACK_FAILURE not in self.return_codes

    def encode(self) -> bytes:
        return _frame(PacketType.SUBACK << 4, _packet_id(self.packet_id) + bytes(self.return_codes))


@dataclass(frozen=True)
class PingReq:
    """PINGREQ (§3.12): the client is alive."""

    def encode(self) -> bytes:
        return bytes([PacketType.PINGREQ << 4, 0])


@dataclass(frozen=True)
class PingResp:
    """PINGRESP (§3.13): the broker is alive."""

    def encode(self) -> bytes:
        return bytes([PacketType.PINGRESP << 4, 0])


@dataclass(frozen=True)
class Disconnect:
    """DISCONNECT (§3.14): a clean goodbye (the broker discards the will)."""

    def encode(self) -> bytes:
        return bytes([PacketType.DISCONNECT << 4, 0])


Packet = Connect | ConnAck | Publish | PubAck | Subscribe | SubAck | PingReq | PingResp | Disconnect


# --------------------------------------------------------------------------------------------------- decoding


def _bad(message: str) -> RemoteProtocolError:
    return RemoteProtocolError(message, section=SECTION)


class _Cursor:
    """Reads the fields of one packet body; every overrun is a RemoteProtocolError."""

    def __init__(self, body: bytes, what: str) -> None:
        self.body = body
        self.pos = 0
        self.what = what

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.body):
            raise _bad(f"MQTT {self.what} is truncated: {len(self.body)} bytes")
        chunk = self.body[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def u16(self) -> int:
        value: int = _U16.unpack(self.take(2))[0]
        return value

    def string(self, field_name: str) -> str:
        raw = self.take(self.u16())
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _bad(f"MQTT {self.what} {field_name} is not UTF-8 (MQTT 3.1.1 §1.5.3)") from None
        if "\x00" in text:
            raise _bad(f"MQTT {self.what} {field_name} holds U+0000 (MQTT 3.1.1 §1.5.3)")
        return text

    def packet_id(self) -> int:
        value = self.u16()
        if value == 0:
            raise _bad(f"MQTT {self.what} has packet identifier 0 (MQTT 3.1.1 §2.3.1)")
        return value

    def rest(self) -> bytes:
        chunk = self.body[self.pos:]
        self.pos = len(self.body)
        return chunk

    def done(self) -> None:
        if self.pos != len(self.body):
            raise _bad(f"MQTT {self.what} has {len(self.body) - self.pos} bytes too many")


def _flags(first: int, expected: int, what: str) -> None:
    # MQTT 3.1.1 §2.2.2: the fixed flags of every packet but PUBLISH are given; anything else is malformed.
    if first & 0x0F != expected:
        raise _bad(f"MQTT {what} has flags {first & 0x0F:#x}, expected {expected:#x} (MQTT 3.1.1 §2.2.2)")


def _decode_connect(c: _Cursor) -> Connect:
    if c.string("protocol name") != "MQTT" or c.take(1) != b"\x04":
        raise _bad("MQTT CONNECT is not protocol MQTT level 4 (3.1.1)")
    flags = c.take(1)[0]
    if flags & 0x01 or flags & 0x04:
        raise _bad("MQTT CONNECT sets the reserved flag or a will, which this codec does not take")
    keepalive = c.u16()
    client_id = c.string("client id")
    username = c.string("user name") if flags & 0x80 else None
    password = c.string("password") if flags & 0x40 else None
    c.done()
    if password is not None and username is None:
        raise _bad("MQTT CONNECT has a password without a user name (MQTT 3.1.1 §3.1.2.9)")
    return Connect(client_id, username, password, keepalive, bool(flags & 0x02))


def _decode_publish(first: int, c: _Cursor) -> Publish:
    qos = (first >> 1) & 0x03
    if qos == 3:
        raise _bad("MQTT PUBLISH with QoS 3 (MQTT 3.1.1 §3.3.1.2)")
    if qos == 2:
        raise _bad("MQTT PUBLISH with QoS 2: a device subscribed at QoS 1 is never sent one")
    topic = c.string("topic")
    if not topic or "+" in topic or "#" in topic:
        raise _bad(f"MQTT PUBLISH topic {topic!r} is empty or holds a wildcard (MQTT 3.1.1 §3.3.2.1)")
    packet_id = c.packet_id() if qos else None
    return Publish(topic, c.rest(), qos, packet_id, retain=bool(first & 0x01), dup=bool(first & 0x08))


def _decode_subscribe(c: _Cursor) -> Subscribe:
    packet_id = c.packet_id()
    topics: list[tuple[str, int]] = []
    while c.pos < len(c.body):
        topic = c.string("topic filter")
        qos = c.take(1)[0]
        if qos > 2 or not topic:
            raise _bad("MQTT SUBSCRIBE asks for QoS above 2 or an empty filter (MQTT 3.1.1 §3.8.3)")
        topics.append((topic, qos))
    if not topics:
        raise _bad("MQTT SUBSCRIBE names no topic filter (MQTT 3.1.1 §3.8.3)")
    return Subscribe(packet_id, tuple(topics))


def _decode_suback(c: _Cursor) -> SubAck:
    packet_id = c.packet_id()
    codes = tuple(c.rest())
    if not codes or any(code not in (0, 1, 2, SUBACK_FAILURE) for code in codes):
        raise _bad(f"MQTT SUBACK return codes {list(codes)} are not 0, 1, 2 or 0x80 (MQTT 3.1.1 §3.9.3)")
    return SubAck(packet_id, codes)


def _decode_connack(c: _Cursor) -> ConnAck:
    flags, code = c.take(1)[0], c.take(1)[0]
    c.done()
    if flags & 0xFE:
        raise _bad("MQTT CONNACK sets reserved acknowledge flags (MQTT 3.1.1 §3.2.2.1)")
    if code not in CONNACK_CODES:
        raise _bad(f"MQTT CONNACK return code {code} is not 0..5 (MQTT 3.1.1 §3.2.2.3)")
    return ConnAck(bool(flags & 0x01), code)


_EMPTY: dict[PacketType, type[PingReq | PingResp | Disconnect]] = {
    PacketType.PINGREQ: PingReq, PacketType.PINGRESP: PingResp, PacketType.DISCONNECT: Disconnect}


def _decode_body(first: int, body: bytes) -> Packet:
    kind = first >> 4
    if not 1 <= kind <= 14:
        raise _bad(f"MQTT packet type {kind} is reserved (MQTT 3.1.1 §2.2.1)")
    ptype = PacketType(kind)
    c = _Cursor(body, ptype.name)
    if ptype is PacketType.PUBLISH:
        return _decode_publish(first, c)
    _flags(first, 0x02 if ptype in (PacketType.SUBSCRIBE, PacketType.PUBREL, PacketType.UNSUBSCRIBE) else 0, ptype.name)
    if ptype is PacketType.CONNECT:
        return _decode_connect(c)
    if ptype is PacketType.CONNACK:
        return _decode_connack(c)
    if ptype is PacketType.PUBACK:
        packet_id = c.packet_id()
        c.done()
        return PubAck(packet_id)
    if ptype is PacketType.SUBSCRIBE:
        return _decode_subscribe(c)
    if ptype is PacketType.SUBACK:
        return _decode_suback(c)
    if ptype in _EMPTY:
        c.done()
        return _EMPTY[ptype]()
    raise _bad(f"MQTT {ptype.name} is not spoken here (QoS 2 and unsubscribing are out of scope)")


class PacketReader:
    """Whole packets out of a byte stream: :meth:`feed` what the socket gave, then :meth:`next_packet` until None.

    After a RemoteProtocolError the stream is broken for good (the connection must be closed): every later call
    raises the same error.
    """

    def __init__(self, *, max_packet: int = DEFAULT_MAX_PACKET) -> None:
        self._buffer = bytearray()
        self._max_packet = max_packet
        self._broken: RemoteProtocolError | None = None

    def feed(self, data: bytes) -> None:
        if self._broken is not None:
            raise self._broken
        self._buffer += data

    def next_packet(self) -> Packet | None:
        if self._broken is not None:
            raise self._broken
        try:
            return self._next()
        except RemoteProtocolError as exc:
            self._broken = exc
            raise

    def _next(self) -> Packet | None:
        buf = self._buffer
        if len(buf) < 2:
            return None
        length, multiplier, pos = 0, 1, 1
        while True:
            if pos >= len(buf):
                return None
            if pos > 4:
                raise _bad("MQTT remaining length runs over four bytes (MQTT 3.1.1 §2.2.3)")
            digit = buf[pos]
            length += (digit & 0x7F) * multiplier
            multiplier *= 128
            pos += 1
            if not digit & 0x80:
                break
        if length > self._max_packet:
            raise _bad(f"MQTT packet of {length} bytes is over this reader's {self._max_packet}")
        if len(buf) < pos + length:
            return None
        first, body = buf[0], bytes(buf[pos:pos + length])
        del buf[:pos + length]
        return _decode_body(first, body)

    @property
    def buffered(self) -> int:
        """Bytes fed but not yet part of a whole packet."""
        return len(self._buffer)


def decode_packet(data: bytes) -> Packet:
    """Exactly one whole packet; RemoteProtocolError for anything short, long or malformed."""
    reader = PacketReader(max_packet=MAX_REMAINING_LENGTH)
    reader.feed(bytes(data))
    packet = reader.next_packet()
    if packet is None or reader.buffered:
        raise _bad(f"{len(data)} bytes are not exactly one MQTT packet")
    return packet


__all__ = [
    "CONNACK_CODES", "DEFAULT_MAX_PACKET", "MAX_REMAINING_LENGTH", "SUBACK_FAILURE", "ConnAck", "Connect",
    "Disconnect", "Packet", "PacketReader", "PacketType", "PingReq", "PingResp", "PubAck", "Publish", "SubAck",
    "Subscribe", "decode_packet",
]
