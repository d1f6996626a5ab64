"""The plugin's hook implementations once a run asks for paircert (:mod:`harness.plugin.entry` registers this module
then): the default world, collection checks, verdicts, evidence, the summary."""

from __future__ import annotations

import gc
import threading
import time
from collections import Counter
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness import __version__
from harness.plugin.options import PRECEDENCE
from harness.plugin.run import ItemState, Run
from harness.plugin.stash import NEEDS_KEY, RUN_KEY, STATE_KEY, TC_KEY, TITLE_KEY

if TYPE_CHECKING:
    from harness.adapters.contracts import CloudAdapter, DeviceAdapter, DeviceEvent, NetworkAdapter, World
    from harness.app.activator import Activator
    from harness.conformance.verdicts import Verdict
    from harness.plugin.markers import TcMark
    from harness.profiles import Profile

EVENTS_DEADLINE_S = 10.0  # how long a failing test's evidence waits for the device's events

_STATUS = {  # verdict -> (terminal category, letter, word colour)
    "PASS": ("passed", ".", "green"), "FAIL": ("failed", "F", "red"), "ERROR": ("error", "E", "red"),
    "N/A": ("n/a", "N", "yellow"), "INCONCLUSIVE": ("inconclusive", "I", "yellow"),
}


def _run(config: pytest.Config) -> Run | None:
    return config.stash.get(RUN_KEY, None)


# -- configuration --------------------------------------------------------------------------------------------


@pytest.hookimpl(trylast=True)
def pytest_paircert_make_world(config: pytest.Config, profile: Profile, cloud: str | None, device: str | None,
                               network: str | None, seed: int) -> World:
    """The default world: :func:`harness.adapters.registry.build_world` from the profile and the options."""
    from harness.adapters.registry import build_world

    overrides: dict[str, dict[str, Any]] = {}
    worker = getattr(config, "workerinput", {}).get("workerid")
    # one pool device per xdist worker, also when --device names the profile's own device adapter
    same_device = device is None or device == profile.adapters.device.name
    if worker and profile.adapters.device_pool and same_device:
        slot = int(worker.removeprefix("gw") or 0)
        overrides["device"] = profile.adapters.device_for(slot).resolved_args()
    return build_world(profile, cloud=cloud, device=device, network=network, seed=seed, overrides=overrides)


@pytest.hookimpl(trylast=True)
def pytest_paircert_activator_class(config: pytest.Config) -> type[Activator]:
    """The default app side: :class:`harness.app.activator.Activator`."""
    from harness.app.activator import Activator

    return Activator


def pytest_unconfigure(config: pytest.Config) -> None:
    run = _run(config)
    if run is not None:
        from harness.redaction import unregister

        unregister(run.redactor)
        run.close_traffic()
        config.pluginmanager.unregister(run)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    run = _run(config)
    if run is None:
        return None
    profile, settings = run.profile, run.settings
    adapters = ", ".join(
        f"{kind}={settings.get(kind)} ({settings.sources[kind]})" if settings.get(kind) else
        f"{kind}={getattr(profile.adapters, kind).name} (profile)" for kind in ("cloud", "device", "network"))
    hypothesis = config.getoption("hypothesis_seed", None)
    lines = [
        f"paircert {__version__}: profile {profile.name} ({settings.sources['profile']}) sha256 {profile.hash()}",
        f"paircert device: {profile.device.name}, pid {profile.device.pid}, firmware {profile.device.firmware}",
        f"paircert adapters: {adapters}",
        f"paircert seed: {run.seed} ({settings.sources['seed']}; replay with --paircert-seed {run.seed}), "
        f"hypothesis seed: {hypothesis if hypothesis is not None else 'hypothesis default'}",
        f"paircert options: {settings.describe()} (precedence: {PRECEDENCE})",
    ]
    if run.report_dir is not None:
        lines.append(f"paircert report dir: {run.report_dir}")
    return lines


