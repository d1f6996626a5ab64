"""``paircert cloud serve``: a long-running lab cloud for real devices; ``paircert cloud ca``: its lab CA.

It prints its URLs (ATOP, url_config, app API, MQTT) and the licences it issued, then serves until SIGINT or
SIGTERM. The app API and the lab controls need credentials (:mod:`.auth`): the lab admin key is read from
``--admin-key-file`` (created there when missing), else kept beside ``--state`` as ``STATE.admin-key``, else made
anew; a new key is printed once. ``--no-auth`` drops every credential, and is refused unless ``--host`` is loopback.
With ``--state FILE.sqlite`` everything (products, licences, accounts, homes, tokens, devices,
notifications, attempts) survives a restart.

With ``--tls --ca DIR`` (PROTOCOL.md §11.1: genuine firmware speaks only TLS, with verification) ``--port``
serves HTTPS and ``--mqtt-port`` MQTT over TLS, with a server certificate issued by the lab CA in DIR (created
there when missing) for ``--host``, ``--advertise`` and every ``--tls-name``; ``--plain-port`` and
``--plain-mqtt-port`` keep plain listeners for old firmware. ``paircert cloud ca --out DIR`` writes the CA as
PEM, DER and a C array for a firmware build that trusts it.

AuthKeys are secrets. They are printed only to an interactive terminal (or with ``--print-secrets``), never
to a log; ``--licences-out FILE`` writes them as JSON (``[{"uuid", "authKey", "pid"}, ...]``) with 0600
permissions for scripts.

The ports are fixed (8080 for HTTP, 1883 for MQTT) unless ``--port``/``--mqtt-port`` say otherwise (0: any free
port), so that a camera that learned them keeps reaching the cloud after a restart. ``--licences N`` makes sure
every product has N unrevoked licences: a restart with the same ``--state`` reuses them instead of minting more.

``--products FILE.toml`` declares products::

    [[product]]
    pid = "abcdefghijklmnop"    # optional: 16 characters; generated when absent
    name = "Lab camera"
    category = "sp"             # "sp"/"camera"/"ipc" are cameras: always strong-bound
    binding_mode = "strong"     # strong | medium | weak (optional; strong by default)
    [[product.dp]]
    id = 1
    code = "switch"
    type = "bool"
    mode = "rw"
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import tomllib
from pathlib import Path
from types import FrameType
from typing import Any

import click

from .auth import LabAuth, admin_key_file, is_loopback_host, new_admin_key
from .faults import CLOUD_FAULTS
from .limits import ServerLimits
from .records import DpSchema, LicenceRecord, Product
from .state import TOKEN_RETENTION_S
from .workers import WorkerRole

log = logging.getLogger(__name__)

DEFAULT_PRODUCT = {"name": "paircert lab camera", "category": "sp", "binding_mode": "strong"}


def load_products(path: Path) -> list[dict[str, Any]]:
    """The ``[[product]]`` tables of a products file, checked enough to give a clear error."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"{path}: {exc}", param_hint="--products") from None
    products = data.get("product")
    if not isinstance(products, list) or not products or not all(isinstance(p, dict) for p in products):
        raise click.BadParameter(f"{path}: expected one or more [[product]] tables", param_hint="--products")
    for index, product in enumerate(products):
        for key in ("name", "category"):
            if not isinstance(product.get(key), str):
                raise click.BadParameter(f"{path}: product[{index}].{key} must be a string", param_hint="--products")
    return products


def _ensure_products(cloud: Any, declared: list[dict[str, Any]]) -> list[Product]:
    """Create the declared products that the (possibly restored) state does not have yet."""
    state = cloud.state
    out: list[Product] = []
    for spec in declared:
        pid = spec.get("pid")
        existing = state.products.get(pid) if pid else next(
            (p for p in state.products.values() if p.name == spec["name"]), None)
        if existing is not None:
            out.append(existing)
            continue
        schema = [DpSchema.from_dict(dp) for dp in spec.get("dp", [])] or None
        out.append(state.create_product(name=spec["name"], category=spec["category"],
                                        binding_mode=spec.get("binding_mode"), pid=pid, schema=schema))
    return out


