"""The typed records an activation carries (PROTOCOL.md §4.2, §4.3): the activation body the device sends and the result
the cloud answers, checked field by field, with the key orders the SDK families write."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from harness.protocol.errors import LocalProtocolError, RemoteProtocolError
from harness.protocol.strictjson import dumps_compact, loads_json

from .exchange import S_REQ, S_RESP, _checked

# ------------------------------------------------------------------------------------- typed records


@dataclass(frozen=True)
class _Field:
    """One member of a JSON record: its wire name, type, whether required, its size limits."""

    wire: str
    attr: str
    kind: type
    required: bool
    max_len: int = 0  # for str: the longest allowed; for int: the largest allowed value
    min_len: int = 1
    embedded: type | None = None  # for str: the JSON type the string must hold (§4.2 options, modules)


def _is_unicode(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@functools.lru_cache(maxsize=256)
def _embedded_problem(wire: str, value: str, embedded: type) -> str | None:
    """Why the string ``value`` of member ``wire`` does not hold a JSON ``embedded``, or None. Cached: a cloud
    answers every activation of a product with the same schema string, and devices send the same options."""
    try:
        inner = loads_json(value, section=S_REQ, what=wire)
    except RemoteProtocolError:
        return f"{wire} must be a string holding JSON"
    if not isinstance(inner, embedded):
        return f"{wire} must hold a JSON {'object' if embedded is dict else 'array'}"
    return None


def _field_problem(f: _Field, value: Any) -> str | None:
    if f.kind is str and type(value) is str and f.min_len <= len(value) <= f.max_len and value.isascii():
        # the common case first: a short ASCII string (ASCII is Unicode text), only its embedded JSON to check
        return None if f.embedded is None else _embedded_problem(f.wire, value, f.embedded)
    if f.kind is int:
        if type(value) is not int:
            return f"{f.wire} must be an integer, got {type(value).__name__}"
        if not 0 <= value <= f.max_len:
            return f"{f.wire}={value} is outside 0..{f.max_len}"
        return None
    if f.kind is bool:
        return None if isinstance(value, bool) else f"{f.wire} must be a boolean, got {type(value).__name__}"
    if f.kind is list:
        return None if isinstance(value, list | tuple) else f"{f.wire} must be an array, got {type(value).__name__}"
    if not isinstance(value, str):
        return f"{f.wire} must be a string, got {type(value).__name__}"
    if not _is_unicode(value):
        return f"{f.wire} holds a lone surrogate: not Unicode text"
    if len(value) > f.max_len:
        return f"{f.wire} is oversize: {len(value)} characters, at most {f.max_len}"
    if len(value) < f.min_len:
        return f"{f.wire} is too short: {len(value)} characters, at least {f.min_len}"
    if f.embedded is not None:
        return _embedded_problem(f.wire, value, f.embedded)
    return None


_ErrorType = type[LocalProtocolError] | type[RemoteProtocolError]


def _check_record(obj: Mapping[str, Any], fields: tuple[_Field, ...], error: _ErrorType, section: str) -> None:
    for f in fields:
        if f.wire not in obj or obj[f.wire] is None:
            if f.required:
                raise error(f"{f.wire} is missing", section=section)
            continue
        problem = _field_problem(f, obj[f.wire])
        if problem:
            raise error(problem, section=section)


def _check_fields(record: Any, fields: tuple[_Field, ...], error: _ErrorType, section: str) -> None:
    """:func:`_check_record` on a record's attributes (None: absent), without building its dict first."""
    for f in fields:
        value = getattr(record, f.attr)
        if value is None:
            if f.required:
                raise error(f"{f.wire} is missing", section=section)
            continue
        problem = _field_problem(f, value)
        if problem:
            raise error(problem, section=section)


_ATTRS: dict[tuple[int, tuple[str, ...]], tuple[tuple[str, str], ...]] = {}


