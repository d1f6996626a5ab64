"""MQTT after activation (PROTOCOL.md §5): credentials, topics, protocol numbers, message envelopes.

Sans-IO: this module never talks to a broker. It derives the CONNECT credentials, names and parses the
topics the broker's ACLs are about, and turns :class:`MqttMessage` records into the bytes of a PUBLISH
payload and back, for the envelope versions 2.1, 2.2 and 2.3. Nonces and sequence numbers are
parameters. Decoders raise nothing but :class:`ProtocolError`, whatever they are fed.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._json import dump_json, load_json_object
from .errors import LocalProtocolError, RemoteProtocolError

SECTION = "§5"
U32_MAX = 0xFFFF_FFFF


# --------------------------------------------------------------------------------------------------
# Credentials


class MqttCredentials(NamedTuple):
    client_id: str
    username: str
    password: str


def _md5_mid(secret: str) -> str:
    """§5: "hex of bytes 4..11 of MD5(secKey), i.e. md5(secKey).hexdigest()[8:24]"."""
    return hashlib.md5(secret.encode("utf-8")).hexdigest()[8:24]


def _nonempty(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise LocalProtocolError(f"{what} must be a non-empty string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise LocalProtocolError(f"{what} is not encodable as UTF-8") from None
    return value


def device_credentials(dev_id: str, sec_key: str) -> MqttCredentials:
    """The activated device's CONNECT (§5): clientId = username = devId, password from secKey."""
    _check_topic_id(dev_id, "devId")
    return MqttCredentials(client_id=dev_id, username=dev_id, password=_md5_mid(_nonempty(sec_key, "secKey")))


def preactivation_credentials(uuid: str, auth_key: str, *, pv: Literal["2.3"] | None = "2.3") -> MqttCredentials:
    """The pre-activation "direct" CONNECT (§5): ``acon_<uuid>``; the username carries ``|pv=2.3`` (TO, AK)
    unless ``pv`` is None (CK omits it); password from the full authKey (§8)."""
    _check_topic_id(uuid, "uuid")
    if pv not in ("2.3", None):
        raise LocalProtocolError(f"pv must be '2.3' or None, got {pv!r}")
    client_id = f"acon_{uuid}"
    username = client_id if pv is None else f"{client_id}|pv={pv}"
    return MqttCredentials(client_id=client_id, username=username, password=_md5_mid(_nonempty(auth_key, "authKey")))


# --------------------------------------------------------------------------------------------------
# Topics


class TopicKind(enum.StrEnum):
    """The topics of §5 and who uses them (the broker's ACLs are written in these terms)."""

    IN = "smart/device/in"  # the device subscribes
    OUT = "smart/device/out"  # the device publishes
    RPC_REQ = "rpc/req"  # the device publishes
    RPC_RSP = "rpc/rsp"  # the device subscribes
    RPC_FILE = "rpc/file"  # the device subscribes
    PREACTIVATION = "d/ai"  # the unactivated device subscribes, keyed by uuid


class ParsedTopic(NamedTuple):
    kind: TopicKind
    id: str


def _check_topic_id(value: object, what: str) -> str:
    """A devId or uuid used as a topic level: non-empty, no level separator or wildcard (MQTT 3.1.1 §4.7)."""
    if not isinstance(value, str) or not value or "/" in value or "+" in value or "#" in value or "\x00" in value:
        raise LocalProtocolError(f"{what} must be a non-empty string without '/', '+', '#' or NUL, got {value!r}")
    _nonempty(value, what)
    return value


def _topic(kind: TopicKind, ident: str, what: str) -> str:
    return f"{kind.value}/{_check_topic_id(ident, what)}"


def topic_in(dev_id: str) -> str:
    return _topic(TopicKind.IN, dev_id, "devId")


def topic_out(dev_id: str) -> str:
    return _topic(TopicKind.OUT, dev_id, "devId")


def rpc_req(dev_id: str) -> str:
    return _topic(TopicKind.RPC_REQ, dev_id, "devId")


def rpc_rsp(dev_id: str) -> str:
    return _topic(TopicKind.RPC_RSP, dev_id, "devId")


def rpc_file(dev_id: str) -> str:
    return _topic(TopicKind.RPC_FILE, dev_id, "devId")