def _ensure_licences(cloud: Any, products: list[Product], count: int) -> list[LicenceRecord]:
    """Issue what each product lacks of ``count`` unrevoked licences (none when the state already has them);
    every unrevoked licence the cloud has."""
    for product in products:
        with cloud.state.lock:
            have = sum(1 for lic in cloud.state.licences.values() if lic.pid == product.pid and not lic.revoked)
        for _ in range(max(0, count - have)):
            cloud.state.issue_licence(product.pid)
    with cloud.state.lock:
        return [lic for lic in cloud.state.licences.values() if not lic.revoked]


def _products_and_licences(cloud: Any, declared: list[dict[str, Any]] | None,
                           count: int) -> tuple[list[Product], list[LicenceRecord]]:
    if declared is not None or not cloud.state.products:
        products = _ensure_products(cloud, declared or [DEFAULT_PRODUCT])
    else:
        products = list(cloud.state.products.values())
    return products, _ensure_licences(cloud, products, count)


def _write_licences(path: Path, licences: list[LicenceRecord]) -> None:
    rows = [{"uuid": lic.uuid, "authKey": lic.auth_key, "pid": lic.pid} for lic in licences]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(rows, out, indent=2)
        out.write("\n")
    os.chmod(path, 0o600)


@click.group(name="cloud")
def cli_command() -> None:
    """The emulated cloud."""


def _tls_settings(tls: bool, ca_dir: Path | None, names: tuple[str, ...],
                  plain: tuple[int | None, int | None]) -> Any:
    """The TLS settings of ``serve`` (§11.1), or None; a usage error names the option at fault."""
    if not tls:
        if ca_dir is not None or names:
            raise click.UsageError("--ca and --tls-name need --tls")
        if plain != (None, None):
            raise click.UsageError("--plain-port and --plain-mqtt-port add plain listeners beside --tls ones; "
                                   "without --tls, --port and --mqtt-port are plain already")
        return None
    if ca_dir is None:
        raise click.UsageError("--tls needs --ca DIR: the lab CA the firmware trusts (created there when missing)")
    from .tls import LabCa, LabCaError, TlsSettings

    try:
        return TlsSettings(LabCa.load_or_create(ca_dir), names=names)
    except LabCaError as exc:
        raise click.BadParameter(str(exc), param_hint="--ca") from None


@cli_command.command(name="ca")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Where to write ca.pem, ca.der and ca_cert.h (a C array) for a firmware build.")
@click.option("--ca", "ca_dir", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="The lab CA's directory (ca.pem + ca.key; created when missing). Default: --out.")
def ca_command(out_dir: Path, ca_dir: Path | None) -> None:
    """Write the lab CA (PEM, DER and a C array) for a firmware build that trusts it (PROTOCOL.md §11.1)."""
    import hashlib

    from .tls import LabCa, LabCaError

    try:
        ca = LabCa.load_or_create(ca_dir or out_dir)
    except LabCaError as exc:
        raise click.BadParameter(str(exc), param_hint="--ca") from None
    for path in ca.write_exports(out_dir):
        click.echo(f"wrote {path}")
    click.echo(f"lab CA {ca.certificate.subject.rfc4514_string()}  SHA-256 {hashlib.sha256(ca.der).hexdigest()}")


