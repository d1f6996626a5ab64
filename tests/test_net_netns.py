"""EZ and AP pairing across a veth pair between two network namespaces, and nothing sent anywhere else.

Topology (made and removed by the module fixture; the veth pair touches no other interface):

    netns pcapp-<pid>                          netns pcdev-<pid>
    app side: python -m harness.net ...        emulated cloud on its own lo, emulated camera:
    pcA<pid> 10.231.0.1/24  <---- veth ---->   pcD<pid> 10.231.0.2/24, EZ sniffer, AP sockets on 10.231.0.2

Neither namespace has a default route, so the only place a datagram can go is the other end of the pair. A
sniffer on every interface of the default namespace checks that none of the traffic shows up there.
"""

from __future__ import annotations

import ipaddress
import json
import os
import selectors
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import IP, UDP
from scapy.packet import Packet
from scapy.utils import rdpcap

from harness.net.layers import EzAddress, EzLength, TuyaAp55AA, bind_ap_ports
from harness.net.sniff import PacketTap

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SUBNET = ipaddress.IPv4Network("10.231.0.0/24")
APP_IP, DEVICE_IP = "10.231.0.1", "10.231.0.2"
SMALL_EZ = ["--preamble-rounds", "3", "--data-rounds", "3", "--gap-s", "0.0005"]


