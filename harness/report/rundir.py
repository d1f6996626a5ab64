"""Finding a run again: its directory from a path that may be the report directory, its ``latest`` link (a
symlink, or a text file naming the run where links fail) or a run directory. ``paircert run`` makes them
(:mod:`harness.cli.rundir`); ``paircert report`` and the results reader find them.
"""

from __future__ import annotations

from pathlib import Path

from harness.report.summary import SUMMARY_FILE


def resolve_run_dir(path: Path) -> Path:
    """A run directory from a path that may be a ``latest`` symlink or text file, or the report directory."""
    if path.is_dir() and not (path / SUMMARY_FILE).exists() and (path / "latest").exists():
        path = path / "latest"
    if path.is_file() and path.name == "latest":
        return path.parent / path.read_text(encoding="utf-8").strip()
    return path.resolve()


__all__ = ["resolve_run_dir"]
