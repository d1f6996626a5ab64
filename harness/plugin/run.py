"""The state of one paircert run in one process, and of one suite test while it runs (see :mod:`harness.plugin`).

:class:`Run` lives in ``config.stash`` and is also registered as a plugin, so that the controller (the only
process without ``workerinput``) records each finished test case from its report, wherever it ran.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness import __version__
from harness.plugin.options import PRECEDENCE, Settings

if TYPE_CHECKING:
    from harness.adapters.contracts import DeviceAdapter, World
    from harness.app.activator import Activator
    from harness.conformance.lab import Lab
    from harness.conformance.verdicts import Verdict
    from harness.evidence import EvidenceRecorder
    from harness.plugin.pcap import TrafficEvidence, TrafficMark
    from harness.profiles import Profile




class ItemState:
    """What the plugin keeps for one suite test while it runs."""

    def __init__(self, recorder: EvidenceRecorder, started: float | None) -> None:
        self.recorder = recorder
        self.started = started
        self.phases: list[tuple[str, Verdict | None, str]] = []
        self.duration = 0.0
        self.start: float | None = None
        self.devices: list[DeviceAdapter] = []
        self.lab: Lab | None = None
        self.attached = False
        self.traffic: TrafficMark | None = None


class Run:
    """The state of one paircert run in one process (the controller, or an xdist worker)."""

    def __init__(self, config: pytest.Config, settings: Settings, profile: Profile, seed: int) -> None:
        from harness.conformance.lab import DevicePreparer
        from harness.redaction import Redactor, register

        self.config = config
        self.settings = settings
        self.profile = profile
        self.seed = seed
        self.redactor = Redactor()
        register(self.redactor)
        self._learn_profile_secrets()
        workerinput = getattr(config, "workerinput", None)
        self.worker: str | None = workerinput["workerid"] if workerinput else None
        self.report_dir = settings.path("report_dir")
        evidence = settings.path("evidence_dir")
        # all | failed | none (--paircert-evidence): which tests keep an evidence directory
        self.evidence = settings.get("evidence") or "all"
        self.evidence_dir = (evidence or (self.report_dir / "evidence" if self.report_dir else None)
                             if self.evidence != "none" else None)
        self.allure_dir: str | None = config.getoption("allure_report_dir", None)
        self.suite_dirs = [Path(p).resolve() for p in config.getini("paircert_suites")] or _bundled_suites()
        catalogue = config.getini("paircert_requirements")
        base = config.inipath.parent if config.inipath else config.rootpath
        self.vendor_catalogue: Path | None = (base / str(catalogue)).resolve() if catalogue else None
        self.tc_seen: dict[str, str] = {}
        self._requirements: dict[str, Any] | None = None
        self._world: World | None = None
        self._activator_class: type[Activator] | None = None
        self._world_error: str | None = None
        self._world_lock = threading.Lock()
        params = profile.parameters
        self.preparer = DevicePreparer(params.pairing_mode_timeout_s, params.boot_time_s)
        self.results: list[dict[str, Any]] = []
        self.started = time.time()
        self._traffic: TrafficEvidence | None = None

    def _learn_profile_secrets(self) -> None:
        from pydantic import BaseModel

        from harness.profiles import SecretRef

        def walk(node: Any) -> None:
            if isinstance(node, SecretRef):
                with contextlib.suppress(Exception):  # unset: it errs where it is used
                    self.redactor.add(node.resolve())
            elif isinstance(node, BaseModel):
                for name in type(node).model_fields:
                    walk(getattr(node, name))
            elif isinstance(node, dict):
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(self.profile)

    # -- requirements -----------------------------------------------------------------------------------

    def requirements(self) -> dict[str, Any]:
        """paircert's requirement catalogue, extended by the vendor's (ini ``paircert_requirements``) if any."""
        if self._requirements is None:
            from harness.conformance.requirements import CatalogueError, load_catalogue

            vendor = [self.vendor_catalogue] if self.vendor_catalogue is not None else []
            try:
                self._requirements = dict(load_catalogue(*vendor))
            except CatalogueError as exc:
                raise pytest.UsageError(f"paircert_requirements: {exc}") from None
        return self._requirements

    def check_traceability(self) -> None:
        """With a vendor catalogue: every TC of the vendor's suites (ini ``paircert_suites``, else the catalogue's
        directory) names known requirements, and each of the vendor's requirements is checked by one of them; a
        usage error naming the catalogue otherwise, before the first test."""
        if self.vendor_catalogue is None:
            return
        from harness.conformance.requirements import load_requirements
        from harness.conformance.traceability import problems, tc_markers

        catalogue = self.requirements()
        own = [req for req in catalogue if req not in load_requirements()]
        suites = [d for d in self.suite_dirs if d not in _bundled_suites()] or [self.vendor_catalogue.parent]
        found = problems(catalogue, tc_markers(suites), must_be_checked=own)
        if found:
            raise pytest.UsageError(f"paircert_requirements: {self.vendor_catalogue}: traceability with "
                                    f"{', '.join(map(str, suites))}: {'; '.join(found)}")

    # -- the world --------------------------------------------------------------------------------------

    def world(self) -> World:
        from harness.adapters.contracts import AdapterError

        with self._world_lock:
            if self._world is not None:
                return self._world
            if self._world_error is not None:
                raise AdapterError(f"the world could not be built ({self._world_error}); not trying again")
            try:
                world: World | None = self.config.hook.pytest_paircert_make_world(
                    config=self.config, profile=self.profile, cloud=self.settings.get("cloud"),
                    device=self.settings.get("device"), network=self.settings.get("network"), seed=self.seed)
                if world is None:
                    raise AdapterError("no pytest_paircert_make_world implementation returned a world")
            except Exception as exc:
                self._world_error = f"{type(exc).__name__}: {exc}"
                raise AdapterError(f"building the world failed: {self._world_error}") from exc
            self._world = world
        self.redactor.add(world.device.licence.auth_key)
        for secret in world.secrets():
            self.redactor.add(secret)
        if self.report_dir is not None:
            line = json.dumps(self.redactor.redact_obj({"worker": self.worker, "info": dict(world.info())}))
            with (self.report_dir / "worlds.jsonl").open("a", encoding="utf-8") as out:
                out.write(line + "\n")
        return world

    @property
    def world_built(self) -> bool:
        return self._world is not None

    @property
    def built_world(self) -> World | None:
        """The world if it has been built (never builds it)."""
        return self._world

    @property
    def traffic(self) -> TrafficEvidence:
        """The packet evidence of this process (:mod:`harness.plugin.pcap`)."""
        if self._traffic is None:
            from harness.plugin.pcap import TrafficEvidence

            self._traffic = TrafficEvidence(self.redactor)
        return self._traffic

    def close_traffic(self) -> None:
        traffic, self._traffic = self._traffic, None
        if traffic is not None:
            traffic.close()

    def activator_class(self) -> type[Activator]:
        """The app side the lab pairs with (``pytest_paircert_activator_class``)."""
        if self._activator_class is None:
            found: type[Activator] | None = self.config.hook.pytest_paircert_activator_class(config=self.config)
            if found is None:
                from harness.app.activator import Activator

                found = Activator
            self._activator_class = found
        return self._activator_class

    def now(self) -> float:
        world = self._world
        return world.clock.time() if world is not None else time.time()

    def clock_is_virtual(self) -> bool:
        """Whether the world's clock is virtual (evidence then shows its times as offsets beside the wall time)."""
        world = self._world
        return bool(getattr(world.clock, "is_virtual", False)) if world is not None else False

    def close_world(self) -> None:
        world, self._world = self._world, None
        if world is not None:
            world.close()

    # -- results (controller only) ----------------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """A hook of this object (registered as a plugin): the controller records each finished test."""
        result = getattr(report, "paircert_result", None)
        if result is not None and self.worker is None:
            self.record(result)

    def record(self, result: dict[str, Any]) -> None:
        result = self.redactor.redact_obj(result)
        self.results.append(result)
        if self.report_dir is not None:
            with (self.report_dir / "results.jsonl").open("a", encoding="utf-8") as out:
                out.write(json.dumps(result, ensure_ascii=False) + "\n")
        self.config.hook.pytest_paircert_tc_result(config=self.config, result=result)

    def write_session(self, **extra: Any) -> None:
        if self.report_dir is None:
            return
        summary = {
            "harness_version": __version__, "profile": self.profile.summary(), "seed": self.seed,
            "options": {k: {"value": v, "source": self.settings.sources[k]} for k, v in self.settings.values.items()},
            "precedence": PRECEDENCE, "started": self.started, **extra,
        }
        target = self.report_dir / "session.json"
        target.write_text(self.redactor.redact(json.dumps(summary, indent=1, default=str)), encoding="utf-8")

    def environment(self) -> dict[str, str]:
        """What was tested with what, for Allure's Environment panel (profile, firmware, adapters, seed, ...)."""
        import platform

        profile, settings = self.profile, self.settings
        adapters = {kind: settings.get(kind) or getattr(profile.adapters, kind).name
                    for kind in ("cloud", "device", "network")}
        return {
            "profile": profile.name, "profile_sha256": profile.hash(), "device": profile.device.name,
            "pid": profile.device.pid, "firmware": profile.device.firmware,
            **{f"{kind}_adapter": name for kind, name in adapters.items()},
            "seed": str(self.seed), "paircert": __version__, "python": platform.python_version(),
        }

    def redact_tree(self, directory: Path) -> None:
        """Redact files others wrote (allure-pytest's results) in place."""
        if not directory.is_dir() or not len(self.redactor):
            return
        for path in directory.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                clean = self.redactor.redact_bytes(data)
                if clean != data:
                    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
                    tmp.write_bytes(clean)
                    os.replace(tmp, path)


def _bundled_suites() -> list[Path]:
    from harness import bundled

    try:
        return [bundled.suites_dir()]
    except bundled.BundleMissing:
        return []


__all__ = ["ItemState", "Run"]
