"""Locust's side of ``paircert load``: every Locust user is one emulated device against the cloud.

``paircert load`` runs Locust on this file (``locust -f <this file>``); a project's own locustfile may import
:class:`DeviceUser` from here as well. Each process (a lone local runner, or a worker) is one app user of the cloud
(:class:`~harness.load.appside.RunApp`: an account and a home, through the app API or the OpenAPI as
``--paircert-via`` says, made on its first device); each user gets a licence,
pairs (a pairing token from the app, activation over ATOP, MQTT login) and then takes a step every
``--paircert-report-every`` seconds: a DP report, an app command round trip, a rebind or a reset, by weight. Every
step is a Locust request event (type APP, ATOP, MQTT or DP) with its latency and failure reason.

The master (or the lone process) ends the run itself ``--paircert-duration`` seconds after spawning has completed
(every worker has made its app user and started its devices: a machine slow to start its workers does not cut
the run short of devices), with Locust's ``stop`` rather than its run-time limit, which quits without waiting for
the workers: every worker then reports its devices (:mod:`harness.load.collect`) before it says it has stopped,
and the master judges the invariants over all of them and writes them to ``--paircert-results``.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from typing import Any

import gevent
from locust import User, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

from harness.adapters.contracts import AdapterError
from harness.adapters.probes import CloudEndpoints
from harness.errors import HarnessError
from harness.load.app import LoadSetupError
from harness.load.appside import RunApp, open_app
from harness.load.collect import ProcessReport, judge, settle, write_results
from harness.load.device import DeviceSettings, LoadDevice, StepFailed
from harness.load.settings import MachineSettings, RunSettings, add_locust_arguments

MESSAGE = "paircert-devices"
LOCAL = "local"
#: How long the master waits past the settle time for the workers' reports before it calls the run incomplete.
REPORT_GRACE_S = 30.0
#: How long past ``devices / rate`` the run's clock waits for spawning to complete before it starts anyway.
SPAWN_GRACE_S = 30.0
log = logging.getLogger("paircert.load")


class _Process:
    """This process's share of the run: the settings, the app user (made once, by the first device that needs
    it), the devices, and on the master the workers' reports."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.settings = RunSettings()
        self.name = LOCAL
        self.app: RunApp | None = None
        self.endpoints: CloudEndpoints | None = None
        self.setup_error: str | None = None
        self.devices: list[LoadDevice] = []
        self.expected: list[str] = []
        self.reports: dict[str, ProcessReport] = {}
        self.ending = False  # the run reached its duration (not Ctrl-C, SIGTERM or a lost master)

    def ensure_app(self) -> tuple[RunApp, CloudEndpoints]:
        """The app user and the cloud's device endpoints; LoadSetupError (once, then remembered) if not to be had."""
        with self.lock:
            if self.app is None and self.setup_error is None:
                try:
                    machine = MachineSettings.from_env()
                    self.app, self.endpoints = open_app(machine, self.settings.via, f"paircert-load-{self.name}",
                                                        self.settings.timeout_s)
                except (LoadSetupError, AdapterError, ValueError) as exc:
                    self.setup_error = str(exc)
                    log.error("paircert load: this process cannot run devices: %s", exc)
            if self.app is None or self.endpoints is None:
                raise LoadSetupError(self.setup_error or "no app user")
            return self.app, self.endpoints

    def report(self) -> ProcessReport:
        """Close every device (MQTT DISCONNECT) and settle this process's account with the cloud."""
        for device in list(self.devices):
            device.close()
        return settle(self.name, self.app, [device.ledger for device in self.devices], self.settings.settle_s)


PROCESS = _Process()


