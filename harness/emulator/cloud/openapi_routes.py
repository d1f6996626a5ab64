"""The handlers of the emulated OpenAPI (PROTOCOL.md §10.4, §10.6-§10.9): each takes an authenticated
:class:`~harness.emulator.cloud.openapi_calls.Call` and returns the envelope's ``result``, or raises
:class:`~harness.emulator.cloud.openapi_calls.OpenApiError`. They act through the cloud state's public methods, as the
project (§10.13 rule 9: "An OpenAPI call acts as the home's owner", project-level rights).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any, Protocol

from harness.protocol import openapi as oa
from harness.protocol.openapi import OpenApiCode

from .openapi_calls import Call, OpenApiError, OpenApiProject
from .records import Device, DpSchema, Home, Product
from .state import REGION_TIME_ZONES, CloudState

PAIRING_TYPES = frozenset({"EZ", "AP", "BLE"})  # §10.6.1 paring_type
EVENT_ACTIVATION, EVENT_RESET = 3, 4  # §10.8 device log event ids
_LOG_EVENTS = {"activated": EVENT_ACTIVATION, "device-reset": EVENT_RESET, "removed": EVENT_RESET,
               "removed+wiped": EVENT_RESET}
_EVENT_FROM_DEVICE, _EVENT_FROM_CLOUD = 1, 4  # §10.8 event_from
_DP_TYPES = {"bool": "Boolean", "value": "Integer", "enum": "Enum", "string": "String", "raw": "Raw",
             "bitmap": "Bitmap"}
MAX_COMMANDS = 32
MAX_LOGS = 100


class Service(Protocol):
    """What the handlers need of the service (:class:`harness.emulator.cloud.openapi.OpenApiService` is it)."""

    state: CloudState
    users: dict[tuple[str, str, str], str]  # (schema, country code, user name) -> account id

    def issue(self, project: OpenApiProject) -> dict[str, Any]: ...
    def refresh_grant(self, project: OpenApiProject, refresh_token: str) -> dict[str, Any]: ...


def _error(code: int, detail: str) -> Exception:
    return OpenApiError(code, f"{oa.message_for(code)}: {detail}")


def _text(body: dict[str, Any], *names: str, required: bool = True, max_len: int = 128) -> str:
    """The first of ``names`` present in ``body`` (§10.13 rule 8: either spelling), as text."""
    for name in names:
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, str | int) or not 0 < len(str(value)) <= max_len:
            raise _error(OpenApiCode.PARAM_ILLEGAL, f"{name} must be text of 1 to {max_len} characters")
        return str(value)
    if required:
        raise _error(OpenApiCode.PARAM_EMPTY, f"{' or '.join(names)} is required")
    return ""


class Routes:
    """The handlers, bound to one service."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.state = service.state

    # -- tokens (§10.4) ------------------------------------------------------------------------------------

    def token(self, call: Call) -> Any:
        if call.query.get("grant_type") != oa.GRANT_TYPE_SIMPLE:
            raise _error(OpenApiCode.GRANT_TYPE_INVALID, "only grant_type=1 (simple mode) is served")
        return self.service.issue(call.project)

    def refresh(self, call: Call) -> Any:
        return self.service.refresh_grant(call.project, call.match["refresh_token"])

    # -- users and homes (§10.9) -----------------------------------------------------------------------------

    def sync_user(self, call: Call) -> Any:
        """``POST /v1.0/apps/{schema}/user``: "creates the user or returns the existing one" (§10.9)."""
        if call.match["schema"] != call.project.schema:
            raise _error(OpenApiCode.PERMISSION_DENY, f"schema {call.match['schema']!r} is not this project's app")
        username = _text(call.body, "username")
        country = _text(call.body, "country_code", required=False) or "1"
        key = (call.project.schema, country, username)
        with self.state.lock:
            uid = self.service.users.get(key)
            if uid is None or uid not in self.state.accounts:
                uid = self.state.create_account(_text(call.body, "nick_name", required=False) or username).account_id
                self.service.users[key] = uid
        return {"uid": uid}

    def create_home(self, call: Call) -> Any:
        """``POST /v1.0/home/create-home`` with ``{uid, home: {name, ...}, rooms}``: the new home's id (§10.9)."""
        uid = _text(call.body, "uid")
        home = call.body.get("home")
        name = _text(home, "name") if isinstance(home, dict) else _text(call.body, "name")
        return self.state.create_home(uid, name).home_id

    def user_homes(self, call: Call) -> Any:
        uid = call.match["uid"]
        with self.state.lock:
            self.state.require_account(uid)
            return [{"home_id": h.home_id, "name": h.name, "geo_name": "", "lat": 0, "lon": 0,
                     "role": str(getattr(h.role_of(uid), "value", ""))} for h in self.state.homes_of(uid)]

    def home_devices(self, call: Call) -> Any:
        with self.state.lock:
            home = self.state.require_home(call.match["home_id"])
            return [self._detail(d) for d in self.state.devices.values() if d.home == home.home_id]

    # -- pairing (§10.6, §10.7) -------------------------------------------------------------------------------

    def pairing_token(self, call: Call) -> Any:
        """§10.6.1: ``uid`` and ``time_zone_id`` required, ``home_id`` optional (the user's first home)."""
        uid = _text(call.body, "uid")
        _text(call.body, "time_zone_id", "timeZoneId")
        kind = _text(call.body, "paring_type", "pairing_type", required=False).upper() or "EZ"
        if kind not in PAIRING_TYPES:
            raise _error(OpenApiCode.PARAM_ILLEGAL, f"paring_type must be one of {sorted(PAIRING_TYPES)}")
        with self.state.lock:
            self.state.require_account(uid)
            home_id = _text(call.body, "home_id", required=False)
            if not home_id:
                homes = self.state.homes_of(uid)
                if not homes:
                    raise _error(OpenApiCode.PERMISSION_DENY, f"user {uid} has no home")
                home_id = homes[0].home_id
            token = self.state.create_token(home_id, uid)
            record = self.state.tokens[token.token]
            left = remaining_s(record.expires_at, self.state.clock.time())
        return oa.PairingTokenResult(token.region, token.token, token.secret, left).to_result()

    def token_devices(self, call: Call) -> Any:
        """§10.7: the devices that activated with the 8-character token, and the refused ones with a devId."""
        token = call.match["token"]
        token = token[2:10] if len(token) == 14 else token
        with self.state.lock:
            if token not in self.state.tokens:
                raise _error(OpenApiCode.DATA_NOT_EXIST, "no such pairing token")
            success: list[oa.PairedDevice] = []
            failed: list[oa.PairedDevice] = []
            for attempt in self.state.token_attempts(token):
                dev = self.state.devices.get(attempt.dev_id) if attempt.dev_id else None
                if dev is None:
                    continue  # no devId: the real lists cannot name it either
                product = self.state.products.get(dev.pid)
                name = product.name if product else dev.pid
                if attempt.outcome == "activated":
                    success.append(oa.PairedDevice(dev.dev_id, name, product_id=dev.pid))
                else:
                    failed.append(oa.PairedDevice(dev.dev_id, name, code=str(attempt.error_code),
                                                  msg=attempt.error_msg or ""))
        result = oa.TokenDevices(tuple(success), tuple(failed)).to_result()
        for entry in result["success"]:
            entry["category"] = self._category(entry["product_id"])
        return result

    # -- devices (§10.8) ---------------------------------------------------------------------------------------

    def _visible(self, dev_id: str) -> Device:
        """A device the project sees: activated and bound to one of its users' homes."""
        dev = self.state.devices.get(dev_id)
        if dev is None:
            raise _error(OpenApiCode.DEVICE_NOT_EXIST, f"no device {dev_id!r}")
        if not dev.bound:
            raise _error(OpenApiCode.PERMISSION_DENY, f"device {dev_id} is bound to no user of this project")
        return dev

    def _category(self, pid: str) -> str:
        product = self.state.products.get(pid)
        return product.category if product else ""

    def _schema(self, pid: str) -> tuple[DpSchema, ...]:
        product: Product | None = self.state.products.get(pid)
        return product.schema if product else ()

    def _status(self, dev: Device) -> list[dict[str, Any]]:
        codes = {str(dp.id): dp.code for dp in self._schema(dev.pid)}
        return [{"code": codes.get(str(dp_id), str(dp_id)), "value": value} for dp_id, value in dev.dps.items()]

    def _detail(self, dev: Device) -> dict[str, Any]:
        product = self.state.products.get(dev.pid)
        activations = [e.at for e in dev.history if e.event == "activated"]
        home: Home | None = self.state.homes.get(dev.home) if dev.home else None
        seen = dev.last_seen or dev.activated_at or 0
        return {"id": dev.dev_id, "uuid": dev.uuid, "uid": dev.account or "", "owner_id": dev.home or "",
                "name": product.name if product else dev.pid, "product_id": dev.pid,
                "product_name": product.name if product else "", "category": product.category if product else "",
                "online": dev.online, "ip": "", "sub": False, "model": "", "icon": "", "biz_type": 0,
                "time_zone": REGION_TIME_ZONES.get(self.state.region, "+00:00"),
                "active_time": int(dev.activated_at or 0), "create_time": int(activations[0] if activations else 0),
                "update_time": int(seen), "local_key": dev.local_key, "status": self._status(dev),
                "home_name": home.name if home else ""}

    def device(self, call: Call) -> Any:
        with self.state.lock:
            return self._detail(self._visible(call.match["device_id"]))

    def status(self, call: Call) -> Any:
        with self.state.lock:
            return self._status(self._visible(call.match["device_id"]))

    def specifications(self, call: Call) -> Any:
        """§10.8 ``…/specifications``: functions (writable DPs) and status (every DP), each with its ``dp_id``."""
        with self.state.lock:
            dev = self._visible(call.match["device_id"])
            schema = self._schema(dev.pid)
            category = self._category(dev.pid)
        spec = [{"code": dp.code, "dp_id": dp.id, "type": _DP_TYPES[dp.type], "values": "{}", "mode": dp.mode}
                for dp in schema]
        return {"category": category, "functions": [s for s in spec if s["mode"] in ("rw", "wr")], "status": spec}

    def logs(self, call: Call) -> Any:
        """§10.8 ``…/logs``: events 3 (activation) and 4 (reset, removal) from the device's history."""
        wanted = {int(t) for t in call.query.get("type", "").split(",") if t.strip().isdigit()} or {
            EVENT_ACTIVATION, EVENT_RESET}
        start = _int_query(call.query, "start_time", 0)
        end = _int_query(call.query, "end_time", 2**62)
        size = max(1, min(MAX_LOGS, _int_query(call.query, "size", MAX_LOGS)))
        with self.state.lock:
            dev = self._visible(call.match["device_id"])
            events = [(e.event, int(e.at * 1000)) for e in dev.history]
        logs = [{"event_id": _LOG_EVENTS[name], "event_time": at,
                 "event_from": str(_EVENT_FROM_DEVICE if name in ("activated", "device-reset") else _EVENT_FROM_CLOUD)}
                for name, at in events if name in _LOG_EVENTS and _LOG_EVENTS[name] in wanted and start <= at <= end]
        return {"logs": logs[-size:], "has_next": len(logs) > size, "current_row_key": "", "device_id": dev.dev_id}

    def commands(self, call: Call) -> Any:
        """§10.8: ``{"commands": [{"code", "value"}]}`` as one protocol-5 DP command; offline is 2001."""
        commands = call.body.get("commands")
        if not isinstance(commands, list) or not 0 < len(commands) <= MAX_COMMANDS:
            raise _error(OpenApiCode.PARAM_ILLEGAL, f"commands must be a list of 1 to {MAX_COMMANDS} objects")
        with self.state.lock:
            dev = self._visible(call.match["device_id"])
            ids = {dp.code: str(dp.id) for dp in self._schema(dev.pid)}
            dps: dict[str, Any] = {}
            for command in commands:
                if not isinstance(command, dict) or "value" not in command:
                    raise _error(OpenApiCode.PARAM_ILLEGAL, "each command is {code, value}")
                code = command.get("code")
                dp_id = ids.get(code) if isinstance(code, str) else None
                if dp_id is None and isinstance(code, str) and code.isdigit() and 0 < int(code) < 256:
                    dp_id = str(int(code))
                if dp_id is None:
                    raise _error(OpenApiCode.COMMAND_NOT_SUPPORTED, f"no DP code {code!r} in the product's schema")
                dps[dp_id] = command["value"]
            if not dev.online:
                raise _error(OpenApiCode.DEVICE_OFFLINE, f"device {dev.dev_id} is not online on MQTT")
            if not self.state.send_dps(dev.dev_id, dps):
                raise _error(OpenApiCode.COMMANDS_ISSUE_ERROR, "the broker did not take the command")
        return True

    def remove(self, call: Call) -> Any:
        """§10.8: DELETE is the app's "Remove device" (§6 normal reset: data kept)."""
        with self.state.lock:
            self.state.remove_device(self._visible(call.match["device_id"]).dev_id, wipe=False)
        return True

    def reset_factory(self, call: Call) -> Any:
        """§10.8: ``reset-factory`` is "Remove and wipe data" (the doc's PUT; TIOT's POST is accepted too)."""
        with self.state.lock:
            self.state.remove_device(self._visible(call.match["device_id"]).dev_id, wipe=True)
        return True


