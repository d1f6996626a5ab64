"""The self-check: the suites pass (or are N/A) on every bundled emulated profile, and each fault of the zoo
(suites/faults/*.toml) makes the TCs expected to catch it FAIL, never ERROR, while every other TC of the modules
run PASSes or is N/A. The score is printed as caught / total. Every requirement has a fault that only its own
TCs catch.

Each run is ``pytest <suite modules> --profile ...`` in a subprocess, with the world built by
``tests/_selfcheck_world.py`` from the faults named in ``PAIRCERT_DEVICE_FAULTS`` / ``PAIRCERT_CLOUD_FAULTS``;
verdicts come from the run's ``results.jsonl``. Only the modules of a fault's expected TCs run, two at a time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from _zoo import CATALOGUE_DIR, ROOT, SUITES, Fault, catalogue, sole_catchers, tc_requirements

from harness.app.faults import ACTIVATOR_FAULTS
from harness.emulator.camera.faults import CAMERA_FAULTS
from harness.emulator.cloud.faults import CLOUD_FAULTS
from harness.profiles import load_profile

RUN_TIMEOUT_S = 300
PARALLEL = 2
SEED = "20240611"


def emulated_profiles() -> list[str]:
    names = []
    for path in sorted((ROOT / "profiles").glob("*.toml")):
        adapters = load_profile(str(path)).adapters
        if adapters.cloud.name == "emulated" and adapters.device.name == "emulated":
            names.append(path.stem)
    return names


def run_suites(profile: str, modules: Sequence[str], report_dir: Path, *, camera: Sequence[str] = (),
               cloud: Sequence[str] = (), activator: Sequence[str] = ()) -> list[dict[str, object]]:
    """Run the suite ``modules`` on ``profile`` with the named faults; the results.jsonl records."""
    env = dict(os.environ, PAIRCERT_DEVICE_FAULTS=",".join(camera), PAIRCERT_CLOUD_FAULTS=",".join(cloud),
               PAIRCERT_ACTIVATOR_FAULTS=",".join(activator),
               PYTHONPATH=os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]))
    for variable in ("PAIRCERT_PROFILE", "PAIRCERT_CLOUD", "PAIRCERT_DEVICE", "PAIRCERT_NETWORK"):
        env.pop(variable, None)
    command = [sys.executable, "-m", "pytest", *modules, "--profile", profile, "-p", "_selfcheck_world",
               "-p", "no:cacheprovider", "-q", "-W", "ignore", "--paircert-seed", SEED, "--report-dir", str(report_dir)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    results = report_dir / "results.jsonl"
    if not results.exists():
        raise AssertionError(f"no results from {' '.join(command)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_every_fault_of_every_catalogue_is_in_the_zoo() -> None:
    listed = {(f.kind, f.name) for f in catalogue()}
    builtin = {("camera", n) for n, e in CAMERA_FAULTS.items() if e.cls.__module__.startswith("harness.")}
    builtin |= {("cloud", n) for n, e in CLOUD_FAULTS.items() if e.cls.__module__.startswith("harness.")}
    expected = builtin | {("activator", n) for n in ACTIVATOR_FAULTS}
    assert expected - listed == set(), f"faults missing from {CATALOGUE_DIR}: {sorted(expected - listed)}"
    assert listed - expected == set(), f"unknown faults in {CATALOGUE_DIR}: {sorted(listed - expected)}"
    known_tcs = set(tc_requirements())
    for fault in catalogue():
        assert fault.catches, f"{fault.name} names no TC expected to catch it"
        assert set(fault.catches) <= known_tcs, f"{fault.name} names unknown TCs {set(fault.catches) - known_tcs}"


# Requirements that do not yet have a fault only their own TCs catch, and why. The test below fails both when
# another requirement loses its fault and when one of these gains one (then it comes off this list).
KNOWN_GAPS: dict[str, str] = {}  # requirement -> why no fault only its own TCs catch yet: none left


def test_every_requirement_has_a_fault_only_its_own_tcs_catch() -> None:
    """The zoo proves each requirement's TCs can fail: some fault is caught by them and by no other TC."""
    lonely = {req for req, faults in sole_catchers().items() if not faults}
    assert lonely - set(KNOWN_GAPS) == set(), f"requirements without a fault only their own TCs catch: {lonely}"
    assert set(KNOWN_GAPS) - lonely == set(), f"no longer gaps, take them off KNOWN_GAPS: {set(KNOWN_GAPS) - lonely}"