# -- collection: the tc and requires markers -------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
        collector: pytest.Collector) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    run = _run(collector.config)
    if run is None or report.outcome != "passed" or not isinstance(collector, pytest.Module | pytest.Class):
        return report
    problems = [p for item in report.result if isinstance(item, pytest.Function) for p in _check_item(run, item)]
    if problems:
        report.outcome = "failed"
        report.longrepr = "\n".join(problems)
        report.result = []
    return report


def _check_item(run: Run, item: pytest.Function) -> list[str]:
    from harness.plugin.markers import parse_requires, parse_tc

    where = item.nodeid
    mark = item.get_closest_marker("tc")
    if mark is None:
        in_suite = any(item.path.is_relative_to(d) for d in run.suite_dirs)
        return [f"{where}: missing tc marker: every suite test carries @pytest.mark.tc(\"TC-<AREA>-NNN\", "
                f"reqs=[...])"] if in_suite else []
    tc = parse_tc(mark, where)
    problems = []
    unknown = [r for r in tc.reqs if r not in run.requirements()]
    if unknown:
        problems.append(f"{where}: {tc.id} names unknown requirement id(s) {', '.join(unknown)} "
                        f"(not in the requirement catalogue)")
    owner = item.nodeid.split("[", 1)[0]
    first = run.tc_seen.setdefault(tc.id, owner)
    if first != owner:
        problems.append(f"{where}: duplicated TC id {tc.id}: already on {first}")
    needs = tuple(n for m in item.iter_markers("requires") for n in parse_requires(m, where, run.profile))
    item.stash[TC_KEY] = tc
    item.stash[TITLE_KEY] = _title(item, tc)
    item.stash[NEEDS_KEY] = needs
    item.extra_keyword_matches.add(tc.id)  # -k TC-QR-007 selects by TC id
    item.user_properties.extend([("paircert_tc", tc.id), ("paircert_reqs", " ".join(tc.reqs))])
    return problems


def _title(item: pytest.Function, tc: TcMark) -> str:
    from harness.conformance.titles import tc_title

    return tc_title(title=tc.title, docstring=getattr(item.function, "__doc__", None), function=item.originalname)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Select by TC id (``--paircert-tc``, globs), and give each suite test its profile-derived time limit."""
    run = _run(config)
    if run is None:
        return
    from harness.plugin.selection import apply_selection

    apply_selection(config, items)
    from harness.plugin.limits import PAIRINGS_PER_TEST, time_limit_s

    device = run.settings.get("device") or run.profile.adapters.device.name
    cloud = run.settings.get("cloud") or run.profile.adapters.cloud.name
    virtual = device.split(":", 1)[0] == "emulated" and cloud.split(":", 1)[0] == "emulated"
    limits: dict[int, float] = {}
    for item in items:
        tc = item.stash.get(TC_KEY, None)
        if tc is None:
            continue
        cases = PAIRINGS_PER_TEST if tc.area != "fuzz" else _fuzz_cases()
        if cases not in limits:
            limits[cases] = time_limit_s(run.profile, device=device, virtual_clock=virtual, cases=cases)
        item.add_marker(pytest.mark.timeout(limits[cases], func_only=True))  # the test's own marker comes first
    # What start-up and collection built lives as long as the process: the collector need not walk it again and
    # again during the run, nor at pytest's final gc.collect().
    gc.freeze()


def _fuzz_cases() -> int:
    from harness.plugin.limits import FUZZ_CASES_PER_EXAMPLE
    from harness.testing.strategies import budget_settings

    return max(1, int(budget_settings().max_examples)) * FUZZ_CASES_PER_EXAMPLE


# -- running: N/A before setup, evidence, verdicts -----------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    run = _run(item.config)
    if run is None or TC_KEY not in item.stash:
        return
    from harness.conformance.verdicts import NotApplicable
    from harness.evidence import EvidenceRecorder, activate
    from harness.plugin.markers import adapter_reason, profile_reason

    tc = item.stash[TC_KEY]
    recorder = EvidenceRecorder(tc.id, item.nodeid, redactor=run.redactor, now=run.now,
                                virtual=run.clock_is_virtual)
    state = item.stash[STATE_KEY] = ItemState(recorder, run.now() if run.world_built else None)
    if run.evidence_dir is not None:
        state.traffic = run.traffic.begin(run.built_world)
    activate(recorder, allure_steps=run.allure_dir is not None)
    if run.allure_dir is not None:
        _allure_labels(run, tc, item)
    needs = item.stash[NEEDS_KEY]
    reason = profile_reason(needs, run.profile)
    if reason is None and any(n.adapter for n in needs):
        world = run.world()
        adapters: dict[str, CloudAdapter | DeviceAdapter | NetworkAdapter] = {
            "cloud": world.cloud, "device": world.device, "network": world.network}
        reason = adapter_reason(needs, lambda kind: (_described(adapters[kind]), _capabilities(adapters[kind])))
    if reason is not None:
        raise NotApplicable(reason)


def _capabilities(adapter: CloudAdapter | DeviceAdapter | NetworkAdapter) -> frozenset[str]:
    """An adapter's declared capabilities; a network adapter that declares none offers them all."""
    from harness.adapters.contracts import NetworkCapability, WithCapabilities

    if isinstance(adapter, WithCapabilities):
        return frozenset(adapter.capabilities)
    return frozenset(c.value for c in NetworkCapability)


