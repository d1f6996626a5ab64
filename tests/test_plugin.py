"""The pytest plugin, black-box with pytester: options, header, markers, verdicts, exit status, results.

Each test builds a small project in a temporary directory: a fake world (tests/_plugin_fakes.py as its
conftest), a profile, an ini that makes ``.`` a suite directory, and a few suite tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

# In-process pytester runs drop the modules they imported afterwards; asyncio (under the activator) must not be
# imported twice in one process, so everything the inner runs use is imported here, once. (paircert's plugin imports
# nothing of its own until a run names a profile, so an inner run would otherwise be the first to import these.)
import harness.app.activator
import harness.clock
import harness.plugin.fixtures
import harness.plugin.hooks  # noqa: F401

pytest_plugins = ["pytester"]

FAKES = Path(__file__).with_name("_plugin_fakes.py")

PROFILE = """\
description = "a fake camera for the plugin's tests"

[device]
name = "fake camera"
kind = "camera"
pid = "pcertcamstrong01"
firmware = "{firmware}"

[capabilities]
pairing_modes = {modes}
{extra}binding_mode = "strong"
mqtt_protocol_version = "2.3"
activation_api = "thing.device.opensdk.active"

[parameters]
activator_timeout_s = 2
real_time_waits = false

[parameters.wifi]
ssid = "lab-net"
password = "env:PC_TEST_WIFI"
"""

PAIRCERT_ENV = ("PAIRCERT_PROFILE", "PAIRCERT_CLOUD", "PAIRCERT_DEVICE", "PAIRCERT_NETWORK", "PAIRCERT_REPORT_DIR",
                "PAIRCERT_EVIDENCE_DIR", "PAIRCERT_SEED")


def write_profile(pytester: pytest.Pytester, name: str, *, firmware: str = "1.2.3", modes: str = '["qr"]') -> Path:
    extra = 'ez_channels = ["broadcast"]\n' if "ez" in modes else ""
    path = pytester.path / f"{name}.toml"
    path.write_text(PROFILE.format(firmware=firmware, modes=modes, extra=extra), encoding="utf-8")
    return path


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in PAIRCERT_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PC_TEST_WIFI", "wifi-pass-1234")
    pytester.makeconftest(FAKES.read_text(encoding="utf-8"))
    pytester.makeini("[pytest]\npaircert_suites = .\n")
    write_profile(pytester, "fake-cam")
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("--paircert-profile", "fake-cam.toml", "--paircert-report-dir", "reports", *args)


def results(pytester: pytest.Pytester) -> dict[str, dict[str, Any]]:
    lines = (pytester.path / "reports" / "results.jsonl").read_text(encoding="utf-8").splitlines()
    return {r["tc"]: r for r in map(json.loads, lines)}


def tc(n: int, req: str = "REQ-TOKEN-001") -> str:
    return f'@pytest.mark.tc("TC-TOKEN-{n:03d}", reqs=["{req}"])'


# -- inert without a profile ---------------------------------------------------------------------------------


def test_without_a_profile_the_plugin_is_inert(project: pytest.Pytester) -> None:
    project.makepyfile("""
        def test_plain():
            assert True

        def test_asks_for_a_fixture(lab):
            pass
    """)
    result = project.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    assert not [line for line in result.outlines if line.startswith("paircert ")]
    result.stdout.fnmatch_lines(["*fixture 'lab' not found*"])  # paircert registers its fixtures only when asked
    assert not (project.path / "reports").exists()
    names = {name for name, _ in project.parseconfigure().pluginmanager.list_name_plugin()}
    assert "paircert" in names and not names & {"paircert-hooks", "paircert-fixtures", "paircert-run"}


# -- options and the report header ---------------------------------------------------------------------------


def test_options_precedence_is_command_line_then_environment_then_ini(
        project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, firmware in (("from-ini", "1.0.1"), ("from-env", "1.0.2"), ("from-cli", "1.0.3")):
        write_profile(project, name, firmware=firmware)
    project.makeini("[pytest]\npaircert_suites = .\npaircert_profile = from-ini.toml\n")
    project.makepyfile(f"import pytest\n\n{tc(1)}\ndef test_one():\n    pass\n")

    header = project.runpytest().stdout.str()
    assert "profile from-ini (ini paircert_profile)" in header and "firmware 1.0.1" in header

    monkeypatch.setenv("PAIRCERT_PROFILE", "from-env.toml")
    header = project.runpytest().stdout.str()
    assert "profile from-env (PAIRCERT_PROFILE)" in header and "firmware 1.0.2" in header

    header = project.runpytest("--paircert-profile", "from-cli.toml").stdout.str()
    assert "profile from-cli (command line)" in header and "firmware 1.0.3" in header
    assert "precedence: command line > environment > ini" in header


def test_the_report_header_names_profile_hash_adapters_firmware_version_and_seeds(project: pytest.Pytester) -> None:
    from harness import __version__
    from harness.profiles import load_profile

    project.makepyfile(f"import pytest\n\n{tc(1)}\ndef test_one():\n    pass\n")
    result = run(project, "--paircert-network", "air", "--paircert-seed", "4242")
    digest = load_profile(project.path / "fake-cam.toml").hash()
    result.stdout.fnmatch_lines([
        f"paircert {__version__}: profile fake-cam (command line) sha256 {digest}",
        "paircert device: fake camera, pid pcertcamstrong01, firmware 1.2.3",
        "paircert adapters: cloud=emulated (profile), device=emulated (profile), network=air (command line)",
        "paircert seed: 4242 (command line; replay with --paircert-seed 4242), hypothesis seed: *",
    ])


def test_a_bad_profile_is_a_usage_error_with_the_profile_error(project: pytest.Pytester) -> None:
    (project.path / "broken.toml").write_text('[device]\nname = "x"\n', encoding="utf-8")
    result = project.runpytest("--paircert-profile", "broken.toml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --paircert-profile (command line): *broken.toml: device.kind: required key "
                                 "is missing",
                                 "*broken.toml: capabilities: required key is missing"])


def test_a_bad_adapter_option_is_a_usage_error_naming_the_option(project: pytest.Pytester) -> None:
    result = run(project, "--paircert-cloud", "no such thing")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --paircert-cloud: expected a registered adapter name*"])
    result = run(project, "--paircert-device", "nonexistent")
    result.stderr.fnmatch_lines(["ERROR: --paircert-device: no device adapter named 'nonexistent'*registered:*"
                                 "emulated*"])


# -- markers -------------------------------------------------------------------------------------------------


def test_a_suite_test_without_a_tc_marker_is_a_collection_error(project: pytest.Pytester) -> None:
    project.makepyfile(f"import pytest\n\n{tc(1)}\ndef test_marked():\n    pass\n\ndef test_unmarked():\n    pass\n")
    result = run(project)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*test_unmarked: missing tc marker: every suite test carries*"])


def test_tests_outside_the_suite_directories_need_no_tc_marker(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\npaircert_suites = suites\n")
    project.makepyfile("def test_unmarked():\n    pass\n")
    run(project).assert_outcomes(passed=1)


def test_a_duplicated_tc_id_is_a_collection_error(project: pytest.Pytester) -> None:
    project.makepyfile(test_a=f"import pytest\n\n{tc(7)}\ndef test_first():\n    pass\n",
                       test_b=f"import pytest\n\n{tc(7)}\ndef test_second():\n    pass\n")
    result = run(project)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*test_second: duplicated TC id TC-TOKEN-007: already on test_a.py::test_first*"])


def test_parametrized_cases_share_their_tc_id(project: pytest.Pytester) -> None:
    project.makepyfile(f"import pytest\n\n{tc(1)}\n@pytest.mark.parametrize('n', [1, 2])\ndef test_p(n):\n"
                       "    pass\n")
    run(project).assert_outcomes(passed=2)


def test_an_unknown_requirement_id_is_a_collection_error(project: pytest.Pytester) -> None:
    project.makepyfile(f"import pytest\n\n{tc(1, req='REQ-TOKEN-999')}\ndef test_one():\n    pass\n")
    result = run(project)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*TC-TOKEN-001 names unknown requirement id(s) REQ-TOKEN-999*"])


@pytest.mark.parametrize(("marker", "why"), [
    ('tc("TC-TOKEN-001")', "TC-TOKEN-001 names no requirement"),
    ('tc("TOKEN-1", reqs=["REQ-TOKEN-001"])', "TC id 'TOKEN-1' is not of the form TC-<AREA>-NNN"),
    ('tc("TC-TOKEN-001", requirements=["REQ-TOKEN-001"])', "unknown keyword argument(s) requirements"),
    ('tc("TC-TOKEN-001", reqs="REQ-TOKEN-001")', "reqs must be a list of requirement id strings"),
])
def test_bad_tc_arguments_are_usage_errors_naming_the_signature(project: pytest.Pytester, marker: str,
                                                                 why: str) -> None:
    project.makepyfile(f"import pytest\n\n@pytest.mark.{marker}\ndef test_one():\n    pass\n")
    result = run(project)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*bad tc marker ({why}); expected tc(\"TC-<AREA>-NNN\", reqs=[*"])


def test_requires_not_claimed_is_na_with_the_profiles_reason(project: pytest.Pytester) -> None:
    project.makepyfile(f"""
        import pytest

        {tc(1)}
        @pytest.mark.requires("mode:ez")
        def test_ez(device):
            raise AssertionError("never runs")

        {tc(2)}
        @pytest.mark.requires("mode:qr", "binding:strong", "cloud:time-travel")
        def test_qr():
            pass

        {tc(3)}
        @pytest.mark.requires("cloud:issue-licences")
        def test_licences():
            pass
    """)
    result = run(project, "-v")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*test_ez N/A*", "*test_qr PASS*", "*test_licences N/A*"])
    by_tc = results(project)
    assert by_tc["TC-TOKEN-001"]["verdict"] == "N/A"
    assert by_tc["TC-TOKEN-001"]["message"] == "profile fake-cam does not claim pairing mode 'ez'"
    assert by_tc["TC-TOKEN-003"]["message"] == ("the fake cloud adapter does not offer the capability "
                                                "'issue-licences' (cloud:issue-licences)")
    assert by_tc["TC-TOKEN-002"]["verdict"] == "PASS"


def test_an_unknown_capability_is_a_usage_error(project: pytest.Pytester) -> None:
    project.makepyfile(f"import pytest\n\n{tc(1)}\n@pytest.mark.requires('mode:carrier-pigeon')\n"
                       "def test_one():\n    pass\n")
    result = run(project)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown capability 'mode:carrier-pigeon' in requires(*known: mode:qr*"])


# -- verdicts and the exit status ----------------------------------------------------------------------------

VERDICT_SUITE = f"""
import time
import pytest
from harness.adapters.contracts import AdapterError, CapabilityMissing
from harness.protocol.errors import RemoteProtocolError
from harness.conformance.verdicts import Inconclusive, fail_device

