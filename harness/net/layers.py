"""scapy layers for the pairing traffic, so that captures dissect: 55AA and 6699 frames, EZ datagrams.

Declared from PROTOCOL.md, field by field; the codecs in :mod:`harness.protocol.apconfig` stay the authority
(``tests/test_net_layers.py`` checks that both build and parse the same bytes):

- :class:`TuyaAp55AA`, the legacy "AP 3.x" frame (§3.1): ``00 00 55 AA | u32 seq | u32 cmd | u32 len =
  len(payload)+8 | payload | u32 CRC-32 | 00 00 AA 55``, all big-endian, the CRC over every byte from the
  prefix to the end of the payload. Bound to UDP 6669 in both directions.
- :class:`TuyaLpv35`, the 6699 frame (§3.2): ``00 00 66 99 | u8 version (0) | u8 reserved (0) | u32 seq |
  u32 type | u32 length = 12 + len(data) + 16 | 12-byte nonce | ciphertext | 16-byte tag | 00 00 99 66``.
  Bound to TCP 6668 and 7001 (the config channel, whose TLS-PSK plaintext these frames are; the emulated
  camera speaks them over plain TCP) and UDP 6667 (the discovery beacon). Several frames in one TCP segment
  dissect as a chain of layers. :meth:`TuyaLpv35.open` decrypts with the codec.
- :class:`EzLength` (UDP to port 30011, §2.3) and :class:`EzAddress` (UDP to port 30012, §2.4): the EZ
  datagrams, whose meaning is the payload length or the destination address, shown as ``value``.

Unset ``length`` and ``crc`` fields are computed when the packet is built (``post_build``); set ones are kept,
which is how a fuzzer writes a wrong length or CRC on purpose.

Importing this module binds the layers (``bind_layers``) for the whole process, as scapy's own layers do.
:func:`bind_ap_ports` adds ports (an emulated camera's ephemeral ones), like Wireshark's "Decode As".
"""

from __future__ import annotations

import ipaddress
import struct
import zlib
from typing import Any

from scapy.fields import (
    ByteField,
    FieldLenField,
    IntEnumField,
    IntField,
    StrField,
    StrFixedLenField,
    StrLenField,
    XIntField,
)
from scapy.layers.inet import TCP, UDP
from scapy.packet import Packet, Raw, bind_layers

from harness.protocol import apconfig, smartconfig

AP_LEGACY_UDP_PORT = 6669  # §3.1: "one UDP datagram to <AP IP>:6669"
AP_BEACON_UDP_PORT = 6667  # §3.2: the discovery beacon to 255.255.255.255:6667
AP_TCP_PORTS = (6668, 7001)  # §3.2: TLS-PSK config channel, 7001 when a pincode exists

_PREFIX_55AA = int.from_bytes(apconfig.AP_PREFIX, "big")
_SUFFIX_55AA = int.from_bytes(apconfig.AP_SUFFIX, "big")
_PREFIX_6699 = int.from_bytes(apconfig.LPV35_PREFIX, "big")
_SUFFIX_6699 = int.from_bytes(apconfig.LPV35_SUFFIX, "big")
_SEALED_OVERHEAD = apconfig.NONCE_LEN + apconfig.TAG_LEN

_LPV35_TYPES = {member.value: member.name for member in apconfig.Lpv35Type}
_AP_COMMANDS = {apconfig.AP_CONFIG_CMD: "AP_CONFIG"}


def _next_frame(packet: Packet, payload: bytes, prefix: bytes) -> type[Packet]:
    """After a frame, another frame of the same kind when the bytes start with its prefix (TCP streams)."""
    if payload[:4] == prefix:
        return type(packet)
    return Raw


def _without_payload(packet: Packet) -> bytes:
    alone = packet.copy()
    alone.remove_payload()
    return bytes(alone)


class TuyaAp55AA(Packet):
    """The legacy AP config frame (PROTOCOL.md §3.1)."""

    name = "Tuya AP 55AA"
    fields_desc = [  # noqa: RUF012 (scapy's declaration style)
        XIntField("prefix", _PREFIX_55AA),
        IntField("seq", 0),
        IntEnumField("cmd", apconfig.AP_CONFIG_CMD, _AP_COMMANDS),
        # §3.1: "u32 len = len(payload)+8" (the payload, the CRC-32 and the suffix)
        FieldLenField("length", None, length_of="data", fmt="!I", adjust=lambda pkt, x: x + 8),
        StrLenField("data", b"", length_from=lambda pkt: max(0, (pkt.length or 8) - 8)),
        XIntField("crc", None),
        XIntField("suffix", _SUFFIX_55AA),
    ]

    def post_build(self, pkt: bytes, pay: bytes) -> bytes:
        if self.crc is None:
            # §3.1: "standard CRC-32 over every byte from the prefix up to the end of the payload"
            body = pkt[:-8]
            pkt = body + struct.pack(">I", zlib.crc32(body)) + pkt[-4:]
        return pkt + pay

    def guess_payload_class(self, payload: bytes) -> type[Packet]:
        return _next_frame(self, payload, apconfig.AP_PREFIX)

    def frame(self) -> apconfig.ApFrame:
        """This frame through the codec (raises the codec's FrameError when a check fails)."""
        return apconfig.decode_ap_frame(self._own_bytes())

    def _own_bytes(self) -> bytes:
        return _without_payload(self)

    def mysummary(self) -> str:
        return str(self.sprintf("55AA seq=%seq% cmd=%cmd% len=%length%"))


