"""Strict JSON for the codecs: compact output, and input that is JSON or a RemoteProtocolError.

Strict means UTF-8 only, no NaN or Infinity, no duplicate member names, bounded size, and no Python
exception other than :class:`~harness.protocol.errors.RemoteProtocolError` escaping, even for input
nested deeply enough to exhaust the recursion limit (the fuzz invariant of STYLE.md).
"""

from __future__ import annotations

import json
from typing import Any, Final

from harness.protocol.errors import RemoteProtocolError

MAX_JSON_BYTES: Final = 256 * 1024


def dumps_compact(value: Any) -> str:
    """``json.dumps`` with ``(",", ":")`` separators, UTF-8 kept as is, NaN refused (the SDKs' style)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):  # only then look for the name that came twice
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise ValueError(f"duplicate key {name!r}")
            seen.add(name)
    return out


def loads_json(data: str | bytes | bytearray, *, section: str, what: str) -> Any:
    """Parse ``data``; anything that is not strict JSON raises RemoteProtocolError naming ``what``."""
    if not isinstance(data, str | bytes | bytearray):
        raise RemoteProtocolError(f"{what} is not text", section=section)
    if len(data) > MAX_JSON_BYTES:
        raise RemoteProtocolError(f"{what} over {MAX_JSON_BYTES} bytes", section=section)
    try:
        text = data if isinstance(data, str) else bytes(data).decode("utf-8")
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError) as exc:
        raise RemoteProtocolError(f"{what} is not valid JSON: {exc}", section=section) from None


__all__ = ["MAX_JSON_BYTES", "dumps_compact", "loads_json"]
