"""JSON objects for the AP (§3) and MQTT (§5) codecs, on top of :mod:`strictjson`.

Parsing is :func:`strictjson.loads_json` (UTF-8 only, no NaN, no duplicate keys, bounded size and depth,
nothing but RemoteProtocolError escaping) plus "the top level is an object". Encoding takes the
separators and escaping the AP payload styles need, and reports an unencodable value as the caller's
mistake (LocalProtocolError).
"""

from __future__ import annotations

import json
from typing import Any

from .errors import LocalProtocolError, RemoteProtocolError
from .strictjson import loads_json


def load_json_object(data: bytes, *, what: str, section: str) -> dict[str, Any]:
    """Decode ``data`` as strict UTF-8 JSON (:func:`strictjson.loads_json`) whose top level is an object."""
    value = loads_json(data, what=what, section=section)
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
