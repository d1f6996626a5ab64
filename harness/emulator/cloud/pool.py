"""The worker processes of ``paircert cloud serve --workers N`` (:mod:`.workers`): spawned, watched, stopped."""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

from harness.clock import SystemClock

from . import EmulatedCloud
from .workers import BrokerAddress, WorkerRole

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 60.0


@dataclass
class WorkerConfig:
    """What a spawned worker builds its cloud from (pickled to it; the admin key travels in the pipe, never on a
    command line)."""

    role: WorkerRole
    cloud: dict[str, Any]
    openapi: tuple[str, str, str] | None = None


def worker_main(config: WorkerConfig, ready: Any) -> None:
    """A spawned worker: serve until SIGTERM/SIGINT (the serving process sends it)."""
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s %(levelname)s worker {config.role.index} "
                                                   "%(name)s: %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    cloud = EmulatedCloud(clock=SystemClock(), worker=config.role, **config.cloud)
    if config.openapi is not None:
        cloud.openapi.register(config.openapi[0], config.openapi[1], schema=config.openapi[2])
    cloud.start()
    ready.set()
    try:
        while not stop.wait(1.0):
            pass
    finally:
        cloud.stop()


class WorkerPool:
    """Spawns workers 1..N-1 of a running worker 0 and watches them; a worker that dies is reported."""

    def __init__(self, count: int, broker: BrokerAddress | None, cloud: dict[str, Any],
                 openapi: tuple[str, str, str] | None) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._configs = [WorkerConfig(WorkerRole(i, count, broker), cloud, openapi) for i in range(1, count)]
        self.processes: list[BaseProcess] = []
        self._reported: set[int] = set()

    def start(self) -> None:
        """Start every worker and wait until each serves; RuntimeError when one does not."""
        pending = []
        for config in self._configs:
            ready = self._context.Event()
            process = self._context.Process(target=worker_main, args=(config, ready), daemon=True,
                                            name=f"paircert-cloud-worker-{config.role.index}")
            process.start()
            self.processes.append(process)
            pending.append((process, ready))
        for process, ready in pending:
            waited = 0.0
            while not ready.wait(0.2):
                waited += 0.2
                if not process.is_alive() or waited >= READY_TIMEOUT_S:
                    self.stop()
                    raise RuntimeError(f"cloud worker {process.name} did not start (exit code {process.exitcode})")

    def dead(self) -> list[tuple[str, int | None]]:
        """Workers that ended since the last call (name, exit code)."""
        out = []
        for number, process in enumerate(self.processes):
            if not process.is_alive() and number not in self._reported:
                self._reported.add(number)
                out.append((process.name, process.exitcode))
        return out

    def stop(self, timeout_s: float = 10.0) -> None:
        for process in self.processes:
            if process.is_alive() and process.pid is not None:
                process.terminate()
        for process in self.processes:
            process.join(timeout_s)
            if process.is_alive():
                log.warning("cloud worker %s did not stop within %s s: killed", process.name, timeout_s)
                process.kill()
                process.join(timeout_s)


__all__ = ["WorkerConfig", "WorkerPool", "worker_main"]
