"""The first packet of an MQTT connection, read before amqtt sees it (MQTT 3.1.1 §3.1, MQTT 5 §3.1): its login
fields, so that the embedded broker refuses an unknown 3.1.1 login and authorises a will like a publish
(:mod:`harness.emulator.broker.embedded`), and the reader that replays the bytes already read to amqtt."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from amqtt.adapters import ReaderAdapter

MQTT_311 = 4
MQTT_5 = 5
CONNACK_NOT_AUTHORISED = bytes((0x20, 0x02, 0x00, 0x05))  # MQTT 3.1.1 §3.2.2.3: return code 5
MAX_CONNECT_BYTES = 65_536
WILL_FLAGS = 0x04 | 0x18 | 0x20  # §3.1.2.5-7: will flag, will QoS, will retain


@dataclass(frozen=True)
class Connect:
    level: int
    client_id: str
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    will_topic: str | None = None
    will_retain: bool = False
    flags_at: int = 0  # offsets in the CONNECT's body: its flags byte, and the will's fields [start, end)
    will_span: tuple[int, int] = (0, 0)


def without_will(raw: bytes, connect: Connect) -> bytes:
    """The same CONNECT packet with its will taken out (flags cleared, will fields removed)."""
    length_end = 1
    while raw[length_end] & 0x80:
        length_end += 1
    body = raw[length_end + 1:]
    start, end = connect.will_span
    flags = body[connect.flags_at] & ~WILL_FLAGS & 0xFF
    body = body[:connect.flags_at] + bytes((flags,)) + body[connect.flags_at + 1:start] + body[end:]
    length, encoded = len(body), bytearray()
    while True:
        length, digit = length >> 7, length & 0x7F
        encoded.append(digit | (0x80 if length else 0))
        if not length:
            break
    return raw[:1] + bytes(encoded) + body


async def read_connect(reader: asyncio.StreamReader) -> tuple[bytes, Connect | None]:
    """Read the first packet; return its bytes and, when it is a well-formed CONNECT, its login fields."""
    head = await reader.readexactly(1)
    if head[0] != 0x10:
        return head, None
    length_bytes = b""
    length = 0
    for shift in range(0, 28, 7):
        byte = await reader.readexactly(1)
        length_bytes += byte
        length |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            break
    else:
        return head + length_bytes, None
    if length > MAX_CONNECT_BYTES:
        raise ValueError("CONNECT too large")
    body = await reader.readexactly(length)
    return head + length_bytes + body, parse_connect(body)


def parse_connect(body: bytes) -> Connect | None:
    """MQTT 3.1.1 §3.1: protocol name, level, flags, keep-alive, then client id, will, username, password."""
    pos = 0

    def field_bytes() -> bytes:
        nonlocal pos
        if pos + 2 > len(body):
            raise ValueError("truncated")
        size = int.from_bytes(body[pos:pos + 2], "big")
        if pos + 2 + size > len(body):
            raise ValueError("truncated")
        value = body[pos + 2:pos + 2 + size]
        pos += 2 + size
        return value

    def skip_properties() -> None:  # MQTT 5 §2.2.2: a variable byte integer length, then the properties
        nonlocal pos
        length = 0
        for shift in range(0, 28, 7):
            if pos >= len(body):
                raise ValueError("truncated")
            byte = body[pos]
            pos += 1
            length |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
        pos += length

    try:
        field_bytes()  # protocol name
        if pos + 4 > len(body):
            return None
        level, flags, flags_at = body[pos], body[pos + 1], pos + 1
        pos += 4
        if level == MQTT_5:
            skip_properties()
        client_id = field_bytes().decode("utf-8")
        will_topic, will_start = None, pos
        if flags & 0x04:  # §3.1.2.5 will flag: will topic and will message follow the client id
            if level == MQTT_5:
                skip_properties()
            will_topic = field_bytes().decode("utf-8")
            field_bytes()
        will_span = (will_start, pos)
        username = field_bytes().decode("utf-8") if flags & 0x80 else None
        password = field_bytes().decode("utf-8", "surrogateescape") if flags & 0x40 else None
    except (ValueError, UnicodeDecodeError):
        return None
    return Connect(level, client_id, username, password, will_topic, bool(flags & 0x20), flags_at, will_span)


class ReplayReader(ReaderAdapter):  # type: ignore[misc]
    """amqtt's view of a stream whose first bytes we have already read."""

    def __init__(self, reader: asyncio.StreamReader, prefix: bytes) -> None:
        self._reader = reader
        self._prefix = prefix

    async def read(self, n: int = -1) -> bytes:
        if n < 0:
            data, self._prefix = self._prefix, b""
            return data + await self._reader.read(-1)
        taken, self._prefix = self._prefix[:n], self._prefix[n:]
        if len(taken) < n:
            taken += await self._reader.readexactly(n - len(taken))
        return taken

    def feed_eof(self) -> None:
        self._reader.feed_eof()


__all__ = [
    "CONNACK_NOT_AUTHORISED",
    "MAX_CONNECT_BYTES",
    "MQTT_5",
    "MQTT_311",
    "WILL_FLAGS",
    "Connect",
    "ReplayReader",
    "parse_connect",
    "read_connect",
    "without_will",
]
