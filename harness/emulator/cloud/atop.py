"""ATOP over HTTP (PROTOCOL.md §4): ``POST /d.json`` activation and reset, and the iot-dns ``url_config``.

Every answer is well-formed JSON with HTTP 200, whatever the request: an error the server cannot encrypt
(unknown licence, bad sign, body that does not open) is plaintext ``{"success":false,"errorCode":..}``
(§4.3: "TO first tries to decrypt; if that fails it parses the raw body as plaintext JSON"); an error after
the body opened is encrypted under the same key and et. The wrapping middleware (in ``http.py``) turns
anything unexpected into a well-formed error too, and logs it loudly: that is a harness bug.

What the service serves, how it finds and opens a request's licence, and how it answers a body it cannot read
are hooks of the cloud's behaviour (:class:`~harness.emulator.cloud.behaviour.CloudBehaviour`), which a fault
overrides; nothing here switches on a fault.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from harness.model.errors import CloudError
from harness.protocol.atop import (
    API_ACTIVE_V44,
    API_OPENSDK_ACTIVE,
    ET_GCM,
    ActivationRequest,
    AtopQuery,
    DecryptionFailed,
    UrlConfigRequest,
    UrlConfigResponse,
    UrlEntry,
    decrypt_body,
    encode_plain_error,
    encode_response,
    error_payload,
    parse_form_body,
    parse_query,
    success_payload,
    verify_sign,
)
from harness.protocol.errors import ProtocolError
from harness.protocol.strictjson import loads_json
from harness.protocol.token import TOKEN_LEN

from .behaviour import CloudBehaviour
from .state import CloudState

log = logging.getLogger(__name__)

ACTIVATION_APIS = frozenset({API_ACTIVE_V44, API_OPENSDK_ACTIVE})
URL_CONFIG_PATHS = ("/v2/url_config", "/v1/url_config", "/device/url_config")
# §4.4: "GATEWAY_NOT_EXISTS: device no longer exists or is unbound".
GATEWAY_NOT_EXISTS = "GATEWAY_NOT_EXISTS"
INTERNAL_ERROR = "INTERNAL_ERROR"


def code_text(code: CloudError | str) -> str:
    """The wire form of an errorCode."""
    return code.value if isinstance(code, CloudError) else str(code)


def _token_member(opened: bytes) -> str | None:
    """The ``token`` string of an activation body that did not parse as a request, if it has one."""
    try:
        body = loads_json(opened, section="§4.2", what="activation body")
    except ProtocolError:
        return None
    token = body.get("token") if isinstance(body, dict) else None
    return token if isinstance(token, str) else None


@dataclass(frozen=True)
class Addresses:
    """Where this cloud is reachable, for url_config: the ATOP URL and the MQTT host:port."""

    http_url: str
    mqtt_host: str
    mqtt_port: int


class AtopService:
    """The device-facing HTTP endpoints of one cloud."""

    def __init__(self, state: CloudState, addresses: Callable[[web.Request], Addresses]) -> None:
        self.state = state
        self._addresses = addresses

    @property
    def behaviour(self) -> CloudBehaviour:
        """The cloud's current behaviour (the lab may switch faults while the service runs)."""
        return self.state.behaviour

    def now(self) -> int:
        return int(self.state.clock.time())

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/d.json", self.d_json)
        app.router.add_route("*", "/gw.json", self.d_json)  # §4.1: "Very old ESP SDKs also used /gw.json"
        for path in URL_CONFIG_PATHS:
            app.router.add_route("*", path, self.url_config)

    # --------------------------------------------------------------------------------------- answers

    def plain_error(self, code: CloudError | str, message: str) -> web.Response:
        body = encode_plain_error(code_text(code), message, t=self.now())
        return web.Response(body=body, content_type="application/json")

    def encrypted(self, payload: dict[str, Any], key: str, et: int) -> web.Response:
        nonce = os.urandom(12) if et == ET_GCM else None
        body = encode_response(payload, key, et, t=self.now(), nonce=nonce)
        return web.Response(body=body, content_type="application/json")

    def encrypted_error(self, code: CloudError | str, message: str, key: str, et: int) -> web.Response:
        return self.encrypted(error_payload(code_text(code), message, t=self.now()), key, et)

    # ---------------------------------------------------------------------------------------- /d.json

    async def d_json(self, request: web.Request) -> web.Response:
        if request.method != "POST":
            return self.plain_error(CloudError.ILLEGAL_PARAM, f"ATOP is POST only, not {request.method}")
        body = await request.read()
        try:
            query = parse_query(request.rel_url.raw_query_string)
        except ProtocolError as exc:
            return self.plain_error(CloudError.ILLEGAL_PARAM, exc.message)
        api = (query.a, query.v)
        if api not in self.behaviour.served_apis():
            return self.plain_error(CloudError.UNKNOWN_API, f"{query.a} v{query.v} is not served by this cloud")
        if api in ACTIVATION_APIS:
            return await self._activate(query, body)
        return self._reset(query, body)

    def open_body(self, query: AtopQuery, body: bytes, key: str, *, check_sign: bool) -> bytes | web.Response:
        """The decrypted body, or the plaintext error to answer with."""
        if check_sign and not verify_sign(query, key):
            return self.plain_error(CloudError.SIGN_INVALID, "sign does not match the query under the key")
        try:
            hex_text = parse_form_body(body)
        except ProtocolError as exc:
            return self._malformed(exc, CloudError.ILLEGAL_PARAM)
        try:
            return decrypt_body(hex_text, key, query.et)
        except DecryptionFailed as exc:
            return self.plain_error(CloudError.DECRYPT_FAILED, exc.message)
        except ProtocolError as exc:
            return self._malformed(exc, CloudError.DECRYPT_FAILED)

    def _malformed(self, error: ProtocolError, code: CloudError) -> web.Response:
        answer = self.behaviour.malformed_body_answer(error)
        return answer if answer is not None else self.plain_error(code, error.message)

    async def _activate(self, query: AtopQuery, body: bytes) -> web.Response:
        if query.uuid is None:
            return self.plain_error(CloudError.ILLEGAL_PARAM, "activation needs the licence uuid in the query")
        behaviour = self.behaviour
        found = behaviour.find_licence_key(self, query.uuid, query, body)
        if found is None:
            return self.plain_error(CloudError.LICENSE_NOT_EXISTS, f"licence {query.uuid} was never issued")
        uuid, key = found
        opened = behaviour.open_activation_body(self, query, body, key)
        if isinstance(opened, web.Response):
            return opened
        plaintext, key = opened
        try:
            req = ActivationRequest.from_json(plaintext)
        except ProtocolError as exc:
            token = _token_member(plaintext)
            if token is not None and len(token) != TOKEN_LEN:
                self.state.note_token_layout(uuid, token, exc.message)
            return self.encrypted_error(CloudError.ILLEGAL_PARAM, exc.message, key, query.et)
        outcome = await behaviour.run_activation(self.state, uuid, req)
        if outcome.result is None:
            return self.encrypted_error(outcome.error or CloudError.ILLEGAL_PARAM, outcome.message, key, query.et)
        log.info("activated %s (licence %s) for token %s", outcome.result.dev_id, uuid, req.token)
        return self.encrypted(success_payload(outcome.result.to_dict(), t=self.now()), key, query.et)

    def _reset(self, query: AtopQuery, body: bytes) -> web.Response:
        """``tuya.device.reset`` v4.0, signed with the secKey and naming the devId (§6)."""
        if query.dev_id is None:
            return self.plain_error(CloudError.ILLEGAL_PARAM, "reset needs the devId in the query")
        key = self.state.device_key(query.dev_id)
        if key is None:
            return self.plain_error(GATEWAY_NOT_EXISTS, f"device {query.dev_id} does not exist or is not bound")
        opened = self.open_body(query, body, key, check_sign=True)
        if isinstance(opened, web.Response):
            return opened
        try:
            obj = loads_json(opened, section="§6", what="reset body") if opened else {}
        except ProtocolError as exc:
            return self.encrypted_error(CloudError.ILLEGAL_PARAM, exc.message, key, query.et)
        if not isinstance(obj, dict):
            return self.encrypted_error(CloudError.ILLEGAL_PARAM, "reset body is not a JSON object", key, query.et)
        factory = obj.get("type") == "reset_factory"
        if not self.state.device_reset(query.dev_id, factory=factory):
            return self.encrypted_error(GATEWAY_NOT_EXISTS, "device is not bound", key, query.et)
        log.info("device %s reset itself (factory=%s)", query.dev_id, factory)
        return self.encrypted(success_payload(True, t=self.now()), key, query.et)

    # ---------------------------------------------------------------------------------------- url_config

    async def url_config(self, request: web.Request) -> web.Response:
        """§4.1: point the device at this cloud's ATOP and MQTT addresses, in both answer styles."""
        if request.method != "POST":
            return self.plain_error(CloudError.ILLEGAL_PARAM, f"url_config is POST only, not {request.method}")
        body = await request.read()
        if body.strip():
            try:
                UrlConfigRequest.from_json(body)
            except ProtocolError as exc:
                return self.plain_error(CloudError.ILLEGAL_PARAM, exc.message)
        where = self._addresses(request)
        mqtt_addr = f"{where.mqtt_host}:{where.mqtt_port}"
        urls = {
            "httpsSelfUrl": UrlEntry(where.http_url),
            "mqttsSelfUrl": UrlEntry(mqtt_addr),
            "httpUrl": UrlEntry(where.http_url, (where.mqtt_host,)),
            "mqttUrl": UrlEntry(mqtt_addr, (where.mqtt_host,)),
        }
        answer = UrlConfigResponse(urls=urls, ca_arr=None, ttl=600)
        return web.Response(text=answer.to_json(), content_type="application/json")


__all__ = ["ACTIVATION_APIS", "GATEWAY_NOT_EXISTS", "INTERNAL_ERROR", "Addresses", "AtopService", "code_text"]
