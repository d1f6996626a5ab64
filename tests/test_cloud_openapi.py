"""The emulated cloud's OpenAPI (harness.emulator.cloud.openapi): driven by Tuya's own tuya-connector-python, and its
answers to bad input (PROTOCOL.md §10.13): always HTTP 200 with the envelope and the documented code, never a 500."""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _cloud_helpers import AppClient, activate, new_account, post
from _serve_helpers import ServedCloud, ServedDevice
from hypothesis import given, settings
from hypothesis import strategies as st
from tuya_connector import TuyaOpenAPI

from harness.clock import VirtualClock
from harness.emulator.cloud import EmulatedCloud, LicenceRecord
from harness.emulator.cloud.openapi import OpenApiService, client_file
from harness.protocol import openapi as oa
from harness.protocol.qr import QrPayload
from harness.qrimage import render_qr

CLIENT_ID, SECRET = "pcOpenApiTest0000001", "pcopenapitestsecret0000000000001"


class Signed:
    """A minimal signed client (harness.protocol.openapi over urllib) whose every part a test may spoil."""

    def __init__(self, cloud: EmulatedCloud, client_id: str = CLIENT_ID, secret: str = SECRET) -> None:
        self.base, self.client_id, self.secret = cloud.openapi_url, client_id, secret
        self.access = ""

    def send(self, method: str, path: str, *, query: tuple[tuple[str, str], ...] = (), body: bytes = b"",
             token: str | None = None, t_ms: int | None = None, secret: str | None = None, nonce: str = "",
             signed: tuple[tuple[str, str], ...] = (),
             spoil: Callable[[dict[str, str]], None] | None = None) -> tuple[int, dict[str, Any]]:
        request = oa.SignedRequest(method, path, query, body, access_token=self.access if token is None else token,
                                   signed_headers=signed)
        headers = request.headers(client_id=self.client_id, secret=secret or self.secret, nonce=nonce,
                                  t_ms=int(time.time() * 1000) if t_ms is None else t_ms)
        headers["Content-Type"] = "application/json"
        if spoil is not None:
            spoil(headers)
        url = self.base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        status, raw = post(url, body, method=method, headers=headers)
        return status, json.loads(raw)

    def login(self) -> dict[str, Any]:
        status, answer = self.send("GET", "/v1.0/token", query=(("grant_type", "1"),))
        assert status == 200 and answer["success"], answer
        self.access = answer["result"]["access_token"]
        result: dict[str, Any] = answer["result"]
        return result


def refused(answer: tuple[int, dict[str, Any]], code: int) -> bool:
    status, body = answer
    return status == 200 and body["success"] is False and body["code"] == code and body["t"] > 10**12 and \
        len(body["tid"]) == 32


@pytest.fixture(scope="module")
def cloud() -> Iterator[EmulatedCloud]:
    with EmulatedCloud(clock=VirtualClock(), broker="none", region="EU") as emulated:
        emulated.openapi.register(CLIENT_ID, SECRET)
        yield emulated


@pytest.fixture
def client(cloud: EmulatedCloud) -> Signed:
    signed = Signed(cloud)
    signed.login()
    return signed


def test_tokens_are_issued_refreshed_once_and_answered_as_documented(cloud: EmulatedCloud) -> None:
    signed = Signed(cloud)
    first = signed.login()
    assert first["expire_time"] == 7200 and len(first["access_token"]) == 32
    assert signed.send("GET", "/v1.0/users/nobody/homes")[1]["code"] == oa.OpenApiCode.USER_NOT_EXIST
    status, renewed = signed.send("GET", f"/v1.0/token/{first['refresh_token']}")
    assert status == 200 and renewed["success"] and renewed["result"]["access_token"] != first["access_token"]
    assert refused(signed.send("GET", f"/v1.0/token/{first['refresh_token']}"), 1012)  # a refresh token works once
    assert refused(signed.send("GET", "/v1.0/users/nobody/homes"), 1011)  # the old access token is gone
    signed.access = renewed["result"]["access_token"]
    assert refused(signed.send("GET", "/v1.0/users/nobody/homes"), oa.OpenApiCode.USER_NOT_EXIST)
    assert refused(signed.send("GET", "/v1.0/token", query=(("grant_type", "2"),)), 1003)
    assert refused(signed.send("GET", "/v1.0/token/never-issued"), 1011)


