"""The emulated cloud's records: products, licences, accounts, homes, devices, notifications, and the random
identifiers it makes.

Plain mutable dataclasses owned by :class:`~harness.emulator.cloud.state.CloudState` (which guards them with
its lock), each with ``to_dict``/``from_dict`` so the SQLite store can keep them as JSON rows. Secrets
(AuthKey, secKey, localKey) live here in the clear, as a cloud keeps them; ``__repr__`` never shows them.
"""

from __future__ import annotations

import functools
import json
import re
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

from harness.model.binding import BindingMode, Role

PID_LEN = 16
UUID_LEN = 20
AUTH_KEY_LEN = 32
DEV_ID_LEN = 20
KEY_LEN = 16

# DP types and modes a product schema may use (the Tuya DP model: bool, value, enum, string, raw, bitmap).
DP_TYPES = frozenset({"bool", "value", "enum", "string", "raw", "bitmap"})
DP_MODES = frozenset({"rw", "ro", "wr"})
_PID_RE = re.compile(r"[A-Za-z0-9]{16}")
_CODE_RE = re.compile(r"[A-Za-z0-9_]{1,64}")
ALNUM = string.ascii_letters + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits


def random_text(length: int, alphabet: str = ALNUM) -> str:
    """``length`` characters of ``alphabet`` from a cryptographic RNG, uniformly (bytes past the largest
    multiple of the alphabet's size are rejected, so no character is likelier than another)."""
    table, rejected = _byte_table(alphabet)
    out = b""
    for _ in range(64):  # each round keeps over 3/4 of its bytes: 64 rounds never run out in practice
        out += secrets.token_bytes(length + length // 4 + 4).translate(table, rejected)
        if len(out) >= length:
            return out[:length].decode("ascii")
    raise RuntimeError("the system RNG kept returning rejected bytes")


@functools.cache
def _byte_table(alphabet: str) -> tuple[bytes, bytes]:
    """For ``bytes.translate``: byte b becomes ``alphabet[b % size]``, and the bytes at or past the largest
    multiple of the size are deleted (the rejection that keeps the draw uniform). ASCII alphabets only."""
    if not alphabet.isascii() or not 1 <= len(alphabet) <= 256:
        raise ValueError("random_text draws from an ASCII alphabet of 1 to 256 characters")
    size = len(alphabet)
    limit = 256 - 256 % size
    return bytes(ord(alphabet[b % size]) if b < limit else 0 for b in range(256)), bytes(range(limit, 256))


class CloudInputError(ValueError):
    """A lab or app request the cloud refuses as malformed (bad PID, unknown home, ...).

    ``code`` is the errorCode the app API answers with; ``status`` the HTTP status it uses.
    """

    def __init__(self, code: str, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class DpSchema:
    """One data point of a product's schema: id, code, type and access mode."""

    id: int
    code: str
    type: str
    mode: str = "rw"

    def __post_init__(self) -> None:
        if type(self.id) is not int or not 1 <= self.id <= 255:
            raise CloudInputError("ILLEGAL_PARAM", f"DP id must be an integer 1..255, got {self.id!r}")
        if not isinstance(self.code, str) or not _CODE_RE.fullmatch(self.code):
            raise CloudInputError("ILLEGAL_PARAM", f"DP code must be 1-64 of [A-Za-z0-9_], got {self.code!r}")
        if not isinstance(self.type, str) or self.type not in DP_TYPES:
            raise CloudInputError("ILLEGAL_PARAM", f"DP type must be one of {sorted(DP_TYPES)}, got {self.type!r}")
        if not isinstance(self.mode, str) or self.mode not in DP_MODES:
            raise CloudInputError("ILLEGAL_PARAM", f"DP mode must be one of {sorted(DP_MODES)}, got {self.mode!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "code": self.code, "type": self.type, "mode": self.mode}

    @classmethod
    def from_dict(cls, raw: Any) -> DpSchema:
        if not isinstance(raw, dict):
            raise CloudInputError("ILLEGAL_PARAM", "a DP definition is an object {id, code, type, mode}")
        return cls(id=raw.get("id"), code=raw.get("code"), type=raw.get("type"),  # type: ignore[arg-type]
                   mode=raw.get("mode", "rw"))


@functools.lru_cache(maxsize=64)
def _schema_json(schema: tuple[DpSchema, ...]) -> str:
    """A schema as a JSON array string; the same for every activation of a product, so built once."""
    entries = [
        {"id": dp.id, "code": dp.code, "mode": dp.mode, "type": "obj", "property": {"type": dp.type}}
        for dp in schema
    ]
    return json.dumps(entries, separators=(",", ":"))


DEFAULT_SCHEMA: tuple[DpSchema, ...] = (DpSchema(1, "switch", "bool", "rw"),)


@dataclass
class Product:
    """A product: PID (16 characters), name, category, binding mode and DP schema."""

    pid: str
    name: str
    category: str
    binding_mode: BindingMode
    schema: tuple[DpSchema, ...] = DEFAULT_SCHEMA
    schema_id: str = "0000000000"

    def __post_init__(self) -> None:
        if not isinstance(self.pid, str) or not _PID_RE.fullmatch(self.pid):
            raise CloudInputError("ILLEGAL_PARAM", f"a PID is 16 characters of [A-Za-z0-9], got {self.pid!r}")
        ids = [dp.id for dp in self.schema]
        if len(set(ids)) != len(ids):
            raise CloudInputError("ILLEGAL_PARAM", f"DP ids must be unique in a schema, got {ids}")

    def schema_json(self) -> str:
        """The schema as the activation answer carries it: a *string* holding a JSON array (§4.3)."""
        return _schema_json(self.schema)

    def to_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "name": self.name, "category": self.category,
                "binding_mode": self.binding_mode.value, "schema": [dp.to_dict() for dp in self.schema],
                "schema_id": self.schema_id}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Product:
        return cls(pid=raw["pid"], name=raw["name"], category=raw["category"],
                   binding_mode=BindingMode(raw["binding_mode"]),
                   schema=tuple(DpSchema.from_dict(dp) for dp in raw["schema"]), schema_id=raw["schema_id"])


@dataclass
class LicenceRecord:
    """A licence (UUID + AuthKey, §8), tied to the hardware id of the first device that activates it."""

    uuid: str
    auth_key: str = field(repr=False)
    pid: str
    revoked: bool = False
    hid: str | None = None
    dev_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"uuid": self.uuid, "auth_key": self.auth_key, "pid": self.pid, "revoked": self.revoked,
                "hid": self.hid, "dev_id": self.dev_id}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> LicenceRecord:
        return cls(**raw)


@dataclass
class Account:
    """An app account; ``password_hash`` (scrypt, see :mod:`.auth`) is what its login is checked against."""

    account_id: str
    name: str
    password_hash: str | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        raw: dict[str, Any] = {"account_id": self.account_id, "name": self.name}
        if self.password_hash is not None:
            raw["password_hash"] = self.password_hash
        return raw

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Account:
        return cls(**raw)


@dataclass
class Home:
    """A home (space) with its owner and the roles of its other members."""

    home_id: str
    name: str
    owner: str
    members: dict[str, Role] = field(default_factory=dict)

    def role_of(self, account_id: str) -> Role | None:
        if account_id == self.owner:
            return Role.OWNER
        return self.members.get(account_id)

    def admins(self) -> list[str]:
        """The accounts that administer this home: its owner and its admins (§6 medium-mode push)."""
        return [self.owner, *sorted(a for a, r in self.members.items() if r is Role.ADMIN)]

    def to_dict(self) -> dict[str, Any]:
        return {"home_id": self.home_id, "name": self.name, "owner": self.owner,
                "members": {a: r.value for a, r in self.members.items()}}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Home:
        return cls(home_id=raw["home_id"], name=raw["name"], owner=raw["owner"],
                   members={a: Role(r) for a, r in raw["members"].items()})


@dataclass
class ActivationEvent:
    """One line of a device's activation history."""

    at: float
    event: str  # "activated", "removed", "removed+wiped", "device-reset"
    home: str | None
    account: str | None
    hid: str | None = None
    reset_factory: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at, "event": self.event, "home": self.home, "account": self.account, "hid": self.hid,
                "reset_factory": self.reset_factory}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ActivationEvent:
        return cls(**raw)


