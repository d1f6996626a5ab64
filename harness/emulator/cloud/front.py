"""The cloud's HTTP listeners: HTTPS beside plain HTTP, and requests the way real device SDKs send them.

Two things an aiohttp site does not do, done here in front of aiohttp's own protocol (``AppRunner.server``):

- **TLS sniffing** (§11.1). A TLS listener peeks at each connection's first byte: a TLS record (0x16) gets the
  handshake and then aiohttp; a plain-HTTP request gets a clear ``400`` in plain HTTP ("this port speaks
  HTTPS") instead of a failed handshake the client cannot read; anything else is closed. A handshake that
  fails (a client that does not trust the lab CA, garbage) ends that connection only.
- **Repeated ``User-Agent``** (§11.3). Every ATOP request of the connect-kit and of TuyaOpen carries
  ``User-Agent`` twice (the SDK's own plus coreHTTP's), and aiohttp's request parser (C and Python alike)
  refuses a repeated RFC 9110 singleton header with ``400 Bad Request`` before any handler runs. It offers no
  setting for the request side except its whole lax mode, which would also accept what is really malformed.
  So :class:`HeaderFront` rewrites each request's header block before aiohttp parses it: repeated
  ``User-Agent`` lines become one line whose value joins theirs with a space (a valid ``product *( RWS
  product )`` value), and of repeated ``Server``, ``ETag``, ``Max-Forwards`` and ``Content-Location`` (singletons
  that mean nothing to the cloud in a request) the first line is kept. Repeated ``Host``, ``Content-Length``,
  ``Transfer-Encoding``, ``Content-Type`` and ``Content-Range`` are left alone, so aiohttp's strict error
  still answers them, as it does every other malformed request.

Request framing (to find the next header block on a keep-alive connection) follows ``Content-Length``; after a
request whose length the front cannot tell (``Transfer-Encoding``, a bad or repeated ``Content-Length``) it
stops rewriting that connection and passes its bytes through untouched: aiohttp decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import socket
import ssl
from collections.abc import Callable
from typing import Any

from harness.emulator.listen import ListenError, bind_error, listening_socket
from harness.errors import HarnessError

log = logging.getLogger(__name__)

TLS_HANDSHAKE_RECORD = 0x16
PEEK_TIMEOUT_S = 10.0
HANDSHAKE_TIMEOUT_S = 10.0
MAX_HEAD_BYTES = 64 * 1024
# §11.3: merged into one line, values joined with a space (User-Agent is a list of product tokens).
MERGED_HEADERS = frozenset({b"user-agent"})
# Singletons that carry no meaning in a request to the cloud: the first line is kept.
FIRST_KEPT_HEADERS = frozenset({b"server", b"etag", b"max-forwards", b"content-location"})

ProtocolFactory = Callable[[], asyncio.Protocol]


def tls_required_answer(scheme_hint: str) -> bytes:
    """The plain-HTTP answer to a plain-HTTP request on the TLS port: 400 and a JSON error naming HTTPS."""
    body = json.dumps({"success": False, "errorCode": "TLS_REQUIRED",
                       "errorMsg": f"this port speaks HTTPS (TLS with the lab CA): use {scheme_hint}"}).encode()
    head = (b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
    return head + body


# ------------------------------------------------------------------------------------------ header rewriting


def _header_name(line: bytes) -> bytes | None:
    name, colon, _ = line.partition(b":")
    if not colon or not name or name != name.strip() or b" " in name or b"\t" in name:
        return None
    return name.lower()


FOLDED_HEADERS = MERGED_HEADERS | FIRST_KEPT_HEADERS


def _body_length(lower: bytes) -> int | None:
    """The body length a lower-cased header block announces: 0 without one, None when it cannot be told."""
    if b"\ntransfer-encoding:" in lower or lower.count(b"\ncontent-length:") > 1:
        return None
    at = lower.find(b"\ncontent-length:")
    if at < 0:
        return 0
    value = lower[at + len(b"\ncontent-length:"):lower.find(b"\r\n", at + 1)].strip(b" \t")
    return int(value) if value.isdigit() and len(value) <= 12 else None


def rewrite_head(head: bytes) -> tuple[bytes, int | None]:
    """One request's header block (ending in CRLF CRLF), repeated non-critical headers folded (see the module),
    and the length of the body that follows (None: the front cannot tell, so it stops rewriting)."""
    lower = head.lower()
    if all(lower.count(b"\n" + name + b":") < 2 for name in FOLDED_HEADERS):
        return head, _body_length(lower)  # the usual case: nothing to fold
    lines = head[:-4].split(b"\r\n")
    start = 0
    while start < len(lines) and not lines[start]:
        start += 1  # RFC 9112 §2.2: empty lines before the request line are ignored
    fields = lines[start + 1:]
    names = [_header_name(line) for line in fields]
    if any(name is None for name in names) or any(b"\n" in line or b"\r" in line for line in fields):
        return head, None  # obs-fold, a line without a name, a bare LF: leave it to aiohttp's strict parser
    kept: list[bytes] = []
    seen: dict[bytes, int] = {}
    for line, name in zip(fields, names, strict=True):
        if name is None:
            raise HarnessError("broken invariant: name is not None")
        if name in MERGED_HEADERS and name in seen:
            index = seen[name]
            kept[index] = kept[index] + b" " + line.partition(b":")[2].strip(b" \t")
            continue
        if name in FIRST_KEPT_HEADERS and name in seen:
            continue
        if name in MERGED_HEADERS:
            kept.append(line.partition(b":")[0] + b": " + line.partition(b":")[2].strip(b" \t"))
        else:
            kept.append(line)
        seen.setdefault(name, len(kept) - 1)
    lengths = [line.partition(b":")[2].strip(b" \t") for line, name in zip(fields, names, strict=True)
               if name == b"content-length"]
    length: int | None = 0
    if any(name == b"transfer-encoding" for name in names) or len(lengths) > 1:
        length = None
    elif lengths:
        length = int(lengths[0]) if lengths[0].isdigit() and len(lengths[0]) <= 12 else None
    rebuilt = b"\r\n".join([*lines[:start + 1], *kept]) + b"\r\n\r\n"
    return rebuilt, length


class _Framer:
    """Finds each request's header block in a connection's byte stream and rewrites it (see the module)."""

    def __init__(self) -> None:
        self._head = b""
        self._body_left = 0
        self._passthrough = False

    def feed(self, data: bytes) -> bytes:
        if self._passthrough:
            return data
        out: list[bytes] = []
        while data:
            if self._body_left:
                taken = data[:self._body_left]
                out.append(taken)
                self._body_left -= len(taken)
                data = data[len(taken):]
                continue
            self._head += data
            data = b""
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                if len(self._head) > MAX_HEAD_BYTES:  # aiohttp refuses an over-long head itself
                    out.append(self._head)
                    self._head, self._passthrough = b"", True
                break
            head, data = self._head[:end + 4], self._head[end + 4:]
            self._head = b""
            rewritten, length = rewrite_head(head)
            out.append(rewritten)
            if length is None:
                out.append(data)
                self._passthrough = True
                break
            self._body_left = length
        return b"".join(out)


class HeaderFront(asyncio.Protocol):
    """aiohttp's request handler behind a :class:`_Framer`: every other protocol event is passed on unchanged."""

    def __init__(self, inner: asyncio.Protocol) -> None:
        self._inner = inner
        self._framer = _Framer()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        rewritten = self._framer.feed(data)
        if rewritten:
            self._inner.data_received(rewritten)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