def _attrs(fields: tuple[_Field, ...], order: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(wire name, attribute) of a record's fields in a key order; kept by the identity of the (module-level)
    field tuple, whose hash would hash every field."""
    key = (id(fields), order)
    found = _ATTRS.get(key)
    if found is None:
        by_wire = {f.wire: f for f in fields}
        found = _ATTRS[key] = tuple((wire, by_wire[wire].attr) for wire in order)
    return found


def _record_dict(record: Any, fields: tuple[_Field, ...], order: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for wire, attr in _attrs(fields, order):
        value = getattr(record, attr)
        if value is not None:
            out[wire] = list(value) if isinstance(value, tuple) else value
    out.update(record.extras)
    return out


def _record_kwargs(obj: Mapping[str, Any], fields: tuple[_Field, ...]) -> dict[str, Any]:
    known = {f.wire for f in fields}
    kwargs: dict[str, Any] = {f.attr: obj[f.wire] for f in fields if obj.get(f.wire) is not None}
    kwargs["extras"] = {k: v for k, v in obj.items() if k not in known}
    return kwargs


def _check_extras(extras: Mapping[str, Any], fields: tuple[_Field, ...], error: _ErrorType, section: str) -> None:
    if not extras:
        return
    clash = {f.wire for f in fields} & set(extras)
    if clash:
        raise error(f"extras repeat record fields {sorted(clash)}", section=section)
    try:
        dumps_compact(dict(extras)).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:  # UnicodeEncodeError is a ValueError
        raise error(f"members outside the record are not JSON text: {exc}", section=section) from None


_MAX_T = 2**40
_MAX_STR = 64 * 1024

# §4.2 "Activation body fields". devAttribute is optional here: CC's request (vectors/atop_mqtt.json) omits it.
ACTIVATION_FIELDS: Final = (
    _Field("token", "token", str, True, 8),  # §0: the middle 8 characters of the 14-character token
    _Field("softVer", "soft_ver", str, True, 32),
    _Field("productKey", "product_key", str, True, 16),  # §8: "PID (productKey) is 16 characters"
    _Field("protocolVer", "protocol_ver", str, True, 16),
    _Field("baselineVer", "baseline_ver", str, True, 16),
    _Field("options", "options", str, True, 1024, embedded=dict),  # "a *string* holding JSON"
    _Field("productKeyStr", "product_key_str", str, False, 32),
    _Field("devId", "dev_id", str, False, 25),
    _Field("modules", "modules", str, False, 8192, embedded=list),
    _Field("devAttribute", "dev_attribute", int, False, 2**32 - 1),
    _Field("cadVer", "cad_ver", str, True, 16),
    _Field("cdVer", "cd_ver", str, True, 16),
    _Field("t", "t", int, True, _MAX_T),
    _Field("hid", "hid", str, False, 32),  # MAC without colons (CC)
)
# Key orders as the two SDK families build the body (§4.2): TO/CK, and CC's (the vector's).
ACTIVATION_ORDER_TO: Final = tuple(f.wire for f in ACTIVATION_FIELDS)
ACTIVATION_ORDER_CC: Final = (
    "token", "softVer", "productKey", "protocolVer", "baselineVer", "productKeyStr", "devId", "modules",
    "devAttribute", "cadVer", "cdVer", "options", "t", "hid",
)


@dataclass(frozen=True)
class ActivationRequest:
    """The JSON body of ``tuya.device.active`` v4.4 (et=1) and ``thing.device.opensdk.active`` v1.0 (et=3).

    ``options`` and ``modules`` are *strings* holding JSON, as on the wire (§4.2). ``extras`` keeps
    members outside the list (``feature``, ``skillParam``, ...), emitted after the known ones.
    """

    token: str
    soft_ver: str
    product_key: str
    protocol_ver: str
    baseline_ver: str
    options: str
    cad_ver: str
    cd_ver: str
    t: int
    product_key_str: str | None = None
    dev_id: str | None = None
    modules: str | None = None
    dev_attribute: int | None = None
    hid: str | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_extras(self.extras, ACTIVATION_FIELDS, LocalProtocolError, S_REQ)
        _check_fields(self, ACTIVATION_FIELDS, LocalProtocolError, S_REQ)

    def to_dict(self, *, order: tuple[str, ...] = ACTIVATION_ORDER_TO) -> dict[str, Any]:
        return _record_dict(self, ACTIVATION_FIELDS, order)

    def to_json(self, *, order: tuple[str, ...] = ACTIVATION_ORDER_TO) -> str:
        """Compact JSON; ``order=ACTIVATION_ORDER_CC`` reproduces cloudcutter's key order."""
        return dumps_compact(self.to_dict(order=order))

    @property
    def options_obj(self) -> dict[str, Any]:
        """The decoded ``options`` object (``otaChannel``, ``isFK``)."""
        value: dict[str, Any] = json.loads(self.options)
        return value

    @classmethod
    def from_json(cls, data: str | bytes) -> ActivationRequest:
        """Strict: a RemoteProtocolError names the member that is missing, mistyped or oversize (§4.2)."""
        obj = loads_json(data, section=S_REQ, what="activation body")
        if not isinstance(obj, dict):
            raise RemoteProtocolError("activation body is not a JSON object", section=S_REQ)
        _check_record(obj, ACTIVATION_FIELDS, RemoteProtocolError, S_REQ)
        kwargs = _record_kwargs(obj, ACTIVATION_FIELDS)
        _check_extras(kwargs["extras"], ACTIVATION_FIELDS, RemoteProtocolError, S_REQ)
        return _checked(cls, kwargs)


# §4.3 "Activation result fields": required by TO devId, secKey, localKey, schemaId, schema.
RESULT_FIELDS: Final = (
    _Field("devId", "dev_id", str, True, 25),  # "devId is 20 characters in the CC emulation (TO allows 25)"
    _Field("secKey", "sec_key", str, True, 16, min_len=16),  # "secKey and localKey are 16 characters each"
    _Field("localKey", "local_key", str, True, 16, min_len=16),
    _Field("schemaId", "schema_id", str, True, 32),
    _Field("schema", "schema", str, True, _MAX_STR, embedded=list),  # "a *string* containing a JSON array"
    _Field("resetFactory", "reset_factory", bool, False),
    _Field("timeZone", "time_zone", str, False, 16),
    _Field("stdTimeZone", "std_time_zone", str, False, 16),
    _Field("dstIntervals", "dst_intervals", list, False),
    _Field("capability", "capability", int, False, 2**32 - 1),
)
RESULT_ORDER: Final = tuple(f.wire for f in RESULT_FIELDS)


@dataclass(frozen=True)
class ActivationResult:
    """The ``result`` of a successful activation (§4.3). ``reset_factory`` true makes TO wipe its data (§6)."""

    dev_id: str
    sec_key: str
    local_key: str
    schema_id: str
    schema: str
    reset_factory: bool = False
    time_zone: str | None = None
    std_time_zone: str | None = None
    dst_intervals: Sequence[Any] | None = None
    capability: int | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.dst_intervals is not None and not isinstance(self.dst_intervals, tuple):
            object.__setattr__(self, "dst_intervals", tuple(self.dst_intervals))
        _check_extras(self.extras, RESULT_FIELDS, LocalProtocolError, S_RESP)
        _check_fields(self, RESULT_FIELDS, LocalProtocolError, S_RESP)

    def to_dict(self) -> dict[str, Any]:
        return _record_dict(self, RESULT_FIELDS, RESULT_ORDER)

    def to_json(self) -> str:
        return dumps_compact(self.to_dict())

    @classmethod
    def from_dict(cls, obj: Any) -> ActivationResult:
        """From the decoded ``result`` object; RemoteProtocolError names the offending member (§4.3)."""
        if not isinstance(obj, dict):
            raise RemoteProtocolError("activation result is not a JSON object", section=S_RESP)
        _check_record(obj, RESULT_FIELDS, RemoteProtocolError, S_RESP)
        kwargs = _record_kwargs(obj, RESULT_FIELDS)
        _check_extras(kwargs["extras"], RESULT_FIELDS, RemoteProtocolError, S_RESP)
        if kwargs.get("dst_intervals") is not None:
            kwargs["dst_intervals"] = tuple(kwargs["dst_intervals"])
        return _checked(cls, kwargs)

    @classmethod
    def from_json(cls, data: str | bytes) -> ActivationResult:
        return cls.from_dict(loads_json(data, section=S_RESP, what="activation result"))


__all__ = [
    "ACTIVATION_FIELDS", "ACTIVATION_ORDER_CC", "ACTIVATION_ORDER_TO", "RESULT_FIELDS", "ActivationRequest",
    "ActivationResult"
]
