"""EZ mode (SmartConfig): the app-side encoder, the transmission schedule and the device-side receiver.

PROTOCOL.md §2. The phone, associated to the target AP, sends UDP datagrams whose *lengths* (broadcast channel,
§2.3) or *destination multicast addresses* (multicast channel, §2.4) carry the SSID, the password and the token
group (region + token + secret). Everything here is sans-IO: the encoder returns lengths and addresses, the
schedule returns :class:`Observation` records that an in-memory air or a scapy sender plays, and the
:class:`SmartConfigReceiver` is fed one observed length or address at a time.

Choices this module makes where PROTOCOL.md leaves room:

- **Valid input space** (what the encoder accepts and the receiver will ever report): SSID 1-32 bytes,
  password 0-64 bytes, token group 1-58 bytes (14 is the standard region + token + secret). 58 is the most the
  multicast token section can carry before it runs into the SSID base 64 (6 + 58 bytes = 32 addresses); with
  it the broadcast data length L is at most 1 + 64 + 1 + 58 + 32 = 156 and always fits its byte (§2.3 step 2).
  Text must be encoded by the caller (UTF-8, PROTOCOL.md §Test vectors); passing ``str`` is a local error.
- **Broadcast tail** (§2.3 step 5): the encoder writes either ``"tuya-convert"`` (the default, the reference
  implementation) or ``"padded"`` (TuyaAPI/link); the receiver accepts both by reading exactly L data bytes and
  ignoring stray 256 values.
- **Noise**: on a real air unrelated datagrams are normal, so the receiver ignores every length and every
  well-formed IPv4 address that is not part of the EZ alphabet, silently. A non-``int`` length or a non-``str``
  address is the caller's mistake (:class:`LocalProtocolError`). A ``str`` that is not a dotted-quad IPv4
  address is a :class:`RemoteProtocolError` citing §2.4: the sender broke the address mapping, as tuya-convert
  does for characters above U+00FF (§2.6); no socket stack would have put such a datagram on the air.
- **Checks**: nothing is accepted unless its check passes: the header CRC-8 of L, every group CRC-8 (of which
  the wire carries only 7 bits, §2.3 step 4) and every multicast section CRC-32 (§2.4 step 1), and for the
  password also the zero padding after decryption. Because 1 corrupted group in 128 passes a 7-bit check, the
  broadcast side also votes. A group's value counts only from a *cleanly ended* window: its control pair, then
  exactly the data values a sender emits for it, then the next control or header value (the last group of a
  burst, which nothing ends, counts as soon as it passes). A header or group value is taken when it is the
  unique most frequent one for its slot and has ``broadcast_votes`` votes (default 1, so one clean round is
  enough), one more once the air has shown damage (a dirty window, an orphan control value). A noise value in
  256..511 after a control pair therefore makes a window dirty, and even a fluke that looks clean and passes
  the check cannot outvote the real group, which every later round repeats.
- **The password/token collision of §2.4 step 6**: a 49-64 byte password needs 35 addresses, sequence numbers
  0-34, and 32-34 are also the first three addresses of the token section (base 32). PROTOCOL.md could not
  establish what firmware does. This receiver keeps *every* byte pair seen at a sequence number (with a
  count) instead of one, so both sections' pairs survive at 32-34; each section is then searched over its
  candidates, best-supported first, and only a combination whose length pair, CRC-32 (and for the password
  the AES zero padding) checks is accepted. The token section's own ``[len, len]`` and CRC-32 pick its pairs,
  the password's CRC-32 picks the others, so such passwords decode from the multicast channel alone. The same
  search is what makes unrelated ``226.x`` traffic harmless.
- **Bounds**: a flood cannot exhaust the receiver: at most 32 candidates are kept per slot (the weakest is
  dropped), and a section is searched, at most 256 combinations, only when a new candidate changes a ranking.
"""

from __future__ import annotations

import ipaddress
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Literal

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from harness.protocol._candidates import Votes, best_first
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


def _aes() -> Cipher[modes.ECB]:
    return Cipher(algorithms.AES(EZ_AES_KEY), modes.ECB())


def encrypt_password(password: bytes) -> bytes:
    """AES-128-ECB with :data:`EZ_AES_KEY` over the zero-padded password; empty stays empty (§2.2)."""
    if not password:
        return b""
    padded = password + b"\x00" * (-len(password) % 16)
    encryptor = _aes().encryptor()
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
    decryptor = _aes().decryptor()
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


def _group_crc(seq: int, chunk: bytes) -> int:
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
        out += [0x80 | _group_crc(seq, chunk), 0x80 | seq]
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



