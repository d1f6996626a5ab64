"""What the plugin writes, checked from outside in subprocesses: no secret in any byte, xdist, the real world.

- Redaction: a run with unique sentinel secrets (Wi-Fi password, AuthKey, localKey, MQTT password, and a
  password the lab generates) that prints, logs, notes, attaches and asserts on them; every byte under the
  report directory (results.jsonl, session.json, worlds.jsonl, evidence, junit.xml, allure-results) is searched.
- ``-n 2``: results come back from the workers through the reports.
- One smoke run against the real emulated world with the bundled camera-strong profile.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_plugin import PAIRCERT_ENV, write_profile

pytest_plugins = ["pytester"]

FAKES = Path(__file__).with_name("_plugin_fakes.py")

SENTINELS = {
    "PC_TEST_WIFI": "SENTINEL-wifi-pass-7f3a9c",
    "FAKE_AUTHKEY": "SENTINELAUTHKEY0123456789abcdef0",
}
LOCAL_KEY = "SENTINEL-localkey-55aa66"
MQTT_PASSWORD = "SENTINEL-mqtt-pw-90ab12"

LEAKY_SUITE = f"""
import logging
import os
import pytest
from harness.redaction import learn

@pytest.mark.tc("TC-TOKEN-001", reqs=["REQ-TOKEN-001"])
def test_leaks_everything(lab, evidence, device):
    learn("{LOCAL_KEY}")
    learn("{MQTT_PASSWORD}")
    generated = lab.wifi(ssid="second-ap").password
    open(os.environ["PC_GENERATED_OUT"], "w").write(generated)
    secrets = [lab.wifi().password, device.licence.auth_key, "{LOCAL_KEY}", "{MQTT_PASSWORD}", generated]
    print("stdout:", secrets)
    logging.getLogger("lab").warning("log: %s", secrets)
    evidence.note("keys", local_key="{LOCAL_KEY}", text=" ".join(secrets), nested={{"password": generated}})
    evidence.attach_text("secrets", repr(secrets))
    outcome = lab.pair("qr")
    assert outcome.ok, f"pairing failed with {{secrets}} and {{outcome}}"
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in PAIRCERT_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in SENTINELS.items():
        monkeypatch.setenv(name, value)
    pytester.makeconftest(FAKES.read_text(encoding="utf-8"))
    pytester.makeini("[pytest]\npaircert_suites = .\n")
    write_profile(pytester, "fake-cam")
    return pytester


