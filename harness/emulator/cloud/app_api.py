"""The app side of the emulated cloud: a Python facade (:class:`CloudApp`) and the same operations as JSON
over HTTP under ``/app/v1/``.

Credentials (:mod:`.auth`): an account logs in with its password and sends its bearer token; the app API acts
as that account only. Lab controls and creating accounts need the lab's admin key as the bearer. On an open lab
(``--no-auth``, loopback only) the caller may instead name its account in the ``X-Paircert-Account`` header
(or ``?account=``). Every answer is JSON: ``{"success":true,"result":..}``, or
``{"success":false,"errorCode":..,"errorMsg":..}`` with a 4xx status.

| method | path | body / query | what |
|---|---|---|---|
| POST | /app/v1/accounts | {"name","password"} | create an account (admin key) |
| POST | /app/v1/login | {"account","password"} | log in: {"token","account","expiresIn"} (no credentials) |
| POST | /app/v1/homes | {"name"} | create a home owned by the caller |
| POST | /app/v1/homes/{home}/members | {"account","role"} | add or change a member (owner/admin only) |
| POST | /app/v1/homes/{home}/token | {} | a pairing token for the home (any member) |
| POST | /app/v1/homes/{home}/devices/bind | {"uuid"} | bind a waiting device by UUID: a token pushed (§11.6) |
| GET | /app/v1/homes/{home}/devices | | the home's devices |
| GET | /app/v1/devices/{devId} | | a device's record (no keys) |
| POST | /app/v1/devices/{devId}/remove | {"wipe": bool} | unbind, or unbind and wipe (owner/admin) |
| POST | /app/v1/devices/{devId}/dps | {"dps": {..}} | send DPs (protocol 5) |
| GET | /app/v1/notifications | | the caller's notifications |
| GET | /app/v1/tokens/{token}/attempts | | a token's activation attempts (its issuer or home admins) |
| GET | /app/v1/lab/capabilities | | what this cloud can do (time travel, licences, faults) |
| POST | /app/v1/lab/products | {"name","category","binding_mode"?,"pid"?,"schema"?} | create a product |
| POST | /app/v1/lab/licences | {"pid"} | issue a licence (answers with the AuthKey) |
| POST | /app/v1/lab/licences/{uuid}/revoke | | revoke a licence |
| POST | /app/v1/lab/clock/advance | {"seconds"} | move a VirtualClock forward |
| GET | /app/v1/lab/devices?uuid=U | | the device holding licence U, bound or not, with its home's owner |
| POST | /app/v1/lab/devices/release | {"uuid", "wipe"?} | its owner removes it (wipe: true by default) |
| GET, PUT | /app/v1/lab/faults | {"faults": [..]} | read or set the cloud faults |
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from harness.errors import HarnessError
from harness.model.binding import Role
from harness.model.outcomes import AttemptSummary

from .auth import CALLER_KEY, LabAuth, check_password, hash_password
from .faults import CLOUD_FAULTS, behaviour_class
from .limits import read_body
from .records import CloudInputError, Device, DpSchema, Home, LicenceRecord, Product
from .state import CloudState

log = logging.getLogger(__name__)

ACCOUNT_HEADER = "X-Paircert-Account"
API_PREFIX = "/app/v1"
MAX_APP_BODY = 64 * 1024


@dataclass(frozen=True)
class TokenGrant:
    """What the app gets for a pairing token (§0 step 1): the 14-character string and its parts."""

    token: str
    region: str
    secret: str
    pairing_token: str
    home: str
    expire_time: float

    def to_dict(self) -> dict[str, Any]:
        return {"token": self.token, "region": self.region, "secret": self.secret,
                "pairingToken": self.pairing_token, "home": self.home, "expireTime": self.expire_time}


def attempt_dict(summary: AttemptSummary) -> dict[str, Any]:
    code = summary.error_code
    return {"at": summary.at, "outcome": str(getattr(summary.outcome, "value", summary.outcome)),
            "errorCode": None if code is None else str(getattr(code, "value", code)),
            "errorMsg": summary.error_msg, "devId": summary.dev_id, "home": summary.home}


class CloudApp:
    """The app API as Python calls. ``caller`` is the account making the request."""

    def __init__(self, state: CloudState) -> None:
        self.state = state
        #: binding by UUID (§11.6), set by a cloud that has an MQTT broker to push the token on
        self.binder: Any = None

    # ---------------------------------------------------------------------------------------- roles

    def _role(self, home: Home, caller: str) -> Role:
        self.state.require_account(caller)
        role = home.role_of(caller)
        if role is None:
            raise CloudInputError("PERMISSION_DENIED", f"{caller} is not a member of home {home.home_id}", status=403)
        return role

    def _require_admin(self, home: Home, caller: str) -> None:
        if self._role(home, caller) not in (Role.OWNER, Role.ADMIN):
            raise CloudInputError("PERMISSION_DENIED", f"{caller} does not administer home {home.home_id}",
                                  status=403)

    def _device_for(self, caller: str, dev_id: str) -> Device:
        dev = self.state.devices.get(dev_id)
        if dev is None or dev.home is None:
            raise CloudInputError("DEVICE_NOT_EXISTS", f"no bound device {dev_id!r}", status=404)
        self._role(self.state.require_home(dev.home), caller)
        return dev

    # ---------------------------------------------------------------------------------- operations

    def create_account(self, name: str, *, password_hash: str | None = None) -> str:
        return self.state.create_account(_text(name, "name"), password_hash=password_hash).account_id

    def create_home(self, caller: str, name: str) -> str:
        return self.state.create_home(caller, _text(name, "name")).home_id

    def set_member(self, caller: str, home_id: str, account_id: str, role: Role | str) -> None:
        with self.state.lock:
            self._require_admin(self.state.require_home(home_id), caller)
            try:
                parsed = Role(role)
            except ValueError:
                raise CloudInputError("ILLEGAL_PARAM", f"role must be one of {[r.value for r in Role]}") from None
            self.state.set_member(home_id, account_id, parsed)

    def get_token(self, caller: str, home_id: str) -> TokenGrant:
        """A pairing token for ``home_id``. Any member may ask (a guest too: the binding rules refuse it a
        strong product at activation, §6 "GuestNotSupportStrongBind")."""
        with self.state.lock:
            self._role(self.state.require_home(home_id), caller)
            token = self.state.create_token(home_id, caller)
            record = self.state.tokens[token.token]
            return TokenGrant(token=token.token, region=token.region, secret=token.secret, pairing_token=str(token),
                              home=home_id, expire_time=record.issued_at + record.ttl_s)

    def bind_uuid(self, caller: str, home_id: str, uuid: Any) -> Any:
        """§11.6: bind the device waiting as ``acon_<uuid>`` into ``home_id`` (a token pushed to it); any member
        may ask, and the binding rules apply as to a token (see :mod:`.bind`)."""
        if self.binder is None:
            raise CloudInputError("NOT_SUPPORTED", "binding by UUID needs the cloud's MQTT broker", status=409)
        self.state.require_account(caller)
        return self.binder.bind(caller, home_id, uuid)

    def list_devices(self, caller: str, home_id: str) -> list[dict[str, Any]]:
        with self.state.lock:
            self._role(self.state.require_home(home_id), caller)
            return [d.public_dict() for d in self.state.devices.values() if d.home == home_id]

    def device(self, caller: str, dev_id: str) -> dict[str, Any]:
        with self.state.lock:
            return self._device_for(caller, dev_id).public_dict()

    def remove_device(self, caller: str, dev_id: str, *, wipe: bool = False) -> None:
        with self.state.lock:
            dev = self._device_for(caller, dev_id)
            if dev.home is None:
                raise HarnessError("broken invariant: dev.home is not None")
            self._require_admin(self.state.require_home(dev.home), caller)
            self.state.remove_device(dev_id, wipe=wipe)

    def notifications(self, caller: str) -> list[dict[str, Any]]:
        self.state.require_account(caller)
        return [n.to_dict() for n in self.state.notifications_of(caller)]

    def send_dps(self, caller: str, dev_id: str, dps: dict[str, Any]) -> bool:
        if not isinstance(dps, dict) or not dps:
            raise CloudInputError("ILLEGAL_PARAM", "dps must be a non-empty JSON object")
        with self.state.lock:
            self._device_for(caller, dev_id)
            return self.state.send_dps(dev_id, dps)

    def token_attempts(self, caller: str, token: str) -> list[dict[str, Any]]:
        with self.state.lock:
            token = token[2:10] if len(token) == 14 else token
            record = self.state.tokens.get(token)
            if record is None:
                raise CloudInputError("TOKEN_NOT_EXISTS", "no such token", status=404)
            if record.account != caller:
                home = self.state.require_home(record.home)
                self._require_admin(home, caller)
            return [attempt_dict(a) for a in self.state.token_attempts(token)]

    # ---------------------------------------------------------------------------------- lab controls

    def capabilities(self) -> dict[str, Any]:
        """What this cloud can do for a test (DESIGN.md: a capability a contract cannot honour is declared),
        and the region its tokens carry."""
        return {"time_travel": bool(self.state.clock.is_virtual), "issue_licences": True, "create_products": True,
                "faults": True, "mqtt": True, "region": self.state.region, "inspect_devices": True,
                "release_devices": True, "bind_by_uuid": self.binder is not None}

    def create_product(self, *, name: str, category: str, binding_mode: str | None = None, pid: str | None = None,
                       schema: list[dict[str, Any]] | None = None) -> Product:
        dps = None if schema is None else [DpSchema.from_dict(dp) for dp in _list(schema, "schema")]
        mode = None if binding_mode is None else _text(binding_mode, "binding_mode")
        return self.state.create_product(name=_text(name, "name"), category=_text(category, "category"),
                                         binding_mode=mode, pid=None if pid is None else _text(pid, "pid"), schema=dps)

    def issue_licence(self, pid: str) -> LicenceRecord:
        return self.state.issue_licence(_text(pid, "pid"))

    def revoke_licence(self, uuid: str) -> None:
        self.state.revoke_licence(_text(uuid, "uuid"))

    def advance_clock(self, seconds: float) -> float:
        clock = self.state.clock
        advance = getattr(clock, "advance", None)
        if not clock.is_virtual or advance is None:
            raise CloudInputError("NOT_SUPPORTED", "time travel needs a VirtualClock; this cloud runs on real time",
                                  status=409)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= 10 * 365 * 86400:
            raise CloudInputError("ILLEGAL_PARAM", "seconds must be a number from 0 to ten years")
        advance(float(seconds))
        self.state.purge_tokens()  # tokens past their retention go now, not at the next thousandth token
        return clock.time()

    # -- the lab's view of a device by its licence (a lab between tests: find it, have its owner remove it) --

    def _device_of_licence(self, uuid: str) -> Device | None:
        found = [d for d in self.state.devices.values() if d.uuid == uuid]
        return found[-1] if found else None

    def lab_device(self, uuid: str) -> dict[str, Any]:
        """The device holding licence ``uuid``, bound or not, with ``owner``: the owner of the home it is bound to
        (who may remove it), or null."""
        with self.state.lock:
            dev = self._device_of_licence(_text(uuid, "uuid"))
            if dev is None:
                raise CloudInputError("DEVICE_NOT_EXISTS", f"no device ever activated licence {uuid!r}", status=404)
            home = self.state.homes.get(dev.home) if dev.home else None
            return {**dev.public_dict(), "owner": home.owner if home is not None else None}

    def release_device(self, uuid: str, *, wipe: bool = True) -> dict[str, Any] | None:
        """Owner-side removal by licence: the owner of the home the device is bound to removes it, with the same
        rules and messages as the owner's own "Remove device" (§6). The record as it was; None when unbound."""
        with self.state.lock:
            dev = self._device_of_licence(_text(uuid, "uuid"))
            if dev is None or dev.home is None:
                return None
            record = self.lab_device(uuid)
            self.remove_device(str(record["owner"]), dev.dev_id, wipe=wipe)
            return record

    # -- end of the lab's view of a device by its licence --

    def set_faults(self, faults: list[str]) -> list[str]:
        """Switch the cloud's faults to ``faults``, registered names only (a request never imports a module)."""
        names = _list(faults, "faults")
        unknown = [name for name in names if not isinstance(name, str) or name not in CLOUD_FAULTS]
        if unknown:
            raise CloudInputError("ILLEGAL_PARAM", f"unknown cloud faults {unknown!r}; known: "
                                                   f"{', '.join(sorted(CLOUD_FAULTS))}")
        try:
            self.state.set_behaviour(behaviour_class(names)())
        except ValueError as exc:
            raise CloudInputError("ILLEGAL_PARAM", str(exc)) from None
        return self.faults()

    def faults(self) -> list[str]:
        return sorted(self.state.faults)


