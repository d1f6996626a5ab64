"""``paircert profiles``: list the bundled device profiles, or validate profile files with ``--check``.

``--check`` runs what ``paircert run`` runs before its first test (:mod:`harness.adapters.preflight`): the schema,
then every ``env:`` reference, adapter, adapter argument, fault, hook command and interface, in this
environment. ``--schema-only`` checks the file alone (a template whose secrets are not exported here).
Exit codes follow DESIGN.md ("Verdicts"): 0 when every profile is valid, 2 for a bad profile.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from harness.profiles.schema import Profile, ProfileError, bundled_profile_paths, load_profile, read_profile_file

BAD_PROFILE_EXIT = 2


def _console() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = 160
    return console


def _row(profile: Profile) -> list[str]:
    caps = profile.capabilities
    modes = ", ".join(caps.pairing_modes)
    return [profile.name, profile.device.kind, modes, caps.binding_mode, profile.adapters_summary(),
            profile.hash()[:12]]


def _list_bundled() -> int:
    try:
        paths = bundled_profile_paths()
    except ProfileError as exc:
        for line in exc.lines():
            click.echo(line, err=True)
        return BAD_PROFILE_EXIT
    table = Table(title="Bundled profiles", title_justify="left")
    for header in ("profile", "kind", "pairing modes", "binding", "adapters (cloud / device / network)", "sha256"):
        table.add_column(header, no_wrap=True)
    errors: list[str] = []
    for path in paths:
        try:
            table.add_row(*_row(read_profile_file(path)))
        except ProfileError as exc:
            table.add_row(path.stem, "[red]invalid[/red]", "", "", "", "")
            errors.extend(exc.lines())
    _console().print(table)
    for line in errors:
        click.echo(line, err=True)
    return BAD_PROFILE_EXIT if errors else 0


def _check(targets: tuple[str, ...], *, schema_only: bool = False) -> int:
    status = 0
    names = targets or tuple(str(p) for p in bundled_profile_paths())
    for target in names:
        try:
            profile = load_profile(Path(target) if Path(target).exists() else target)
            if not schema_only:
                from harness.adapters.preflight import preflight

                preflight(profile)
        except ProfileError as exc:
            for line in exc.lines():
                click.echo(line, err=True)
            status = BAD_PROFILE_EXIT
            continue
        click.echo(f"ok: {target} ({profile.name}: {profile.device.kind}, "
                   f"{', '.join(profile.capabilities.pairing_modes)}, {profile.capabilities.binding_mode}; "
                   f"sha256 {profile.hash()[:12]})")
    return status


@click.command(name="profiles")
@click.option("--check", "check", is_flag=True,
              help="Validate the given profile files or names (all bundled profiles when none is given) as "
                   "paircert run does before its first test.")
@click.option("--schema-only", is_flag=True, help="With --check: the file alone (no environment, adapters, hooks).")
@click.argument("targets", nargs=-1, metavar="[PATH|NAME]...")
@click.pass_context
def cli_command(ctx: click.Context, check: bool, schema_only: bool, targets: tuple[str, ...]) -> None:
    """List the bundled device profiles, or validate profiles with --check (exit 2 when one is invalid)."""
    if targets and not check:
        raise click.UsageError("profile paths are only taken with --check (paircert profiles --check PATH...)")
    try:
        status = _check(targets, schema_only=schema_only) if check else _list_bundled()
    except ProfileError as exc:
        for line in exc.lines():
            click.echo(line, err=True)
        status = BAD_PROFILE_EXIT
    ctx.exit(status)


__all__ = ["cli_command"]
