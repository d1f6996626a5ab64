"""The ``paircert`` command.

Each subcommand lives beside the code it drives and is imported only when it is invoked, so that
``paircert --help`` stays fast and a broken optional component cannot take the others down.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from harness import __version__

# name -> "module:attribute" of a click command or group
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("harness.cli.run", "Run the conformance suites against a profile and write the report."),
    "fuzz": ("harness.fuzzing.cli", "Run a time-bounded fuzz campaign, or replay a saved failure."),
    "report": ("harness.report.cli", "Re-render a run's HTML report (or the Allure report)."),
    "profiles": ("harness.cli.profiles", "List and validate device profiles."),
    "cloud": ("harness.emulator.cloud.cli", "The emulated cloud: `paircert cloud serve`."),
    "device": ("harness.cli.device", "The emulated camera as a process: `paircert device serve`."),
    "load": ("harness.load.cli", "Emulated devices by the thousand against a cloud, on Locust; invariants checked."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use (``<module>:cli_command``)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, _ = COMMANDS[cmd_name]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and module_name.startswith(exc.name):
                return _unavailable(cmd_name)
            raise
        command: Any = getattr(module, "cli_command", None)
        if not isinstance(command, click.Command):
            return _unavailable(cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _unavailable(name: str) -> click.Command:
    @click.command(name=name, help=f"(not available in paircert {__version__})")
    def unavailable() -> None:
        raise click.UsageError(f"'paircert {name}' is not available in this version of paircert")

    return unavailable


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="paircert")
def main() -> None:
    """paircert: conformance harness and fuzzer for Tuya-style Wi-Fi pairing and device-cloud binding."""