def _text(value: Any, name: str, *, max_len: int = 128) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= max_len:
        raise CloudInputError("ILLEGAL_PARAM", f"{name} must be a string of 1 to {max_len} characters")
    return value


def _list(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list) or len(value) > 256:
        raise CloudInputError("ILLEGAL_PARAM", f"{name} must be a list of at most 256 items")
    return value


# ------------------------------------------------------------------------------------------------ HTTP


def ok(result: Any, status: int = 200) -> web.Response:
    return web.json_response({"success": True, "result": result}, status=status)


def app_error(code: str, message: str, status: int) -> web.Response:
    return web.json_response({"success": False, "errorCode": code, "errorMsg": message}, status=status)


Handler = Callable[[web.Request], Awaitable[web.Response]]


class AppHttp:
    """The app API's HTTP routes over a :class:`CloudApp`; ``auth`` is the lab's credentials (None: open lab)."""

    def __init__(self, app: CloudApp, auth: LabAuth | None = None) -> None:
        self.app = app
        self.auth = auth if auth is not None else LabAuth(None)
        self.auth.use_passwords(app.state.password_hash)

    def add_routes(self, web_app: web.Application) -> None:
        p = API_PREFIX
        routes: list[tuple[str, str, Handler]] = [
            ("POST", f"{p}/accounts", self.create_account),
            ("POST", f"{p}/login", self.login),
            ("POST", f"{p}/homes", self.create_home),
            ("POST", f"{p}/homes/{{home}}/members", self.set_member),
            ("POST", f"{p}/homes/{{home}}/token", self.get_token),
            ("POST", f"{p}/homes/{{home}}/devices/bind", self.bind_uuid),  # §11.6 binding by UUID
            ("GET", f"{p}/homes/{{home}}/devices", self.list_devices),
            ("GET", f"{p}/devices/{{dev_id}}", self.device),
            ("POST", f"{p}/devices/{{dev_id}}/remove", self.remove_device),
            ("POST", f"{p}/devices/{{dev_id}}/dps", self.send_dps),
            ("GET", f"{p}/notifications", self.notifications),
            ("GET", f"{p}/tokens/{{token}}/attempts", self.attempts),
            ("GET", f"{p}/lab/capabilities", self.capabilities),
            ("POST", f"{p}/lab/products", self.create_product),
            ("POST", f"{p}/lab/licences", self.issue_licence),
            ("POST", f"{p}/lab/licences/{{uuid}}/revoke", self.revoke_licence),
            ("POST", f"{p}/lab/clock/advance", self.advance_clock),
            ("GET", f"{p}/lab/devices", self.lab_device),
            ("POST", f"{p}/lab/devices/release", self.release_device),
            ("GET", f"{p}/lab/faults", self.get_faults),
            ("PUT", f"{p}/lab/faults", self.set_faults),
        ]
        for method, path, handler in routes:
            web_app.router.add_route(method, path, handler)

    def caller(self, request: web.Request) -> str:
        """The calling account: the one whose bearer token came (the auth middleware found it), or on an open lab
        the one named in the ``X-Paircert-Account`` header."""
        authenticated = request.get(CALLER_KEY)
        if isinstance(authenticated, str):
            return authenticated
        account = None if self.auth.required else request.headers.get(ACCOUNT_HEADER) or request.query.get("account")
        if not account:
            raise CloudInputError("USER_SESSION_LOSS", "log in and send 'Authorization: Bearer <token>'"
                                  + ("" if self.auth.required else f", or name the account in {ACCOUNT_HEADER}"),
                                  status=401)
        return account

    @staticmethod
    async def body(request: web.Request) -> dict[str, Any]:
        raw = await read_body(request, max_bytes=MAX_APP_BODY)
        if not raw.strip():
            return {}
        try:
            value = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise CloudInputError("ILLEGAL_PARAM", "request body is not UTF-8 JSON") from None
        if not isinstance(value, dict):
            raise CloudInputError("ILLEGAL_PARAM", "request body must be a JSON object")
        return value

    async def create_account(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        name, password = _text(body.get("name"), "name"), body.get("password")
        if password is None and self.auth.required:
            raise CloudInputError("ILLEGAL_PARAM", "an account needs a password to log in with")
        digest = None if password is None else await asyncio.to_thread(hash_password, check_password(password))
        return ok({"account": self.app.create_account(name, password_hash=digest)}, status=201)

    async def login(self, request: web.Request) -> web.Response:
        return await self.auth.login_handler(request, await self.body(request))

    async def create_home(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        return ok({"home": self.app.create_home(self.caller(request), body.get("name"))}, 201)  # type: ignore[arg-type]

    async def set_member(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        account, role = body.get("account"), body.get("role")
        self.app.set_member(self.caller(request), request.match_info["home"], _text(account, "account"),
                            _text(role, "role"))
        return ok(True)

    async def get_token(self, request: web.Request) -> web.Response:
        await self.body(request)
        return ok(self.app.get_token(self.caller(request), request.match_info["home"]).to_dict(), 201)

    async def bind_uuid(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        grant = self.app.bind_uuid(self.caller(request), request.match_info["home"], body.get("uuid"))
        return ok(grant.to_dict(), 201)

    async def list_devices(self, request: web.Request) -> web.Response:
        return ok(self.app.list_devices(self.caller(request), request.match_info["home"]))

    async def device(self, request: web.Request) -> web.Response:
        return ok(self.app.device(self.caller(request), request.match_info["dev_id"]))

    async def remove_device(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        wipe = body.get("wipe", False)
        if not isinstance(wipe, bool):
            raise CloudInputError("ILLEGAL_PARAM", "wipe must be true or false")
        self.app.remove_device(self.caller(request), request.match_info["dev_id"], wipe=wipe)
        return ok(True)

    async def send_dps(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        sent = self.app.send_dps(self.caller(request), request.match_info["dev_id"], body.get("dps"))  # type: ignore[arg-type]
        return ok({"sent": sent})

    async def notifications(self, request: web.Request) -> web.Response:
        return ok(self.app.notifications(self.caller(request)))

    async def attempts(self, request: web.Request) -> web.Response:
        return ok(self.app.token_attempts(self.caller(request), request.match_info["token"]))

    async def capabilities(self, request: web.Request) -> web.Response:
        return ok(self.app.capabilities())

    async def create_product(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        product = self.app.create_product(name=body.get("name"), category=body.get("category"),  # type: ignore[arg-type]
                                          binding_mode=body.get("binding_mode"), pid=body.get("pid"),
                                          schema=body.get("schema"))
        return ok(product.to_dict(), 201)

    async def issue_licence(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        lic = self.app.issue_licence(body.get("pid"))  # type: ignore[arg-type]
        return ok({"uuid": lic.uuid, "authKey": lic.auth_key, "pid": lic.pid}, 201)

    async def revoke_licence(self, request: web.Request) -> web.Response:
        self.app.revoke_licence(request.match_info["uuid"])
        return ok(True)

    async def advance_clock(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        return ok({"now": self.app.advance_clock(body.get("seconds"))})  # type: ignore[arg-type]

    async def lab_device(self, request: web.Request) -> web.Response:
        return ok(self.app.lab_device(request.query.get("uuid", "")))

    async def release_device(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        wipe = body.get("wipe", True)
        if not isinstance(wipe, bool):
            raise CloudInputError("ILLEGAL_PARAM", "wipe must be true or false")
        return ok({"released": self.app.release_device(body.get("uuid"), wipe=wipe)})  # type: ignore[arg-type]

    async def get_faults(self, request: web.Request) -> web.Response:
        return ok({"faults": self.app.faults(), "known": sorted(CLOUD_FAULTS)})

    async def set_faults(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        return ok({"faults": self.app.set_faults(body.get("faults"))})  # type: ignore[arg-type]


__all__ = ["ACCOUNT_HEADER", "API_PREFIX", "AppHttp", "CloudApp", "TokenGrant", "app_error", "attempt_dict", "ok"]
