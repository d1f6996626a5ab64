"""The load run's emulated device (harness.load.device) and its invariants (harness.load.ledger), in plain threads
against a lab cloud in this process: a real aiohttp server with its admin key and logins, the embedded broker, TLS."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from harness.emulator.cloud import EmulatedCloud, LabAuth
from harness.emulator.cloud.tls import LabCa, TlsSettings
from harness.load.app import LabApp, LoadSetupError, connect, device_endpoints, ensure_product, read_admin_key
from harness.load.device import DeviceSettings, LoadDevice, StepFailed
from harness.load.ledger import (
    BOUND_ONCE,
    NO_LOSS_OR_DUPLICATE,
    REPORTS_RECORDED,
    SEQ_DP,
    DeviceLedger,
    check_invariants,
)

ADMIN_KEY = "load-test-admin-key-0123456789"
Steps = list[tuple[str, str, str | None]]


class Run:
    """One lab cloud, the run's app user, and every step the devices reported."""

    def __init__(self, cloud: EmulatedCloud, ca: str | None) -> None:
        self.lab = cloud
        self.cloud = connect(cloud.app_url, admin_key=ADMIN_KEY, ca=ca, timeout_s=10.0)
        self.app = LabApp(self.cloud, ensure_product(self.cloud).pid, "load-test")
        self.endpoints = device_endpoints(self.cloud)
        self.steps: Steps = []

    def sink(self, kind: str, name: str, ms: float, size: int, error: BaseException | None) -> None:
        assert ms >= 0 and size >= 0
        self.steps.append((kind, name, None if error is None else str(error)))

    def device(self, **settings: Any) -> LoadDevice:
        return LoadDevice(self.app.licence(), self.endpoints, self.app, sink=self.sink,
                          tls=self.endpoints.tls_context(), settings=DeviceSettings(timeout_s=10.0, **settings))

    def settled_rows(self, devices: list[LoadDevice], deadline_s: float = 10.0) -> list[Mapping[str, Any]]:
        """The home's devices once the cloud holds every device's last acknowledged report and has counted every
        acknowledged one (polled, bounded): the broker acknowledges a report (a command's answer too, which carries
        no sequence number) before the cloud's subscriber records it."""
        end = time.monotonic() + deadline_s

        def settled(d: LoadDevice, row: Mapping[str, Any]) -> bool:
            return ((d.ledger.last_seq is None or row.get("dps", {}).get(SEQ_DP) == d.ledger.last_seq)
                    and row.get("reports", 0) >= d.ledger.reports_acked)

        while True:
            rows = self.app.rows()
            seen = {row["uuid"]: row for row in rows}
            if all(settled(d, seen.get(d.ledger.uuid, {})) for d in devices) or time.monotonic() > end:
                return rows
            time.sleep(0.05)


@pytest.fixture(scope="module")
def plain_cloud() -> Iterator[EmulatedCloud]:
    with EmulatedCloud(auth=LabAuth(ADMIN_KEY)) as cloud:
        yield cloud


@pytest.fixture(scope="module")
def tls_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatedCloud, str]]:
    ca = LabCa.create()
    folder = tmp_path_factory.mktemp("ca")
    ca.write_exports(folder)
    with EmulatedCloud(auth=LabAuth(ADMIN_KEY), tls=TlsSettings(ca)) as cloud:
        yield cloud, str(folder / "ca.pem")


@pytest.fixture
def plain(plain_cloud: EmulatedCloud) -> Run:
    """A run of its own (an account and a home) on the plain cloud."""
    return Run(plain_cloud, None)


@pytest.fixture
def tls(tls_cloud: tuple[EmulatedCloud, str]) -> Run:
    return Run(*tls_cloud)


def ok_steps(run: Run) -> set[tuple[str, str]]:
    return {(kind, name) for kind, name, error in run.steps if error is None}


