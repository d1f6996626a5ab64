"""The cloud's aiohttp application and the thread that serves it.

:func:`build_app` composes the ATOP endpoints and the app API behind one middleware that keeps the promise
of the issue: whatever arrives, the answer is well-formed JSON and never a 500. ATOP paths answer HTTP 200
with ``{"success":false,"errorCode":..}`` (what a device parses); the app API and unknown paths answer a 4xx
status with the same JSON shape. An exception nobody expected is a harness bug: it is answered the same way
and logged at ERROR with its traceback. The OpenAPI's paths (``/v1.0/``, ``/v1.1/``, ``/v2.0/``) are answered
by its own middleware (:mod:`.openapi`): HTTP 200 and the §10.3 envelope, whatever happened.

:class:`HttpServerThread` runs the application on its own event loop in a background thread, on a loopback
port (0 = a free one), so synchronous tests and adapters can use the cloud as well as async code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
from collections.abc import Awaitable, Callable

from aiohttp import web

from harness.clock import register_world_loop, unregister_world_loop
from harness.model.errors import CloudError

from .app_api import API_PREFIX, AppHttp, CloudApp, app_error
from .atop import URL_CONFIG_PATHS, Addresses, AtopService
from .front import HttpListeners
from .limits import (
    LIMITS_KEY,
    ClientGone,
    ConnectionGuard,
    RateLimitedLog,
    ServerLimits,
    json_errors_factory,
    runner_options,
)
from .openapi import OpenApiService
from .records import CloudInputError

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 256 * 1024
_LIMITED = RateLimitedLog(log, burst=10)
ATOP_PATHS = frozenset({"/d.json", "/gw.json", *URL_CONFIG_PATHS})


def build_app(atop: AtopService, app_http: AppHttp, openapi: OpenApiService | None = None, *,
              limits: ServerLimits | None = None) -> web.Application:
    """The aiohttp application of one cloud: ``/d.json``, ``url_config``, ``/app/v1/...`` (behind the lab's
    credentials, :mod:`.auth`) and, with ``openapi``, Tuya's OpenAPI (``/v1.0/...``, whose own middleware answers
    its §10.3 envelope with HTTP 200)."""

    @web.middleware
    async def well_formed(request: web.Request,
                          handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        answer = await answered(request, handler)
        if not request.content.is_eof():
            # A body nobody read (refused before it was needed): close after answering instead of letting aiohttp
            # drain it, which would meet a broken Content-Encoding or a slow sender outside any handler.
            answer.force_close()
        return answer

    async def answered(request: web.Request,
                       handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        device_side = request.path in ATOP_PATHS
        try:
            return await handler(request)
        except CloudInputError as exc:  # a refused request, a body that could not be read (limits.read_body)
            answer = (atop.plain_error(CloudError.ILLEGAL_PARAM, exc.message) if device_side
                      else app_error(exc.code, exc.message, exc.status))
            if exc.status in (408, 413) or isinstance(exc, ClientGone):
                answer.force_close()
            return answer
        except ConnectionError:  # the client went away mid-request: nobody to answer, nothing to report
            log.debug("client went away during %s %s", request.method, request.path)
            answer = app_error("CLIENT_GONE", "the client closed the connection mid-request", 400)
            answer.force_close()
            return answer
        except web.HTTPException as exc:  # 404, 405, 413 (client_max_size), ... raised by aiohttp itself
            if device_side:
                return atop.plain_error(CloudError.ILLEGAL_PARAM, f"HTTP {exc.status}: {exc.reason}")
            code = "NOT_FOUND" if exc.status == 404 else "ILLEGAL_PARAM"
            status = exc.status if 400 <= exc.status < 500 else 400
            return app_error(code, f"HTTP {exc.status}: {exc.reason}", status)
        except asyncio.CancelledError:
            raise
        except Exception:
            if _LIMITED.allow(logging.ERROR, "HARNESS BUG"):  # every one is a bug; the log still stays bounded
                log.exception("HARNESS BUG: unexpected error serving %s %s", request.method, request.path)
            if device_side:
                return atop.plain_error(CloudError.INTERNAL_ERROR, "internal error in the emulated cloud")
            return app_error("INTERNAL_ERROR", "internal error in the emulated cloud (logged)", 400)

    # -- OpenAPI (PROTOCOL.md §10): its middleware sits inside well_formed and answers every /v1.0/... itself.
    middlewares = [well_formed, app_http.auth.middleware]
    if openapi is not None:
        middlewares.append(openapi.middleware)
    app = web.Application(middlewares=middlewares, client_max_size=MAX_REQUEST_BYTES)
    app[LIMITS_KEY] = limits or ServerLimits()
    atop.add_routes(app)
    app_http.add_routes(app)
    if openapi is not None:
        openapi.add_routes(app)
    # -- end OpenAPI
    return app


class _GuardedListeners(HttpListeners):
    """The listeners with the connection guard outermost: it admits or refuses a connection before anything else
    and times the bytes as the client sends them (the header front buffers a head until it is whole)."""

    def __init__(self, factory: Callable[[], asyncio.Protocol], guard: ConnectionGuard) -> None:
        super().__init__(factory)
        self._guarded = guard.factory(super()._wrapped)

    def _wrapped(self) -> asyncio.Protocol:
        return self._guarded()


class HttpServerThread:
    """An aiohttp application served from a background thread with its own event loop.

    With ``tls`` the main listener (``port``) speaks HTTPS and ``plain_port`` (when not None) adds a plain-HTTP
    listener for old firmware; both go through :class:`~.front.HttpListeners` (TLS sniffing, repeated
    ``User-Agent``, PROTOCOL.md §11.1, §11.3).
    """

    def __init__(self, make_app: Callable[[], web.Application], *, host: str = "127.0.0.1", port: int = 0,
                 timeout_s: float = 10.0, tls: ssl.SSLContext | None = None, plain_port: int | None = None,
                 limits: ServerLimits | None = None, reuse_port: bool = False) -> None:
        self._make_app = make_app
        self._reuse_port = reuse_port  # several processes accept on the same ports (cloud serve --workers)
        self.limits = limits or ServerLimits()
        self.guard: ConnectionGuard | None = None
        self.host = host
        self._requested_port = port
        self.port = 0
        # -- TLS (§11.1): the main port's context, and an optional plain listener beside it
        self._tls = tls
        self._requested_plain_port = plain_port
        self.plain_port: int | None = None
        # -- end TLS
        self._timeout_s = timeout_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the HTTP server is already started")
        self._thread = threading.Thread(target=self._run, name="paircert-cloud-http", daemon=True)
        self._thread.start()
        if not self._ready.wait(self._timeout_s):
            raise TimeoutError(f"the cloud's HTTP server did not start within {self._timeout_s} s")
        if self._error is not None:
            self._thread.join(self._timeout_s)
            self._thread = None
            raise RuntimeError(f"the cloud's HTTP server failed to start: {self._error}") from self._error

    def stop(self) -> None:
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None:
            return
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        thread.join(self._timeout_s)
        if thread.is_alive():
            log.warning("the cloud's HTTP thread did not end within %s s", self._timeout_s)
        self._thread = None

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        register_world_loop(loop)  # a virtual clock lets the cloud answer what it has read before jumping
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:
            if not self._ready.is_set():
                self._error = exc
            else:
                log.exception("the cloud's HTTP server stopped on an error")
        finally:
            unregister_world_loop(loop)
            self._ready.set()
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        runner = web.AppRunner(self._make_app(), access_log=None, handle_signals=False,
                               **runner_options(self.limits))
        await runner.setup()
        # -- listeners (§11.1, §11.3): HTTPS or HTTP on the port, plain HTTP beside HTTPS when asked
        # Every connection behind the guard first (request-head and body timeouts, connection limits: limits.py),
        # then aiohttp's protocol answering its own refusals as JSON.
        self.guard = ConnectionGuard(self.limits)
        listeners = _GuardedListeners(json_errors_factory(runner), self.guard)
        try:
            self.port = await listeners.listen(self.host, self._requested_port, tls=self._tls,
                                               reuse_port=self._reuse_port)
            if self._tls is not None and self._requested_plain_port is not None:
                self.plain_port = await listeners.listen(self.host, self._requested_plain_port,
                                                         reuse_port=self._reuse_port)
            # -- end listeners
            self._ready.set()
            await self._stop.wait()
        finally:
            await listeners.close()
            await runner.cleanup()


__all__ = ["API_PREFIX", "ATOP_PATHS", "MAX_REQUEST_BYTES", "Addresses", "CloudApp", "HttpServerThread", "ServerLimits",
           "build_app"]
