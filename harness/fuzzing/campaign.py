"""A time-bounded fuzz campaign on a world built from a profile, and the replay of a saved failure.

Each target runs as one Hypothesis test with a large ``max_examples`` and the example database under the
report directory. The budget bounds everything: generation runs in rounds sized to end at 60% of it, shrinking
gets 25% more, so a campaign ends by itself. The first failure is minimised and saved as
``<report-dir>/failures/<target>-<n>.json``: the target, profile, faults, seed, the minimal case as explicit
inputs (or, for the stateful target, Hypothesis's reproduce blob and the steps), the error, and the verdict
(FAIL, or CRASH when the device lost liveness, with the last inputs). :func:`replay` reruns it exactly.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.errors import Flaky

from harness.adapters.contracts import AdapterError, World
from harness.fuzzing.drive import FuzzContext
from harness.fuzzing.targets import TARGETS, Case, case_from_json, case_to_json, cases, run_case
from harness.testing.stateful import DeviceCrashed, MachineFactory, PairingTarget

GENERATE_SHARE = 0.6
SHRINK_SHARE = 0.25  # the rest is a margin for the final replay and closing the world
_BLOB = re.compile(r"reproduce_failure\('([^']+)', (b'[^']*'|b\"[^\"]*\")\)")

Progress = Callable[[str, int, float], None]  # (target, examples so far, seconds elapsed)


@dataclass
class CampaignResult:
    """What one target's campaign found: its verdict, how many examples, how fast, and the failure file."""

    target: str
    verdict: str  # PASS, FAIL, CRASH, ERROR, N/A
    examples: int = 0
    seconds: float = 0.0
    message: str = ""
    failure_file: Path | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.examples / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class WorldSpec:
    """How to rebuild the world of a campaign: profile name or path, faults, seed."""

    profile: str
    device_faults: tuple[str, ...] = ()
    cloud_faults: tuple[str, ...] = ()
    seed: int | None = None

    def build(self) -> Any:
        from harness.adapters.registry import build_world
        from harness.profiles import load_profile

        overrides: dict[str, dict[str, Any]] = {}
        if self.device_faults:
            overrides["device"] = {"faults": list(self.device_faults)}
        if self.cloud_faults:
            overrides["cloud"] = {"faults": list(self.cloud_faults)}
        return build_world(load_profile(self.profile), seed=self.seed, overrides=overrides)


def _blob(exc: BaseException) -> tuple[str, str] | None:
    for line in getattr(exc, "__notes__", []):
        found = _BLOB.search(line)
        if found:
            return found.group(1), found.group(2)
    return None


def _settings(database: Path | None, examples: int = 100, *, derandomize: bool = False) -> settings:
    return settings(max_examples=examples, deadline=None, database=None if database is None else
                    DirectoryBasedExampleDatabase(str(database)), derandomize=derandomize,
                    report_multiple_bugs=False, print_blob=True, stateful_step_count=40, verbosity=Verbosity.quiet,
                    suppress_health_check=list(HealthCheck),
                    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink])


class _Clock:
    def __init__(self, budget_s: float) -> None:
        self.start = time.monotonic()
        self.generate_until = self.start + GENERATE_SHARE * budget_s
        self.stop_at = self.generate_until + SHRINK_SHARE * budget_s
        self.failing = False
        self.slowest = 0.0

    def fail(self) -> None:
        self.failing = True

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start


def run_target(spec: WorldSpec, target: str, budget_s: float, *, report_dir: Path | None = None,
               seed: int | None = None, progress: Progress | None = None) -> CampaignResult:
    """Fuzz ``target`` on a fresh world for at most ``budget_s`` seconds (world building included)."""
    if target not in TARGETS:
        raise ValueError(f"unknown fuzz target {target!r}; expected one of {', '.join(TARGETS)}")
    started = time.monotonic()
    world = spec.build()
    try:
        remaining = max(0.5, budget_s - (time.monotonic() - started))
        return _run_on_world(world, spec, target, remaining, report_dir=report_dir, seed=seed, progress=progress)
    finally:
        world.close()