# --- the device side --------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class EzCredentials:
    """What an EZ transmission conveys (§2.1): the SSID, the password and the token group, as bytes."""

    ssid: bytes
    password: bytes
    token: bytes

    def __post_init__(self) -> None:
        _inputs(self.ssid, self.password, self.token)


@dataclass(frozen=True, slots=True)
class ReceiverProgress:
    """How far a :class:`SmartConfigReceiver` has got, for evidence timelines and device state machines."""

    preamble_lengths: bool
    preamble_addresses: bool
    broadcast_length: int | None
    broadcast_groups_known: int
    broadcast_groups_total: int | None
    multicast_sections: frozenset[str]
    completed_by: Channel | None


_CANDIDATE_CAP = 32
_SEARCH_BUDGET = 256
# Sections by name: (base, shortest plaintext, longest plaintext); §2.4 step 3 and the valid input space above.
_SECTIONS: dict[str, tuple[int, int, int]] = {
    "ssid": (SSID_BASE, 1, SSID_MAX),
    "password": (PASSWORD_BASE, 0, PASSWORD_MAX),
    "token": (TOKEN_BASE, 1, TOKEN_GROUP_MAX),
}


def _payload_size(name: str, length: int) -> int:
    return -(-length // 16) * 16 if name == "password" else length


def _span(name: str) -> range:
    base, _, longest = _SECTIONS[name]
    return range(base, base + (6 + _payload_size(name, longest) + 1) // 2)


_SPANS = {name: _span(name) for name in _SECTIONS}
_PREAMBLE_PAIRS = {
    PREAMBLE_BASE + k: (PREAMBLE_MAGIC[2 * k], PREAMBLE_MAGIC[2 * k + 1]) for k in range(len(PREAMBLE_MAGIC) // 2)
}


def _parse_broadcast_data(data: bytes) -> EzCredentials | None:
    # §2.3 step 2: D = [len(password)] ‖ password ‖ [len(token)] ‖ token ‖ ssid, the SSID running to L.
    if len(data) < 4 or data[0] > PASSWORD_MAX or len(data) < data[0] + 4:
        return None
    password_end = 1 + data[0]
    token_end = password_end + 1 + data[password_end]
    ssid = data[token_end:]
    if not 1 <= data[password_end] <= TOKEN_GROUP_MAX or not 1 <= len(ssid) <= SSID_MAX:
        return None
    return EzCredentials(ssid=ssid, password=data[1:password_end], token=data[password_end + 1:token_end])


class SmartConfigReceiver:
    """The device side of EZ mode: fed what a sniffer sees, one datagram at a time, on either channel or both.

    Lost, duplicated, reordered and unrelated datagrams are expected; evidence accumulates across rounds until
    one channel yields a message whose every check passes. Then :attr:`result` is set and further input is
    ignored. ``length_offset`` is subtracted from every length (a sniffer sees frame lengths, §2.3 inference).
    """

    def __init__(self, *, broadcast_votes: int = 1, length_offset: int = 0) -> None:
        if isinstance(broadcast_votes, bool) or not isinstance(broadcast_votes, int) or broadcast_votes < 1:
            raise LocalProtocolError(f"broadcast_votes must be a positive int, got {broadcast_votes!r}")
        if isinstance(length_offset, bool) or not isinstance(length_offset, int):
            raise LocalProtocolError(f"length_offset must be an int, got {length_offset!r}")
        self._votes = broadcast_votes
        self._offset = length_offset
        self._result: EzCredentials | None = None
        self._completed_by: Channel | None = None
        # Broadcast channel (§2.3).
        self._recent: tuple[int, ...] = ()
        self._preamble_lengths = False
        self._header: list[int] | None = None
        self._lengths: Votes[int] = Votes(64)
        self._pending_control: int | None = None
        self._damaged = False
        self._window: tuple[int, int, list[int]] | None = None
        self._sightings: list[Votes[tuple[int, ...]]] = [Votes(_CANDIDATE_CAP) for _ in range(128)]
        self._confirmed: list[Votes[tuple[int, ...]]] = [Votes(_CANDIDATE_CAP) for _ in range(128)]
        # Multicast channel (§2.4).
        self._preamble_seen: set[int] = set()
        self._pairs: list[Votes[tuple[int, int]]] = [
            Votes(_CANDIDATE_CAP) for _ in range(max(span.stop for span in _SPANS.values()))
        ]
        self._sections: dict[str, bytes] = {}
        self._decryptor = _aes().decryptor()
        self._blocks: dict[bytes, bytes] = {}

    @property
    def result(self) -> EzCredentials | None:
        return self._result

    @property
    def completed_by(self) -> Channel | None:
        return self._completed_by

    def progress(self) -> ReceiverProgress:
        length = self._lengths.winner(self._required_votes())
        total = None if length is None else (length + 3) // 4
        known = 0
        if total is not None and length is not None:
            known = sum(self._group_winner(length, seq) is not None for seq in range(total))
        return ReceiverProgress(
            preamble_lengths=self._preamble_lengths,
            preamble_addresses=len(self._preamble_seen) == len(_PREAMBLE_PAIRS),
            broadcast_length=length,
            broadcast_groups_known=known,
            broadcast_groups_total=total,
            multicast_sections=frozenset(self._sections),
            completed_by=self._completed_by,
        )

    def feed(self, observation: Observation) -> None:
        if not isinstance(observation, Observation):
            raise LocalProtocolError(f"feed() takes an Observation, got {type(observation).__name__}")
        if observation.kind == "length":
            self.feed_length(int(observation.value))
        else:
            self.feed_address(str(observation.value))

    def _finish(self, credentials: EzCredentials, channel: Channel) -> None:
        self._result = credentials
        self._completed_by = channel

    # --- §2.3 ---------------------------------------------------------------------------------------------------

    def feed_length(self, length: int) -> None:
        """One broadcast datagram of ``length`` bytes. Values outside the EZ alphabet are noise, ignored."""
        if isinstance(length, bool) or not isinstance(length, int):
            raise LocalProtocolError(f"a length must be an int, got {type(length).__name__}")
        if self._result is not None:
            return
        value = length - self._offset
        self._recent = (*self._recent[-3:], value)
        if self._recent == BROADCAST_PREAMBLE:
            self._preamble_lengths = True
        if 16 <= value < 80:
            self._header_value(value >> 4, value & 0xF)
        elif 128 <= value < 256:
            self._control_value(value)
        elif 256 <= value < 512:
            self._data_value(value & 0xFF)

    def _header_value(self, kind: int, nibble: int) -> None:
        # §2.3 step 3: 0x10|L>>4, 0x20|L&0xF, 0x30|c>>4, 0x40|c&0xF, in this order; a gap spoils the round's copy.
        self._close_window()
        self._pending_control = None
        if kind == 1:
            self._header = [nibble]
        elif self._header is not None and len(self._header) == kind - 1:
            self._header.append(nibble)
        else:
            self._header = None
        if self._header is not None and len(self._header) == 4:
            high, low, check_high, check_low = self._header
            self._header = None
            length = high << 4 | low
            if crc8_maxim(bytes([length])) == check_high << 4 | check_low:
                self._lengths.add(length)
                self._check_broadcast()

    def _control_value(self, value: int) -> None:
        # §2.3 step 4: 0x80|crc then 0x80|s. One control value alone (its partner lost) opens nothing.
        if self._pending_control is None:
            self._close_window()
            self._pending_control = value
        else:
            self._window = (value & 0x7F, self._pending_control & 0x7F, [])
            self._pending_control = None

    def _data_value(self, byte: int) -> None:
        if self._pending_control is not None:
            self._damaged = True  # a control value without its partner
        self._pending_control = None
        if self._window is None:
            return
        seq, check, values = self._window
        if len(values) > 8:
            return  # already more than any group sends, tail included: this window can only be dirty
        values.append(byte)
        # Every prefix of up to four bytes that passes the group check is a candidate: which length counts is
        # known only once L is (§2.3 step 5). These sightings count at once, but only for the last group.
        if len(values) <= 4 and _group_crc(seq, bytes(values)) == check:
            self._sightings[seq].add(tuple(values))
            self._check_broadcast()

    def _close_window(self) -> None:
        """The next control or header value ends a group's data; a cleanly ended group confirms its value.

        Clean means exactly what a sender emits for a group of p bytes: p data values then zero pads, 4 values
        in all (every group, and the "padded" last group) or 2p (tuya-convert's last group, §2.3 step 5). A
        window with a datagram too many (noise, a duplicate) or too few (a loss) confirms nothing.
        """
        if self._window is None:
            return
        seq, check, values = self._window
        self._window = None
        damaged = True
        for size in range(1, 5):
            clean = len(values) in (4, 2 * size) and not any(values[size:])
            if clean and _group_crc(seq, bytes(values[:size])) == check:
                damaged = False
                self._confirmed[seq].add(tuple(values[:size]))
        self._damaged = self._damaged or damaged
        self._check_broadcast()

    def _group_winner(self, length: int, seq: int) -> tuple[int, ...] | None:
        # Group seq of a length-L message holds 4 bytes, the last one L - 4 * (groups - 1) (§2.3 step 4). The
        # last group of a burst has no next control value to end it, so it alone may count unconfirmed sightings.
        last = (length - 1) // 4
        size = 4 if seq < last else length - 4 * last
        votes = self._sightings[seq] if seq == last else self._confirmed[seq]
        return votes.winner(self._required_votes(), lambda chunk: len(chunk) == size)

    def _required_votes(self) -> int:
        # One clean sighting is proof enough only on an air that has shown no damage; once a window came out
        # dirty, a fluke passing the 7-bit group check (§2.3 step 4) is possible, so one more vote is required.
        return self._votes + self._damaged

    def _check_broadcast(self) -> None:
        length = self._lengths.winner(self._required_votes())
        if length is None or length < 4:
            return
        data = bytearray()
        for seq in range((length + 3) // 4):
            chunk = self._group_winner(length, seq)
            if chunk is None:
                return
            data += bytes(chunk)
        credentials = _parse_broadcast_data(bytes(data))
        if credentials is not None:
            self._finish(credentials, "broadcast")

    # --- §2.4 ---------------------------------------------------------------------------------------------------

    def feed_address(self, address: str) -> None:
        """One multicast datagram to ``address``. Well-formed addresses outside the EZ alphabet are ignored."""
        decoded = decode_multicast_address(address)
        if decoded is None or self._result is not None:
            return
        seq, low, high = decoded
        if seq in _PREAMBLE_PAIRS:
            if _PREAMBLE_PAIRS[seq] == (low, high):
                self._preamble_seen.add(seq)
            return
        if seq >= len(self._pairs) or not self._pairs[seq].add((low, high)):
            return
        for name, span in _SPANS.items():
            if seq in span and name not in self._sections:
                found = self._solve(name)
                if found is not None:
                    self._sections[name] = found
        if len(self._sections) == len(_SECTIONS):
            self._finish(EzCredentials(**self._sections), "multicast")

    def _solve(self, name: str) -> bytes | None:
        """Search the section's candidates (§2.4 step 6: a sequence number may hold pairs of two sections)."""
        base, shortest, longest = _SECTIONS[name]
        budget = _SEARCH_BUDGET
        for first, second in self._pairs[base].ranked():
            if first != second or not shortest <= first <= longest:
                continue
            size = _payload_size(name, first)
            total = 6 + size
            choices = []
            for k in range(1, (total + 1) // 2):
                options = self._pairs[base + k].ranked()
                if 2 * k + 1 == total:
                    options = [pair for pair in options if pair[1] == 0]  # §2.4 step 2: the odd section's pad
                if not options:
                    break
                choices.append(options)
            else:
                for combo in best_first(choices):
                    budget -= 1
                    plain = self._check_section(name, first, size, combo)
                    if plain is not None:
                        return plain
                    if budget <= 0:
                        return None
        return None

    def _check_section(self, name: str, length: int, size: int, combo: list[tuple[int, int]]) -> bytes | None:
        # combo holds pairs 1.. of the section: the CRC-32 bytes, then the payload (§2.4 step 1).
        raw = bytes(chain.from_iterable(combo))
        plain = raw[4:4 + size]
        if name == "password":
            plain = self._decrypt(plain)
            if any(plain[length:]):
                return None  # §2.2: the padding after the plaintext is zero bytes
            plain = plain[:length]
        # §2.4 step 1: the CRC-32 is of the plaintext, little-endian.
        return plain if crc32(plain) == int.from_bytes(raw[:4], "little") else None

    def _decrypt(self, ciphertext: bytes) -> bytes:
        """AES-ECB decryption block by block (§2.2); the search retries the same blocks, so they are cached."""
        if len(self._blocks) > 4096:
            self._blocks.clear()
        plain = bytearray()
        for start in range(0, len(ciphertext), 16):
            block = ciphertext[start:start + 16]
            if block not in self._blocks:
                self._blocks[block] = self._decryptor.update(block)
            plain += self._blocks[block]
        return bytes(plain)

__all__ = [
    "BROADCAST_ADDRESS",
    "BROADCAST_PORT",
    "BROADCAST_PREAMBLE",
    "DATAGRAM_GAP_S",
    "DATA_ROUNDS",
    "EZ_AES_KEY",
    "MULTICAST_PORT",
    "MULTICAST_PREAMBLE",
    "MULTICAST_TTL",
    "PASSWORD_MAX",
    "PREAMBLE_ROUNDS",
    "SSID_MAX",
    "TOKEN_GROUP_MAX",
    "TOKEN_GROUP_STANDARD_LEN",
    "Channel",
    "EzCredentials",
    "Observation",
    "ReceiverProgress",
    "SmartConfigReceiver",
    "Tail",
    "addresses",
    "broadcast_data",
    "crc8_maxim",
    "crc32",
    "decode_multicast_address",
    "decrypt_password",
    "encode_broadcast",
    "encode_multicast",
    "encrypt_password",
    "lengths",
    "multicast_sections",
    "transmission_schedule",
]
