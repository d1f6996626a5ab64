"""Reading the remote cloud's answers (the app API's ``result`` values, :mod:`harness.adapters.remote`): a member that
must be there, a list, a token attempt the model can hold, an excerpt of a body for an error message. Anything else
is an :class:`~harness.adapters.contracts.AdapterError`: the cloud answered something the app API does not say.
"""

from __future__ import annotations

from typing import Any

from harness.adapters.contracts import AdapterError
from harness.model import AttemptSummary


def answer_field(result: Any, key: str) -> Any:
    if not isinstance(result, dict) or key not in result:
        raise AdapterError(f"the remote cloud's answer has no {key!r}: {result!r}")
    return result[key]


def answer_list(result: Any, what: str) -> list[Any]:
    if not isinstance(result, list):
        raise AdapterError(f"the remote cloud's {what} are not a list: {result!r}")
    return result


def answer_attempt(raw: Any) -> AttemptSummary:
    if not isinstance(raw, dict):
        raise AdapterError(f"the remote cloud listed an attempt that is not an object: {raw!r}")
    activated = raw.get("outcome") == "activated"
    code = raw.get("errorCode")
    try:
        return AttemptSummary(at=float(raw.get("at") or 0.0), outcome="activated" if activated else "refused",
                              error_code=None if activated else str(code or "UNKNOWN"),
                              error_msg=None if raw.get("errorMsg") is None else str(raw["errorMsg"]),
                              dev_id=None if raw.get("devId") is None else str(raw["devId"]),
                              home=None if raw.get("home") is None else str(raw["home"]))
    except (TypeError, ValueError) as exc:
        raise AdapterError(f"the remote cloud listed an attempt the model cannot hold: {raw!r} ({exc})") from exc


def excerpt(raw: bytes, limit: int = 300) -> str:
    """A short, printable excerpt of an answer body for an error message."""
    text = raw[:limit].decode("utf-8", "replace")
    return text + ("..." if len(raw) > limit else "")


__all__ = ["answer_attempt", "answer_field", "answer_list", "excerpt"]
