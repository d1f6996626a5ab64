"""The emulated implementations of the contracts: the in-process cloud, the emulated camera, the in-memory air.

These are what ``make demo``, every CI run and the self-check use, and the reference a real device is
compared with. They wrap :mod:`harness.emulator` behind the contracts of :mod:`harness.adapters.contracts`,
so the suites never see the emulator itself (DESIGN.md layer rules).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from PIL import Image

from harness.adapters import wire
from harness.adapters.contracts import (
    ANY_NETWORK,
    AccessPoint,
    AdapterError,
    AirNetwork,
    ApAddress,
    BindRefused,
    CloudAdapter,
    CloudCapability,
    DeviceAdapter,
    DeviceCapability,
    DeviceDidNotAct,
    DeviceEvent,
    DeviceRecord,
    Licence,
    NetworkAdapter,
    NetworkCapability,
    Notification,
    Product,
    RawReply,
    Security,
)
from harness.adapters.emulated_ble import EmulatedBleCentral
from harness.adapters.labwifi import send_ap_lpv35_plain
from harness.clock import Clock, real_limit_s
from harness.emulator.air import Air
from harness.emulator.camera.firmware import CloudEndpoint, EmulatedCamera
from harness.emulator.cloud import CloudInputError, EmulatedCloud
from harness.emulator.loop import DeviceLoop
from harness.emulator.radio import Radio
from harness.evidence import step
from harness.model import AttemptSummary, BindingMode, Role
from harness.protocol import smartconfig


def _record(raw: Mapping[str, Any], *, pid_names: Mapping[str, str], owner: str | None) -> DeviceRecord:
    pid = str(raw.get("productKey", ""))
    activations = raw["historyLength"] if "historyLength" in raw else len(raw.get("history") or [])
    return DeviceRecord(dev_id=str(raw["devId"]), uuid=str(raw.get("uuid", "")), pid=pid,
                        name=pid_names.get(pid, pid), home=raw.get("home"), online=bool(raw.get("online")),
                        dps=dict(raw.get("dps") or {}), activations=int(activations), owner=owner,
                        report_pv=raw.get("reportPv"))


class EmulatedCloudAdapter:
    """The emulated cloud through the app API plus every lab control (it owns the cloud's lifecycle)."""

    name = "emulated"

    def __init__(self, cloud: EmulatedCloud) -> None:
        self._cloud = cloud
        self.clock: Clock = cloud.clock
        caps = {c.value for c in CloudCapability}
        if not cloud.clock.is_virtual:
            caps.discard(CloudCapability.TIME_TRAVEL.value)
        if cloud.app.binder is None:  # binding by UUID pushes over MQTT: a cloud without a broker cannot
            caps.discard(CloudCapability.BIND_BY_UUID.value)
        self.capabilities = frozenset(caps)
        self._owners: dict[str, str] = {}

    @property
    def region(self) -> str:
        return self._cloud.region

    @property
    def emulated_cloud(self) -> EmulatedCloud:
        """The cloud itself, for the world that builds emulated devices pointed at it (never for suites)."""
        return self._cloud

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CloudInputError as exc:
            raise AdapterError(f"the emulated cloud refused the request: {exc}") from exc

    # -- the app API -------------------------------------------------------------------------------------

    @step
    def create_account(self, name: str) -> str:
        return str(self._call(self._cloud.app.create_account, name))

    @step
    def create_home(self, account: str, name: str) -> str:
        home = str(self._call(self._cloud.app.create_home, account, name))
        self._owners[home] = account
        return home

    @step
    def add_member(self, home: str, account: str, role: Role) -> None:
        owner = self._owners.get(home) or self._cloud.state.require_home(home).owner
        self._call(self._cloud.app.set_member, owner, home, account, role)

    @step
    def get_token(self, home: str, account: str) -> str:
        return str(self._call(self._cloud.app.get_token, account, home).pairing_token)

    @step
    def bind_device_by_uuid(self, home: str, uuid: str, *, account: str) -> str:
        """§11.6: the cloud pushes a token for ``home`` to the device waiting as ``acon_<uuid>``; the token."""
        try:
            grant = self._cloud.app.bind_uuid(account, home, uuid)
        except CloudInputError as exc:
            if exc.code in ("NOT_SUPPORTED", "PUSH_FAILED", "ILLEGAL_PARAM"):
                raise AdapterError(f"the emulated cloud could not bind by UUID: {exc}") from exc
            raise BindRefused(exc.code, exc.message) from None
        return str(grant.pairing_token)

    def token_attempts(self, token: str) -> Sequence[AttemptSummary]:
        short = token[2:10] if len(token) == 14 else token
        return list(self._cloud.state.token_attempts(short))  # the cloud keeps the model's own records

    def _pid_names(self) -> dict[str, str]:
        return {pid: p.name for pid, p in self._cloud.state.products.items()}

    def _to_record(self, raw: Mapping[str, Any]) -> DeviceRecord:
        home = raw.get("home")
        with self._cloud.state.lock:
            found = self._cloud.state.homes.get(home) if home else None
            owner = found.owner if found is not None else None
        return _record(raw, pid_names=self._pid_names(), owner=owner)

    def list_devices(self, home: str) -> Sequence[DeviceRecord]:
        with self._cloud.state.lock:
            raws = [d.public_dict(history=False) for d in self._cloud.state.devices.values() if d.home == home]
        return [self._to_record(raw) for raw in raws]

    def device(self, dev_id: str) -> DeviceRecord | None:
        dev = self._cloud.device(dev_id)
        return None if dev is None else self._to_record(dev.public_dict(history=False))

    def device_by_uuid(self, uuid: str) -> DeviceRecord | None:
        with self._cloud.state.lock:
            found = [d.public_dict(history=False) for d in self._cloud.state.devices.values() if d.uuid == uuid]
        return self._to_record(found[-1]) if found else None

    @step
    def remove_device(self, dev_id: str, *, account: str, wipe: bool = False) -> None:
        self._call(self._cloud.app.remove_device, account, dev_id, wipe=wipe)

    @step
    def release_device(self, uuid: str) -> DeviceRecord | None:
        released = self._call(self._cloud.app.release_device, uuid, wipe=True)
        return None if released is None else _record(released, pid_names=self._pid_names(), owner=released["owner"])

    def notifications(self, account: str) -> Sequence[Notification]:
        return [Notification(account=account, kind=str(n["kind"]), text=str(n["message"]), dev_id=n.get("devId"),
                             at=float(n["at"]))
                for n in self._call(self._cloud.app.notifications, account)]

    @step
    def send_dps(self, dev_id: str, dps: Mapping[str, Any], *, account: str) -> None:
        self._call(self._cloud.app.send_dps, account, dev_id, dict(dps))

    # -- lab controls --------------------------------------------------------------------------------------

    @step
    def create_product(self, name: str, category: str, binding_mode: BindingMode, *, pid: str | None = None) -> Product:
        product = self._call(self._cloud.app.create_product, name=name, category=category,
                             binding_mode=str(binding_mode), pid=pid)
        return Product(pid=product.pid, name=product.name, category=product.category,
                       binding_mode=BindingMode(product.binding_mode))

    def product(self, pid: str) -> Product | None:
        p = self._cloud.state.products.get(pid)
        return None if p is None else Product(p.pid, p.name, p.category, BindingMode(p.binding_mode))

    @step
    def issue_licence(self, pid: str) -> Licence:
        lic = self._call(self._cloud.app.issue_licence, pid)
        return Licence(uuid=lic.uuid, auth_key=lic.auth_key, pid=lic.pid)

    @step
    def revoke_licence(self, uuid: str) -> None:
        self._call(self._cloud.app.revoke_licence, uuid)

    @step
    def advance_time(self, seconds: float) -> None:
        self._call(self._cloud.app.advance_clock, seconds)

    def send_atop(self, query: str, body: bytes, *, method: str = "POST") -> RawReply:
        """A hand-built request to the emulated cloud's ATOP endpoint, over its real HTTP(S) server (§4.2), verified
        against the lab CA when it serves TLS (§11.1)."""
        tls = self._cloud.tls
        return wire.send_atop(self._cloud.atop_url, query, body, method=method,
                              tls=wire.tls_for(tls.ca.der_base64) if tls is not None else None)

    def device_endpoint(self) -> CloudEndpoint:
        """Where emulated devices activate and log in, and the lab CA they trust there when the cloud serves TLS."""
        tls = self._cloud.tls
        return CloudEndpoint(self._cloud.atop_url, self._cloud.mqtt_host, self._cloud.mqtt_port,
                             ca_pem=tls.ca.cert_pem if tls is not None else None, mqtt_tls=self._cloud.mqtt_tls)

    def info(self) -> Mapping[str, Any]:
        return {"adapter": "emulated", "region": self.region, "atop_url": self._cloud.atop_url,
                "app_url": self._cloud.app_url, "mqtt": f"{self._cloud.mqtt_host}:{self._cloud.mqtt_port}",
                "tls": self._cloud.tls is not None, "mqtt_tls": self._cloud.mqtt_tls,
                "faults": sorted(self._cloud.faults),
                **({"ca": self._cloud.tls.ca.der_base64} if self._cloud.tls is not None else {})}

    def close(self) -> None:
        self._cloud.stop()


#: How long the emulated camera has to take a QR code held in front of it (capture or refuse it): its decoder
#: needs well under a second; a scan that has not ended by then never will (the device's failure, not the lab's).
QR_SCAN_TIMEOUT_S = 5.0


class EmulatedDeviceAdapter:
    """An emulated camera behind the device contract."""

    name = "emulated"
    capabilities = frozenset(c.value for c in DeviceCapability)

    def __init__(self, camera: EmulatedCamera, licence: Licence, *,
                 make_another: Callable[[], EmulatedDeviceAdapter] | None = None) -> None:
        self.camera = camera
        self.licence = licence
        self.pid = camera.pid
        # events() converts each timeline event once: a session-long camera has thousands
        self._events: deque[DeviceEvent] = deque(maxlen=camera.timeline.limit)
        self._events_seen = 0
        self._events_lock = threading.Lock()
        self._make_another = make_another

    def make_another(self) -> EmulatedDeviceAdapter:
        """Another emulated camera of the same profile, with a licence of its own (the world's ``new_device``)."""
        if self._make_another is None:
            raise AdapterError("this emulated device was built alone: it cannot make another")
        return self._make_another()

    @step
    def factory_reset(self) -> None:
        self.camera.factory_reset()

    @step
    def reset(self) -> None:
        self.camera.reset()

    @step
    def power_cycle(self) -> None:
        self.camera.power_cycle()

    @step
    def wait_pairing_mode(self, timeout: float) -> None:
        """Pairing mode as a phone finds it: the state, and the SoftAP up where the camera offers one."""
        from harness.emulator.camera.states import State

        deadline = time.monotonic() + timeout
        try:
            self.camera.wait_for_state(State.PAIRING, timeout=timeout)
        except TimeoutError as exc:  # the camera is running and did not get there: its failure, not the lab's
            raise DeviceDidNotAct("reach pairing mode", timeout, self._observed()) from exc
        except Exception as exc:
            raise AdapterError(f"the emulated camera did not reach pairing mode within {timeout} s: {exc}") from exc
        if self.camera.bind_by_uuid:  # §11.6: it shows the QR code with its UUID once it waits on d/ai/<uuid>
            from harness.emulator.camera.bind import BIND_SETTLED_EVENTS

            since = self._pairing_mode_count()

            def settled() -> bool:
                return any(e.name in BIND_SETTLED_EVENTS for e in self.camera.timeline.events_since(since)[0])

            left = max(0.0, deadline - time.monotonic())
            try:
                self.camera.device_loop.run(self.camera.wait_until_async(settled, left),
                                            real_limit_s(self.camera.clock, left) + 1.0)
            except Exception as exc:
                raise AdapterError(f"the emulated camera did not wait to be bound by UUID within {timeout} s: "
                                   f"{exc}") from exc
        if "ap" not in self.camera.pairing_modes or not self.camera.ap_variants:
            return
        while self.camera.ap_address is None:
            if time.monotonic() >= deadline:
                raise AdapterError(f"the emulated camera's SoftAP did not open within {timeout} s")
            time.sleep(0.002)

    def _pairing_mode_count(self) -> int:
        """How many events the camera had recorded before its latest entry into pairing mode (its waits since
        count)."""
        events, total = self.camera.timeline.events_since(0)
        back = next((n for n, e in enumerate(reversed(events)) if e.name == "pairing-mode"), len(events) - 1)
        return total - back - 1

    def _observed(self) -> str:
        """What the camera is doing instead: its state and its last event."""
        events = self.camera.events()
        last = f", its last event {events[-1].name!r}" if events else ""
        return f"it is {self.camera.state.value}{last}"

    @step
    def present_qr(self, image: Image.Image) -> None:
        try:
            self.camera.present_qr(image, timeout=QR_SCAN_TIMEOUT_S)
        except TimeoutError as exc:  # the scan never ended: the device did not act (FAIL), the lab is fine
            raise DeviceDidNotAct("take the QR code held in front of it (capture or refuse it)", QR_SCAN_TIMEOUT_S,
                                  self._observed()) from exc

    def ap_address(self) -> ApAddress | None:
        address = self.camera.ap_address
        if address is None:
            return None
        host, udp_port, tcp_port = address
        return ApAddress(host, udp_port, tcp_port)

    def events(self) -> Sequence[DeviceEvent]:
        with self._events_lock:
            fresh, self._events_seen = self.camera.timeline.events_since(self._events_seen)
            self._events.extend(DeviceEvent(at=e.t, name=e.name, details=dict(e.details), wall=e.wall)
                                for e in fresh)
            return list(self._events)

    def is_alive(self) -> bool:
        return bool(self.camera.alive)

    def info(self) -> Mapping[str, Any]:
        return {"adapter": "emulated", "name": self.camera.name, "pid": self.pid, "uuid": self.licence.uuid,
                "firmware": self.camera.firmware, "mac": self.camera.mac,
                "faults": list(getattr(self.camera, "fault_names", ()))}

    def close(self) -> None:
        # closing a crashed or stopped camera must not mask the test's own outcome
        with contextlib.suppress(Exception):
            self.camera.power_off()


class AirNetworkAdapter:
    """The in-memory air for EZ, and loopback UDP/TCP sockets for a device's SoftAP (§3)."""

    name = "air"

    def __init__(self, air: Air, *, preamble_rounds: int = 2, data_rounds: int = 3,
                 ble: EmulatedBleCentral | None = None) -> None:
        self.air = air
        self.preamble_rounds = preamble_rounds
        self.data_rounds = data_rounds
        self.ble = ble  # BLE (§9.12): the app's central on the world's radio
        self.devices_on_air = 0
        self._securities: dict[bytes, Security] = {}

    def attach_device(self) -> None:
        """An emulated device now listens on this air (a real camera never does)."""
        self.devices_on_air += 1

    @property
    def capability_note(self) -> str:
        return "" if self.devices_on_air else ("in memory: its networks and EZ reach emulated devices only; a real "
                                               "camera hears EZ from the scapy network adapter on its Wi-Fi")

    @property
    def capabilities(self) -> frozenset[str]:
        """Networks and EZ exist only in memory: they reach the emulated devices on this air, nothing else."""
        if not self.devices_on_air:
            return frozenset()
        return frozenset(c.value for c in NetworkCapability)

    #: the in-memory air makes any network (any SSID bytes, open, WPA2, WPA3), at once
    access_point_capability = ANY_NETWORK

    @step
    def add_access_point(self, ssid: bytes, password: bytes, security: Security | None = None) -> None:
        self.air.add_access_point(ssid, password)
        self._securities[ssid] = Security(security) if security is not None else (
            Security.WPA2_PSK if password else Security.OPEN)

    @step
    def remove_access_point(self, ssid: bytes) -> None:
        self.air.remove_access_point(ssid)
        self._securities.pop(ssid, None)

    def access_points(self) -> list[AccessPoint]:
        return [AccessPoint(ap.ssid, self._securities.get(ap.ssid, Security.WPA2_PSK if ap.password else
                                                          Security.OPEN)) for ap in self.air.access_points]

    @step
    def send_ez(self, ssid: bytes, password: bytes, token: bytes, *,
                channels: Sequence[str] = ("broadcast", "multicast"), tail: str = "padded") -> None:
        """One attempt of §2.5 (shortened: the in-memory air needs no timing), played onto the air."""
        schedule = smartconfig.transmission_schedule(
            ssid, password, token, channels=tuple(channels),  # type: ignore[arg-type]
            tail=tail,  # type: ignore[arg-type]
            preamble_rounds=self.preamble_rounds, data_rounds=self.data_rounds)
        self.air.send_all(schedule)
        self.air.flush()

    # The AP senders are not recorded as steps: their frames carry the Wi-Fi password (§3.1 sends it in clear).
    def send_ap_legacy(self, address: ApAddress, frame: bytes) -> None:
        if address.udp_port is None:
            raise AdapterError("the device's AP offers no legacy UDP config port")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(frame, (address.host, address.udp_port))

    def send_ap_lpv35(self, address: ApAddress, frames: Sequence[bytes], *, timeout: float = 5.0) -> list[bytes]:
        """Send LPV3.5 frames over TCP (plain: Python's ssl has no TLS-PSK, §3.2) and collect the replies."""
        return send_ap_lpv35_plain(address, frames, timeout=timeout)

    def info(self) -> Mapping[str, Any]:
        info: dict[str, Any] = {"adapter": "air", "seed": getattr(self.air, "seed", None)}
        if self.ble is not None:
            info["ble"] = dict(self.ble.info())
        return info

    def close(self) -> None:
        return None


CATEGORY_BY_KIND = {"camera": "sp", "plug": "cz", "bulb": "dj", "other": "qt"}


def build_emulated_camera(device_loop: DeviceLoop, air: Air, endpoint: CloudEndpoint, licence: Licence, *,
                          region: str, pid: str, firmware: str, mac: str, activation_api: str,
                          pairing_modes: Iterable[str], ap_variants: Iterable[str], ez_channels: Iterable[str],
                          pairing_window_s: float | None, mqtt_pv: str,
                          faults: Iterable[str | type[EmulatedCamera]] = (),
                          ap_host: str = "127.0.0.1", bind_by_uuid: bool = False,
                          refused_retries: int = 0, radio: Radio | None = None,
                          ble_generation: str | None = None) -> EmulatedCamera:
    """An emulated camera of the profile's shape, with the named faults (see :mod:`harness.emulator.camera.faults`);
    ``bind_by_uuid`` makes it wait on ``d/ai/<uuid>`` too (§11.6), ``refused_retries`` retry a refused
    activation every second with the same token as genuine SDKs do (§11.7); ``radio`` is the world's BLE medium
    for a BLE+Wi-Fi combo (§9)."""
    from harness.emulator.camera import faults as camera_faults

    cls: type[EmulatedCamera] = camera_faults.camera_class(list(faults)) if faults else EmulatedCamera
    camera = cls(device_loop, air, uuid=licence.uuid, auth_key=licence.auth_key, pid=pid, mac=mac,
                 cloud={region: endpoint}, firmware=firmware,
                 activation_api="opensdk" if activation_api == "thing.device.opensdk.active" else "v4.4",
                 pairing_modes=pairing_modes, ap_variants=ap_variants, ez_channels=ez_channels or ("broadcast",),
                 pairing_window_s=pairing_window_s, mqtt_pv=mqtt_pv,  # type: ignore[arg-type]
                 ap_host=ap_host, bind_by_uuid=bind_by_uuid, refused_retries=refused_retries, radio=radio,
                 ble_generation=ble_generation or "v2")
    camera.power_on()
    return camera


if TYPE_CHECKING:  # mypy checks that each adapter meets its contracts
    def _meets_contracts(cloud: EmulatedCloudAdapter, device: EmulatedDeviceAdapter,
                         network: AirNetworkAdapter) -> tuple[CloudAdapter, DeviceAdapter, NetworkAdapter, AirNetwork]:
        return cloud, device, network, network


__all__ = [
    "CATEGORY_BY_KIND",
    "AirNetworkAdapter",
    "EmulatedCloudAdapter",
    "EmulatedDeviceAdapter",
    "build_emulated_camera",
]
