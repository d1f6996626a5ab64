"""``paircert load --via openapi`` end to end, as a user runs it: `paircert cloud serve --workers 2
--openapi-client-file` (two processes, one state), `paircert load` in others, on loopback. The devices' users,
homes, pairing tokens, removals and commands and the final device lists go through Tuya's OpenAPI (signed with the
project's client id and secret), their licences come from a CSV list as a production cloud's do, or from the lab's
app API when no list is given."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from _serve_helpers import PAIRCERT, ServedCloud
from test_load import LIMITS, RUN_TIMEOUT_S, assert_held, assert_no_secret, run_dir_of, stats

DEVICES = 50


class OpenApiLab:
    def __init__(self, folder: Path, served: ServedCloud) -> None:
        self.folder = folder
        self.served = served
        [line] = [line for line in served.lines if line.startswith("OpenAPI ")]
        self.url = line.split()[1]
        project = json.loads((folder / "openapi.json").read_text(encoding="utf-8"))
        self.client_id, self.secret = project["client_id"], project["secret"]
        self.licences = json.loads((folder / "licences.json").read_text(encoding="utf-8"))

    def csv(self, path: Path, count: int, *, with_pid: bool = False) -> Path:
        """The first ``count`` licences as a vendor's list: ``uuid,authkey`` (and the product id) a line."""
        rows = [f"{lic['uuid']},{lic['authKey']}" + (f",{lic['pid']}" if with_pid else "")
                for lic in self.licences[:count]]
        path.write_text("uuid,authkey\n" + "\n".join(rows) + "\n", encoding="utf-8")
        return path


@pytest.fixture(scope="module")
def openapi_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenApiLab]:
    folder = tmp_path_factory.mktemp("openapi-lab")
    served = ServedCloud("--workers", "2", "--admin-key-file", str(folder / "admin.key"), "--openapi-client-file",
                         str(folder / "openapi.json"), "--licences", str(DEVICES + 5), "--licences-out",
                         str(folder / "licences.json"), *LIMITS)
    try:
        yield OpenApiLab(folder, served)
    finally:
        served.stop()