def _described(adapter: CloudAdapter | DeviceAdapter | NetworkAdapter) -> str:
    """The adapter's name, with what it says about its limits (``capability_note``) where it says something."""
    from harness.adapters.contracts import WithCapabilityNote

    note = adapter.capability_note if isinstance(adapter, WithCapabilityNote) else ""
    return f"{adapter.name} ({note})" if note else adapter.name


def _allure_labels(run: Run, tc: TcMark, item: pytest.Item) -> None:
    import allure

    from harness.report.allure_results import NODEID_LABEL

    dynamic: Any = allure.dynamic
    dynamic.title(_display_name(item))
    dynamic.label(NODEID_LABEL, item.nodeid)  # for the rewrite after the run (harness.report.allure_results)
    dynamic.epic(tc.area)
    dynamic.feature(tc.area)
    dynamic.story(tc.id)
    dynamic.tag(*tc.reqs)
    dynamic.label("tc", tc.id)
    dynamic.severity(_severity(run.requirements(), tc))


def _severity(requirements: dict[str, Any], tc: TcMark) -> str:
    """The highest severity among the TC's requirements (the catalogue's blocker ... trivial)."""
    order = ("blocker", "critical", "normal", "minor", "trivial")
    severities = [getattr(requirements.get(r), "severity", "normal") for r in tc.reqs]
    return min(severities, key=order.index) if severities else "normal"


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_makereport(
        item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    run = _run(item.config)
    if run is None:
        return report
    state = item.stash.get(STATE_KEY, None)
    if state is not None:
        _judge(run, item, state, report, call)
    _redact_report(run, report)
    return report


def _judge(run: Run, item: pytest.Item, state: ItemState, report: pytest.TestReport,
           call: pytest.CallInfo[None]) -> None:
    from harness.conformance.verdicts import Verdict

    verdict, message = _phase_verdict(report, call)
    if verdict in (Verdict.NA, Verdict.INCONCLUSIVE):
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] + 1 if item.location[1] is not None else 0,
                           f"{verdict}: {message}")
    state.duration += report.duration
    state.start = state.start if state.start is not None else getattr(report, "start", None)
    state.phases.append((report.when, verdict, message))
    if verdict is not None:
        report.paircert_verdict = verdict.value  # type: ignore[attr-defined]
    if verdict in (Verdict.FAIL, Verdict.ERROR, Verdict.INCONCLUSIVE) and not state.attached:
        state.attached = True
        _collect_device_events(run, state)
        if run.allure_dir is not None and run.evidence_dir is None:  # else the written files, after the run
            state.recorder.attach_to_allure()
    if report.when == "teardown":
        _conclude(run, item, state, report)


