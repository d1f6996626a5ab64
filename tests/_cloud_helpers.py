"""A device-side ATOP client built from the protocol codecs, for the emulated cloud's tests."""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from harness.emulator.cloud import EmulatedCloud, LicenceRecord
from harness.protocol.atop import (
    API_ACTIVE_V44,
    API_OPENSDK_ACTIVE,
    API_RESET,
    ActivationRequest,
    AtopRequest,
    AtopResponse,
    build_request,
    decode_response,
)

OPTIONS = '{"otaChannel":0,"isFK":true}'


def activation_body(token: str, pid: str, *, t: int, hid: str | None = "a1b2c3d4e5f6") -> bytes:
    req = ActivationRequest(token=token, soft_ver="1.0.0", product_key=pid, protocol_ver="2.3", baseline_ver="40.07",
                            options=OPTIONS, cad_ver="1.0.3", cd_ver="1.0.0", t=t, dev_attribute=2048, hid=hid)
    return req.to_json().encode()


def build_activation(uuid: str, auth_key: str, pid: str, token: str, *, et: int = 1, t: int = 1_700_000_000,
                     hid: str | None = "a1b2c3d4e5f6", body: bytes | None = None) -> tuple[str, bytes]:
    api, version = API_ACTIVE_V44 if et == 1 else API_OPENSDK_ACTIVE
    req = AtopRequest(api=api, version=version, et=et, t=t, uuid=uuid, dev_id=None,
                      body=body if body is not None else activation_body(token, pid, t=t, hid=hid))
    return build_request(req, auth_key, nonce=os.urandom(12) if et == 3 else None)


def build_reset(dev_id: str, sec_key: str, *, et: int = 1, t: int = 1_700_000_000,
                body: dict[str, Any] | None = None) -> tuple[str, bytes]:
    req = AtopRequest(api=API_RESET[0], version=API_RESET[1], et=et, t=t, uuid=None, dev_id=dev_id,
                      body=json.dumps(body or {"t": t}).encode())
    return build_request(req, sec_key, nonce=os.urandom(12) if et == 3 else None)


def post(url: str, body: bytes = b"", *, method: str = "POST", headers: dict[str, str] | None = None,
         timeout: float = 10.0, context: ssl.SSLContext | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body if method not in ("GET", "HEAD") else None, method=method,
                                     headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def post_atop(cloud: EmulatedCloud, query: str, body: bytes) -> bytes:
    tls = getattr(cloud, "client_tls_context", None)  # a served cloud's stand-in has none: plain HTTP
    status, raw = post(f"{cloud.atop_url}?{query}", body, context=tls() if tls is not None else None,
                       headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"})
    assert status == 200, raw
    return raw


def activate(cloud: EmulatedCloud, lic: LicenceRecord, token: str, *, et: int = 1, hid: str | None = "a1b2c3d4e5f6",
             pid: str | None = None) -> AtopResponse:
    query, body = build_activation(lic.uuid, lic.auth_key, pid or lic.pid, token, et=et, hid=hid)
    return decode_response(post_atop(cloud, query, body), lic.auth_key, et)


class AppClient:
    """The app API over HTTP, as a test's account: with its bearer token (or the admin key), or on an open lab
    naming the account in X-Paircert-Account."""

    def __init__(self, cloud: EmulatedCloud, account: str | None = None, *, bearer: str | None = None) -> None:
        self.base = cloud.app_url
        self.account = account
        self.bearer = bearer

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        headers = {"Content-Type": "application/json"}
        if self.bearer:
            headers["Authorization"] = f"Bearer {self.bearer}"
        elif self.account:
            headers["X-Paircert-Account"] = self.account
        status, raw = post(self.base + path, json.dumps(body).encode() if body is not None else b"", method=method,
                           headers=headers)
        return status, json.loads(raw)

    def ok(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        status, answer = self.call(method, path, body)
        assert answer["success"] is True and status < 300, (status, answer)
        return answer["result"]


PASSWORD = "correct horse battery"


def login(cloud: EmulatedCloud, account: str, password: str = PASSWORD) -> AppClient:
    """The app API as ``account``, logged in with its password."""
    token = AppClient(cloud).ok("POST", "/login", {"account": account, "password": password})["token"]
    return AppClient(cloud, account, bearer=token)


def new_account(lab: AppClient, cloud: EmulatedCloud, name: str, password: str = PASSWORD) -> AppClient:
    """An account created through the lab controls (``lab`` holds the admin key), logged in."""
    account = lab.ok("POST", "/accounts", {"name": name, "password": password})["account"]
    return login(cloud, account, password)


@dataclass
class World:
    """A product, a licence, an owner with a home: the common start of a test."""

    cloud: EmulatedCloud
    pid: str
    owner: str
    home: str

    def licence(self) -> LicenceRecord:
        return self.cloud.app.issue_licence(self.pid)

    def token(self, account: str | None = None, home: str | None = None) -> str:
        return self.cloud.app.get_token(account or self.owner, home or self.home).token


def make_world(cloud: EmulatedCloud, *, category: str = "sp", mode: str | None = None) -> World:
    product = cloud.app.create_product(name="test product", category=category, binding_mode=mode)
    owner = cloud.app.create_account("owner")
    home = cloud.app.create_home(owner, "home")
    return World(cloud, product.pid, owner, home)
