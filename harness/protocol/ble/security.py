"""BLE security (§9.6): the two key generations, key derivation per mode, the register key, the BLE ID, the
advertised encrypted ID and the ``[mode][IV][AES-128-CBC]`` envelope.

Everything is a pure function of its inputs: IVs, ``rand16`` and ``srand`` are parameters, nothing here draws
randomness. Keys are 16 raw bytes. ``auth_key`` is the licence AuthKey as its 32 ASCII bytes; ``local_key`` and
``sec_key`` the 16-character strings from activation, as bytes.

Choices where §9.6 leaves room (each is documented where it is made):

- :func:`ble_id`: characters outside ``[0-9a-zA-Z]`` keep the previous 6-bit value (TuyaOpen and CK; AK uses 0,
  ``invalid="zero"``), and the value before the first character is 0. A UUID shorter than 16 characters has no
  BLE ID (the firmware would read past it) and is refused.
- :func:`expected_mode`: the reference pairs each command with one mode (TOS's check, §9.6.4) and never accepts
  mode 0 (§9.10 lead 1 is a weakness, not the reference).
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..errors import LocalProtocolError
from .errors import BLE_ID, ENVELOPE, BleError, BleFault

BLOCK = 16
IV_LEN = 16
SRAND_LEN = 6
AUTH_KEY_LEN = 32
LOGIN_KEY_LEN = 6
ID16_LEN = 16


class Generation(enum.StrEnum):
    """The two incompatible key schemes of §9.0: "v2" (TuyaOpen, AK) and "v1" (CK, BSDK 4.x)."""

    V1 = "v1"
    V2 = "v2"


class EncryptionMode(enum.IntEnum):
    """The envelope's mode byte (§9.6.2); the key each mode uses is the table there."""

    NONE = 0
    KEY1 = 1  # V1 device info
    KEY2 = 2  # V1 pair request and everything after it, unbound
    KEY3 = 3  # BLE-only, user rand
    KEY4 = 4  # bound BLE-only login key
    KEY5 = 5  # bound BLE-only session
    KEY11 = 11  # V2 device info
    KEY12 = 12  # V2 pair request and everything after it, unbound
    KEY13 = 13  # reserved
    KEY14 = 14  # bound combo, device info
    KEY15 = 15  # bound combo, session
    KEY16 = 16  # unbind while unbound


#: §9.6.4: TuyaOpen accepts these in any state, whatever the command (the lenient firmware, for faults).
TUYAOPEN_ACCEPTED_MODES = frozenset({EncryptionMode.NONE, EncryptionMode.KEY11, EncryptionMode.KEY12,
                                     EncryptionMode.KEY14, EncryptionMode.KEY15, EncryptionMode.KEY16})


class Padding(enum.StrEnum):
    """How a sender fills the last cipher block (§9.6.1); receivers accept all three and rely on ``len``."""

    PKCS7 = "pkcs7"  # 1..16 bytes of n, a whole block when aligned: the app-side default (AK needs it)
    PKCS7_IF_UNALIGNED = "pkcs7-if-unaligned"  # TuyaOpen, BSDK, AK: nothing when already aligned
    ZERO = "zero"  # CK, HA, PYSDK


def _bytes(value: object, what: str, length: int | None = None) -> bytes:
    if not isinstance(value, bytes):
        raise LocalProtocolError(f"{what} must be bytes, got {type(value).__name__}")
    if length is not None and len(value) != length:
        raise LocalProtocolError(f"{what} must be {length} bytes, got {len(value)}")
    return value


def _md5(*parts: bytes) -> bytes:
    return hashlib.md5(b"".join(parts)).digest()


def _aes_cbc_encrypt(key: bytes, iv: bytes, plain: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(_bytes(key, "key", 16)), modes.CBC(_bytes(iv, "IV", IV_LEN))).encryptor()
    return encryptor.update(plain) + encryptor.finalize()


