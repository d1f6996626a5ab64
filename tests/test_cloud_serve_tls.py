"""``paircert cloud ca`` and ``paircert cloud serve --tls`` as a lab runs them: subprocesses, real sockets, the
lab CA in a directory (PROTOCOL.md §11.1, §11.2)."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import ssl
import subprocess
import urllib.request
from pathlib import Path

import pytest
from _serve_helpers import PAIRCERT, ServedCloud
from cryptography import x509

from harness.protocol.iotdns import UrlConfigResponse


def paircert(*args: str, prefix: tuple[str, ...] = (), cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, *PAIRCERT, *args], capture_output=True, text=True, timeout=60, cwd=cwd,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_cloud_ca_writes_pem_der_and_a_c_array_and_reuses_the_ca(tmp_path: Path) -> None:
    first = paircert("cloud", "ca", "--out", str(tmp_path / "ca"))
    assert first.returncode == 0, first.stderr
    pem = (tmp_path / "ca" / "ca.pem").read_bytes()
    der = (tmp_path / "ca" / "ca.der").read_bytes()
    assert x509.load_pem_x509_certificate(pem) == x509.load_der_x509_certificate(der)
    c_array = (tmp_path / "ca" / "ca_cert.h").read_text()
    values = c_array.split("{", 1)[1].split("}", 1)[0].replace("\n", "").split(",")
    assert bytes(int(v, 16) for v in values if v.strip()) == der
    assert hashlib.sha256(der).hexdigest() in first.stdout
    again = paircert("cloud", "ca", "--out", str(tmp_path / "export"), "--ca", str(tmp_path / "ca"))
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "export" / "ca.der").read_bytes() == der
    assert not (tmp_path / "export" / "ca.key").exists(), "the CA's key was exported for a firmware build"


def test_serve_tls_prints_https_and_mqtts_and_serves_them_with_the_lab_ca(tmp_path: Path) -> None:
    ca_dir = tmp_path / "lab-ca"
    served = ServedCloud("--tls", "--ca", str(ca_dir), "--tls-name", "h3.iot-dns.com", "--plain-port", "0",
                         "--plain-mqtt-port", "0")
    try:
        banner = "".join(served.lines)
        assert served.urls["ATOP"].startswith("https://127.0.0.1:") and served.urls["ATOP"].endswith("/d.json")
        assert served.urls["url_config"].startswith("https://") and served.urls["app API"].startswith("https://")
        assert served.urls["MQTT"].startswith("mqtts://127.0.0.1:")
        assert "plain HTTP  http://127.0.0.1:" in banner and "plain MQTT  127.0.0.1:" in banner
        assert f"lab CA      {ca_dir}" in banner and "h3.iot-dns.com" in banner
        context = ssl.create_default_context(cafile=str(ca_dir / "ca.pem"))
        request = urllib.request.Request(served.urls["url_config"], data=b'{"config":[],"env":"pro"}',
                                         method="POST")
        with urllib.request.urlopen(request, timeout=10, context=context) as answer:
            config = UrlConfigResponse.from_json(answer.read())
        assert config.ca_arr == (base64.b64encode(ssl.PEM_cert_to_DER_cert((ca_dir / "ca.pem").read_text())).decode(),)
        assert config.addr("mqttsSelfUrl") == served.urls["MQTT"].removeprefix("mqtts://")
    finally:
        served.stop()
    before = (ca_dir / "ca.pem").read_bytes()
    again = ServedCloud("--tls", "--ca", str(ca_dir))
    again.stop()
    assert (ca_dir / "ca.pem").read_bytes() == before, "serve made a new CA instead of reusing the lab's"


@pytest.mark.parametrize(("args", "message"), [
    (["--tls"], "--tls needs --ca DIR"),
    (["--tls-name", "x.example"], "--ca and --tls-name need --tls"),
    (["--plain-port", "0"], "without --tls"),
])
def test_tls_options_that_do_not_fit_are_usage_errors(args: list[str], message: str) -> None:
    done = paircert("cloud", "serve", "--broker", "none", *args)
    assert done.returncode == 2 and message in done.stderr, done.stderr


def _unprivileged_port_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    except (OSError, ValueError):
        return 1024


@pytest.mark.skipif(_unprivileged_port_start() <= 443, reason="this kernel lets anyone bind port 443")
def test_port_443_without_privileges_says_what_it_needs(tmp_path: Path) -> None:
    """§11.2: the SDKs dial ATOP on 443; binding it needs root or CAP_NET_BIND_SERVICE, and the error says so."""
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:  # as root, without CAP_NET_BIND_SERVICE (still root: the checkout may be private to it)
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root and setpriv (util-linux) is missing to drop the capability")
        prefix = (setpriv, "--bounding-set=-net_bind_service", "--")
    else:
        status = Path("/proc/self/status").read_text()
        effective = int(next(line.split()[1] for line in status.splitlines() if line.startswith("CapEff")), 16)
        if effective & (1 << 10):  # CAP_NET_BIND_SERVICE
            pytest.skip("this process has CAP_NET_BIND_SERVICE")
    done = paircert("cloud", "serve", "--port", "443", "--broker", "none", prefix=prefix, cwd=Path("/"))
    assert done.returncode == 1, (done.returncode, done.stderr[-500:])
    assert "443" in done.stderr and "CAP_NET_BIND_SERVICE" in done.stderr and "root" in done.stderr, done.stderr


def test_the_remote_adapter_trusts_the_lab_ca_and_learns_it_from_url_config(tmp_path: Path) -> None:
    """``cloud = { name = "remote", args = { url = "https://...", ca = "lab-ca/ca.pem" } }``: the app API over
    HTTPS, and the device endpoints with the CA devices trust (url_config caArr, §11.2)."""
    from harness.adapters.remote import RemoteCloudAdapter

    served = ServedCloud("--tls", "--ca", str(tmp_path))
    try:
        adapter = RemoteCloudAdapter(served.urls["app API"], ca=str(tmp_path / "ca.pem"), admin_key=served.admin_key)
        endpoints = adapter.endpoints()
        assert endpoints["atop_url"] == served.urls["ATOP"]
        assert base64.b64decode(endpoints["ca"]) == ssl.PEM_cert_to_DER_cert((tmp_path / "ca.pem").read_text())
        assert "bind-by-uuid" in adapter.capabilities
        assert adapter.create_account("over-https")
    finally:
        served.stop()


def test_a_served_camera_takes_the_sdks_path_through_a_tls_url_config(tmp_path: Path) -> None:
    """``paircert device serve --url-config https://... --ca lab-ca/ca.pem``: iot-dns verified against the pinned
    lab CA, then ATOP over HTTPS and MQTT over TLS trusting ``caArr[0]`` (§11.1, §11.2), as the SDKs do."""
    import io
    import json as json_module

    from _serve_helpers import ServedDevice

    from harness.emulator.cloud import EmulatedCloud, LabCa, TlsSettings
    from harness.protocol.qr import QrPayload
    from harness.qrimage import render_qr

    ca = LabCa.load_or_create(tmp_path)
    with EmulatedCloud(tls=TlsSettings(ca)) as cloud:
        product = cloud.app.create_product(name="cam", category="sp")
        licence = cloud.app.issue_licence(product.pid)
        owner = cloud.app.create_account("alice")
        home = cloud.app.create_home(owner, "flat")
        device = ServedDevice(url_config=f"{cloud.http_url}/v2/url_config", uuid=licence.uuid,
                              auth_key=licence.auth_key, pid=product.pid, extra=("--ca", str(tmp_path / "ca.pem")))
        try:
            png = io.BytesIO()
            token = cloud.app.get_token(owner, home).pairing_token
            render_qr(QrPayload("lab", "pw123456", token).to_text()).save(png, format="PNG")
            request = urllib.request.Request(f"{device.control}/qr", data=png.getvalue(), method="POST",
                                             headers={"Content-Type": "image/png"})
            with urllib.request.urlopen(request, timeout=15) as answer:
                assert json_module.loads(answer.read())["outcome"] == "captured"
            with urllib.request.urlopen(f"{device.control}/wait?state=online&timeout=20", timeout=30) as answer:
                status = json_module.loads(answer.read())
            assert status["state"] == "online", status
            with urllib.request.urlopen(f"{device.control}/events", timeout=15) as answer:
                events = json_module.loads(answer.read())
            urls = [e["details"]["url"] for e in events if e["event"] == "atop-request"]
            assert urls and all(u.startswith("https://") for u in urls)
            assert any(e["event"] == "mqtt-connect" and e["details"]["port"] == cloud.mqtt_port for e in events)
        finally:
            device.stop()


def test_the_readmes_tls_command_runs_as_written_on_loopback(tmp_path: Path) -> None:
    """README "The lab CA and TLS": its serve command, with sudo dropped, loopback and free ports put in, and its
    files in a temporary directory."""
    import re
    import shlex

    from _serve_helpers import Served

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("<!-- BEGIN: The lab CA and TLS"):readme.index("<!-- END: The lab CA and TLS -->")]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    argv = shlex.split(blocks[0].replace("\\\n", " "))
    assert argv[:4] == ["sudo", "paircert", "cloud", "serve"], argv
    local = {"--host": "127.0.0.1", "--port": "0", "--mqtt-port": "0", "--plain-port": "0", "--plain-mqtt-port": "0",
             "--ca": str(tmp_path / "lab-ca"), "--state": str(tmp_path / "lab.sqlite"),
             "--licences-out": str(tmp_path / "licences.json")}
    args = argv[2:]
    for index, value in enumerate(args[:-1]):
        if value in local:
            args[index + 1] = local[value]
    served = Served(args, ready=r"^serving")
    try:
        banner = "".join(served.lines)
    finally:
        served.stop()
    assert re.search(r"ATOP\s+https://192\.168\.10\.5:\d+/d\.json", banner), banner
    assert re.search(r"MQTT\s+mqtts://192\.168\.10\.5:\d+", banner), banner
    assert "plain HTTP  http://" in banner and "plain MQTT  " in banner
    assert "h3.iot-dns.com" in banner and "a2.tuyaeu.com" in banner
    assert (tmp_path / "lab-ca" / "ca.pem").exists() and (tmp_path / "licences.json").exists()