def _phase_verdict(report: pytest.TestReport, call: pytest.CallInfo[None]) -> tuple[Verdict | None, str]:
    """The verdict of one phase (None: a setup or teardown that passed) and its one-line message."""
    from harness.conformance.verdicts import Verdict, classify

    if call.excinfo is not None and not hasattr(report, "wasxfail"):
        return classify(call.excinfo.value, phase=report.when)
    if hasattr(report, "wasxfail"):
        return (Verdict.INCONCLUSIVE, f"xfail: {report.wasxfail}") if report.skipped else (Verdict.PASS, "")
    if report.failed:
        return Verdict.FAIL, str(report.longrepr)
    return (Verdict.PASS, "") if report.when == "call" else (None, "")


def _conclude(run: Run, item: pytest.Item, state: ItemState, report: pytest.TestReport) -> None:
    """After the teardown: the test's verdict (the worst of its phases), its evidence, and its result record."""
    from harness.conformance.verdicts import Verdict, worst
    from harness.evidence import activate

    activate(None)
    final = worst(v for _, v, _ in state.phases if v is not None)
    phase, message = next(((p, m) for p, v, m in state.phases if v is final), ("call", ""))
    if not state.attached:
        _collect_device_events(run, state)
    kept = run.evidence == "all" or final not in (Verdict.PASS, Verdict.NA)
    evidence = _write_evidence(run, item, state, traffic=final in (Verdict.FAIL, Verdict.ERROR)) if kept else None
    tc = item.stash[TC_KEY]
    requirements = run.requirements()
    result = {
        "tc": tc.id, "reqs": list(tc.reqs), "area": tc.area, "title": item.stash.get(TITLE_KEY, ""),
        "name": _display_name(item),
        "severity": _severity(requirements, tc),
        "verdict": final.value, "message": message, "phase": phase, "nodeid": item.nodeid,
        "duration_s": round(state.duration, 6), "start": state.start, "stop": getattr(report, "stop", None),
        "evidence": evidence, "worker": run.worker,
    }
    report.paircert_result = run.redactor.redact_obj(result)  # type: ignore[attr-defined]
    report.user_properties = [*report.user_properties, ("paircert_verdict", final.value)]


def _display_name(item: pytest.Item) -> str:
    """``TC-QR-007 <title> [params]``: the name JUnit and Allure show."""
    from harness.conformance.titles import display_name

    callspec = getattr(item, "callspec", None)
    return display_name(item.stash[TC_KEY].id, item.stash[TITLE_KEY], callspec.id if callspec is not None else None)


def _collect_device_events(run: Run, state: ItemState) -> None:
    devices = list(state.devices) + (list(state.lab.devices) if state.lab is not None else [])
    for device in devices:
        try:
            events = _events_within(device, EVENTS_DEADLINE_S)
            state.recorder.add_device_events(events, since=state.started)
        except Exception as exc:  # evidence is best effort; the verdict stands
            state.recorder.note("device events unavailable", error=f"{type(exc).__name__}: {exc}")
    state.devices.clear()
    if state.lab is not None:
        state.lab.devices.clear()


def _events_within(device: DeviceAdapter, deadline_s: float) -> Sequence[DeviceEvent]:
    """``device.events()`` with a deadline: a hung device (or its events hook) must not hold the run."""
    box: list[Sequence[DeviceEvent] | BaseException] = []

    def fetch() -> None:
        try:
            box.append(device.events())
        except Exception as exc:
            box.append(exc)

    worker = threading.Thread(target=fetch, name="paircert-device-events", daemon=True)
    worker.start()
    worker.join(deadline_s)
    if not box:
        raise TimeoutError(f"the device gave no events within {deadline_s:g} s")
    found = box[0]
    if isinstance(found, BaseException):
        raise found
    return found