def _run_on_world(world: World, spec: WorldSpec, target: str, budget_s: float, *, report_dir: Path | None,
                  seed: int | None, progress: Progress | None) -> CampaignResult:
    database = None if report_dir is None else report_dir / "hypothesis" / target
    clock = _Clock(budget_s)
    count = [0]
    failures: list[tuple[Any, BaseException, dict[str, Any]]] = []

    def tick() -> None:
        count[0] += 1
        if progress is not None:
            progress(target, count[0], clock.elapsed)

    factory: MachineFactory | None = None
    if target == "stateful":
        machine_target = PairingTarget.from_world(world)

        class Counting(MachineFactory):
            def __call__(self) -> Any:
                machine = super().__call__()
                tick()
                return machine

        factory = Counting(machine_target, on_failure=clock.fail)

        def one_round(examples: int, round_seed: int | None) -> None:
            runner = _stateful_runner(factory, _settings(database, examples), round_seed)
            runner()
    else:
        ctx = FuzzContext.from_world(world)
        strategy = cases(target, ctx)
        if strategy.is_empty:
            return CampaignResult(target, "N/A", message=f"profile {world.profile.name} claims no {target} mode")

        def one_round(examples: int, round_seed: int | None) -> None:
            @_settings(database, examples)
            @given(strategy)
            def fuzz(case: Case) -> None:
                tick()
                try:
                    run_case(ctx, case)
                except (AssertionError, DeviceCrashed) as exc:
                    clock.fail()
                    failures.append((case, exc, dict(ctx.last_inputs)))
                    raise

            (hypothesis_seed(round_seed)(fuzz) if round_seed is not None else fuzz)()

    try:
        with _shrink_limit(clock.stop_at - clock.generate_until):
            _rounds(clock, count, one_round, seed)
    except (AssertionError, DeviceCrashed, Flaky) as exc:
        if isinstance(exc, Flaky) and not failures and not clock.failing:
            return CampaignResult(target, "ERROR", count[0], clock.elapsed, message=f"flaky: {_first_line(exc)}")
        verdict = "CRASH" if isinstance(exc, DeviceCrashed) or _crashed(exc) else "FAIL"
        case, last_inputs = (failures[-1][0], failures[-1][2]) if failures else (None, {})
        if isinstance(exc, DeviceCrashed) and exc.inputs:
            last_inputs = dict(exc.inputs)
        steps = factory.last.log if factory is not None and factory.last is not None else []
        result = CampaignResult(target, verdict, count[0], clock.elapsed, message=_first_line(exc))
        result.failure_file = _save(report_dir, spec, target, seed, exc, case, last_inputs, verdict, steps)
        return result
    except AdapterError as exc:
        return CampaignResult(target, "ERROR", count[0], clock.elapsed, message=f"the lab or harness failed: {exc}")
    return CampaignResult(target, "PASS", count[0], clock.elapsed)


def _rounds(clock: _Clock, count: list[int], one_round: Callable[[int, int | None], None], seed: int | None) -> None:
    """Rounds of Hypothesis runs, each sized from the examples per second so far to end by the generation
    deadline (no example is ever rejected for time: Hypothesis would call that flaky)."""
    index = 0
    size = 4
    while time.monotonic() < clock.generate_until:
        before, started = count[0], time.monotonic()
        one_round(size, None if seed is None else seed + index)
        index += 1
        spent = time.monotonic() - started
        per_example = spent / max(1, count[0] - before)
        left = clock.generate_until - time.monotonic()
        # Half the time left at the slowest rate seen, so that a round of unlucky, slow examples still ends.
        slowest = max(per_example, clock.slowest)
        clock.slowest = slowest
        size = max(1, min(2 * size, 500, int(left / 2 / max(slowest, 1e-4))))


@contextlib.contextmanager
def _shrink_limit(seconds: float) -> Iterator[None]:
    """Bound Hypothesis's shrinking to ``seconds`` (its engine's MAX_SHRINKING_SECONDS, 300 by default)."""
    from hypothesis.internal.conjecture import engine

    saved = engine.MAX_SHRINKING_SECONDS
    engine.MAX_SHRINKING_SECONDS = max(1, int(seconds))
    try:
        yield
    finally:
        engine.MAX_SHRINKING_SECONDS = saved


