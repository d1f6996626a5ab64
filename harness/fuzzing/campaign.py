"""A bounded fuzz campaign on a world built from a profile, and the replay of a saved failure.

Each target runs as one Hypothesis test, with the example database under the report directory. A campaign's
:class:`Budget` is counted: ``examples`` per target (for the stateful target, machines of at most ``steps``
steps), so that a seeded or derandomized campaign explores exactly the same cases on a fast machine and on a
busy one; the named budgets ``ci``, ``default`` and ``nightly`` are of this kind. An open-ended campaign may
instead (or also) give ``seconds`` of wall time: generation then runs in rounds sized to end at 60% of it and
shrinking gets 25% more. The first failure is minimised and saved as ``<report-dir>/failures/<target>-<n>.json``:
the target, profile, faults, seed, the minimal case as explicit inputs (or, for the stateful target,
Hypothesis's reproduce blob and the steps), the error, and the verdict (FAIL, or CRASH when the device lost
liveness, with the last inputs). :func:`replay` reruns it exactly.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
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


@dataclass(frozen=True)
class Budget:
    """How much a campaign explores: ``examples`` per target (the stateful target's examples are machines of at
    most ``steps`` steps), counted so that a seeded or derandomized campaign is the same run on any machine;
    ``seconds`` caps the whole campaign's wall time, for open-ended runs. With both, whichever ends first.
    ``shrink``: minimise a failure before saving it (Hypothesis bounds that work by its own counts).
    ``derandomize``: without a seed, the same examples on every run (and no example database)."""

    examples: int | None = None
    steps: int = 20
    seconds: float | None = None
    shrink: bool = True
    derandomize: bool = False

    def __post_init__(self) -> None:
        if self.examples is None and self.seconds is None:
            raise ValueError("a fuzz budget counts examples, seconds or both")
        if self.examples is not None and self.examples < 1:
            raise ValueError(f"a fuzz budget needs at least one example, not {self.examples}")
        if self.steps < 1:
            raise ValueError(f"a stateful example needs at least one step, not {self.steps}")
        if self.seconds is not None and self.seconds <= 0:
            raise ValueError(f"a fuzz budget of {self.seconds} s is empty")

    @property
    def counted(self) -> bool:
        """Counted in examples only: nothing depends on how fast the machine is."""
        return self.seconds is None

    @classmethod
    def named(cls, name: str) -> Budget:
        """One of :data:`NAMED_BUDGETS` (``ci``, ``default``, ``nightly``)."""
        try:
            return NAMED_BUDGETS[name]
        except KeyError:
            raise ValueError(f"unknown fuzz budget {name!r}; expected one of {', '.join(NAMED_BUDGETS)}") from None


# Counted budgets, per target. ci is what the self-check runs (tests/test_fuzz_selfcheck.py): deterministic
# (derandomized unless a seed is given), a few seconds per target on the emulated world, and the first failure is
# saved as found (its replay is exact; minimising it is the larger budgets' work).
NAMED_BUDGETS: dict[str, Budget] = {
    "ci": Budget(examples=60, steps=10, shrink=False, derandomize=True),
    "default": Budget(examples=200, steps=20),
    "nightly": Budget(examples=5000, steps=40),
}


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

    def build(self) -> World:
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


def _settings(database: Path | None, examples: int = 100, *, derandomize: bool = False, steps: int = 40,
              shrink: bool = True) -> settings:
    # No explain phase: it reruns the minimal failure many times for a report the failure file does not need.
    phases = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target] + ([Phase.shrink] if shrink else [])
    return settings(max_examples=examples, deadline=None, database=None if database is None or derandomize else
                    DirectoryBasedExampleDatabase(str(database)), derandomize=derandomize,
                    report_multiple_bugs=False, print_blob=True, stateful_step_count=steps,
                    verbosity=Verbosity.quiet, suppress_health_check=list(HealthCheck), phases=phases)


class _Clock:
    """The campaign's wall-time bookkeeping (for the report, and for budgets given in seconds)."""

    def __init__(self, seconds: float | None) -> None:
        self.start = time.monotonic()
        budget_s = seconds if seconds is not None else 0.0
        self.generate_until = self.start + GENERATE_SHARE * budget_s
        self.stop_at = self.generate_until + SHRINK_SHARE * budget_s
        self.failing = False
        self.slowest = 0.0

    def fail(self) -> None:
        self.failing = True

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start


def run_target(spec: WorldSpec, target: str, budget: Budget, *, report_dir: Path | None = None,
               seed: int | None = None, progress: Progress | None = None) -> CampaignResult:
    """Fuzz ``target`` on a fresh world within ``budget`` (its seconds, if any, include building the world)."""
    if target not in TARGETS:
        raise ValueError(f"unknown fuzz target {target!r}; expected one of {', '.join(TARGETS)}")
    started = time.monotonic()
    world = spec.build()
    try:
        if budget.seconds is not None:
            budget = replace(budget, seconds=max(0.5, budget.seconds - (time.monotonic() - started)))
        return _run_on_world(world, spec, target, budget, report_dir=report_dir, seed=seed, progress=progress)
    finally:
        world.close()


