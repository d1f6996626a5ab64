"""What every test module shares: the longest tests first, and the fuzz self-check's table, gathered from the
tests' reports (so that it also comes back from xdist workers) and printed once at the end of the run."""

from __future__ import annotations

from typing import Any

# pytester's in-process runs (tests/test_junit.py, test_plugin*.py) drop every module first imported during the
# inner run from sys.modules when they end. cryptography's Rust core caches its Python classes (x509.Name, the hash
# algorithms) on first use and is never imported twice, so a later re-import of cryptography's Python modules makes
# classes the Rust core refuses ("Expecting x509.Name object"). Importing them here puts them in every snapshot.
import cryptography.hazmat.primitives.asymmetric.ec
import cryptography.hazmat.primitives.asymmetric.padding
import cryptography.hazmat.primitives.asymmetric.rsa
import cryptography.hazmat.primitives.ciphers.aead
import cryptography.hazmat.primitives.hashes
import cryptography.hazmat.primitives.serialization
import cryptography.x509
import cryptography.x509.oid  # noqa: F401
import pytest

ROW_KEY = "fuzz_selfcheck_row"  # tests/test_fuzz_selfcheck.py records one row per campaign under this name
HEADER = f"{'fault':<26} {'kind':<7} {'profile':<14} {'target':<9} {'verdict':<8} {'examples':>8} {'seconds':>8}"
_rows: list[str] = []
# Modules whose tests start first, longest first (as measured with --durations): the self-check (its runner pool
# then works beside everything else), the real-path tests (mostly waiting on real time), then the modules that each
# take a worker for half a minute or more. Under xdist (make test: --dist loadfile --no-loadscope-reorder) the work
# units go out in this order, so that no long module starts last and keeps one worker busy while the others have
# nothing left.
FIRST = ("test_selfcheck.py", "test_realpath.py", "test_realpath_blocked.py", "test_wheel.py",
         "test_adapter_openapi.py", "test_report_browser.py", "test_load_readme.py", "test_load_openapi.py",
         "test_run_options.py", "test_fuzz_selfcheck.py", "test_runner.py", "test_load.py", "test_broker_will.py",
         "test_blame_diagnosis.py", "test_external_faults.py", "test_broker.py", "test_vendor_example.py",
         "test_stateful.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: index for index, name in enumerate(FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(FIRST)))  # stable: the rest keep their order


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        _rows.extend(str(value) for name, value in report.user_properties if name == ROW_KEY)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _rows:
        terminalreporter.write_sep("-", "the fuzzer against the fault zoo")
        terminalreporter.write_line(HEADER)
        for line in sorted(_rows):
            terminalreporter.write_line(line)