{tc(1)}
def test_pass(lab):
    lab.account()

{tc(2)}
def test_assert():
    assert 1 == 2, "the device kept the token"

{tc(3)}
def test_adapter_error():
    raise AdapterError("the lab's hook timed out")

{tc(4)}
def test_capability_missing():
    raise CapabilityMissing("fake", "issue-licences")

{tc(5)}
def test_inconclusive():
    raise Inconclusive("a real wait was not allowed")

{tc(6)}
def test_remote_protocol_error():
    raise RemoteProtocolError("bad frame", section="§3.1")

{tc(7)}
def test_fail_device():
    fail_device("rebound by a stranger", section="§6")

{tc(8)}
@pytest.mark.timeout(0.5)
def test_hangs():
    time.sleep(10)

@pytest.fixture
def broken_fixture():
    raise RuntimeError("the lab setup broke")

{tc(9)}
def test_setup_error(broken_fixture):
    pass

{tc(10)}
def test_unexpected_exception():
    {{}}["missing"]

{tc(11)}
def test_skip():
    pytest.skip("not for this lab")
"""

EXPECTED = {1: "PASS", 2: "FAIL", 3: "ERROR", 4: "N/A", 5: "INCONCLUSIVE", 6: "FAIL", 7: "FAIL", 8: "ERROR",
            9: "ERROR", 10: "ERROR", 11: "N/A"}


def test_each_verdict_maps_from_what_the_test_raised(project: pytest.Pytester) -> None:
    project.makepyfile(VERDICT_SUITE)
    result = run(project, "--junitxml", "reports/junit.xml")
    assert result.ret == 1  # any FAIL
    by_tc = results(project)
    assert {int(k[-3:]): v["verdict"] for k, v in by_tc.items()} == EXPECTED
    assert by_tc["TC-TOKEN-002"]["message"].startswith("AssertionError: the device kept the token")
    assert by_tc["TC-TOKEN-004"]["message"] == "the fake adapter does not offer the capability 'issue-licences'"
    assert by_tc["TC-TOKEN-005"]["message"] == "a real wait was not allowed"
    assert by_tc["TC-TOKEN-008"]["message"].startswith("the test hung: Failed: Timeout")
    assert by_tc["TC-TOKEN-009"]["phase"] == "setup"
    result.stdout.fnmatch_lines(["*= paircert verdicts =*", "PASS 1  FAIL 3  ERROR 4  N/A 2  INCONCLUSIVE 1*",
                                 "paircert exit status 1: a FAIL"])
    junit = (project.path / "reports" / "junit.xml").read_text(encoding="utf-8")  # harness.report.junit
    assert '<skipped type="INCONCLUSIVE" message="INCONCLUSIVE: a real wait was not allowed"' in junit
    assert '<failure type="FAIL" message="the device kept the token' in junit
    assert 'name="paircert_' not in junit  # no paircert properties left inside <testcase>


@pytest.mark.parametrize(("keep", "status"), [((1, 4, 5, 11), 0), ((1, 3, 4), 3), ((1, 2, 3), 1), ((1, 9), 3)])
def test_the_exit_status_follows_the_verdicts(project: pytest.Pytester, keep: tuple[int, ...], status: int) -> None:
    project.makepyfile(VERDICT_SUITE)
    selected = " or ".join(name for n, name in enumerate(
        ["", "test_pass", "test_assert", "test_adapter_error", "test_capability_missing", "test_inconclusive",
         "", "", "", "test_setup_error", "", "test_skip"]) if n in keep)
    assert run(project, "-k", selected).ret == status


def test_results_jsonl_has_one_record_per_test(project: pytest.Pytester) -> None:
    project.makepyfile(f"""
        import pytest

        {tc(1, req='REQ-TOKEN-002')}
        def test_one(evidence):
            evidence.note("hello", n=1)
    """)
    run(project)
    record = results(project)["TC-TOKEN-001"]
    assert set(record) == {"tc", "reqs", "area", "severity", "verdict", "message", "phase", "nodeid", "duration_s",
                           "start", "stop", "evidence", "worker", "title", "name"}
    assert (record["title"], record["name"]) == ("one", "TC-TOKEN-001 one")  # harness.conformance.titles
    assert record["reqs"] == ["REQ-TOKEN-002"] and record["area"] == "token" and record["severity"] == "critical"
    assert record["nodeid"] == "test_results_jsonl_has_one_record_per_test.py::test_one"
    assert record["evidence"] == "evidence/TC-TOKEN-001" and record["worker"] is None
    timeline = (project.path / "reports" / record["evidence"] / "timeline.json").read_text(encoding="utf-8")
    assert '"hello"' in timeline
    session = json.loads((project.path / "reports" / "session.json").read_text(encoding="utf-8"))
    assert session["exit_status"] == 0 and session["counts"] == {"PASS": 1}
    assert session["options"]["profile"]["source"] == "command line"


# -- the device fixture, the lab, time ---------------------------------------------------------------------


def test_a_device_that_cannot_be_prepared_is_broken_for_the_run(project: pytest.Pytester,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_DEVICE_BROKEN", "1")
    project.makepyfile(f"import pytest\n\n{tc(1)}\ndef test_a(device):\n    pass\n\n"
                       f"{tc(2)}\ndef test_b(device):\n    pass\n")
    result = run(project)
    assert result.ret == 3
    by_tc = results(project)
    assert by_tc["TC-TOKEN-001"]["verdict"] == "ERROR"
    assert "did not return to pairing mode after a reset" in by_tc["TC-TOKEN-001"]["message"]
    assert "cannot be power cycled" in by_tc["TC-TOKEN-001"]["message"]
    assert by_tc["TC-TOKEN-002"]["verdict"] == "INCONCLUSIVE"
    assert by_tc["TC-TOKEN-002"]["message"].startswith("blocked: the device did not return to pairing mode")


def test_a_device_that_a_reset_does_not_bring_back_is_power_cycled_and_the_run_goes_on(
        project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_DEVICE_BROKEN", "2")
    monkeypatch.setenv("FAKE_POWER_CYCLE", "works")
    project.makepyfile("import pytest\n\n" + "".join(f"{tc(n)}\ndef test_{n}(device):\n    pass\n\n"
                                                      for n in (1, 2, 3, 4)))
    result = run(project)
    assert result.ret == 0, result.stdout.str()
    assert {tc_id: r["verdict"] for tc_id, r in results(project).items()} == {
        f"TC-TOKEN-00{n}": "PASS" for n in (1, 2, 3, 4)}
    timeline = (project.path / "reports" / "evidence" / "TC-TOKEN-003" / "timeline.txt").read_text()
    assert "no pairing mode after a reset: power cycling" in timeline
    assert "the device came back after a power cycle" in timeline


def test_a_device_that_a_power_cycle_does_not_bring_back_blocks_the_tests_that_need_it(
        project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_DEVICE_BROKEN", "2")
    monkeypatch.setenv("FAKE_POWER_CYCLE", "fails")
    project.makepyfile("import pytest\n\n" + "".join(f"{tc(n)}\ndef test_{n}(device):\n    pass\n\n"
                                                      for n in (1, 2, 3, 4))
                       + f"{tc(5)}\ndef test_5():\n    pass\n")
    result = run(project)
    assert result.ret == 3, result.stdout.str()
    by_tc = results(project)
    assert [by_tc[f"TC-TOKEN-00{n}"]["verdict"] for n in (1, 2, 3, 4, 5)] == [
        "PASS", "PASS", "ERROR", "INCONCLUSIVE", "PASS"]
    assert "did not come back after a power cycle" in by_tc["TC-TOKEN-003"]["message"]
    assert "relay.sh" in by_tc["TC-TOKEN-003"]["message"]
    assert by_tc["TC-TOKEN-004"]["message"].startswith("blocked: the device did not come back after a power cycle")


def test_lab_pairs_and_records_the_qr_and_the_outcome(project: pytest.Pytester) -> None:
    project.makepyfile(f"""
        import pytest

        {tc(1)}
        def test_pair(lab):
            outcome = lab.pair("qr")
            assert outcome.calls == 1 and not outcome.ok
            assert lab.token_lifetime_s == 600
    """)
    result = run(project)
    assert result.ret == 0, result.stdout.str()
    evidence = project.path / "reports" / "evidence" / "TC-TOKEN-001"
    assert (evidence / "qr.png").read_bytes().startswith(b"\x89PNG")
    timeline = (evidence / "timeline.txt").read_text(encoding="utf-8")
    for expected in ("activator  outcome", "device     factory reset", "device     qr shown", "step       fake-device"):
        assert expected in timeline


def test_advance_travels_in_time_or_is_inconclusive(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    project.makepyfile(f"""
        import pytest

        {tc(1)}
        def test_advance(lab, clock):
            before = clock.time()
            lab.advance(601)
            assert clock.time() - before >= 601
    """)
    assert run(project).ret == 0
    monkeypatch.setenv("FAKE_CLOUD_CAPS", "issue-licences")
    result = run(project, "-rs")
    assert result.ret == 0
    assert "cannot let 601 s pass: the fake cloud adapter cannot travel in time" in results(project)["TC-TOKEN-001"][
        "message"]
