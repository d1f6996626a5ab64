"""The run directory and what to run: run ids, ``<report-dir>/<run-id>/`` and its ``latest`` link, the suite files
of ``--suite``, the suites' version hash and ``-n`` (see :mod:`harness.cli.run`)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path

from harness.profiles.schema import Profile
from harness.report.rundir import resolve_run_dir  # finding a run again is the report's; re-exported

_SUITE_NAME = re.compile(r"^[a-z0-9_]+$")


class UsageProblem(Exception):
    """Bad usage or a bad profile: exit 2 with this one line."""


# -- the run directory ---------------------------------------------------------------------------------------

def new_run_id(now: datetime | None = None) -> str:
    """A sortable run id: the UTC time to the millisecond plus a short random suffix."""
    now = now or datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z-" + secrets.token_hex(3)


def make_run_dir(report_dir: Path, run_id: str) -> Path:
    run_dir = report_dir / run_id
    try:
        run_dir.mkdir(parents=True, exist_ok=False)
    except OSError as exc:
        raise UsageProblem(f"--report-dir {report_dir}: cannot create the run directory: {exc.strerror}") from None
    return run_dir


def point_latest(report_dir: Path, run_id: str) -> Path:
    """Make ``<report-dir>/latest`` a relative symlink to the run, or a text file naming it where links fail."""
    latest = report_dir / "latest"
    tmp = report_dir / f".latest-{secrets.token_hex(4)}"
    try:
        os.symlink(run_id, tmp, target_is_directory=True)
        if latest.is_dir() and not latest.is_symlink():
            raise OSError("latest is a real directory")
        os.replace(tmp, latest)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if latest.is_symlink():
            latest.unlink()
        if not latest.is_dir():
            latest.write_text(run_id + "\n", encoding="utf-8")
    return latest


def suite_files(suites_dir: Path) -> list[Path]:
    return sorted(suites_dir.glob("test_*.py"))


def select_suites(suites_dir: Path, names: list[str]) -> list[Path]:
    """The suite files for ``--suite token,qr`` (``test_<name>.py`` and ``test_<name>_*.py``), or all."""
    files = suite_files(suites_dir)
    if not files:
        raise UsageProblem(f"{suites_dir}: no suites found (expected test_*.py files)")
    if not names:
        return files
    available = sorted({f.stem.removeprefix("test_").split("_", 1)[0] for f in files})
    chosen: list[Path] = []
    for name in names:
        matches = [f for f in files if f.stem == f"test_{name}" or f.stem.startswith(f"test_{name}_")]
        if not _SUITE_NAME.match(name) or not matches:
            raise UsageProblem(f"--suite: no suite named {name!r} in {suites_dir}; available: {', '.join(available)}")
        chosen += [m for m in matches if m not in chosen]
    return chosen


def suite_version(suites_dir: Path) -> str:
    """A short SHA-256 over the suites' source (file names and contents), so a report names what ran."""
    digest = hashlib.sha256()
    for path in sorted(p for p in suites_dir.rglob("*") if p.is_file() and p.suffix in (".py", ".toml")):
        if "__pycache__" in path.parts:
            continue
        digest.update(path.relative_to(suites_dir).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()[:16]


def parse_workers(value: str | None, profile: Profile) -> int | str | None:
    """``-n``: None (no xdist), a number, or ``auto``; a device pool caps how many workers may run."""
    if value is None:
        return None
    pool = len(profile.adapters.device_pool)
    if value == "auto":
        return min(os.cpu_count() or 1, pool) if pool else "auto"
    if not value.isdigit():
        raise UsageProblem(f"-n: expected a number of workers or 'auto', got {value!r}")
    workers = int(value)
    if pool and workers > pool:
        raise UsageProblem(f"-n {workers}: profile {profile.name} has {pool} device(s) in adapters.device_pool; "
                           f"each worker needs its own")
    return workers if workers > 0 else None


__all__ = ["UsageProblem", "make_run_dir", "new_run_id", "parse_workers", "point_latest", "resolve_run_dir",
           "select_suites", "suite_files", "suite_version"]
