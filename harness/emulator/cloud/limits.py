"""What keeps the lab cloud's HTTP server up against slow, greedy and malformed clients.

- :class:`ServerLimits`: a request head must arrive within ``header_timeout_s`` of the connection (or of its
  first byte, for a later request on a kept-alive connection), anything after it within ``body_timeout_s``;
  at most ``max_connections_per_address`` connections per client address and ``max_connections`` in all.
- :class:`ConnectionGuard`: every connection of the listeners (:mod:`.front`) passes through one before
  aiohttp, which enforces those limits (aiohttp itself has no request-head timeout). At the cap, the oldest
  connection that has not yet sent a whole request head makes room for a new one: a slowloris holds
  connections, a real client finishes its head at once.
- :func:`read_body`: every handler reads its body through it, so a body that is too large, arrives too slowly,
  is not valid for its ``Content-Encoding`` (decoded here, not by aiohttp) or ends early becomes a well-formed
  refusal, never an exception.
- :class:`RateLimitedLog` and :func:`quiet_wire_logger`: log lines the clients can cause are rate-limited, and
  aiohttp's framing errors (a malformed request line, a bad chunk) are one DEBUG line, not an ERROR traceback.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import zlib
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler, RequestPayloadError
from aiohttp.web_request import BaseRequest

from harness.errors import HarnessError

from .records import CloudInputError

log = logging.getLogger(__name__)

WIRE_LOGGER = "harness.emulator.cloud.wire"
_HEAD_END = b"\r\n\r\n"
BODY_GRACE_S = 1.0


@dataclass(frozen=True)
class ServerLimits:
    """The HTTP server's timeouts and connection limits (``paircert cloud serve`` options of the same names)."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    keepalive_timeout_s: float = 15.0
    max_connections: int = 1024
    max_connections_per_address: int = 64

    def __post_init__(self) -> None:
        for name in ("header_timeout_s", "body_timeout_s", "keepalive_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if not 1 <= self.max_connections_per_address <= self.max_connections:
            raise ValueError("max_connections_per_address must be from 1 to max_connections")

    @classmethod
    def for_one_process(cls) -> ServerLimits:
        """An in-process emulated world on loopback: every client (the cameras, the app, the lab) is this one
        address, so the per-address limit is the whole cap (1,000 cameras activate at once in the benchmarks)."""
        return cls(max_connections=4096, max_connections_per_address=4096)


LIMITS_KEY = web.AppKey("paircert.limits", ServerLimits)


class RateLimitedLog:
    """At most ``burst`` lines per key and window; what was held back is counted in one line when the next
    window opens. Keys are the caller's constants, so the table stays small."""

    def __init__(self, logger: logging.Logger, *, burst: int = 5, window_s: float = 60.0,
                 now: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger
        self._burst = burst
        self._window_s = window_s
        self._now = now
        self._windows: dict[str, list[float]] = {}  # key -> [window start, lines logged, lines held back]
        self._lock = threading.Lock()

    def allow(self, level: int, key: str) -> bool:
        """Whether a line of ``key`` may be logged now (and, on a new window, the count of the held-back ones)."""
        now = self._now()
        held_back = 0
        with self._lock:
            window = self._windows.get(key)
            if window is None or now - window[0] >= self._window_s:
                held_back = int(window[2]) if window is not None else 0
                window = self._windows[key] = [now, 0, 0]
            allowed = window[1] < self._burst
            window[1 if allowed else 2] += 1
        if held_back:
            self._logger.log(level, "%s: %d more like this in the previous %.0f s", key, held_back, self._window_s)
        return allowed

    def log(self, level: int, key: str, message: str, *args: object) -> None:
        if self._logger.isEnabledFor(level) and self.allow(level, key):
            self._logger.log(level, message, *args)


class _WireErrors(logging.Filter):
    """aiohttp's "Error handling request" for a framing error: one DEBUG line, rate-limited; anything else
    aiohttp logs (a genuine bug) goes through as it came."""

    def __init__(self) -> None:
        super().__init__()
        self._limit = RateLimitedLog(logging.getLogger(WIRE_LOGGER), burst=10)

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        # RequestPayloadError: aiohttp draining (lingering on) a body whose Content-Encoding broke, after the answer
        if not isinstance(exc, HttpProcessingError | RequestPayloadError | ConnectionError | asyncio.TimeoutError):
            return True
        text = str(exc).replace("\n", " ")[:200]
        record.msg, record.args = "malformed request (%s): %s", (type(exc).__name__, text)
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        record.exc_info, record.exc_text = None, None
        return self._limit.allow(logging.DEBUG, "malformed requests")


def quiet_wire_logger() -> logging.Logger:
    """The logger aiohttp's request handlers report to (``logger=`` of the runner), with framing errors quieted."""
    logger = logging.getLogger(WIRE_LOGGER)
    if not any(isinstance(f, _WireErrors) for f in logger.filters):
        logger.addFilter(_WireErrors())
    return logger


# ------------------------------------------------------------------------------------------------ bodies


async def read_body(request: web.Request, *, max_bytes: int) -> bytes:
    """The request's body, or a :class:`CloudInputError` the middleware answers: 413 too large, 408 too slow,
    400 undecodable (a ``Content-Encoding`` it is not in, a broken chunked framing) or cut short."""
    limits = request.app.get(LIMITS_KEY) or ServerLimits()
    if request.content_length is not None and request.content_length > max_bytes:
        raise CloudInputError("ILLEGAL_PARAM", "request body too large", status=413)
    try:
        if request.content.is_eof():  # the whole body came with the head (a device's small POST): no wait to bound
            raw = await request.read()
        else:
            async with asyncio.timeout(limits.body_timeout_s):
                raw = await request.read()
    except TimeoutError:
        raise CloudInputError("REQUEST_TIMEOUT", f"the request body did not arrive within {limits.body_timeout_s} s",
                              status=408) from None
    except web.HTTPRequestEntityTooLarge:
        raise CloudInputError("ILLEGAL_PARAM", "request body too large", status=413) from None
    except RequestPayloadError as exc:
        raise CloudInputError("ILLEGAL_PARAM", f"request body could not be read: {str(exc)[:120]}") from None
    except ConnectionError:
        raise ClientGone() from None
    if len(raw) > max_bytes:
        raise CloudInputError("ILLEGAL_PARAM", "request body too large", status=413)
    return decode_body(raw, request.headers.get("Content-Encoding", ""), max_bytes=max_bytes)


def decode_body(raw: bytes, encodings: str, *, max_bytes: int) -> bytes:
    """``raw`` undone from its ``Content-Encoding`` (RFC 9110 §8.4: the last one listed was applied last):
    ``gzip``/``x-gzip``, ``deflate`` (zlib, or raw deflate as some clients send it), ``identity``. Decoded here
    rather than by aiohttp, so that a body that is not what it says, a truncated stream or a bomb (more than
    ``max_bytes`` once decoded) is a well-formed refusal, and an encoding this cloud does not speak is 415."""
    names = [name.strip().lower() for name in encodings.split(",") if name.strip()]
    for name in reversed(names):
        if name == "identity":
            continue
        if name not in ("gzip", "x-gzip", "deflate"):
            raise CloudInputError("UNSUPPORTED_ENCODING", "Content-Encoding must be gzip, deflate or identity",
                                  status=415)
        raw = _inflate(raw, name, max_bytes)
    return raw


def _inflate(raw: bytes, name: str, max_bytes: int) -> bytes:
    attempts = (zlib.MAX_WBITS | 16,) if name != "deflate" else (zlib.MAX_WBITS, -zlib.MAX_WBITS)
    for wbits in attempts:
        inflater = zlib.decompressobj(wbits)
        try:
            out = inflater.decompress(raw, max_bytes + 1)
        except zlib.error:
            continue
        if len(out) > max_bytes:
            raise CloudInputError("ILLEGAL_PARAM", "request body too large once decoded", status=413)
        if inflater.eof and not inflater.unused_data:
            return out
    raise CloudInputError("ILLEGAL_PARAM", f"request body is not valid {name}")


class ClientGone(CloudInputError):
    """The client closed its connection before its request was read (answered, though nobody will read it)."""

    def __init__(self) -> None:
        super().__init__("CLIENT_GONE", "the client closed the connection mid-request", status=400)


# ------------------------------------------------------------------------------------------------ connections


class ConnectionGuard:
    """Per-address and total connection counts, request-head deadlines, and eviction at the cap."""

    def __init__(self, limits: ServerLimits) -> None:
        self.limits = limits
        self._per_address: Counter[str] = Counter()
        self._open: set[GuardedProtocol] = set()
        self._waiting: OrderedDict[GuardedProtocol, None] = OrderedDict()  # no whole head yet, oldest first
        self.refused = 0
        self.timed_out = 0
        self.evicted = 0
        self._log = RateLimitedLog(log)

    @property
    def open_connections(self) -> int:
        return len(self._open)

    def open_from(self, address: str) -> int:
        """How many connections ``address`` has open now."""
        return self._per_address[address]

    def factory(self, make_inner: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        return lambda: GuardedProtocol(self, make_inner)

    def admit(self, conn: GuardedProtocol) -> bool:
        if self._per_address[conn.address] >= self.limits.max_connections_per_address:
            self.refused += 1
            self._log.log(logging.WARNING, "connections refused (per-address limit)",
                          "refused a connection from %s: it has %d open (the limit per address)", conn.address,
                          self.limits.max_connections_per_address)
            return False
        if len(self._open) >= self.limits.max_connections:
            victim = next(iter(self._waiting), None)
            if victim is None:
                self.refused += 1
                self._log.log(logging.WARNING, "connections refused (server full)",
                              "refused a connection from %s: %d connections open (the cap)", conn.address,
                              self.limits.max_connections)
                return False
            self.evicted += 1
            self._log.log(logging.INFO, "slow connections evicted",
                          "closed a connection from %s that had not sent a request head, to make room",
                          victim.address)
            victim.close(abort=True)
        self._open.add(conn)
        self._waiting[conn] = None
        self._per_address[conn.address] += 1
        return True

    def head_done(self, conn: GuardedProtocol) -> None:
        self._waiting.pop(conn, None)

    def forget(self, conn: GuardedProtocol) -> None:
        if conn not in self._open:
            return
        self._open.discard(conn)
        self._waiting.pop(conn, None)
        self._per_address[conn.address] -= 1
        if self._per_address[conn.address] <= 0:
            del self._per_address[conn.address]

    def expired(self, conn: GuardedProtocol, *, head: bool) -> None:
        self.timed_out += 1
        what = "a request head" if head else "the rest of a request"
        self._log.log(logging.INFO, "slow requests closed", "closed a connection from %s: %s did not arrive in time",
                      conn.address, what)


_TIMEOUT_ANSWER = (b"HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\nConnection: close\r\n"
                   b"Content-Length: 95\r\n\r\n"
                   b'{"success":false,"errorCode":"REQUEST_TIMEOUT","errorMsg":"the request did not arrive in time"}')


class Framing:
    """Where a connection's bytes are: in a request head, a body of known length, a chunked body, or idle between
    requests. Just enough HTTP/1.1 framing (RFC 9112 §6) to time each part; aiohttp parses for real."""

    IDLE, HEAD, LENGTH, CHUNKED = "idle", "head", "length", "chunked"
    MAX_HEAD = 65_536

    def __init__(self) -> None:
        self.state = self.HEAD  # a connection opens on its first request's head
        self.heads = 0
        self._head = bytearray()
        self._tail = b""
        self._left = 0

    def feed(self, data: bytes) -> tuple[bool, bool]:
        """Follow ``data``; whether a request head and whether a body began in it."""
        head_began = body_began = False
        view = memoryview(data)
        while view:
            if self.state == self.IDLE:
                self.state, head_began = self.HEAD, True
                self._head.clear()
            if self.state == self.LENGTH:
                used = min(self._left, len(view))
                self._left -= used
                view = view[used:]
                if not self._left:
                    self.state = self.IDLE
                continue
            window = self._tail + bytes(view)
            at = window.find(_HEAD_END)
            if at < 0:
                self._tail = window[-3:]
                if self.state == self.HEAD and len(self._head) < self.MAX_HEAD:
                    self._head += view
                return head_began, body_began
            consumed = at + 4 - len(self._tail)
            self._tail = b""
            if self.state == self.HEAD:
                self._head += view[:consumed]
                self.heads += 1
                self.state, self._left = self._body_after(bytes(self._head))
                body_began = body_began or self.state != self.IDLE
            else:  # the end of a chunked body: "0" CRLF, no trailers, CRLF
                self.state = self.IDLE
            view = view[consumed:]
        return head_began, body_began

    def _body_after(self, head: bytes) -> tuple[str, int]:
        """What follows a head: a chunked body, a body of Content-Length bytes, or nothing."""
        fields = {}
        for line in head.split(b"\r\n")[1:]:
            name, colon, value = line.partition(b":")
            if colon:
                fields[name.strip().lower()] = value.strip().lower()
        if b"chunked" in fields.get(b"transfer-encoding", b""):
            return self.CHUNKED, 0
        length = fields.get(b"content-length", b"0")
        return (self.LENGTH, int(length)) if length.isdigit() and int(length) > 0 else (self.IDLE, 0)


class GuardedProtocol(asyncio.Protocol):
    """aiohttp's protocol for one connection, behind the guard: admitted or closed at once, and closed when a
    request head does not arrive within the head timeout of its first byte (or of the connection), or its body
    within the body timeout of its head. Idle between requests, aiohttp's keep-alive timeout rules."""

    def __init__(self, guard: ConnectionGuard, make_inner: Callable[[], asyncio.Protocol]) -> None:
        self._guard = guard
        self._make_inner = make_inner
        self._inner: asyncio.Protocol | None = None
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._framing = Framing()
        self._bytes = 0
        self.address = "?"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not isinstance(transport, asyncio.Transport):
            raise HarnessError("broken invariant: isinstance(transport, asyncio.Transport)")
        self._transport = transport
        peer = transport.get_extra_info("peername")
        self.address = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        if not self._guard.admit(self):
            transport.abort()
            return
        self._inner = self._make_inner()
        self._arm(self._guard.limits.header_timeout_s)
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._inner is None:
            return
        self._bytes += len(data)
        heads = self._framing.heads
        head_began, body_began = self._framing.feed(data)
        if heads == 0 and self._framing.heads:
            self._guard.head_done(self)
        state = self._framing.state
        if state == Framing.IDLE:
            self._disarm()
        elif state == Framing.HEAD and (head_began or self._timer is None):
            self._arm(self._guard.limits.header_timeout_s)
        elif state in (Framing.LENGTH, Framing.CHUNKED) and (body_began or self._timer is None):
            # a second past the body timeout: a handler reading the body answers 408 at the timeout itself
            # (read_body); this closes what no handler reads
            self._arm(self._guard.limits.body_timeout_s + BODY_GRACE_S)
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._guard.forget(self)
        if self._inner is not None:
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def close(self, *, abort: bool = False) -> None:
        self._disarm()
        self._guard.forget(self)
        if self._transport is not None:
            if abort:
                self._transport.abort()
            else:
                self._transport.close()

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._timer = asyncio.get_running_loop().call_later(seconds, self._expire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        first = self._framing.heads == 0
        self._guard.expired(self, head=self._framing.state == Framing.HEAD)
        if first and self._bytes and self._transport is not None and not self._transport.is_closing():
            # Part of a first request came: it gets its 408 (no answer is under way to cut into). A connection
            # that sent nothing at all is closed without a word, as an idle one.
            self._transport.write(_TIMEOUT_ANSWER)
        self.close()


class JsonErrorsHandler(RequestHandler):
    """aiohttp's protocol for one connection, answering its own refusals (a malformed request line, a header it
    will not take, a body encoding it cannot decode) in the cloud's JSON error shape rather than plain text."""

    def handle_error(self, request: BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        super().handle_error(request, status, exc, message)  # logs (quieted by _WireErrors) and checks the writer
        code = "ILLEGAL_PARAM" if status < 500 else "INTERNAL_ERROR"
        answer = web.json_response({"success": False, "errorCode": code,
                                    "errorMsg": f"malformed request (HTTP {status})"}, status=status)
        answer.force_close()
        return answer


def json_errors_factory(runner: web.BaseRunner) -> Callable[[], asyncio.Protocol]:
    """A protocol factory like the runner's own server (the same options: keep-alive, logger, ...), making
    :class:`JsonErrorsHandler` protocols. Call it on the loop that serves."""
    server = runner.server
    if server is None:
        raise HarnessError("broken invariant: the runner is set up first")
    loop = asyncio.get_running_loop()
    options = dict(getattr(server, "_kwargs", {}))

    def handler() -> asyncio.Protocol:
        return JsonErrorsHandler(server, loop=loop, **options)

    return handler


def runner_options(limits: ServerLimits) -> dict[str, Any]:
    """aiohttp runner keywords that go with the limits: keep-alive, lingering, and the quieted wire logger."""
    return {"keepalive_timeout": limits.keepalive_timeout_s, "lingering_time": min(2.0, limits.body_timeout_s),
            "logger": quiet_wire_logger(), "auto_decompress": False}  # bodies are decoded by read_body


__all__ = ["LIMITS_KEY", "WIRE_LOGGER", "ClientGone", "ConnectionGuard", "Framing", "GuardedProtocol",
           "JsonErrorsHandler", "RateLimitedLog", "ServerLimits", "json_errors_factory", "quiet_wire_logger",
           "read_body", "runner_options"]
