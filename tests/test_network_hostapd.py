"""The ``hostapd`` network adapter against a fake hostapd and hostapd_cli on PATH (tests/fakes/): the configuration it
writes, the start/reload/stop sequence, the wait for beaconing through the control socket, timeouts and errors, and
the password's path (the 0600 configuration file only, removed at the end). Then, where the machine has a Wi-Fi
interface that can be an access point, the real hostapd on it."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.adapters.contracts import AdapterError, CannotMakeNetwork, NetworkCapability, Security
from harness.adapters.hostapd import HostapdNetworkAdapter, hostapd_config, printf_encode

FAKES = Path(__file__).resolve().parent / "fakes"
PASSWORD = "hostapd-secret-9"
IFACE = "wlfake0"


@pytest.fixture
def fake_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """hostapd and hostapd_cli on PATH are the fakes; what they did goes to the returned log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, script in (("hostapd", "fake_hostapd.py"), ("hostapd_cli", "fake_hostapd_cli.py")):
        wrapper = bin_dir / name
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKES / script}" "$@"\n', encoding="utf-8")
        wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    log = tmp_path / "hostapd.log"
    monkeypatch.setenv("FAKE_HOSTAPD_LOG", str(log))
    return log


def events(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []


@pytest.fixture
def adapter(fake_log: Path) -> Iterator[HostapdNetworkAdapter]:
    made = HostapdNetworkAdapter(IFACE, start_timeout_s=5, channel=11)
    yield made
    made.close()


def test_the_configuration_carries_any_ssid_bytes_in_hex_and_each_security() -> None:
    common = {"interface": "wlan1", "channel": 6, "ctrl_interface": "/run/x"}
    ssid = 'café "1"'.encode()
    wpa2 = hostapd_config(ssid=ssid, password=b"pass word 1", security=Security.WPA2_PSK, **common)
    assert f"ssid2={ssid.hex()}\n" in wpa2 and "utf8_ssid=1\n" in wpa2
    assert "wpa=2\nwpa_key_mgmt=WPA-PSK\nrsn_pairwise=CCMP\nwpa_passphrase=pass word 1\n" in wpa2
    assert "hw_mode=g\nchannel=6\n" in wpa2 and "interface=wlan1\n" in wpa2 and "ctrl_interface=/run/x\n" in wpa2
    hex_key = hostapd_config(ssid=b"n", password=b"ab" * 32, security=Security.WPA2_PSK, **common)
    assert f"wpa_psk={'ab' * 32}\n" in hex_key and "wpa_passphrase" not in hex_key
    sae = hostapd_config(ssid=b"\xff\x00net", password=b"sae-secret", security=Security.WPA3_SAE,
                         **{**common, "channel": 36})
    assert "ssid2=ff006e6574\n" in sae and "utf8_ssid" not in sae and "hw_mode=a\nchannel=36\n" in sae
    assert "wpa_key_mgmt=SAE\n" in sae and "ieee80211w=2\n" in sae and "sae_password=sae-secret\n" in sae
    open_ = hostapd_config(ssid=b"guest", password=b"", security=Security.OPEN, **common)
    assert "wpa" not in open_ and "password" not in open_
    with pytest.raises(CannotMakeNetwork, match="line break"):
        hostapd_config(ssid=b"n", password=b"two\nlines", security=Security.WPA2_PSK, **common)
    with pytest.raises(CannotMakeNetwork, match=r"'\|'"):
        hostapd_config(ssid=b"n", password=b"a|mac=x", security=Security.WPA3_SAE, **common)


def test_printf_encode_is_hostapds() -> None:
    assert printf_encode(b'a "b"\\\x1b\n\r\t\x00\xff~') == 'a \\"b\\"\\\\\\e\\n\\r\\t\\x00\\xff~'


def test_a_network_is_up_once_hostapd_beacons_with_it_and_the_password_is_only_in_the_0600_file(
        adapter: HostapdNetworkAdapter, fake_log: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    ssid = "カメラ 📶".encode()
    adapter.add_access_point(ssid, PASSWORD.encode())
    assert adapter.status() == {**adapter.status(), "state": "ENABLED", "ssid[0]": printf_encode(ssid)}
    [start, read] = [e for e in events(fake_log) if e["event"] in ("start", "read-config")]
    assert read["mode"] == "0o600" and f"ssid2={ssid.hex()}\n" in read["config"]
    assert f"wpa_passphrase={PASSWORD}\n" in read["config"] and "channel=11\n" in read["config"]
    assert not any(PASSWORD in arg for arg in start["argv"])  # never on a command line
    assert oct(adapter.config_path.stat().st_mode & 0o777) == "0o600"
    assert oct(adapter.directory.stat().st_mode & 0o777) == "0o700"
    assert [(ap.ssid, ap.security) for ap in adapter.access_points()] == [(ssid, Security.WPA2_PSK)]
    assert PASSWORD not in json.dumps(adapter.info()) and PASSWORD not in caplog.text
    assert NetworkCapability.CREATE_NETWORKS.value in adapter.capabilities


def test_another_network_reloads_hostapd_and_removal_stops_it(adapter: HostapdNetworkAdapter,
                                                              fake_log: Path) -> None:
    adapter.add_access_point(b"first-net", PASSWORD.encode())
    adapter.add_access_point(b"first-net", PASSWORD.encode())  # the same network: nothing to do
    adapter.add_access_point(b"second-net", b"", Security.OPEN)
    assert [ap.ssid for ap in adapter.access_points()] == [b"second-net"]  # one network at a time
    assert adapter.status() is not None and adapter.status()["ssid[0]"] == "second-net"  # type: ignore[index]
    adapter.remove_access_point(b"second-net")
    sequence = [e["event"] for e in events(fake_log) if e["event"] != "command"]
    assert sequence == ["start", "read-config", "sighup", "read-config", "cli", "exit"], sequence
    second = [e for e in events(fake_log) if e["event"] == "read-config"][1]["config"]
    assert f"ssid2={b'second-net'.hex()}\n" in second and "wpa" not in second and PASSWORD not in second
    [cli] = [e for e in events(fake_log) if e["event"] == "cli"]
    assert cli["argv"] == ["-p", str(adapter.ctrl_dir), "-i", IFACE, "terminate"]
    assert not adapter.config_path.exists() and adapter.access_points() == []
    adapter.add_access_point(b"third-net", PASSWORD.encode())  # started anew
    assert [e["event"] for e in events(fake_log)].count("start") == 2


def test_closing_stops_hostapd_and_removes_its_directory(fake_log: Path) -> None:
    adapter = HostapdNetworkAdapter(IFACE, start_timeout_s=5)
    adapter.add_access_point(b"net", PASSWORD.encode())
    proc = adapter._proc
    adapter.close()
    assert proc is not None and proc.poll() is not None
    assert not adapter.directory.exists() and events(fake_log)[-1]["event"] == "exit"


def test_hostapd_that_never_beacons_is_an_error_within_the_timeout(fake_log: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_HOSTAPD_MODE", "never-enable")
    adapter = HostapdNetworkAdapter(IFACE, start_timeout_s=1.0)
    try:
        with pytest.raises(AdapterError, match=r"did not beacon with the SSID 'net' within 1 s \(last status: "
                                               r"state=DISABLED"):
            adapter.add_access_point(b"net", PASSWORD.encode())
        assert adapter._proc is None and not adapter.config_path.exists() and adapter.access_points() == []
    finally:
        adapter.close()


def test_a_configuration_hostapd_refuses_is_an_error_with_what_it_said(fake_log: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_HOSTAPD_MODE", "bad-config")
    adapter = HostapdNetworkAdapter(IFACE, start_timeout_s=5)
    try:
        with pytest.raises(AdapterError, match=r"exited with status 1 .*unknown configuration item"):
            adapter.add_access_point(b"net", PASSWORD.encode())
        assert not adapter.config_path.exists()
    finally:
        adapter.close()


def test_hostapd_that_dies_on_reload_is_an_error(fake_log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_HOSTAPD_MODE", "exit-on-reload")
    adapter = HostapdNetworkAdapter(IFACE, start_timeout_s=5)
    try:
        adapter.add_access_point(b"one", PASSWORD.encode())
        with pytest.raises(AdapterError, match="exited with status 2"):
            adapter.add_access_point(b"two", PASSWORD.encode())
        assert adapter.access_points() == [] and not adapter.config_path.exists()
    finally:
        adapter.close()


def test_without_hostapd_the_error_says_what_to_install(tmp_path: Path) -> None:
    adapter = HostapdNetworkAdapter(IFACE, hostapd=str(tmp_path / "no-hostapd"), start_timeout_s=1)
    try:
        with pytest.raises(AdapterError, match=r"apt-get install hostapd"):
            adapter.add_access_point(b"net", PASSWORD.encode())
    finally:
        adapter.close()


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(AdapterError, match="channel"):
        HostapdNetworkAdapter(IFACE, channel=0)
    with pytest.raises(AdapterError, match="extra_config"):
        HostapdNetworkAdapter(IFACE, extra_config=["wpa_passphrase=x"])


# -- a real radio ------------------------------------------------------------------------------------------------


def _ap_interface() -> tuple[str | None, str]:
    """A Wi-Fi interface whose driver can be an access point, or why there is none here."""
    if shutil.which("hostapd") is None or shutil.which("hostapd_cli") is None:
        return None, "hostapd is not installed (apt-get install hostapd)"
    if shutil.which("iw") is None:
        return None, "iw is not installed (apt-get install iw)"
    if os.geteuid() != 0:
        return None, "hostapd needs root"
    wanted = os.environ.get("PAIRCERT_HOSTAPD_INTERFACE")
    interfaces = sorted(p.parent.name for p in Path("/sys/class/net").glob("*/phy80211"))
    if wanted:
        interfaces = [i for i in interfaces if i == wanted]
    for interface in interfaces:
        phy = (Path("/sys/class/net") / interface / "phy80211" / "name").read_text().strip()
        info = subprocess.run(["iw", "phy", phy, "info"], capture_output=True, text=True, timeout=10).stdout
        listed = itertools.takewhile(lambda line: line.strip().startswith("*"),
                                     info.partition("Supported interface modes:")[2].splitlines()[1:])
        if any(line.strip().removeprefix("*").strip() == "AP" for line in listed):
            return interface, ""
    return None, "no Wi-Fi interface that can be an access point on this machine" + (
        f" (PAIRCERT_HOSTAPD_INTERFACE={wanted})" if wanted else "")


def test_a_real_radio_beacons_the_network_made() -> None:
    interface, why = _ap_interface()
    if interface is None:
        pytest.skip(why)
    adapter = HostapdNetworkAdapter(interface, start_timeout_s=30)
    try:
        adapter.add_access_point("paircert-ü-test".encode(), PASSWORD.encode())
        status = adapter.status()
        assert status is not None and status["state"] == "ENABLED"
        shown = subprocess.run(["iw", "dev", interface, "info"], capture_output=True, text=True, timeout=10).stdout
        assert "type AP" in shown
    finally:
        adapter.close()


def test_the_readmes_hostapd_profile_builds_the_adapter_and_makes_a_network(fake_log: Path) -> None:
    """The README's ``[adapters.network]`` for hostapd, through the profile and the registry's factory (the fakes on
    PATH; the interface is the fake's, and the app side's traffic stays off it)."""
    import tomllib

    from harness.adapters.registry import WorldContext, resolve
    from harness.clock import SystemClock
    from harness.profiles import parse_profile

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = next(code for code in re.findall(r"```toml\n(.*?)```", readme, flags=re.S) if 'name = "hostapd"' in code)
    network = tomllib.loads(block)["adapters"]["network"]
    profile = parse_profile({
        "device": {"name": "cam", "kind": "camera", "pid": "p" * 16, "firmware": "1.0"},
        "capabilities": {"pairing_modes": ["qr"], "binding_mode": "strong", "mqtt_protocol_version": "2.2",
                         "activation_api": "tuya.device.active"},
        "adapters": {"network": {**network, "interface": IFACE}}}, source="readme.toml")
    args = {**profile.adapters.network.args, "interface": IFACE, "app_traffic": False}
    adapter = resolve("network", "hostapd")(WorldContext(profile, SystemClock(), seed=1), **args)
    try:
        adapter.add_access_point(b"readme-net", PASSWORD.encode(), Security.WPA3_SAE)
        config = [e for e in events(fake_log) if e["event"] == "read-config"][-1]["config"]
        assert "country_code=DE\n" in config and "bridge=br-lab\n" in config and "channel=6\n" in config
        assert "wpa_key_mgmt=SAE\n" in config and f"sae_password={PASSWORD}\n" in config
    finally:
        adapter.close()
