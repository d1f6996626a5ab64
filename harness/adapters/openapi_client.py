"""A signing client of Tuya's OpenAPI (PROTOCOL.md §10) on aiohttp, for the ``openapi`` cloud adapter.

It signs every request itself with :mod:`harness.protocol.openapi` (no runtime dependency on Tuya's clients),
keeps one access token and refreshes it before it runs out (§10.4: the refresh token works once), and retries a
failed call at most once: after one new login for 1010/1011/1012/1002, after resynchronising its clock from the
answer's ``t`` for 1013 (§10.5.5), after one back-off for 1110/1111/1199. A second failure is raised, never looped.

The adapter's contract is synchronous; this client runs its own event loop in a background thread (as the
emulated cloud's HTTP server does) and :meth:`OpenApiClient.call` blocks on it with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

import aiohttp
from yarl import URL

from harness import redaction
from harness.adapters.contracts import AdapterError
from harness.protocol import openapi as oa
from harness.protocol.errors import ProtocolError
from harness.protocol.openapi import OpenApiCode

log = logging.getLogger(__name__)

REFRESH_MARGIN_S = 60.0  # §10.4: clients "refresh proactively when less than 60 s of the lifetime remains"
BACK_OFF_S = 1.0
T = TypeVar("T")

# Codes that say the lab's configuration or the harness is wrong, named in errors so that they read at once.
CONFIGURATION_CODES: dict[int, str] = {
    OpenApiCode.SECRET_INVALID: "the Access Secret is wrong",
    OpenApiCode.SIGN_INVALID: "the sign does not verify: a wrong Access Secret, data centre, or clock",
    OpenApiCode.CLIENT_ID_INVALID: "the Access ID (client_id) is unknown to this data centre",
    OpenApiCode.WRONG_CONFIGURATION: "wrong endpoint, Access ID or Access Secret",
    OpenApiCode.SKILL_ID_INVALID: "wrong data centre, or the account is not linked to the project",
    OpenApiCode.SUBSCRIPTION_EXPIRED: "the project's IoT Core subscription has expired",
    OpenApiCode.API_NOT_SUBSCRIBED: "the project is not subscribed to this API",
    OpenApiCode.API_NOT_AUTHORISED: "the project is not authorised to call this API",
}


class OpenApiError(AdapterError):
    """The OpenAPI refused a call (``code``, ``msg``): an ERROR unless the adapter takes the code as data."""

    def __init__(self, method: str, path: str, code: int, msg: str) -> None:
        self.method = method
        self.path = path
        self.code = code
        self.msg = msg
        why = CONFIGURATION_CODES.get(code)
        super().__init__(f"the OpenAPI refused {method} {path}: {code} {msg}" + (f" ({why})" if why else ""))


class _LoopThread:
    """An event loop of its own in a daemon thread; coroutines are run on it from any thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="paircert-openapi-client", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout_s)
        except TimeoutError:
            future.cancel()
            raise

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5.0)
        if not self._thread.is_alive():
            self.loop.close()