@cli_command.command(name="serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (HTTP and MQTT).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="HTTP port, HTTPS with --tls: ATOP, url_config, the app API (0: any free port; real firmware "
                   "dials ATOP on 443).")
@click.option("--mqtt-port", default=1883, show_default=True, type=click.IntRange(0, 65535),
              help="MQTT port, MQTT over TLS with --tls (0: any free port; 8883 in production).")
@click.option("--advertise", "--advertise-host", "advertise_host", default=None,
              help="Host devices must use, when it differs from --host (url_config answers, the certificate).")
@click.option("--tls", is_flag=True, default=False, help="Serve HTTPS on --port and MQTT over TLS on --mqtt-port.")
@click.option("--ca", "ca_dir", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="With --tls: the lab CA's directory (ca.pem + ca.key, created when missing).")
@click.option("--tls-name", "tls_names", multiple=True,
              help="With --tls: another DNS name or IP for the server certificate (repeatable), e.g. the iot-dns "
                   "and ATOP host names the camera's DNS points at this machine.")
@click.option("--plain-port", default=None, type=click.IntRange(0, 65535),
              help="With --tls: also serve plain HTTP on this port for old firmware (0: any free port).")
@click.option("--plain-mqtt-port", default=None, type=click.IntRange(0, 65535),
              help="With --tls: also serve plain MQTT on this port for old firmware (0: any free port).")
@click.option("--state", "state_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="SQLite file: everything survives a restart.")
@click.option("--products", "products_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="TOML file of [[product]] tables.")
@click.option("--region", default="EU", show_default=True, help="This cloud's region (token prefix).")
@click.option("--token-ttl", default=600.0, show_default=True, type=click.FloatRange(min=1.0),
              help="Pairing token lifetime in seconds.")
@click.option("--broker", type=click.Choice(["amqtt", "mosquitto", "none"]), default="amqtt", show_default=True)
@click.option("--licences", "licence_count", default=0, show_default=True, type=click.IntRange(0, 10_000),
              help="Make sure every product has N unrevoked licences (a restart with --state reuses them).")
@click.option("--licences-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write every unrevoked licence (with its AuthKey) as JSON, mode 0600.")
@click.option("--print-secrets/--no-print-secrets", default=None,
              help="Print AuthKeys on stdout (default: only when stdout is a terminal).")
@click.option("--fault", "faults", multiple=True, metavar="NAME|MODULE:CLASS",
              help=f"Run a faulted cloud (repeatable): one of {', '.join(sorted(CLOUD_FAULTS))}, or a "
                   "package.module:Class spec of your own fault.")
@click.option("--openapi-client-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Serve Tuya's OpenAPI for the project whose client_id and secret this JSON file holds "
                   "(created with fresh random values, mode 0600, when it does not exist).")
@click.option("--admin-key-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The lab admin key (lab controls, creating accounts): read from this file, or created in it "
                   "(mode 0600) when missing. Default: STATE.admin-key beside --state, else a new key per start.")
@click.option("--no-auth", is_flag=True, default=False,
              help="No credentials at all (local development): allowed only when --host is loopback.")
@click.option("--header-timeout", default=10.0, show_default=True, type=click.FloatRange(min=0.01),
              help="Seconds a request head may take to arrive.")
@click.option("--body-timeout", default=30.0, show_default=True, type=click.FloatRange(min=0.01),
              help="Seconds the rest of a request (its body) may take after its head.")
@click.option("--max-connections", default=1024, show_default=True, type=click.IntRange(1, 65_535),
              help="Connections open at once, in all.")
@click.option("--max-connections-per-address", default=64, show_default=True, type=click.IntRange(1, 65_535),
              help="Connections open at once from one client address.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Serve from N processes on the same ports (SO_REUSEPORT) sharing the --state file (a temporary "
                   "one without --state); the MQTT broker runs in the first.")
@click.option("--token-retention", default=TOKEN_RETENTION_S, show_default=True, type=click.FloatRange(min=0.0),
              help="Seconds an expired or used pairing token (and its attempts) is kept before it is purged.")
def serve(host: str, port: int, mqtt_port: int, advertise_host: str | None, tls: bool, ca_dir: Path | None,
          tls_names: tuple[str, ...], plain_port: int | None, plain_mqtt_port: int | None, state_path: Path | None,
          products_path: Path | None, region: str, token_ttl: float, broker: str, licence_count: int,
          licences_out: Path | None, print_secrets: bool | None, faults: tuple[str, ...],
          openapi_client_file: Path | None, admin_key_file: Path | None, no_auth: bool, header_timeout: float,
          body_timeout: float, max_connections: int, max_connections_per_address: int,
          token_retention: float, workers: int) -> None:
    """Serve a lab cloud for real devices until SIGINT or SIGTERM."""
    from . import EmulatedCloud

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    auth, key_line = _lab_auth(host, state_path, admin_key_file, no_auth)
    limits = _server_limits(header_timeout, body_timeout, max_connections, max_connections_per_address)
    tls_settings = _tls_settings(tls, ca_dir, tls_names, plain=(plain_port, plain_mqtt_port))
    declared = load_products(products_path) if products_path else None
    project = _openapi_project(openapi_client_file)
    shared = _SharedFile(state_path) if workers > 1 else None
    kwargs: dict[str, Any] = dict(region=region, token_ttl_s=token_ttl, faults=faults, host=host,
                                  advertise_host=advertise_host, tls=tls_settings, auth=auth, limits=limits,
                                  token_retention_s=token_retention)
    try:
        cloud = EmulatedCloud(state_path=shared.path if shared else state_path, broker=broker, port=port,  # type: ignore[arg-type]
                              mqtt_port=mqtt_port, plain_port=plain_port, plain_mqtt_port=plain_mqtt_port,
                              worker=WorkerRole(0, workers) if shared else None, **kwargs)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if project is not None:  # the OpenAPI project (PROTOCOL.md §10)
        cloud.openapi.register(project[0], project[1], schema=project[2])
    try:
        cloud.start()
    except (RuntimeError, OSError) as exc:  # a listener could not bind: port 443 without privileges, in use, ...
        raise click.ClickException(str(exc)) from None
    pool = None
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        products, licences = _products_and_licences(cloud, declared, licence_count)
        if shared is not None:  # the others serve what worker 0 has set up: products and licences are stored
            pool = _start_workers(cloud, workers, shared, kwargs, project)
        _announce(cloud, products, licences, licences_out=licences_out,
                  show_secrets=sys.stdout.isatty() if print_secrets is None else print_secrets)
        click.echo(key_line)
        if licences_out is not None:
            _write_licences(licences_out, licences)
        click.echo("serving; stop with Ctrl-C or SIGTERM", err=False)  # flushed: scripts wait for this line
        sys.stdout.flush()
        _serve_until(stop, cloud, pool)
    finally:
        click.echo("stopping", err=True)
        if pool is not None:
            pool.stop()
        cloud.stop()
        if shared is not None:
            shared.cleanup()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _SharedFile:
    """The SQLite file the workers share: ``--state``, else a temporary one removed at the end."""

    def __init__(self, state_path: Path | None) -> None:
        import tempfile

        self._temp = None if state_path is not None else tempfile.TemporaryDirectory(prefix="paircert-cloud-")
        self.path = state_path if state_path is not None else Path(self._temp.name) / "state.sqlite"  # type: ignore[union-attr]

    def cleanup(self) -> None:
        if self._temp is not None:
            self._temp.cleanup()


def _start_workers(cloud: Any, workers: int, shared: _SharedFile, kwargs: dict[str, Any],
                   project: tuple[str, str, str] | None) -> Any:
    """Workers 1..N-1 on worker 0's actual ports (``--port 0`` chose them), with its broker's address."""
    from .pool import WorkerPool

    ports = dict(port=int(cloud.http_url.rpartition(":")[2]), plain_port=_port_of(cloud.plain_http_url))
    pool = WorkerPool(workers, cloud.broker_address(), {**kwargs, **ports, "state_path": shared.path,
                                                       "broker": "none"}, project)
    try:
        pool.start()
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    return pool


def _port_of(url: str | None) -> int | None:
    return None if url is None else int(url.rpartition(":")[2])


def _serve_until(stop: threading.Event, cloud: Any, pool: Any) -> None:
    """Wait for SIGINT/SIGTERM; with workers, apply their changes often (worker 0's broker disconnects a device
    another worker removed) and report a worker that died."""
    while not stop.wait(1.0 if pool is None else 0.2):
        if pool is None:
            continue
        cloud.state.sync()
        for name, code in pool.dead():
            log.error("cloud worker %s died (exit code %s): the others go on serving", name, code)
            click.echo(f"worker {name} died (exit code {code})", err=True)


def _openapi_project(path: Path | None) -> tuple[str, str, str] | None:
    """The OpenAPI project of ``--openapi-client-file`` (PROTOCOL.md §10), or None."""
    if path is None:
        return None
    from .openapi import client_file

    try:
        return client_file(path)
    except (OSError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="--openapi-client-file") from None


def _server_limits(header_timeout: float, body_timeout: float, max_connections: int,
                   per_address: int) -> ServerLimits:
    try:
        return ServerLimits(header_timeout_s=header_timeout, body_timeout_s=body_timeout,
                            max_connections=max_connections,
                            max_connections_per_address=min(per_address, max_connections))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _lab_auth(host: str, state_path: Path | None, key_file: Path | None, no_auth: bool) -> tuple[LabAuth, str]:
    """The lab's credentials and the banner line about them; a usage error (exit 2) for --no-auth off loopback."""
    if no_auth:
        if key_file is not None:
            raise click.UsageError("--no-auth and --admin-key-file exclude each other")
        if not is_loopback_host(host):
            raise click.UsageError(f"--no-auth is for loopback binds only; --host {host} reaches the network, so "
                                   "the lab cloud needs its admin key and account logins there")
        return LabAuth(None), "  auth        none (--no-auth: anyone on this machine may use every route)"
    path = key_file if key_file is not None else (Path(f"{state_path}.admin-key") if state_path else None)
    if path is None:
        key = new_admin_key()
        return LabAuth(key), (f"  admin key   {key}  (printed once, kept nowhere: use --admin-key-file or --state "
                              "to keep one)")
    try:
        key, created = admin_key_file(path)
    except (OSError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="--admin-key-file") from None
    if created:
        return LabAuth(key), f"  admin key   {key}  (new: printed once; kept in {path}, mode 0600)"
    return LabAuth(key), f"  admin key   in {path}"


def _announce(cloud: Any, products: list[Product], licences: list[LicenceRecord], *, show_secrets: bool,
              licences_out: Path | None) -> None:
    click.echo(f"paircert cloud (region {cloud.region}, faults: {', '.join(sorted(cloud.faults)) or 'none'})")
    if cloud.worker is not None:
        click.echo(f"  workers     {cloud.worker.count} processes on the same ports (SO_REUSEPORT), sharing one "
                   "state; the MQTT broker in the first")
    click.echo(f"  ATOP        {cloud.atop_url}")
    click.echo(f"  url_config  {cloud.http_url}/v2/url_config")
    click.echo(f"  app API     {cloud.app_url}")
    if cloud.mqtt_tls:
        click.echo(f"  MQTT        mqtts://{cloud.mqtt_host}:{cloud.mqtt_port}")
    else:
        click.echo(f"  MQTT        {cloud.mqtt_host}:{cloud.mqtt_port}")
    _announce_tls(cloud)
    for project in cloud.openapi.projects:  # flush left: scripts look for the line starting "OpenAPI "
        click.echo(f"OpenAPI       {cloud.openapi_url}  client_id {project.client_id}  app schema {project.schema}")
    for product in products:
        click.echo(f"  product     {product.pid}  {product.binding_mode.value:<6}  {product.category}  {product.name}")
    for lic in licences:
        key = lic.auth_key if show_secrets else "<hidden>"
        used = f"  device {lic.dev_id}" if lic.dev_id else ""
        click.echo(f"  licence     {lic.uuid}  {key}  {lic.pid}{used}")
    if licences and not show_secrets:
        where = f"written to {licences_out} (0600)" if licences_out else "use --licences-out FILE or --print-secrets"
        click.echo(f"  AuthKeys are not shown on a non-terminal stdout: {where}")


def _announce_tls(cloud: Any) -> None:
    """The plain listeners kept beside TLS, and the lab CA with the names the certificate carries (§11.1)."""
    if cloud.plain_http_url is not None:
        click.echo(f"  plain HTTP  {cloud.plain_http_url}/d.json  (old firmware)")
    if cloud.plain_mqtt_port is not None:
        click.echo(f"  plain MQTT  {cloud.mqtt_host}:{cloud.plain_mqtt_port}  (old firmware)")
    if cloud.tls is not None:
        where = cloud.tls.ca.path or "in memory"
        click.echo(f"  lab CA      {where}  (server certificate for {', '.join(cloud.tls.server.names)})")
        if cloud.atop_url.split("/")[2].rpartition(":")[2] != "443":
            click.echo("  note        real firmware dials ATOP on port 443 (PROTOCOL.md §11.2): use --port 443")


__all__ = ["ca_command", "cli_command", "load_products"]