def _int_query(query: dict[str, str], name: str, default: int) -> int:
    value = query.get(name)
    if value is None or value == "":
        return default
    with contextlib.suppress(ValueError):
        if len(value) < 20:
            return int(value)
    raise _error(OpenApiCode.PARAM_ILLEGAL, f"{name} must be a whole number")


def remaining_s(expires_at: float, now: float) -> int:
    """Whole seconds left until ``expires_at`` (0 once past), as the pairing token's ``expire_time`` (§10.6.2)."""
    return max(0, math.ceil(expires_at - now))


def routes(service: Service) -> list[tuple[str, str, Callable[[Call], Any], bool]]:
    """``(method, path, handler, is a token call)`` for every route the service serves."""
    r = Routes(service)
    dev = "/v1.0/devices/{device_id}"
    return [
        ("GET", "/v1.0/token", r.token, True),
        ("GET", "/v1.0/token/{refresh_token}", r.refresh, True),
        ("POST", "/v1.0/apps/{schema}/user", r.sync_user, False),
        ("POST", "/v1.0/home/create-home", r.create_home, False),
        ("GET", "/v1.0/users/{uid}/homes", r.user_homes, False),
        ("GET", "/v1.0/homes/{home_id}/devices", r.home_devices, False),
        ("POST", "/v1.0/device/paring/token", r.pairing_token, False),
        ("GET", "/v1.0/device/paring/tokens/{token}", r.token_devices, False),
        ("GET", dev, r.device, False),
        ("DELETE", dev, r.remove, False),
        ("GET", f"{dev}/status", r.status, False),
        ("GET", f"{dev}/specifications", r.specifications, False),
        ("GET", f"{dev}/logs", r.logs, False),
        ("POST", f"{dev}/commands", r.commands, False),
        ("PUT", f"{dev}/reset-factory", r.reset_factory, False),
        ("POST", f"{dev}/reset-factory", r.reset_factory, False),
    ]


__all__ = ["EVENT_ACTIVATION", "EVENT_RESET", "Routes", "Service", "remaining_s", "routes"]