def _write_evidence(run: Run, item: pytest.Item, state: ItemState, *, traffic: bool = False) -> str | None:
    """Write the test's evidence directory; with ``traffic`` (a FAIL or ERROR) its masked pcaps first, so that the
    timeline lists them (:mod:`harness.plugin.pcap`)."""
    if run.evidence_dir is None:
        return None
    from harness.evidence import safe_name

    target = run.evidence_dir / state.recorder.tc_id
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        target = target / safe_name(callspec.id)
    if traffic and state.traffic is not None:
        target.mkdir(parents=True, exist_ok=True)
        run.traffic.write(run.built_world, state.traffic, state.recorder, target)
    state.recorder.write(target)
    if run.report_dir is not None and target.is_relative_to(run.report_dir):
        return str(target.relative_to(run.report_dir))
    return str(target)


def _redact_report(run: Run, report: pytest.TestReport) -> None:
    redact = run.redactor.redact
    if not len(run.redactor):
        return
    if isinstance(report.longrepr, tuple):
        path, lineno, text = report.longrepr
        report.longrepr = (path, lineno, redact(text))
    elif report.longrepr is not None:
        text = str(report.longrepr)
        if redact(text) != text:
            report.longrepr = redact(text)
    report.sections = [(title, redact(content)) for title, content in report.sections]
    report.user_properties = [(k, redact(v) if isinstance(v, str) else v) for k, v in report.user_properties]


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    verdict = getattr(report, "paircert_verdict", None)
    if verdict is None or (verdict == "PASS" and report.when != "call"):
        return None
    category, letter, colour = _STATUS[verdict]
    return category, letter, (verdict, {colour: True})


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    run = _run(config)
    if run is None or not run.results:
        return
    from harness.conformance.verdicts import Verdict, exit_status

    counts = Counter(r["verdict"] for r in run.results)
    terminalreporter.section("paircert verdicts")
    terminalreporter.line("  ".join(f"{v.value} {counts.get(v.value, 0)}" for v in Verdict) +
                          f"   (profile {run.profile.name})")
    for result in run.results:
        if result["verdict"] != "PASS":
            terminalreporter.line(f"{result['verdict']:<12} {result['tc']:<16} {result['message']}  "
                                  f"[{result['nodeid']}]")
    status = exit_status(Verdict(r["verdict"]) for r in run.results)
    why = {0: "all PASS or N/A", 1: "a FAIL", 3: "an ERROR and no FAIL"}[status]
    terminalreporter.line(f"paircert exit status {status}: {why}")


def _rewrite_outputs(config: pytest.Config, run: Run) -> None:
    """JUnit XML and Allure results from the verdicts (harness.report.junit, harness.report.allure_results), once
    pytest's junitxml (which writes in its own, earlier, pytest_sessionfinish) and every worker are done."""
    import os

    xmlpath = getattr(config.option, "xmlpath", None)
    if xmlpath and not hasattr(config, "workerinput"):
        from harness.report.junit import rewrite

        path = Path(os.path.abspath(os.path.expanduser(os.path.expandvars(xmlpath))))
        if path.is_file():
            rewrite(path, run.results)
    if run.allure_dir is not None and Path(run.allure_dir).is_dir():
        from harness.report import allure_results

        alluredir = Path(run.allure_dir)
        allure_results.rewrite_results(alluredir, run.results, evidence_root=run.report_dir,
                                       catalogue=run.requirements())
        allure_results.write_environment(alluredir, run.environment())
        allure_results.write_categories(alluredir)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    run = _run(session.config)
    if run is None:
        return
    from harness.conformance.verdicts import Verdict, exit_status

    try:
        run.close_traffic()
        run.close_world()
        if run.worker is None and run.results:
            _rewrite_outputs(session.config, run)
    finally:
        if run.allure_dir is not None:
            run.redact_tree(Path(run.allure_dir))
        if run.worker is None:
            status = exit_status(Verdict(r["verdict"]) for r in run.results)
            # pytest's own failure stands when a test without a verdict (not a suite's) failed beside the suites
            if int(session.exitstatus) in (0, 1) and run.results and not (session.exitstatus == 1 and status == 0):
                session.exitstatus = status
            run.write_session(finished=time.time(), exit_status=int(session.exitstatus),
                              counts=dict(Counter(r["verdict"] for r in run.results)))
