"""``make mutation``: mutation testing of the conformant emulator's rules with mutmut, as the generator of faults
nobody here has written (issue "Detection power").

mutmut (pinned in the dev extra, configured under ``[tool.mutmut]`` in pyproject.toml) copies ``harness/`` into
``mutants/``, rewrites every function of the modules in :data:`MODULES` so that each mutant can be switched on by
name, learns once which tests run which function, and then runs, for each mutant, only the tests that reach the
mutated function (the suites on the emulated camera-strong profile, and the unit tests of the model, the codecs
and the cloud's ATOP endpoint), stopping at the first failure. Its results live in ``mutants/**/*.meta``, so a
campaign stopped by its time budget, by Ctrl-C or by a crash goes on where it stopped: a mutant with a result is
never run again until its function changes (or the test selection in pyproject.toml does: then all run again).

This driver bounds a campaign (``--limit`` mutants per module, ``--time`` seconds of wall time, ``--jobs``
parallel children), runs one module at a time, and writes the report: a table per module (killed, survived,
equivalent, timed out, not covered) as ``reports/mutation/mutation.md`` and ``reports/mutation/mutation.json``.
A surviving mutant is either caught by a new test or argued equivalent in ``tests/mutation/equivalent.toml``
(its name and why it changes nothing a device, a cloud or the model shows).

    python tests/mutation/campaign.py --modules 'harness/model/*' --limit 50 --time 900 --jobs 2
    python tests/mutation/campaign.py --report-only
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MUTANTS = ROOT / "mutants"
EQUIVALENT = Path(__file__).resolve().parent / "equivalent.toml"
REPORT_DIR = ROOT / "reports" / "mutation"
GOAL = 0.90  # of the non-equivalent mutants of the cloud and camera rules, killed (or timed out)

#: The modules mutated, and the group whose score they count in (the goal is on "cloud" and "camera").
MODULES: dict[str, str] = {
    "harness/emulator/cloud/activation.py": "cloud",
    "harness/emulator/cloud/behaviour.py": "cloud",
    "harness/emulator/cloud/state.py": "cloud",
    "harness/emulator/broker/authority.py": "cloud",
    "harness/emulator/camera/pairing.py": "camera",
    "harness/emulator/camera/states.py": "camera",
    "harness/emulator/camera/ap.py": "camera",
    "harness/protocol/qr.py": "camera",
    "harness/protocol/strictjson.py": "camera",
    "harness/protocol/token.py": "camera",
    "harness/protocol/apconfig/frames.py": "codec",
    "harness/protocol/apconfig/messages.py": "codec",
    "harness/protocol/smartconfig/codec.py": "codec",
    "harness/protocol/smartconfig/receiver.py": "codec",
    "harness/protocol/smartconfig/multicast.py": "codec",
    "harness/model/binding.py": "model",
    "harness/model/outcomes.py": "model",
    "harness/model/token.py": "model",
}

#: mutmut's exit codes (mutmut.stats.status_by_exit_code) in this report's words.
STATUS_BY_EXIT_CODE: dict[int | None, str] = {
    1: "killed", 3: "killed", 0: "survived", 5: "not covered", 33: "not covered", 34: "skipped",
    36: "timeout", -24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout", 37: "killed",
    None: "not run",
}
COLUMNS = ("killed", "timeout", "survived", "not covered", "equivalent", "other", "not run")


@dataclass(frozen=True)
class Equivalent:
    """A mutant argued equivalent: it changes nothing a device, a cloud or the model shows."""

    name: str
    reason: str


@dataclass
class ModuleResult:
    """One module's mutants by status, and the names behind the statuses a person must look at."""

    path: str
    group: str
    counts: Counter[str] = field(default_factory=Counter)
    survivors: list[str] = field(default_factory=list)
    equivalents: list[Equivalent] = field(default_factory=list)
    killed_but_listed: list[str] = field(default_factory=list)

    @property
    def detected(self) -> int:
        return self.counts["killed"] + self.counts["timeout"]

    @property
    def judged(self) -> int:
        """Mutants run and not argued equivalent: the score's denominator."""
        return self.detected + self.counts["survived"] + self.counts["not covered"] + self.counts["other"]

    @property
    def score(self) -> float | None:
        return self.detected / self.judged if self.judged else None


def load_equivalents(path: Path = EQUIVALENT) -> dict[str, Equivalent]:
    """``[[mutant]] name = "...", reason = "..."`` entries; ValueError for a missing reason or a duplicate."""
    if not path.exists():
        return {}
    entries: dict[str, Equivalent] = {}
    for entry in tomllib.loads(path.read_text(encoding="utf-8")).get("mutant", []):
        name, reason = str(entry.get("name", "")), str(entry.get("reason", "")).strip()
        if "__mutmut_" not in name:
            raise ValueError(f"{path}: {name!r} is not a mutmut mutant name")
        if not reason:
            raise ValueError(f"{path}: {name} has no reason")
        if name in entries:
            raise ValueError(f"{path}: {name} is listed twice")
        entries[name] = Equivalent(name, reason)
    return entries


