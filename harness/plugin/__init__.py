"""paircert's pytest plugin (entry point ``pytest11``): options, fixtures, markers, verdicts, report header.

A thin layer over libraries that know nothing of pytest (the adapters, the activator, :mod:`harness.conformance.lab`,
:mod:`harness.evidence`, :mod:`harness.conformance.verdicts`, :mod:`harness.redaction`).

**A good neighbour** (:mod:`harness.plugin.entry`): installed beside other plugins in any project, paircert adds only
namespaced options and ini keys and does nothing else until a run names a profile. Then, and only then, it declares
its markers and registers its hooks (:mod:`harness.plugin.hooks`) and its fixtures (:mod:`harness.plugin.fixtures`),
under the names the suites use.

Options (group ``paircert``), each also an environment variable and an ini key; **precedence: command line,
then environment, then ini** (then the profile, for the adapters): ``--paircert-profile`` / ``PAIRCERT_PROFILE`` /
``paircert_profile``, and likewise ``--paircert-cloud``, ``--paircert-device``, ``--paircert-network``,
``--paircert-report-dir``, ``--paircert-evidence-dir``, ``--paircert-seed``. Ini ``paircert_suites``: the
directories whose tests must carry a ``tc`` marker (default: the bundled suites); ini ``paircert_requirements``: a
vendor's requirement catalogue that extends paircert's, checked for traceability before the first test.

Fixtures (once active): ``profile``, ``world``, ``clock``, ``cloud``, ``network`` (session); ``device`` (the world's
device, brought to "factory reset, in pairing mode" before each test), ``lab``, ``activator``, ``evidence``
(function).

Markers: ``tc("TC-AREA-NNN", reqs=[...], title=...)`` (required on suite tests), ``requires(*capabilities)`` (N/A
with the profile's reason when not claimed, see :mod:`harness.plugin.markers`), ``slow``.

Verdicts (:mod:`harness.conformance.verdicts`) go on each report (``report.paircert_verdict``), into the terminal
(``.`` ``F`` ``E`` ``N`` ``I`` and a verdict summary), into ``<report-dir>/results.jsonl``, one line per test as it
finishes, into JUnit XML (:mod:`harness.report.junit`) and Allure results (:mod:`harness.report.allure_results`).
The exit status follows DESIGN.md: 0 all PASS or N/A, 1 any FAIL, 3 any ERROR and no FAIL.

Evidence: each suite test's timeline (and images, texts) under ``<evidence-dir>/<tc-id>/``; a test that FAILs or
ERRORs also gets its masked traffic as pcaps there (:mod:`harness.plugin.pcap`).
"""

from harness.plugin.entry import pytest_addhooks, pytest_addoption, pytest_configure

__all__ = ["pytest_addhooks", "pytest_addoption", "pytest_configure"]