def preactivation_topic(uuid: str) -> str:
    return _topic(TopicKind.PREACTIVATION, uuid, "uuid")


def parse_topic(topic: str) -> ParsedTopic | None:
    """Which §5 topic this is and for whom, or None for any other topic (including wildcards)."""
    prefix, _, ident = topic.rpartition("/")
    try:
        kind = TopicKind(prefix)
        _check_topic_id(ident, "id")
    except (ValueError, LocalProtocolError):
        return None
    return ParsedTopic(kind, ident)


# --------------------------------------------------------------------------------------------------
# Protocol numbers and messages


class MqttProtocol(enum.IntEnum):
    """The ``protocol`` numbers of §5 (TO ``mqtt_service.h``)."""

    # cloud -> device
    DP_COMMAND = 5
    UNBIND = 8
    RESET = 11
    TIMER_UPDATE = 13
    UPGRADE_REQUEST = 15
    DATA_REQUEST = 22
    QUERY_DP = 31
    ACTIVE_TOKEN = 46
    PASSWORD_FREE_NETWORKING = 51
    DP_CACHE_NOTIFY = 103
    # device -> cloud
    DP_REPORT = 4
    UPGRADE_PROGRESS = 16
    DATA_RESPONSE = 23
    CMD_ACK = 26


_ROOT_KEYS = frozenset({"protocol", "t", "data"})


