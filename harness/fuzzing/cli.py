"""``paircert fuzz``: a bounded campaign with progress (counted in examples, or in wall time), or the replay of a
saved failure."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click

from harness.fuzzing.campaign import NAMED_BUDGETS, Budget, CampaignResult, WorldSpec, replay, run_campaign
from harness.fuzzing.targets import TARGETS

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
EXIT = {"PASS": 0, "N/A": 0, "FAIL": 1, "CRASH": 1, "ERROR": 3}


def parse_duration(text: str) -> float:
    """``60s``, ``2m``, ``1.5h``, ``500ms`` or a bare number of seconds."""
    found = _DURATION.match(text)
    if not found:
        raise click.BadParameter(f"{text!r} is not a duration such as 60s, 2m or 1h")
    value, unit = float(found.group(1)), found.group(2) or "s"
    return value * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]


def parse_budget(text: str, examples: int | None = None, steps: int | None = None) -> Budget:
    """A named, counted budget (``ci``, ``default``, ``nightly``) or a wall-time one (``60s``, ``2m``);
    ``examples`` and ``steps`` override the counts (with a duration, examples cap the campaign too)."""
    if text in NAMED_BUDGETS:
        base = Budget.named(text)
    else:
        try:
            base = Budget(seconds=parse_duration(text), steps=NAMED_BUDGETS["default"].steps)
        except click.BadParameter:
            raise click.BadParameter(f"{text!r} is neither a budget ({', '.join(NAMED_BUDGETS)}) nor a duration "
                                     f"such as 60s, 2m or 1h") from None
    try:
        return Budget(examples=examples if examples is not None else base.examples,
                      steps=steps if steps is not None else base.steps, seconds=base.seconds, shrink=base.shrink,
                      derandomize=base.derandomize)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _table(results: list[CampaignResult]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="paircert fuzz")
    for column in ("target", "verdict", "examples", "seconds", "examples/s", "failure"):
        table.add_column(column)
    colours = {"PASS": "green", "N/A": "yellow", "FAIL": "red", "CRASH": "red", "ERROR": "magenta"}
    for r in results:
        table.add_row(r.target, f"[{colours[r.verdict]}]{r.verdict}[/]", str(r.examples), f"{r.seconds:.1f}",
                      f"{r.rate:.1f}", str(r.failure_file or r.message or ""))
    Console(stderr=False).print(table)


@click.command(name="fuzz")
@click.option("--target", "targets", type=click.Choice([*TARGETS, "all"]), multiple=True, default=["all"],
              show_default=True, help="What to fuzz (repeatable).")
@click.option("--profile", default="camera-strong", show_default=True, help="Device profile name or path.")
@click.option("--budget", default="default", show_default=True,
              help="ci, default or nightly, counted in examples (ci is derandomized: the same run on any machine; "
                   "--seed makes any run repeatable), or a wall time for the whole campaign (60s, 5m).")
@click.option("--examples", type=click.IntRange(min=1), default=None,
              help="Examples per target, instead of the named budget's (with a wall time: at most this many).")
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="Steps per example of the stateful target, instead of the named budget's.")
@click.option("--report-dir", type=click.Path(path_type=Path), default=Path("reports/fuzz"), show_default=True,
              help="Where failures and the Hypothesis example database go.")
@click.option("--seed", type=int, default=None, help="Hypothesis seed (printed; the same seed replays a run).")
@click.option("--world-seed", type=int, default=None, help="Seed of the emulated world (air noise, identifiers).")
@click.option("--fault", "device_faults", multiple=True, help="Emulated camera fault to switch on (self-check).")
@click.option("--cloud-fault", "cloud_faults", multiple=True, help="Emulated cloud fault to switch on.")
@click.option("--replay", "replay_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Rerun a saved failure file exactly instead of fuzzing.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def cli_command(targets: tuple[str, ...], profile: str, budget: str, examples: int | None, steps: int | None,
                report_dir: Path, seed: int | None, world_seed: int | None, device_faults: tuple[str, ...],
                cloud_faults: tuple[str, ...], replay_file: Path | None, as_json: bool) -> None:
    """Fuzz pairing inputs, the ATOP endpoint and the binding lifecycle within a budget; save failures."""
    if replay_file is not None:
        result = replay(replay_file)
        results = [result]
    else:
        chosen = list(TARGETS) if "all" in targets else list(dict.fromkeys(targets))
        chosen_budget = parse_budget(budget, examples, steps)
        report_dir.mkdir(parents=True, exist_ok=True)
        if seed is not None:
            how = f"seed {seed} (the same --seed replays the run)"
        elif chosen_budget.derandomize:
            how = "derandomized (the same examples on every run)"
        else:
            how = f"random seed, example database under {report_dir / 'hypothesis'}"
        click.echo(f"paircert fuzz: profile {profile}, targets {', '.join(chosen)}, budget {_describe(chosen_budget)}, "
                   f"{how}; failures are saved under {report_dir / 'failures'} for --replay", err=True)
        spec = WorldSpec(profile, device_faults, cloud_faults, world_seed)
        results = _run_with_progress(spec, chosen, chosen_budget, report_dir, seed)
    if as_json:
        click.echo(json.dumps([{"target": r.target, "verdict": r.verdict, "examples": r.examples,
                                "seconds": round(r.seconds, 3), "examples_per_s": round(r.rate, 2),
                                "message": r.message, "failure_file": str(r.failure_file) if r.failure_file else None}
                               for r in results], indent=1))
    else:
        _table(results)
    sys.exit(max(EXIT[r.verdict] for r in results))


def _describe(budget: Budget) -> str:
    parts = [] if budget.examples is None else [f"{budget.examples} examples per target"]
    if budget.seconds is not None:
        parts.append(f"{budget.seconds:g}s in all")
    return ", ".join(parts) + f", {budget.steps} steps per stateful example"


def _run_with_progress(spec: WorldSpec, targets: list[str], budget: Budget, report_dir: Path,
                       seed: int | None) -> list[CampaignResult]:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[examples]} examples"),
                  TextColumn("{task.fields[rate]:.1f}/s"), TimeElapsedColumn(), transient=False,
                  console=Console(stderr=True)) as bar:
        tasks = {t: bar.add_task(t, total=1.0, examples=0, rate=0.0) for t in targets}

        def progress(target: str, examples: int, elapsed: float) -> None:
            rate = examples / elapsed if elapsed > 0 else 0.0
            done = [examples / budget.examples] if budget.examples is not None else []
            if budget.seconds is not None:
                done.append(elapsed / (budget.seconds / max(1, len(targets))))
            bar.update(tasks[target], examples=examples, rate=rate, completed=min(1.0, max(done)))

        results = run_campaign(spec, targets, budget, report_dir=report_dir, seed=seed, progress=progress)
        for target in targets:
            bar.update(tasks[target], completed=1.0)
    return results


__all__ = ["cli_command", "parse_budget", "parse_duration"]