@dataclass
class _Run:
    """One target's campaign in progress: what it counted, what failed, and how to run a round of examples."""

    target: str
    budget: Budget
    database: Path | None
    derandomize: bool
    progress: Progress | None
    clock: _Clock
    count: list[int] = field(default_factory=lambda: [0])
    failures: list[tuple[Any, BaseException, dict[str, Any]]] = field(default_factory=list)
    factory: MachineFactory | None = None

    def tick(self) -> None:
        self.count[0] += 1
        if self.progress is not None:
            self.progress(self.target, self.count[0], self.clock.elapsed)

    def settings(self, examples: int) -> settings:
        return _settings(self.database, examples, derandomize=self.derandomize, steps=self.budget.steps,
                         shrink=self.budget.shrink)

    def stateful_rounds(self, world: World) -> Callable[[int, int | None], None]:
        run = self

        class Counting(MachineFactory):
            def __call__(self) -> Any:
                machine = super().__call__()
                run.tick()
                return machine

        factory = self.factory = Counting(PairingTarget.from_world(world), on_failure=self.clock.fail)
        return lambda examples, round_seed: _stateful_runner(factory, self.settings(examples), round_seed)()

    def case_rounds(self, ctx: FuzzContext, strategy: Any) -> Callable[[int, int | None], None]:
        def one_round(examples: int, round_seed: int | None) -> None:
            @self.settings(examples)
            @given(strategy)
            def fuzz(case: Case) -> None:
                self.tick()
                try:
                    run_case(ctx, case)
                except (AssertionError, DeviceCrashed) as exc:
                    self.clock.fail()
                    self.failures.append((case, exc, dict(ctx.last_inputs)))
                    raise

            (hypothesis_seed(round_seed)(fuzz) if round_seed is not None else fuzz)()

        return one_round

    def result(self, verdict: str, message: str = "") -> CampaignResult:
        return CampaignResult(self.target, verdict, self.count[0], self.clock.elapsed, message=message)


def _run_on_world(world: World, spec: WorldSpec, target: str, budget: Budget, *, report_dir: Path | None,
                  seed: int | None, progress: Progress | None) -> CampaignResult:
    run = _Run(target, budget, None if report_dir is None else report_dir / "hypothesis" / target,
               budget.derandomize and seed is None, progress, _Clock(budget.seconds))
    if target == "stateful":
        one_round = run.stateful_rounds(world)
    else:
        ctx = FuzzContext.from_world(world)
        strategy = cases(target, ctx)
        if strategy.is_empty:
            return run.result("N/A", f"profile {world.profile.name} claims no {target} mode")
        one_round = run.case_rounds(ctx, strategy)
    try:
        if budget.counted and budget.examples is not None:  # counted: examples is set (Budget checks it)
            one_round(budget.examples, seed)
        else:
            with _shrink_limit(run.clock.stop_at - run.clock.generate_until):
                _rounds(run.clock, run.count, one_round, seed, budget.examples)
    except (AssertionError, DeviceCrashed, Flaky) as exc:
        if isinstance(exc, Flaky) and not run.failures and not run.clock.failing:
            return run.result("ERROR", f"flaky: {_first_line(exc)}")
        return _failed(run, exc, spec, report_dir, seed)
    except AdapterError as exc:
        return run.result("ERROR", f"the lab or harness failed: {exc}")
    return run.result("PASS")


def _failed(run: _Run, exc: BaseException, spec: WorldSpec, report_dir: Path | None,
            seed: int | None) -> CampaignResult:
    """The verdict on a failure (CRASH when the device lost liveness, else FAIL), its failure file saved."""
    verdict = "CRASH" if isinstance(exc, DeviceCrashed) or _crashed(exc) else "FAIL"
    case, last_inputs = (run.failures[-1][0], run.failures[-1][2]) if run.failures else (None, {})
    if isinstance(exc, DeviceCrashed) and exc.inputs:
        last_inputs = dict(exc.inputs)
    factory = run.factory
    steps = factory.last.log if factory is not None and factory.last is not None else []
    result = run.result(verdict, _first_line(exc))
    result.failure_file = _save(report_dir, spec, run.target, seed, exc, case, last_inputs, verdict, steps,
                                run.budget.steps)
    return result


def _rounds(clock: _Clock, count: list[int], one_round: Callable[[int, int | None], None], seed: int | None,
            examples: int | None) -> None:
    """Rounds of Hypothesis runs, each sized from the examples per second so far to end by the generation
    deadline (no example is ever rejected for time: Hypothesis would call that flaky), and in all at most
    ``examples`` when the budget also counts them."""
    index = 0
    size = 4
    while time.monotonic() < clock.generate_until:
        if examples is not None:
            if count[0] >= examples:
                return
            size = min(size, examples - count[0])
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
          case: Any, last_inputs: dict[str, Any], verdict: str, steps: list[str], step_count: int) -> Path | None:
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
        "error": f"{type(exc).__name__}: {exc}", "last_inputs": last_inputs, "stateful_step_count": step_count,
    }
    index = len(list(folder.glob(f"{target}-*.json"))) + 1
    path = folder / f"{target}-{index}.json"
    path.write_text(json.dumps(record, indent=1, ensure_ascii=False, default=repr), encoding="utf-8")
    return path


def run_campaign(spec: WorldSpec, targets: Sequence[str], budget: Budget, *, report_dir: Path | None = None,
                 seed: int | None = None, progress: Progress | None = None) -> list[CampaignResult]:
    """Each of ``targets`` in turn: each gets the budget's examples, and they share its seconds (if any) equally,
    so that the whole campaign stops within them."""
    results: list[CampaignResult] = []
    deadline = None if budget.seconds is None else time.monotonic() + budget.seconds
    for index, target in enumerate(targets):
        share = budget
        if deadline is not None:
            seconds = (deadline - time.monotonic()) / (len(targets) - index)
            if seconds <= 0.5:
                results.append(CampaignResult(target, "N/A", message="no budget left"))
                continue
            share = replace(budget, seconds=seconds)
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
            steps = int(record.get("stateful_step_count", 40))  # the blob replays under the step count it ran with
            runner = _stateful_runner(factory, _settings(None, steps=steps), None)
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


__all__ = ["NAMED_BUDGETS", "Budget", "CampaignResult", "WorldSpec", "replay", "run_campaign", "run_target"]
