"""A run's directory: ``<report-dir>/<run-id>/`` and the ``latest`` link beside it.

``paircert run`` makes them; ``paircert report`` finds a run again from a path that may be the report directory,
its ``latest`` link, or a run directory.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

from harness.report.summary import SUMMARY_FILE


class RunDirError(Exception):
    """The run directory cannot be made (bad usage: exit 2 with this one line)."""


def new_run_id(now: datetime | None = None) -> str:
    """A sortable run id: the UTC time to the millisecond plus a short random suffix."""
    now = now or datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z-" + secrets.token_hex(3)


def make_run_dir(report_dir: Path, run_id: str) -> Path:
    run_dir = report_dir / run_id
    try:
        run_dir.mkdir(parents=True, exist_ok=False)
    except OSError as exc:
        raise RunDirError(f"--report-dir {report_dir}: cannot create the run directory: {exc.strerror}") from None
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


def resolve_run_dir(path: Path) -> Path:
    """A run directory from a path that may be a ``latest`` symlink or text file, or the report directory."""
    if path.is_dir() and not (path / SUMMARY_FILE).exists() and (path / "latest").exists():
        path = path / "latest"
    if path.is_file() and path.name == "latest":
        return path.parent / path.read_text(encoding="utf-8").strip()
    return path.resolve()


__all__ = ["RunDirError", "make_run_dir", "new_run_id", "point_latest", "resolve_run_dir"]
