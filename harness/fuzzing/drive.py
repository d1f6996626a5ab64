"""Driving one fuzz case through the adapters: a valid pairing that must succeed on exactly the generated
network, or an invalid input that must be refused without activation while the device stays alive.

Adapters only (no emulator import), so the suites and ``paircert fuzz`` share these checks and both run
against real devices and clouds. A failed check is a :class:`~harness.conformance.verdicts.DeviceFailure` (FAIL
in the suites) quoting the rule; a lost liveness is :class:`FuzzDeviceCrashed`, both a
:class:`~harness.testing.stateful.DeviceCrashed` (the campaign's own verdict, CRASH) and a DeviceFailure.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.adapters.ble_contracts import ble_central
from harness.adapters.contracts import (
    AccessPointCapability,
    AdapterError,
    CannotMakeNetwork,
    CloudAdapter,
    CloudCapability,
    DeviceAdapter,
    DeviceCapability,
    NetworkAdapter,
    NetworkCapability,
    World,
    access_point_capability,
    cannot_make,
    make_access_point,
    network_can,
)
from harness.app.activator import Activator, ActivatorError, ActivatorMode, ApOptions, Outcome, pair
from harness.app.ble import BleOptions, BleSession, credentials_for, find_device
from harness.conformance.diagnosis import explain_pairing
from harness.conformance.verdicts import DeviceFailure, Inconclusive
from harness.profiles import Profile
from harness.protocol import apconfig
from harness.protocol.ble import (
    Generation,
    WifiConfigAnswerV1,
    WifiConfigAnswerV2,
    WifiConfigV1,
    WifiConfigV2,
    ble_id,
)
from harness.protocol.qr import QrPayload
from harness.qrimage import render_qr
from harness.testing.stateful import DeviceCrashed
from harness.testing.strategies import QrStyle


class FuzzDeviceCrashed(DeviceCrashed, DeviceFailure):
    """The device lost liveness after a fuzz case: CRASH for the campaign, FAIL for the suites."""

PLACEHOLDER_TOKEN = "AYPLACEHLDr000"  # swapped for a token the cloud really issued, just before sending
CASE_TIMEOUT_S = 15.0  # world-clock seconds the app waits for a case's outcome
PAIRING_MODE_TIMEOUT_S = 30.0
BLE_CASE_OPTIONS = BleOptions(response_timeout_s=2.0)  # a device that does not answer costs a case 2 s at most


class RawActivator(Activator):
    """An activator that hands the device exactly the bytes a case says (a QR text, an AP frame)."""

    def __init__(self, *args: Any, deliver: Callable[[str], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._raw = deliver

    def _deliver(self, mode: ActivatorMode, ssid: str, password: str, token: str) -> None:
        self._raw(token)

    def _deliver_ble(self, ssid: str, password: str, token: str) -> ActivatorError | None:
        self._raw(token)  # BLE (§9): the raw bytes go over a paired session; the cloud decides the outcome
        return None


@dataclass
class FuzzContext:
    """The adapters and the lab state a fuzz case needs: an account and its home, the claimed modes."""

    cloud: CloudAdapter
    network: NetworkAdapter
    device: DeviceAdapter
    modes: tuple[str, ...]
    account: str = ""
    home: str = ""
    last_inputs: dict[str, Any] = field(default_factory=dict)
    cases: int = 0
    #: the lab's own network (SSID, password), used where the network adapter cannot create networks
    lab_wifi: tuple[str, str] | None = field(default=None, repr=False)
    case_timeout_s: float = CASE_TIMEOUT_S

    @property
    def creates_networks(self) -> bool:
        return network_can(self.network, NetworkCapability.CREATE_NETWORKS)

    def network_for(self, ssid: str, password: str) -> tuple[str, str]:
        """``(ssid, password)`` where the network can be created; else the lab's own network."""
        if self.creates_networks or self.lab_wifi is None:
            return ssid, password
        return self.lab_wifi

    @property
    def capability(self) -> AccessPointCapability | None:
        """Which networks the lab makes (None: none); the strategies draw only from these."""
        return access_point_capability(self.network)

    def need_network(self, what: str, ssid: str | None = None, password: str = "") -> None:
        """A case about a generated network cannot be decided where the lab cannot make that network."""
        if not self.creates_networks:
            raise Inconclusive(f"the {self.network.name} network adapter cannot create networks: {what} needs a "
                               f"network the device does not know (it knows only the lab's)")
        if ssid is not None:
            reason = cannot_make(self.network, ssid.encode("utf-8"), password.encode("utf-8"))
            if reason is not None:
                raise Inconclusive(f"{reason}: {what} needs it")

    def _make(self, ssid: bytes, password: bytes) -> None:
        """Make the case's network (or record the lab's, where none can be made)."""
        if not self.creates_networks:
            self.network.add_access_point(ssid, password)
            return
        try:
            make_access_point(self.network, ssid, password)
        except CannotMakeNetwork as exc:
            raise Inconclusive(str(exc)) from exc

    def __post_init__(self) -> None:
        if not self.account:
            self.account = self.cloud.create_account("fuzz")
            self.home = self.cloud.create_home(self.account, "fuzz-home")

    @classmethod
    def from_world(cls, world: World, profile: Profile | None = None) -> FuzzContext:
        profile = profile if profile is not None else world.profile
        caps = profile.capabilities
        modes: list[str] = [m for m in caps.pairing_modes if m != "ap"]
        if "ap" in caps.pairing_modes:
            modes += [f"ap-{v}" for v in caps.ap_variants]
        return cls(world.cloud, world.network, world.device, tuple(modes))

    # -- the lab ---------------------------------------------------------------------------------------

    def clean_slate(self) -> None:
        """Factory-reset (power-cycled first if it crashed), removed and wiped, in pairing mode; the reset comes
        first so that a device still retrying a refused activation (§11.7) cannot bind with its stale token."""
        from harness.conformance.lab import release_from_cloud, reset_device

        device, cloud = self.device, self.cloud
        if DeviceCapability.LIVENESS in device.capabilities and not device.is_alive():
            device.power_cycle()
        reset_device(device)
        release_from_cloud(cloud, device)
        device.wait_pairing_mode(PAIRING_MODE_TIMEOUT_S)

    def revive(self) -> None:
        """Power cycle a device a case left dead, so that what runs next finds it alive (the verdict stands)."""
        if DeviceCapability.LIVENESS in self.device.capabilities and not self.device.is_alive():
            self.device.power_cycle()

    def check_alive(self, what: str) -> None:
        """Liveness after every case (REQ-FUZZ-002): a dead device is a CRASH with the inputs that killed it."""
        if DeviceCapability.LIVENESS in self.device.capabilities and not self.device.is_alive():
            raise FuzzDeviceCrashed(f"the device lost liveness after {what}", inputs=dict(self.last_inputs))

    def activator(self, mode: str, deliver: Callable[[str], None] | None = None) -> Activator:
        variant = mode.partition("-")[2] or "legacy"
        kwargs: dict[str, Any] = {"account": self.account, "device": self.device, "network": self.network,
                                  "ap": ApOptions(variant=variant)}
        if deliver is not None:
            return RawActivator(self.cloud, deliver=deliver, **kwargs)
        return Activator(self.cloud, **kwargs)

    def _pair(self, activator: Activator, mode: str, ssid: str, password: str, token: str) -> Outcome:
        for attempt in (1, 2):
            outcome = pair(activator, ActivatorMode(mode.partition("-")[0]), ssid, password, token,
                           timeout=self.case_timeout_s)
            fault = outcome.error.harness_fault if outcome.error is not None else None
            if fault is None:
                return outcome
            if attempt == 1:  # e.g. the SoftAP was reopening as the app connected: once more once it is up again
                self.device.wait_pairing_mode(PAIRING_MODE_TIMEOUT_S)
        raise AdapterError(f"the harness failed: {outcome.error}") from fault

    def _joined(self, since: int) -> list[str]:
        if DeviceCapability.EVENTS not in self.device.capabilities:
            return []
        events = list(self.device.events())[since:]
        return [str(e.details.get("ssid")) for e in events
                if e.name == "wifi-join" and e.details.get("outcome") == "ok"]

    def _diagnosis(self, since: int, mode: str, ssid: str, password: str, token: str) -> str:
        """What the device's events since index ``since`` show it did with what it was given
        (:mod:`harness.conformance.diagnosis`), as "; ..." to follow a failed pairing's error, or ""."""
        if DeviceCapability.EVENTS not in self.device.capabilities:
            return ""
        events = list(self.device.events())[since:]
        why = explain_pairing(events, since=float("-inf"), mode=mode, ssid=ssid, password=password, token=token)
        return f"; {why}" if why is not None else ""

    # -- the two kinds of case ---------------------------------------------------------------------------

    def check_pairs(self, mode: str, ssid: str, password: str, style: QrStyle | None = None) -> None:
        """REQ-FUZZ-001: the device pairs in ``mode`` and joins exactly the network ``ssid``/``password``."""
        self.cases += 1
        self.last_inputs = {"check": "pairs", "mode": mode, "ssid": ssid, "password": password,
                            "style": None if style is None else vars(style)}
        if self.creates_networks:
            self.need_network(f"the generated network {ssid!r}", ssid, password)
        elif (ssid, password) != self.network_for(ssid, password):
            self.need_network(f"the generated network {ssid!r}")
        self.clean_slate()
        ssid_bytes = ssid.encode("utf-8")
        self._make(ssid_bytes, password.encode("utf-8"))
        try:
            since = len(self.device.events()) if DeviceCapability.EVENTS in self.device.capabilities else 0
            token = self.cloud.get_token(self.home, self.account)
            deliver = None
            if mode == "qr" and style is not None:
                def deliver(tok: str) -> None:
                    self.device.present_qr(render_qr(style.render(QrPayload(ssid, password, tok))))
            outcome = self._pair(self.activator(mode, deliver), mode, ssid, password, token)
            self.check_alive(f"pairing in {mode}")
            if not outcome.ok:
                raise DeviceFailure(f"REQ-FUZZ-001: pairing in {mode} with SSID {ssid!r} failed: {outcome.error} "
                                    f"(joined {self._joined(since) or 'no network'})"
                                    f"{self._diagnosis(since, mode, ssid, password, token)}")
            if outcome.device_model is None or outcome.device_model.home != self.home:
                raise DeviceFailure(f"REQ-FUZZ-001: pairing in {mode} put the device in another home "
                                    f"({outcome.device_model!r})")
            joined = self._joined(since)
            expected = ssid_bytes.decode("utf-8", "backslashreplace")
            if joined and joined[-1] != expected:
                raise DeviceFailure(f"REQ-FUZZ-001: the device joined {joined[-1]!r}, not the generated network "
                                    f"{expected!r}")
        finally:
            if self.creates_networks:
                self.network.remove_access_point(ssid_bytes)

    def check_refused(self, mode: str, what: str, *, send: Callable[[str], None] | None = None,
                      ssid: str = "fuzz-net", password: str = "fuzz-password", token: str | None = None,
                      then_pairs: bool = True) -> None:
        """REQ-FUZZ-002/003: the device refuses without activating, stays alive, and pairs normally afterwards.

        ``send`` delivers the raw input, given the real token to splice in; without it the app pairs normally
        with ``ssid``/``password`` (a network that does not exist with that password) or ``token``.
        """
        self.cases += 1
        self.last_inputs = {"check": "refused", "mode": mode, "what": what, "ssid": ssid, "password": password,
                            "token": token}
        known_ssid, known_password = self.network_for("fuzz-net", "fuzz-password")
        if ssid == "fuzz-net":  # the case's network: the lab's own where none can be created
            ssid, password = known_ssid, known_password if password == "fuzz-password" else password
        elif not self.creates_networks:
            self.need_network(f"the network {ssid!r}")  # refused for want of a network that cannot exist: no news
        self.clean_slate()
        issued = self.cloud.get_token(self.home, self.account)
        presented = token if token is not None else issued
        self._make(known_ssid.encode("utf-8"), known_password.encode("utf-8"))
        try:
            since = len(self.device.events()) if DeviceCapability.EVENTS in self.device.capabilities else 0
            outcome = self._pair(self.activator(mode, send), mode, ssid, password, presented)
            self.check_alive(what)
            if send is not None:  # a raw input it must refuse: nothing may be taken from it, not even a network
                self._check_took_nothing(since, what)
            activated = [a for a in self.cloud.token_attempts(presented) if a.outcome == "activated"]
            if presented != issued:
                activated += [a for a in self.cloud.token_attempts(issued) if a.outcome == "activated"]
            if activated or outcome.ok:
                raise DeviceFailure(f"REQ-FUZZ-002: the device activated after {what} (it must refuse without "
                                    f"activating)")
            if CloudCapability.INSPECT_DEVICES in self.cloud.capabilities:
                record = self.cloud.device_by_uuid(self.device.licence.uuid)
                if record is not None and record.home is not None:
                    raise DeviceFailure(f"REQ-FUZZ-002: the device is bound after {what}")
        finally:
            if self.creates_networks:
                self.network.remove_access_point(known_ssid.encode("utf-8"))
        if then_pairs:
            self.check_after(what)

    def _check_took_nothing(self, since: int, what: str) -> None:
        """REQ-FUZZ-002: a device that refuses an input joins no network from it (the events say what it tried)."""
        if DeviceCapability.EVENTS not in self.device.capabilities:
            return
        tried = [f"{e.details.get('ssid')!r} ({e.details.get('outcome')})" for e in list(self.device.events())[since:]
                 if e.name == "wifi-join"]
        if tried:
            raise DeviceFailure(f"REQ-FUZZ-002: from {what} the device took a network and tried to join {tried} "
                                f"(it must refuse the input and take nothing from it)")

    def check_after(self, what: str) -> None:
        """A valid pairing right after a refused case (REQ-FUZZ-002 "pairs normally afterwards")."""
        saved = dict(self.last_inputs)
        mode = self.modes[0]
        try:
            self.check_pairs(mode, *self.network_for("fuzz-after", "after-pass1"))
        except DeviceCrashed:
            raise
        except AssertionError as exc:
            raise DeviceFailure(f"REQ-FUZZ-002: after {what} the device no longer pairs normally: {exc}") from None
        finally:
            self.last_inputs = saved