@pytest.mark.parametrize("profile", emulated_profiles())
def test_the_suites_pass_or_are_na_on_every_bundled_profile(profile: str, tmp_path: Path) -> None:
    results = run_suites(profile, [str(SUITES)], tmp_path)
    assert results, "the suites ran nothing"
    bad = [f"{r['verdict']} {r['tc']} {r['nodeid']}: {r['message']}" for r in results
           if r["verdict"] not in ("PASS", "N/A")]
    assert not bad, "\n".join(bad)


def judge(fault: Fault, results: list[dict[str, object]]) -> str | None:
    """None when every expected TC FAILed (and none ERRORed) and every other TC run PASSed, was N/A or was
    blocked (INCONCLUSIVE); else why the fault was not caught, or not caught by those TCs alone."""
    problems = []
    # INCONCLUSIVE is a TC blocked by the caught failure (e.g. the MQTT TCs when the device never comes online)
    others = sorted({f"{r['tc']} {r['verdict']}" for r in results
                     if r["tc"] not in fault.catches and r["verdict"] not in ("PASS", "N/A", "INCONCLUSIVE")})
    if others:
        problems.append(f"other TCs did not pass: {', '.join(others)}")
    for tc in fault.catches:
        verdicts = {str(r["verdict"]) for r in results if r["tc"] == tc}
        if "ERROR" in verdicts:
            message = next(str(r["message"]) for r in results if r["tc"] == tc and r["verdict"] == "ERROR")
            problems.append(f"{tc} ERRORed ({message[:200]})")
        elif "FAIL" not in verdicts:
            problems.append(f"{tc} did not fail ({', '.join(sorted(verdicts)) or 'did not run'})")
    return "; ".join(problems) or None


class Zoo:
    """The selected faults' runs, started in the background two at a time; each test waits for its own."""

    def __init__(self, base: Path, names: set[str] | None = None) -> None:
        self.base = base
        self.pool = ThreadPoolExecutor(max_workers=PARALLEL)
        self.runs: dict[str, Future[str | None]] = {
            f.name: self.pool.submit(self.attempt, f) for f in catalogue() if names is None or f.name in names}

    def attempt(self, fault: Fault) -> str | None:
        results = run_suites(fault.profile, fault.modules, self.base / f"{fault.kind}-{fault.name}",
                             camera=[fault.name] if fault.kind == "camera" else [],
                             cloud=[fault.name] if fault.kind == "cloud" else [],
                             activator=[fault.name] if fault.kind == "activator" else [])
        return judge(fault, results)

    def verdict(self, name: str) -> str | None:
        return self.runs[name].result(timeout=RUN_TIMEOUT_S)


def selected_faults(items: Sequence[pytest.Item]) -> set[str] | None:
    """The faults the selected tests of this module need (``-k <fault>`` runs just that one); None for all."""
    names: set[str] = set()
    for item in items:
        if item.path != Path(__file__) or not isinstance(item, pytest.Function):
            continue
        if item.originalname == "test_the_fault_zoo_score_is_total":
            return None
        if item.originalname == "test_the_fault_is_caught_by_the_tcs_expected_to_catch_it":
            names.add(str(item.callspec.params["name"]))
    return names


@pytest.fixture(scope="module")
def zoo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zoo]:
    runs = Zoo(tmp_path_factory.mktemp("zoo"), selected_faults(request.session.items))
    yield runs
    runs.pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("name", [f.name for f in catalogue()])
def test_the_fault_is_caught_by_the_tcs_expected_to_catch_it(zoo: Zoo, name: str) -> None:
    why = zoo.verdict(name)
    assert why is None, f"{name} not caught: {why}"


def test_the_fault_zoo_score_is_total(zoo: Zoo) -> None:
    faults = catalogue()
    missed = [(fault, why) for fault in faults if (why := zoo.verdict(fault.name)) is not None]
    print(f"\nfault zoo score: {len(faults) - len(missed)} / {len(faults)} caught")
    for fault, why in missed:
        print(f"  not caught: {fault.kind} fault {fault.name}: {why}")
    assert not missed, f"{len(missed)} fault(s) not caught: " + "; ".join(f"{f.name} ({w})" for f, w in missed)
