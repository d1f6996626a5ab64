"""Masking secrets in packet evidence, same length, so that the frames still dissect (DESIGN.md "Evidence").

Secrets (DESIGN.md "Evidence"): before packets are written as evidence, :func:`mask_air_records` and
:func:`mask_packets` overwrite every secret *same length* (:data:`harness.redaction.MASK_BYTE` per byte) and
re-encode what carried it, so that the frames still dissect and the schedule keeps its shape:

- EZ (§2.3, §2.4): each transmission is rebuilt from its data with the password masked whole and any learned
  secret masked in the token and SSID: the broadcast group CRC-8s, the multicast sections' CRC-32 and the
  password's AES ciphertext are recomputed. What cannot be parsed as a body is zeroed (data lengths to 256,
  group CRCs to 128, multicast byte pairs to ``226.seq.0.0``).
- 55AA frames (§3.1): the JSON payload masked (learned secrets, and the values of secret-named keys such as
  ``passwd``), the frame rebuilt with its CRC-32 (kept wrong where it was wrong).
- LPV3.5 frames (§3.2): opened with the fixed app key, the data masked, sealed again with the same nonce; a
  frame that does not open has its ciphertext and tag zeroed.
- MQTT: the CONNECT password masked whole (3.1, 3.1.1 and 5), learned or not.
- TCP (HTTP, MQTT): each direction of a connection is masked as one stream (a secret split across segments is
  still found), then cut back into the same segments; IP, UDP and TCP lengths and checksums are recomputed.
"""

from __future__ import annotations

import ipaddress
import re
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

from harness.net.layers import multicast_mac
from harness.protocol import apconfig, smartconfig
from harness.redaction import MASK_BYTE, Redactor, is_secret_key

# --- masking secrets, same length, so that the frames still dissect ---------------------------------------------

Masker = Callable[[bytes], bytes]
"""Bytes in, the same number of bytes out, with secrets overwritten."""

# a JSON member whose value is a string: "key" : "value" (escapes kept inside the value)
_JSON_STRING_MEMBER = re.compile(rb'"([A-Za-z_][A-Za-z0-9_-]{0,63})"\s*:\s*"((?:[^"\\]|\\.)*)"')


def mask_secret_fields(data: bytes) -> bytes:
    """``data`` with the string values of JSON members named like secrets (``passwd``, ``localKey``, ...) masked."""

    def masked(match: re.Match[bytes]) -> bytes:
        if not is_secret_key(match.group(1).decode("ascii")):
            return match.group(0)
        start, end = match.start(2) - match.start(0), match.end(2) - match.start(0)
        whole = match.group(0)
        return whole[:start] + MASK_BYTE * (end - start) + whole[end:]

    return _JSON_STRING_MEMBER.sub(masked, data)


def secret_masker(redactor: Redactor | None = None) -> Masker:
    """The masker of packet evidence: the redactor's learned secrets in every spelling, and secret-named JSON
    values, each overwritten byte for byte."""

    def mask(data: bytes) -> bytes:
        if redactor is not None:
            data = redactor.mask_bytes(data)
        return mask_secret_fields(data)

    return mask


def _masked_field(data: bytes) -> bytes:
    return MASK_BYTE * len(data)


def _group_crc(seq: int, chunk: bytes) -> int:
    # §2.3 step 4: CRC-8 over [s, b0, b1, b2, b3] (a short chunk padded with zeros), 7 bits on the air
    return 0x80 | (smartconfig.crc8_maxim(bytes([seq & 0xFF]) + chunk.ljust(4, b"\x00")) & 0x7F)


def _mask_ez_data(data: bytes, mask: Masker) -> bytes:
    """D = [len(P)] ‖ P ‖ [len(T)] ‖ T ‖ SSID (§2.3 step 2): the password masked whole, T and the SSID by ``mask``;
    a D that does not parse is masked whole."""
    if data:
        lp = data[0]
        if 1 + lp < len(data):
            lt = data[1 + lp]
            if 2 + lp + lt <= len(data):
                token, ssid = data[2 + lp:2 + lp + lt], data[2 + lp + lt:]
                return bytes([lp]) + _masked_field(data[1:1 + lp]) + bytes([lt]) + mask(token) + mask(ssid)
    return _masked_field(data)