@dataclass
class Device:
    """A device in the registry (§4.3 activation result, §5 MQTT identity)."""

    dev_id: str
    uuid: str
    pid: str
    sec_key: str = field(repr=False)
    local_key: str = field(repr=False)
    home: str | None = None
    account: str | None = None
    hid: str | None = None
    online: bool = False
    dps: dict[str, Any] = field(default_factory=dict)
    history: list[ActivationEvent] = field(default_factory=list)
    data_wipe_pending: bool = False
    activated_at: float | None = None
    last_seen: float | None = None
    versions: str | None = None  # §11.5 tuya.device.versions.update, as the device last sent it
    protocol_ver: str | None = None  # §11.9.5: the MQTT protocol version the activation announced
    report_pv: str | None = None  # §5: the envelope version of the last DP report read from the device
    reports: int = 0  # protocol-4 DP reports recorded since the latest activation (§5)

    @property
    def bound(self) -> bool:
        return self.home is not None

    def public_dict(self, *, history: bool = True) -> dict[str, Any]:
        """What the app API shows of a device: everything but its keys (without ``history``: its length only, as
        ``historyLength``, for readers that poll a device whose history grows with every test)."""
        lines: dict[str, Any] = ({"history": [h.to_dict() for h in self.history]} if history
                                 else {"historyLength": len(self.history)})
        return {"devId": self.dev_id, "uuid": self.uuid, "productKey": self.pid, "home": self.home,
                "account": self.account, "online": self.online, "dps": dict(self.dps),
                "dataWipePending": self.data_wipe_pending, "activatedAt": self.activated_at,
                **lines, "versions": self.versions,
                "protocolVer": self.protocol_ver, "reportPv": self.report_pv, "reports": self.reports}

    def to_dict(self) -> dict[str, Any]:
        raw = {"dev_id": self.dev_id, "uuid": self.uuid, "pid": self.pid, "sec_key": self.sec_key,
               "local_key": self.local_key, "home": self.home, "account": self.account, "hid": self.hid,
               "online": False, "dps": self.dps, "history": [h.to_dict() for h in self.history],
               "data_wipe_pending": self.data_wipe_pending, "activated_at": self.activated_at,
               "last_seen": self.last_seen, "versions": self.versions, "protocol_ver": self.protocol_ver,
               "report_pv": self.report_pv, "reports": self.reports}
        return raw

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Device:
        fields = dict(raw)
        fields["history"] = [ActivationEvent.from_dict(h) for h in raw["history"]]
        return cls(**fields)


@dataclass
class Notification:
    """A push to an account: the medium-mode "your device was bound elsewhere" (§6), and the like."""

    id: int
    at: float
    kind: str
    dev_id: str
    home: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at, "kind": self.kind, "devId": self.dev_id, "home": self.home,
                "message": self.message}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Notification:
        return cls(id=raw["id"], at=raw["at"], kind=raw["kind"], dev_id=raw["devId"], home=raw["home"],
                   message=raw["message"])


__all__ = [
    "ALNUM", "AUTH_KEY_LEN", "DEFAULT_SCHEMA", "DEV_ID_LEN", "KEY_LEN", "LOWER_ALNUM", "PID_LEN", "UUID_LEN",
    "Account", "ActivationEvent", "CloudInputError", "Device", "DpSchema", "Home", "LicenceRecord",
    "Notification", "Product", "random_text",
]
