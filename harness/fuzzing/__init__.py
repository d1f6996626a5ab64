"""Fuzz campaigns: targets, time-bounded runs with saved, replayable failures, and ``paircert fuzz``.

:mod:`harness.fuzzing.drive` and :mod:`harness.fuzzing.targets` use the adapters only (the suites share
them); :mod:`harness.fuzzing.campaign` runs a target for a time budget on a world built from a profile;
:mod:`harness.fuzzing.cli` is the click command ``paircert fuzz`` (``cli_command``, imported on first use so
that the suites importing the targets do not pull in click and rich).
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "cli_command":
        from harness.fuzzing.cli import cli_command

        return cli_command
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["cli_command"]