def _broadcast_body(values: Sequence[int], start: int, length: int) -> tuple[bytes, list[int], list[tuple[int, int]],
                                                                            int] | None:
    """Parse the groups of a §2.3 body whose header ended at ``start``: (D, CRC positions, (position, byte index)
    of each data value, end) or None when the values are not a whole, consistent body."""
    data = bytearray(length)
    seen = [False] * length
    crcs: list[int] = []
    slots: list[tuple[int, int]] = []
    pos = start
    for group in range(-(-length // 4)):
        if pos + 1 >= len(values) or not 0x80 <= values[pos] <= 0xFF or values[pos + 1] != 0x80 | group:
            return None
        crcs.append(pos)
        pos += 2
        count = 0
        while count < 4 and pos < len(values) and 0x100 <= values[pos] <= 0x1FF:
            index = 4 * group + count
            if index < length:
                data[index] = values[pos] - 0x100
                seen[index] = True
            slots.append((pos, index))
            pos += 1
            count += 1
        if count < min(4, length - 4 * group):
            return None
    if not all(seen):
        return None
    for group, at in enumerate(crcs):
        if values[at] != _group_crc(group, bytes(data[4 * group:4 * group + 4])):
            return None
    return bytes(data), crcs, slots, pos


def _mask_broadcast(values: Sequence[int], mask: Masker) -> tuple[list[int], int, int]:
    """§2.3 lengths: each body rebuilt from its masked D; what is no body's is zeroed. (values, bodies, zeroed)"""
    out = list(values)
    explained = [False] * len(values)
    bodies = 0
    i = 0
    while i + 3 < len(values):
        h = values[i:i + 4]
        if 0x10 <= h[0] <= 0x1F and 0x20 <= h[1] <= 0x2F and 0x30 <= h[2] <= 0x3F and 0x40 <= h[3] <= 0x4F:
            length = (h[0] & 0xF) << 4 | h[1] & 0xF
            if smartconfig.crc8_maxim(bytes([length])) == ((h[2] & 0xF) << 4 | h[3] & 0xF):
                body = _broadcast_body(values, i + 4, length)
                if body is not None:
                    data, crcs, slots, end = body
                    masked = _mask_ez_data(data, mask)
                    for group, at in enumerate(crcs):
                        out[at] = _group_crc(group, masked[4 * group:4 * group + 4])
                        explained[at] = explained[at + 1] = True
                    for at, index in slots:
                        out[at] = 0x100 | (masked[index] if index < length else values[at] - 0x100)
                        explained[at] = True
                    bodies += 1
                    i = end
                    continue
        i += 1
    zeroed = 0
    for at, value in enumerate(values):
        if explained[at]:
            continue
        if value > 0x100 or 0x80 < value <= 0xFF:  # a data byte or a group CRC of no body: zero it
            out[at] = 0x100 if value > 0x100 else 0x80
            zeroed += 1
    return out, bodies, zeroed


_SECTION_BASES = (smartconfig.SSID_BASE, smartconfig.PASSWORD_BASE, smartconfig.TOKEN_BASE)


def _ez_address(address: object) -> tuple[int, int, int] | None:
    """``226.seq.hi.lo`` with seq < 120 (a data address of §2.4) -> (seq, lo, hi); anything else None."""
    if not isinstance(address, str):
        return None
    try:
        octets = ipaddress.IPv4Address(address).packed
    except ValueError:
        return None
    if octets[0] != smartconfig.MULTICAST_PREFIX or octets[1] >= smartconfig.PREAMBLE_BASE:
        return None
    return octets[1], octets[3], octets[2]


def _section_addresses(section: bytes, base: int) -> list[str]:
    if len(section) % 2:
        section += b"\x00"
    return [f"{smartconfig.MULTICAST_PREFIX}.{base + k}.{section[2 * k + 1]}.{section[2 * k]}"
            for k in range(len(section) // 2)]


def _multicast_section(addresses: Sequence[tuple[int, int, int] | None], start: int, mask: Masker) -> list[str] | None:
    """The masked addresses of the §2.4 section starting at ``start`` (its first pair is [len, len]), or None."""
    first = addresses[start]
    if first is None or first[0] not in _SECTION_BASES or first[1] != first[2]:
        return None
    base, plain_len = first[0], first[1]
    password = base == smartconfig.PASSWORD_BASE
    payload_len = -(-plain_len // 16) * 16 if password else plain_len
    size = 6 + payload_len
    count = -(-size // 2)
    run = addresses[start:start + count]
    if len(run) < count or any(a is None or a[0] != base + k for k, a in enumerate(run)):
        return None
    section = b"".join(bytes([a[1], a[2]]) for a in run if a is not None)[:size]
    payload = section[6:]
    try:
        plain = smartconfig.decrypt_password(payload, plain_len) if password else payload
    except Exception:
        return None
    if smartconfig.crc32(plain) != int.from_bytes(section[2:6], "little"):
        return None
    masked = _masked_field(plain) if password else mask(plain)
    carried = smartconfig.encrypt_password(masked) if password else masked
    rebuilt = bytes([plain_len, plain_len]) + smartconfig.crc32(masked).to_bytes(4, "little") + carried
    return _section_addresses(rebuilt, base)


def _mask_multicast(values: Sequence[str], mask: Masker) -> tuple[list[str], int, int]:
    """§2.4 addresses: each section rebuilt from its masked plaintext; data addresses of no section zeroed."""
    out = list(values)
    parsed = [_ez_address(v) for v in values]
    explained = [False] * len(values)
    sections = 0
    i = 0
    while i < len(values):
        rebuilt = _multicast_section(parsed, i, mask) if parsed[i] is not None else None
        if rebuilt is None:
            i += 1
            continue
        for k, address in enumerate(rebuilt):
            out[i + k] = address
            explained[i + k] = True
        sections += 1
        i += len(rebuilt)
    zeroed = 0
    for at, pair in enumerate(parsed):
        if pair is not None and not explained[at]:
            out[at] = f"{smartconfig.MULTICAST_PREFIX}.{pair[0]}.0.0"
            zeroed += out[at] != values[at]
    return out, sections, zeroed


class EzMasking(NamedTuple):
    """What :func:`mask_ez_sequence` did."""

    values: list[int | str]
    bodies: int  # broadcast bodies rebuilt
    sections: int  # multicast sections rebuilt
    zeroed: int  # values that belonged to nothing parseable and were zeroed


def mask_ez_sequence(observations: Sequence[tuple[str, int | str]], mask: Masker) -> EzMasking:
    """The values of an EZ transmission (``(kind, value)`` in the order sent) with its secrets masked.

    Same kinds, same count, same lengths: the password masked whole, ``mask`` applied to the token and SSID,
    every CRC and the password ciphertext recomputed (see the module docstring). The two channels are parsed
    independently, body by body and section by section, so any number of rounds and either tail work.
    """
    values: list[int | str] = [value for _, value in observations]
    lengths = [i for i, (kind, value) in enumerate(observations) if kind == "length" and isinstance(value, int)]
    addresses = [i for i, (kind, value) in enumerate(observations) if kind == "address" and isinstance(value, str)]
    new_lengths, bodies, zeroed_l = _mask_broadcast([int(values[i]) for i in lengths], mask)
    new_addresses, sections, zeroed_a = _mask_multicast([str(values[i]) for i in addresses], mask)
    for i, length in zip(lengths, new_lengths, strict=True):
        values[i] = length
    for i, address in zip(addresses, new_addresses, strict=True):
        values[i] = address
    return EzMasking(values, bodies, sections, zeroed_l + zeroed_a)


class MaskedAirRecord(NamedTuple):
    """An air record as written to evidence (what :func:`air_log_to_packets` needs)."""

    seq: int
    t: float
    kind: str
    value: int | str
    fate: str


def mask_air_records(records: Iterable[Any], mask: Masker) -> tuple[list[MaskedAirRecord], list[str]]:
    """Air log records with the EZ secrets masked (:func:`mask_ez_sequence`), and notes on what was done.

    Each transmission (records with the same ``tx``, see :class:`harness.emulator.air.AirRecord`) is rebuilt as it
    was sent, from the position of each record, whatever the air then did with it (lost, duplicated, held);
    noise stays as it is (it carries nothing). Records of no transmission are masked as one sequence, in order.
    """
    records = list(records)
    sent: dict[int, dict[int, tuple[str, int | str]]] = {}
    loose: list[int] = []
    for n, record in enumerate(records):
        tx, index = getattr(record, "tx", None), getattr(record, "index", None)
        if record.fate == "noise":
            continue
        if tx is not None and index is not None:
            sent.setdefault(tx, {})[index] = (str(record.kind), record.value)
        else:
            loose.append(n)
    masked_tx: dict[tuple[int, int], int | str] = {}
    bodies = sections = zeroed = 0
    for tx, by_index in sent.items():
        order = sorted(by_index)
        result = mask_ez_sequence([by_index[i] for i in order], mask)
        masked_tx.update({(tx, i): v for i, v in zip(order, result.values, strict=True)})
        bodies, sections, zeroed = bodies + result.bodies, sections + result.sections, zeroed + result.zeroed
    masked_loose: dict[int, int | str] = {}
    if loose:
        result = mask_ez_sequence([(str(records[n].kind), records[n].value) for n in loose], mask)
        masked_loose = dict(zip(loose, result.values, strict=True))
        bodies, sections, zeroed = bodies + result.bodies, sections + result.sections, zeroed + result.zeroed
    out = []
    for n, record in enumerate(records):
        tx, index = getattr(record, "tx", None), getattr(record, "index", None)
        value = record.value
        if record.fate != "noise":
            value = masked_tx.get((tx, index), value) if tx is not None and index is not None else \
                masked_loose.get(n, value)
        out.append(MaskedAirRecord(int(getattr(record, "seq", n)), float(record.t), str(record.kind), value,
                                   str(record.fate)))
    notes = [f"EZ: {len(sent)} transmission(s) rebuilt with the password masked ({bodies} broadcast bodies, "
             f"{sections} multicast sections)"] if sent or loose else []
    if zeroed:
        notes.append(f"EZ: {zeroed} value(s) of no parseable body or section zeroed")
    return out, notes


def _mask_ap_frames(data: bytes, mask: Masker, notes: list[str]) -> bytes:
    """Consecutive 55AA frames (§3.1): payload masked, frame rebuilt; a CRC that was wrong stays wrong."""
    out = bytearray()
    pos = 0
    while pos < len(data):
        rest = data[pos:]
        if rest[:4] != apconfig.AP_PREFIX or len(rest) < 24:
            out += mask(rest)
            break
        total = 16 + int.from_bytes(rest[12:16], "big")
        frame = rest[:total]
        try:
            decoded = apconfig.decode_ap_frame(frame, check_crc=False)
            rebuilt = apconfig.encode_ap_frame(mask(decoded.payload), seq=decoded.seq, cmd=decoded.cmd)
        except Exception:
            out += mask(rest)
            break
        if zlib.crc32(frame[:-8]) != int.from_bytes(frame[-8:-4], "big"):
            rebuilt = rebuilt[:-8] + frame[-8:-4] + rebuilt[-4:]
            notes.append("55AA: a frame's CRC-32 was wrong as sent and is kept wrong")
        out += rebuilt
        pos += total
    return bytes(out)


_LPV35_HEADER_LEN = 18


def _mask_lpv35_frames(data: bytes, mask: Masker, notes: list[str], key: bytes) -> bytes:
    """Consecutive 6699 frames (§3.2): opened, data masked, sealed again with the same nonce; a frame that does
    not open with ``key`` keeps its header with the ciphertext and tag zeroed."""
    out = bytearray()
    pos = 0
    while pos < len(data):
        rest = data[pos:]
        if rest[:4] != apconfig.LPV35_PREFIX or len(rest) < _LPV35_HEADER_LEN:
            out += mask(rest)
            break
        total = _LPV35_HEADER_LEN + int.from_bytes(rest[14:18], "big") + len(apconfig.LPV35_SUFFIX)
        frame = rest[:total]
        try:
            opened = apconfig.decode_lpv35_frame(frame, key=key)
            rebuilt = apconfig.encode_lpv35_frame(opened.type, mask(opened.data), seq=opened.seq, key=key,
                                                  nonce=opened.nonce)
        except Exception:
            keep = _LPV35_HEADER_LEN + apconfig.NONCE_LEN
            suffix = frame[-4:] if len(frame) == total else b""
            rebuilt = frame[:keep] + bytes(max(0, len(frame) - keep - len(suffix))) + suffix
            notes.append("6699: a frame that does not open with the app key has its ciphertext and tag zeroed")
        out += rebuilt
        pos += total
    return bytes(out)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """An MQTT variable byte integer at ``pos``: (value, position after it); ValueError when malformed."""
    value, shift = 0, 0
    for at in range(pos, min(pos + 4, len(data))):
        value |= (data[at] & 0x7F) << shift
        if not data[at] & 0x80:
            return value, at + 1
        shift += 7
    raise ValueError("malformed variable byte integer")


def _mqtt_password_span(data: bytes) -> tuple[int, int] | None:
    """Where the password of an MQTT CONNECT (3.1, 3.1.1 or 5) at the start of ``data`` lies, if it has one."""
    try:
        if data[:1] != b"\x10":
            return None
        length, pos = _varint(data, 1)
        end = min(len(data), pos + length)
        name_len = int.from_bytes(data[pos:pos + 2], "big")
        if data[pos + 2:pos + 2 + name_len] not in (b"MQTT", b"MQIsdp"):
            return None
        pos += 2 + name_len
        level, flags = data[pos], data[pos + 1]
        pos += 4  # level, flags, keep alive
        if level == 5:
            properties, pos = _varint(data, pos)
            pos += properties

        def skip(at: int) -> int:
            return at + 2 + int.from_bytes(data[at:at + 2], "big")

        pos = skip(pos)  # client identifier
        if flags & 0x04:  # will: (v5 properties), topic, payload
            if level == 5:
                properties, pos = _varint(data, pos)
                pos += properties
            pos = skip(skip(pos))
        if flags & 0x80:  # user name
            pos = skip(pos)
        if not flags & 0x40 or pos + 2 > end:
            return None
        start, stop = pos + 2, min(end, skip(pos))
        return (start, stop) if start <= stop else None
    except (IndexError, ValueError):
        return None


def _mask_mqtt(data: bytes, mask: Masker, notes: list[str]) -> bytes:
    """An MQTT stream: the CONNECT password masked whole (whether or not it is a learned secret), then ``mask``."""
    span = _mqtt_password_span(data)
    if span is not None and span[1] > span[0]:
        data = data[:span[0]] + MASK_BYTE * (span[1] - span[0]) + data[span[1]:]
        notes.append("MQTT: CONNECT password masked")
    return mask(data)


def mask_payload(data: bytes, mask: Masker, notes: list[str] | None = None, *,
                 lpv35_key: bytes = apconfig.LPV35_APP_KEY) -> bytes:
    """One datagram's payload or one TCP stream, same length, secrets masked (frames by their prefix)."""
    notes = notes if notes is not None else []
    if data[:4] == apconfig.AP_PREFIX:
        return _mask_ap_frames(data, mask, notes)
    if data[:4] == apconfig.LPV35_PREFIX:
        return _mask_lpv35_frames(data, mask, notes, lpv35_key)
    if data[:1] == b"\x10":
        return _mask_mqtt(data, mask, notes)
    return mask(data)


def _set_payload(layer: Packet, payload: bytes) -> None:
    layer.remove_payload()
    if payload:
        layer.add_payload(Raw(payload))


def _mask_ez_packets(packets: list[Packet], mask: Masker, notes: list[str]) -> None:
    ez = [p for p in packets if UDP in p and IP in p and (
        p[UDP].dport == smartconfig.BROADCAST_PORT or
        (p[UDP].dport == smartconfig.MULTICAST_PORT and ipaddress.IPv4Address(p[IP].dst).is_multicast))]
    if not ez:
        return
    observations: list[tuple[str, int | str]] = [
        ("length", len(bytes(p[UDP].payload))) if p[UDP].dport == smartconfig.BROADCAST_PORT else
        ("address", str(p[IP].dst)) for p in ez]
    result = mask_ez_sequence(observations, mask)
    for packet, (kind, value), new in zip(ez, observations, result.values, strict=True):
        if new == value:
            continue
        if kind == "length":
            _set_payload(packet[UDP], bytes(int(new)))
        else:
            packet[IP].dst = str(new)
            if Ether in packet:
                packet[Ether].dst = multicast_mac(str(new))
    notes.append(f"EZ: {len(ez)} datagram(s) rebuilt with the password masked ({result.bodies} broadcast bodies, "
                 f"{result.sections} multicast sections, {result.zeroed} unparseable values zeroed)")


def _flow(packet: Packet) -> tuple[str, int, str, int]:
    return str(packet[IP].src), int(packet[TCP].sport), str(packet[IP].dst), int(packet[TCP].dport)


def _mask_tcp_streams(packets: list[Packet], mask: Masker, notes: list[str], key: bytes) -> None:
    """Each direction of each TCP connection masked as one stream (placed by sequence number), then cut back."""
    flows: dict[tuple[str, int, str, int], list[Packet]] = {}
    for packet in packets:
        if IP in packet and TCP in packet and len(bytes(packet[TCP].payload)):
            flows.setdefault(_flow(packet), []).append(packet)
    for segments in flows.values():
        first = int(segments[0][TCP].seq)
        placed = [((int(p[TCP].seq) - first) % 2**32, bytes(p[TCP].payload)) for p in segments]
        size = max(offset + len(data) for offset, data in placed)
        if size > 64 * 1024 * 1024:  # not one stream (a wrapped or foreign sequence space): segment by segment
            masked = [mask_payload(data, mask, notes, lpv35_key=key) for _, data in placed]
        else:
            stream = bytearray(size)
            for offset, data in placed:
                stream[offset:offset + len(data)] = data
            clean = mask_payload(bytes(stream), mask, notes, lpv35_key=key)
            masked = [clean[offset:offset + len(data)] for offset, data in placed]
        for packet, data in zip(segments, masked, strict=True):
            if data != bytes(packet[TCP].payload):
                _set_payload(packet[TCP], data)


def _rebuilt(packet: Packet) -> Packet:
    """The packet with IP, UDP and TCP lengths and checksums recomputed (on loopback they are often left partial)."""
    for layer in (IP, UDP, TCP):
        if layer in packet:
            if layer is not TCP:
                del packet[layer].len
            del packet[layer].chksum
    built: Packet = Ether(bytes(packet)) if Ether in packet else packet.__class__(bytes(packet))
    built.time = packet.time
    comment = getattr(packet, "comment", None)
    if comment:
        built.comment = comment
    return built


def mask_packets(packets: Iterable[Packet], mask: Masker, *, ez: bool = True,
                 lpv35_key: bytes = apconfig.LPV35_APP_KEY) -> tuple[list[Packet], list[str]]:
    """Copies of ``packets`` with every secret masked same length (see the module docstring), checksums
    recomputed; and notes on what was re-encoded. ``ez=False`` leaves EZ datagrams (already masked records)."""
    originals = list(packets)
    copies = [p.copy() for p in originals]
    for original, copy in zip(originals, copies, strict=True):
        copy.time = original.time
    notes: list[str] = []
    if ez:
        _mask_ez_packets(copies, mask, notes)
    for packet in copies:
        if UDP in packet:
            payload = bytes(packet[UDP].payload)
            if payload:
                clean = mask_payload(payload, mask, notes, lpv35_key=lpv35_key)
                if clean != payload:
                    _set_payload(packet[UDP], clean)
    _mask_tcp_streams(copies, mask, notes, lpv35_key)
    return [_rebuilt(p) for p in copies], sorted(set(notes))


__all__ = [
    "EzMasking", "MaskedAirRecord", "Masker", "mask_air_records", "mask_ez_sequence", "mask_packets", "mask_payload",
    "mask_secret_fields", "secret_masker"
]
