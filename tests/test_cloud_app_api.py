"""The app API as JSON over HTTP under /app/v1/: every operation, the roles, and well-formed errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _cloud_helpers import AppClient, activate, post

from harness.clock import VirtualClock
from harness.emulator.cloud import EmulatedCloud, LicenceRecord


@pytest.fixture(scope="module")
def cloud() -> Iterator[EmulatedCloud]:
    with EmulatedCloud(clock=VirtualClock(), broker="none") as c:
        yield c


def test_every_operation_over_http(cloud: EmulatedCloud) -> None:
    lab = AppClient(cloud)
    assert lab.ok("GET", "/lab/capabilities")["time_travel"] is True
    product = lab.ok("POST", "/lab/products", {"name": "plug", "category": "cz", "binding_mode": "medium",
                                                "schema": [{"id": 1, "code": "switch", "type": "bool", "mode": "rw"},
                                                           {"id": 2, "code": "power", "type": "value"}]})
    assert product["binding_mode"] == "medium" and len(product["pid"]) == 16
    licence = lab.ok("POST", "/lab/licences", {"pid": product["pid"]})
    assert len(licence["uuid"]) == 20 and len(licence["authKey"]) == 32
    owner_id = lab.ok("POST", "/accounts", {"name": "alice"})["account"]
    owner = AppClient(cloud, owner_id)
    home = owner.ok("POST", "/homes", {"name": "flat"})["home"]
    guest_id = lab.ok("POST", "/accounts", {"name": "bob"})["account"]
    owner.ok("POST", f"/homes/{home}/members", {"account": guest_id, "role": "member"})
    grant = owner.ok("POST", f"/homes/{home}/token")
    assert len(grant["pairingToken"]) == 14 and grant["pairingToken"][:2] == "EU"
    assert grant["pairingToken"][2:10] == grant["token"] and grant["expireTime"] - cloud.clock.time() == 600

    lic = LicenceRecord(uuid=licence["uuid"], auth_key=licence["authKey"], pid=product["pid"])
    result = activate(cloud, lic, grant["token"]).result
    assert result is not None
    dev_id = result["devId"]
    devices = owner.ok("GET", f"/homes/{home}/devices")
    assert [d["devId"] for d in devices] == [dev_id] and "secKey" not in devices[0]
    assert owner.ok("GET", f"/devices/{dev_id}")["home"] == home
    attempts = owner.ok("GET", f"/tokens/{grant['pairingToken']}/attempts")
    assert [a["outcome"] for a in attempts] == ["activated"]
    assert owner.ok("POST", f"/devices/{dev_id}/dps", {"dps": {"1": True}}) == {"sent": False}  # offline
    assert owner.ok("GET", "/notifications") == []

    found = lab.ok("GET", f"/lab/devices?uuid={lic.uuid}")
    assert (found["devId"], found["home"], found["owner"]) == (dev_id, home, owner_id) and "secKey" not in found
    status, answer = lab.call("GET", "/lab/devices?uuid=nobody")
    assert status == 404 and answer["errorCode"] == "DEVICE_NOT_EXISTS"
    status, answer = lab.call("GET", "/lab/devices")
    assert status == 400 and answer["errorCode"] == "ILLEGAL_PARAM"
    status, answer = lab.call("POST", "/lab/devices/release", {"uuid": lic.uuid, "wipe": "yes"})
    assert status == 400 and answer["errorCode"] == "ILLEGAL_PARAM"

    guest = AppClient(cloud, guest_id)
    status, answer = guest.call("POST", f"/devices/{dev_id}/remove", {"wipe": False})
    assert status == 403 and answer["errorCode"] == "PERMISSION_DENIED"
    owner.ok("POST", f"/devices/{dev_id}/remove", {"wipe": True})
    assert owner.ok("GET", f"/homes/{home}/devices") == []

    assert lab.ok("POST", "/lab/devices/release", {"uuid": lic.uuid}) == {"released": None}  # bound nowhere
    again = activate(cloud, lic, owner.ok("POST", f"/homes/{home}/token")["token"]).result
    assert again is not None and again["devId"] == dev_id
    released = lab.ok("POST", "/lab/devices/release", {"uuid": lic.uuid})["released"]
    assert (released["home"], released["owner"]) == (home, owner_id)
    assert owner.ok("GET", f"/homes/{home}/devices") == [] and lab.ok("GET", f"/lab/devices?uuid={lic.uuid}")[
        "owner"] is None

    lab.ok("POST", f"/lab/licences/{lic.uuid}/revoke")
    assert activate(cloud, lic, owner.ok("POST", f"/homes/{home}/token")["token"]).error_code == "LICENSE_REVOKED"
    assert lab.ok("POST", "/lab/clock/advance", {"seconds": 10})["now"] == cloud.clock.time()
    assert lab.ok("PUT", "/lab/faults", {"faults": ["token-reusable"]}) == {"faults": ["token-reusable"]}
    assert lab.ok("GET", "/lab/faults")["faults"] == ["token-reusable"]
    lab.ok("PUT", "/lab/faults", {"faults": []})


def test_a_guest_may_get_a_token_but_not_for_someone_elses_home(cloud: EmulatedCloud) -> None:
    lab = AppClient(cloud)
    owner_id = lab.ok("POST", "/accounts", {"name": "o"})["account"]
    stranger = AppClient(cloud, lab.ok("POST", "/accounts", {"name": "s"})["account"])
    home = AppClient(cloud, owner_id).ok("POST", "/homes", {"name": "h"})["home"]
    status, answer = stranger.call("POST", f"/homes/{home}/token")
    assert status == 403 and answer == {"success": False, "errorCode": "PERMISSION_DENIED",
                                        "errorMsg": answer["errorMsg"]}


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("POST", "/homes", b'{"name": "x"}', 401),  # no caller
    ("POST", "/accounts", b"not json", 400),
    ("POST", "/accounts", b"[1,2]", 400),
    ("POST", "/accounts", b'{"name": 5}', 400),
    ("POST", "/accounts", b"\xff\xfe", 400),
    ("GET", "/devices/nope", b"", 401),
    ("GET", "/nowhere", b"", 404),
    ("DELETE", "/accounts", b"", 405),
    ("POST", "/lab/products", b'{"name": "cam", "category": "sp", "binding_mode": "weak"}', 400),
    ("POST", "/lab/products", b'{"name": "x", "category": "cz", "pid": "short"}', 400),
    ("POST", "/lab/licences", b'{"pid": "nosuchproductpid"}', 404),
    ("POST", "/lab/clock/advance", b'{"seconds": -1}', 400),
    ("PUT", "/lab/faults", b'{"faults": ["no-such-fault"]}', 400),
    ("POST", "/accounts", b'{"name": "' + b"x" * 300_000 + b'"}', 413),
])
def test_malformed_app_requests_get_4xx_json(cloud: EmulatedCloud, method: str, path: str, body: bytes,
                                             status: int) -> None:
    got, raw = post(cloud.app_url + path, body, method=method)
    assert got == status, raw
    import json
    answer = json.loads(raw)
    assert answer["success"] is False and isinstance(answer["errorCode"], str)


def test_clock_advance_is_refused_on_a_real_clock() -> None:
    with EmulatedCloud(broker="none") as real:
        status, raw = post(real.app_url + "/lab/clock/advance", b'{"seconds": 1}')
        assert status == 409 and b"NOT_SUPPORTED" in raw
        assert AppClient(real).ok("GET", "/lab/capabilities")["time_travel"] is False
