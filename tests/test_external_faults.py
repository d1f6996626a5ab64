"""Faults written outside the package, the way a vendor or a QA team writes them (README "Writing your own
fault"): a module of their own registers a faulty cloud and a faulty camera, a profile names them, and
``paircert run`` (in a subprocess, as a user runs it) catches them and reports them like built-in faults."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from harness.profiles import load_profile
from tests._report_helpers import latest_run, load_json, run_paircert

# The module a QA team writes: one fault of the cloud (it never uses a pairing token up) and one of the camera (it
# activates at its one cloud whatever region the token names), through the public registration API.
LAB_FAULTS = '''
import dataclasses

from harness.emulator.camera.faults import register_camera_fault
from harness.emulator.camera.firmware import CloudEndpoint, EmulatedCamera
from harness.emulator.cloud.behaviour import CloudBehaviour
from harness.emulator.cloud.faults import register_cloud_fault


@register_cloud_fault("lab-tokens-never-used-up", "a pairing token activates again after it paired a device",
                      requirement="PROTOCOL.md §0: a pairing token is single-use")
class TokensNeverUsedUp(CloudBehaviour):
    def find_token(self, a):
        a.consume = False  # success leaves the token unused
        return super().find_token(a)

    def token_as_checked(self, a):
        checked = super().token_as_checked(a)
        return None if checked is None else dataclasses.replace(checked, consumed_at=None)


@register_camera_fault("lab-one-cloud-for-all-regions", "activates at its first cloud whatever the token's region",
                       requirement="PROTOCOL.md §1.3: the token's region picks the cloud")
class OneCloudForAllRegions(EmulatedCamera):
    def endpoint_for(self, region):
        own = super().endpoint_for(region)
        if own is not None or isinstance(self.cloud, CloudEndpoint):
            return own
        return next(iter(self.cloud.values()), None)
'''

# TC-TOKEN-003 catches the cloud fault, TC-TOKEN-006 the camera's; TC-TOKEN-002 is caught by neither.
SELECTION = "cannot_pair_again or another_region or just_after"
EXPECTED_FAILS = {"TC-TOKEN-003", "TC-TOKEN-006"}


def write_profile(directory: Path, *, cloud_faults: list[str], device_faults: list[str]) -> Path:
    """camera-strong with the given faults on its emulated cloud and camera."""
    bundled = load_profile("camera-strong").path
    assert bundled is not None
    text = bundled.read_text(encoding="utf-8").replace('cloud = "emulated"\ndevice = "emulated"\n', "")
    text += textwrap.dedent(f"""
        [adapters.cloud]
        name = "emulated"
        args = {{ faults = {json.dumps(cloud_faults)} }}

        [adapters.device]
        name = "emulated"
        args = {{ faults = {json.dumps(device_faults)} }}
        """)
    path = directory / "my-camera.toml"
    path.write_text(text, encoding="utf-8")
    return path


def check_caught_and_reported(report_dir: Path, cloud_name: str, device_name: str) -> None:
    run_dir = latest_run(report_dir)
    results = [json.loads(line) for line in (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()
               if line.strip()]
    verdicts: dict[str, set[str]] = {}
    for record in results:
        verdicts.setdefault(record["tc"], set()).add(record["verdict"])
    assert {tc for tc, seen in verdicts.items() if "FAIL" in seen} == EXPECTED_FAILS, verdicts
    assert verdicts["TC-TOKEN-002"] == {"PASS"}, verdicts
    summary = load_json(run_dir / "summary.json")
    assert summary["verdict"] == "FAIL" and summary["exit_code"] == 1
    assert summary["adapters"]["cloud"]["faults"] == [cloud_name]
    assert summary["adapters"]["device"]["faults"] == [device_name]
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert f"cloud: {cloud_name}" in html and f"device: {device_name}" in html


def test_a_profile_names_faults_from_a_module_beside_it(tmp_path: Path) -> None:
    """``package.module:Class`` specs: the module is found in the profile's own directory."""
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "lab_faults.py").write_text(LAB_FAULTS, encoding="utf-8")
    profile = write_profile(lab, cloud_faults=["lab_faults:TokensNeverUsedUp"],
                            device_faults=["lab_faults:OneCloudForAllRegions"])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = run_paircert("run", "--profile", str(profile), "--suite", "token", "-k", SELECTION, "--no-progress",
                        "--report-dir", str(tmp_path / "reports"), cwd=elsewhere, timeout=240)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    check_caught_and_reported(tmp_path / "reports", "lab-tokens-never-used-up", "lab-one-cloud-for-all-regions")


def test_a_plugin_module_registers_faults_the_profile_names(tmp_path: Path) -> None:
    """``paircert run -p MODULE`` loads the module in the run; the profile names its faults by their names."""
    (tmp_path / "lab_faults.py").write_text(LAB_FAULTS, encoding="utf-8")
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    profile = write_profile(profiles, cloud_faults=["lab-tokens-never-used-up"],
                            device_faults=["lab-one-cloud-for-all-regions"])
    done = run_paircert("run", "-p", "lab_faults", "--profile", str(profile), "--suite", "token", "-k", SELECTION,
                        "--no-progress", "--report-dir", str(tmp_path / "reports"), cwd=tmp_path, timeout=240)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    check_caught_and_reported(tmp_path / "reports", "lab-tokens-never-used-up", "lab-one-cloud-for-all-regions")


@pytest.mark.parametrize(("cloud_faults", "device_faults", "key", "why"), [
    (["token-reusable", "no-such-fault"], [], "adapters.cloud.args.faults[1]", "unknown cloud fault 'no-such-fault'"),
    ([], ["lab_faults:NoSuchClass"], "adapters.device.args.faults[0]", "has no 'NoSuchClass'"),
    ([], ["no_such_module:Fault"], "adapters.device.args.faults[0]", "cannot import module 'no_such_module'"),
])
def test_a_fault_that_names_nothing_is_a_profile_error_before_any_test(
        tmp_path: Path, cloud_faults: list[str], device_faults: list[str], key: str, why: str) -> None:
    (tmp_path / "lab_faults.py").write_text(LAB_FAULTS, encoding="utf-8")
    profile = write_profile(tmp_path, cloud_faults=cloud_faults, device_faults=device_faults)
    done = run_paircert("run", "--profile", str(profile), "--report-dir", str(tmp_path / "reports"), cwd=tmp_path)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert f"{profile}: {key}: " in done.stderr and why in done.stderr, done.stderr
    assert not (tmp_path / "reports").exists()  # found before the run started


def test_a_plugin_that_does_not_import_is_a_usage_error(tmp_path: Path) -> None:
    done = run_paircert("run", "-p", "no_such_plugin_module", "--profile", "camera-strong",
                        "--report-dir", str(tmp_path / "reports"), cwd=tmp_path)
    assert done.returncode == 2 and "-p/--plugin no_such_plugin_module: cannot import" in done.stderr, done.stderr
    assert not (tmp_path / "reports").exists()
