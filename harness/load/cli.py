"""``paircert load``: thousands of emulated devices against a cloud, on Locust.

Three forms, the standard Locust ones:

- ``paircert load --cloud URL --devices N --rate R --duration D [--workers K]``: headless on this machine, in one
  Locust process or a master and K local workers;
- ``paircert load --master --expect-workers K --cloud URL --devices N ...``: a headless master for K workers
  started elsewhere (listening on ``--bind-host``/``--bind-port``);
- ``paircert load --worker --master-host H --cloud URL``: one worker on this machine for a master elsewhere.

``--via openapi`` drives the app side through Tuya's OpenAPI (:mod:`harness.load.openapi`) instead of the app API,
and ``--licences FILE`` hands the devices a vendor's licence list (:mod:`harness.load.licences`).

Before any Locust process starts, the cloud is asked for its lab controls with this machine's admin key, or the
OpenAPI logs the project in (a cloud that cannot take the run or issue its licences is a setup error: exit 2). The
summary (every step's latency and failures, the invariants) is printed and kept in the run directory beside Locust's
CSV statistics and HTML report. Exit code: 0 the invariants hold, 1 one is broken, 3 they could not be judged, 2 bad
usage or setup.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from harness import redaction
from harness.cli.rundir import new_run_id
from harness.errors import HarnessError
from harness.fuzzing.cli import parse_duration
from harness.load.app import ADMIN_KEY_ENV, LoadSetupError, read_admin_key
from harness.load.appside import check
from harness.load.launch import Machine, Swarm, run_swarm, run_worker
from harness.load.licences import LicenceFileError, read_licences
from harness.load.settings import ACTIVATION_APIS, MQTT_VERSIONS, SECRET_ENV, VIAS, MachineSettings, RunSettings
from harness.load.summary import exit_code, read_results, render

MAX_DEVICES = 100_000
MAX_WORKERS = 64
CLAIMS_FILE = "licence-claims"  # how many lines of --licences this machine's processes have taken


def _seconds(low: float, high: float = 86_400.0) -> Callable[[click.Context, click.Parameter, str], float]:
    """A click callback: a duration (``30s``, ``5m``, ``500ms``) between ``low`` and ``high`` seconds."""

    def parse(ctx: click.Context, param: click.Parameter, value: str) -> float:
        seconds = parse_duration(value)
        if not low <= seconds <= high:
            raise click.BadParameter(f"{value!r}: between {low:g} s and {high:g} s")
        return seconds

    return parse


def _machine(cloud: str, ca: Path | None, admin_key_file: str | None, timeout_s: float, wait_s: float,
             access: Access) -> Machine:
    """This machine's cloud, checked: reachable, trusting ``ca``, offering lab controls to the admin key (or, with
    ``--via openapi``, logging the project in); tried again every second for ``wait_s`` (a cloud starting beside
    the load, as in docker compose)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            if ca is not None and not ca.is_file():
                raise LoadSetupError(f"--ca {ca}: no such file")
            admin_key = read_admin_key(admin_key_file)
            secret = read_secret(access.secret_file) if access.via == "openapi" else None
            options = access.options()
            check(MachineSettings(cloud, str(ca) if ca else None, admin_key, secret, **dict(options)), access.via,
                  timeout_s)
            return Machine(cloud, str(ca.resolve()) if ca else None, admin_key, secret, options)
        except LoadSetupError as exc:
            if time.monotonic() + 1.0 > deadline:
                raise click.UsageError(f"--cloud {cloud}: {exc}") from None
        time.sleep(1.0)


@dataclass(frozen=True)
class Access:
    """How the run reaches the app side (``--via``), with the OpenAPI project and the licences file."""

    via: str = "app"
    client_id: str | None = None
    secret_file: str | None = None
    schema: str | None = None
    url_config: str | None = None
    lab_api: str | None = None
    licences: Path | None = None
    product_id: str | None = None

    def options(self) -> tuple[tuple[str, str], ...]:
        """The machine-local options for the Locust processes' environment (no secret among them)."""
        values = {"client_id": self.client_id, "schema": self.schema, "url_config": self.url_config,
                  "lab": self.lab_api, "licences": str(self.licences.resolve()) if self.licences else None,
                  "product_id": self.product_id}
        return tuple((name, value) for name, value in values.items() if value)

    def check_usage(self, devices: int | None) -> None:
        """Usage errors of these options (exit 2): the OpenAPI's id without ``--via openapi``, a licences file
        that cannot be read or lists fewer licences than ``devices``."""
        if self.via != "openapi" and (self.client_id or self.secret_file or self.url_config or self.lab_api):
            raise click.UsageError("--client-id, --secret-file, --url-config and --lab-api go with --via openapi")
        if self.via == "openapi" and not self.client_id:
            raise click.UsageError("--via openapi needs --client-id (the cloud project's Access ID)")
        if self.licences is None:
            if self.product_id:
                raise click.UsageError("--product-id goes with --licences")
            return
        try:
            count = len(read_licences(self.licences, product_id=self.product_id))
        except LicenceFileError as exc:
            raise click.UsageError(str(exc)) from None
        if devices is not None and count < devices:
            raise click.UsageError(f"--licences {self.licences}: {count} licences for {devices} devices "
                                   "(one a device)")


