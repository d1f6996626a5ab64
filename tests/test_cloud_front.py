"""The cloud's HTTP front (harness/emulator/cloud/front.py): which repeated headers it folds before aiohttp parses
a request (PROTOCOL.md §11.3), how it finds the next request of a connection, and what it leaves to aiohttp's
strict parser. Table-driven on the sans-IO part; the sockets are in test_cloud_tls.py."""

from __future__ import annotations

import pytest

from harness.emulator.cloud.front import _Framer, rewrite_head

CASES = [
    # (name, head in, head out, body length)
    ("user-agent twice, joined with a space",
     b"POST /d.json HTTP/1.1\r\nUser-Agent: TUYA_IOT_SDK\r\nHost: h\r\nUser-Agent: coreHTTP\r\n"
     b"Content-Length: 3\r\n\r\n",
     b"POST /d.json HTTP/1.1\r\nUser-Agent: TUYA_IOT_SDK coreHTTP\r\nHost: h\r\nContent-Length: 3\r\n\r\n", 3),
    ("case and whitespace of the name do not matter",
     b"GET / HTTP/1.1\r\nuser-agent:  a \r\nUSER-AGENT:\tb\r\n\r\n",
     b"GET / HTTP/1.1\r\nuser-agent: a b\r\n\r\n", 0),
    ("first Server, ETag, Max-Forwards and Content-Location kept",
     b"GET / HTTP/1.1\r\nServer: a\r\nETag: 1\r\nServer: b\r\nETag: 2\r\nMax-Forwards: 1\r\nMax-Forwards: 2\r\n\r\n",
     b"GET / HTTP/1.1\r\nServer: a\r\nETag: 1\r\nMax-Forwards: 1\r\n\r\n", 0),
    ("repeated Host is left to aiohttp",
     b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 0),
    ("repeated Content-Length: length unknown, left alone",
     b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
     b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", None),
    ("chunked: length unknown",
     b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nUser-Agent: a\r\nUser-Agent: b\r\n\r\n",
     b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nUser-Agent: a b\r\n\r\n", None),
    ("obs-fold is not touched",
     b"GET / HTTP/1.1\r\nX: a\r\n b\r\nUser-Agent: a\r\nUser-Agent: b\r\n\r\n",
     b"GET / HTTP/1.1\r\nX: a\r\n b\r\nUser-Agent: a\r\nUser-Agent: b\r\n\r\n", None),
    ("a name with a space is not touched (aiohttp refuses it)",
     b"GET / HTTP/1.1\r\nUser-Agent : a\r\nUser-Agent: b\r\n\r\n",
     b"GET / HTTP/1.1\r\nUser-Agent : a\r\nUser-Agent: b\r\n\r\n", 0),
    ("a bad Content-Length is not a length",
     b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", None),
]


@pytest.mark.parametrize(("head", "expected", "length"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rewrite_head(head: bytes, expected: bytes, length: int | None) -> None:
    assert rewrite_head(head) == (expected, length)


def test_the_framer_finds_each_request_fed_one_byte_at_a_time() -> None:
    one = b"POST /a HTTP/1.1\r\nUser-Agent: a\r\nUser-Agent: b\r\nContent-Length: 5\r\n\r\nhello"
    two = b"GET /b HTTP/1.1\r\nUser-Agent: c\r\nUser-Agent: d\r\n\r\n"
    framer = _Framer()
    out = b"".join(framer.feed(bytes([b])) for b in one + two)
    assert out == (b"POST /a HTTP/1.1\r\nUser-Agent: a b\r\nContent-Length: 5\r\n\r\nhello"
                   b"GET /b HTTP/1.1\r\nUser-Agent: c d\r\n\r\n")


def test_a_body_that_looks_like_headers_is_passed_through() -> None:
    body = b"User-Agent: x\r\nUser-Agent: y\r\n\r\n"
    request = b"POST / HTTP/1.1\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    assert _Framer().feed(request) == request


def test_after_an_unknown_length_everything_passes_untouched() -> None:
    framer = _Framer()
    first = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    later = b"GET / HTTP/1.1\r\nUser-Agent: a\r\nUser-Agent: b\r\n\r\n"
    assert framer.feed(first) + framer.feed(later) == first + later