def test_an_expired_access_token_is_1010() -> None:
    cloud = EmulatedCloud(clock=VirtualClock(), broker="none")
    cloud.openapi = OpenApiService(cloud.state, access_ttl_s=0)  # every token is expired at once
    cloud.openapi.register(CLIENT_ID, SECRET)
    with cloud:
        signed = Signed(cloud)
        signed.login()
        assert refused(signed.send("GET", "/v1.0/users/nobody/homes"), 1010)


def test_bad_signs_clients_clocks_and_headers_are_refused(cloud: EmulatedCloud, client: Signed) -> None:
    path = "/v1.0/users/nobody/homes"
    assert refused(client.send("GET", path, secret="0" * 32), 1004)
    assert refused(client.send("GET", path, spoil=lambda h: h.update(sign="0" * 64)), 1004)
    assert refused(client.send("GET", path, spoil=lambda h: h.update(sign_method="HMAC-MD5")), 1004)
    # signed query, nonce and Signature-Headers (TCG and homebridge style) are honoured: past the sign, to the route
    assert refused(client.send("GET", path, query=(("page_size", "a b,c"),), nonce="5138cc3a9033d69856923fd07b491173",
                               signed=(("client_id", CLIENT_ID), ("area_id", "29a33e8796834b1efa6"))), 2006)
    assert refused(client.send("GET", path, nonce="n1", spoil=lambda h: h.update(nonce="n2")), 1004)
    assert refused(Signed(cloud, client_id="unknown0000000000000").send("GET", path, token="x"), 1005)
    skewed = int(time.time() * 1000) - 301_000  # §10.5.5: the emulator's window is ±300 s
    assert refused(client.send("GET", path, t_ms=skewed), 1013)
    assert refused(client.send("GET", path, spoil=lambda h: h.update(t="soon")), 1013)
    assert refused(client.send("GET", path, spoil=lambda h: h.pop("sign")), 1105)
    assert refused(client.send("GET", path, token="f" * 32), 1011)
    headers_signed = client.send("GET", path, spoil=lambda h: h.update({"Signature-Headers": "x-lab", "x-lab": "1"}))
    assert refused(headers_signed, 1004)  # listed after signing: the sign no longer covers what is sent


def test_the_body_is_signed_as_sent_and_an_empty_object_also_as_nothing(client: Signed) -> None:
    body = json.dumps({"uid": "nobody", "time_zone_id": "Europe/Berlin", "nick": "Café"}).encode()  # \\u escapes
    assert refused(client.send("POST", "/v1.0/device/paring/token", body=body), oa.OpenApiCode.USER_NOT_EXIST)
    raw_utf8 = json.dumps({"uid": "nobody", "time_zone_id": "x", "nick": "Café"}, ensure_ascii=False).encode()
    assert refused(client.send("POST", "/v1.0/device/paring/token", body=raw_utf8), oa.OpenApiCode.USER_NOT_EXIST)
    # TCP's post(path, {}) signs the hash of "" but sends "{}" (§10.5.4)
    tcp_style = oa.SignedRequest("POST", "/v1.0/home/create-home", body=b"", access_token=client.access)
    headers = tcp_style.headers(client_id=CLIENT_ID, secret=SECRET, t_ms=int(time.time() * 1000))
    headers["Content-Type"] = "application/json"
    status, raw = post(client.base + "/v1.0/home/create-home", b"{}", headers=headers)
    assert refused((status, json.loads(raw)), oa.OpenApiCode.PARAM_EMPTY)


