"""Bounded state through the real server: 20,000 pairing tokens (and their attempts) are purged once the clock
(moved by the lab API) passes their retention, and the cloud's memory and its SQLite state file come back to their
baseline within 10%."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import socket
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _cloud_helpers import AppClient, build_activation, new_account, post

from harness.clock import VirtualClock
from harness.emulator.cloud import EmulatedCloud, LabAuth
from harness.emulator.cloud.state import CloudState

ADMIN_KEY = "retention-admin-key-0123456789ab"
TOKENS = 20_000
OVER_HTTP = 2_000
RETENTION_S = 3600.0
TTL_S = 600.0


def deep_size(root: object) -> int:
    """Bytes held by ``root`` and everything it reaches through containers, dataclasses and plain objects."""
    seen: set[int] = set()
    total = 0
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset):
            stack.extend(obj)
        elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            stack.extend(getattr(obj, f.name) for f in dataclasses.fields(obj))
    return total


def memory(cloud: EmulatedCloud) -> int:
    """What the cloud's state holds: every table of the state, and the login sessions."""
    state: CloudState = cloud.state
    tables: dict[str, Any] = {k: v for k, v in vars(state).items() if isinstance(v, dict | list)}
    return deep_size(tables) + deep_size(vars(cloud.auth.sessions))


def file_size(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[EmulatedCloud]:
    with EmulatedCloud(clock=VirtualClock(), broker="none", auth=LabAuth(ADMIN_KEY), token_ttl_s=TTL_S,
                       token_retention_s=RETENTION_S, state_path=tmp_path / "lab.sqlite") as c:
        yield c


def issue_tokens(cloud: EmulatedCloud, bearer: str, home: str, count: int) -> list[str]:
    """``count`` pairing tokens through the app API: 8 clients at once, each pipelining its requests on one
    kept-alive connection (the client costs next to nothing, so the time is the server's). The new tokens."""
    before = set(cloud.state.tokens)
    request = (f"POST /app/v1/homes/{home}/token HTTP/1.1\r\nHost: lab\r\nAuthorization: Bearer {bearer}\r\n"
               "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}").encode()
    port = int(cloud.http_url.rsplit(":", 1)[1])

    def client(share: int) -> int:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(request * share)
            seen, tail = 0, b""
            while seen < share:
                chunk = sock.recv(1 << 16)
                assert chunk, "the server closed the connection"
                window = tail + chunk
                seen += window.count(b"HTTP/1.1 201 Created")
                tail = window[-32:]
            return seen

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(client, [count // 8] * 8)) == count
    return [t for t in cloud.state.tokens if t not in before]


def refused_attempts(cloud: EmulatedCloud, tokens: list[str], pid: str, admin: AppClient) -> None:
    """Activations with a revoked licence: each is recorded as an attempt of its token."""
    licence = admin.ok("POST", "/lab/licences", {"pid": pid})
    admin.ok("POST", f"/lab/licences/{licence['uuid']}/revoke")
    for token in tokens:
        query, body = build_activation(licence["uuid"], licence["authKey"], pid, token)
        assert post(f"{cloud.atop_url}?{query}", body)[0] == 200


def test_20000_tokens_are_purged_after_retention_in_memory_and_in_the_state_file(cloud: EmulatedCloud,
                                                                                 tmp_path: Path) -> None:
    db = tmp_path / "lab.sqlite"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600, "the state holds AuthKeys: the owner's only"
    admin = AppClient(cloud, bearer=ADMIN_KEY)
    pid = admin.ok("POST", "/lab/products", {"name": "cam", "category": "sp"})["pid"]
    alice = new_account(admin, cloud, "alice")
    home = alice.ok("POST", "/homes", {"name": "flat"})["home"]
    assert alice.bearer is not None
    # the baseline: a lab that has issued and forgotten tokens before (caches and tables warm)
    refused_attempts(cloud, issue_tokens(cloud, alice.bearer, home, 160)[:20], pid, admin)
    admin.ok("POST", "/lab/clock/advance", {"seconds": TTL_S + RETENTION_S + 1})
    assert cloud.state.tokens == {}
    base_memory, base_file = memory(cloud), file_size(db)

    # 2,000 through the app API over HTTP, the other 18,000 through the same app API in process (the code below
    # the HTTP handler is the same; 20,000 HTTP round trips would cost make test some 15 s of CPU for nothing)
    tokens = issue_tokens(cloud, alice.bearer, home, OVER_HTTP)
    assert alice.account is not None
    tokens += [cloud.app.get_token(alice.account, home).token for _ in range(TOKENS - OVER_HTTP)]
    refused_attempts(cloud, tokens[:100], pid, admin)
    assert len(cloud.state.tokens) == TOKENS and len(cloud.state.attempts) == 100
    grown_memory, grown_file = memory(cloud), file_size(db)
    assert grown_memory > 10 * base_memory and grown_file > 10 * base_file, "the measure sees the tokens"

    admin.ok("POST", "/lab/clock/advance", {"seconds": TTL_S + RETENTION_S / 2})
    assert len(cloud.state.tokens) == TOKENS, "expired, but still within their retention: kept for the report"
    assert len(alice.ok("GET", f"/tokens/{tokens[0]}/attempts")) == 1
    admin.ok("POST", "/lab/clock/advance", {"seconds": RETENTION_S / 2 + 1})
    assert cloud.state.tokens == {} and cloud.state.attempts == {}
    assert memory(cloud) <= 1.1 * base_memory, (base_memory, grown_memory, memory(cloud))
    assert file_size(db) <= 1.1 * base_file, (base_file, grown_file, file_size(db))
    status, answer = alice.call("GET", f"/tokens/{tokens[0]}/attempts")
    assert status == 404 and answer["errorCode"] == "TOKEN_NOT_EXISTS"


def test_a_used_token_is_kept_for_its_retention_after_use_and_then_purged(cloud: EmulatedCloud) -> None:
    from _cloud_helpers import activate

    admin = AppClient(cloud, bearer=ADMIN_KEY)
    pid = admin.ok("POST", "/lab/products", {"name": "cam", "category": "sp"})["pid"]
    alice = new_account(admin, cloud, "alice")
    home = alice.ok("POST", "/homes", {"name": "flat"})["home"]
    grant = alice.ok("POST", f"/homes/{home}/token")
    admin.ok("POST", "/lab/clock/advance", {"seconds": TTL_S - 1})
    licence = cloud.app.issue_licence(pid)
    assert activate(cloud, licence, grant["token"]).success  # used a second before it would have expired
    admin.ok("POST", "/lab/clock/advance", {"seconds": RETENTION_S - 10})
    assert [a["outcome"] for a in alice.ok("GET", f"/tokens/{grant['pairingToken']}/attempts")] == ["activated"]
    admin.ok("POST", "/lab/clock/advance", {"seconds": 11})
    assert grant["token"] not in cloud.state.tokens
