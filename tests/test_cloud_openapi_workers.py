"""`paircert cloud serve --workers 2 --openapi-client-file`: the OpenAPI's access and refresh tokens are the
project's, not one process's (PROTOCOL.md §10.4). A token from one login works at every process, a refresh revokes
the old pair at every process, and the refresh token works once wherever it is used again. Every request is sent on
a connection of its own, so that the kernel spreads them over both processes (SO_REUSEPORT)."""

from __future__ import annotations

import json
import secrets
import time
import urllib.request
from collections.abc import Iterator

import pytest
from _serve_helpers import ServedCloud

from harness.protocol import openapi as oa

ROUNDS = 24  # connections per check: both processes answer some of them


class Project:
    def __init__(self, url: str, client_id: str, secret: str) -> None:
        self.url, self.client_id, self.secret = url, client_id, secret

    def send(self, path: str, *, access: str = "", query: tuple[tuple[str, str], ...] = ()) -> oa.Envelope:
        request = oa.SignedRequest("GET", path, query, b"", access_token=access)
        headers = request.headers(client_id=self.client_id, secret=self.secret, t_ms=int(time.time() * 1000),
                                  nonce=secrets.token_hex(16))
        target = self.url + path + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else "")
        with urllib.request.urlopen(urllib.request.Request(target, headers=headers), timeout=10) as answer:
            return oa.parse_envelope(answer.read())

    def login(self) -> oa.AccessToken:
        envelope = self.send(oa.TOKEN_PATH, query=(("grant_type", oa.GRANT_TYPE_SIMPLE),))
        assert envelope.success, envelope
        return oa.AccessToken.from_result(envelope.result)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    folder = tmp_path_factory.mktemp("openapi-workers")
    served = ServedCloud("--workers", "2", "--openapi-client-file", str(folder / "openapi.json"))
    try:
        assert any("2 processes" in line for line in served.lines), served.lines
        [line] = [line for line in served.lines if line.startswith("OpenAPI ")]
        credentials = json.loads((folder / "openapi.json").read_text(encoding="utf-8"))
        yield Project(line.split()[1], credentials["client_id"], credentials["secret"])
    finally:
        served.stop()


def codes(project: Project, path: str, access: str) -> set[int]:
    """The codes of ROUNDS calls (0: success), each on a new connection."""
    return {0 if e.success else int(e.code or -1) for e in (project.send(path, access=access) for _ in range(ROUNDS))}


def test_a_token_from_one_login_works_at_every_process(project: Project) -> None:
    for _ in range(3):
        token = project.login()
        answered = codes(project, "/v1.0/users/nobody/homes", token.access_token)
        assert len(answered) == 1 and not answered & {oa.OpenApiCode.TOKEN_INVALID, oa.OpenApiCode.TOKEN_EXPIRED}


def test_a_refresh_revokes_the_old_pair_at_every_process_and_works_once(project: Project) -> None:
    old = project.login()
    refreshed = project.send(f"{oa.TOKEN_PATH}/{old.refresh_token}")
    assert refreshed.success, refreshed
    new = oa.AccessToken.from_result(refreshed.result)
    assert codes(project, "/v1.0/users/nobody/homes", old.access_token) == {oa.OpenApiCode.TOKEN_INVALID}
    assert oa.OpenApiCode.TOKEN_INVALID not in codes(project, "/v1.0/users/nobody/homes", new.access_token)
    again = {int(project.send(f"{oa.TOKEN_PATH}/{old.refresh_token}").code or -1) for _ in range(ROUNDS)}
    assert again == {oa.OpenApiCode.TOKEN_STATUS_INVALID}
