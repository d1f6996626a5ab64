"""BLE frame layer, the plaintext inside an encrypted packet (§9.5).

``sn:4 ack_sn:4 cmd:2 len:2 data:len crc:2``, all big-endian; the CRC is CRC-16/MODBUS over everything
before it. A decrypted buffer is the frame followed by cipher padding (§9.6.1), which receivers skip by
reading ``len``: :meth:`Frame.parse` does the same and accepts up to one block of padding of any content (TO
style, full PKCS#7 or zeros); more than a block is refused, since no sender of §9.6.1 produces it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import LocalProtocolError
from .errors import FRAME, BleError, BleFault

HEADER = struct.Struct(">IIHH")  # sn, ack_sn, cmd, len
HEADER_LEN = HEADER.size
CRC_LEN = 2
OVERHEAD = HEADER_LEN + CRC_LEN
MAX_DATA_LEN = 0xFFFF
#: §9.6.1: padding is at most one AES block (a whole block when full PKCS#7 meets an aligned frame).
MAX_PADDING = 16
U32_MAX = 0xFFFF_FFFF


def _crc16_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC16_TABLE = _crc16_table()


def crc16_modbus(data: bytes) -> int:
    """CRC-16/MODBUS (§9.5): reflected 0x8005 (0xA001), init 0xFFFF, no final XOR; "123456789" -> 0x4B37."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _CRC16_TABLE[(crc ^ byte) & 0xFF]
    return crc


def _int(value: object, what: str, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise LocalProtocolError(f"{what} must be an integer from 0 to {high}, got {value!r}")
    return value


@dataclass(frozen=True)
class Frame:
    """One §9.5 frame: the sender's ``sn``, the ``ack_sn`` it answers (0 if none), the ``cmd`` and its data."""

    sn: int
    ack_sn: int
    cmd: int
    data: bytes = b""

    def __post_init__(self) -> None:
        _int(self.sn, "sn", U32_MAX)
        _int(self.ack_sn, "ack_sn", U32_MAX)
        _int(self.cmd, "cmd", 0xFFFF)
        if not isinstance(self.data, bytes):
            raise LocalProtocolError("frame data must be bytes")
        if len(self.data) > MAX_DATA_LEN:
            raise LocalProtocolError(f"frame data is at most {MAX_DATA_LEN} bytes (16-bit len), got {len(self.data)}")

    def encode(self, *, crc: int | None = None) -> bytes:
        """The frame's bytes; ``crc`` overrides the computed CRC (for negative tests of §9.9 "CRC mismatch")."""
        body = HEADER.pack(self.sn, self.ack_sn, self.cmd, len(self.data)) + self.data
        value = crc16_modbus(body) if crc is None else _int(crc, "crc", 0xFFFF)
        return body + value.to_bytes(2, "big")

    @classmethod
    def parse(cls, plaintext: bytes, *, max_padding: int = MAX_PADDING) -> Frame:
        """Read a frame from a decrypted buffer; ``len`` decides where it ends, the padding after it is skipped."""
        if len(plaintext) < OVERHEAD:
            raise BleError(f"frame of {len(plaintext)} bytes is shorter than the {OVERHEAD}-byte minimum",
                           reason=BleFault.LENGTH, section=FRAME)
        sn, ack_sn, cmd, length = HEADER.unpack_from(plaintext)
        end = HEADER_LEN + length + CRC_LEN
        if end > len(plaintext):
            raise BleError(f"frame declares {length} data bytes but only {len(plaintext) - OVERHEAD} follow its "
                           "header", reason=BleFault.LENGTH, section=FRAME)
        if len(plaintext) - end > max_padding:
            raise BleError(f"{len(plaintext) - end} bytes follow the frame, more than {max_padding} bytes of "
                           "padding", reason=BleFault.LENGTH, section=FRAME)
        expected = crc16_modbus(plaintext[:HEADER_LEN + length])
        (crc,) = struct.unpack_from(">H", plaintext, HEADER_LEN + length)
        if crc != expected:
            raise BleError(f"CRC-16/MODBUS {crc:04x} does not match the computed {expected:04x}",
                           reason=BleFault.CRC, section=FRAME)
        return cls(sn=sn, ack_sn=ack_sn, cmd=cmd, data=bytes(plaintext[HEADER_LEN:HEADER_LEN + length]))


__all__ = ["CRC_LEN", "HEADER_LEN", "MAX_DATA_LEN", "MAX_PADDING", "OVERHEAD", "Frame", "crc16_modbus"]