def test_no_secret_reaches_any_file_written(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PC_GENERATED_OUT", str(project.path / "generated.txt"))
    project.makepyfile(LEAKY_SUITE)
    result = project.runpytest_subprocess("--paircert-profile", "fake-cam.toml", "--paircert-report-dir", "reports",
                                          "--junitxml", "reports/junit.xml", "--alluredir", "reports/allure-results")
    assert result.ret == 1, result.stdout.str()
    generated = (project.path / "generated.txt").read_text()
    secrets = [*SENTINELS.values(), LOCAL_KEY, MQTT_PASSWORD, generated]
    files = [p for p in (project.path / "reports").rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"results.jsonl", "session.json", "worlds.jsonl", "junit.xml", "timeline.json", "secrets.txt",
            "qr-text.txt", "qr.png"} <= names
    assert any(p.name.endswith("-result.json") for p in files)
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"{secret} leaked into {path}"
    assert "«redacted»" in (project.path / "reports" / "junit.xml").read_text(encoding="utf-8")
    assert secrets[0] not in result.stdout.str() and LOCAL_KEY not in result.stdout.str()
    allure = [json.loads(p.read_text(encoding="utf-8")) for p in files if p.name.endswith("-result.json")]
    labels = {(label["name"], label["value"]) for label in allure[0]["labels"]}
    assert {("story", "TC-TOKEN-001"), ("epic", "token"), ("tag", "REQ-TOKEN-001"), ("severity", "critical"),
            ("requirement", "REQ-TOKEN-001"), ("verdict", "FAIL")} <= labels
    attached = {a["name"] for a in allure[0]["attachments"]}  # the evidence files (harness.report.allure_results)
    assert {"timeline.json", "timeline.txt", "qr.png", "secrets.txt"} <= attached


def test_results_come_back_from_xdist_workers(project: pytest.Pytester) -> None:
    project.makepyfile("""
        import pytest

        @pytest.mark.tc("TC-TOKEN-001", reqs=["REQ-TOKEN-001"])
        def test_pass(lab):
            lab.account()

        @pytest.mark.tc("TC-TOKEN-002", reqs=["REQ-TOKEN-002"])
        def test_fail():
            assert False, "the device kept the token"

        @pytest.mark.tc("TC-TOKEN-003", reqs=["REQ-TOKEN-003"])
        @pytest.mark.requires("mode:ap")
        def test_na():
            pass
    """)
    result = project.runpytest_subprocess("--paircert-profile", "fake-cam.toml", "--paircert-report-dir", "reports",
                                          "-n", "2", "--junitxml", "reports/junit.xml")
    assert result.ret == 1, result.stdout.str()
    lines = (project.path / "reports" / "results.jsonl").read_text(encoding="utf-8").splitlines()
    records = {r["tc"]: r for r in map(json.loads, lines)}
    assert {k: r["verdict"] for k, r in records.items()} == {"TC-TOKEN-001": "PASS", "TC-TOKEN-002": "FAIL",
                                                             "TC-TOKEN-003": "N/A"}
    assert {r["worker"] for r in records.values()} <= {"gw0", "gw1"}
    result.stdout.fnmatch_lines(["PASS 1  FAIL 1  ERROR 0  N/A 1  INCONCLUSIVE 0*", "paircert exit status 1: a FAIL"])
    junit = (project.path / "reports" / "junit.xml").read_text(encoding="utf-8")  # rewritten by the controller
    assert 'errors="0" failures="1" skipped="1" tests="3"' in junit
    for name in ("TC-TOKEN-001 pass", "TC-TOKEN-002 fail", "TC-TOKEN-003 na"):
        assert f'name="{name}"' in junit


def test_a_qr_pairing_passes_on_the_emulated_world_with_camera_strong(pytester: pytest.Pytester,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PAIRCERT_ENV:
        monkeypatch.delenv(name, raising=False)
    pytester.makeini("[pytest]\npaircert_suites = .\n")
    pytester.makepyfile("""
        import pytest

        @pytest.mark.tc("TC-TOKEN-001", reqs=["REQ-TOKEN-004"])
        @pytest.mark.requires("mode:qr", "binding:strong")
        def test_a_device_paired_with_a_token_lands_in_the_tokens_home(lab, cloud):
            account = lab.account()
            home = lab.home(account)
            outcome = lab.pair("qr", account=account, home=home)
            assert outcome.ok, outcome.error
            assert [d.dev_id for d in cloud.list_devices(home)] == [outcome.device_model.dev_id]
    """)
    result = pytester.runpytest_subprocess("--paircert-profile", "camera-strong", "--paircert-report-dir", "reports")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["paircert adapters: cloud=emulated (profile), device=emulated (profile), *",
                                 "PASS 1  FAIL 0*"])
    timeline = (pytester.path / "reports" / "evidence" / "TC-TOKEN-001" / "timeline.txt").read_text(encoding="utf-8")
    assert "activator  outcome" in timeline


MIXED_SUITE = """
    import pytest

    @pytest.mark.tc("TC-TOKEN-001", reqs=["REQ-TOKEN-001"])
    def test_pass(lab, evidence):
        evidence.note("passing", step=1)

    @pytest.mark.tc("TC-TOKEN-002", reqs=["REQ-TOKEN-002"])
    def test_fail(evidence):
        evidence.note("failing", step=1)
        assert False, "the device kept the token"
"""


@pytest.mark.parametrize(("mode", "kept"), [("all", {"TC-TOKEN-001", "TC-TOKEN-002"}), ("failed", {"TC-TOKEN-002"}),
                                            ("none", set())])
def test_evidence_is_kept_for_the_tests_the_option_names(project: pytest.Pytester, mode: str, kept: set[str]) -> None:
    project.makepyfile(MIXED_SUITE)
    result = project.runpytest_subprocess("--paircert-profile", "fake-cam.toml", "--paircert-report-dir", "reports",
                                          "--paircert-evidence", mode)
    assert result.ret == 1, result.stdout.str()
    records = {r["tc"]: r for r in map(json.loads, (project.path / "reports" / "results.jsonl").read_text(
        encoding="utf-8").splitlines())}
    assert {tc: r["verdict"] for tc, r in records.items()} == {"TC-TOKEN-001": "PASS", "TC-TOKEN-002": "FAIL"}
    evidence = project.path / "reports" / "evidence"
    written = {p.name for p in evidence.iterdir()} if evidence.exists() else set()
    assert written == kept
    assert {tc for tc, r in records.items() if r["evidence"]} == kept
    for tc in kept:
        assert (evidence / tc / "timeline.txt").is_file()


def test_an_unknown_evidence_mode_is_a_usage_error(project: pytest.Pytester) -> None:
    project.makepyfile(MIXED_SUITE)
    result = project.runpytest_subprocess("--paircert-profile", "fake-cam.toml", "--paircert-evidence", "some")
    assert result.ret == 4, result.stdout.str() + result.stderr.str()
    assert "--paircert-evidence: expected one of all, failed, none, got 'some'" in result.stderr.str()


def test_paircert_run_offers_the_plugins_evidence_modes() -> None:
    from harness.cli.run import cli_command
    from harness.plugin.options import EVIDENCE_CHOICES

    choice = next(p for p in cli_command.params if p.name == "evidence").type
    assert tuple(choice.choices) == EVIDENCE_CHOICES  # type: ignore[attr-defined]