@pytest.mark.parametrize(("method", "path", "body", "code"), [
    ("GET", "/v1.0/no/such/route", b"", 1108),
    ("PATCH", "/v1.0/devices/x", b"", 1108),
    ("GET", "/v2.0/cloud/thing/x", b"", 1108),
    ("POST", "/v1.0/device/paring/token", b"{not json", 1109),
    ("POST", "/v1.0/device/paring/token", b"[1, 2]", 1109),
    ("POST", "/v1.0/device/paring/token", b"\xff\xfe", 1109),
    ("POST", "/v1.0/device/paring/token", b"{}", 1100),
    ("POST", "/v1.0/devices/x/commands", b'{"commands": "switch"}', 1109),
    ("GET", "/v1.0/devices/x", b"", 2010),
    ("GET", "/v1.0/device/paring/tokens/AbCd1234", b"", 1000),
    ("POST", "/v1.0/apps/other-app/user", b'{"username": "u"}', 1106),
])
def test_bad_requests_get_the_envelope_and_code(client: Signed, method: str, path: str, body: bytes,
                                                 code: int) -> None:
    assert refused(client.send(method, path, body=body), code)


@settings(max_examples=40, deadline=None)
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
       path=st.sampled_from(["/v1.0/token", "/v1.0/device/paring/token", "/v1.0/devices/{}", "/v1.0/homes/{}/devices",
                             "/v1.0/devices/{}/commands", "/v1.0/home/create-home", "/v1.1/{}", "/v1.0/apps/{}/user"]),
       segment=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x2FF, exclude_characters="/?#%"),
                       min_size=1, max_size=12),
       body=st.binary(max_size=80) | st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                                                  lambda i: st.lists(i, max_size=3) | st.dictionaries(
                                                      st.sampled_from(["uid", "home_id", "commands", "code", "value",
                                                                       "time_zone_id", "username", "home"]),
                                                      i, max_size=4), max_leaves=12).map(
                                                          lambda v: json.dumps(v).encode()))
def test_any_signed_request_is_answered_with_the_envelope_never_a_500(cloud: EmulatedCloud, method: str, path: str,
                                                                      segment: str, body: bytes) -> None:
    signed = Signed(cloud)
    signed.login()
    body = b"" if method == "GET" else body  # the test's urllib sends no body with a GET
    status, answer = signed.send(method, path.format(urllib.parse.quote(segment, safe="")), body=body)
    assert status == 200 and isinstance(answer["success"], bool) and isinstance(answer["t"], int)
    assert answer["success"] or answer["code"] not in (oa.OpenApiCode.SYSTEM_ERROR, oa.OpenApiCode.SIGN_INVALID), \
        answer  # signed as sent (the path percent-encoded), so past the sign, and never a server error


def test_users_homes_and_tokens_map_to_the_clouds_accounts(cloud: EmulatedCloud, client: Signed) -> None:
    sync = json.dumps({"country_code": "49", "username": "alice@lab", "password": "0" * 32, "username_type": 2})
    uid = client.send("POST", "/v1.0/apps/paircert/user", body=sync.encode())[1]["result"]["uid"]
    assert client.send("POST", "/v1.0/apps/paircert/user", body=sync.encode())[1]["result"]["uid"] == uid
    assert uid in cloud.state.accounts
    home = client.send("POST", "/v1.0/home/create-home",
                       body=json.dumps({"uid": uid, "home": {"name": "flat"}, "rooms": []}).encode())[1]["result"]
    assert cloud.state.homes[home].owner == uid
    assert [h["home_id"] for h in client.send("GET", f"/v1.0/users/{uid}/homes")[1]["result"]] == [home]
    body = json.dumps({"uid": uid, "timeZoneId": "Europe/Berlin", "pairing_type": "AP"}).encode()  # other spellings
    grant = oa.PairingTokenResult.from_result(client.send("POST", "/v1.0/device/paring/token", body=body)[1]["result"])
    assert grant.region == "EU" and cloud.state.tokens[grant.token].home == home and 0 < grant.expire_time <= 600
    stranger = cloud.app.create_account("stranger")
    other = json.dumps({"uid": stranger, "home_id": home, "time_zone_id": "Europe/Berlin"}).encode()
    assert refused(client.send("POST", "/v1.0/device/paring/token", body=other), 1106)