class DeviceUser(User):
    """One emulated device of the run (a camera's protocol code on blocking, gevent-patched sockets)."""

    device: LoadDevice | None = None

    def wait_time(self) -> float:
        """Constant pacing: a step every ``report_every`` seconds, however long the last one took."""
        started = getattr(self, "_step_started", None)
        every = PROCESS.settings.report_every_s
        return every if started is None else max(0.0, every - (time.monotonic() - started))

    def _sink(self, kind: str, name: str, ms: float, size: int, error: BaseException | None) -> None:
        self.environment.events.request.fire(request_type=kind, name=name, response_time=ms, response_length=size,
                                             exception=error, context={"process": PROCESS.name})

    def on_start(self) -> None:
        started = time.perf_counter()
        try:
            app, endpoints = PROCESS.ensure_app()
            licence = app.licence()
        except (LoadSetupError, AdapterError) as exc:
            reason = "setup failed" if isinstance(exc, LoadSetupError) else "app API failed"
            self._sink("APP", "licence", (time.perf_counter() - started) * 1000, 0, StepFailed(reason))
            raise StopUser() from None
        self._sink("APP", "licence", (time.perf_counter() - started) * 1000, 0, None)
        settings = PROCESS.settings
        device_settings = DeviceSettings(activation_api=settings.activation_api,  # type: ignore[arg-type]
                                         mqtt_pv=settings.mqtt_pv, timeout_s=settings.timeout_s)  # type: ignore[arg-type]
        self.device = LoadDevice(licence, endpoints, app, sink=self._sink, tls=endpoints.tls_context(),
                                 settings=device_settings, worker=PROCESS.name)
        with PROCESS.lock:
            PROCESS.devices.append(self.device)
        self._step_started = time.monotonic()
        with contextlib.suppress(StepFailed):  # reported through the sink; the next step pairs again
            self.device.pair()

    @task
    def step(self) -> None:
        """Pair again if not bound, else one step chosen by the run's weights."""
        device = self.device
        if device is None:
            raise StopUser()
        self._step_started = time.monotonic()
        try:
            if device.ledger.expected != "bound" or device.dev_id is None:
                device.pair(name="re-activate" if device.ledger.activations else "activate")
                return
            weights = PROCESS.settings.weights
            choice = random.choices(list(weights), weights=list(weights.values()))[0]
            if choice == "command" and device.online:
                device.command_round_trip()
            elif choice == "rebind":
                device.rebind()
            elif choice == "reset":
                device.reset()
            else:
                device.report()
        except StepFailed:
            pass  # reported through the sink

    def on_stop(self) -> None:
        if self.device is not None:
            self.device.close()


# -- the run's life ---------------------------------------------------------------------------------------------

def _arguments(parser: Any, **_: Any) -> None:
    add_locust_arguments(parser)


def _init(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, MasterRunner):
        environment.runner.register_message(MESSAGE, _on_report)


def _on_report(environment: Environment, msg: Any, **_: Any) -> None:
    """The master hears one worker's account of its devices."""
    report = ProcessReport.from_json(msg.data)
    PROCESS.reports[report.process] = report


def _test_start(environment: Environment, **_: Any) -> None:
    PROCESS.settings = RunSettings.from_options(environment.parsed_options)
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        PROCESS.name = runner.client_id
    if not isinstance(runner, MasterRunner):
        # the app user before the first device: its account, home and product are not the devices' time
        with contextlib.suppress(LoadSetupError):
            PROCESS.ensure_app()
    if isinstance(runner, WorkerRunner):
        return
    PROCESS.expected = [node.id for node in runner.clients.values()] if isinstance(runner, MasterRunner) else [LOCAL]
    gevent.spawn(_end_after, environment, PROCESS.settings.duration_s)


def _end_after(environment: Environment, duration_s: float) -> None:
    """Stop the devices the run's duration after spawning completed (test_stop judges them), then quit."""
    runner = environment.runner
    if runner is None:
        raise HarnessError("broken invariant: runner is not None")
    options = environment.parsed_options
    users, rate = (getattr(options, "num_users", 0) or 0), (getattr(options, "spawn_rate", 0) or 0)
    deadline = time.monotonic() + (users / rate if users and rate else 0.0) + SPAWN_GRACE_S
    # the master's count is what its workers report once they have spawned (after making their app users)
    while runner.user_count < users and time.monotonic() < deadline:
        gevent.sleep(0.1)
    if runner.user_count < users:
        log.warning("paircert load: %d of %d devices spawned by the deadline; the run's %g s start now",
                    runner.user_count, users, duration_s)
    gevent.sleep(duration_s)
    PROCESS.ending = True
    runner.stop()
    runner.quit()


def _test_stop(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.send_message(MESSAGE, PROCESS.report().to_json())
        return
    if isinstance(runner, MasterRunner):
        # the workers report before they stop; when the run was cut short they were never told to
        deadline = time.monotonic() + (PROCESS.settings.settle_s + REPORT_GRACE_S if PROCESS.ending else 0.0)
        while set(PROCESS.expected) - set(PROCESS.reports) and time.monotonic() < deadline:
            gevent.sleep(0.1)
        reports = list(PROCESS.reports.values())
    else:
        reports = [PROCESS.report()]
    results = judge(reports, PROCESS.expected)
    results["settings"] = PROCESS.settings.weights | {"report_every_s": PROCESS.settings.report_every_s,
                                                      "duration_s": PROCESS.settings.duration_s}
    if PROCESS.settings.results:
        write_results(PROCESS.settings.results, results)
    if not results["holds"]:
        environment.process_exit_code = 1
    log.info("paircert load: invariants %s", "hold" if results["holds"] else "broken or not judged")


# Locust's EventHook.add_listener is not annotated: registered by call, not as an (untyped) decorator.
events.init_command_line_parser.add_listener(_arguments)  # type: ignore[no-untyped-call]
events.init.add_listener(_init)  # type: ignore[no-untyped-call]
events.test_start.add_listener(_test_start)  # type: ignore[no-untyped-call]
events.test_stop.add_listener(_test_stop)  # type: ignore[no-untyped-call]
