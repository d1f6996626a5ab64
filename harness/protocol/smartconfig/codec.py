"""EZ mode (SmartConfig) on the wire: primitives, the app-side encoder and the transmission schedule.

PROTOCOL.md §2. The phone, associated to the target AP, sends UDP datagrams whose *lengths* (broadcast channel,
§2.3) or *destination multicast addresses* (multicast channel, §2.4) carry the SSID, the password and the token
group (region + token + secret). Everything here is sans-IO: the encoder returns lengths and addresses, and the
schedule returns :class:`Observation` records that an in-memory air or a scapy sender plays. The device side is
in :mod:`.broadcast`, :mod:`.multicast` and :mod:`.receiver`.

Choices made where PROTOCOL.md leaves room:

- **Valid input space** (what the encoder accepts and the receiver will ever report): SSID 1-32 bytes,
  password 0-64 bytes, token group 1-58 bytes (14 is the standard region + token + secret). 58 is the most the
  multicast token section can carry before it runs into the SSID base 64 (6 + 58 bytes = 32 addresses); with
  it the broadcast data length L is at most 1 + 64 + 1 + 58 + 32 = 156 and always fits its byte (§2.3 step 2).
  Text must be encoded by the caller (UTF-8, PROTOCOL.md §Test vectors); passing ``str`` is a local error.
- **Broadcast tail** (§2.3 step 5): the encoder writes either ``"tuya-convert"`` (the default, the reference
  implementation) or ``"padded"`` (TuyaAPI/link); the receiver accepts both.
"""

import ipaddress
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from harness.protocol.errors import LocalProtocolError, RemoteProtocolError

Tail = Literal["padded", "tuya-convert"]
Channel = Literal["broadcast", "multicast"]

# §2.2: the fixed AES-128 key of the multicast password section.
EZ_AES_KEY = b"a3c6794oiu876t54"

SSID_MAX = 32
PASSWORD_MAX = 64
TOKEN_GROUP_MAX = 58
TOKEN_GROUP_STANDARD_LEN = 14

# §2.3 and §2.4: destinations and preambles.
BROADCAST_ADDRESS = "255.255.255.255"
BROADCAST_PORT = 30011
MULTICAST_PORT = 30012
MULTICAST_TTL = 1
BROADCAST_PREAMBLE: tuple[int, ...] = (1, 3, 6, 10)
MULTICAST_PREFIX = 226
SSID_BASE = 64
PASSWORD_BASE = 0
TOKEN_BASE = 32
PREAMBLE_BASE = 120
PREAMBLE_MAGIC = b"TYST01"

# §2.5: tuya-convert's smartconfig(): 5 ms between datagrams, 40 preamble rounds, 10 data rounds.
DATAGRAM_GAP_S = 0.005
PREAMBLE_ROUNDS = 40
DATA_ROUNDS = 10

UDP_PAYLOAD_MAX = 65507


# --- §2.2 primitives --------------------------------------------------------------------------------------------

def _crc8_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8C if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC8_TABLE = _crc8_table()


def crc8_maxim(data: bytes) -> int:
    """CRC-8/MAXIM (Dallas 1-Wire): reflected polynomial 0x8C, init 0, no final XOR (§2.2). Check: 0xA1."""
    crc = 0
    for byte in data:
        crc = _CRC8_TABLE[crc ^ byte]
    return crc


def crc32(data: bytes) -> int:
    """Standard CRC-32 (zlib / IEEE), as an unsigned int (§2.2). Check: 0xCBF43926."""
    return zlib.crc32(data) & 0xFFFFFFFF


def aes_cipher() -> Cipher[modes.ECB]:
    """AES-128-ECB with :data:`EZ_AES_KEY` (§2.2)."""
    return Cipher(algorithms.AES(EZ_AES_KEY), modes.ECB())


