"""The emulated camera's activation exchange (PROTOCOL.md §4) as a genuine SDK makes it (§11).

- TLS (§11.1): an ``https://`` ATOP URL is dialled with certificate verification against the CA the camera
  trusts for that cloud (:attr:`CloudEndpoint.ca_pem`, the lab CA where the lab gives one, else the system's
  trust store): a server the CA did not sign is refused, recorded as ``atop-tls-refused``.
- HTTP (§11.3): every ATOP request carries ``User-Agent`` twice, the SDK's ``TUYA_IOT_SDK`` and its HTTP
  library's, as the connect-kit and TuyaOpen send it.
- Retries (§11.7): a genuine device retries a refused activation (other than ``GATEWAY_NOT_EXISTS``) about every
  second with the same token until it gives up. The camera does so when ``refused_retries`` is above 0 (the
  connect-kit and TuyaOpen retry forever; the emulated camera gives up after that many retries); by default it
  gives up at the first refusal, as before.
"""

from __future__ import annotations

import asyncio
import functools
import json
import secrets
import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
import yarl
from multidict import CIMultiDict

from harness.emulator.camera.states import Event
from harness.protocol import atop
from harness.protocol.errors import ProtocolError

if TYPE_CHECKING:
    from harness.clock import Clock
    from harness.emulator.camera.pairing import PairingConfig
    from harness.emulator.loop import DeviceLoop
    from harness.emulator.timeline import TimelineEvent

ActivationApi = Literal["v4.4", "opensdk"]
API_BY_NAME = {"v4.4": atop.API_ACTIVE_V44, "opensdk": atop.API_OPENSDK_ACTIVE}
SETTLE_S = 5.0  # a reset waits this long at most for requests already sent (the lab's reset call allows 10 s)
GATEWAY_NOT_EXISTS = "GATEWAY_NOT_EXISTS"  # §11.7: the one refusal after which the SDK does not retry
#: §11.3: coreHTTP's own User-Agent, sent after the SDK's (CK ``core_http_config.h``).
HTTP_LIBRARY_AGENT = "coreHTTP"


@dataclass(frozen=True)
class CloudEndpoint:
    """Where a region's devices activate (ATOP ``/d.json``) and log in (MQTT), and the CA they trust there.

    ``ca_pem`` is the CA an ``https://`` ATOP URL and an MQTT-over-TLS broker must be signed by (§11.1: the lab
    CA; None: the system's trust store); ``mqtt_tls`` says whether the broker speaks MQTT over TLS.
    """

    atop_url: str
    mqtt_host: str
    mqtt_port: int
    ca_pem: bytes | None = None
    mqtt_tls: bool = False

    def tls_context(self) -> ssl.SSLContext:
        """A client context trusting :attr:`ca_pem` (or the system's store), with host name checking."""
        return _client_context(self.ca_pem)


@functools.lru_cache(maxsize=64)
def _client_context(ca_pem: bytes | None) -> ssl.SSLContext:
    """One verifying client context per CA, shared by every camera that trusts it (§11.1)."""
    if ca_pem is None:
        return ssl.create_default_context()
    context = ssl.create_default_context(cadata=ca_pem.decode("ascii"))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


@dataclass
class Activation:
    """What activation gave the camera (§4.3), kept in its flash until a reset wipes it."""

    dev_id: str
    sec_key: str
    local_key: str
    schema_id: str
    region: str
    endpoint: CloudEndpoint


def activation_body(*, token: str, t: int, firmware: str, pid: str, activation_api: ActivationApi, mac: str,
                    kept_dev_id: str | None = None) -> dict[str, Any]:
    """The §4.2 activation body as the camera builds it (key order as TO/CK), ``devId`` when it kept one (§6)."""
    body: dict[str, Any] = {
        "token": token, "softVer": firmware, "productKey": pid,
        "protocolVer": "2.2" if activation_api == "v4.4" else "2.3",
        "baselineVer": "40.00", "options": json.dumps({"otaChannel": 0, "isFK": False}, separators=(",", ":")),
    }
    if kept_dev_id is not None:
        body["devId"] = kept_dev_id  # §6: a reset device re-activates with the devId it kept
    body.update({"devAttribute": 2048, "cadVer": "1.0.3", "cdVer": "1.0.0", "t": t,
                 "hid": mac.replace(":", "").replace("-", "").lower()})
    return body