def module_of(mutant: str) -> str:
    """``harness.model.token.x_check_token__mutmut_3`` -> ``harness/model/token.py``."""
    dotted = mutant.partition("__mutmut_")[0].rpartition(".")[0]
    return dotted.replace(".", "/") + ".py"


def read_results(mutants_dir: Path = MUTANTS) -> dict[str, dict[str, int | None]]:
    """Every mutated module's mutants and their exit codes, from mutmut's ``.meta`` files."""
    out: dict[str, dict[str, int | None]] = {}
    for module in MODULES:
        meta = mutants_dir / f"{module}.meta"
        if meta.exists():
            out[module] = dict(json.loads(meta.read_text(encoding="utf-8")).get("exit_code_by_key", {}))
    return out


def summarise(results: dict[str, dict[str, int | None]], equivalents: dict[str, Equivalent]) -> list[ModuleResult]:
    """Each module's counts; a survivor (or an uncovered mutant) listed in ``equivalents`` counts as equivalent."""
    summary = []
    for module, group in MODULES.items():
        row = ModuleResult(module, group)
        for name, code in sorted(results.get(module, {}).items()):
            status = STATUS_BY_EXIT_CODE.get(code, "other")
            if name in equivalents and status in ("survived", "not covered"):
                row.equivalents.append(equivalents[name])
                status = "equivalent"
            elif name in equivalents and status in ("killed", "timeout"):
                row.killed_but_listed.append(name)
            elif status in ("survived", "not covered"):
                row.survivors.append(name)
            row.counts[status] += 1
        summary.append(row)
    return summary


def group_score(summary: list[ModuleResult], groups: tuple[str, ...]) -> tuple[int, int]:
    """(detected, judged) over the modules of ``groups``."""
    rows = [r for r in summary if r.group in groups]
    return sum(r.detected for r in rows), sum(r.judged for r in rows)


def render_markdown(summary: list[ModuleResult], *, diffs: dict[str, str] | None = None) -> str:
    """The report: one table row per module, the score of the goal's groups, then every survivor and every
    equivalent mutant with its reason."""
    lines = ["# Mutation testing", "", "| module | group | " + " | ".join(COLUMNS) + " | score |",
             "|---|---|" + "---|" * (len(COLUMNS) + 1)]
    for row in summary:
        score = "-" if row.score is None else f"{row.score:.1%}"
        lines.append(f"| `{row.path}` | {row.group} | " + " | ".join(str(row.counts[c]) for c in COLUMNS)
                     + f" | {score} |")
    detected, judged = group_score(summary, ("cloud", "camera"))
    goal = f"{detected}/{judged} = {detected / judged:.1%}" if judged else "nothing run"
    lines += ["", f"Cloud and camera rules: {goal} of the non-equivalent mutants run were killed (goal {GOAL:.0%}).",
              ""]
    for row in summary:
        if row.survivors:
            lines += [f"## Survivors of `{row.path}`", ""]
            for name in row.survivors:
                lines.append(f"- `{name}`")
                if diffs and name in diffs:
                    lines += ["", "```diff", diffs[name].strip(), "```", ""]
        if row.killed_but_listed:
            lines += [f"## Listed as equivalent but killed (take them off the list): `{row.path}`", ""]
            lines += [f"- `{name}`" for name in row.killed_but_listed]
        if row.equivalents:
            lines += ["", f"## Equivalent mutants of `{row.path}`", ""]
            lines += [f"- `{e.name}`: {e.reason}" for e in row.equivalents]
    return "\n".join(lines) + "\n"


def render_json(summary: list[ModuleResult]) -> dict[str, object]:
    detected, judged = group_score(summary, ("cloud", "camera"))
    return {
        "goal": GOAL,
        "cloud_and_camera": {"detected": detected, "judged": judged,
                             "score": detected / judged if judged else None},
        "modules": [{"module": r.path, "group": r.group, **{c: r.counts[c] for c in COLUMNS}, "score": r.score,
                     "survivors": r.survivors, "equivalent": [e.__dict__ for e in r.equivalents],
                     "listed_but_killed": r.killed_but_listed} for r in summary],
    }


# ---- running mutmut -------------------------------------------------------------------------------------------


def mutmut(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("mutmut")), *args]


def generate() -> None:
    """mutmut's own mutant generation (what ``mutmut run`` does first), so that the driver knows every mutant's
    name before choosing the ones to run; unchanged files are not regenerated. Files of ``harness/`` that are
    not mutated are refreshed in ``mutants/`` when they changed (mutmut copies them only once)."""
    for source in (ROOT / "harness").rglob("*"):
        if source.is_file() and "__pycache__" not in source.parts:
            relative = source.relative_to(ROOT)
            target = MUTANTS / relative
            if str(relative) not in MODULES and (not target.exists() or target.read_bytes() != source.read_bytes()):
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
    code = ("import os; from mutmut.__main__ import copy_src_dir, copy_also_copy_files, setup_source_paths, "
            "create_mutants; os.makedirs('mutants', exist_ok=True); copy_src_dir(); copy_also_copy_files(); "
            "setup_source_paths(); create_mutants(2)")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, timeout=600)