def load(*args: str, cwd: Path, secret: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PAIRCERT_ADMIN_KEY", "PAIRCERT_OPENAPI_SECRET")}
    if secret is not None:
        env["PAIRCERT_OPENAPI_SECRET"] = secret
    return subprocess.run([*PAIRCERT, "load", *args], capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                          cwd=cwd, env=env)


def test_a_run_through_the_openapi_with_a_licence_list_and_two_workers_keeps_every_binding(
        openapi_lab: OpenApiLab, tmp_path: Path) -> None:
    pid = openapi_lab.licences[0]["pid"]
    licences = openapi_lab.csv(tmp_path / "licences.csv", DEVICES)
    # no admin key at all: the app API's lab controls (which alone create app accounts) are out of the run's reach,
    # so its users, homes and tokens can only have come from the OpenAPI
    done = load("--via", "openapi", "--cloud", openapi_lab.url, "--client-id", openapi_lab.client_id,
                "--licences", str(licences), "--product-id", pid, "--devices", str(DEVICES), "--rate", "50",
                "--duration", "10s", "--report-every", "0.5s", "--rebinds", "1", "--workers", "2",
                "--report-dir", str(tmp_path / "reports"), cwd=tmp_path, secret=openapi_lab.secret)
    assert done.returncode == 0, done.stdout + done.stderr
    run_dir = run_dir_of(tmp_path / "reports")
    outcome = assert_held(run_dir, devices=DEVICES, processes=2)
    counted = stats(run_dir)
    assert counted[("APP", "licence")] == (DEVICES, 0) and counted[("APP", "pairing token")][1] == 0
    assert counted[("ATOP", "activate")] == (DEVICES, 0), counted
    assert counted[("DP", "app command round trip")][0] >= 1 and counted[("MQTT", "dp report")][0] >= DEVICES
    assert outcome["devices"]["activations"] >= DEVICES  # type: ignore[index]
    # the device lists came from the OpenAPI: its records carry no report count, the app API's do
    assert "the cloud's device record has no report count" in done.stdout
    assert "via openapi" in done.stderr
    assert (run_dir / "licence-claims").read_text(encoding="ascii") == str(DEVICES)  # each line taken once
    for secret in (openapi_lab.secret, *(lic["authKey"] for lic in openapi_lab.licences[:DEVICES])):
        assert_no_secret(run_dir, secret)
    assert openapi_lab.secret not in done.stdout + done.stderr


def test_without_a_list_the_labs_app_api_issues_the_licences(openapi_lab: OpenApiLab, tmp_path: Path) -> None:
    secret_file = openapi_lab.folder / "openapi.json"  # the JSON file `cloud serve` keeps: its "secret" is read
    done = load("--via", "openapi", "--cloud", openapi_lab.url, "--client-id", openapi_lab.client_id,
                "--secret-file", str(secret_file), "--admin-key-file", str(openapi_lab.folder / "admin.key"),
                "--devices", "6", "--rate", "20", "--duration", "3s", "--report-every", "0.3s",
                "--report-dir", str(tmp_path / "reports"), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    run_dir = run_dir_of(tmp_path / "reports")
    assert_held(run_dir, devices=6, processes=1)
    assert stats(run_dir)[("APP", "licence")] == (6, 0)
    assert not (run_dir / "licence-claims").exists()
    assert_no_secret(run_dir, openapi_lab.secret)


def _usage(openapi_lab: OpenApiLab, tmp_path: Path, *args: str, secret: str | None = None) -> str:
    report_dir = tmp_path / "reports"
    done = load("--cloud", openapi_lab.url, *args, "--devices", "10", "--report-dir", str(report_dir), cwd=tmp_path,
                secret=secret)
    assert done.returncode == 2, done.stdout + done.stderr
    assert not report_dir.exists()  # found before any run directory or Locust process
    assert openapi_lab.secret not in done.stdout + done.stderr
    return done.stderr


def test_usage_and_setup_errors_exit_2_naming_what_to_fix(openapi_lab: OpenApiLab, tmp_path: Path) -> None:
    via = ("--via", "openapi", "--client-id", openapi_lab.client_id)
    short = openapi_lab.csv(tmp_path / "short.csv", 9, with_pid=True)
    err = _usage(openapi_lab, tmp_path, *via, "--licences", str(short), secret=openapi_lab.secret)
    assert f"--licences {short}: 9 licences for 10 devices" in err
    broken = tmp_path / "broken.csv"
    broken.write_text("uuid,authkey\nonly-a-uuid\n", encoding="utf-8")
    err = _usage(openapi_lab, tmp_path, *via, "--licences", str(broken), secret=openapi_lab.secret)
    assert f"--licences {broken}, line 2: expected uuid,authkey" in err
    no_pid = openapi_lab.csv(tmp_path / "no-pid.csv", 10)
    err = _usage(openapi_lab, tmp_path, *via, "--licences", str(no_pid), secret=openapi_lab.secret)
    assert f"--licences {no_pid}, line 2: no product id" in err
    assert "needs --client-id" in _usage(openapi_lab, tmp_path, "--via", "openapi", secret=openapi_lab.secret)
    assert "go with --via openapi" in _usage(openapi_lab, tmp_path, "--client-id", openapi_lab.client_id)
    assert "PAIRCERT_OPENAPI_SECRET" in _usage(openapi_lab, tmp_path, *via, "--licences", str(no_pid),
                                               "--product-id", "p")
    wrong = "x" * 32
    err = _usage(openapi_lab, tmp_path, *via, "--licences", str(no_pid), "--product-id", "p", secret=wrong)
    assert "does not log the project in" in err and "1004" in err
    # no list and no admin key: nothing can issue the devices' licences
    err = _usage(openapi_lab, tmp_path, *via, secret=openapi_lab.secret)
    assert "cannot issue licences" in err and "no admin key" in err


class _Endpoints:
    """What device_endpoints reads of the openapi adapter: its url_config and the endpoints found there."""

    def __init__(self, found: dict[str, str], url_config: str | None = "http://lab/v2/url_config") -> None:
        self.url_config, self._found = url_config, found

    def endpoints(self) -> dict[str, str]:
        return dict(self._found)


@pytest.mark.parametrize(("found", "url_config", "why"), [
    ({"atop_url": "http://lab/d.json", "mqtt": "lab:1883"}, None, "no url_config"),
    ({"atop_url": "http://lab/d.json"}, "http://lab/v2/url_config", "names no ATOP URL and MQTT broker"),
    ({"atop_url": "http://lab/d.json", "mqtt": "lab:mqtt"}, "http://lab/v2/url_config", "without a port: lab:mqtt"),
], ids=["no-url-config", "no-broker", "no-port"])
def test_device_endpoints_that_devices_could_not_use_are_a_setup_error(found: dict[str, str], url_config: str | None,
                                                                       why: str) -> None:
    from harness.load.openapi import OpenApiSetupError, device_endpoints

    with pytest.raises(OpenApiSetupError, match=why):
        device_endpoints(_Endpoints(found, url_config))  # type: ignore[arg-type]


def test_device_endpoints_carry_the_broker_and_the_ca_the_url_config_names() -> None:
    from harness.load.openapi import device_endpoints

    adapter = _Endpoints({"atop_url": "https://lab/d.json", "mqtt": "[::1]:8883", "ca": "MIIB"})
    got = device_endpoints(adapter)  # type: ignore[arg-type]
    assert (got.atop_url, got.mqtt_host, got.mqtt_port, got.ca_der_base64) == ("https://lab/d.json", "::1", 8883,
                                                                               "MIIB")
