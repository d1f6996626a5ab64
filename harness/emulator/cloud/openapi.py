"""The emulated cloud speaking Tuya's OpenAPI (PROTOCOL.md §10), beside ``/app/v1/``, so that the ``openapi`` cloud
adapter and Tuya's own clients (tuya-connector-python) can drive it as they drive the real cloud.

A *project* (``client_id`` + secret, :meth:`OpenApiService.register`) acts for the cloud's accounts (``uid``) and
homes (``home_id``): one project sees every account, home and device of this cloud, as a vendor's project sees its
app's users. The routes are the Smart Home family of §10.13 rule 10:

| method | path | what |
|---|---|---|
| GET | /v1.0/token?grant_type=1 | an access token (7200 s) and a single-use refresh token |
| GET | /v1.0/token/{refresh_token} | a new pair; the old access and refresh tokens stop working |
| POST | /v1.0/apps/{schema}/user | sync a user: the account of that user name, created on first use |
| POST | /v1.0/home/create-home | a home owned by ``uid`` |
| GET | /v1.0/users/{uid}/homes | the user's homes |
| POST | /v1.0/device/paring/token | a pairing token for ``uid``'s home (``home_id``, else the user's first home) |
| GET | /v1.0/device/paring/tokens/{token} | the devices that activated with the token, and those refused |
| GET, DELETE | /v1.0/devices/{id} | a device's record; unbind it ("Remove device") |
| GET | /v1.0/devices/{id}/status, /specifications, /logs | DP status by code; DP codes and ids; events 3 and 4 |
| POST | /v1.0/devices/{id}/commands | DP commands by code (protocol 5 to the device, §5) |
| PUT, POST | /v1.0/devices/{id}/reset-factory | unbind and wipe ("Remove and wipe data") |
| GET | /v1.0/homes/{home_id}/devices | a home's devices |

Rules (§10.13): every outcome is HTTP 200 with the §10.3 envelope (``t`` in ms, ``tid``), an unknown path 1108,
never a 500; the sign is checked over the raw body bytes (and over ``""`` when the body is exactly ``{}``) with
the signed headers as listed; a ``t`` more than ``skew_s`` from the wall clock is 1013.

Emulator-defined choices (§10.13 rule 11), documented in the README:
- ``t`` is checked against the *wall* clock, and access tokens live on the wall clock (real clients sign with real
  time); pairing tokens expire on the cloud's own clock, as the rest of the state;
- the ``t`` window is ±300 s (``skew_s``); the old sign algorithm is refused (1004), as on projects made after
  2021-06-30; a fresh ``grant_type=1`` token does not revoke earlier ones;
- an expired access token is 1010, an unknown or refreshed-away one 1011, a refresh token used twice 1012;
- a token query for a token this cloud never issued is 1000; the lists hold one entry per attempt, in order:
  every activation in ``success`` (whether or not the device is online yet: ``online`` is in its record), every
  refused attempt that names a device in ``failed`` with the harness's errorCode as ``code``; refusals of a
  device with no devId yet (an unknown licence) are not listed, as on the real cloud (§10.7);
- a device the project cannot see (never activated: 2010; unbound: 1106) has no record;
- DP codes come from the product's schema; a DP id the schema does not name is shown, and accepted, as its
  number.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import secrets
import string
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from harness.protocol import openapi as oa
from harness.protocol.openapi import OpenApiCode

from . import openapi_grants as grants
from .limits import read_body
from .openapi_calls import DEFAULT_SCHEMA, Call, Handler, OpenApiError, OpenApiProject
from .openapi_routes import routes
from .records import CloudInputError
from .state import CloudState, random_text

log = logging.getLogger(__name__)

OPENAPI_PREFIXES = ("/v1.0/", "/v1.1/", "/v2.0/")
MAX_OPENAPI_BODY = 64 * 1024
ACCESS_TTL_S = 7200  # §10.4: "expire_time (seconds, 7200 in docs and in wire logs)"
DEFAULT_SKEW_S = 300.0
MAX_GRANTS = 4096  # per project: the oldest are forgotten past this (every table bounded)
CLIENT_ID_LEN = 20  # §10.1: "20 characters in every example"
SECRET_LEN = 32  # §10.1: "32 characters in every example"

# The app API's CloudInputError codes -> the OpenAPI's (§10.10).
_INPUT_CODES = {
    "USER_NOT_EXISTS": OpenApiCode.USER_NOT_EXIST,
    "HOME_NOT_EXISTS": OpenApiCode.PERMISSION_DENY,
    "PERMISSION_DENIED": OpenApiCode.PERMISSION_DENY,
    "DEVICE_NOT_EXISTS": OpenApiCode.DEVICE_NOT_EXIST,
    "NOT_EXISTS": OpenApiCode.PRODUCT_NOT_EXIST,
}


@dataclass
class _Grant:
    client_id: str
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: float  # wall clock
    revoked: bool = False


def new_credentials() -> tuple[str, str]:
    """A fresh Access ID and Access Secret (§10.1 lengths), from a cryptographic RNG."""
    return random_text(CLIENT_ID_LEN), random_text(SECRET_LEN, string.ascii_lowercase + string.digits)


class OpenApiService:
    """The OpenAPI routes over a :class:`CloudState` (registered into the cloud's aiohttp application)."""

    def __init__(self, state: CloudState, *, skew_s: float = DEFAULT_SKEW_S, access_ttl_s: int = ACCESS_TTL_S,
                 wall: Callable[[], float] = time.time) -> None:
        self.state = state
        self.skew_s = float(skew_s)
        self.access_ttl_s = int(access_ttl_s)
        self._wall = wall
        self._lock = threading.Lock()
        self._projects: dict[str, OpenApiProject] = {}
        self._access: dict[str, _Grant] = {}
        self._refresh: dict[str, _Grant] = {}
        self._used_refresh: set[str] = set()
        self.users: dict[tuple[str, str, str], str] = {}  # (schema, country code, user name) -> account id
        self._shared = bool(getattr(getattr(state, "_store", None), "shared", False))

    # -- projects and tokens -----------------------------------------------------------------------------

    def register(self, client_id: str, secret: str, *, schema: str = DEFAULT_SCHEMA) -> OpenApiProject:
        """Register a project (again, with the same values, is fine); the secret is taught to the redactor."""
        if not client_id or not secret or any(c.isspace() for c in client_id):
            raise ValueError("an OpenAPI project needs a client_id without spaces and a secret")
        from harness import redaction

        redaction.learn(secret)
        uid = "pc" + hashlib.sha256(client_id.encode()).hexdigest()[:18]
        project = OpenApiProject(client_id, secret, schema, uid=uid)
        with self._lock:
            self._projects[client_id] = project
        return project

    @property
    def projects(self) -> list[OpenApiProject]:
        with self._lock:
            return list(self._projects.values())

    def issue(self, project: OpenApiProject) -> dict[str, Any]:
        from harness import redaction

        grant = _Grant(project.client_id, secrets.token_hex(16), secrets.token_hex(16),
                       self._wall() + self.access_ttl_s)
        redaction.learn(grant.access_token)
        redaction.learn(grant.refresh_token)
        if self._shared:  # cloud serve --workers N: every process knows the pair
            grants.keep(self.state, grant.client_id, grant.access_token, grant.refresh_token, grant.expires_at,
                        2 * MAX_GRANTS * max(1, len(self._projects)))
        with self._lock:
            self._access[grant.access_token] = grant
            self._refresh[grant.refresh_token] = grant
            for table in (self._access, self._refresh):
                while len(table) > MAX_GRANTS * len(self._projects):
                    del table[next(iter(table))]
        return oa.AccessToken(grant.access_token, grant.refresh_token, self.access_ttl_s, project.uid).to_result()

    def _check_access(self, project: OpenApiProject, access_token: str) -> None:
        """§10.4: an expired access token is 1010; unknown, another project's or refreshed away, 1011."""
        if not access_token:
            raise OpenApiError(OpenApiCode.ACCESS_TOKEN_NULL)
        if self._shared:
            code = grants.check_access(self.state, project.client_id, access_token, self._wall())
            if code is not None:
                raise OpenApiError(code)
            return
        with self._lock:
            grant = self._access.get(access_token)
        if grant is None or grant.client_id != project.client_id or grant.revoked:
            raise OpenApiError(OpenApiCode.TOKEN_INVALID)
        if self._wall() >= grant.expires_at:
            raise OpenApiError(OpenApiCode.TOKEN_EXPIRED)

    def refresh_grant(self, project: OpenApiProject, refresh_token: str) -> dict[str, Any]:
        """§10.4: the refresh token "works once: refreshing invalidates the old access token and the old refresh
        token"; a second use is 1012."""
        if self._shared:
            grants.use_refresh(self.state, project.client_id, refresh_token)
            return self.issue(project)
        with self._lock:
            if refresh_token in self._used_refresh:
                raise OpenApiError(OpenApiCode.TOKEN_STATUS_INVALID, "token status is invalid: refresh token used")
            grant = self._refresh.get(refresh_token)
            if grant is None or grant.client_id != project.client_id:
                raise OpenApiError(OpenApiCode.TOKEN_INVALID)
            grant.revoked = True
            self._refresh.pop(refresh_token, None)
            self._used_refresh.add(refresh_token)
            if len(self._used_refresh) > MAX_GRANTS * max(1, len(self._projects)):
                self._used_refresh.pop()
        return self.issue(project)

    # -- HTTP ----------------------------------------------------------------------------------------------

    def envelope(self, envelope_or_error: oa.Envelope) -> web.Response:
        return web.Response(body=envelope_or_error.to_bytes(), status=200, content_type="application/json")

    def answer(self, result: Any) -> web.Response:
        return self.envelope(oa.success(result, t_ms=self._now_ms(), tid=secrets.token_hex(16)))

    def refuse(self, code: int, msg: str | None = None) -> web.Response:
        return self.envelope(oa.failure(code, t_ms=self._now_ms(), tid=secrets.token_hex(16), msg=msg))

    def _now_ms(self) -> int:
        return int(self._wall() * 1000)

    @web.middleware
    async def middleware(self, request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        """Every answer under the OpenAPI prefixes is the §10.3 envelope with HTTP 200, whatever happened."""
        if not request.path.startswith(OPENAPI_PREFIXES):
            return await handler(request)
        try:
            return await handler(request)
        except OpenApiError as exc:
            return self.refuse(exc.code, exc.msg)
        except web.HTTPException as exc:  # no such route or method (§10.13 rule 1), a body over the limit
            if exc.status in (404, 405):
                return self.refuse(OpenApiCode.URI_PATH_INVALID, f"uri path invalid: {request.method} {request.path}")
            return self.refuse(OpenApiCode.PARAM_ILLEGAL, f"param is illegal: HTTP {exc.status} {exc.reason}")
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("HARNESS BUG: unexpected error serving OpenAPI %s %s", request.method, request.path)
            return self.refuse(OpenApiCode.SYSTEM_ERROR)

    def add_routes(self, app: web.Application) -> None:

        for method, path, handler, token_call in routes(self):
            app.router.add_route(method, path, self._wrap(handler, token_call=token_call))

    def _wrap(self, handler: Handler, *, token_call: bool) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def serve(request: web.Request) -> web.Response:
            try:
                raw = await read_body(request, max_bytes=MAX_OPENAPI_BODY)
            except CloudInputError as exc:  # too large, too slow, not in its Content-Encoding, cut short
                raise OpenApiError(OpenApiCode.PARAM_ILLEGAL, f"param is illegal: {exc.message}") from None
            project = self.authenticate(request, raw, token_call=token_call)
            call = Call(project, _json_body(raw), {k: v for k, v in request.query.items()}, dict(request.match_info))
            try:
                result = handler(call)
            except CloudInputError as exc:
                raise OpenApiError(_INPUT_CODES.get(exc.code, OpenApiCode.PARAM_ILLEGAL),
                                   f"{oa.message_for(_INPUT_CODES.get(exc.code, OpenApiCode.PARAM_ILLEGAL))}: "
                                   f"{exc.message}") from None
            return self.answer(result)

        return serve

    # -- authentication (§10.5) ------------------------------------------------------------------------------

    def authenticate(self, request: web.Request, raw: bytes, *, token_call: bool) -> OpenApiProject:
        """The project a request is signed by, or the OpenAPI's refusal: 1105 a missing header, 1005 an unknown
        client, 1013 a skewed ``t``, 1004 a sign that does not verify, then 1002/1010/1011 for the access token."""
        headers = request.headers
        client_id, t, given = headers.get("client_id"), headers.get("t"), headers.get("sign")
        if not client_id or not t or not given:
            raise OpenApiError(OpenApiCode.MISSING_HEADER, "missing the header: client_id, t and sign are required")
        with self._lock:
            project = self._projects.get(client_id)
        if project is None:
            raise OpenApiError(OpenApiCode.CLIENT_ID_INVALID)
        if (headers.get("sign_method") or oa.SIGN_METHOD).upper() != oa.SIGN_METHOD:
            raise OpenApiError(OpenApiCode.SIGN_INVALID, "sign invalid: sign_method must be HMAC-SHA256")
        if not t.isdigit() or len(t) > 16 or abs(int(t) - self._now_ms()) > self.skew_s * 1000:
            raise OpenApiError(OpenApiCode.REQUEST_TIME_INVALID)
        access_token = "" if token_call else headers.get("access_token", "")
        names = oa.signature_header_names(headers.get("Signature-Headers"))
        signed = [(name, headers.get(name, "")) for name in names]
        # The path as sent (percent-encoded) or decoded: clients differ, and plain ids read the same either way.
        paths = (request.path, request.raw_path.split("?")[0])
        urls = {oa.canonical_url(path, request.query.items()) for path in paths}
        nonce = headers.get("nonce", "")
        if not any(oa.verify_sign(project.secret, given, client_id=client_id, t=t, access_token=access_token,
                                  nonce=nonce, string_to_sign=oa.string_to_sign(request.method, body, url, signed))
                   for body in oa.body_hashes(request.method, raw) for url in urls):
            raise OpenApiError(OpenApiCode.SIGN_INVALID)
        if not token_call:
            self._check_access(project, access_token)
        return project


def client_file(path: Path) -> tuple[str, str, str]:
    """``(client_id, secret, schema)`` from a JSON file ``{"client_id", "secret"[, "schema"]}``; a file that does
    not exist is created with fresh random credentials, mode 0600 (the secret is a secret: DESIGN "Evidence")."""
    if not path.exists():
        client_id, secret = new_credentials()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"client_id": client_id, "secret": secret}, out, indent=2)
            out.write("\n")
        os.chmod(path, 0o600)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable JSON file: {exc}") from None
    if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) and raw[k] for k in ("client_id", "secret")):
        raise ValueError(f'{path}: expected {{"client_id": "...", "secret": "..."}}')
    schema = raw.get("schema", DEFAULT_SCHEMA)
    if not isinstance(schema, str) or not schema:
        raise ValueError(f"{path}: schema must be a non-empty string")
    return raw["client_id"], raw["secret"], schema


def _json_body(raw: bytes) -> dict[str, Any]:
    """The request's JSON object (``{}`` for no body); anything else is 1109 (§10.3: POST bodies are JSON)."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise OpenApiError(OpenApiCode.PARAM_ILLEGAL, "param is illegal: the body is not UTF-8 JSON") from None
    if not isinstance(value, dict):
        raise OpenApiError(OpenApiCode.PARAM_ILLEGAL, "param is illegal: the body must be a JSON object")
    return value


__all__ = ["DEFAULT_SCHEMA", "OPENAPI_PREFIXES", "Call", "Handler", "OpenApiError", "OpenApiProject", "OpenApiService",
           "client_file", "new_credentials"]