@dataclass(frozen=True)
class AtopCall:
    """One ATOP request as the SDK sends it (§4.2, §11.3): ``POST <atop url>?<query>`` with the form body."""

    query: str
    form: bytes = field(repr=False)
    et: int

    def headers(self, authority: str) -> list[tuple[str, str]]:
        """§11.3: ``User-Agent`` twice (the SDK's, then its HTTP library's), the host, the form's type."""
        return [("User-Agent", "TUYA_IOT_SDK"), ("Host", authority), ("User-Agent", HTTP_LIBRARY_AGENT),
                ("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")]


def atop_call(api: tuple[str, str], *, key: str, body: bytes, t: int, uuid: str | None = None,
              dev_id: str | None = None, et: int | None = None) -> AtopCall:
    """Sign and encrypt one ATOP call (§4.2): with the authKey and ``uuid`` before activation, the secKey and
    ``dev_id`` after; ``et`` defaults to the activation API's own (a fresh GCM nonce for et=3)."""
    name, version = api
    et = atop.ACTIVE_API_ET.get(api, atop.ET_ECB) if et is None else et
    request = atop.AtopRequest(api=name, version=version, et=et, t=t, uuid=uuid, dev_id=dev_id, body=body)
    nonce = secrets.token_bytes(atop.GCM_NONCE_LEN) if et == atop.ET_GCM else None
    query, form = atop.build_request(request, key, nonce=nonce)
    return AtopCall(query, form, et)


def open_activation_reply(wire: bytes, auth_key: str,
                          et: int) -> tuple[atop.AtopResponse, atop.ActivationResult | None]:
    """The cloud's answer to an activation (§4.3) and, when it succeeded, its result; ProtocolError when the answer
    cannot be read (bad sign, bad ciphertext, a result missing what the camera needs)."""
    reply = atop.decode_response(wire, auth_key, et)
    return reply, atop.ActivationResult.from_dict(reply.result) if reply.success else None


