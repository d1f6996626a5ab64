"""The ATOP calls a device makes after activation (PROTOCOL.md §11.4, §11.5), over MQTT and over HTTP.

Over MQTT (MQTT-ATOP, §11.4) the request is plaintext JSON on ``rpc/req/<devId>``; :meth:`MatopService.answer`
gives the plaintext answer for ``rpc/rsp/<devId>``: success for the APIs this cloud serves, a well-formed error
for the others. Over HTTP, ``tuya.device.versions.update`` v4.1 (§11.5) is answered by the ATOP endpoint
through :meth:`MatopService.versions_update`.

Served (emulator-defined where §11 is silent):

- ``tuya.device.versions.update`` v4.1: success (``true``), the versions string recorded on the device; CK stores
  its version only on success and asks again on every boot otherwise (§11.5);
- ``tuya.device.upgrade.status.update`` v4.1: success (``true``);
- ``tuya.device.reset`` v4.0 (TO's ``tuya_iot_reset()`` sends it over MQTT-ATOP, §6): success, and the device is
  unbound as by the HTTP call (``"type":"reset_factory"`` in its data also clears its DPs);
- ``tuya.device.upgrade.silent.get`` and ``tuya.device.upgrade.get`` v4.4: the cloud offers no firmware, and
  says so with the error ``NOUPDATE`` (the AK mocks' code): a success would make CK raise an upgrade event
  for whatever ``result`` held;
- anything else: the error ``UNKNOWN_API``.
"""

from __future__ import annotations

import logging
from typing import Any

from harness.model.errors import CloudError
from harness.protocol.atop import API_RESET
from harness.protocol.errors import ProtocolError
from harness.protocol.matop import (
    API_UPGRADE_GET,
    API_UPGRADE_SILENT_GET,
    API_UPGRADE_STATUS_UPDATE,
    API_VERSIONS_UPDATE,
    MatopRequest,
    MatopResponse,
    matop_error,
    matop_success,
    parse_versions_body,
)
from harness.protocol.strictjson import loads_json

from .state import CloudState

log = logging.getLogger(__name__)

UPGRADE_QUERIES = frozenset({API_UPGRADE_SILENT_GET, API_UPGRADE_GET})


def _request_id(payload: bytes) -> int | None:
    """The ``id`` of a request too broken to parse otherwise, so that its error still reaches the device."""
    try:
        obj = loads_json(payload, section="§11.4", what="MQTT-ATOP request")
    except ProtocolError:
        return None
    ident = obj.get("id") if isinstance(obj, dict) else None
    return ident if type(ident) is int and 0 <= ident < 2**32 else None


class MatopService:
    """The device's post-activation ATOP calls, against one cloud's state."""

    def __init__(self, state: CloudState) -> None:
        self.state = state

    def now(self) -> int:
        return int(self.state.clock.time())

    # -- HTTP (§11.5) -------------------------------------------------------------------------------------

    def versions_update(self, dev_id: str, body: Any) -> tuple[bool, str]:
        """Record a versions.update body for ``dev_id``: (True, versions) or (False, why it was refused)."""
        try:
            versions = parse_versions_body(body)
        except ProtocolError as exc:
            return False, exc.message
        if not self.state.record_device_info(dev_id, versions=versions):
            return False, f"device {dev_id} is not bound"
        log.info("device %s reported its versions: %s", dev_id, versions)
        return True, versions

    # -- MQTT (§11.4) -------------------------------------------------------------------------------------

    def answer(self, dev_id: str, payload: bytes) -> bytes | None:
        """The plaintext answer to an MQTT-ATOP request from ``dev_id`` (None: no id to answer to)."""
        try:
            request = MatopRequest.from_json(payload)
        except ProtocolError as exc:
            ident = _request_id(payload)
            if ident is None:
                return None
            return matop_error(ident, CloudError.ILLEGAL_PARAM.value, exc.message, t=self.now()).to_json()
        return self.respond(dev_id, request).to_json()

    def respond(self, dev_id: str, request: MatopRequest) -> MatopResponse:
        api = (request.api, request.version or "")
        t = self.now()
        if api == API_VERSIONS_UPDATE:
            ok, detail = self.versions_update(dev_id, request.data)
            return matop_success(request, True, t=t) if ok else \
                matop_error(request.id, CloudError.ILLEGAL_PARAM.value, detail, t=t)
        if api == API_UPGRADE_STATUS_UPDATE:
            return matop_success(request, True, t=t)
        if api == API_RESET:
            factory = isinstance(request.data, dict) and request.data.get("type") == "reset_factory"
            if not self.state.device_reset(dev_id, factory=factory):
                return matop_error(request.id, CloudError.GATEWAY_NOT_EXISTS.value, "device is not bound", t=t)
            log.info("device %s reset itself over MQTT-ATOP (factory=%s)", dev_id, factory)
            return matop_success(request, True, t=t)
        if api in UPGRADE_QUERIES:
            return matop_error(request.id, CloudError.NOUPDATE.value, "no firmware is offered to this device", t=t)
        return matop_error(request.id, CloudError.UNKNOWN_API.value,
                           f"{request.api} v{request.version} is not served by this cloud", t=t)


__all__ = ["UPGRADE_QUERIES", "MatopService"]
