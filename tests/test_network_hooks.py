"""The ``hooks`` network adapter: the lab's shell hooks make and remove the networks a test needs, with the SSID as hex
and text and the password only in the environment; and ``paircert device serve``'s ``/networks`` routes, which such
hooks drive on a bench of emulated cameras."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_device_cli import ROOT, call

from harness.adapters.contracts import AdapterError, CannotMakeNetwork, NetworkCapability, Security
from harness.adapters.hooks_network import PASSWORD_ENV, hooks_network, ssid_environment
from harness.adapters.registry import WorldContext
from harness.clock import SystemClock
from harness.emulator.cloud import EmulatedCloud
from harness.profiles import parse_profile
from harness.protocol.qr import QrPayload
from harness.qrimage import render_qr

PASSWORD = "s3cret-hook-pass"


def _profile(network_args: dict[str, Any] | None = None) -> Any:
    return parse_profile({
        "device": {"name": "cam", "kind": "camera", "pid": "p" * 16, "firmware": "1.0"},
        "capabilities": {"pairing_modes": ["qr"], "binding_mode": "strong", "mqtt_protocol_version": "2.2",
                         "activation_api": "tuya.device.active"},
        "parameters": {"wifi": {"ssid": "lab-net", "password": "env:LAB_WIFI_SECRET"}},
        "adapters": {"network": {"name": "hooks", "args": network_args or {"add_access_point": "true"}}},
    }, source="test.toml")


def _recorder(tmp_path: Path) -> str:
    """A hook that appends its action, environment (the PAIRCERT_ ones and a profile secret's) and argv to a file."""
    log = tmp_path / "hook.log"
    script = tmp_path / "hook.py"
    script.write_text(f"""import json, os, sys
keys = [k for k in os.environ if k.startswith(("PAIRCERT_", "LAB_", "CAMERA"))]
with open({str(log)!r}, "a") as out:
    out.write(json.dumps({{"argv": sys.argv, "env": {{k: os.environ[k] for k in keys}}}}) + "\\n")
print("hook says", os.environ.get({PASSWORD_ENV!r}, "no password"))
sys.exit(int(os.environ.get("HOOK_EXIT", "0")))
""", encoding="utf-8")
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"


def _calls(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "hook.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("LAB_WIFI_SECRET", "lab-wifi-secret-1")
    hook = _recorder(tmp_path)
    args = {"add_access_point": {"command": hook, "timeout_s": 10}, "remove_access_point": hook,
            "hook_env": {"CAMERA": "http://bench"}}
    adapter = hooks_network(WorldContext(_profile(args), SystemClock(), seed=1), **args)
    yield adapter
    adapter.close()


def test_a_hook_gets_the_ssid_as_hex_and_text_and_the_password_only_in_its_environment(network: Any,
                                                                                        tmp_path: Path) -> None:
    ssid = "café \"net\"".encode()
    network.add_access_point(ssid, PASSWORD.encode())
    [call_] = _calls(tmp_path)
    env = call_["env"]
    assert env["PAIRCERT_ACTION"] == "add-access-point" and env["PAIRCERT_SSID_HEX"] == ssid.hex()
    assert env["PAIRCERT_SSID"] == ssid.decode() and env["PAIRCERT_AP_SECURITY"] == "wpa2-psk"
    assert env[PASSWORD_ENV] == PASSWORD and env["CAMERA"] == "http://bench"
    assert "LAB_WIFI_SECRET" not in env  # a secret the profile names never reaches a hook
    assert not any(PASSWORD in arg for arg in call_["argv"])  # never on a command line
    assert [ap.ssid for ap in network.access_points()] == [ssid]
    assert network.access_points()[0].security is Security.WPA2_PSK
    assert PASSWORD not in json.dumps(network.info())


def test_what_a_hook_prints_is_redacted(network: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    network.add_access_point(b"net", PASSWORD.encode())
    assert "hook says" in caplog.text and PASSWORD not in caplog.text


def test_an_open_network_gets_no_password_and_removal_runs_the_remove_hook(network: Any, tmp_path: Path) -> None:
    network.add_access_point(b"open-net", b"")
    network.remove_access_point(b"open-net")
    add, remove = _calls(tmp_path)
    assert add["env"]["PAIRCERT_AP_SECURITY"] == "open" and PASSWORD_ENV not in add["env"]
    assert remove["env"]["PAIRCERT_ACTION"] == "remove-access-point"
    assert remove["env"]["PAIRCERT_SSID_HEX"] == b"open-net".hex() and PASSWORD_ENV not in remove["env"]
    assert network.access_points() == []


def test_bytes_that_are_not_text_travel_as_hex_only() -> None:
    assert ssid_environment(b"\xff\x00a") == {"PAIRCERT_SSID_HEX": "ff0061"}
    assert ssid_environment(b"a\x00b") == {"PAIRCERT_SSID_HEX": "610062"}


def test_a_failing_hook_is_the_labs_error(network: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_EXIT", "3")
    network.runner.env["HOOK_EXIT"] = "3"
    with pytest.raises(AdapterError, match="exited with status 3") as failed:
        network.add_access_point(b"net", PASSWORD.encode())
    assert PASSWORD not in str(failed.value)
    assert network.access_points() == []


def test_a_hook_that_hangs_is_cut_at_its_timeout(tmp_path: Path) -> None:
    args = {"add_access_point": {"command": "sleep 30", "timeout_s": 0.5}}
    adapter = hooks_network(WorldContext(_profile(args), SystemClock(), seed=1), **args)
    try:
        with pytest.raises(AdapterError, match=r"timed out after 0\.5 s"):
            adapter.add_access_point(b"net", PASSWORD.encode())
    finally:
        adapter.close()


def test_a_network_outside_the_declared_capability_is_never_attempted(tmp_path: Path) -> None:
    hook = _recorder(tmp_path)
    args = {"add_access_point": hook, "non_ascii": False, "securities": ["wpa2-psk"], "max_networks": 1}
    adapter = hooks_network(WorldContext(_profile(args), SystemClock(), seed=1), **args)
    try:
        with pytest.raises(CannotMakeNetwork, match="non-ASCII"):
            adapter.add_access_point("é".encode(), PASSWORD.encode())
        with pytest.raises(CannotMakeNetwork, match="open"):
            adapter.add_access_point(b"open", b"")
        assert _calls(tmp_path) == []
        adapter.add_access_point(b"one", PASSWORD.encode())
        adapter.add_access_point(b"two", PASSWORD.encode())  # one network at a time: it replaces the first
        assert [ap.ssid for ap in adapter.access_points()] == [b"two"]
        assert NetworkCapability.SEND_EZ.value not in adapter.capabilities  # no interface: no EZ
    finally:
        adapter.close()


def test_closing_removes_every_network_still_up(network: Any, tmp_path: Path) -> None:
    network.add_access_point(b"a-net", PASSWORD.encode())
    network.add_access_point(b"b-net", b"")
    network.close()
    removed = [c["env"]["PAIRCERT_SSID_HEX"] for c in _calls(tmp_path)
               if c["env"]["PAIRCERT_ACTION"] == "remove-access-point"]
    assert sorted(removed) == sorted([b"a-net".hex(), b"b-net".hex()])


def test_bad_declarations_are_refused() -> None:
    for bad in ({"ssid_max_bytes": 40}, {"securities": ["wep"]}, {"non_ascii": "yes"}, {"settle_s": -1}):
        args = {"add_access_point": "true", **bad}
        with pytest.raises(AdapterError):
            hooks_network(WorldContext(_profile(args), SystemClock(), seed=1), **args)


# -- paircert device serve's /networks, driven by the hooks adapter --------------------------------------------

ADD = ('printf %s "$PAIRCERT_AP_PASSWORD" | curl -fsS --max-time 4 --data-binary @- '
       '"$CAMERA/networks?ssid_hex=$PAIRCERT_SSID_HEX&security=$PAIRCERT_AP_SECURITY"')
REMOVE = 'curl -fsS --max-time 4 -X DELETE "$CAMERA/networks?ssid_hex=$PAIRCERT_SSID_HEX"'


@pytest.fixture
def bench() -> Iterator[tuple[str, EmulatedCloud, str, str]]:
    """A served camera started with no --wifi, on an emulated cloud."""
    with EmulatedCloud() as cloud:
        product = cloud.app.create_product(name="cam", category="sp")
        licence = cloud.app.issue_licence(product.pid)
        owner = cloud.app.create_account("alice")
        home = cloud.app.create_home(owner, "flat")
        env = {**os.environ, "PAIRCERT_DEVICE_UUID": licence.uuid, "PAIRCERT_DEVICE_AUTH_KEY": licence.auth_key}
        proc = subprocess.Popen(
            [sys.executable, "-c", "from harness.cli import main; main()", "device", "serve",
             "--url-config", f"{cloud.http_url}/v2/url_config", "--pid", product.pid],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            assert "control http://127.0.0.1:" in first, first
            yield first.rsplit(" ", 1)[1].strip(), cloud, owner, home
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def test_the_served_camera_joins_exactly_the_networks_the_hooks_made(
        bench: tuple[str, EmulatedCloud, str, str], tmp_path: Path) -> None:
    control, cloud, owner, home = bench
    args = {"add_access_point": ADD, "remove_access_point": REMOVE, "hook_env": {"CAMERA": control}}
    network = hooks_network(WorldContext(_profile(args), SystemClock(), seed=1), **args)
    ssid = "カメラ \"ネット\" ü/\\"
    try:
        network.add_access_point(ssid.encode(), PASSWORD.encode())
        network.add_access_point(b"guest", b"")
        status, listed = call(f"{control}/networks")
        assert status == 200 and {(n["ssid"], n["security"]) for n in listed} == {(ssid, "wpa2-psk"),
                                                                                 ("guest", "open")}
        assert PASSWORD not in json.dumps(listed)
        # a network nobody made does not exist any more: the camera is refused and stays unbound
        token = cloud.app.get_token(owner, home).pairing_token
        render_qr(QrPayload("not-made", PASSWORD, token).to_bytes()).save(tmp_path / "no.png")
        call(f"{control}/qr", "POST", json.dumps({"path": str(tmp_path / "no.png")}).encode())
        status, body = call(f"{control}/wait?state=online&timeout=3")
        assert status == 408 and body["state"] != "online"
        call(f"{control}/factory-reset", "POST")
        call(f"{control}/wait?state=pairing&timeout=10")
        token = cloud.app.get_token(owner, home).pairing_token
        render_qr(QrPayload(ssid, PASSWORD, token).to_bytes()).save(tmp_path / "yes.png")
        status, scan = call(f"{control}/qr", "POST", json.dumps({"path": str(tmp_path / "yes.png")}).encode())
        assert status == 200 and scan["outcome"] == "captured"
        status, body = call(f"{control}/wait?state=online&timeout=15")
        assert status == 200 and body["state"] == "online"
        network.remove_access_point(b"guest")
        assert [n["ssid"] for n in call(f"{control}/networks")[1]] == [ssid]
    finally:
        network.close()
    assert call(f"{control}/networks") == (200, [])


def test_bad_network_requests_are_answered(bench: tuple[str, EmulatedCloud, str, str]) -> None:
    control = bench[0]
    assert call(f"{control}/networks?ssid_hex=zz", "POST", b"password1")[0] == 400
    assert call(f"{control}/networks?ssid_hex={'61' * 33}", "POST", b"password1")[0] == 400
    assert call(f"{control}/networks?ssid_hex=6161&security=wep", "POST", b"password1")[0] == 400
    assert call(f"{control}/networks?ssid_hex=6161&security=open", "POST", b"password1")[0] == 400
    assert call(f"{control}/networks?ssid_hex=6161", "POST", b"")[0] == 400
    assert call(f"{control}/networks?ssid_hex=6161", "DELETE") == (200, {"removed": False, "ssid_hex": "6161"})


def test_the_preflight_names_a_network_hook_that_cannot_run_and_a_missing_one() -> None:
    from harness.adapters.preflight import preflight
    from harness.profiles import ProfileError

    profile = _profile({"add_access_point": "no-such-ap-tool add", "remove_access_point": "true",
                        "non_ascii": False, "settle_s": 1})
    with pytest.raises(ProfileError) as found:
        preflight(profile, environ={"LAB_WIFI_SECRET": "x" * 10})
    assert "adapters.network.args.add_access_point" in str(found.value)
    assert "no-such-ap-tool is not a program on PATH" in str(found.value)
    with pytest.raises(ProfileError, match=r"adapters\.network\.args\.non_asci.*did you mean 'non_ascii'"):
        preflight(_profile({"add_access_point": "true", "non_asci": False}), environ={"LAB_WIFI_SECRET": "x" * 10})
    with pytest.raises(ProfileError, match=r"args\.add_access_point: expected the hook that makes an access point"):
        _profile({"remove_access_point": "true"})
