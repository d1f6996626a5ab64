"""Generated requests over the cloud's whole route table, through the real server: no handler exception, no 5xx.

Hypothesis draws batches of requests (every route of the app API, ATOP, url_config and the OpenAPI, plus unknown
paths; path parameters valid or not; bodies of every JSON type per field, random bytes, or compressed; headers
with good, foreign and broken credentials and every Content-Encoding) and sends each batch over one kept-alive
connection: 100 examples of 50 requests, 5,000 in all, counted, not timed. Beside them: framing errors and clients
that leave mid-body. Afterwards nothing was logged at ERROR (a handler exception is logged "HARNESS BUG" there,
and aiohttp logs its own there), no answer was a 5xx, and a valid activation still succeeds.
"""

from __future__ import annotations

import gzip
import http.client
import json
import logging
import socket
import time
import urllib.parse
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from _cloud_helpers import PASSWORD, AppClient, activate, new_account
from aiohttp import web
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from harness.clock import VirtualClock
from harness.emulator.cloud import EmulatedCloud, LabAuth
from harness.emulator.cloud.app_api import AppHttp, CloudApp
from harness.emulator.cloud.atop import AtopService
from harness.emulator.cloud.http import build_app
from harness.emulator.cloud.openapi import OpenApiService
from harness.protocol import openapi as oa

ADMIN_KEY = "fuzz-admin-key-0123456789abcdef"
CLIENT_ID, SECRET = "fuzzclient0000000000", "fuzzsecret0123456789abcdef012345"
BATCH = 50
EXAMPLES = 100


