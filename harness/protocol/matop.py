"""MQTT-ATOP (PROTOCOL.md §11.4): ATOP calls a device makes over its MQTT session.

After activation a genuine device publishes requests as **plaintext JSON** (not a 2.x envelope), QoS 0, on
``rpc/req/<devId>``: ``{"id":1,"a":"tuya.device.upgrade.silent.get","t":..,"data":{..},"v":"4.4"}`` (CK
``src/matop_service.c``, TO ``cloud/matop_service.c``), and expects a plaintext answer on ``rpc/rsp/<devId>``.
CK reads the answer as ``id`` (a number, matched to its request) and ``data``; ``data.result.success`` says
whether the call succeeded, ``data.result.result`` is the call's result, and on success ``data.t`` is read with
no NULL check, so the answer always carries it. Sans-IO: bytes in, records out, bytes out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from harness.protocol.errors import LocalProtocolError, RemoteProtocolError
from harness.protocol.strictjson import loads_json

S_MATOP: Final = "§11.4"
MAX_ID: Final = 2**32 - 1
MAX_API_LEN: Final = 128
MAX_VERSIONS_LEN: Final = 1024
# §11.5: sent right after activation and on every start, over HTTP (CK) or MQTT-ATOP (TO), signed with the secKey.
API_VERSIONS_UPDATE: Final = ("tuya.device.versions.update", "4.1")
API_UPGRADE_STATUS_UPDATE: Final = ("tuya.device.upgrade.status.update", "4.1")
# §11.4: what both SDKs ask about 1 s after connecting, and the firmware query.
API_UPGRADE_SILENT_GET: Final = ("tuya.device.upgrade.silent.get", "4.4")
API_UPGRADE_GET: Final = ("tuya.device.upgrade.get", "4.4")


def looks_like_matop(payload: bytes) -> bool:
    """Whether an ``rpc/req`` payload is plaintext JSON (MQTT-ATOP) rather than a 2.1/2.2/2.3 envelope (§11.4)."""
    return payload.lstrip(b" \t\r\n")[:1] == b"{"


@dataclass(frozen=True)
class MatopRequest:
    """One MQTT-ATOP request: its id, API name and version, the device's ``t`` and the call's data."""

    id: int
    api: str
    version: str | None
    t: int | None
    data: Any

    def to_json(self) -> bytes:
        """The request as CK builds it: ``id``, ``a``, ``t``, ``data``, then ``v`` when there is one."""
        body: dict[str, Any] = {"id": self.id, "a": self.api, "t": self.t, "data": self.data}
        if self.version is not None:
            body["v"] = self.version
        return json.dumps(body, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, payload: bytes) -> MatopRequest:
        obj = loads_json(payload, section=S_MATOP, what="MQTT-ATOP request")
        if not isinstance(obj, dict):
            raise RemoteProtocolError("an MQTT-ATOP request is a JSON object", section=S_MATOP)
        ident, api, version, t = obj.get("id"), obj.get("a"), obj.get("v"), obj.get("t")
        if type(ident) is not int or not 0 <= ident <= MAX_ID:
            raise RemoteProtocolError(f"MQTT-ATOP id must be an integer 0..{MAX_ID}, got {ident!r}", section=S_MATOP)
        if not isinstance(api, str) or not 0 < len(api) <= MAX_API_LEN:
            raise RemoteProtocolError("MQTT-ATOP 'a' must name the API", section=S_MATOP)
        if version is not None and not (isinstance(version, str) and 0 < len(version) <= 16):
            raise RemoteProtocolError("MQTT-ATOP 'v' must be a short string", section=S_MATOP)
        if t is not None and type(t) is not int:
            raise RemoteProtocolError("MQTT-ATOP 't' must be an integer", section=S_MATOP)
        return cls(id=ident, api=api, version=version, t=t, data=obj.get("data"))


@dataclass(frozen=True)
class MatopResponse:
    """An answer on ``rpc/rsp/<devId>``: success with a result, or an errorCode and message."""

    id: int
    success: bool
    t: int
    result: Any = None
    error_code: str | None = None
    error_msg: str | None = None

    def to_json(self) -> bytes:
        inner: dict[str, Any] = {"success": self.success, "t": self.t}
        if self.success:
            inner["result"] = self.result
        else:
            inner["errorCode"] = self.error_code or "UNKNOWN_API"
            inner["errorMsg"] = self.error_msg or ""
        body = {"id": self.id, "data": {"t": self.t, "result": inner}}
        return json.dumps(body, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, payload: bytes) -> MatopResponse:
        obj = loads_json(payload, section=S_MATOP, what="MQTT-ATOP answer")
        data = obj.get("data") if isinstance(obj, dict) else None
        inner = data.get("result") if isinstance(data, dict) else None
        if not isinstance(obj, dict) or type(obj.get("id")) is not int or not isinstance(inner, dict):
            raise RemoteProtocolError("an MQTT-ATOP answer is {id, data: {t, result: {success, ...}}}",
                                      section=S_MATOP)
        if not isinstance(data, dict):
            raise LocalProtocolError("broken invariant: isinstance(data, dict)")
        t, success = data.get("t"), inner.get("success")
        if type(t) is not int or not isinstance(success, bool):
            raise RemoteProtocolError("an MQTT-ATOP answer needs data.t and data.result.success", section=S_MATOP)
        code, message = inner.get("errorCode"), inner.get("errorMsg")
        return cls(id=obj["id"], success=success, t=t, result=inner.get("result"),
                   error_code=code if isinstance(code, str) else None,
                   error_msg=message if isinstance(message, str) else None)


def parse_versions_body(data: Any) -> str:
    """The ``versions`` string of a ``tuya.device.versions.update`` body, ``{"versions":"..","t":..}`` (CK and TO
    ``atop_service.c``: ``{"versions":"%s","t":%d}``); a RemoteProtocolError when it has none."""
    if isinstance(data, bytes | bytearray | str):
        data = loads_json(data, section="§11.5", what="versions.update body")
    versions = data.get("versions") if isinstance(data, dict) else None
    if not isinstance(versions, str) or not 0 < len(versions) <= MAX_VERSIONS_LEN:
        raise RemoteProtocolError(f"versions.update needs a 'versions' string of 1 to {MAX_VERSIONS_LEN} characters",
                                  section="§11.5")
    return versions


def matop_success(request: MatopRequest, result: Any, *, t: int) -> MatopResponse:
    return MatopResponse(id=request.id, success=True, t=t, result=result)


def matop_error(request_id: int, code: str, message: str, *, t: int) -> MatopResponse:
    return MatopResponse(id=request_id, success=False, t=t, error_code=code, error_msg=message)


__all__ = [
    "API_UPGRADE_GET", "API_UPGRADE_SILENT_GET", "API_UPGRADE_STATUS_UPDATE", "API_VERSIONS_UPDATE", "S_MATOP",
    "MatopRequest", "MatopResponse", "looks_like_matop", "matop_error", "matop_success", "parse_versions_body",
]