class TuyaLpv35(Packet):
    """The LPV3.5 6699 frame (PROTOCOL.md §3.2); the ciphertext stays sealed until :meth:`open`."""

    name = "Tuya LPV3.5 6699"
    fields_desc = [  # noqa: RUF012 (scapy's declaration style)
        XIntField("prefix", _PREFIX_6699),
        ByteField("version", 0),
        ByteField("reserved", 0),
        IntField("seq", 0),
        IntEnumField("type", apconfig.Lpv35Type.AP_CFG_WF_V40, _LPV35_TYPES),
        # §3.2: "u32 length (= 12 + len(data) + 16)": nonce, ciphertext and tag
        FieldLenField("length", None, length_of="ciphertext", fmt="!I", adjust=lambda pkt, x: x + _SEALED_OVERHEAD),
        StrFixedLenField("nonce", b"\x00" * apconfig.NONCE_LEN, apconfig.NONCE_LEN),
        StrLenField("ciphertext", b"", length_from=lambda pkt: max(0, (pkt.length or _SEALED_OVERHEAD)
                                                                   - _SEALED_OVERHEAD)),
        StrFixedLenField("tag", b"\x00" * apconfig.TAG_LEN, apconfig.TAG_LEN),
        XIntField("suffix", _SUFFIX_6699),
    ]

    def guess_payload_class(self, payload: bytes) -> type[Packet]:
        return _next_frame(self, payload, apconfig.LPV35_PREFIX)

    def open(self, key: bytes = apconfig.LPV35_APP_KEY) -> apconfig.Lpv35Frame:
        """Decrypt this frame with the codec (the fixed app key of §3.2 by default)."""
        return apconfig.decode_lpv35_frame(self._own_bytes(), key=key)

    def _own_bytes(self) -> bytes:
        return _without_payload(self)

    def mysummary(self) -> str:
        return str(self.sprintf("6699 seq=%seq% type=%type% len=%length%"))


class EzLength(Packet):
    """An EZ broadcast datagram (§2.3): ``value`` zero bytes, whose count is the encoded value."""

    name = "Tuya EZ length"
    fields_desc = [StrField("zeros", b"")]  # noqa: RUF012

    @property
    def value(self) -> int:
        return len(self.zeros)

    def mysummary(self) -> str:
        return f"EZ length {self.value}"


class EzAddress(Packet):
    """An EZ multicast datagram (§2.4): one zero byte; the value is the destination address."""

    name = "Tuya EZ address"
    fields_desc = [StrField("zeros", b"\x00")]  # noqa: RUF012

    @property
    def value(self) -> str | None:
        underlayer: Any = self.underlayer
        ip = underlayer.underlayer if underlayer is not None else None
        return None if ip is None else str(getattr(ip, "dst", None))

    def mysummary(self) -> str:
        return f"EZ address {self.value}"


def bind_ap_ports(*, udp_port: int | None = None, tcp_port: int | None = None) -> None:
    """Dissect 55AA on ``udp_port`` and 6699 on ``tcp_port`` too, both directions (an emulated camera's ports)."""
    if udp_port:
        bind_layers(UDP, TuyaAp55AA, dport=udp_port)
        bind_layers(UDP, TuyaAp55AA, sport=udp_port)
    if tcp_port:
        bind_layers(TCP, TuyaLpv35, dport=tcp_port)
        bind_layers(TCP, TuyaLpv35, sport=tcp_port)


bind_ap_ports(udp_port=AP_LEGACY_UDP_PORT)
for _port in AP_TCP_PORTS:
    bind_ap_ports(tcp_port=_port)
bind_layers(UDP, TuyaLpv35, dport=AP_BEACON_UDP_PORT)
bind_layers(UDP, TuyaLpv35, sport=AP_BEACON_UDP_PORT)
bind_layers(UDP, EzLength, dport=smartconfig.BROADCAST_PORT)
bind_layers(UDP, EzAddress, dport=smartconfig.MULTICAST_PORT)


def multicast_mac(address: str) -> str:
    """The Ethernet address of an IPv4 multicast group: ``01:00:5e`` and the low 23 bits (§2.4 step 5)."""
    packed = ipaddress.IPv4Address(address).packed
    return f"01:00:5e:{packed[1] & 0x7F:02x}:{packed[2]:02x}:{packed[3]:02x}"


__all__ = [
    "AP_BEACON_UDP_PORT",
    "AP_LEGACY_UDP_PORT",
    "AP_TCP_PORTS",
    "EzAddress",
    "EzLength",
    "TuyaAp55AA",
    "TuyaLpv35",
    "bind_ap_ports",
    "multicast_mac",
]