@dataclass(frozen=True)
class MqttMessage:
    """The §5 plaintext ``{"protocol":N,"t":<unix>,"data":{…}}``; ``extras`` holds any other root key
    (``type`` of a reset, tuya-convert's ``s``)."""

    protocol: int
    t: int
    data: Mapping[str, Any]
    extras: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        for name in ("protocol", "t"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise LocalProtocolError(f"{name} must be a non-negative integer, got {value!r}")
        if not isinstance(self.data, Mapping):
            raise LocalProtocolError(f"data must be a JSON object, got {type(self.data).__name__}")
        if not isinstance(self.extras, Mapping) or _ROOT_KEYS & self.extras.keys():
            raise LocalProtocolError("extras must be a mapping without protocol, t or data")
        object.__setattr__(self, "data", MappingProxyType(dict(self.data)))
        object.__setattr__(self, "extras", MappingProxyType(dict(self.extras)))

    def to_json(self) -> bytes:
        """Compact JSON, root keys sorted (the layout of the §5 vectors)."""
        body = {"protocol": self.protocol, "t": self.t, "data": dict(self.data), **self.extras}
        return dump_json(body, what="MQTT message", sort_keys=True)

    @property
    def dps(self) -> Mapping[str, Any]:
        """``data.dps`` of a DP command or report; RemoteProtocolError when absent or not an object."""
        dps = self.data.get("dps")
        if not isinstance(dps, Mapping):
            raise RemoteProtocolError(f"protocol {self.protocol} message has no dps object", section=SECTION)
        return dps

    @property
    def is_factory_reset(self) -> bool:
        """§5 protocol 11: root ``"type":"reset_factory"`` is a remote factory reset, else a remote un-activate."""
        return self.protocol == MqttProtocol.RESET and self.extras.get("type") == "reset_factory"


def dp_command(dps: Mapping[str, Any], *, t: int, dev_id: str | None = None, cid: str | None = None) -> MqttMessage:
    """Protocol 5, ``data.dps`` (+ ``devId``/``cid`` for sub-devices)."""
    data: dict[str, Any] = {"dps": dict(dps)}
    if dev_id is not None:
        data["devId"] = dev_id
    if cid is not None:
        data["cid"] = cid
    return MqttMessage(MqttProtocol.DP_COMMAND, t, data)


def dp_report(dps: Mapping[str, Any], *, t: int) -> MqttMessage:
    """Protocol 4, the device's DP report with ``data.dps``."""
    return MqttMessage(MqttProtocol.DP_REPORT, t, {"dps": dict(dps)})


def reset_message(gw_id: str, *, t: int, factory: bool) -> MqttMessage:
    """Protocol 11 with ``data.gwId``; ``factory`` adds root ``"type":"reset_factory"``."""
    return MqttMessage(MqttProtocol.RESET, t, {"gwId": gw_id}, {"type": "reset_factory"} if factory else {})


def unbind_message(*, t: int, data: Mapping[str, Any] | None = None) -> MqttMessage:
    """Protocol 8; §5 gives no data fields, so it is empty unless the caller adds some."""
    return MqttMessage(MqttProtocol.UNBIND, t, data or {})


def active_token_message(token: str, region: str, *, t: int, env: str = "pro") -> MqttMessage:
    """Protocol 46, pushed on ``d/ai/<uuid>``: ``{"token":"…(≤8)","region":"XX","env":"pro"}``."""
    return MqttMessage(MqttProtocol.ACTIVE_TOKEN, t, {"token": token, "region": region, "env": env})


def active_token_pv(login_pv: str | None) -> ProtocolVersion:
    """The envelope of the protocol-46 push (§11.9.1): it follows the device's ``acon_`` login, 2.3 when the
    username carried ``|pv=2.3`` (TO accepts only 2.3), 2.2 without a suffix (CK, §11.6)."""
    for pv in PROTOCOL_VERSIONS:
        if login_pv == pv:
            return pv
    return "2.2"


def parse_message_json(plaintext: bytes) -> MqttMessage:
    """Parse the §5 plaintext. ``t`` may be a JSON number or a string of digits (tuya-convert sends
    ``"t":"1700000000"``); ``data`` must be an object."""
    obj = load_json_object(plaintext, what="MQTT message", section=SECTION)
    for key in ("protocol", "t", "data"):
        if key not in obj:
            raise RemoteProtocolError(f"MQTT message has no {key}", section=SECTION)
    protocol, t, data = obj["protocol"], obj["t"], obj["data"]
    if isinstance(protocol, bool) or not isinstance(protocol, int) or protocol < 0:
        raise RemoteProtocolError(f"protocol must be a non-negative integer, got {protocol!r}", section=SECTION)
    if isinstance(t, str) and t.isascii() and t.isdigit() and len(t) <= 20:
        t = int(t)
    if isinstance(t, bool) or not isinstance(t, int) or t < 0:
        raise RemoteProtocolError(f"t must be a unix time, got {t!r}", section=SECTION)
    if not isinstance(data, dict):
        raise RemoteProtocolError(f"data must be a JSON object, got {type(data).__name__}", section=SECTION)
    return MqttMessage(protocol, t, data, {k: v for k, v in obj.items() if k not in _ROOT_KEYS})


# --------------------------------------------------------------------------------------------------
# Envelopes

ProtocolVersion = Literal["2.1", "2.2", "2.3"]
PROTOCOL_VERSIONS: tuple[ProtocolVersion, ...] = ("2.1", "2.2", "2.3")
NONCE_LEN = 12
TAG_LEN = 16
#: §5 2.3: "u32 BE cmd_from (1 = device)".
FROM_DEVICE = 1
_PV22_HEADER = struct.Struct(">3sI")  # "2.2", CRC-32
_PV22_COUNTER = struct.Struct(">II")  # seq, source
_PV23_HEADER = struct.Struct(">3sIIB")  # "2.3", seq, cmd_from, reserved


@dataclass(frozen=True)
class MqttEnvelope:
    """A decoded envelope, for callers that need more than the message.

    For 2.2, ``seq``/``source`` read the 8 counter bytes as two u32 BE (CK's form) and ``stamp`` holds them
    as text when they are 8 ASCII digits (tuya-convert's form); for 2.3 ``seq``/``source``/``nonce`` are
    the header's; for 2.1 all are None.
    """

    pv: ProtocolVersion
    plaintext: bytes
    seq: int | None = None
    source: int | None = None
    stamp: str | None = None
    nonce: bytes | None = None


def tuya_convert_stamp(unix_time: float) -> str:
    """tuya-convert's 2.2 counter: 8 ASCII digits of ``(time * 100) mod 10**8`` (§5)."""
    return f"{int(unix_time * 100) % 10**8:08d}"


def _key_bytes(local_key: str | bytes) -> bytes:
    key = local_key.encode("utf-8") if isinstance(local_key, str) else local_key
    if not isinstance(key, bytes) or len(key) != 16:
        raise LocalProtocolError("local_key must be 16 bytes (AES-128): the localKey, or authKey[:16] before "
                                 "activation")
    return key


def _ecb(key: bytes) -> Cipher[modes.ECB]:
    return Cipher(algorithms.AES(key), modes.ECB())


def _ecb_encrypt(key: bytes, plaintext: bytes) -> bytes:
    pad = 16 - len(plaintext) % 16
    encryptor = _ecb(key).encryptor()
    return encryptor.update(plaintext + bytes([pad]) * pad) + encryptor.finalize()


def _ecb_decrypt(key: bytes, ciphertext: bytes) -> bytes:
    if not ciphertext or len(ciphertext) % 16:
        raise RemoteProtocolError(f"AES-ECB ciphertext of {len(ciphertext)} bytes is not a positive multiple of 16",
                                  section=SECTION)
    decryptor = _ecb(key).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    pad = padded[-1]
    if not 1 <= pad <= 16 or padded[-pad:] != bytes([pad]) * pad:
        raise RemoteProtocolError("PKCS#7 padding is invalid (wrong key or corrupted ciphertext)", section=SECTION)
    return padded[:-pad]


def _pv21_sign(b64: bytes, key: bytes) -> bytes:
    # §5 2.1: md5("data=" + B64 + "||pv=2.1||" + localKey)[8:24]
    return hashlib.md5(b"data=" + b64 + b"||pv=2.1||" + key).hexdigest()[8:24].encode("ascii")


def _u32(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= U32_MAX:
        raise LocalProtocolError(f"{what} must be an unsigned 32-bit integer, got {value!r}")
    return value


def encode_envelope(plaintext: bytes, *, local_key: str | bytes, pv: ProtocolVersion = "2.2", seq: int = 0,
                    source: int = FROM_DEVICE, stamp: str | None = None, nonce: bytes | None = None) -> bytes:
    """Wrap ``plaintext`` in a §5 envelope.

    - 2.1: ``"2.1"`` ‖ 16-hex md5 sign ‖ base64(AES-ECB(PKCS7)) (ASCII throughout);
    - 2.2: ``"2.2"`` ‖ u32 CRC-32 of the rest ‖ 8 counter bytes ‖ AES-ECB(PKCS7): the counter is ``stamp``
      (8 ASCII digits, tuya-convert) when given, else u32 ``seq`` ‖ u32 ``source`` (CK);
    - 2.3: ``"2.3"`` ‖ u32 ``seq`` ‖ u32 ``source`` (cmd_from) ‖ 0 ‖ ``nonce`` ‖ AES-GCM(AAD = those 12 bytes) ‖ tag.
    """
    key = _key_bytes(local_key)
    if not isinstance(plaintext, bytes):
        raise LocalProtocolError("plaintext must be bytes")
    if pv == "2.1":
        b64 = base64.b64encode(_ecb_encrypt(key, plaintext))
        return b"2.1" + _pv21_sign(b64, key) + b64
    if pv == "2.2":
        if stamp is not None:
            if not isinstance(stamp, str) or len(stamp) != 8 or not (stamp.isascii() and stamp.isdigit()):
                raise LocalProtocolError(f"stamp must be 8 ASCII digits, got {stamp!r}")
            counter = stamp.encode("ascii")
        else:
            counter = _PV22_COUNTER.pack(_u32(seq, "seq"), _u32(source, "source"))
        rest = counter + _ecb_encrypt(key, plaintext)
        return _PV22_HEADER.pack(b"2.2", zlib.crc32(rest)) + rest
    if pv == "2.3":
        if not isinstance(nonce, bytes) or len(nonce) != NONCE_LEN:
            raise LocalProtocolError(f"pv 2.3 needs a {NONCE_LEN}-byte nonce")
        header = _PV23_HEADER.pack(b"2.3", _u32(seq, "seq"), _u32(source, "source"), 0)
        return header + nonce + AESGCM(key).encrypt(nonce, plaintext, header)
    raise LocalProtocolError(f"pv must be one of {PROTOCOL_VERSIONS}, got {pv!r}")


def decode_envelope(data: bytes, *, local_key: str | bytes) -> MqttEnvelope:
    """Open a §5 envelope, detecting the version from its first 3 bytes and verifying its integrity
    check (2.1 md5 sign, 2.2 CRC-32, 2.3 GCM tag)."""
    key = _key_bytes(local_key)
    version = bytes(data[:3])
    if version == b"2.1":
        return _decode_pv21(bytes(data), key)
    if version == b"2.2":
        if len(data) < _PV22_HEADER.size + 8:
            raise RemoteProtocolError(f"2.2 envelope of {len(data)} bytes is shorter than its 15-byte header",
                                      section=SECTION)
        _, crc = _PV22_HEADER.unpack(data[: _PV22_HEADER.size])
        rest = bytes(data[_PV22_HEADER.size :])
        if zlib.crc32(rest) != crc:
            raise RemoteProtocolError(f"2.2 CRC-32 {crc:08x} does not match the computed {zlib.crc32(rest):08x}",
                                      section=SECTION)
        counter = rest[:8]
        seq, source = _PV22_COUNTER.unpack(counter)
        stamp = counter.decode("ascii") if counter.isdigit() else None
        return MqttEnvelope("2.2", _ecb_decrypt(key, rest[8:]), seq=seq, source=source, stamp=stamp)
    if version == b"2.3":
        if len(data) < _PV23_HEADER.size + NONCE_LEN + TAG_LEN:
            raise RemoteProtocolError(f"2.3 envelope of {len(data)} bytes is shorter than header, nonce and tag",
                                      section=SECTION)
        _, seq, source, reserved = _PV23_HEADER.unpack(data[: _PV23_HEADER.size])
        if reserved:
            raise RemoteProtocolError(f"2.3 reserved byte must be 0, got {reserved}", section=SECTION)
        nonce = bytes(data[_PV23_HEADER.size : _PV23_HEADER.size + NONCE_LEN])
        try:
            plaintext = AESGCM(key).decrypt(nonce, bytes(data[_PV23_HEADER.size + NONCE_LEN :]),
                                            bytes(data[: _PV23_HEADER.size]))
        except InvalidTag:
            raise RemoteProtocolError("2.3 GCM tag does not verify (wrong key, or header, nonce or ciphertext "
                                      "altered)", section=SECTION) from None
        return MqttEnvelope("2.3", plaintext, seq=seq, source=source, nonce=nonce)
    raise RemoteProtocolError(f"unknown envelope version {version!r}; expected 2.1, 2.2 or 2.3", section=SECTION)


def _decode_pv21(data: bytes, key: bytes) -> MqttEnvelope:
    sign, b64 = data[3:19], data[19:]
    if len(sign) != 16:
        raise RemoteProtocolError(f"2.1 envelope of {len(data)} bytes is shorter than its 19-byte header",
                                  section=SECTION)
    if sign != _pv21_sign(b64, key):
        raise RemoteProtocolError("2.1 sign does not match md5(data=B64||pv=2.1||localKey)[8:24]", section=SECTION)
    try:
        ciphertext = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise RemoteProtocolError("2.1 body is not valid base64", section=SECTION) from None
    return MqttEnvelope("2.1", _ecb_decrypt(key, ciphertext))


def encode_message(message: MqttMessage, *, local_key: str | bytes, pv: ProtocolVersion = "2.2", seq: int = 0,
                   source: int = FROM_DEVICE, stamp: str | None = None, nonce: bytes | None = None) -> bytes:
    """``message`` as a PUBLISH payload: its compact JSON (:meth:`MqttMessage.to_json`) in a §5 envelope."""
    if not isinstance(message, MqttMessage):
        raise LocalProtocolError("message must be an MqttMessage")
    return encode_envelope(message.to_json(), local_key=local_key, pv=pv, seq=seq, source=source, stamp=stamp,
                           nonce=nonce)


def decode_message(data: bytes, *, local_key: str | bytes) -> MqttMessage:
    """A PUBLISH payload back to its message (any of 2.1, 2.2, 2.3)."""
    return parse_message_json(decode_envelope(data, local_key=local_key).plaintext)


__all__ = [
    "FROM_DEVICE", "NONCE_LEN", "PROTOCOL_VERSIONS", "TAG_LEN", "MqttCredentials", "MqttEnvelope", "MqttMessage",
    "MqttProtocol", "ParsedTopic", "ProtocolVersion", "TopicKind", "active_token_message", "active_token_pv",
    "decode_envelope", "decode_message", "device_credentials", "dp_command", "dp_report", "encode_envelope",
    "encode_message", "parse_message_json", "parse_topic", "preactivation_credentials", "preactivation_topic",
    "reset_message", "rpc_file", "rpc_req", "rpc_rsp", "topic_in", "topic_out", "tuya_convert_stamp", "unbind_message",
]
