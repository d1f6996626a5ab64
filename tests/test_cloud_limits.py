"""Slow and greedy clients against the real server: request-head and body timeouts, connection limits per address
and in all, a slowloris that does not delay a valid request, a bounded log; and each crash the issue found.

Clients come from several loopback addresses (127.0.0.2-5 for the attackers, 127.0.0.1 for the valid client),
so that the per-address limit is exercised as it is on a LAN.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import socket
import time
from collections.abc import Callable, Iterator

import pytest
from _cloud_helpers import AppClient, activate, make_world, post

from harness.clock import VirtualClock
from harness.emulator.cloud import EmulatedCloud, LabAuth, ServerLimits
from harness.emulator.cloud.limits import WIRE_LOGGER, RateLimitedLog, quiet_wire_logger

ADMIN_KEY = "limits-admin-key-0123456789abcdef"
WAIT_S = 5.0


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(("harness.emulator", "aiohttp")):
            self.records.append(record)


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def serve(limits: ServerLimits) -> EmulatedCloud:
    return EmulatedCloud(clock=VirtualClock(), broker="none", auth=LabAuth(ADMIN_KEY), limits=limits)


def connect(cloud: EmulatedCloud, source: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(WAIT_S)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port_of(cloud)))
    return sock


def port_of(cloud: EmulatedCloud) -> int:
    return int(cloud.http_url.rsplit(":", 1)[1])


def read_until_closed(sock: socket.socket) -> bytes:
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def wait_until(predicate: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT_S
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    return predicate()


def capabilities(cloud: EmulatedCloud) -> float:
    """A valid request from 127.0.0.1; how long its answer took."""
    started = time.monotonic()
    status, raw = post(cloud.app_url + "/lab/capabilities", method="GET",
                       headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=WAIT_S)
    elapsed = time.monotonic() - started
    assert status == 200 and json.loads(raw)["success"] is True
    return elapsed


# ------------------------------------------------------------------------------------------------ timeouts


def test_a_request_head_that_does_not_arrive_in_time_is_answered_408_and_closed() -> None:
    with serve(ServerLimits(header_timeout_s=0.3, body_timeout_s=0.6)) as cloud:
        sock = connect(cloud, "127.0.0.2")
        with sock:
            sock.sendall(b"POST /app/v1/login HTTP/1.1\r\nHost: lab\r\n")  # and never the rest
            answer = read_until_closed(sock)
        assert answer.startswith(b"HTTP/1.1 408") and b'"errorCode":"REQUEST_TIMEOUT"' in answer
        assert cloud.connections is not None and cloud.connections.timed_out == 1
        assert capabilities(cloud) < WAIT_S


def test_a_body_that_does_not_arrive_in_time_is_answered_408() -> None:
    with serve(ServerLimits(header_timeout_s=0.3, body_timeout_s=0.5)) as cloud:
        sock = connect(cloud, "127.0.0.2")
        with sock:
            sock.sendall(b"POST /app/v1/login HTTP/1.1\r\nHost: lab\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 100\r\n\r\n{\"acc")
            answer = read_until_closed(sock)
        assert answer.startswith(b"HTTP/1.1 408") and b"REQUEST_TIMEOUT" in answer


def test_a_client_trickling_a_head_byte_by_byte_is_cut_at_the_deadline() -> None:
    with serve(ServerLimits(header_timeout_s=0.5, body_timeout_s=0.5)) as cloud:
        sock = connect(cloud, "127.0.0.2")
        started = time.monotonic()
        closed_after = None
        with sock:
            for byte in b"GET /app/v1/lab/capabilities HTTP/1.1\r\nHost: lab\r\nX-Slow: " + b"a" * 200:
                try:
                    sock.sendall(bytes((byte,)))
                except OSError:
                    closed_after = time.monotonic() - started
                    break
                time.sleep(0.02)  # the slow client itself: a byte every 20 ms
        assert closed_after is not None and closed_after < 0.5 + WAIT_S


# ------------------------------------------------------------------------------------------------ connections


def test_the_connections_of_one_address_are_limited_and_others_still_served() -> None:
    with serve(ServerLimits(max_connections=100, max_connections_per_address=5)) as cloud:
        held = [connect(cloud, "127.0.0.2") for _ in range(5)]
        guard = cloud.connections
        assert guard is not None and wait_until(lambda: guard.open_connections == 5)
        extra = connect(cloud, "127.0.0.2")
        with extra:
            assert read_until_closed(extra) == b"", "the sixth from the same address is closed at once"
        assert guard.refused == 1 and capabilities(cloud) < WAIT_S
        for sock in held:
            sock.close()


def test_at_the_cap_the_oldest_connection_without_a_request_makes_room() -> None:
    with serve(ServerLimits(max_connections=10, max_connections_per_address=10)) as cloud:
        held = [connect(cloud, "127.0.0.2") for _ in range(10)]
        guard = cloud.connections
        assert guard is not None and wait_until(lambda: guard.open_connections == 10)
        assert capabilities(cloud) < WAIT_S
        assert guard.evicted >= 1 and read_until_closed(held[0]) == b"", "the oldest idle one went"
        for sock in held:
            sock.close()


def test_a_slowloris_of_400_connections_does_not_delay_a_valid_request_and_the_log_stays_bounded(
        records: Records) -> None:
    """The lab's defaults (64 per address, 1,024 in all, 10 s for a head): 400 half-sent requests from four
    addresses, each trickling on, and a valid request from a fifth answered within 1 s (the issue's bound)."""
    with serve(ServerLimits()) as cloud:
        capabilities(cloud)  # warm
        before = len(records.records)
        attackers: list[socket.socket] = []
        for index in range(400):
            sock = connect(cloud, f"127.0.0.{2 + index % 4}")
            with contextlib.suppress(OSError):  # refused by the per-address limit: closed already
                sock.sendall(b"POST /app/v1/login HTTP/1.1\r\nHost: lab\r\nX-Slow: ")
            attackers.append(sock)
        guard = cloud.connections
        assert guard is not None and wait_until(lambda: guard.refused >= 4 * (100 - 64))
        try:
            for round_ in range(3):
                for sock in attackers:
                    with contextlib.suppress(OSError):
                        sock.send(b"a")
                assert capabilities(cloud) < 1.0, f"a valid request waited over 1 s (round {round_})"
            # per attacking address, never over its limit (the valid client's own connection may still be open)
            assert all(guard.open_from(f"127.0.0.{2 + n}") <= 64 for n in range(4)), guard.open_connections
        finally:
            for sock in attackers:
                sock.close()
        logged = [r for r in records.records[before:] if r.levelno >= logging.INFO]
        assert len(logged) <= 30, [r.getMessage() for r in logged[:40]]
        assert not [r for r in logged if r.levelno >= logging.ERROR]


def test_repeated_log_lines_are_counted_not_repeated() -> None:
    logger = logging.getLogger("test.ratelimit")
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    handler = Keep()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    now = [0.0]
    limited = RateLimitedLog(logger, burst=3, window_s=60, now=lambda: now[0])
    try:
        for _ in range(1000):
            limited.log(logging.INFO, "refused", "refused one")
        now[0] = 61
        limited.log(logging.INFO, "refused", "refused one")
    finally:
        logger.removeHandler(handler)
    assert seen == ["refused one"] * 3 + ["refused: 997 more like this in the previous 60 s", "refused one"]


# ------------------------------------------------------------------------------------------------ the crashes


@pytest.fixture(scope="module")
def cloud() -> Iterator[EmulatedCloud]:
    with serve(ServerLimits()) as c:
        yield c


def test_a_body_that_is_not_in_its_content_encoding_is_a_well_formed_400(cloud: EmulatedCloud) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"}
    for encoding, body in (("gzip", b'{"name": "x"}'), ("deflate", b"2912"), ("gzip", gzip.compress(b"{")[:-4])):
        status, raw = post(cloud.app_url + "/lab/products", body, headers={**headers, "Content-Encoding": encoding})
        assert status == 400 and json.loads(raw)["errorCode"] == "ILLEGAL_PARAM", (encoding, raw)
    status, raw = post(cloud.app_url + "/lab/products", b"{}", headers={**headers, "Content-Encoding": "br"})
    assert status == 415 and json.loads(raw)["errorCode"] == "UNSUPPORTED_ENCODING"
    good = gzip.compress(json.dumps({"name": "zipped", "category": "sp"}).encode())
    status, raw = post(cloud.app_url + "/lab/products", good, headers={**headers, "Content-Encoding": "gzip"})
    assert status == 201, raw
    bomb = gzip.compress(b" " * 5_000_000)
    status, raw = post(cloud.app_url + "/lab/products", bomb, headers={**headers, "Content-Encoding": "gzip"})
    assert status == 413


@pytest.mark.parametrize("body", [
    {"name": "p", "category": "cz", "pid": ["a", "list"]},
    {"name": "p", "category": "cz", "binding_mode": {"an": "object"}},
    {"name": "p", "category": "cz", "schema": [{"id": 1, "code": "x", "type": ["bool"], "mode": "rw"}]},
    {"name": "p", "category": "cz", "schema": [{"id": 1, "code": "x", "type": "bool", "mode": {"rw": 1}}]},
    {"name": ["p"], "category": "cz"},
])
def test_a_field_of_the_wrong_json_type_is_a_well_formed_400(cloud: EmulatedCloud, body: dict[str, object],
                                                             records: Records) -> None:
    status, answer = AppClient(cloud, bearer=ADMIN_KEY).call("POST", "/lab/products", body)
    assert status == 400 and answer["errorCode"] == "ILLEGAL_PARAM"
    assert not [r for r in records.records if r.levelno >= logging.ERROR]


def test_a_client_that_leaves_mid_body_is_a_quiet_close(cloud: EmulatedCloud, records: Records) -> None:
    for _ in range(3):
        with connect(cloud, "127.0.0.3") as sock:
            sock.sendall(b"POST /app/v1/lab/products HTTP/1.1\r\nHost: lab\r\nAuthorization: Bearer "
                         + ADMIN_KEY.encode()
                         + b"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"name\": ")
    guard = cloud.connections
    assert guard is not None and wait_until(lambda: guard.open_connections == 0)
    assert not [r for r in records.records if r.levelno >= logging.WARNING], [r.getMessage() for r in records.records]
    world = make_world(cloud)
    assert activate(cloud, world.licence(), world.token()).success


def test_a_connection_that_sends_nothing_is_closed_without_an_answer() -> None:
    with serve(ServerLimits(header_timeout_s=0.3, body_timeout_s=0.6)) as cloud:
        with connect(cloud, "127.0.0.2") as sock:
            assert read_until_closed(sock) == b""
        guard = cloud.connections
        assert guard is not None and guard.timed_out == 1


def fresh_wire_budget() -> None:
    """The wire logger's rate limit is the process's: a test before this one in the same process (the route
    fuzzer's thousands of malformed requests) may have spent its burst. Start it afresh."""
    logger = logging.getLogger(WIRE_LOGGER)
    for old in list(logger.filters):
        logger.removeFilter(old)
    quiet_wire_logger()


def test_a_framing_error_is_one_debug_line_without_a_traceback(cloud: EmulatedCloud, records: Records) -> None:
    fresh_wire_budget()
    for garbage in (b"NOT HTTP AT ALL\r\n\r\n", b"GET / HTTP/1.1\r\nBad Header Line\r\n\r\n"):
        with connect(cloud, "127.0.0.4") as sock:
            sock.sendall(garbage)
            answer = read_until_closed(sock)
        assert answer == b"" or answer.endswith(b"}"), answer  # a quiet close, or the JSON error shape
    wire = [r for r in records.records if r.name == "harness.emulator.cloud.wire"]
    assert wire and all(r.levelno == logging.DEBUG and r.exc_info is None and "\n" not in r.getMessage()
                        for r in wire), [(r.levelname, r.getMessage()) for r in wire]
    assert not [r for r in records.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize(("chunks", "states", "heads"), [
    ([b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"], ["idle"], 1),
    ([b"GET / HTTP/1.1\r\nHo", b"st: a\r", b"\n\r\n"], ["head", "head", "idle"], 1),
    ([b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", b"cde"], ["length", "idle"], 1),
    ([b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nabGET / HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n"], ["head"], 2),
    ([b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", b"0\r\n\r\n"], ["chunked", "idle"], 1),
])
def test_the_guard_follows_request_framing(chunks: list[bytes], states: list[str], heads: int) -> None:
    from harness.emulator.cloud.limits import Framing

    framing = Framing()
    seen = []
    for chunk in chunks:
        framing.feed(chunk)
        seen.append(framing.state)
    assert seen == states and framing.heads == heads


def test_a_kept_alive_connection_idle_after_a_request_with_a_body_is_not_cut_by_the_guard() -> None:
    """Idle between requests is aiohttp's keep-alive to end, not the head or body timeout."""
    with serve(ServerLimits(header_timeout_s=0.2, body_timeout_s=0.2)) as cloud:
        with connect(cloud, "127.0.0.2") as sock:
            for _ in range(2):
                sock.sendall(b"POST /app/v1/login HTTP/1.1\r\nHost: lab\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 2\r\n\r\n")
                sock.sendall(b"{}")  # the body in its own segment, as many clients send it
                answer = sock.recv(65536)
                assert answer.startswith(b"HTTP/1.1 400") and b"ILLEGAL_PARAM" in answer, answer
                time.sleep(0.2 + 1.0 + 0.3)  # past the body timeout and its grace: still open
        assert cloud.connections is not None and cloud.connections.timed_out == 0