class OpenApiClient:
    """Signed OpenAPI calls with one token holder; ``call`` answers the envelope's ``result`` or raises."""

    def __init__(self, base_url: str, client_id: str, secret: str, *, timeout_s: float = 10.0,
                 wall: Callable[[], float] = time.time, lang: str = "en") -> None:
        parsed = urllib.parse.urlsplit(base_url.strip())
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise AdapterError(f"the OpenAPI base URL must be http(s)://host[:port], got {base_url!r}")
        if not client_id or not secret:
            raise AdapterError("the OpenAPI needs a client_id (Access ID) and a secret (Access Secret)")
        if not timeout_s > 0:
            raise AdapterError(f"timeout_s must be positive, got {timeout_s!r}")
        self.base_url = urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, parsed.path.rstrip("/"), "", ""))
        self.client_id = client_id
        self._secret = secret
        redaction.learn(secret)
        self.timeout_s = float(timeout_s)
        self._wall = wall
        self._lang = lang
        self.clock_offset_s = 0.0  # the server's clock minus ours, learned from a 1013 answer (§10.5.5)
        self._access = ""
        self._refresh = ""
        self._expires_at = 0.0  # on our wall clock
        self.logins = 0
        self.refreshes = 0
        self._runner = _LoopThread()
        self._session: aiohttp.ClientSession | None = None
        self._token_lock: asyncio.Lock | None = None

    # -- the synchronous face ----------------------------------------------------------------------------

    def call(self, method: str, path: str, *, query: Sequence[tuple[str, str]] = (),
             body: Any = None) -> Any:
        """One business call's ``result``; :class:`OpenApiError` for a refusal, AdapterError when nothing sensible
        came back. Blocks at most a few ``timeout_s`` (one retry, one login or refresh)."""
        try:
            return self._runner.run(self._call(method, path, tuple(query), body), 4 * self.timeout_s + BACK_OFF_S)
        except TimeoutError:
            raise AdapterError(f"the OpenAPI at {self.base_url} did not answer {method} {path} in time") from None

    def raw(self, method: str, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """One unsigned exchange (the url_config of an emulated cloud): ``(status, body)``."""
        try:
            return self._runner.run(self._exchange(method, url, body, headers), 2 * self.timeout_s)
        except TimeoutError:
            raise AdapterError(f"{url} did not answer {method} in time") from None

    def close(self) -> None:
        if self._session is not None and not self._runner.loop.is_closed():
            with contextlib.suppress(Exception):
                self._runner.run(self._session.close(), self.timeout_s)
        self._session = None
        self._runner.stop()

    # -- on the loop ---------------------------------------------------------------------------------------

    async def _exchange(self, method: str, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        try:
            async with self._session.request(method, URL(url, encoded=True), data=body or None,
                                             headers=headers) as answer:
                return answer.status, await _read_capped(answer.content, oa.MAX_ANSWER_BYTES + 1)
        except TimeoutError:
            raise AdapterError(f"{url} did not answer {method} within {self.timeout_s} s") from None
        except aiohttp.ClientError as exc:
            raise AdapterError(f"{url} is unreachable ({method}): {type(exc).__name__}: {exc}") from exc

    async def _send(self, method: str, path: str, query: tuple[tuple[str, str], ...], body: bytes) -> oa.Envelope:
        token_call = oa.is_token_call(method, path)
        request = oa.SignedRequest(method, path, query, body, access_token="" if token_call else self._access)
        t_ms = int((self._wall() + self.clock_offset_s) * 1000)
        headers = request.headers(client_id=self.client_id, secret=self._secret, t_ms=t_ms,
                                  nonce=secrets.token_hex(16), lang=self._lang)
        if body:
            headers["Content-Type"] = "application/json"
        url = self.base_url + path
        if query:
            url += "?" + "&".join(f"{urllib.parse.quote(k, safe='')}={urllib.parse.quote(v, safe='')}"
                                  for k, v in query)
        status, raw = await self._exchange(method, url, body, headers)
        if status != 200:
            # §10.3: the OpenAPI answers 200 for every outcome; anything else is not the OpenAPI (or it broke).
            raise AdapterError(f"the OpenAPI answered {method} {path} with HTTP {status}: {_excerpt(raw)}")
        try:
            envelope = oa.parse_envelope(raw)
        except ProtocolError as exc:
            raise AdapterError(f"the OpenAPI's answer to {method} {path} is not its envelope: {exc}") from None
        return envelope

    async def _login(self, *, refresh: bool) -> None:
        """A new token pair: with the refresh token when asked and held (it works once), else ``grant_type=1``."""
        if refresh and self._refresh:
            used, self._refresh = self._refresh, ""  # never sent twice, whatever the answer
            envelope = await self._send("GET", f"{oa.TOKEN_PATH}/{used}", (), b"")
            if envelope.success:
                self.refreshes += 1
                self._hold(envelope)
                return
            log.info("refreshing the OpenAPI token failed (%s %s): logging in again", envelope.code, envelope.msg)
        for attempt in (1, 2):
            envelope = await self._send("GET", oa.TOKEN_PATH, (("grant_type", oa.GRANT_TYPE_SIMPLE),), b"")
            if envelope.success:
                self.logins += 1
                self._hold(envelope)
                return
            if attempt == 1 and envelope.code in oa.CLOCK_CODES:
                self._resync(envelope)
                continue
            break
        raise OpenApiError("GET", oa.TOKEN_PATH, int(envelope.code or 0), envelope.msg)

    def _hold(self, envelope: oa.Envelope) -> None:
        try:
            token = oa.AccessToken.from_result(envelope.result)
        except ProtocolError as exc:
            raise AdapterError(f"the OpenAPI's token answer is malformed: {exc}") from None
        redaction.learn(token.access_token)
        redaction.learn(token.refresh_token)
        self._access, self._refresh = token.access_token, token.refresh_token
        self._expires_at = self._wall() + token.expire_time

    def _resync(self, envelope: oa.Envelope) -> None:
        if envelope.t > 0:
            self.clock_offset_s = envelope.t / 1000 - self._wall()
            log.info("the OpenAPI's clock differs from ours by %.1f s: signing with its time", self.clock_offset_s)

    async def _token(self, *, force: bool = False) -> None:
        if self._token_lock is None:
            self._token_lock = asyncio.Lock()
        async with self._token_lock:
            if force or not self._access:
                await self._login(refresh=False)
            elif self._expires_at - self._wall() < REFRESH_MARGIN_S:
                await self._login(refresh=True)

    async def _call(self, method: str, path: str, query: tuple[tuple[str, str], ...], body: Any) -> Any:
        data = b"" if body is None else json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        await self._token()
        for attempt in (1, 2):  # the call, and at most one retry
            sent_with = self._access
            envelope = await self._send(method, path, query, data)
            if envelope.success:
                return envelope.result
            code = int(envelope.code or 0)
            if attempt == 2:
                break
            if code in oa.RELOGIN_CODES:
                if self._access == sent_with:  # another call may have logged in already
                    await self._token(force=True)
                continue
            if code in oa.CLOCK_CODES:
                self._resync(envelope)
                continue
            if code in oa.BACK_OFF_CODES:
                await asyncio.sleep(BACK_OFF_S)
                continue
            break
        raise OpenApiError(method, path, code, envelope.msg)


async def _read_capped(content: aiohttp.StreamReader, cap: int) -> bytes:
    """The body to its end or to ``cap`` bytes, whichever comes first (one ``read(n)`` answers what has arrived,
    which for a long answer is a part of it)."""
    body = bytearray()
    while len(body) < cap:
        chunk = await content.read(cap - len(body))
        if not chunk:
            break
        body += chunk
    return bytes(body)


def _excerpt(raw: bytes, limit: int = 200) -> str:
    text = raw[:limit].decode("utf-8", "replace")
    return text + ("..." if len(raw) > limit else "")


__all__ = ["CONFIGURATION_CODES", "OpenApiClient", "OpenApiError"]
