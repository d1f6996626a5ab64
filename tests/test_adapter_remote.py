"""The remote cloud adapter against `paircert cloud serve` in its own process, and its error paths."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from _cloud_helpers import build_activation, post
from _serve_helpers import ServedCloud

from harness.adapters.contracts import AdapterError, CapabilityMissing, CloudAdapter, CloudCapability, Licence
from harness.adapters.registry import WorldContext
from harness.adapters.remote import RemoteCloudAdapter, RemoteCloudError, remote_cloud, split_base_url
from harness.clock import VirtualClock
from harness.emulator.cloud import EmulatedCloud
from harness.model import BindingMode, Role
from harness.profiles import load_profile
from harness.protocol.atop import AtopResponse, decode_response
from harness.protocol.token import PairingToken


@pytest.fixture(scope="module")
def served() -> Iterator[ServedCloud]:
    cloud = ServedCloud("--broker", "none", "--region", "EU")
    try:
        yield cloud
    finally:
        cloud.stop()


@pytest.fixture
def cloud(served: ServedCloud) -> RemoteCloudAdapter:
    return RemoteCloudAdapter(served.urls["app API"], timeout_s=5, admin_key=served.admin_key)


def activate(cloud: RemoteCloudAdapter, licence: Licence, token: str, *, hid: str = "a1b2c3d4e5f6") -> AtopResponse:
    """What a real camera does after reading the QR: an ATOP activation (§4) at the cloud's advertised URL."""
    short = PairingToken.parse(token).token  # the camera splits the 14 characters (§1.4)
    query, body = build_activation(licence.uuid, licence.auth_key, licence.pid, short, hid=hid)
    status, raw = post(f"{cloud.endpoints()['atop_url']}?{query}", body,
                       headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"}, timeout=5)
    assert status == 200, raw
    return decode_response(raw, licence.auth_key, 1)


def test_the_served_cloud_offers_its_lab_controls_but_no_time_travel(cloud: RemoteCloudAdapter) -> None:
    assert isinstance(cloud, CloudAdapter)
    assert cloud.capabilities == {"issue-licences", "revoke-licences", "create-products", "inspect-devices",
                                  "raw-atop"}
    with pytest.raises(CapabilityMissing, match="time-travel"):
        cloud.advance_time(60)
    assert cloud.device_by_uuid("nobody0000000000") is None
    assert cloud.release_device("nobody0000000000") is None


def test_info_says_where_devices_activate(cloud: RemoteCloudAdapter, served: ServedCloud) -> None:
    assert cloud.info()["region"] == "EU"  # the lab API names the region before any token exists
    owner = cloud.create_account("owner")
    cloud.get_token(cloud.create_home(owner, "lab"), owner)
    info = cloud.info()
    assert info["adapter"] == "remote" and info["region"] == "EU"
    assert info["app_url"] == served.urls["app API"]
    assert info["atop_url"] == served.urls["ATOP"] and info["mqtt"] == served.urls["MQTT"]
    json.dumps(info)  # goes into the run summary as is


def test_accounts_homes_members_and_tokens(cloud: RemoteCloudAdapter) -> None:
    owner, admin, guest = (cloud.create_account(n) for n in ("owner", "admin", "guest"))
    home = cloud.create_home(owner, "lab")
    cloud.add_member(home, admin, Role.ADMIN)
    cloud.add_member(home, guest, Role.MEMBER)
    token = cloud.get_token(home, guest)
    assert len(token) == 14 and token.startswith("EU") and cloud.region == "EU"
    assert cloud.get_token(home, admin) != token
    assert cloud.token_attempts(token) == []
    assert cloud.list_devices(home) == []
    stranger = cloud.create_account("stranger")
    with pytest.raises(RemoteCloudError) as refused:
        cloud.get_token(home, stranger)
    assert refused.value.code == "PERMISSION_DENIED" and refused.value.status == 403
    with pytest.raises(AdapterError, match="does not know an account"):
        cloud.add_member("no-such-home", stranger, Role.MEMBER)
    assert cloud.token_attempts("EUnotmine00000") == []  # a guessed token: asked as one of its accounts, none seen


def test_an_activation_shows_as_an_attempt_a_listed_device_and_a_removal(cloud: RemoteCloudAdapter) -> None:
    product = cloud.create_product("lab camera", "sp", BindingMode.STRONG)
    licence = cloud.issue_licence(product.pid)
    owner = cloud.create_account("owner")
    member = cloud.create_account("member")
    home = cloud.create_home(owner, "lab")
    cloud.add_member(home, member, Role.MEMBER)
    token = cloud.get_token(home, owner)
    assert activate(cloud, licence, token).success
    [attempt] = cloud.token_attempts(token)
    assert attempt.outcome == "activated" and attempt.home == home and attempt.dev_id
    [listed] = cloud.list_devices(home)
    record = cloud.device(attempt.dev_id)
    assert record == listed
    assert (record.uuid, record.pid, record.name, record.home, record.online, record.activations) == (
        licence.uuid, product.pid, "lab camera", home, False, 1)
    again = activate(cloud, licence, token)
    assert not again.success and again.error_code == "EXPIRE"  # consumed
    assert [a.outcome for a in cloud.token_attempts(token)] == ["activated", "refused"]
    assert cloud.token_attempts(token)[1].error_code == "EXPIRE"
    with pytest.raises(RemoteCloudError) as refused:
        cloud.remove_device(attempt.dev_id, account=member)
    assert refused.value.code == "PERMISSION_DENIED"
    cloud.remove_device(attempt.dev_id, account=owner, wipe=True)
    assert cloud.device(attempt.dev_id) is None
    assert cloud.list_devices(home) == []


def test_a_lab_that_never_saw_the_owner_releases_the_device_by_its_licence(cloud: RemoteCloudAdapter,
                                                                         served: ServedCloud) -> None:
    """Between tests (or after a restart) the lab finds the device by licence and its owner removes it, even when
    this adapter never met that owner: no test depends on what an earlier one left bound."""
    licence = cloud.issue_licence(cloud.create_product("lab camera", "sp", BindingMode.STRONG).pid)
    owner = cloud.create_account("previous owner")
    home = cloud.create_home(owner, "previous test")
    token = cloud.get_token(home, owner)
    assert activate(cloud, licence, token).success
    fresh = RemoteCloudAdapter(served.urls["app API"], timeout_s=5, admin_key=served.admin_key)
    found = fresh.device_by_uuid(licence.uuid)
    assert found is not None and (found.home, found.owner) == (home, owner)
    released = fresh.release_device(licence.uuid)
    assert released is not None and (released.uuid, released.home, released.owner) == (licence.uuid, home, owner)
    after = fresh.device_by_uuid(licence.uuid)
    assert after is not None and after.home is None and after.owner is None
    assert cloud.list_devices(home) == [] and fresh.release_device(licence.uuid) is None
    other = cloud.create_account("next test")
    assert activate(cloud, licence, cloud.get_token(cloud.create_home(other, "next"), other)).success  # no 3711


def test_a_revoked_licence_is_a_refused_attempt(cloud: RemoteCloudAdapter) -> None:
    product = cloud.create_product("revoked camera", "sp", BindingMode.STRONG)
    licence = cloud.issue_licence(product.pid)
    cloud.revoke_licence(licence.uuid)
    owner = cloud.create_account("owner")
    token = cloud.get_token(cloud.create_home(owner, "lab"), owner)
    assert not activate(cloud, licence, token).success
    [attempt] = cloud.token_attempts(token)
    assert attempt.outcome == "refused" and attempt.error_code == "LICENSE_REVOKED" and attempt.dev_id is None


def test_a_medium_rebind_notifies_the_previous_homes_admins(cloud: RemoteCloudAdapter) -> None:
    product = cloud.create_product("lab plug", "cz", BindingMode.MEDIUM)
    licence = cloud.issue_licence(product.pid)
    first, second = cloud.create_account("first"), cloud.create_account("second")
    first_home, second_home = cloud.create_home(first, "one"), cloud.create_home(second, "two")
    assert activate(cloud, licence, cloud.get_token(first_home, first)).success
    assert activate(cloud, licence, cloud.get_token(second_home, second)).success
    [note] = cloud.notifications(first)
    [record] = cloud.list_devices(second_home)
    assert note.account == first and note.dev_id == record.dev_id and note.kind == "device_bound_elsewhere"
    assert cloud.notifications(second) == []
    assert cloud.list_devices(first_home) == []


def test_dps_to_an_offline_device_are_not_delivered_and_to_an_unknown_one_refused(cloud: RemoteCloudAdapter) -> None:
    product = cloud.create_product("dp camera", "sp", BindingMode.STRONG)
    licence = cloud.issue_licence(product.pid)
    owner = cloud.create_account("owner")
    home = cloud.create_home(owner, "lab")
    assert activate(cloud, licence, cloud.get_token(home, owner)).success
    [record] = cloud.list_devices(home)
    assert not record.online
    cloud.send_dps(record.dev_id, {"1": True}, account=owner)  # offline: not delivered, which is no lab fault
    with pytest.raises(RemoteCloudError) as refused:
        cloud.send_dps("no-such-device", {"1": True}, account=owner)
    assert refused.value.code == "DEVICE_NOT_EXISTS" and refused.value.status == 404
    with pytest.raises(RemoteCloudError) as bad:
        cloud.send_dps(record.dev_id, {}, account=owner)
    assert bad.value.code == "ILLEGAL_PARAM"


def test_the_factory_creates_the_profiles_product_once(served: ServedCloud) -> None:
    profile = load_profile("camera-strong")
    context = WorldContext(profile=profile, clock=VirtualClock(), seed=1)
    for _ in range(2):  # the second time the product exists already (409), which is fine
        adapter = remote_cloud(context, url=served.urls["app API"].removesuffix("/app/v1"), timeout_s=5,
                               admin_key=served.admin_key)
        assert adapter.base_url + "/app/v1" == served.urls["app API"]
    assert adapter.clock is context.clock
    licence = adapter.issue_licence(profile.device.pid)
    assert licence.pid == profile.device.pid and len(licence.auth_key) == 32


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_connection_refused_is_an_adapter_error_naming_the_url() -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    with pytest.raises(AdapterError, match=re.escape(url)) as raised:
        RemoteCloudAdapter(url, timeout_s=2)
    assert not isinstance(raised.value, RemoteCloudError) and time.monotonic() - started < 5


def test_base_urls_with_and_without_the_api_prefix() -> None:
    assert split_base_url("http://h:1/app/v1/") == ("http://h:1", "http://h:1/app/v1")
    assert split_base_url("http://h:1") == ("http://h:1", "http://h:1/app/v1")
    with pytest.raises(AdapterError):
        split_base_url("ftp://h")


class _AppOnly(BaseHTTPRequestHandler):
    """A cloud that speaks only part of the app API: no lab routes, no url_config, and a broken route."""

    def _answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError):  # the adapter gave up waiting, as it should
            self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.startswith("/app/v1/notifications"):
            self._answer(500, b"internal trouble", "text/plain")
        elif self.path.startswith("/app/v1/homes/"):
            self._answer(200, b"<html>not json</html>", "text/html")
        elif self.path.startswith("/app/v1/devices/slow"):
            time.sleep(1.5)
            self._answer(200, b"{}")
        else:
            self._answer(404, json.dumps({"success": False, "errorCode": "NOT_FOUND", "errorMsg": "no"}).encode())

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/app/v1/accounts":
            self._answer(201, json.dumps({"success": True, "result": {"account": "acc1"}}).encode())
        elif self.path == "/app/v1/homes":
            self._answer(201, json.dumps({"success": True, "result": {"home": "h1"}}).encode())
        else:
            self._answer(404, b"not here", "text/plain")

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def app_only() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AppOnly)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_cloud_without_lab_routes_offers_no_lab_capabilities(app_only: str) -> None:
    cloud = RemoteCloudAdapter(app_only, timeout_s=1)
    assert cloud.capabilities == frozenset()
    for call in (lambda: cloud.issue_licence("p" * 16), lambda: cloud.revoke_licence("u"),
                 lambda: cloud.advance_time(1), lambda: cloud.create_product("n", "sp", BindingMode.STRONG)):
        with pytest.raises(CapabilityMissing):
            call()
    assert "atop_url" not in cloud.info()  # no url_config there: unknown rather than wrong
    account = cloud.create_account("someone")
    home = cloud.create_home(account, "lab")
    with pytest.raises(AdapterError, match="HTTP 500") as server_error:
        cloud.notifications(account)
    assert not isinstance(server_error.value, RemoteCloudError)
    with pytest.raises(AdapterError, match="not JSON"):
        cloud.list_devices(home)
    with pytest.raises(AdapterError, match=r"did not answer|unreachable"):
        cloud._call("GET", "/devices/slow", account=account)