def encrypt_password(password: bytes) -> bytes:
    """AES-128-ECB with :data:`EZ_AES_KEY` over the zero-padded password; empty stays empty (§2.2)."""
    if not password:
        return b""
    padded = password + b"\x00" * (-len(password) % 16)
    encryptor = aes_cipher().encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def decrypt_password(ciphertext: bytes, length: int) -> bytes:
    """Invert :func:`encrypt_password` given the plaintext length carried beside it (§2.4 step 1).

    Raises :class:`RemoteProtocolError` when the ciphertext is not whole blocks, not exactly the blocks
    ``length`` needs, or the padding after the plaintext is not zero.
    """
    if length < 0 or len(ciphertext) != -(-length // 16) * 16:
        raise RemoteProtocolError(
            f"password ciphertext of {len(ciphertext)} bytes cannot hold a {length}-byte password", section="§2.2"
        )
    if not ciphertext:
        return b""
    decryptor = aes_cipher().decryptor()
    plain = decryptor.update(ciphertext) + decryptor.finalize()
    if any(plain[length:]):
        raise RemoteProtocolError("password padding after decryption is not zero bytes", section="§2.2")
    return plain[:length]


# --- input validation -------------------------------------------------------------------------------------------

def _field(name: str, value: object, low: int, high: int) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise LocalProtocolError(f"{name} must be bytes (encode text as UTF-8), got {type(value).__name__}")
    data = bytes(value)
    if not low <= len(data) <= high:
        raise LocalProtocolError(f"{name} must be {low}..{high} bytes, got {len(data)}", section="§2.3")
    return data


def _inputs(ssid: object, password: object, token: object) -> tuple[bytes, bytes, bytes]:
    return (
        _field("ssid", ssid, 1, SSID_MAX),
        _field("password", password, 0, PASSWORD_MAX),
        _field("token", token, 1, TOKEN_GROUP_MAX),
    )


# --- §2.3 broadcast channel -------------------------------------------------------------------------------------

def broadcast_data(ssid: bytes, password: bytes, token: bytes) -> bytes:
    """The data string D = [len(password)] ‖ password ‖ [len(token)] ‖ token ‖ ssid (§2.3 step 2)."""
    ssid, password, token = _inputs(ssid, password, token)
    return bytes([len(password)]) + password + bytes([len(token)]) + token + ssid


def group_crc(seq: int, chunk: bytes) -> int:
    """The 7 bits of a group's CRC-8 that go on the air (§2.3 step 4)."""
    # §2.3 step 4: CRC-8 over [s, b0, b1, b2, b3], a short last chunk padded with zeros; 7 bits go on the air.
    return crc8_maxim(bytes([seq]) + chunk.ljust(4, b"\x00")) & 0x7F


def encode_broadcast(ssid: bytes, password: bytes, token: bytes, *, tail: Tail = "tuya-convert") -> list[int]:
    """The broadcast body after :data:`BROADCAST_PREAMBLE`: header, then per group its control pair and data.

    Each value N is one datagram of N zero bytes to 255.255.255.255:30011 (§2.3).
    """
    if tail not in ("padded", "tuya-convert"):
        raise LocalProtocolError(f"tail must be 'padded' or 'tuya-convert', got {tail!r}")
    data = broadcast_data(ssid, password, token)
    length = len(data)
    check = crc8_maxim(bytes([length]))
    # §2.3 step 3: the header carries L and CRC-8(L) a nibble at a time.
    out = [0x10 | length >> 4, 0x20 | length & 0xF, 0x30 | check >> 4, 0x40 | check & 0xF]
    for seq, start in enumerate(range(0, length, 4)):
        chunk = data[start:start + 4]
        out += [0x80 | group_crc(seq, chunk), 0x80 | seq]
        sent = chunk.ljust(4, b"\x00") if tail == "padded" else chunk
        out += [0x100 | byte for byte in sent]
    if tail == "tuya-convert":
        # §2.3 step 5: tuya-convert appends as many 256 values as the last chunk has bytes.
        out += [0x100] * (length - 4 * ((length - 1) // 4))
    return out


# --- §2.4 multicast channel -------------------------------------------------------------------------------------

def _section(plain: bytes, payload: bytes) -> bytes:
    # §2.4 step 1: [len(P), len(P)] ‖ CRC-32(P) little-endian ‖ X.
    return bytes([len(plain), len(plain)]) + crc32(plain).to_bytes(4, "little") + payload


def multicast_sections(ssid: bytes, password: bytes, token: bytes) -> dict[str, bytes]:
    """The three multicast sections before address mapping, keyed ``ssid``, ``password``, ``token``."""
    ssid, password, token = _inputs(ssid, password, token)
    return {
        "ssid": _section(ssid, ssid),
        "password": _section(password, encrypt_password(password)),
        "token": _section(token, token),
    }


def _addresses(section: bytes, base: int) -> list[str]:
    # §2.4 step 2: pad to even length; pair k -> 226.(base+k).(d[2k+1]).(d[2k]), second byte first.
    if len(section) % 2:
        section += b"\x00"
    return [
        f"{MULTICAST_PREFIX}.{base + k}.{section[2 * k + 1]}.{section[2 * k]}" for k in range(len(section) // 2)
    ]


MULTICAST_PREAMBLE: tuple[str, ...] = tuple(_addresses(PREAMBLE_MAGIC, PREAMBLE_BASE))


def encode_multicast(ssid: bytes, password: bytes, token: bytes) -> list[str]:
    """The multicast body after :data:`MULTICAST_PREAMBLE`: SSID, password, then token addresses (§2.4 step 4)."""
    sections = multicast_sections(ssid, password, token)
    return (
        _addresses(sections["ssid"], SSID_BASE)
        + _addresses(sections["password"], PASSWORD_BASE)
        + _addresses(sections["token"], TOKEN_BASE)
    )


def decode_multicast_address(address: str) -> tuple[int, int, int] | None:
    """``226.seq.hi.lo`` -> ``(seq, lo, hi)``: the sequence number and the byte pair in section order.

    The address carries only seq = base + k, not which section it belongs to (§2.4 step 6). Returns ``None``
    for a well-formed address outside the EZ alphabet (another prefix, or seq >= 128, §2.4 step 5).
    """
    if not isinstance(address, str):
        raise LocalProtocolError(f"an address must be a str, got {type(address).__name__}")
    try:
        octets = ipaddress.IPv4Address(address).packed
    except ValueError:
        raise RemoteProtocolError(f"{address[:40]!r} is not a dotted-quad IPv4 address", section="§2.4") from None
    if octets[0] != MULTICAST_PREFIX or octets[1] >= 128:
        return None
    return octets[1], octets[3], octets[2]


# --- §2.5 the transmission as data -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Observation:
    """One datagram on the air: a broadcast of ``value`` zero bytes, or one zero byte to multicast ``value``."""

    kind: Literal["length", "address"]
    value: int | str

    def __post_init__(self) -> None:
        if self.kind == "length":
            if isinstance(self.value, bool) or not isinstance(self.value, int):
                raise LocalProtocolError(f"a length observation needs an int, got {self.value!r}")
            if not 0 <= self.value <= UDP_PAYLOAD_MAX:
                raise LocalProtocolError(f"a UDP payload length is 0..{UDP_PAYLOAD_MAX}, got {self.value}")
        elif self.kind == "address":
            if not isinstance(self.value, str):
                raise LocalProtocolError(f"an address observation needs a str, got {self.value!r}")
            try:
                ipaddress.IPv4Address(self.value)
            except ValueError:
                raise LocalProtocolError(f"{self.value!r} is not a dotted-quad IPv4 address") from None
        else:
            raise LocalProtocolError(f"kind must be 'length' or 'address', got {self.kind!r}")

    @property
    def destination(self) -> tuple[str, int]:
        """Where the datagram goes (§2.3, §2.4)."""
        if self.kind == "length":
            return BROADCAST_ADDRESS, BROADCAST_PORT
        return str(self.value), MULTICAST_PORT

    @property
    def payload(self) -> bytes:
        """The UDP payload: N zero bytes on the broadcast channel, one zero byte on the multicast channel."""
        return bytes(int(self.value)) if self.kind == "length" else b"\x00"


def lengths(values: Iterable[int]) -> list[Observation]:
    return [Observation("length", value) for value in values]


def addresses(values: Iterable[str]) -> list[Observation]:
    return [Observation("address", value) for value in values]


def transmission_schedule(
    ssid: bytes,
    password: bytes,
    token: bytes,
    *,
    channels: Sequence[Channel] = ("broadcast", "multicast"),
    tail: Tail = "tuya-convert",
    preamble_rounds: int = PREAMBLE_ROUNDS,
    data_rounds: int = DATA_ROUNDS,
) -> list[Observation]:
    """One attempt in tuya-convert's order (§2.5), to be played with :data:`DATAGRAM_GAP_S` between datagrams.

    ``preamble_rounds`` x {multicast preamble, broadcast preamble}, then ``data_rounds`` x {multicast preamble,
    multicast body, broadcast body}; a channel left out of ``channels`` is simply not sent.
    """
    chosen = set(channels)
    if not chosen or not chosen <= {"broadcast", "multicast"}:
        raise LocalProtocolError(f"channels must name 'broadcast' and/or 'multicast', got {channels!r}")
    for name, rounds in (("preamble_rounds", preamble_rounds), ("data_rounds", data_rounds)):
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 0:
            raise LocalProtocolError(f"{name} must be a non-negative int, got {rounds!r}")
    multicast = "multicast" in chosen
    broadcast = "broadcast" in chosen
    mc_head = addresses(MULTICAST_PREAMBLE) if multicast else []
    bc_head = lengths(BROADCAST_PREAMBLE) if broadcast else []
    mc_body = addresses(encode_multicast(ssid, password, token)) if multicast else []
    bc_body = lengths(encode_broadcast(ssid, password, token, tail=tail)) if broadcast else []
    return (mc_head + bc_head) * preamble_rounds + (mc_head + mc_body + bc_body) * data_rounds



# --- what the device side decodes ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class EzCredentials:
    """What an EZ transmission conveys (§2.1): the SSID, the password and the token group, as bytes."""

    ssid: bytes
    password: bytes
    token: bytes

    def __post_init__(self) -> None:
        _inputs(self.ssid, self.password, self.token)


def parse_broadcast_data(data: bytes) -> EzCredentials | None:
    """D = [len(password)] ‖ password ‖ [len(token)] ‖ token ‖ ssid, the SSID running to L (§2.3 step 2).

    None when D cannot be such a message (a length byte out of the valid input space, an SSID of 0 or over 32).
    """
    if len(data) < 4 or data[0] > PASSWORD_MAX or len(data) < data[0] + 4:
        return None
    password_end = 1 + data[0]
    token_end = password_end + 1 + data[password_end]
    ssid = data[token_end:]
    if not 1 <= data[password_end] <= TOKEN_GROUP_MAX or not 1 <= len(ssid) <= SSID_MAX:
        return None
    return EzCredentials(ssid=ssid, password=data[1:password_end], token=data[password_end + 1:token_end])


__all__ = [
    "BROADCAST_ADDRESS",
    "BROADCAST_PORT",
    "BROADCAST_PREAMBLE",
    "DATAGRAM_GAP_S",
    "DATA_ROUNDS",
    "EZ_AES_KEY",
    "MULTICAST_PORT",
    "MULTICAST_PREAMBLE",
    "MULTICAST_PREFIX",
    "MULTICAST_TTL",
    "PASSWORD_BASE",
    "PASSWORD_MAX",
    "PREAMBLE_BASE",
    "PREAMBLE_MAGIC",
    "PREAMBLE_ROUNDS",
    "SSID_BASE",
    "SSID_MAX",
    "TOKEN_BASE",
    "TOKEN_GROUP_MAX",
    "TOKEN_GROUP_STANDARD_LEN",
    "UDP_PAYLOAD_MAX",
    "Channel",
    "EzCredentials",
    "Observation",
    "Tail",
    "addresses",
    "aes_cipher",
    "broadcast_data",
    "crc8_maxim",
    "crc32",
    "decode_multicast_address",
    "decrypt_password",
    "encode_broadcast",
    "encode_multicast",
    "encrypt_password",
    "group_crc",
    "lengths",
    "multicast_sections",
    "parse_broadcast_data",
    "transmission_schedule",
]