# ------------------------------------------------------------------------------------------------ listeners


class HttpListeners:
    """The cloud's HTTP(S) listening sockets, each connection handed to ``factory()`` behind a HeaderFront."""

    def __init__(self, factory: ProtocolFactory) -> None:
        self._factory = factory
        self._sockets: list[socket.socket] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    def _wrapped(self) -> asyncio.Protocol:
        return HeaderFront(self._factory())

    async def listen(self, host: str, port: int, *, tls: ssl.SSLContext | None = None, https_hint: str = "",
                     reuse_port: bool = False) -> int:
        """Listen on ``host:port`` (0 = a free port), with TLS when ``tls`` is given; the bound port."""
        kind = "HTTPS" if tls is not None else "HTTP"
        sock = listening_socket(kind, host, port, reuse_port=reuse_port)
        self._sockets.append(sock)
        self._spawn(self._accept_loop(sock, tls, https_hint or f"https://{host}:{sock.getsockname()[1]}/"))
        return int(sock.getsockname()[1])

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _accept_loop(self, sock: socket.socket, tls: ssl.SSLContext | None, hint: str) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(sock)
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    log.warning("HTTP accept failed (%s); pausing briefly", exc)
                    await asyncio.sleep(0.1)
                    continue
                return  # the socket was closed
            conn.setblocking(False)
            self._spawn(self._serve(conn, tls, hint))

    async def _serve(self, conn: socket.socket, tls: ssl.SSLContext | None, hint: str) -> None:
        loop = asyncio.get_running_loop()
        try:
            if tls is None:
                await loop.connect_accepted_socket(self._wrapped, conn)
                return
            first = await asyncio.wait_for(_peek(conn), PEEK_TIMEOUT_S)
            if first == TLS_HANDSHAKE_RECORD:
                await loop.connect_accepted_socket(self._wrapped, conn, ssl=tls,
                                                   ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S)
                return
            if first is not None and 0x41 <= first <= 0x5A:  # an HTTP method: "POST", "GET", ...
                await loop.sock_sendall(conn, tls_required_answer(hint))
            conn.close()
        except (OSError, TimeoutError, ssl.SSLError, EOFError) as exc:
            # A failed handshake or a client gone: this connection only (§11.1 "without disturbing others").
            log.info("HTTPS connection refused or lost before a request: %s", exc)
            conn.close()


async def _peek(conn: socket.socket) -> int | None:
    """The connection's first byte, left unread (None when the peer closed without sending anything)."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(conn.fileno(), readable)
    try:
        await ready
    finally:
        loop.remove_reader(conn.fileno())
    with contextlib.suppress(BlockingIOError):
        data = conn.recv(1, socket.MSG_PEEK)
        return data[0] if data else None
    return None


__all__ = ["HeaderFront", "HttpListeners", "ListenError", "bind_error", "listening_socket", "rewrite_head",
           "tls_required_answer"]
