"""Bad configuration is found before the first test: each mistake a lab makes in a profile (an unset ``env:``
reference, an adapter or fault that names nothing, a ``module:factory`` that does not import, a network interface
this machine does not have, a misspelt adapter argument, a hook command that does not exist) makes both
``paircert run`` and ``paircert profiles --check`` exit 2 with one line naming the file and the key, and the run
starts no test (no run directory)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests._report_helpers import run_paircert

UNSET = "PAIRCERT_TEST_NEVER_SET_7d41"

GOOD = """
[device]
name = "bench camera"
kind = "camera"
pid = "abcdefgh12345678"
firmware = "1.0.0"

[capabilities]
pairing_modes = ["qr"]
binding_mode = "strong"
mqtt_protocol_version = "2.2"
activation_api = "tuya.device.active"

[parameters]
activator_timeout_s = 100
region = "AY"

[adapters]
cloud = "emulated"
device = "emulated"
network = "air"
"""

# (the change to GOOD, the key the message names, what it says)
MISTAKES = [
    pytest.param(('[parameters]', f'[parameters.wifi]\nssid = "lab"\npassword = "env:{UNSET}"\n\n[parameters]'),
                 "parameters.wifi.password", f"environment variable {UNSET} is not set", id="unset-env-reference"),
    pytest.param(('cloud = "emulated"', f'cloud = {{ name = "emulated", args = {{ state_path = "env:{UNSET}" }} }}'),
                 "adapters.cloud.args.state_path", f"environment variable {UNSET} is not set", id="unset-env-in-args"),
    pytest.param(('cloud = "emulated"', 'cloud = "remot"'),
                 "adapters.cloud.name", "no cloud adapter named 'remot'", id="unknown-adapter"),
    pytest.param(('device = "emulated"', 'device = { name = "emulated", args = { faults = ["no-such-fault"] } }'),
                 "adapters.device.args.faults", "no-such-fault", id="unknown-fault"),
    pytest.param(('device = "emulated"', 'device = "acme_lab_missing.adapters:make_camera"'),
                 "adapters.device.name", "cannot import adapter module 'acme_lab_missing.adapters'",
                 id="factory-that-does-not-import"),
    pytest.param(('network = "air"', 'network = { name = "scapy", interface = "nosuchif0" }'),
                 "adapters.network.interface", "no network interface named 'nosuchif0'", id="missing-interface"),
    pytest.param(('device = "emulated"', 'device = { name = "emulated", args = { fautls = ["crash-on-qr"] } }'),
                 "adapters.device.args.fautls", "did you mean 'faults'?", id="misspelt-argument"),
    pytest.param(('[parameters]', '[hooks]\nreset = "acme-relay-tool-missing off 3"\n\n[parameters]'),
                 "hooks.reset", "acme-relay-tool-missing is not a program on PATH", id="missing-hook-command"),
]


def _profile(tmp_path: Path, change: tuple[str, str]) -> Path:
    old, new = change
    assert old in GOOD
    path = tmp_path / "lab-camera.toml"
    path.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    return path


def _problem_line(stderr: str, path: Path, key: str) -> str:
    """The line of stderr that names the file and the key."""
    found = [line for line in stderr.splitlines() if f"{path}: {key}" in line]
    assert found, f"no line names {path}: {key}:\n{stderr}"
    return found[0]


@pytest.mark.parametrize(("change", "key", "says"), MISTAKES)
def test_paircert_run_exits_2_before_any_test(tmp_path: Path, change: tuple[str, str], key: str, says: str) -> None:
    path = _profile(tmp_path, change)
    reports = tmp_path / "reports"
    assert UNSET not in os.environ
    done = run_paircert("run", "--profile", str(path), "--report-dir", str(reports), "--no-progress")
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    line = _problem_line(done.stderr, path, key)
    assert line.startswith("paircert run: ") and says in line, line
    assert not reports.exists() or not [p for p in reports.iterdir() if re.match(r"\d{8}T", p.name)]


def test_paircert_profiles_check_finds_the_same_in_each_file(tmp_path: Path) -> None:
    """One check of every profile at once: each bad file gets its line, the good one its "ok"."""
    files = []
    for mistake in MISTAKES:
        change, key, says = mistake.values
        directory = tmp_path / str(mistake.id)
        directory.mkdir()
        files.append((_profile(directory, change), key, says))
    good = _profile(tmp_path, ("[parameters]", "[parameters]"))
    done = run_paircert("profiles", "--check", str(good), *(str(path) for path, _, _ in files))
    assert done.returncode == 2, done.stdout + done.stderr
    assert [line.split(" (")[0] for line in done.stdout.splitlines()] == [f"ok: {good}"], done.stdout
    for path, key, says in files:
        assert says in _problem_line(done.stderr, path, key)
