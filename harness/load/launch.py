"""Locust's processes for ``paircert load``: their command lines, their environment, and bounded waits for them.

Locust runs in processes of its own (``python -m locust -f harness/load/locustfile.py``): gevent's monkey-patching
belongs to them, not to ``paircert``. The master (or the lone local process) is always headless; it gets the run's
``--paircert-*`` settings, writes Locust's CSV statistics and HTML report and the invariants' JSON into the run
directory. Workers get only where the master is; every process gets the machine's cloud, CA and admin key in its
environment (:mod:`harness.load.settings`), so the admin key is on no command line.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from harness.load.app import ADMIN_KEY_ENV
from harness.load.settings import CA_ENV, CLOUD_ENV, OPTION_ENVS, SECRET_ENV, RunSettings

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
RESULTS = "invariants.json"
HTML = "locust.html"
CSV_PREFIX = "locust"
#: Beyond spawning (devices / rate), duration and settle time, what a run may take: the workers starting,
#: stopping and reporting, the HTML.
OVERHEAD_S = 90.0
STOP_WAIT_S = 10.0


@dataclass(frozen=True)
class Machine:
    """This machine's view of the cloud: the URL its devices use, the CA file it trusts, the lab's admin key, the
    OpenAPI project's secret, and the other machine-local options (:data:`~harness.load.settings.OPTION_ENVS`)."""

    cloud: str
    ca: str | None
    admin_key: str | None
    secret: str | None = None
    options: tuple[tuple[str, str], ...] = ()

    def env(self) -> dict[str, str]:
        env = {**os.environ, CLOUD_ENV: self.cloud, "PYTHONUNBUFFERED": "1"}
        for name in (CA_ENV, ADMIN_KEY_ENV, SECRET_ENV, *OPTION_ENVS.values()):
            env.pop(name, None)
        if self.ca:
            env[CA_ENV] = self.ca
        if self.admin_key:
            env[ADMIN_KEY_ENV] = self.admin_key
        if self.secret:
            env[SECRET_ENV] = self.secret
        env.update({OPTION_ENVS[name]: value for name, value in self.options if value})
        return env

    def with_option(self, name: str, value: str) -> Machine:
        """This machine with one more option (the run directory's claims file, known once it exists)."""
        return Machine(self.cloud, self.ca, self.admin_key, self.secret, (*self.options, (name, value)))


@dataclass(frozen=True)
class Swarm:
    """How many devices, how fast they start, and which processes run them."""

    devices: int
    rate: float
    workers: int = 0            # local worker processes (0: the devices run in the one local process)
    master: bool = False        # a master for workers started elsewhere (expect_workers of them)
    expect_workers: int = 0
    bind_host: str = "127.0.0.1"
    bind_port: int = 5557
    workers_wait_s: float = 60.0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def locust_base() -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--skip-log-setup"]


def master_command(run_dir: Path, settings: RunSettings, swarm: Swarm) -> list[str]:
    """The headless master's (or lone process's) command line; ``settings.results`` is set to the run directory."""
    cmd = [*locust_base(), "--headless", "-u", str(swarm.devices), "-r", str(swarm.rate),
           "--csv", str(run_dir / CSV_PREFIX), "--html", str(run_dir / HTML), "--only-summary",
           "--stop-timeout", "0", *settings.locust_args()]
    expected = swarm.workers or swarm.expect_workers
    if swarm.workers or swarm.master:
        wait_s = max(1, round(swarm.workers_wait_s))  # Locust takes whole seconds
        cmd += ["--master", "--master-bind-host", swarm.bind_host, "--master-bind-port", str(swarm.bind_port),
                "--expect-workers", str(expected), "--expect-workers-max-wait", str(wait_s)]
    return cmd


def worker_command(master_host: str, master_port: int) -> list[str]:
    return [*locust_base(), "--worker", "--master-host", master_host, "--master-port", str(master_port)]


@dataclass
class Launched:
    """Processes started for a run, each with its log file; stopped with SIGTERM, then SIGKILL, by its own pid."""

    procs: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = field(default_factory=list)

    def start(self, name: str, cmd: Sequence[str], env: Mapping[str, str], log_path: Path) -> subprocess.Popen[bytes]:
        log = log_path.open("wb")
        proc = subprocess.Popen(list(cmd), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=dict(env))
        self.procs.append((name, proc, log))
        return proc

    def wait(self, proc: subprocess.Popen[bytes], timeout_s: float) -> int | None:
        """The process's exit code, or None if it was still running at the deadline."""
        try:
            return proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def stop_all(self) -> None:
        for _name, proc, _log in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT_S
        for _name, proc, log in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_WAIT_S)
            log.close()


def run_swarm(run_dir: Path, settings: RunSettings, swarm: Swarm, machine: Machine) -> tuple[int | None, Path]:
    """Run the master (with ``swarm.workers`` local workers) to its end; its exit code (None: it overran its
    time and was stopped) and the results file it was told to write."""
    results = run_dir / RESULTS
    settings = RunSettings(**{**settings.__dict__, "results": str(results)})
    if swarm.workers:
        swarm = Swarm(**{**swarm.__dict__, "bind_port": free_port(swarm.bind_host)})
    launched = Launched()
    try:
        master = launched.start("master", master_command(run_dir, settings, swarm), machine.env(),
                                run_dir / "locust-master.log")
        for index in range(swarm.workers):
            launched.start(f"worker-{index + 1}", worker_command(swarm.bind_host, swarm.bind_port), machine.env(),
                           run_dir / f"locust-worker-{index + 1}.log")
        budget = (swarm.workers_wait_s + swarm.devices / swarm.rate + settings.duration_s + settings.settle_s
                  + settings.timeout_s + OVERHEAD_S)
        code = launched.wait(master, budget)
    finally:
        launched.stop_all()
    return code, results


def run_worker(run_dir: Path, master_host: str, master_port: int, machine: Machine, deadline_s: float) -> int | None:
    """One worker for a master elsewhere, until the master ends the run (at most ``deadline_s``)."""
    launched = Launched()
    try:
        worker = launched.start("worker", worker_command(master_host, master_port), machine.env(),
                                run_dir / "locust-worker.log")
        return launched.wait(worker, deadline_s)
    finally:
        launched.stop_all()


__all__ = ["CSV_PREFIX", "HTML", "LOCUSTFILE", "RESULTS", "Launched", "Machine", "Swarm", "free_port",
           "master_command", "run_swarm", "run_worker", "worker_command"]
