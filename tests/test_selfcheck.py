"""The self-check: the suites pass (or are N/A) on every bundled emulated profile, and each fault of the zoo
(suites/faults/*.toml) makes the TCs expected to catch it FAIL, never ERROR, while every other TC of the modules
run PASSes or is N/A. The score is printed as caught / total. Every requirement has a fault that only its own
TCs catch.

Each run is a pytest session of ``<suite modules> --profile ...`` with the world built by
``tests/_selfcheck_world.py`` from the faults named in ``PAIRCERT_*_FAULTS``; verdicts come from the run's
``results.jsonl``. Only the modules of a fault's expected TCs run. The runs go to a pool of runner processes
(tests/_selfcheck_pool.py), each running session after session without restarting Python, and only the runs
the selected tests need are made (``-k`` one fault: one run), in the order the tests ask for them. Under xdist
the module must stay on one worker (``make test`` uses ``--dist loadfile``), else each worker makes its runs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest
from _messages import deviation_problem
from _selfcheck_pool import Job, Outcome, Pool
from _zoo import CATALOGUE_DIR, ROOT, SUITES, Fault, catalogue, sole_catchers, tc_requirements

from harness.app.faults import ACTIVATOR_FAULTS
from harness.emulator.camera.faults import CAMERA_FAULTS
from harness.emulator.cloud.faults import CLOUD_FAULTS
from harness.profiles import load_profile

RUNNERS = 2 * (os.cpu_count() or 1)  # a run often waits (idle world, virtual time): two per core keep them busy
JOB_DEADLINE_S = 100.0  # a fault's run (its few modules) that takes longer is stopped and reported
SUITES_DEADLINE_S = 200.0  # a run of every suite on a conformant profile
VERDICT_WAIT_S = JOB_DEADLINE_S + 10.0  # < the 120 s pytest timeout; runs are made in the order tests ask
# The score alone (-k score) waits for every run: the worst case is every run using its whole deadline.
ZOO_WAIT_S = JOB_DEADLINE_S * (len(catalogue()) // RUNNERS + 1) + 10.0


def emulated_profiles() -> list[str]:
    names = []
    for path in sorted((ROOT / "profiles").glob("*.toml")):
        adapters = load_profile(str(path)).adapters
        if adapters.cloud.name == "emulated" and adapters.device.name == "emulated":
            names.append(path.stem)
    return names


def fault_job(fault: Fault, base: Path) -> Job:
    return Job(f"{fault.kind}-{fault.name}", fault.profile, tuple(fault.modules), base / f"{fault.kind}-{fault.name}",
               camera=(fault.name,) if fault.kind == "camera" else (),
               cloud=(fault.name,) if fault.kind == "cloud" else (),
               activator=(fault.name,) if fault.kind == "activator" else (), deadline_s=JOB_DEADLINE_S)


def conformant_job(profile: str, base: Path) -> Job:
    return Job(f"conformant-{profile}", profile, (str(SUITES),), base / f"conformant-{profile}",
               deadline_s=SUITES_DEADLINE_S)


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


@pytest.mark.timeout(SUITES_DEADLINE_S + 20.0)
@pytest.mark.parametrize("profile", emulated_profiles())
def test_the_suites_pass_or_are_na_on_every_bundled_profile(zoo: Zoo, profile: str) -> None:
    results = zoo.results(f"conformant-{profile}", SUITES_DEADLINE_S + 10.0)
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
    """The runs the selected tests need, submitted to the pool in the order the tests ask for them."""

    def __init__(self, pool: Pool, jobs: list[Job]) -> None:
        self.pool = pool
        self.runs: dict[str, Future[Outcome]] = {job.id: pool.submit(job) for job in jobs}

    def results(self, job_id: str, wait_s: float = VERDICT_WAIT_S) -> list[dict[str, object]]:
        """The records of run ``job_id``; AssertionError when it did not end normally."""
        try:
            outcome = self.runs[job_id].result(timeout=wait_s)
        except TimeoutError:
            raise AssertionError(f"run {job_id} gave no outcome within {wait_s:g} s") from None
        if outcome.problem is not None:
            raise AssertionError(f"run {job_id} {outcome.problem}; its log is {outcome.job.report_dir}/pytest.log")
        return outcome.job.results()

    def verdict(self, fault: Fault, wait_s: float = VERDICT_WAIT_S) -> str | None:
        """None when ``fault`` was caught as the catalogue says; else why not."""
        try:
            return judge(fault, self.results(f"{fault.kind}-{fault.name}", wait_s))
        except AssertionError as exc:
            return str(exc)


def _wanted(items: list[pytest.Item], base: Path) -> list[Job]:
    """The runs this module's selected tests need, in their order (each once)."""
    faults = {f.name: f for f in catalogue()}
    jobs: dict[str, Job] = {}
    for item in items:
        if item.path != Path(__file__) or not isinstance(item, pytest.Function):
            continue
        params = item.callspec.params if hasattr(item, "callspec") else {}
        if item.originalname == "test_the_suites_pass_or_are_na_on_every_bundled_profile":
            wanted = [conformant_job(params["profile"], base)]
        elif item.originalname in ("test_the_fault_is_caught_by_the_tcs_expected_to_catch_it",
                                   "test_every_fail_of_the_fault_names_the_observed_deviation"):
            wanted = [fault_job(faults[params["name"]], base)]
        elif item.originalname == "test_the_fault_zoo_score_is_total":
            wanted = [fault_job(f, base) for f in faults.values()]
        else:
            wanted = []
        for job in wanted:
            jobs.setdefault(job.id, job)
    return list(jobs.values())