def test_the_token_query_lists_activations_and_refusals_that_name_a_device(cloud: EmulatedCloud,
                                                                          client: Signed) -> None:
    product = cloud.app.create_product(name="lab camera", category="sp")
    lic = cloud.app.issue_licence(product.pid)
    owner = cloud.app.create_account("owner")
    home = cloud.app.create_home(owner, "flat")
    token = cloud.app.get_token(owner, home).token
    assert activate(cloud, lic, token).success
    assert not activate(cloud, lic, token).success  # consumed: EXPIRE, with the device's devId
    unknown = LicenceRecord(uuid="pcnosuchlicence00000", auth_key="0" * 32, pid=product.pid)
    activate(cloud, unknown, token)  # refused without a devId: not listed
    result = client.send("GET", f"/v1.0/device/paring/tokens/{token}")[1]["result"]
    lists = oa.TokenDevices.from_result(result)
    dev_id = lic.dev_id or cloud.state.licences[lic.uuid].dev_id
    assert [d.device_id for d in lists.success] == [dev_id] and result["success"][0]["category"] == "sp"
    assert [(d.device_id, d.code) for d in lists.failed] == [(dev_id, "EXPIRE")]
    detail = client.send("GET", f"/v1.0/devices/{dev_id}")[1]["result"]
    assert (detail["uuid"], detail["owner_id"], detail["uid"], detail["online"]) == (lic.uuid, home, owner, False)
    logs = client.send("GET", f"/v1.0/devices/{dev_id}/logs", query=(("type", "3"),))[1]["result"]["logs"]
    assert [e["event_id"] for e in logs] == [3]
    spec = client.send("GET", f"/v1.0/devices/{dev_id}/specifications")[1]["result"]
    assert spec["functions"] == [{"code": "switch", "dp_id": 1, "type": "Boolean", "values": "{}", "mode": "rw"}]
    command = json.dumps({"commands": [{"code": "switch", "value": True}]}).encode()
    assert refused(client.send("POST", f"/v1.0/devices/{dev_id}/commands", body=command), 2001)  # offline
    removed = client.send("DELETE", f"/v1.0/devices/{dev_id}")[1]
    assert removed["success"] is True and removed["result"] is True
    assert cloud.state.devices[dev_id].home is None
    assert refused(client.send("GET", f"/v1.0/devices/{dev_id}"), 1106)  # unbound: no user of the project has it