def pending(results: dict[str, dict[str, int | None]], module: str, limit: int | None,
            only: list[str] | None = None) -> list[str]:
    """The module's mutants without a result, in name order, at most ``limit`` of them; with ``only``, just those
    whose name matches one of its globs (a large module's rules first, say ``*create_token*``)."""
    names = sorted(name for name, code in results.get(module, {}).items()
                   if code is None and (not only or any(fnmatch.fnmatch(name, p) for p in only)))
    return names if limit is None else names[:limit]


def run_module(names: list[str], *, jobs: int, deadline: float, log: Path) -> str:
    """``mutmut run`` on ``names`` until done or ``deadline`` (then interrupted: results so far are kept)."""
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n=== mutmut run on {len(names)} mutants at {time.strftime('%H:%M:%S')}\n")
        out.flush()
        process = subprocess.Popen(mutmut("run", "--max-children", str(jobs), *names), cwd=ROOT, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True,
                                   env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
        try:
            process.wait(timeout=max(1.0, deadline - time.monotonic()))
            return "done" if process.returncode == 0 else f"mutmut exited {process.returncode} (see {log})"
        except subprocess.TimeoutExpired:
            stop(process)
            return "stopped by the time budget"
        except KeyboardInterrupt:
            stop(process)
            raise


def stop(process: subprocess.Popen[bytes]) -> None:
    """Interrupt mutmut (it stops its children and keeps what it has), then end its process group."""
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def diffs_for(names: list[str]) -> dict[str, str]:
    """``mutmut show`` for each survivor (bounded: the first 200)."""
    out = {}
    for name in names[:200]:
        done = subprocess.run(mutmut("show", name), cwd=ROOT, capture_output=True, text=True, timeout=120)
        out[name] = "\n".join(line for line in done.stdout.splitlines() if not line.startswith("# "))
    return out


def report(*, with_diffs: bool) -> list[ModuleResult]:
    summary = summarise(read_results(), load_equivalents())
    survivors = [name for row in summary for name in row.survivors]
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    (REPORT_DIR / "mutation.md").write_text(
        render_markdown(summary, diffs=diffs_for(survivors) if with_diffs else None), encoding="utf-8")
    (REPORT_DIR / "mutation.json").write_text(json.dumps(render_json(summary), indent=2) + "\n", encoding="utf-8")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modules", default="*", help="glob(s) of the modules to run, comma-separated")
    parser.add_argument("--limit", type=int, default=None, help="at most this many new mutants per module")
    parser.add_argument("--time", type=float, default=3600.0, help="wall-time budget in seconds (default 3600)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at once (default 2)")
    parser.add_argument("--only", default="", help="glob(s) of mutant names to run, comma-separated "
                                                   "(e.g. '*create_token*,*activate*')")
    parser.add_argument("--report-only", action="store_true", help="only write the report of what has run")
    parser.add_argument("--no-diffs", action="store_true", help="leave the survivors' diffs out of the report")
    args = parser.parse_args(argv)
    patterns = [p.strip() for p in args.modules.split(",") if p.strip()]
    only = [p.strip() for p in args.only.split(",") if p.strip()]
    chosen = [m for m in MODULES if any(fnmatch.fnmatch(m, p) for p in patterns)]
    if not chosen:
        parser.error(f"no module of the campaign matches {args.modules!r}: {sorted(MODULES)}")
    if not args.report_only:
        deadline = time.monotonic() + args.time
        REPORT_DIR.mkdir(parents=True, exist_ok=True)
        generate()
        for module in chosen:
            names = pending(read_results(), module, args.limit, only)
            if not names:
                continue
            if time.monotonic() >= deadline:
                print("time budget spent: the next run goes on from here")
                break
            print(f"{module}: {len(names)} mutants ...", flush=True)
            print(f"{module}: {run_module(names, jobs=args.jobs, deadline=deadline, log=REPORT_DIR / 'mutmut.log')}",
                  flush=True)
    summary = report(with_diffs=not args.no_diffs)
    for row in summary:
        score = "-" if row.score is None else f"{row.score:.1%}"
        print(f"{row.path:45} " + "  ".join(f"{c} {row.counts[c]}" for c in COLUMNS) + f"  score {score}")
    detected, judged = group_score(summary, ("cloud", "camera"))
    if judged:
        print(f"cloud and camera rules: {detected}/{judged} = {detected / judged:.1%} killed (goal {GOAL:.0%})")
    print(f"report: {REPORT_DIR / 'mutation.md'}, {REPORT_DIR / 'mutation.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