def ap_frame_sender(ctx: FuzzContext, payload: bytes, *, crc_flip: int = 0) -> Callable[[str], None]:
    """Send a legacy AP frame carrying ``payload`` (the placeholder token swapped for the real one), its CRC
    XOR-ed with ``crc_flip`` (0: intact)."""
    def send(token: str) -> None:
        address = ctx.device.ap_address()
        if address is None:
            return
        frame = bytearray(apconfig.encode_ap_frame(payload.replace(PLACEHOLDER_TOKEN.encode(), token.encode())))
        if crc_flip:
            frame[-8:-4] = (int.from_bytes(frame[-8:-4], "big") ^ crc_flip).to_bytes(4, "big")
        for _ in range(3):
            ctx.network.send_ap_legacy(address, bytes(frame))

    return send


def qr_bytes_sender(ctx: FuzzContext, data: bytes) -> Callable[[str], None]:
    """Show the device a QR symbol with exactly ``data`` (the placeholder token swapped for the real one)."""
    def send(token: str) -> None:
        ctx.device.present_qr(render_qr(data.replace(PLACEHOLDER_TOKEN.encode(), token.encode())))

    return send


def lpv35_sender(ctx: FuzzContext, payload: bytes) -> Callable[[str], None]:
    """Send an LPV3.5 config request (type 0x14) whose body is exactly ``payload`` (token swapped in)."""
    def send(token: str) -> None:
        address = ctx.device.ap_address()
        if address is None:
            return
        body = payload.replace(PLACEHOLDER_TOKEN.encode(), token.encode())
        frame = apconfig.encode_lpv35_frame(apconfig.Lpv35Type.AP_CFG_WF_V40, body, seq=1,
                                            key=apconfig.LPV35_APP_KEY, nonce=os.urandom(12))
        ctx.network.send_ap_lpv35(address, [frame], timeout=2.0)

    return send


def ble_json_sender(ctx: FuzzContext, payload: bytes) -> Callable[[str], None]:
    """Pair with the device over BLE and send ``payload`` as the Wi-Fi JSON (§9.7.5), the placeholder token swapped
    for the real one; the device's answer is not judged here (whether it activates is)."""
    def send(token: str) -> None:
        central = ble_central(ctx.network)
        found = find_device(central, target=ble_id(ctx.device.licence.uuid), timeout=10.0)
        if found is None:
            return  # not advertising: nothing can be delivered, and the case's checks say what follows
        body = payload.replace(PLACEHOLDER_TOKEN.encode(), token.encode())
        with BleSession(central, found, credentials_for(ctx.device.licence), options=BLE_CASE_OPTIONS) as session:
            if session.device_info() is None or session.pair() is None:
                return
            message = WifiConfigV2(payload=body) if session.generation is Generation.V2 else WifiConfigV1(payload=body)
            session.send(message)
            session.wait_for((WifiConfigAnswerV2, WifiConfigAnswerV1))  # its answer is not what the case checks

    return send


__all__ = ["PLACEHOLDER_TOKEN", "FuzzContext", "RawActivator", "ap_frame_sender", "ble_json_sender", "lpv35_sender",
           "qr_bytes_sender"]