@pytest.fixture(scope="module")
def zoo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zoo]:
    base = tmp_path_factory.mktemp("zoo")
    pool = Pool(base, RUNNERS)
    runs = Zoo(pool, _wanted(request.session.items, base))
    yield runs
    pool.close()


@pytest.mark.parametrize("name", [f.name for f in catalogue()])
def test_the_fault_is_caught_by_the_tcs_expected_to_catch_it(zoo: Zoo, name: str) -> None:
    why = zoo.verdict(next(f for f in catalogue() if f.name == name))
    assert why is None, f"{name} not caught: {why}"


@pytest.mark.parametrize("name", [f.name for f in catalogue()])
def test_every_fail_of_the_fault_names_the_observed_deviation(zoo: Zoo, name: str) -> None:
    """Diagnosis in the verdict (tests/_messages.py): each FAIL of the fault's run says what was observed against
    what is required, not a bare assertion or the app's bare 1512 timeout."""
    fault = next(f for f in catalogue() if f.name == name)
    fails = [r for r in zoo.results(f"{fault.kind}-{fault.name}") if r["verdict"] == "FAIL"]
    assert fails, f"{name}: no FAIL to read (whether it was caught is the test above's)"
    bare = [f"{r['tc']}: {problem} -- {str(r['message'])[:200]}" for r in fails
            if (problem := deviation_problem(str(r["message"]))) is not None]
    assert not bare, f"{name}: FAIL messages that do not name what was observed:\n" + "\n".join(bare)


@pytest.mark.timeout(ZOO_WAIT_S + 10.0)
def test_the_fault_zoo_score_is_total(zoo: Zoo) -> None:
    faults = catalogue()
    deadline = time.monotonic() + ZOO_WAIT_S
    missed = [(fault, why) for fault in faults
              if (why := zoo.verdict(fault, max(0.0, deadline - time.monotonic()))) is not None]
    print(f"\nfault zoo score: {len(faults) - len(missed)} / {len(faults)} caught")
    for fault, why in missed:
        print(f"  not caught: {fault.kind} fault {fault.name}: {why}")
    assert not missed, f"{len(missed)} fault(s) not caught: " + "; ".join(f"{f.name} ({w})" for f, w in missed)
