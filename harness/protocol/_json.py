"""Strict JSON text for the codecs that carry JSON (AP config §3, MQTT §5).

The devices parse with small C parsers (cJSON); Python's ``json`` accepts things they do not and that
the specification never produces: ``NaN``/``Infinity``, duplicate keys (which one wins differs between
parsers, so a duplicated ``ssid`` is ambiguous), and nesting deep enough to exhaust the recursion limit.
Every failure here surfaces as a :class:`RemoteProtocolError` naming the section the caller passes, so
that decoders keep the fuzz invariant: any input parses or raises ProtocolError, nothing else.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from .errors import LocalProtocolError, RemoteProtocolError


def _no_constants(name: str) -> NoReturn:
    raise ValueError(f"non-standard JSON constant {name}")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def load_json_object(data: bytes, *, what: str, section: str) -> dict[str, Any]:
    """Decode ``data`` as UTF-8 JSON whose top level is an object, or raise RemoteProtocolError."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RemoteProtocolError(f"{what} is not valid UTF-8: {exc.reason} at byte {exc.start}",
                                  section=section) from None
    try:
        value = json.loads(text, object_pairs_hook=_unique_object, parse_constant=_no_constants)
    except RecursionError:
        raise RemoteProtocolError(f"{what} is JSON nested too deeply to parse", section=section) from None
    except ValueError as exc:  # JSONDecodeError, duplicate keys, constants, over-long integers
        raise RemoteProtocolError(f"{what} is not valid JSON: {exc}", section=section) from None
    if not isinstance(value, dict):
        raise RemoteProtocolError(f"{what} must be a JSON object, got {type(value).__name__}", section=section)
    return value


def dump_json(value: object, *, what: str, separators: tuple[str, str] = (",", ":"), ensure_ascii: bool = False,
              sort_keys: bool = False) -> bytes:
    """Encode ``value`` as UTF-8 JSON; a value JSON cannot carry is the caller's mistake."""
    try:
        text = json.dumps(value, separators=separators, ensure_ascii=ensure_ascii, sort_keys=sort_keys,
                          allow_nan=False)
        return text.encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:  # UnicodeEncodeError (lone surrogates) is a ValueError
        raise LocalProtocolError(f"{what} cannot be encoded as JSON: {exc}") from None
