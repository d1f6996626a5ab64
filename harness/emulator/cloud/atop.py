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

from harness.errors import HarnessError
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
from harness.protocol.matop import API_VERSIONS_UPDATE
from harness.protocol.mqtt import PROTOCOL_VERSIONS
from harness.protocol.strictjson import loads_json
from harness.protocol.token import TOKEN_LEN

from .activation import announcing
from .behaviour import CloudBehaviour
from .limits import read_body
from .matop import MatopService
from .state import CloudState

log = logging.getLogger(__name__)

ACTIVATION_APIS = frozenset({API_ACTIVE_V44, API_OPENSDK_ACTIVE})
URL_CONFIG_PATHS = ("/v2/url_config", "/v1/url_config", "/device/url_config")
# §4.4: "GATEWAY_NOT_EXISTS: device no longer exists or is unbound".
GATEWAY_NOT_EXISTS = "GATEWAY_NOT_EXISTS"
INTERNAL_ERROR = "INTERNAL_ERROR"
MAX_ATOP_BODY = 256 * 1024


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


def announced_protocol(api: tuple[str, str], protocol_ver: str) -> str:
    """The MQTT protocol version a device announced at activation (§11.9.5): the body's ``protocolVer`` when it
    names one, else what the API implies (``thing.device.opensdk.active`` is TuyaOpen's: 2.3)."""
    if protocol_ver in PROTOCOL_VERSIONS:
        return protocol_ver
    return "2.3" if api == API_OPENSDK_ACTIVE else "2.2"


@dataclass(frozen=True)
class Addresses:
    """Where this cloud is reachable, for url_config (§11.2): the ATOP URL and MQTT host:port devices use, the
    lab CA (base64 DER) when the cloud serves TLS, and the plain listeners kept for old firmware."""

    http_url: str
    mqtt_host: str
    mqtt_port: int
    ca_der_base64: str | None = None
    plain_http_url: str | None = None
    plain_mqtt_port: int | None = None


class AtopService:
    """The device-facing HTTP endpoints of one cloud."""

    def __init__(self, state: CloudState, addresses: Callable[[web.Request], Addresses],
                 matop: MatopService | None = None) -> None:
        self.state = state
        self._addresses = addresses
        self.matop = matop if matop is not None else MatopService(state)

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
        body = await read_body(request, max_bytes=MAX_ATOP_BODY)
        return await self.answer(request.rel_url.raw_query_string, body)

    async def answer(self, raw_query: str, body: bytes) -> web.Response:
        """The answer to ``POST /d.json?<raw_query>`` with ``body``: everything the cloud does for an ATOP call
        but HTTP (what benchmarks/bench_activation.py measures)."""
        try:
            query = parse_query(raw_query)
        except ProtocolError as exc:
            return self.plain_error(CloudError.ILLEGAL_PARAM, exc.message)
        api = (query.a, query.v)
        if api not in self.behaviour.served_apis():
            return self.plain_error(CloudError.UNKNOWN_API, f"{query.a} v{query.v} is not served by this cloud")
        if api in ACTIVATION_APIS:
            return await self._activate(query, body)
        if api == API_VERSIONS_UPDATE:
            return self._versions_update(query, body)
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
        with announcing(announced_protocol((query.a, query.v), req.protocol_ver)):
            outcome = await behaviour.run_activation(self.state, uuid, req)
        if outcome.result is None:
            return self.encrypted_error(outcome.error or CloudError.ILLEGAL_PARAM, outcome.message, key, query.et)
        log.debug("activated %s (licence %s) for token %s", outcome.result.dev_id, uuid, req.token)
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

    def _signed_by_device(self, query: AtopQuery, body: bytes) -> tuple[str, Any] | web.Response:
        """A bound device's request (devId in the query, signed and encrypted with its secKey): (secKey, the
        body's JSON object), or the error to answer with."""
        if query.dev_id is None:
            return self.plain_error(CloudError.ILLEGAL_PARAM, f"{query.a} needs the devId in the query")
        key = self.state.device_key(query.dev_id)
        if key is None:
            return self.plain_error(GATEWAY_NOT_EXISTS, f"device {query.dev_id} does not exist or is not bound")
        opened = self.open_body(query, body, key, check_sign=True)
        if isinstance(opened, web.Response):
            return opened
        try:
            obj = loads_json(opened, section="§4.2", what=f"{query.a} body") if opened else {}
        except ProtocolError as exc:
            return self.encrypted_error(CloudError.ILLEGAL_PARAM, exc.message, key, query.et)
        return key, obj

    def _versions_update(self, query: AtopQuery, body: bytes) -> web.Response:
        """§11.5 ``tuya.device.versions.update`` v4.1: answered success, the versions recorded on the device."""
        opened = self._signed_by_device(query, body)
        if isinstance(opened, web.Response):
            return opened
        key, obj = opened
        if query.dev_id is None:
            raise HarnessError("broken invariant: query.dev_id is not None")
        ok, detail = self.matop.versions_update(query.dev_id, obj)
        if not ok:
            return self.encrypted_error(CloudError.ILLEGAL_PARAM, detail, key, query.et)
        return self.encrypted(success_payload(True, t=self.now()), key, query.et)

    # ---------------------------------------------------------------------------------------- url_config

    async def url_config(self, request: web.Request) -> web.Response:
        """§4.1, §11.2: point the device at this cloud's ATOP and MQTT addresses, in every answer style.

        ``httpsSelfUrl.addr`` is ``https://<host>[:<port>]/d.json`` (the port is written only when it is not
        443: the SDKs force 443, so real firmware needs the cloud on 443), ``mqttsSelfUrl.addr`` is
        ``host:port``, ``caArr`` holds the lab CA (base64 DER; an empty array, never null, without TLS), and the
        older ``httpUrl``/``mqttUrl`` members name the plain listeners where there are some.
        """
        if request.method != "POST":
            return self.plain_error(CloudError.ILLEGAL_PARAM, f"url_config is POST only, not {request.method}")
        body = await read_body(request, max_bytes=MAX_ATOP_BODY)
        if body.strip():
            try:
                UrlConfigRequest.from_json(body)
            except ProtocolError as exc:
                return self.plain_error(CloudError.ILLEGAL_PARAM, exc.message)
        where = self._addresses(request)
        mqtt_addr = f"{where.mqtt_host}:{where.mqtt_port}"
        plain_mqtt = f"{where.mqtt_host}:{where.plain_mqtt_port}" if where.plain_mqtt_port else mqtt_addr
        urls = {
            "httpsSelfUrl": UrlEntry(where.http_url),
            "mqttsSelfUrl": UrlEntry(mqtt_addr),
            "httpUrl": UrlEntry(where.plain_http_url or where.http_url, (where.mqtt_host,)),
            "mqttUrl": UrlEntry(plain_mqtt, (where.mqtt_host,)),
        }
        ca_arr = (where.ca_der_base64,) if where.ca_der_base64 else ()
        answer = UrlConfigResponse(urls=urls, ca_arr=ca_arr, ttl=600)
        return web.Response(text=answer.to_json(), content_type="application/json")


__all__ = ["ACTIVATION_APIS", "GATEWAY_NOT_EXISTS", "INTERNAL_ERROR", "Addresses", "AtopService", "announced_protocol",
           "code_text"]