def _ip(*args: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = ["ip", *(["-n", netns] if netns else []), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=10, check=check)


@dataclass
class Lab:
    app_ns: str
    dev_ns: str
    app_if: str
    dev_if: str

    def run_in(self, netns: str, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", netns, PYTHON, *args], capture_output=True, text=True,
                              timeout=timeout, cwd=ROOT, check=False)


def _why_no_lab() -> str | None:
    if not sys.platform.startswith("linux"):
        return "network namespaces are Linux only"
    if os.geteuid() != 0:
        return "creating network namespaces needs root"
    if shutil.which("ip") is None:
        return "the 'ip' command (iproute2) is not installed"
    return None


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    reason = _why_no_lab()
    if reason:
        pytest.skip(reason)
    tag = f"{os.getpid() % 100000}"
    lab = Lab(app_ns=f"pcapp-{tag}", dev_ns=f"pcdev-{tag}", app_if=f"pcA{tag}", dev_if=f"pcD{tag}")
    try:
        made = _ip("netns", "add", lab.app_ns, check=False)
        if made.returncode != 0:
            pytest.skip(f"this machine does not allow network namespaces: {made.stderr.strip()}")
        _ip("netns", "add", lab.dev_ns)
        # Created inside the app namespace, its peer moved straight into the device namespace: the pair never
        # exists in the default namespace, nor touches any of its interfaces.
        _ip("link", "add", lab.app_if, "type", "veth", "peer", "name", lab.dev_if, "netns", lab.dev_ns,
            netns=lab.app_ns)
        for ns, name, address in ((lab.app_ns, lab.app_if, APP_IP), (lab.dev_ns, lab.dev_if, DEVICE_IP)):
            _ip("addr", "add", f"{address}/{SUBNET.prefixlen}", "dev", name, netns=ns)
            _ip("link", "set", name, "up", netns=ns)
            _ip("link", "set", "lo", "up", netns=ns)
        yield lab
    finally:
        for ns in (lab.app_ns, lab.dev_ns):
            _ip("netns", "del", ns, check=False)


def _matches_lab_traffic(packet: Packet) -> bool:
    """The lab's addresses, or EZ's ports between addresses that are not the default namespace's loopback: the
    lab's namespaces have loopbacks of their own, and EZ from 127.0.0.1 to 127.0.0.1 here is another test's (an
    emulated camera listening on loopback, in this run's other workers or in another run on the machine)."""
    if IP not in packet:
        return False
    ip = packet[IP]
    addresses = [ipaddress.IPv4Address(a) for a in (ip.src, ip.dst)]
    in_subnet = any(a in SUBNET for a in addresses)
    ez = UDP in packet and packet[UDP].dport in (30011, 30012) and not all(a.is_loopback for a in addresses)
    return in_subnet or ez


@pytest.fixture(scope="module")
def default_namespace_watch(lab: Lab) -> Iterator[list[PacketTap]]:
    """A tap on every interface of the default namespace, for the lab's addresses and the EZ ports."""
    taps = []
    bpf = f"net {SUBNET} or (udp and (dst port 30011 or dst port 30012))"
    for _, name in socket.if_nameindex():
        try:
            taps.append(PacketTap(name, bpf=bpf, match=_matches_lab_traffic, keep_outgoing=True, max_s=120).start())
        except OSError:
            continue  # an interface that cannot be sniffed (down, or not packet-capable) carries nothing either
    yield taps
    for tap in taps:
        tap.stop()


class Device:
    """The device side process in the device namespace (tests/_netns_device.py)."""

    def __init__(self, lab: Lab) -> None:
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", lab.dev_ns, PYTHON, str(ROOT / "tests" / "_netns_device.py"), lab.dev_if,
             DEVICE_IP], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)

    def ask(self, line: str, timeout: float = 40.0) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        # bounded: the process answers every command within its own bounds, and the test fails past this one
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if selector.select(timeout=max(0.0, deadline - time.monotonic())):
                    answer = self.process.stdout.readline()
                    if not answer:
                        break
                    return dict(json.loads(answer))
        raise AssertionError(f"the device process did not answer {line!r}: {self.stop()}")

    def stop(self) -> str:
        if self.process.poll() is None:
            try:
                self.process.communicate("quit\n", timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.communicate(timeout=5)
        return self.process.stderr.read() if self.process.stderr and not self.process.stderr.closed else ""


@pytest.fixture(scope="module")
def device(lab: Lab, default_namespace_watch: list[PacketTap]) -> Iterator[Device]:
    device = Device(lab)
    try:
        yield device
    finally:
        device.stop()


def _app(lab: Lab, *args: str) -> dict[str, Any]:
    done = lab.run_in(lab.app_ns, "-m", "harness.net", *args, "--interface", lab.app_if)
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _assert_nothing_leaked(watch: list[PacketTap]) -> None:
    """None of the lab's traffic showed up on any interface of the default namespace."""
    assert watch, "no interface of the default namespace could be watched"
    for tap in watch:
        tap.drain()  # whatever the kernel queued has been looked at (the pairing is over: nothing is in flight)
    leaked = [(tap.interface, p.summary()) for tap in watch for p in list(tap.packets)]
    assert leaked == []


def _credentials(grant: dict[str, Any]) -> list[str]:
    return ["--ssid", grant["ssid"], "--password", grant["password"], "--token", grant["token"]]


def test_the_namespaces_have_no_way_out(lab: Lab) -> None:
    for ns, name, address in ((lab.app_ns, lab.app_if, APP_IP), (lab.dev_ns, lab.dev_if, DEVICE_IP)):
        routes = _ip("-4", "route", "show", netns=ns).stdout.strip().splitlines()
        assert routes == [f"{SUBNET} dev {name} proto kernel scope link src {address}"]
    default_links = _ip("-o", "link", "show").stdout
    assert lab.app_if not in default_links and lab.dev_if not in default_links


@pytest.mark.parametrize("channels", ["broadcast,multicast", "broadcast", "multicast"])
def test_ez_pairing_across_the_veth_pair(lab: Lab, device: Device, channels: str, tmp_path: Path,
                                         default_namespace_watch: list[PacketTap]) -> None:
    grant = device.ask("pair")
    sent = _app(lab, "send-ez", *_credentials(grant), "--channels", channels, *SMALL_EZ,
                "--pcap", str(tmp_path / "ez.pcap"))
    assert sent["datagrams"] > 0
    result = device.ask("wait 20")
    assert result["ok"], result
    assert "ez-decoded" in result["events"]
    _assert_nothing_leaked(default_namespace_watch)


@pytest.mark.parametrize("variant", ["legacy", "lpv35"])
def test_ap_pairing_across_the_veth_pair(lab: Lab, device: Device, variant: str,
                                         default_namespace_watch: list[PacketTap]) -> None:
    grant = device.ask("pair")
    host, udp_port, tcp_port = grant["ap"]
    assert host == DEVICE_IP
    sent = _app(lab, "send-ap", *_credentials(grant), "--host", host, "--variant", variant,
                "--udp-port", str(udp_port), "--tcp-port", str(tcp_port))
    if variant == "lpv35":
        assert sent["replies"] == [{"ret_code": 0, "ok": True}]
    result = device.ask("wait 20")
    assert result["ok"], result
    _assert_nothing_leaked(default_namespace_watch)


def test_a_profile_world_on_the_scapy_adapter_pairs_by_ez_and_ap(lab: Lab, tmp_path: Path,
                                                                  default_namespace_watch: list[PacketTap]) -> None:
    """build_world with network = scapy: the activator sends on the interface, the camera sniffs it."""
    pcap = tmp_path / "sent.pcap"
    done = lab.run_in(lab.app_ns, str(ROOT / "tests" / "_netns_world.py"), lab.app_if, str(pcap), timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    outcomes = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcomes["ez"] == {"ok": True, "error": None}
    assert outcomes["ap"] == {"ok": True, "error": None}
    assert outcomes["network"]["sniffer"]["observations"] > 0
    packets = rdpcap(str(pcap))
    assert len(packets) == outcomes["packets"] > 0
    assert any(EzLength in p for p in packets) and any(EzAddress in p for p in packets)
    # the camera of this world serves its AP on loopback, on an ephemeral port: dissected once that is bound
    ap_datagrams = [p for p in packets if UDP in p and p[IP].dst == "127.0.0.1"]
    assert ap_datagrams
    bind_ap_ports(udp_port=ap_datagrams[0][UDP].dport)
    assert TuyaAp55AA in ap_datagrams[0].__class__(bytes(ap_datagrams[0]))
    _assert_nothing_leaked(default_namespace_watch)