def _aes_cbc_decrypt(key: bytes, iv: bytes, cipher: bytes) -> bytes:
    decryptor = Cipher(algorithms.AES(_bytes(key, "key", 16)), modes.CBC(_bytes(iv, "IV", IV_LEN))).decryptor()
    return decryptor.update(cipher) + decryptor.finalize()


def _aes_ecb_encrypt(key: bytes, plain: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(_bytes(key, "key", 16)), modes.ECB()).encryptor()
    return encryptor.update(plain) + encryptor.finalize()


# --------------------------------------------------------------------------------------------------
# §9.6.2 keys per mode


def key1(auth_key: bytes, rand16: bytes) -> bytes:
    """Mode 1 (V1 device info): bytes 32..47 of AES-128-CBC(authKey[0:16], zero IV, authKey(32) ‖ rand16)."""
    _bytes(auth_key, "auth_key", AUTH_KEY_LEN)
    return _aes_cbc_encrypt(auth_key[:16], bytes(IV_LEN), auth_key + _bytes(rand16, "rand16", IV_LEN))[32:48]


def key2(key1_value: bytes, srand: bytes) -> bytes:
    """Mode 2 (V1 pair and after, unbound): MD5(key1 ‖ srand)."""
    return _md5(_bytes(key1_value, "key1", 16), _bytes(srand, "srand", SRAND_LEN))


def key3(key1_value: bytes, srand: bytes, user_rand: bytes) -> bytes:
    """Mode 3 (BLE-only, user rand): MD5(key1 ‖ srand ‖ user_rand6)."""
    return _md5(_bytes(key1_value, "key1", 16), _bytes(srand, "srand", SRAND_LEN),
                _bytes(user_rand, "user_rand", SRAND_LEN))


def key4(login_key: bytes) -> bytes:
    """Mode 4 (bound BLE-only login key): MD5(loginKey6), loginKey6 = localKey[0:6]."""
    return _md5(_bytes(login_key, "login_key", LOGIN_KEY_LEN))


def key5(login_key: bytes, srand: bytes) -> bytes:
    """Mode 5 (bound BLE-only session): MD5(loginKey6 ‖ srand)."""
    return _md5(_bytes(login_key, "login_key", LOGIN_KEY_LEN), _bytes(srand, "srand", SRAND_LEN))


def key11(auth_key: bytes, id16: bytes, rand16: bytes) -> bytes:
    """Mode 11 (V2 device info): MD5(authKey(32) ‖ id16 ‖ rand16)."""
    return _md5(_bytes(auth_key, "auth_key", AUTH_KEY_LEN), _bytes(id16, "id16", ID16_LEN),
                _bytes(rand16, "rand16", IV_LEN))


def key12(key11_value: bytes, srand: bytes) -> bytes:
    """Mode 12 (V2 pair and after, unbound): MD5(key11 ‖ srand), with the key 11 of the last device info."""
    return _md5(_bytes(key11_value, "key11", 16), _bytes(srand, "srand", SRAND_LEN))


def key14(local_key: bytes, sec_key: bytes) -> bytes:
    """Mode 14 (bound combo, device info): MD5(localKey16 ‖ secKey16)."""
    return _md5(_bytes(local_key, "local_key", 16), _bytes(sec_key, "sec_key", 16))


def key15(local_key: bytes, sec_key: bytes, srand: bytes) -> bytes:
    """Mode 15 (bound combo, session): MD5(localKey16 ‖ secKey16 ‖ srand)."""
    return _md5(_bytes(local_key, "local_key", 16), _bytes(sec_key, "sec_key", 16), _bytes(srand, "srand", SRAND_LEN))


def key16(auth_key: bytes, id16: bytes, rand16: bytes) -> bytes:
    """Mode 16 (unbind while unbound): MD5(authKey(32) ‖ MD5(id16) ‖ rand16)."""
    return _md5(_bytes(auth_key, "auth_key", AUTH_KEY_LEN), _md5(_bytes(id16, "id16", ID16_LEN)),
                _bytes(rand16, "rand16", IV_LEN))


