"""JUnit XML that CI tools read right (harness.report.junit): FAIL is <failure>, ERROR <error>, N/A and INCONCLUSIVE
<skipped> with the reason; each case is named after its TC id and title, its message is the deviation observed and
its system-out the full detail. The file is validated against junit-10.xsd (tests/vectors: the Jenkins xUnit
plugin's schema, which pytest's own xunit2 output is checked against) and read back with junitparser."""

from __future__ import annotations

from pathlib import Path

import pytest
import xmlschema
from junitparser import Error, Failure, JUnitXml, Skipped
from test_plugin import FAKES, PAIRCERT_ENV, VERDICT_SUITE, write_profile

from harness.report.junit import address, deviation

pytest_plugins = ["pytester"]

XSD = Path(__file__).with_name("vectors") / "junit-10.xsd"
KINDS = {1: None, 2: Failure, 3: Error, 4: Skipped, 5: Skipped, 6: Failure, 7: Failure, 8: Error, 9: Error,
         10: Error, 11: Skipped}
TITLED = '''
@pytest.mark.tc("TC-QR-001", reqs=["REQ-QR-001"], title="the device reads the QR code it is shown")
def test_titled():
    pass

@pytest.mark.tc("TC-QR-002", reqs=["REQ-QR-002"])
@pytest.mark.parametrize("case", ["plain", "emoji"])
def test_docstring(case):
    """The device sends only the 8-character token. It keeps the rest."""
'''


@pytest.fixture
def junit(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in PAIRCERT_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PC_TEST_WIFI", "wifi-pass-1234")
    pytester.makeconftest(FAKES.read_text(encoding="utf-8"))
    pytester.makeini("[pytest]\npaircert_suites = .\n")
    write_profile(pytester, "fake-cam")
    pytester.makepyfile(VERDICT_SUITE + TITLED)
    result = pytester.runpytest("--paircert-profile", "fake-cam.toml", "--paircert-report-dir", "reports",
                                "--junitxml", "reports/junit.xml")
    assert result.ret == 1, result.stdout.str()
    return pytester.path / "reports" / "junit.xml"


def test_the_junit_xml_is_valid_for_the_schema_jenkins_and_gitlab_read(junit: Path) -> None:
    schema = xmlschema.XMLSchema(XSD)
    schema.validate(junit)  # raises with the offending element when it is not
    assert schema.is_valid(junit)
    # The check bites: <properties> inside a <testcase>, as pytest writes paircert's TC id, is refused.
    inside = '<properties><property name="paircert_tc" value="TC-TOKEN-001" /></properties><system-out>'
    assert not schema.is_valid(junit.read_text(encoding="utf-8").replace("<system-out>", inside, 1))


def test_a_junit_parser_reads_the_verdicts_as_the_run_gave_them(junit: Path) -> None:
    suites = list(JUnitXml.fromfile(str(junit)))
    assert len(suites) == 1
    suite = suites[0]
    cases = {case.name.split(" ", 1)[0] + (" " + case.name.rsplit("[", 1)[1] if "[" in case.name else ""): case
             for case in suite}
    kinds = {int(tc.rsplit("-", 1)[1]): type(case.result[0]) if case.result else None
             for tc, case in cases.items() if tc.startswith("TC-TOKEN-")}
    assert kinds == KINDS
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (14, 3, 4, 3)  # paircert: FAIL 3, ERROR 4

    failure = cases["TC-TOKEN-002"]
    assert failure.name == "TC-TOKEN-002 assert"
    assert failure.result[0].message == "the device kept the token"  # the assertion's message, not a source dump
    assert "assert 1 == 2" in failure.system_out and "requirements: REQ-TOKEN-001" in failure.system_out
    assert cases["TC-TOKEN-003"].result[0].message == "AdapterError: the lab's hook timed out"
    assert cases["TC-TOKEN-005"].result[0].message == "INCONCLUSIVE: a real wait was not allowed"
    assert cases["TC-TOKEN-004"].result[0].message.startswith("N/A: the fake adapter does not offer")
    assert cases["TC-QR-001"].name == "TC-QR-001 the device reads the QR code it is shown"
    assert cases["TC-QR-002 emoji]"].name == "TC-QR-002 The device sends only the 8-character token [emoji]"
    assert {case.classname for case in suite} == {"test_a_junit_parser_reads_the_verdicts_as_the_run_gave_them"}


def test_the_address_is_the_one_pytest_gives_a_nodeid() -> None:
    assert address("suites/test_qr.py::test_a[x-y]") == ("suites.test_qr", "test_a[x-y]")
    assert address("tests/test_a.py::TestB::test_c") == ("tests.test_a.TestB", "test_c")
    assert deviation("AssertionError: the token was reused") == "the token was reused"
    assert deviation("AdapterError: the hook timed out") == "AdapterError: the hook timed out"
