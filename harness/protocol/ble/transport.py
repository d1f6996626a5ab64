"""BLE transport layer: one encrypted packet cut into sub-packets, one per GATT write or notification (§9.4).

First sub-packet: ``varint(0) varint(total_len) ((version << 4) | (seq & 0x0F))`` then payload; following
sub-packets: ``varint(n)`` then payload. The varint is little-endian base-128, at most 4 bytes, below 2^28.

:func:`split_packet` cuts for any write size. :class:`Reassembler` is the receiving side, and it is more tolerant
than the firmware (§9.9 lists TuyaOpen resetting on a gap and appending duplicates twice, §9.10 lead 2); this is
the harness's reference receiver, and its choices are:

- **Reordering** within a packet is tolerated: continuations are kept by number until the packet is complete.
  Continuations that arrive before their first sub-packet are kept as *orphans* and adopted by the next first
  sub-packet (bounded, see below).
- **Duplicates** are ignored: a sub-packet identical to one already held, or to one of the last
  ``RECENT_PACKETS`` (8) completed packets (a late duplicate), changes nothing. Identical bytes are assumed to
  be the same sub-packet: with a fresh IV per packet (§9.6.1) two different packets never share a sub-packet.
  A *different* sub-packet under a number already held is a :class:`BleError` (``REASSEMBLY``) and the packet
  in progress is dropped.
- **Loss** shows when a new first sub-packet arrives while a packet is incomplete (TuyaOpen: "subpkg_num == 0
  restarts reassembly"): the incomplete packet is reported as :class:`PacketAbandoned` and the new one starts.
  Loss of the last sub-packets of the last packet cannot be seen here: :attr:`Reassembler.in_progress` lets the
  caller time it out.
- **Garbage** (an unreadable header, a length of 0 or above ``max_packet_len``, a number that no packet of the
  declared length can have, an empty continuation) is a :class:`BleError`; only the offending sub-packet is
  lost, except that a first sub-packet that cannot be read cannot restart anything.
- **Bytes past ``total_len``** are cut off (§9.4: "A harness receiver must cap at total_len"; CK pads its last
  notification).
- **Bounded memory**: at most ``max_packet_len`` payload bytes plus one write are held for the packet in
  progress (with at most 4 header bytes per sub-packet), ``max_packet_len`` bytes of orphans, and the
  sub-packets of the last 8 completed packets.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ..errors import LocalProtocolError
from .errors import TRANSPORT, BleError, BleFault

MAX_VARINT = (1 << 28) - 1  # §9.4: "at most 4 bytes. Numbers must be below 2^28"
VARINT_MAX_BYTES = 4
#: §9.4: TuyaOpen and AK put the major BLE protocol version, 4, in the version nibble.
DEFAULT_VERSION = 4
#: §9.9: TuyaOpen and BSDK drop a reassembled packet whose version nibble is below 2.
MIN_ACCEPTED_VERSION = 2
#: The receiver's bound on one packet. §9.7.5: frames "fit TUYA_BLE_AIR_FRAME_MAX 1024"; an envelope adds the
#: mode byte, the IV and up to a block of padding (§9.6.1), so 1024 + 33 is what a reference device accepts.
DEFAULT_MAX_PACKET_LEN = 1024 + 1 + 16 + 16
#: How many completed packets the reassembler remembers to recognise late duplicates of their sub-packets.
RECENT_PACKETS = 8
#: §9.2: 20-byte writes always work (ATT_MTU 23 minus 3); the characteristic value length is 244.
SAFE_WRITE_SIZE = 20
MAX_WRITE_SIZE = 244


def encode_varint(value: int) -> bytes:
    """The §9.4 varint: little-endian base-128, continuation bit 0x80, below 2^28 (33 -> 21, 161 -> A1 01)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_VARINT:
        raise LocalProtocolError(f"a §9.4 varint holds 0 to {MAX_VARINT}, got {value!r}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(data: bytes, offset: int = 0) -> tuple[int, int]:
    """Read a §9.4 varint at ``offset``; return ``(value, offset after it)``."""
    value = 0
    for index in range(VARINT_MAX_BYTES):
        if offset + index >= len(data):
            raise BleError("sub-packet is cut off inside a varint", reason=BleFault.SUB_PACKET, section=TRANSPORT)
        byte = data[offset + index]
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            return value, offset + index + 1
    raise BleError(f"varint longer than {VARINT_MAX_BYTES} bytes", reason=BleFault.SUB_PACKET, section=TRANSPORT)


@dataclass(frozen=True)
class SubPacket:
    """One GATT write or notification (§9.4). ``total_len``, ``version`` and ``seq`` exist on number 0 only."""

    number: int
    payload: bytes
    total_len: int | None = None
    version: int | None = None
    seq: int | None = None

    def __post_init__(self) -> None:
        encode_varint(self.number)
        if not isinstance(self.payload, bytes):
            raise LocalProtocolError("sub-packet payload must be bytes")
        head = (self.total_len, self.version, self.seq)
        if self.number == 0:
            encode_varint(self.total_len)  # type: ignore[arg-type]
            for name, value in (("version", self.version), ("seq", self.seq)):
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0x0F:
                    raise LocalProtocolError(f"sub-packet {name} is a nibble, 0 to 15, got {value!r}")
        elif head != (None, None, None):
            raise LocalProtocolError("only the first sub-packet carries total_len, version and seq (§9.4)")

    def encode(self) -> bytes:
        if self.number == 0:
            if self.total_len is None or self.version is None or self.seq is None:
                raise LocalProtocolError("broken invariant: a first sub-packet has total_len, version and seq")
            head = encode_varint(0) + encode_varint(self.total_len) + bytes([(self.version << 4) | self.seq])
            return head + self.payload
        return encode_varint(self.number) + self.payload

    @classmethod
    def parse(cls, data: bytes) -> SubPacket:
        """Read one sub-packet; the payload is everything after the header (§9.4)."""
        number, offset = decode_varint(data)
        if number:
            return cls(number=number, payload=bytes(data[offset:]))
        total_len, offset = decode_varint(data, offset)
        if offset >= len(data):
            raise BleError("first sub-packet is cut off before its version byte", reason=BleFault.SUB_PACKET,
                           section=TRANSPORT)
        version_seq = data[offset]
        return cls(number=0, payload=bytes(data[offset + 1:]), total_len=total_len, version=version_seq >> 4,
                   seq=version_seq & 0x0F)


def _check_size(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise LocalProtocolError(f"sub-packet size must be a positive integer, got {size!r}")
    return size


def split_packet(packet: bytes, size: int, *, version: int = DEFAULT_VERSION, seq: int = 0) -> list[bytes]:
    """Cut ``packet`` into sub-packets of at most ``size`` bytes each (§9.4), numbered 0, 1, 2, ...

    ``size`` is the write size: ``ATT_MTU - 3`` for the app, the announced sub-packet size for the device
    (§9.2). A packet that fits is one sub-packet 0 (the §9.2 "single write"). ``seq`` is taken modulo 16, as
    the nibble holds it.
    """
    _check_size(size)
    if not isinstance(packet, bytes) or not packet:
        raise LocalProtocolError("a packet to split must be non-empty bytes")
    if len(packet) > MAX_VARINT:
        raise LocalProtocolError(f"a packet is at most {MAX_VARINT} bytes (§9.4 varint)")
    first_head = len(encode_varint(0)) + len(encode_varint(len(packet))) + 1
    if size <= first_head:
        raise LocalProtocolError(f"sub-packet size {size} leaves no room for payload after the {first_head}-byte "
                                 "header of the first sub-packet")
    take = size - first_head
    writes = [SubPacket(0, packet[:take], total_len=len(packet), version=version, seq=seq % 16).encode()]
    offset, number = take, 1
    while offset < len(packet):  # bounded: every pass consumes at least one byte
        room = size - len(encode_varint(number))
        if room < 1:
            raise LocalProtocolError(f"sub-packet size {size} leaves no room for payload in sub-packet {number}")
        writes.append(SubPacket(number, packet[offset:offset + room]).encode())
        offset += room
        number += 1
    return writes


@dataclass(frozen=True)
class ReassembledPacket:
    """A whole packet out of the reassembler, with the first sub-packet's version and seq nibbles."""

    data: bytes
    version: int
    seq: int
    sub_packets: int


@dataclass(frozen=True)
class PacketAbandoned:
    """A packet left incomplete when the next one began: some sub-packet was lost (§9.4)."""

    total_len: int
    received: int
    missing: tuple[int, ...]


TransportEvent = ReassembledPacket | PacketAbandoned


class Reassembler:
    """Incremental, order- and duplicate-tolerant §9.4 receiver: one :meth:`receive` per GATT write."""

    def __init__(self, *, max_packet_len: int = DEFAULT_MAX_PACKET_LEN) -> None:
        self.max_packet_len = _check_size(max_packet_len)
        self._first: SubPacket | None = None
        self._parts: dict[int, bytes] = {}
        self._raw: dict[int, bytes] = {}
        self._held = 0
        self._orphans: dict[int, bytes] = {}
        self._recent: deque[frozenset[bytes]] = deque(maxlen=RECENT_PACKETS)
        self.duplicates = 0
        """Sub-packets ignored as duplicates (identical to one held or to one of the last packet)."""
        self.abandoned = 0
        """Packets given up because a new first sub-packet arrived before they were complete."""

    @property
    def _bound(self) -> int:
        # Payload bytes held for one packet: at most max_packet_len, plus one write of padding past total_len
        # (§9.4). The raw sub-packets kept for duplicate detection add at most 4 header bytes each.
        return self.max_packet_len + MAX_WRITE_SIZE

    @property
    def in_progress(self) -> bool:
        """True while a packet has begun and is not complete (the caller may time it out)."""
        return self._first is not None

    @property
    def held_bytes(self) -> int:
        """Bytes held for the packet in progress and as orphans (bounded, see the module docstring)."""
        return sum(map(len, self._raw.values())) + sum(map(len, self._orphans.values()))

    def reset(self) -> None:
        """Forget the packet in progress and the orphans (e.g. on disconnect)."""
        self._first, self._parts, self._raw, self._held, self._orphans = None, {}, {}, 0, {}

    def receive(self, data: bytes) -> list[TransportEvent]:
        """Take one GATT write; return what it completed or abandoned, or raise :class:`BleError` for garbage."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise LocalProtocolError(f"Reassembler.receive takes bytes, not {type(data).__name__}")
        raw = bytes(data)
        sub = SubPacket.parse(raw)
        if any(raw in packet for packet in self._recent):
            self.duplicates += 1
            return []
        if sub.number == 0:
            return self._first_sub_packet(sub, raw)
        if sub.number > self.max_packet_len or not sub.payload:
            raise BleError(f"continuation {sub.number} with {len(sub.payload)} payload bytes cannot belong to a "
                           f"packet of at most {self.max_packet_len} bytes", reason=BleFault.REASSEMBLY,
                           section=TRANSPORT)
        if self._first is None:
            self._orphan(sub.number, raw)
            return []
        return self._continuation(sub, raw)

    def _first_sub_packet(self, sub: SubPacket, raw: bytes) -> list[TransportEvent]:
        if sub.total_len is None:
            raise LocalProtocolError("broken invariant: sub.total_len is not None")
        if self._first is not None and self._raw.get(0) == raw:
            self.duplicates += 1
            return []
        if not 1 <= sub.total_len <= self.max_packet_len:
            raise BleError(f"declared packet length {sub.total_len} is not between 1 and {self.max_packet_len}",
                           reason=BleFault.TOO_LONG, section=TRANSPORT)
        events: list[TransportEvent] = [self._abandon()] if self._first is not None else []
        orphans, self._orphans = self._orphans, {}
        self._first, self._parts, self._raw, self._held = sub, {0: sub.payload}, {0: raw}, len(sub.payload)
        for number in sorted(orphans):  # adopt what arrived early, within the bounds
            orphan = SubPacket.parse(orphans[number])
            if number <= sub.total_len and self._held + len(orphan.payload) <= self._bound:
                self._store(orphan, orphans[number])
        return events + self._complete()

    def _abandon(self) -> PacketAbandoned:
        first = self._first
        if first is None or first.total_len is None:
            raise LocalProtocolError("broken invariant: first is not None and first.total_len is not None")
        have = sorted(self._parts)
        missing = tuple(n for n in range(have[-1] + 1) if n not in self._parts) or (have[-1] + 1,)
        event = PacketAbandoned(total_len=first.total_len, received=sum(map(len, self._parts.values())),
                                missing=missing)
        self.abandoned += 1
        self._first, self._parts, self._raw, self._held = None, {}, {}, 0
        return event

    def _orphan(self, number: int, raw: bytes) -> None:
        if self._orphans.get(number) == raw:
            self.duplicates += 1
            return
        self._orphans[number] = raw
        if sum(len(r) for r in self._orphans.values()) > self.max_packet_len:
            self._orphans = {}
            raise BleError(f"more than {self.max_packet_len} bytes of continuations arrived with no first "
                           "sub-packet", reason=BleFault.REASSEMBLY, section=TRANSPORT)

    def _continuation(self, sub: SubPacket, raw: bytes) -> list[TransportEvent]:
        first = self._first
        if first is None or first.total_len is None:
            raise LocalProtocolError("broken invariant: first is not None and first.total_len is not None")
        if sub.number > first.total_len:
            raise BleError(f"continuation {sub.number} cannot belong to a packet of {first.total_len} bytes",
                           reason=BleFault.REASSEMBLY, section=TRANSPORT)
        self._store(sub, raw)
        return self._complete()

    def _store(self, sub: SubPacket, raw: bytes) -> None:
        held = self._raw.get(sub.number)
        if held == raw:
            self.duplicates += 1
            return
        if held is not None:
            self.reset()
            raise BleError(f"two different sub-packets numbered {sub.number}; the packet is dropped",
                           reason=BleFault.REASSEMBLY, section=TRANSPORT)
        if self._held + len(sub.payload) > self._bound:
            self.reset()
            raise BleError(f"sub-packets hold more than the {self.max_packet_len}-byte bound; the packet is "
                           "dropped", reason=BleFault.TOO_LONG, section=TRANSPORT)
        self._parts[sub.number], self._raw[sub.number] = sub.payload, raw
        self._held += len(sub.payload)

    def _complete(self) -> list[TransportEvent]:
        first = self._first
        if first is None or first.total_len is None or first.version is None:
            raise LocalProtocolError("broken invariant: the first sub-packet is held, with total_len and version")
        total, have, count = first.total_len, 0, 0
        while count in self._parts and have < total:  # bounded by the parts held
            have += len(self._parts[count])
            count += 1
        if have < total:
            return []
        data = b"".join(self._parts[n] for n in range(count))[:total]  # §9.4: cap at total_len
        self._recent.append(frozenset(self._raw[n] for n in range(count)))
        if first.seq is None:
            raise LocalProtocolError("broken invariant: first.seq is not None")
        packet = ReassembledPacket(data=data, version=first.version, seq=first.seq, sub_packets=count)
        self._first, self._parts, self._raw, self._held = None, {}, {}, 0
        return [packet]


__all__ = [
    "DEFAULT_MAX_PACKET_LEN", "DEFAULT_VERSION", "MAX_VARINT", "MAX_WRITE_SIZE", "MIN_ACCEPTED_VERSION",
    "RECENT_PACKETS", "SAFE_WRITE_SIZE", "VARINT_MAX_BYTES", "PacketAbandoned", "ReassembledPacket", "Reassembler",
    "SubPacket", "TransportEvent", "decode_varint", "encode_varint", "split_packet",
]