class Errors(logging.Handler):
    """Every record at ERROR or above from the cloud and from aiohttp."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(("harness.emulator", "aiohttp")):
            self.records.append(record)


@dataclass
class Lab:
    cloud: EmulatedCloud
    port: int
    routes: list[tuple[str, str]]
    values: dict[str, list[str]]
    bearer: str
    access_token: str
    pid: str


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with EmulatedCloud(clock=VirtualClock(), broker="none", auth=LabAuth(ADMIN_KEY)) as cloud:
        cloud.openapi.register(CLIENT_ID, SECRET)
        admin = AppClient(cloud, bearer=ADMIN_KEY)
        pid = admin.ok("POST", "/lab/products", {"name": "cam", "category": "sp"})["pid"]
        alice = new_account(admin, cloud, "alice")
        home = alice.ok("POST", "/homes", {"name": "flat"})["home"]
        licence = cloud.app.issue_licence(pid)
        grant = alice.ok("POST", f"/homes/{home}/token")
        result = activate(cloud, licence, grant["token"]).result
        assert result is not None
        port = int(cloud.http_url.rsplit(":", 1)[1])
        values = {"home": [home, "home00000000"], "dev_id": [result["devId"]], "token": [grant["pairingToken"]],
                  "uuid": [licence.uuid], "account": [alice.account or ""], "device_id": [result["devId"]],
                  "home_id": [home], "uid": [alice.account or ""], "schema": ["paircert"]}
        token_answer = _send_signed(port, "GET", "/v1.0/token?grant_type=1", b"", "")
        access = json.loads(token_answer[1])["result"]["access_token"]
        assert alice.bearer is not None
        yield Lab(cloud, port, route_table(cloud), values, alice.bearer, access, pid)


def route_table(cloud: EmulatedCloud) -> list[tuple[str, str]]:
    """Every route the server serves, read from a copy of its router (routes added later are fuzzed too)."""
    web_app = build_app(AtopService(cloud.state, lambda _r: None), AppHttp(CloudApp(cloud.state)),  # type: ignore[arg-type,return-value]
                        OpenApiService(cloud.state))
    table = {(r.method, r.resource.canonical) for r in web_app.router.routes() if r.resource is not None}
    return sorted(m_p for m_p in table if m_p[0] != "HEAD")


def _send_signed(port: int, method: str, target: str, body: bytes, access_token: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, target, body=body or None, headers=_openapi_headers(method, target, body, access_token))
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def _openapi_headers(method: str, target: str, body: bytes, access_token: str) -> dict[str, str]:
    path, _, query = target.partition("?")
    request = oa.SignedRequest(method=method, path=path, query=tuple(urllib.parse.parse_qsl(query)), body=body,
                               access_token=access_token)
    return request.headers(client_id=CLIENT_ID, secret=SECRET, t_ms=int(time.time() * 1000))


# ------------------------------------------------------------------------------------------------ strategies

FIELDS = ["name", "password", "pid", "category", "binding_mode", "schema", "faults", "seconds", "dps", "wipe",
          "account", "role", "uuid", "token", "uid", "home_id", "paring_type", "time_zone_id", "commands", "code",
          "value", "country_code", "username", "type", "id", "mode", "grant_type"]
JSON_LEAVES = st.one_of(st.sampled_from([None, True, False, 0, -1, 1.5, 1e308, 2**70, "", "x" * 300, "sp", "cz",
                                         "strong", "medium", "admin", "member", "bool", "rw", "EZ", PASSWORD]),
                        st.integers(), st.text(max_size=12))
# one level of nesting is enough to put a list or an object where a string is expected (and keeps 5,000 fast)
JSON_VALUES = st.one_of(JSON_LEAVES, st.tuples(JSON_LEAVES, JSON_LEAVES).map(list),
                        st.tuples(st.sampled_from(["id", "code", "type", "mode", "1", "x"]), JSON_LEAVES).map(
                            lambda kv: dict([kv])))
SEGMENTS = st.one_of(st.text(max_size=12), st.sampled_from(["..", "%00", "%2F", "a" * 300, "é", "\u202e", " "]))
BOMB = gzip.compress(b"0" * 2_000_000)  # a small bomb: 2 MB from 2 KB
ENCODINGS = ["", "gzip", "deflate", "br", "identity", "gzip, deflate", "x-unknown"]


METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
QUERY = st.tuples(st.sampled_from(["a", "v", "uuid", "et", "t", "sign", "account", "x"]), st.text(max_size=10)).map(
    lambda pair: urllib.parse.urlencode([pair]))
PAYLOADS = st.one_of(
    st.lists(st.tuples(st.sampled_from(FIELDS), JSON_VALUES), max_size=4).map(lambda kv: json.dumps(dict(kv)).encode()),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    st.just(b""),
)
CONTENT_TYPES = ["application/json", "application/x-www-form-urlencoded", "text/plain",
                 "application/json; charset=latin-1"]
CREDENTIALS = ["none", "account", "admin", "garbage", "scheme", "header"]
# the header choices as one draw: credential x Content-Type x Content-Encoding
HEADER_CHOICES = st.sampled_from([(c, t, e) for c in CREDENTIALS for t in CONTENT_TYPES for e in ENCODINGS])
FLAGS = st.integers(0, 2**16 - 1)  # the request's yes/no choices as one draw, bit by bit (see one())


Request = tuple[str, str, bytes, dict[str, str], bool]


def requests(lab: Lab) -> st.SearchStrategy[list[Request]]:
    """``(method, target, body, headers, sign for the OpenAPI)`` of one request, sent with two drawn sets of
    headers (credentials, Content-Type, Content-Encoding). The strategies are built once and the choices packed
    into few draws: 5,000 requests are generated in seconds."""
    routes = st.sampled_from(lab.routes)
    params = {name: st.one_of(st.sampled_from(values), SEGMENTS) for name, values in lab.values.items()}
    credentials = {"none": {}, "account": {"Authorization": f"Bearer {lab.bearer}"},
                   "admin": {"Authorization": f"Bearer {ADMIN_KEY}"}, "garbage": {"Authorization": "Bearer \x7f"},
                   "scheme": {"Authorization": "Basic Zm9vOmJhcg=="},
                   "header": {"X-Paircert-Account": lab.values["account"][0]}}

    @st.composite
    def one(draw: st.DrawFn) -> list[Request]:
        method, template = draw(routes)
        flags = draw(FLAGS)
        if method == "*":  # a route for any method (ATOP)
            method = ("POST", "GET")[flags & 1]
        if (flags >> 1) % 10 == 0:  # one in ten: another method
            method = METHODS[(flags >> 5) % len(METHODS)]
        if (flags >> 8) % 20 == 0:  # one in twenty: a path no route has
            template = (f"/app/v1/{urllib.parse.quote(draw(SEGMENTS), safe='')}/"
                        f"{urllib.parse.quote(draw(SEGMENTS), safe='')}")
        path = template
        while "{" in path:
            start, end = path.index("{"), path.index("}")
            value = draw(params.get(path[start + 1:end], SEGMENTS))
            path = path[:start] + urllib.parse.quote(value, safe="") + path[end + 1:]
        if flags & (1 << 13):
            path += "?" + draw(QUERY)
        plain = draw(PAYLOADS)
        signed = template.startswith("/v1.0/") and bool(flags & (1 << 15))
        variants = []
        for credential, content_type, encoding in (draw(HEADER_CHOICES), draw(HEADER_CHOICES)):
            payload = plain
            if encoding == "gzip" and flags & (1 << 14):
                payload = BOMB if (flags >> 1) % 7 == 0 else gzip.compress(plain)
            elif encoding == "deflate" and flags & (1 << 14):
                payload = zlib.compress(plain)
            headers = {"Content-Type": content_type, **credentials[credential]}
            if encoding:
                headers["Content-Encoding"] = encoding
            variants.append((method, path, payload, headers, signed))
        return variants

    return one()


# ------------------------------------------------------------------------------------------------ the run


def check(status: int, raw: bytes, target: str) -> None:
    assert status < 500, (status, target, raw[:200])
    if status == 400 and raw.startswith(b"400"):
        return  # aiohttp's own answer to a framing error (e.g. a header it will not take), then it closes
    try:
        answer = json.loads(raw)
    except ValueError:
        raise AssertionError(f"not JSON: HTTP {status} for {target}: {raw[:200]!r}") from None
    assert isinstance(answer, dict), raw[:200]
    if target.startswith("/app/") and status >= 300:
        assert answer["success"] is False and isinstance(answer["errorCode"], str), answer


def send_batch(lab: Lab, batch: list[Request]) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", lab.port, timeout=10)
    sent = 0
    try:
        for method, target, body, headers, signed in batch:
            if signed:
                headers = {**headers, **_openapi_headers(method, target, body, lab.access_token)}
            try:
                conn.request(method, target, body=body if body or method not in ("GET", "HEAD") else None,
                             headers=headers)
                answer = conn.getresponse()
                status, raw = answer.status, answer.read()
            except TimeoutError:
                raise AssertionError(f"no answer to {method} {target} {headers} {body[:80]!r}") from None
            except (http.client.HTTPException, ConnectionError):
                conn.close()  # the server closed after a refusal it ends the connection on: a fresh one
                continue
            if answer.will_close:
                conn.close()
            check(status, raw, target)
            sent += 1
    finally:
        conn.close()
    return sent


def raw_exchange(port: int, data: bytes, *, leave: bool = False) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        if leave:
            return b""
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


FRAMING = [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"POST /app/v1/accounts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nnot a chunk\r\n",
    b"POST /d.json HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nBad Header Line\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32),  # a TLS ClientHello on the plain port
]


def test_generated_requests_over_the_route_table_never_crash_a_handler(lab: Lab) -> None:
    errors = Errors()
    logging.getLogger().addHandler(errors)
    counted = [0]
    try:
        # generated only, not shrunk: a failing batch is reported as drawn (shrinking 50 requests would resend
        # thousands), and the assertion names the request that failed
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(pairs=st.lists(requests(lab), min_size=BATCH // 2, max_size=BATCH // 2))
        def run(pairs: list[list[Request]]) -> None:
            batch = [request for pair in pairs for request in pair]
            counted[0] += send_batch(lab, batch)
            lab.cloud.app.set_faults([])  # a generated PUT /lab/faults never leaves a fault on for the next batch

        run()
        for data in FRAMING:
            answer = raw_exchange(lab.port, data)
            quiet_close = answer == b""
            assert quiet_close or (answer[:12] in (b"HTTP/1.1 400", b"HTTP/1.0 400") and answer.endswith(b"}")), answer
        for target in ("/app/v1/accounts", "/d.json", "/v1.0/token"):  # clients that leave mid-body
            raw_exchange(lab.port, f"POST {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_KEY}\r\n"
                                   "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"na".encode(),
                         leave=True)
        assert counted[0] >= 0.9 * EXAMPLES * BATCH, f"only {counted[0]} answers were checked"
        # the server has let go of every connection (the ones left mid-body included) before the verdict on logs
        deadline = time.monotonic() + 5
        guard = lab.cloud.connections
        while guard is not None and guard.open_connections and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        logging.getLogger().removeHandler(errors)
    assert [r.getMessage() for r in errors.records] == []
    licence = lab.cloud.app.issue_licence(lab.pid)
    account = lab.cloud.app.create_account("after")
    home = lab.cloud.app.create_home(account, "after")
    assert activate(lab.cloud, licence, lab.cloud.app.get_token(account, home).token).success


def test_the_route_table_covers_every_interface(lab: Lab) -> None:
    paths = {path for _, path in lab.routes}
    assert {"/d.json", "/v2/url_config", "/app/v1/login", "/app/v1/lab/faults", "/v1.0/token"} <= paths
    assert PASSWORD and web.HTTPException  # the helpers this module leans on exist