def read_secret(path: str | None) -> str:
    """The OpenAPI project's secret: ``$PAIRCERT_OPENAPI_SECRET``, else ``--secret-file``: the ``secret`` of a JSON
    object (the file ``cloud serve --openapi-client-file`` keeps) or the file's first line."""
    secret = os.environ.get(SECRET_ENV, "").strip()
    if secret or not path:
        if not secret:
            raise LoadSetupError(f"--via openapi needs the project's secret: set ${SECRET_ENV} or --secret-file")
        redaction.learn(secret)
        return secret
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadSetupError(f"--secret-file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    with contextlib.suppress(ValueError):
        raw = json.loads(text)
        if isinstance(raw, dict) and isinstance(raw.get("secret"), str):
            text = raw["secret"]
    secret = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not secret:
        raise LoadSetupError(f"--secret-file {path}: empty")
    redaction.learn(secret)
    return secret


def _run_dir(report_dir: Path, kind: str) -> Path:
    run_dir = report_dir / f"load-{kind}-{new_run_id()}"
    try:
        run_dir.mkdir(parents=True)
    except OSError as exc:
        raise click.UsageError(f"--report-dir {report_dir}: cannot create the run directory: {exc.strerror}") from None
    return run_dir


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(3)


@click.command("load")
@click.option("--cloud", required=True, metavar="URL",
              help="The cloud's app API as this machine reaches it (https://host:port/app/v1 from `cloud serve`).")
@click.option("--ca", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The CA certificate (PEM) to trust for the cloud's app API, ATOP and MQTT over TLS.")
@click.option("--admin-key-file", type=click.Path(dir_okay=False), default=None,
              help=f"The lab's admin key (first line); ${ADMIN_KEY_ENV} wins over it.")
@click.option("--cloud-wait", default="0s", show_default=True, callback=_seconds(0.0, 3600.0),
              help="Try the cloud (and --ca, --admin-key-file) again every second this long before giving up.")
@click.option("--devices", "-u", default=100, show_default=True, type=click.IntRange(1, MAX_DEVICES),
              help="Devices in the run (Locust users), at most 100,000.")
@click.option("--rate", "-r", default=10.0, show_default=True, type=click.FloatRange(0.01, 10_000),
              help="Devices started per second (Locust's spawn rate).")
@click.option("--duration", "-t", default="30s", show_default=True, callback=_seconds(0.5),
              help="How long the run lasts once every device has been spawned (30s, 5m, 1h).")
@click.option("--workers", default=0, show_default=True, type=click.IntRange(0, MAX_WORKERS),
              help="Local Locust worker processes (0: one process runs every device).")
@click.option("--master", "as_master", is_flag=True, help="Be the master of workers started elsewhere.")
@click.option("--expect-workers", default=1, show_default=True, type=click.IntRange(1, 10_000),
              help="With --master: how many workers to wait for (at most --workers-wait) before starting.")
@click.option("--workers-wait", default="60s", show_default=True, callback=_seconds(1.0, 3600.0),
              help="How long a master waits for its workers to connect.")
@click.option("--bind-host", default="127.0.0.1", show_default=True, help="With --master: where workers connect.")
@click.option("--bind-port", default=5557, show_default=True, type=click.IntRange(1, 65535))
@click.option("--worker", "as_worker", is_flag=True, help="Be a worker of the master at --master-host.")
@click.option("--master-host", default=None, help="With --worker: the master's address.")
@click.option("--master-port", default=5557, show_default=True, type=click.IntRange(1, 65535))
@click.option("--worker-deadline", default="1h", show_default=True, callback=_seconds(1.0),
              help="With --worker: stop after this long whatever the master does.")
@click.option("--report-every", default="1s", show_default=True, callback=_seconds(0.01, 3600.0),
              help="Each device takes a step this often: a DP report, or by weight a command, rebind or reset.")
@click.option("--reports", "report_weight", default=10, show_default=True, type=click.IntRange(0, 1000),
              help="Weight of a DP report among a device's steps.")
@click.option("--commands", "command_weight", default=2, show_default=True, type=click.IntRange(0, 1000),
              help="Weight of an app command round trip (the app sets a DP, the device reports it).")
@click.option("--rebinds", "rebind_weight", default=0, show_default=True, type=click.IntRange(0, 1000),
              help="Weight of a rebind (the app removes the device, it pairs again).")
@click.option("--resets", "reset_weight", default=0, show_default=True, type=click.IntRange(0, 1000),
              help="Weight of a reset (tuya.device.reset, then pairing again).")
@click.option("--activation-api", default="v4.4", show_default=True, type=click.Choice(ACTIVATION_APIS))
@click.option("--mqtt-pv", default="2.2", show_default=True, type=click.Choice(MQTT_VERSIONS))
@click.option("--timeout", "timeout_s", default=10.0, show_default=True, type=click.FloatRange(0.1, 600),
              help="Seconds a device waits for any one answer.")
@click.option("--settle", default="10s", show_default=True, callback=_seconds(0.0, 600.0),
              help="After the run, how long the cloud may take to record what was acknowledged.")
@click.option("--report-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"),
              show_default=True, help="Where the run directory is made.")
@click.option("--via", default="app", show_default=True, type=click.Choice(VIAS),
              help="How the devices' pairing tokens, removals and commands and the final device lists reach the "
                   "cloud: its app API (with the lab's admin key) or Tuya's OpenAPI (--cloud is then its base URL).")
@click.option("--client-id", default=None, help="With --via openapi: the cloud project's Access ID.")
@click.option("--secret-file", default=None, type=click.Path(dir_okay=False),
              help=f"With --via openapi: the project's Access Secret (first line, or the 'secret' of a JSON file); "
                   f"${SECRET_ENV} wins over it.")
@click.option("--schema", default=None, help="With --via openapi: the OEM app users are synced into (default "
                                             "paircert, the lab's).")
@click.option("--url-config", default=None, metavar="URL",
              help="With --via openapi: where devices ask for their endpoints (default: the OpenAPI host's "
                   "/v2/url_config).")
@click.option("--lab-api", default=None, metavar="URL",
              help="With --via openapi and no --licences: the lab's app API that issues licences (default: the "
                   "OpenAPI host's /app/v1).")
@click.option("--licences", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The devices' licences as CSV, uuid,authkey[,product id] a line, one a device (at least "
                   "--devices of them); else the lab issues them.")
@click.option("--product-id", default=None, help="With --licences: the product of the lines without one.")
def cli_command(cloud: str, ca: Path | None, admin_key_file: str | None, cloud_wait: float, devices: int, rate: float,
                duration: float, workers: int, as_master: bool, expect_workers: int, workers_wait: float,
                bind_host: str, bind_port: int, as_worker: bool, master_host: str | None, master_port: int,
                worker_deadline: float, report_every: float, report_weight: int, command_weight: int,
                rebind_weight: int, reset_weight: int, activation_api: str, mqtt_pv: str, timeout_s: float,
                settle: float, report_dir: Path, **access_options: Any) -> None:
    """Run emulated devices against a cloud with Locust and check that the cloud kept every binding and report."""
    access = Access(**access_options)
    access.check_usage(None if as_worker else devices)
    if as_master and as_worker:
        raise click.UsageError("--master and --worker: one process is one of them")
    if as_worker and not master_host:
        raise click.UsageError("--worker needs --master-host")
    if workers and (as_master or as_worker):
        raise click.UsageError("--workers starts local workers for a local master: not with --master or --worker")
    machine = _machine(cloud, ca, admin_key_file, timeout_s, cloud_wait, access)
    # SIGTERM unwinds like Ctrl-C, so that the Locust processes are stopped on the way out (launch's finally)
    signal.signal(signal.SIGTERM, _terminated)
    if as_worker:
        if master_host is None:
            raise HarnessError("broken invariant: master_host is not None")
        run_dir = _run_dir(report_dir, "worker")
        machine = machine.with_option("claims", str(run_dir.resolve() / CLAIMS_FILE))
        code = run_worker(run_dir, master_host, master_port, machine, worker_deadline)
        click.echo(f"paircert load: worker {'ended' if code is not None else 'stopped at its deadline'}; "
                   f"log in {run_dir}")
        sys.exit(0 if code == 0 else 3)
    try:
        settings = RunSettings(duration_s=duration, report_every_s=report_every, report_weight=report_weight,
                               command_weight=command_weight, rebind_weight=rebind_weight,
                               reset_weight=reset_weight, timeout_s=timeout_s, settle_s=settle,
                               activation_api=activation_api, mqtt_pv=mqtt_pv, via=access.via)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    swarm = Swarm(devices=devices, rate=rate, workers=workers, master=as_master, expect_workers=expect_workers,
                  bind_host=bind_host, bind_port=bind_port, workers_wait_s=workers_wait)
    run_dir = _run_dir(report_dir, "master" if as_master else "run")
    machine = machine.with_option("claims", str(run_dir.resolve() / CLAIMS_FILE))
    form = (f"{workers} local workers" if workers else f"a master for {expect_workers} workers" if as_master
            else "one process")
    click.echo(f"paircert load: {devices} devices at {rate:g}/s for {duration:g} s against {cloud} ({form}, "
               f"via {access.via}); "
               f"run directory {run_dir}", err=True)
    code, _results = run_swarm(run_dir, settings, swarm, machine)
    title = f"paircert load: {devices} devices, {rate:g}/s, {duration:g} s, {form}"
    if code is None:
        title += " (Locust overran its time and was stopped)"
    summary = render(run_dir, title)
    (run_dir / "summary.txt").write_text(summary, encoding="utf-8")
    click.echo(summary, nl=False)
    sys.exit(exit_code(read_results(run_dir)))


__all__ = ["cli_command"]
