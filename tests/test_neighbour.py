"""A good neighbour: installed beside pytest-profiling in another project that does not ask for paircert, the plugin
adds only namespaced options, registers no fixtures and no hooks beyond its three entry hooks, imports nothing
heavy, and the project's own ``--profile`` (pytest-profiling's) and its own ``device``/``cloud``/``profile``
fixtures work untouched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROJECT_CONFTEST = '''
import json
import sys

import pytest


@pytest.fixture
def device():
    return "the project's own device"


@pytest.fixture
def cloud():
    return "the project's own cloud"


@pytest.fixture
def profile():
    return {"name": "the project's own profile"}


@pytest.fixture
def lab():
    return "the project's own lab"


def pytest_sessionfinish(session):
    manager = session.config.pluginmanager
    paircert = manager.get_plugin("paircert")
    with open("observed.json", "w") as out:
        json.dump({
            "harness_modules": sorted(m for m in sys.modules if m == "harness" or m.startswith("harness.")),
            "heavy": sorted(m for m in ("pydantic", "aiohttp", "scapy", "PIL", "paho", "amqtt", "cryptography")
                            if m in sys.modules),
            "plugins": sorted(name for name, _ in manager.list_name_plugin() if name and "paircert" in name),
            "paircert_hooks": sorted(name for name in dir(paircert) if name.startswith("pytest_")),
            "markers": [line for line in session.config.getini("markers") if line.startswith(("tc", "requires"))],
        }, out)
'''

PROJECT_TESTS = '''
def test_uses_its_own_fixtures(device, cloud, profile, lab):
    assert device == "the project's own device"
    assert cloud == "the project's own cloud"
    assert profile == {"name": "the project's own profile"}
    assert lab == "the project's own lab"


def test_plain_arithmetic():
    assert sum(range(10)) == 45
'''


def test_an_unrelated_project_with_pytest_profiling_passes_untouched(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(PROJECT_CONFTEST, encoding="utf-8")
    (tmp_path / "test_project.py").write_text(PROJECT_TESTS, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAIRCERT_")}
    env["PAIRCERT_REPORT_DIR"] = str(tmp_path / "paircert-reports")  # set, but no profile: not acted on
    # --profile is pytest-profiling's option: with paircert's old un-namespaced --profile every run failed here.
    done = subprocess.run([sys.executable, "-m", "pytest", "--profile", "-q"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout and "paircert" not in done.stdout
    assert (tmp_path / "prof" / "combined.prof").is_file()  # pytest-profiling did its work
    assert not (tmp_path / "reports").exists() and not (tmp_path / "paircert-reports").exists()

    observed = json.loads((tmp_path / "observed.json").read_text(encoding="utf-8"))
    assert observed["plugins"] == ["paircert"]  # no paircert-hooks, paircert-fixtures, paircert-run
    assert observed["paircert_hooks"] == ["pytest_addhooks", "pytest_addoption", "pytest_configure"]
    assert observed["markers"] == []
    assert observed["heavy"] == [], "paircert imported heavy modules in a project that did not ask for it"
    assert set(observed["harness_modules"]) <= {"harness", "harness.plugin", "harness.plugin.entry",
                                                "harness.plugin.options", "harness.plugin.selection",
                                                "harness.plugin.hookspecs"}


def test_every_option_the_plugin_adds_is_namespaced(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pytest", "--help", "-p", "no:profiling"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    section = done.stdout.split("paircert conformance runs", 1)[1].split("\n\n", 1)[0]
    flags = [word.split("=", 1)[0] for word in section.split() if word.startswith("--")]
    assert flags and all(flag.startswith("--paircert-") for flag in flags), flags
    for flag in ("--paircert-profile", "--paircert-cloud", "--paircert-device", "--paircert-network",
                 "--paircert-report-dir", "--paircert-evidence-dir", "--paircert-seed"):
        assert flag in flags
    ini = [line.split()[0] for line in done.stdout.split("[pytest] ", 1)[1].splitlines()
           if line.startswith("  paircert")]
    assert len(ini) >= 9 and all(name.startswith("paircert_") for name in ini), ini


def test_no_fixture_of_paircert_shows_in_a_project_that_did_not_ask(tmp_path: Path) -> None:
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAIRCERT_")}
    done = subprocess.run([sys.executable, "-m", "pytest", "--fixtures", "-p", "no:cacheprovider"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "harness" not in done.stdout and "world --" not in done.stdout
    asked = subprocess.run([sys.executable, "-m", "pytest", "--fixtures", "-p", "no:cacheprovider",
                            "--paircert-profile", "camera-strong"], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=120, check=False)
    assert asked.returncode == 0, asked.stderr
    assert "harness/plugin/fixtures.py" in asked.stdout and "world [session scope]" in asked.stdout