def test_the_client_file_is_created_private_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "openapi.json"
    client_id, secret, schema = client_file(path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert re.fullmatch(r"[A-Za-z0-9]{20}", client_id) and re.fullmatch(r"[a-z0-9]{32}", secret)
    assert client_file(path) == (client_id, secret, schema) and schema == "paircert"
    path.write_text('{"client_id": "x"}')
    with pytest.raises(ValueError, match="expected"):
        client_file(path)


# -- Tuya's own client against `paircert cloud serve --openapi-client-file`, with an emulated camera -----------------


class OpenApiServedCloud(ServedCloud):
    """`paircert cloud serve` whose banner names the OpenAPI too."""

    def on_line(self, line: str) -> None:
        super().on_line(line)
        match = re.match(r"OpenAPI\s+(\S+)\s+client_id\s+(\S+)", line)
        if match:
            self.urls["OpenAPI"], self.urls["client_id"] = match.group(1), match.group(2)


def eventually(predicate: Callable[[], Any], timeout_s: float = 20.0) -> Any:
    """``predicate()``'s first truthy value within ``timeout_s`` of real time (polled, bounded)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(0.05)


def device_status(device: ServedDevice) -> dict[str, Any]:
    status, raw = post(device.control + "/status", method="GET")
    assert status == 200
    result: dict[str, Any] = json.loads(raw)
    return result


def test_tuya_connector_python_pairs_reads_and_commands_a_camera_through_the_served_openapi(tmp_path: Path) -> None:
    credentials, licences = tmp_path / "openapi.json", tmp_path / "licences.json"
    cloud = OpenApiServedCloud("--region", "EU", "--licences", "1", "--licences-out", str(licences),
                               "--openapi-client-file", str(credentials))
    try:
        project = json.loads(credentials.read_text())
        assert oct(credentials.stat().st_mode & 0o777) == "0o600" and cloud.urls["client_id"] == project["client_id"]
        assert project["secret"] not in "".join(cloud.lines), "the Access Secret is never printed"
        [row] = json.loads(licences.read_text())
        camera = ServedDevice(url_config=cloud.urls["url_config"], uuid=row["uuid"], auth_key=row["authKey"],
                              pid=row["pid"])
        try:
            _pair_and_command(cloud, camera, project, row["uuid"])
        finally:
            camera.stop()
    finally:
        cloud.stop()


def _pair_and_command(cloud: OpenApiServedCloud, camera: ServedDevice, project: dict[str, str], uuid: str) -> None:
    class Served:  # what AppClient needs of a cloud: the lab controls create the project's users and homes
        app_url = cloud.urls["app API"]

    lab = AppClient(Served, bearer=cloud.admin_key)  # type: ignore[arg-type]
    user = new_account(lab, Served, "vendor user")  # type: ignore[arg-type]
    owner = user.account
    home = user.ok("POST", "/homes", {"name": "bench"})["home"]
    api = TuyaOpenAPI(cloud.urls["OpenAPI"], project["client_id"], project["secret"])
    assert api.connect()["success"]
    answer = api.post("/v1.0/device/paring/token", {"uid": owner, "home_id": home, "paring_type": "EZ",
                                                    "time_zone_id": "Europe/Berlin"})
    assert answer["success"], answer
    grant = oa.PairingTokenResult.from_result(answer["result"])
    qr = render_qr(QrPayload("lab-wifi", "lab-password", grant.pairing_token).to_text())
    png = _png(qr)
    status, scanned = post(camera.control + "/qr", png, headers={"Content-Type": "image/png"})
    assert status == 200 and json.loads(scanned)["outcome"] == "captured", scanned

    def paired() -> str | None:
        listed = api.get(f"/v1.0/device/paring/tokens/{grant.token}")
        success = listed["result"]["success"] if listed["success"] else []
        return str(success[0]["device_id"]) if success else None

    dev_id = eventually(paired)
    assert dev_id, "the camera never showed in the token's success list"
    assert eventually(lambda: api.get(f"/v1.0/devices/{dev_id}")["result"]["online"]), "never online"
    detail = api.get(f"/v1.0/devices/{dev_id}")["result"]
    assert (detail["owner_id"], detail["uid"], detail["uuid"]) == (home, owner, uuid)
    status_codes = eventually(lambda: {s["code"] for s in api.get(f"/v1.0/devices/{dev_id}/status")["result"]})
    assert status_codes, "no DP status"
    sent = api.post(f"/v1.0/devices/{dev_id}/commands", {"commands": [{"code": "switch", "value": True}]})
    assert sent == {**sent, "success": True, "result": True}, sent
    assert eventually(lambda: device_status(camera)["dps"].get("1") is True), "the command never reached the camera"
    assert eventually(lambda: any(s == {"code": "switch", "value": True}
                                  for s in api.get(f"/v1.0/devices/{dev_id}/status")["result"]))


def _png(image: Any) -> bytes:
    import io

    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