def register_key(auth_key: bytes, rand16: bytes) -> bytes:
    """§9.6.3: device-info bytes 14..29 = AES-128-ECB(authKey[0:16], rand16)."""
    _bytes(auth_key, "auth_key", AUTH_KEY_LEN)
    return _aes_ecb_encrypt(auth_key[:16], _bytes(rand16, "rand16", IV_LEN))


def device_info_mode(generation: Generation, *, bound_session: bool = False) -> EncryptionMode:
    """The mode of the device-info request and answer (§9.0; 14 for a bound combo's owner, §9.6.2)."""
    if generation is Generation.V1:
        if bound_session:
            raise LocalProtocolError("§9.6.2 gives no bound-session key for a V1 combo device")
        return EncryptionMode.KEY1
    return EncryptionMode.KEY14 if bound_session else EncryptionMode.KEY11


def session_mode(generation: Generation, *, bound_session: bool = False) -> EncryptionMode:
    """The mode of the pair request and everything after it (§9.0; 15 for a bound combo's owner, §9.6.2)."""
    if generation is Generation.V1:
        if bound_session:
            raise LocalProtocolError("§9.6.2 gives no bound-session key for a V1 combo device")
        return EncryptionMode.KEY2
    return EncryptionMode.KEY15 if bound_session else EncryptionMode.KEY12


def expected_mode(generation: Generation, cmd: int, *, bound_session: bool = False) -> EncryptionMode:
    """The one mode the reference accepts for ``cmd`` (§9.6.4, TOS's pairs): device info (0x0000) in the
    device-info mode, everything else in the session mode. Mode 0 never (§9.10 lead 1 is a weakness)."""
    if cmd == 0x0000:
        return device_info_mode(generation, bound_session=bound_session)
    return session_mode(generation, bound_session=bound_session)


# --------------------------------------------------------------------------------------------------
# §9.6.5 BLE ID

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SIX_BITS = {char: value for value, char in enumerate(_ALPHABET)}
COMPRESSED_UUID_LEN = 20
COMPRESSED_MARK = 0xFF


def is_compressed_uuid(uuid: str) -> bool:
    """§9.6.5: a UUID of at least 20 characters is compressed (the scan-response flag bit0 says so)."""
    return len(uuid) >= COMPRESSED_UUID_LEN


def ble_id(uuid: str, *, invalid: str = "keep") -> bytes:
    """The 16-byte BLE ID of a licence UUID (§9.6.5).

    ≥ 20 characters: the first 20 as 6-bit values ('0'-'9' 0-9, 'a'-'z' 10-35, 'A'-'Z' 36-61), 5 groups of 4
    written as 3 bytes big-endian, then 0xFF. Otherwise the first 16 ASCII bytes. A character outside the
    alphabet keeps the previous value (``invalid="keep"``, TuyaOpen and CK, 0 before the first character) or
    counts 0 (``invalid="zero"``, AK).
    """
    if not isinstance(uuid, str) or not uuid.isascii():
        raise LocalProtocolError(f"a licence UUID is ASCII text, got {uuid!r}")
    if invalid not in ("keep", "zero"):
        raise LocalProtocolError(f"invalid must be 'keep' or 'zero', got {invalid!r}")
    if not is_compressed_uuid(uuid):
        if len(uuid) < ID16_LEN:
            raise LocalProtocolError(f"a UUID of {len(uuid)} characters has no 16-byte BLE ID (§9.6.5)")
        return uuid[:ID16_LEN].encode("ascii")
    values: list[int] = []
    previous = 0
    for char in uuid[:COMPRESSED_UUID_LEN]:
        previous = _SIX_BITS.get(char, previous if invalid == "keep" else 0)
        values.append(previous)
    out = bytearray()
    for group in range(5):
        number = 0
        for value in values[group * 4:group * 4 + 4]:
            number = (number << 6) | value
        out += number.to_bytes(3, "big")
    return bytes(out) + bytes([COMPRESSED_MARK])


