"""Packet evidence of failing tests, from outside: one run of a small suite on the emulated world (camera-strong
with a sentinel Wi-Fi password) in a subprocess, whose failing test paired in EZ, AP legacy and AP LPV3.5 mode.

The failing test's evidence holds ``traffic-air.pcap`` (the in-memory air) and, as root, ``traffic-lo.pcap`` (the
loopback HTTP, MQTT and AP exchanges); scapy reads both, the pairing frames dissect, every UDP and TCP checksum
holds, and no secret of the run (the Wi-Fi password, AuthKeys, secKeys, localKeys, MQTT passwords) is in any byte
of them, in any spelling. The passing test gets no pcap.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.packet import Packet
from scapy.utils import rdpcap

from harness.evidence import EvidenceRecorder
from harness.net.layers import EzAddress, EzLength, TuyaAp55AA, TuyaLpv35
from harness.plugin.pcap import TrafficEvidence, TrafficMark
from harness.protocol import apconfig
from harness.redaction import Redactor

ROOT = Path(__file__).resolve().parent.parent
PAIRCERT_ENV = ("PAIRCERT_PROFILE", "PAIRCERT_CLOUD", "PAIRCERT_DEVICE", "PAIRCERT_NETWORK", "PAIRCERT_REPORT_DIR",
                "PAIRCERT_EVIDENCE_DIR", "PAIRCERT_SEED", "PAIRCERT_PCAP")

WIFI_PASSWORD = 'SENTINEL"wifi\\pw-7f3a'  # a quote and a backslash: JSON escapes it on the AP frames
MQTT_SENTINEL = "SENTINEL-learned-90ab12"

SUITE = f'''
import json
import os

import pytest

from harness.app.activator import Activator, ActivatorMode, ApOptions, pair
from harness.protocol.mqtt import device_credentials, preactivation_credentials
from harness.redaction import learn


def secrets_of(cloud, devices):
    state = cloud.emulated_cloud.state
    found = [d.licence.auth_key for d in devices]
    found += [preactivation_credentials(d.licence.uuid, d.licence.auth_key).password for d in devices]
    for record in state.devices.values():
        found += [record.sec_key, record.local_key, device_credentials(record.dev_id, record.sec_key).password]
    return [s for s in found if s]


@pytest.mark.tc("TC-TOKEN-001", reqs=["REQ-TOKEN-004"])
def test_pairs_in_every_mode_then_fails(lab, device, cloud):
    learn("{MQTT_SENTINEL}")
    assert lab.pair("ez").ok
    legacy = lab.new_device()
    assert lab.pair("ap", device=legacy).ok
    sealed = lab.new_device()
    account = lab.default_account
    activator = Activator(cloud, account=account, device=sealed, network=lab.network, ap=ApOptions(variant="lpv35"))
    token = activator.get_token(lab.default_home(account))
    wifi = lab.default_wifi
    assert pair(activator, ActivatorMode.AP, wifi.ssid, wifi.password, token, timeout=100, real_timeout_s=30).ok
    with open(os.environ["PC_SECRETS_OUT"], "w") as out:
        json.dump(secrets_of(cloud, [device, legacy, sealed]), out)
    assert False, "the device kept the token"


@pytest.mark.tc("TC-TOKEN-002", reqs=["REQ-TOKEN-004"])
def test_passes(lab):
    assert lab.pair("ez").ok
'''


def _profile() -> str:
    text = (ROOT / "profiles" / "camera-strong.toml").read_text(encoding="utf-8")
    wifi = '[parameters.wifi]\nssid = "lab-net"\npassword = "env:PC_TEST_WIFI"\n\n'
    # plain HTTP and MQTT, whose secrets the masking must find in the frames (over TLS there is only ciphertext)
    assert "tls = true" in text
    return text.replace("[adapters]", wifi + "[adapters]").replace("tls = true", "tls = false")


class Run:
    def __init__(self, root: Path, result: subprocess.CompletedProcess[str]) -> None:
        self.root = root
        self.result = result
        self.evidence = root / "reports" / "evidence"
        self.failing = self.evidence / "TC-TOKEN-001"
        self.passing = self.evidence / "TC-TOKEN-002"
        self.secrets = [WIFI_PASSWORD, MQTT_SENTINEL, *json.loads((root / "secrets.json").read_text())]

    def timeline(self) -> list[dict[str, Any]]:
        return list(json.loads((self.failing / "timeline.json").read_text(encoding="utf-8")))

    def attachment(self, name: str) -> dict[str, Any]:
        entries = [e for e in self.timeline() if e["kind"] == "attachment" and e["name"] == name]
        assert len(entries) == 1, f"{name} is not listed once in the timeline"
        return dict(entries[0]["details"])


def _own_loopback(command: list[str]) -> list[str]:
    """As root, ``command`` in a network namespace of its own (its loopback brought up): the loopback ring then
    holds this run's frames only, not those of whatever else the machine's loopback carries meanwhile (a load test
    beside it filled the ring and the kernel's buffer, and this run's AP frames were lost)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
        return command
    return ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *command]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    root = tmp_path_factory.mktemp("pcap-run")
    (root / "cam.toml").write_text(_profile(), encoding="utf-8")
    (root / "pytest.ini").write_text("[pytest]\npaircert_suites = .\n", encoding="utf-8")
    (root / "test_suite.py").write_text(SUITE, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in PAIRCERT_ENV}
    env.update({"PC_TEST_WIFI": WIFI_PASSWORD, "PC_SECRETS_OUT": str(root / "secrets.json"),
                "PYTHONPATH": str(ROOT)})
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--paircert-profile", "cam.toml",
               "--paircert-report-dir", "reports", "-q"]
    # 100 s: less than the 120 s pytest timeout around the setup
    result = subprocess.run(_own_loopback(command), cwd=root, env=env, capture_output=True, text=True, timeout=100,
                            check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "PASS 1  FAIL 1" in result.stdout, result.stdout
    yield Run(root, result)


def _spellings(secret: str) -> set[bytes]:
    raw = secret.encode()
    return {raw, raw.hex().encode(), raw.hex().upper().encode(), json.dumps(secret)[1:-1].encode(),
            base64.b64encode(raw)}


def _assert_no_secret(path: Path, secrets: list[str]) -> None:
    data = path.read_bytes()
    for secret in secrets:
        for spelling in _spellings(secret):
            assert spelling not in data, f"{secret!r} ({spelling!r}) is in {path.name}"


def _assert_checksums_hold(packets: list[Packet]) -> None:
    for n, packet in enumerate(packets):
        for layer in (IP, UDP, TCP):
            if layer in packet:
                again = packet.copy()
                del again[layer].chksum
                rebuilt = again.__class__(bytes(again))
                assert rebuilt[layer].chksum == packet[layer].chksum, f"packet {n}: wrong {layer.__name__} checksum"


def test_the_passing_test_gets_no_pcap(run: Run) -> None:
    assert (run.passing / "timeline.json").exists()
    assert not list(run.passing.glob("*.pcap"))


def test_the_failing_test_has_the_air_as_a_pcap_that_dissects_without_secrets(run: Run) -> None:
    path = run.failing / "traffic-air.pcap"
    packets = rdpcap(str(path))
    details = run.attachment("traffic-air.pcap")
    assert details["type"] == "application/vnd.tcpdump.pcap" and details["packets"] == len(packets) > 0
    assert any("password masked" in note for note in details["masking"])
    assert any(EzLength in p for p in packets) and any(EzAddress in p for p in packets)
    _assert_checksums_hold(packets)
    _assert_no_secret(path, run.secrets)
    assert len(run.secrets) >= 8  # the Wi-Fi password, 3 AuthKeys and their MQTT passwords, the cloud's keys


@pytest.mark.skipif(os.geteuid() != 0, reason="capturing loopback needs root (CAP_NET_RAW); the timeline then "
                                                "notes why there is no traffic-lo.pcap")
def test_the_failing_test_has_its_loopback_exchanges_as_a_pcap_that_dissects_without_secrets(run: Run) -> None:
    path = run.failing / "traffic-lo.pcap"
    packets = rdpcap(str(path))
    details = run.attachment("traffic-lo.pcap")
    assert details["packets"] == len(packets) > 0
    legacy = [p[TuyaAp55AA] for p in packets if TuyaAp55AA in p]
    assert legacy, "no 55AA frame dissects"
    frames = [f.frame() for f in legacy]  # every CRC-32 holds
    configs = [apconfig.parse_ap_config_payload(f.payload) for f in frames if f.payload.startswith(b"{")]
    assert configs and all(c.ssid == "lab-net" and set(c.password) == {"*"} for c in configs)
    escaped = json.dumps(WIFI_PASSWORD)[1:-1]  # as the frame carries it: the mask keeps the length on the wire
    assert all(len(c.password) == len(escaped) for c in configs)
    sealed = [p[TuyaLpv35].open() for p in packets if TuyaLpv35 in p]
    assert sealed, "no 6699 frame dissects"
    request = next(f for f in sealed if f.type == apconfig.Lpv35Type.AP_CFG_WF_V40 and f.data.startswith(b"{"))
    assert set(apconfig.parse_ap_cfg_request(request.data).password) == {"*"}
    payloads = [(p[TCP].dport, bytes(p[TCP].payload)) for p in packets if TCP in p]
    # on the standard ports, so that they dissect without "Decode As": HTTP 80, MQTT 1883 (the cloud's are random)
    assert any(port == 80 and b.startswith(b"POST /d.json") for port, b in payloads), "no ATOP request on port 80"
    assert any(port == 1883 and b[:1] == b"\x10" and b"MQTT" in b[:16] for port, b in payloads), \
        "no MQTT CONNECT on port 1883"
    _assert_checksums_hold(packets)
    _assert_no_secret(path, run.secrets)
    assert {"udp 6669", "tcp 6668", "tcp 80", "tcp 1883"} <= {f"{k.split()[0]} {v}"
                                                               for k, v in details["ports_renamed"].items()}


def test_no_loopback_capture_is_noted_with_the_reason(tmp_path: Path) -> None:
    traffic = TrafficEvidence(Redactor(), mode="air")
    recorder = EvidenceRecorder("TC-X-001", "x")

    class World:
        network = None
        cloud = None

    assert traffic.write(World(), TrafficMark(0.0, 0), recorder, tmp_path) == []  # type: ignore[arg-type]
    notes = [e for e in recorder.timeline if e.name == "no loopback capture"]
    assert notes and notes[0].details["reason"] == "PAIRCERT_PCAP=air"
    assert not list(tmp_path.iterdir())
    assert TrafficEvidence(Redactor(), mode="off").begin(None) is None