def test_time_travel_is_offered_when_the_remote_cloud_runs_on_a_virtual_clock(tmp_path: Path) -> None:
    clock = VirtualClock()
    with EmulatedCloud(clock=clock, broker="none") as emulated:
        cloud = RemoteCloudAdapter(emulated.app_url, timeout_s=5)
        assert CloudCapability.TIME_TRAVEL.value in cloud.capabilities
        before = clock.time()
        cloud.advance_time(600)
        assert clock.time() == pytest.approx(before + 600)
        with pytest.raises(RemoteCloudError) as refused:
            cloud.advance_time(-1)
        assert refused.value.code == "ILLEGAL_PARAM"


def test_without_the_admin_key_the_lab_controls_and_new_accounts_are_refused(served: ServedCloud) -> None:
    cloud = RemoteCloudAdapter(served.urls["app API"], timeout_s=5)
    assert cloud.capabilities == {"raw-atop"}  # the devices' ATOP endpoint is no lab control: it needs no key
    with pytest.raises(RemoteCloudError) as refused:
        cloud.create_account("nobody")
    assert refused.value.status == 401 and refused.value.code == "ADMIN_KEY_REQUIRED"


def test_a_wrong_admin_key_is_the_labs_error_and_names_what_to_fix(served: ServedCloud) -> None:
    with pytest.raises(AdapterError, match="refused the admin key") as raised:
        RemoteCloudAdapter(served.urls["app API"], timeout_s=5, admin_key="not-the-admin-key-0123")
    assert "not-the-admin-key" not in str(raised.value)


def test_the_adapter_logs_in_again_when_the_cloud_forgot_its_session() -> None:
    from harness.emulator.cloud import LabAuth

    with EmulatedCloud(clock=VirtualClock(), broker="none", auth=LabAuth("k" * 32)) as emulated:
        cloud = RemoteCloudAdapter(emulated.app_url, timeout_s=5, admin_key="k" * 32)
        owner = cloud.create_account("owner")
        home = cloud.create_home(owner, "lab")
        emulated.auth.sessions.end_account(owner)  # as after a restart of the cloud
        assert len(cloud.get_token(home, owner)) == 14
        assert len(emulated.auth.sessions) == 1