@pytest.mark.parametrize("which", ["plain", "tls"])
def test_a_device_pairs_reports_answers_rebinds_and_resets_and_the_invariants_hold(
        which: str, request: pytest.FixtureRequest) -> None:
    run: Run = request.getfixturevalue(which)
    assert run.endpoints.atop_url.startswith("https://" if which == "tls" else "http://")
    assert run.endpoints.mqtt_tls is (which == "tls")
    device = run.device(activation_api="opensdk", mqtt_pv="2.3") if which == "tls" else run.device()
    try:
        device.pair()
        assert device.ledger.expected == "bound" and device.online
        for _ in range(3):
            device.report()
        device.command_round_trip()
        first = device.ledger.dev_id
        device.rebind()
        device.report()
        device.reset()
        device.report()
        device.command_round_trip()
        assert device.ledger.dev_id == first  # the camera keeps its devId across a reset (§6)
        rows = run.settled_rows([device])
    finally:
        device.close()
    assert [e for e in run.steps if e[2] is not None] == []
    assert {("APP", "pairing token"), ("ATOP", "activate"), ("MQTT", "connect"), ("MQTT", "dp report"),
            ("DP", "app command round trip"), ("APP", "remove device"), ("MQTT", "unbind pushed"),
            ("ATOP", "re-activate"), ("ATOP", "reset")} <= ok_steps(run)
    ledger = device.ledger
    assert (ledger.activations, ledger.rebinds, ledger.resets, ledger.commands) == (3, 1, 1, 2)
    row = next(r for r in rows if r["uuid"] == ledger.uuid)
    # the cloud counts DP reports since the latest activation: the first report, one more, the command's answer
    assert row["reports"] >= ledger.reports_acked == 3 and row["dps"][SEQ_DP] == ledger.last_seq
    assert all(i.holds and i.checked for i in check_invariants([ledger], rows)), check_invariants([ledger], rows)


def test_the_invariants_catch_a_lost_binding_an_unrecorded_report_and_a_stranger(plain: Run) -> None:
    devices = [plain.device() for _ in range(3)]
    try:
        for device in devices:
            device.pair()
            device.report()
        rows = plain.settled_rows(devices)
        ledgers = [d.ledger for d in devices]
        assert all(i.holds for i in check_invariants(ledgers, rows))

        lying = DeviceLedger(**{**ledgers[0].to_json(), "reports_acked": 50})
        broken = {i.name: i for i in check_invariants([lying, *ledgers[1:]], rows)}
        assert not broken[REPORTS_RECORDED].holds and "recorded 2 DP reports" in broken[REPORTS_RECORDED].examples[0]

        stale = DeviceLedger(**{**ledgers[1].to_json(), "last_seq": 99})
        assert not {i.name: i for i in check_invariants([ledgers[0], stale, ledgers[2]], rows)}[REPORTS_RECORDED].holds

        # the cloud loses a device behind its back: it must show as lost, not bound once
        plain.app.remove(devices[2].ledger.dev_id or "")
        after = plain.app.rows()
        broken = {i.name: i for i in check_invariants(ledgers, after)}
        assert broken[BOUND_ONCE].broken == 1 and "listed 0 times" in broken[BOUND_ONCE].examples[0]
        assert broken[NO_LOSS_OR_DUPLICATE].broken == 1 and "lost" in broken[NO_LOSS_OR_DUPLICATE].examples[0]

        # a device the run never had, and one listed twice
        stranger = {**rows[0], "uuid": "strangerstranger0001", "devId": "strangerdevice000001"}
        broken = {i.name: i for i in check_invariants(ledgers[:2], [*rows[:2], rows[0], stranger])}
        assert not broken[BOUND_ONCE].holds and not broken[NO_LOSS_OR_DUPLICATE].holds
        assert any("no device of the run" in e for e in broken[NO_LOSS_OR_DUPLICATE].examples)
    finally:
        for device in devices:
            device.close()


def test_a_refused_activation_leaves_the_device_expected_unbound(plain: Run) -> None:
    device = plain.device()
    plain.cloud.revoke_licence(device.licence.uuid)
    with pytest.raises(StepFailed, match="refused: LICENSE_REVOKED"):
        device.pair()
    assert device.ledger.expected == "unbound" and device.ledger.refusals == 1
    assert ("ATOP", "activate", "refused: LICENSE_REVOKED") in plain.steps
    assert all(i.holds for i in check_invariants([device.ledger], plain.app.rows()))


def test_a_run_without_the_admin_key_is_refused_before_any_device(plain: Run, monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    monkeypatch.delenv("PAIRCERT_ADMIN_KEY", raising=False)
    with pytest.raises(LoadSetupError, match=r"cannot issue licences.*no admin key"):
        connect(plain.lab.app_url, admin_key=None, ca=None, timeout_s=5.0)
    key_file = tmp_path / "admin.key"
    key_file.write_text(ADMIN_KEY + "\n", encoding="utf-8")
    assert read_admin_key(str(key_file)) == ADMIN_KEY
    with pytest.raises(LoadSetupError, match=r"--admin-key-file .*missing\.key"):
        read_admin_key(str(tmp_path / "missing.key"))
    monkeypatch.setenv("PAIRCERT_ADMIN_KEY", "from-the-environment")
    assert read_admin_key(str(key_file)) == "from-the-environment"
