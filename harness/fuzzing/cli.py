"""``paircert fuzz``: a time-bounded campaign with progress, or the replay of a saved failure."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click

from harness.fuzzing.campaign import CampaignResult, WorldSpec, replay, run_campaign
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
@click.option("--budget", default="60s", show_default=True, help="Wall time for the whole campaign (60s, 5m).")
@click.option("--report-dir", type=click.Path(path_type=Path), default=Path("reports/fuzz"), show_default=True,
              help="Where failures and the Hypothesis example database go.")
@click.option("--seed", type=int, default=None, help="Hypothesis seed (printed; the same seed replays a run).")
@click.option("--world-seed", type=int, default=None, help="Seed of the emulated world (air noise, identifiers).")
@click.option("--fault", "device_faults", multiple=True, help="Emulated camera fault to switch on (self-check).")
@click.option("--cloud-fault", "cloud_faults", multiple=True, help="Emulated cloud fault to switch on.")
@click.option("--replay", "replay_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Rerun a saved failure file exactly instead of fuzzing.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def cli_command(targets: tuple[str, ...], profile: str, budget: str, report_dir: Path, seed: int | None,
                world_seed: int | None, device_faults: tuple[str, ...], cloud_faults: tuple[str, ...],
                replay_file: Path | None, as_json: bool) -> None:
    """Fuzz pairing inputs, the ATOP endpoint and the binding lifecycle for a time budget; save failures."""
    if replay_file is not None:
        result = replay(replay_file)
        results = [result]
    else:
        chosen = list(TARGETS) if "all" in targets else list(dict.fromkeys(targets))
        seconds = parse_duration(budget)
        report_dir.mkdir(parents=True, exist_ok=True)
        how = (f"seed {seed} (the same --seed replays the run; a seeded run keeps no example database)"
               if seed is not None else f"random seed, example database under {report_dir / 'hypothesis'}")
        click.echo(f"paircert fuzz: profile {profile}, targets {', '.join(chosen)}, budget {seconds:g}s, {how}; "
                   f"failures are saved under {report_dir / 'failures'} for --replay", err=True)
        spec = WorldSpec(profile, device_faults, cloud_faults, world_seed)
        results = _run_with_progress(spec, chosen, seconds, report_dir, seed)
    if as_json:
        click.echo(json.dumps([{"target": r.target, "verdict": r.verdict, "examples": r.examples,
                                "seconds": round(r.seconds, 3), "examples_per_s": round(r.rate, 2),
                                "message": r.message, "failure_file": str(r.failure_file) if r.failure_file else None}
                               for r in results], indent=1))
    else:
        _table(results)
    sys.exit(max(EXIT[r.verdict] for r in results))


def _run_with_progress(spec: WorldSpec, targets: list[str], seconds: float, report_dir: Path,
                       seed: int | None) -> list[CampaignResult]:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[examples]} examples"),
                  TextColumn("{task.fields[rate]:.1f}/s"), TimeElapsedColumn(), transient=False,
                  console=Console(stderr=True)) as bar:
        tasks = {t: bar.add_task(t, total=1.0, examples=0, rate=0.0) for t in targets}

        def progress(target: str, examples: int, elapsed: float) -> None:
            rate = examples / elapsed if elapsed > 0 else 0.0
            bar.update(tasks[target], examples=examples, rate=rate, completed=min(1.0, elapsed / per_target))

        per_target = seconds / max(1, len(targets))
        results = run_campaign(spec, targets, seconds, report_dir=report_dir, seed=seed, progress=progress)
        for target in targets:
            bar.update(tasks[target], completed=1.0)
    return results


__all__ = ["cli_command", "parse_duration"]
