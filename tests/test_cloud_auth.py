"""The lab cloud's credentials through the real server: every app route refuses a caller without credentials and
one with another account's, lab controls need the admin key, logins, sessions and the admin key file."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from _cloud_helpers import PASSWORD, AppClient, activate, login, new_account, post
from aiohttp import web

from harness.clock import VirtualClock
from harness.emulator.cloud import EmulatedCloud, LabAuth, LicenceRecord
from harness.emulator.cloud.app_api import AppHttp, CloudApp
from harness.emulator.cloud.auth import (
    MAX_SESSIONS_PER_ACCOUNT,
    Sessions,
    admin_key_file,
    hash_password,
    is_loopback_host,
    verify_password,
)
from harness.emulator.cloud.state import CloudState

ADMIN_KEY = "lab-admin-key-0123456789abcdef"
PAIRCERT = [sys.executable, "-c", "from harness.cli import main; main()"]


@dataclass
class Lab:
    cloud: EmulatedCloud
    admin: AppClient
    alice: AppClient
    bob: AppClient
    home: str
    dev_id: str
    token: str
    uuid: str


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with EmulatedCloud(clock=VirtualClock(), auth=LabAuth(ADMIN_KEY)) as cloud:  # a broker: bind by UUID needs one
        admin = AppClient(cloud, bearer=ADMIN_KEY)
        pid = admin.ok("POST", "/lab/products", {"name": "plug", "category": "cz", "binding_mode": "medium"})["pid"]
        alice, bob = new_account(admin, cloud, "alice"), new_account(admin, cloud, "bob")
        home = alice.ok("POST", "/homes", {"name": "flat"})["home"]
        raw = admin.ok("POST", "/lab/licences", {"pid": pid})
        licence = LicenceRecord(uuid=raw["uuid"], auth_key=raw["authKey"], pid=pid)
        grant = alice.ok("POST", f"/homes/{home}/token")
        dev_id = activate(cloud, licence, grant["token"]).result["devId"]  # type: ignore[index]
        # a medium rebind into carol's home notifies alice (something of hers for bob not to see)
        carol = new_account(admin, cloud, "carol")
        carol_home = carol.ok("POST", "/homes", {"name": "elsewhere"})["home"]
        assert activate(cloud, licence, carol.ok("POST", f"/homes/{carol_home}/token")["token"]).success
        assert activate(cloud, licence, alice.ok("POST", f"/homes/{home}/token")["token"]).success
        yield Lab(cloud, admin, alice, bob, home, dev_id, grant["pairingToken"], licence.uuid)


def app_routes() -> list[tuple[str, str]]:
    """Every route of the app API, read from the routing table itself (a route added later is covered too)."""
    web_app = web.Application()
    AppHttp(CloudApp(CloudState(clock=VirtualClock()))).add_routes(web_app)
    routes = {(r.method, r.resource.canonical) for r in web_app.router.routes()
              if r.resource is not None and r.method != "HEAD"}
    return sorted(routes)


def fill(lab: Lab, template: str) -> str:
    values = {"home": lab.home, "dev_id": lab.dev_id, "token": lab.token, "uuid": lab.uuid}
    path = template
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return path.replace("/app/v1", "", 1)


def is_lab(template: str) -> bool:
    return template.startswith("/app/v1/lab/") or template == "/app/v1/accounts"


def test_the_route_table_is_what_the_test_walks() -> None:
    routes = app_routes()
    assert ("POST", "/app/v1/login") in routes and ("PUT", "/app/v1/lab/faults") in routes and len(routes) >= 18


@pytest.mark.parametrize(("method", "template"), app_routes())
def test_every_route_refuses_a_caller_without_credentials(lab: Lab, method: str, template: str) -> None:
    anonymous = AppClient(lab.cloud)
    naming_alice = AppClient(lab.cloud, lab.alice.account)  # the old header is no credential any more
    for client in (anonymous, naming_alice):
        status, answer = client.call(method, fill(lab, template), {})
        assert answer["success"] is False, (method, template, answer)
        if template == "/app/v1/login":
            assert status == 400 and answer["errorCode"] == "ILLEGAL_PARAM"
        else:
            assert status == 401 and answer["errorCode"] in ("USER_SESSION_LOSS", "ADMIN_KEY_REQUIRED"), answer


@pytest.mark.parametrize(("method", "template"), app_routes())
def test_every_route_refuses_another_accounts_credentials(lab: Lab, method: str, template: str) -> None:
    """bob's token never reaches alice's homes, devices and tokens, nor a lab control; on a route without a
    resource in its path it acts as bob (his notifications, his new home), never as alice."""
    path = fill(lab, template)
    status, answer = lab.bob.call(method, path, {"name": "x", "dps": {"1": True}, "wipe": False, "uuid": lab.uuid,
                                                 "account": lab.bob.account, "role": "admin"})
    if is_lab(template):
        assert status == 403 and answer["errorCode"] == "PERMISSION_DENIED", answer
    elif "{" in template:
        assert status in (403, 404) and answer["success"] is False, (method, path, answer)
    elif template == "/app/v1/notifications":
        assert answer["result"] == [] and lab.alice.ok("GET", "/notifications") != []
    elif template == "/app/v1/homes":
        assert status == 201 and lab.alice.call("GET", f"/homes/{answer['result']['home']}/devices")[0] == 403
    else:
        assert template == "/app/v1/login" and status == 400


@pytest.mark.parametrize(("method", "template"), [r for r in app_routes() if is_lab(r[1])])
def test_lab_controls_refuse_a_wrong_admin_key(lab: Lab, method: str, template: str) -> None:
    status, answer = AppClient(lab.cloud, bearer=ADMIN_KEY[:-1] + "X").call(method, fill(lab, template), {})
    assert status == 401 and answer["errorCode"] == "ADMIN_KEY_REQUIRED"


def test_the_admin_key_is_not_an_account(lab: Lab) -> None:
    status, answer = lab.admin.call("GET", f"/homes/{lab.home}/devices")
    assert status == 403 and answer["errorCode"] == "NOT_AN_ACCOUNT"
    status, answer = lab.admin.call("POST", "/homes", {"name": "x"})
    assert status == 403


def test_the_owner_is_served_with_her_token(lab: Lab) -> None:
    assert [d["devId"] for d in lab.alice.ok("GET", f"/homes/{lab.home}/devices")] == [lab.dev_id]
    assert lab.admin.ok("GET", "/lab/capabilities")["faults"] is True


def test_a_login_needs_the_right_password_and_failed_logins_are_throttled(lab: Lab) -> None:
    anonymous = AppClient(lab.cloud)
    account = lab.admin.ok("POST", "/accounts", {"name": "dave", "password": PASSWORD})["account"]
    for wrong in ({"account": account, "password": "not the password"},
                  {"account": "accnobody", "password": PASSWORD}):
        status, answer = anonymous.call("POST", "/login", wrong)
        assert status == 401 and answer["errorCode"] == "LOGIN_FAILED" and "token" not in json.dumps(answer)
    assert login(lab.cloud, account).ok("GET", "/notifications") == []
    statuses = [anonymous.call("POST", "/login", {"account": account, "password": "wrong-" + str(i)})[0]
                for i in range(12)]
    assert statuses[-1] == 429 and set(statuses) == {401, 429}
    status, _ = anonymous.call("POST", "/login", {"account": account, "password": PASSWORD})
    assert status == 429, "while throttled even the right password waits"
    lab.cloud.auth.throttle = type(lab.cloud.auth.throttle)()  # the window over (other tests log in too)


def test_an_account_needs_a_password_of_8_to_256_characters(lab: Lab) -> None:
    for body in ({"name": "eve"}, {"name": "eve", "password": "short"}, {"name": "eve", "password": ["list"]},
                 {"name": "eve", "password": "x" * 257}):
        status, answer = lab.admin.call("POST", "/accounts", body)
        assert status == 400 and answer["errorCode"] == "ILLEGAL_PARAM", body


def test_an_open_lab_still_takes_the_account_header_and_tokens() -> None:
    with EmulatedCloud(clock=VirtualClock(), broker="none") as cloud:
        lab = AppClient(cloud)
        named = lab.ok("POST", "/accounts", {"name": "anon"})["account"]
        assert AppClient(cloud, named).ok("POST", "/homes", {"name": "h"})["home"]
        with_password = new_account(lab, cloud, "pw")
        assert with_password.ok("POST", "/homes", {"name": "h"})["home"]
        status, answer = AppClient(cloud, bearer="pcs_forged").call("GET", "/notifications")
        assert status == 401 and answer["errorCode"] == "TOKEN_INVALID"


def test_sessions_expire_and_are_bounded_per_account() -> None:
    now = [0.0]
    sessions = Sessions(ttl_s=60, now=lambda: now[0])
    first = sessions.issue("acc1")
    assert sessions.account_of(first) == "acc1" and sessions.account_of("pcs_other") is None
    more = [sessions.issue("acc1") for _ in range(MAX_SESSIONS_PER_ACCOUNT)]
    assert sessions.account_of(first) is None, "the oldest login ended"
    assert len(sessions) == MAX_SESSIONS_PER_ACCOUNT and sessions.account_of(more[-1]) == "acc1"
    now[0] = 61
    assert sessions.account_of(more[-1]) is None
    sessions.issue("acc2")
    assert len(sessions) == 1, "expired sessions are purged"


def test_passwords_are_kept_as_scrypt_hashes() -> None:
    stored = hash_password("hunter22hunter22")
    assert stored.startswith("scrypt$") and "hunter22" not in stored
    assert verify_password("hunter22hunter22", stored) and not verify_password("hunter22hunter2", stored)
    assert not verify_password("x", None) and not verify_password("x", "garbage") and not verify_password("x", "a$b")


def test_the_admin_key_file_is_created_private_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "admin.key"
    key, created = admin_key_file(path)
    assert created and len(key) >= 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert admin_key_file(path) == (key, False)
    path.write_text("short\n")
    with pytest.raises(ValueError, match=r"admin\.key"):
        admin_key_file(path)


def test_loopback_hosts() -> None:
    assert all(is_loopback_host(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"))
    assert not any(is_loopback_host(h) for h in ("0.0.0.0", "::", "192.0.2.1", "no-such-host.invalid"))


def test_a_network_bind_without_credentials_is_refused() -> None:
    with pytest.raises(ValueError, match="needs authentication"):
        EmulatedCloud(host="0.0.0.0", broker="none")
    done = subprocess.run([*PAIRCERT, "cloud", "serve", "--host", "0.0.0.0", "--no-auth", "--broker", "none"],
                          capture_output=True, text=True, timeout=60, env={**os.environ})
    assert done.returncode == 2 and "--no-auth is for loopback binds only" in done.stderr


def test_the_served_cloud_takes_its_admin_key_from_the_file(tmp_path: Path) -> None:
    key_file = tmp_path / "lab.key"
    key_file.write_text(ADMIN_KEY + "\n")
    key_file.chmod(0o600)
    from _serve_helpers import ServedCloud

    served = ServedCloud("--broker", "none", "--admin-key-file", str(key_file))
    try:
        assert served.admin_key is None and ADMIN_KEY not in "".join(served.lines), "a kept key is not printed"

        class Served:
            app_url = served.urls["app API"]

        status, _ = post(Served.app_url + "/lab/capabilities", method="GET",
                         headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        assert status == 200
        status, _ = post(Served.app_url + "/lab/capabilities", method="GET")
        assert status == 401
    finally:
        served.stop()


def test_licence_uuids_and_authkeys_never_reach_the_log_at_info(caplog: pytest.LogCaptureFixture) -> None:
    """An activation, a refused MQTT login under the licence's pre-activation name and a refused publish: nothing
    at INFO or above names the licence or its AuthKey."""
    import paho.mqtt.client as paho
    from _cloud_helpers import make_world
    from paho.mqtt.enums import CallbackAPIVersion

    from harness.protocol import mqtt

    caplog.set_level(logging.INFO)
    with EmulatedCloud(clock=VirtualClock(), auth=LabAuth(ADMIN_KEY)) as cloud:
        world = make_world(cloud)
        licence = world.licence()
        assert activate(cloud, licence, world.token()).success
        creds = mqtt.preactivation_credentials(licence.uuid, "wrong-auth-key-0000000000000000")
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=creds.client_id, protocol=paho.MQTTv311)
        client.username_pw_set(creds.username, creds.password)
        answered: list[object] = []
        client.on_connect = lambda *args: answered.append(args[3])
        client.connect(cloud.mqtt_host, cloud.mqtt_port, keepalive=10)
        deadline = time.monotonic() + 5
        while not answered and time.monotonic() < deadline:
            client.loop(timeout=0.05)
        client.disconnect()
        assert answered and answered[0].is_failure  # type: ignore[attr-defined]
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert logged, "something was logged at INFO (the test sees the log)"
    assert licence.uuid not in logged and licence.auth_key not in logged


def test_the_served_cloud_without_auth_on_loopback_is_open_and_says_so() -> None:
    from _serve_helpers import ServedCloud

    served = ServedCloud("--broker", "none", "--no-auth")
    try:
        assert served.admin_key is None and any(line.strip().startswith("auth") and "none" in line
                                                for line in served.lines)
        status, raw = post(served.urls["app API"] + "/lab/capabilities", method="GET")
        assert status == 200 and json.loads(raw)["success"] is True
    finally:
        served.stop()