class ActivationMixin:
    """The ATOP half of :class:`~harness.emulator.camera.firmware.EmulatedCamera`."""

    if TYPE_CHECKING:
        device_loop: DeviceLoop
        clock: Clock
        uuid: str
        auth_key: str
        activation_api: ActivationApi
        activation_attempts: int
        refused_retries: int
        refused_retry_s: float
        _atop_in_flight: set[asyncio.Task[bytes]]
        kept_dev_id: str | None
        dps: dict[str, Any]
        default_dps: dict[str, Any]

        def record(self, name: str, **details: Any) -> TimelineEvent: ...

        def _fire(self, event: Event, **details: Any) -> None: ...

        def split_token(self, text: str) -> tuple[str, str, str]: ...

        def endpoint_for(self, region: str) -> CloudEndpoint | None: ...

        def activation_body(self, *, token: str, t: int) -> dict[str, Any]: ...

    def _fail_activation(self, reason: str, **details: Any) -> None:
        self._fire(Event.ACTIVATION_FAILED, reason=reason, **details)

    async def _activate(self, config: PairingConfig) -> Activation | None:
        region, token, secret = self.split_token(config.token)
        endpoint = self.endpoint_for(region)
        if endpoint is None:
            self._fail_activation("unknown-region", region=region)
            return None
        et = atop.ACTIVE_API_ET[API_BY_NAME[self.activation_api]]
        for attempt in range(1, max(0, self.refused_retries) + 2):
            wire = await self._exchange(endpoint, region, token, secret)
            if wire is None:
                self._fail_activation("network")
                return None
            try:
                reply, found = open_activation_reply(wire, self.auth_key, et)
                if found is not None:
                    result = found
                    break
            except ProtocolError as exc:
                self.record("atop-bad-reply", error=str(exc))
                self._fail_activation("bad-reply")
                return None
            self.record("atop-refused", error_code=reply.error_code, error_msg=reply.error_msg, attempt=attempt)
            if reply.error_code == GATEWAY_NOT_EXISTS or attempt > self.refused_retries:
                self._fail_activation("refused", error_code=reply.error_code)
                return None
            await self.clock.sleep(self.refused_retry_s)  # §11.7: about a second, then the same token again
        self.record("atop-activated", dev_id=result.dev_id, reset_factory=result.reset_factory,
                    secKey=result.sec_key, localKey=result.local_key)
        if result.reset_factory:
            # §6 GW_RESET_DATA_FACTORY: the cloud says the data is to be wiped (remove-and-wipe, or a rebind).
            self.dps = dict(self.default_dps)
            self.record("data-reset-factory")
        return Activation(result.dev_id, result.sec_key, result.local_key, result.schema_id, region, endpoint)

    async def _exchange(self, endpoint: CloudEndpoint, region: str, token: str, secret: str) -> bytes | None:
        """One activation request (rebuilt with a fresh ``t``, as the SDKs do) and its answer's bytes; None
        when the network or TLS failed every attempt."""
        api, version = API_BY_NAME[self.activation_api]
        t = int(self.clock.time())
        body = json.dumps(self.activation_body(token=token, t=t), separators=(",", ":")).encode("utf-8")
        call = atop_call((api, version), key=self.auth_key, body=body, t=t, uuid=self.uuid)
        url = yarl.URL(f"{endpoint.atop_url}?{call.query}", encoded=True)
        self.record("atop-request", api=api, v=version, et=call.et, url=endpoint.atop_url, region=region, token=token,
                    env=secret, dev_id=self.kept_dev_id)
        form = call.form
        headers = CIMultiDict(call.headers(url.raw_authority))
        tls = endpoint.tls_context() if url.scheme == "https" else None
        for attempt in range(1, self.activation_attempts + 1):
            try:
                return await self._in_flight(self._post(url, form, headers, tls))
            except aiohttp.ClientConnectorCertificateError as exc:  # §11.1: verification is never skipped
                self.record("atop-tls-refused", attempt=attempt, error=str(exc.certificate_error))
                return None
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.record("atop-network-error", attempt=attempt, error=repr(exc))
                if attempt < self.activation_attempts:
                    await self.clock.sleep(1.0)
        return None

    async def _post(self, url: yarl.URL, form: bytes, headers: CIMultiDict[str], tls: ssl.SSLContext | None) -> bytes:
        async with self.device_loop.http_session().post(url, data=form, headers=headers,
                                                      ssl=tls if tls is not None else True) as response:
            return await response.read()

    async def _in_flight(self, request: Any) -> bytes:
        """Run one ATOP request to its answer even when the camera moves on (a reset cancels the activation): the
        cloud acts on a request it has received whether or not the device still reads the answer, so a reset
        waits for it (:meth:`settle_requests`) and nothing from before it lands after it."""
        task: asyncio.Task[bytes] = self.device_loop.loop.create_task(request)
        self._atop_in_flight.add(task)
        task.add_done_callback(_forget_request(self._atop_in_flight))
        return await asyncio.shield(task)

    async def settle_requests(self, timeout_s: float = SETTLE_S) -> None:
        """Wait (bounded, in real time) until every ATOP request already sent has its answer."""
        if self._atop_in_flight:
            await asyncio.wait(set(self._atop_in_flight), timeout=timeout_s)


def _forget_request(pending: set[asyncio.Task[bytes]]) -> Any:
    def done(task: asyncio.Task[bytes]) -> None:
        pending.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: the activation that wanted it reports it, or nobody needs it any more
    return done


__all__ = ["API_BY_NAME", "Activation", "ActivationApi", "ActivationMixin", "AtopCall", "CloudEndpoint",
           "activation_body", "atop_call", "open_activation_reply"]