def uuid_from_ble_id(id16: bytes, *, compressed: bool) -> str:
    """The UUID text a BLE ID stands for: 20 characters when ``compressed`` (scan-response flag bit0), else the
    16 ASCII bytes. Raises :class:`BleError` when the bytes cannot be such an ID."""
    _bytes(id16, "id16", ID16_LEN)
    if not compressed:
        if not all(0x20 < byte < 0x7F for byte in id16):
            raise BleError("an uncompressed BLE ID is 16 printable ASCII characters", reason=BleFault.PAYLOAD,
                           section=BLE_ID)
        return id16.decode("ascii")
    if id16[15] != COMPRESSED_MARK:
        raise BleError(f"a compressed BLE ID ends in 0xFF, got 0x{id16[15]:02x}", reason=BleFault.PAYLOAD,
                       section=BLE_ID)
    chars = []
    for group in range(5):
        number = int.from_bytes(id16[group * 3:group * 3 + 3], "big")
        for shift in (18, 12, 6, 0):
            value = (number >> shift) & 0x3F
            if value >= len(_ALPHABET):
                raise BleError(f"6-bit value {value} is outside the UUID alphabet", reason=BleFault.PAYLOAD,
                               section=BLE_ID)
            chars.append(_ALPHABET[value])
    return "".join(chars)


# --------------------------------------------------------------------------------------------------
# §9.6.6 advertised encrypted ID


def advertised_id_key(material: bytes) -> bytes:
    """K = MD5(material): v4, the service data after the UUID (frame control, type, length, ID); v3, the
    service data after the type byte (§9.6.6). K is both the AES key and the IV."""
    return _md5(_bytes(material, "key material"))


def encrypt_advertised_id(id16: bytes, material: bytes) -> bytes:
    """The scan-response / manufacturer-data ``enc_id``: AES-128-CBC(K, IV = K, id16) (§9.6.6)."""
    key = advertised_id_key(material)
    return _aes_cbc_encrypt(key, key, _bytes(id16, "id16", ID16_LEN))


def decrypt_advertised_id(enc_id: bytes, material: bytes) -> bytes:
    """Recover the BLE ID from an advertisement alone (§9.6.6: "An app recovers the UUID")."""
    key = advertised_id_key(material)
    return _aes_cbc_decrypt(key, key, _bytes(enc_id, "enc_id", ID16_LEN))


def bound_advertised_id(id16: bytes, sec_key: bytes) -> bytes:
    """TuyaOpen's bound-advertisement ID (§9.6.6): the first 16 bytes of AES-128-ECB(MD5(secKey16),
    upper-case hex of id16 + NUL, PKCS-padded to 48). BSDK's variant (lower-case, loginKey6 ‖ devId) is not
    implemented: §9.14 item 10 leaves open which the app checks."""
    text = _bytes(id16, "id16", ID16_LEN).hex().upper().encode("ascii") + b"\x00"
    padded = text + bytes([48 - len(text)]) * (48 - len(text))
    return _aes_ecb_encrypt(_md5(_bytes(sec_key, "sec_key", 16)), padded)[:ID16_LEN]


# --------------------------------------------------------------------------------------------------
# §9.6.1 envelope


def pad(plain: bytes, padding: Padding) -> bytes:
    """Fill ``plain`` to a whole number of blocks the way ``padding`` says (§9.6.1)."""
    short = -len(plain) % BLOCK
    if padding is Padding.PKCS7:
        count = short or BLOCK
        return plain + bytes([count]) * count
    if padding is Padding.PKCS7_IF_UNALIGNED:
        return plain + bytes([short]) * short
    if padding is Padding.ZERO:
        return plain + bytes(short)
    raise LocalProtocolError(f"unknown padding {padding!r}")


