"""paircert's pytest plugin (entry point ``pytest11``): options, fixtures, markers, verdicts, report header.

A thin layer over libraries that know nothing of pytest (the adapters, the activator, :mod:`harness.conformance.lab`,
:mod:`harness.evidence`, :mod:`harness.conformance.verdicts`, :mod:`harness.redaction`).

Inert without a profile: in a run with no ``--profile`` (nor ``PAIRCERT_PROFILE``, nor ini ``paircert_profile``)
the plugin only registers its markers; no world is built and no marker is required.

Options (group ``paircert``), each also an environment variable and an ini key; **precedence: command line,
then environment, then ini** (then the profile, for the adapters): ``--profile`` / ``PAIRCERT_PROFILE`` /
``paircert_profile``, and likewise ``--cloud``, ``--device``, ``--network``, ``--report-dir``,
``--evidence-dir``, ``--paircert-seed``. Ini ``paircert_suites``: the directories whose tests must carry a
``tc`` marker (default: the bundled ``suites/``); ini ``paircert_requirements``: another requirement catalogue.

Hooks live in :mod:`harness.plugin.hooks`, fixtures in :mod:`harness.plugin.fixtures`; both are re-exported
here, the module pytest loads.

Fixtures: ``profile``, ``world``, ``clock``, ``cloud``, ``network`` (session); ``device`` (the world's device,
brought to "factory reset, in pairing mode" before each test), ``lab``, ``activator``, ``evidence`` (function).

Markers: ``tc("TC-AREA-NNN", reqs=[...])`` (required on suite tests), ``requires(*capabilities)`` (N/A with
the profile's reason when not claimed, see :mod:`harness.plugin.markers`), ``slow``.

Verdicts (:mod:`harness.conformance.verdicts`) go on each report (``report.paircert_verdict``), into ``user_properties``
(JUnit XML), into the terminal (``.`` ``F`` ``E`` ``N`` ``I`` and a verdict summary), and into
``<report-dir>/results.jsonl``, one line per test as it finishes. The exit status follows DESIGN.md: 0 all
PASS or N/A, 1 any FAIL, 3 any ERROR and no FAIL.

Evidence: each suite test's timeline (and images, texts) under ``<evidence-dir>/<tc-id>/``; a test that FAILs or
ERRORs also gets its masked traffic as pcaps there (:mod:`harness.plugin.pcap`).
"""

from harness.plugin.fixtures import activator, clock, cloud, device, evidence, lab, network, profile, world
from harness.plugin.hooks import (
    pytest_addhooks,
    pytest_addoption,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_make_collect_report,
    pytest_paircert_activator_class,
    pytest_paircert_make_world,
    pytest_report_header,
    pytest_report_teststatus,
    pytest_runtest_makereport,
    pytest_runtest_setup,
    pytest_sessionfinish,
    pytest_terminal_summary,
    pytest_unconfigure,
)

__all__ = [
    "activator",
    "clock",
    "cloud",
    "device",
    "evidence",
    "lab",
    "network",
    "profile",
    "pytest_addhooks",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_make_collect_report",
    "pytest_paircert_activator_class",
    "pytest_paircert_make_world",
    "pytest_report_header",
    "pytest_report_teststatus",
    "pytest_runtest_makereport",
    "pytest_runtest_setup",
    "pytest_sessionfinish",
    "pytest_terminal_summary",
    "pytest_unconfigure",
    "world",
]