def _stateful_runner(factory: MachineFactory, base: settings, seed: int | None) -> Callable[[], None]:
    from hypothesis.stateful import get_state_machine_test

    test = get_state_machine_test(factory, settings=base)  # type: ignore[arg-type]
    return hypothesis_seed(seed)(test) if seed is not None else test


def _crashed(exc: BaseException) -> bool:
    return any(isinstance(e, DeviceCrashed) for e in getattr(exc, "exceptions", ()))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:400]


def _save(report_dir: Path | None, spec: WorldSpec, target: str, seed: int | None, exc: BaseException,
          case: Any, last_inputs: dict[str, Any], verdict: str, steps: list[str]) -> Path | None:
    if report_dir is None:
        return None
    folder = report_dir / "failures"
    folder.mkdir(parents=True, exist_ok=True)
    blob = _blob(exc)
    notes = steps + [n for n in getattr(exc, "__notes__", []) if "reproduce_failure" not in n]
    record = {
        "target": target, "verdict": verdict, "profile": spec.profile, "device_faults": list(spec.device_faults),
        "cloud_faults": list(spec.cloud_faults), "world_seed": spec.seed, "seed": seed,
        "hypothesis_version": hypothesis.__version__,
        "reproduce_blob": None if blob is None else {"version": blob[0], "blob": blob[1]},
        "case": None if case is None else case_to_json(case), "steps": notes,
        "error": f"{type(exc).__name__}: {exc}", "last_inputs": last_inputs,
    }
    index = len(list(folder.glob(f"{target}-*.json"))) + 1
    path = folder / f"{target}-{index}.json"
    path.write_text(json.dumps(record, indent=1, ensure_ascii=False, default=repr), encoding="utf-8")
    return path


def run_campaign(spec: WorldSpec, targets: Sequence[str], budget_s: float, *, report_dir: Path | None = None,
                 seed: int | None = None, progress: Progress | None = None) -> list[CampaignResult]:
    """Each of ``targets`` in turn, sharing ``budget_s`` equally; the whole campaign stops within it."""
    results: list[CampaignResult] = []
    deadline = time.monotonic() + budget_s
    for index, target in enumerate(targets):
        share = (deadline - time.monotonic()) / (len(targets) - index)
        if share <= 0.5:
            results.append(CampaignResult(target, "N/A", message="no budget left"))
            continue
        results.append(run_target(spec, target, share, report_dir=report_dir, seed=seed, progress=progress))
    return results


def replay(path: Path) -> CampaignResult:
    """Rerun a saved failure on a world rebuilt as it was: FAIL or CRASH when it reproduces, PASS when not."""
    record = json.loads(path.read_text(encoding="utf-8"))
    spec = WorldSpec(record["profile"], tuple(record.get("device_faults", ())), tuple(record.get("cloud_faults", ())),
                     record.get("world_seed"))
    target = record["target"]
    started = time.monotonic()
    world = spec.build()
    try:
        if target == "stateful":
            blob = record.get("reproduce_blob")
            if not blob:
                raise ValueError(f"{path} has no reproduce blob for the stateful target")
            factory = MachineFactory(PairingTarget.from_world(world),
                                     reproduce=(blob["version"], eval_bytes(blob["blob"])))
            runner = _stateful_runner(factory, _settings(None), None)
            runner()
        else:
            ctx = FuzzContext.from_world(world)
            run_case(ctx, case_from_json(record["case"]))
    except DeviceCrashed as exc:
        return CampaignResult(target, "CRASH", 1, time.monotonic() - started, message=_first_line(exc))
    except AssertionError as exc:
        verdict = "CRASH" if _crashed(exc) else "FAIL"
        return CampaignResult(target, verdict, 1, time.monotonic() - started, message=_first_line(exc))
    finally:
        world.close()
    return CampaignResult(target, "PASS", 1, time.monotonic() - started, message="did not reproduce")


def eval_bytes(literal: str) -> bytes:
    """A ``b'...'`` literal as printed by Hypothesis, safely."""
    import ast

    value = ast.literal_eval(literal)
    if not isinstance(value, bytes):
        raise ValueError(f"not a bytes literal: {literal[:40]!r}")
    return value


__all__ = ["CampaignResult", "WorldSpec", "replay", "run_campaign", "run_target"]