def seal(plain: bytes, *, mode: int, key: bytes | None, iv: bytes | None,
         padding: Padding = Padding.PKCS7) -> bytes:
    """The encrypted packet ``[mode][IV][AES-128-CBC(key, IV, padded frame)]``; mode 0 is ``[0][frame]``."""
    _bytes(plain, "plaintext")
    if isinstance(mode, bool) or not isinstance(mode, int) or not 0 <= mode <= 0xFF:
        raise LocalProtocolError(f"mode is one byte, got {mode!r}")
    if mode == EncryptionMode.NONE:
        if key is not None or iv is not None:
            raise LocalProtocolError("mode 0 carries no IV and uses no key (§9.6.1)")
        return b"\x00" + plain
    if key is None or iv is None:
        raise LocalProtocolError(f"mode {mode} needs a key and a 16-byte IV")
    return bytes([mode]) + _bytes(iv, "IV", IV_LEN) + _aes_cbc_encrypt(key, iv, pad(plain, padding))


@dataclass(frozen=True)
class Envelope:
    """A parsed encrypted packet (§9.6.1): the mode byte, the IV (None for mode 0) and the body."""

    mode: int
    iv: bytes | None
    body: bytes

    def __post_init__(self) -> None:
        if isinstance(self.mode, bool) or not isinstance(self.mode, int) or not 0 <= self.mode <= 0xFF:
            raise LocalProtocolError(f"mode is one byte, got {self.mode!r}")
        _bytes(self.body, "body")
        if (self.iv is None) != (self.mode == EncryptionMode.NONE):
            raise LocalProtocolError("mode 0, and only mode 0, carries no IV (§9.6.1)")
        if self.iv is not None:
            _bytes(self.iv, "IV", IV_LEN)
            if not self.body or len(self.body) % BLOCK:
                raise LocalProtocolError("an encrypted body is one or more whole AES blocks")

    def encode(self) -> bytes:
        return bytes([self.mode]) + (self.iv or b"") + self.body

    @classmethod
    def parse(cls, packet: bytes) -> Envelope:
        """Split a reassembled packet; an encrypted body must be one or more whole blocks."""
        if not packet:
            raise BleError("empty packet has no mode byte", reason=BleFault.ENVELOPE, section=ENVELOPE)
        mode = packet[0]
        if mode == EncryptionMode.NONE:
            return cls(mode, None, bytes(packet[1:]))
        body = bytes(packet[1 + IV_LEN:])
        if len(packet) < 1 + IV_LEN + BLOCK or len(body) % BLOCK:
            raise BleError(f"mode-{mode} packet of {len(packet)} bytes is not mode + 16-byte IV + whole blocks",
                           reason=BleFault.ENVELOPE, section=ENVELOPE)
        return cls(mode, bytes(packet[1:1 + IV_LEN]), body)

    def decrypt(self, key: bytes | None) -> bytes:
        """The padded plaintext (mode 0: the body as is); the frame's ``len`` says where the padding starts."""
        if self.iv is None:
            return self.body
        if key is None:
            raise BleError(f"no key for mode {self.mode}", reason=BleFault.NO_KEY, section=ENVELOPE)
        return _aes_cbc_decrypt(key, self.iv, self.body)


__all__ = [
    "AUTH_KEY_LEN", "BLOCK", "COMPRESSED_UUID_LEN", "ID16_LEN", "IV_LEN", "LOGIN_KEY_LEN", "SRAND_LEN",
    "TUYAOPEN_ACCEPTED_MODES", "EncryptionMode", "Envelope", "Generation", "Padding", "advertised_id_key",
    "ble_id", "bound_advertised_id", "decrypt_advertised_id", "device_info_mode", "encrypt_advertised_id",
    "expected_mode", "is_compressed_uuid", "key1", "key2", "key3", "key4", "key5", "key11", "key12", "key14",
    "key15", "key16", "pad", "register_key", "seal", "session_mode", "uuid_from_ble_id",
]
