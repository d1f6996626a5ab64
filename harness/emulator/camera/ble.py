"""The camera's Bluetooth LE pairing channel (PROTOCOL.md §9): the camera as a BLE+Wi-Fi combo device.

While it wants to be found the camera advertises on the world's :class:`~harness.emulator.radio.Radio` (§9.3.1:
service 0xFD50, its PID in clear, its BLE ID encrypted in the scan response) and serves the Tuya GATT layout
(§9.2). Each connection gets its own :class:`~harness.protocol.ble.BleDeviceConnection`, the sans-IO device side
with the reference reactions of §9.9: device info, pair, the 0x001E network-status report, the Wi-Fi
configuration and its answer. Credentials taken over BLE become a :class:`PairingConfig` like the QR, EZ and AP
ones, so that joining, activating with the token split 2/8/4 and going online are the same as in every mode
(§9.1 step 9, §9.8).

What it advertises follows the camera's state (§9.1 step 10, §9.8, TuyaOpen's ``ble_mgr.c``):

| state | advertising |
|---|---|
| pairing mode, config received, joining, activating, failed | unbound: its generation's frame control, the PID |
| activated, not (or no longer) on MQTT | bound: the bound bit, the bound ID (TuyaOpen's MD5(secKey), §9.6.6) |

The connection-request bit (0x0200) is set while the Wi-Fi link is down, as TuyaOpen does (§9.3.1).
| online, off, crashed, pairing window closed | nothing, and every BLE link is dropped |

Emulator-defined choices: the BLE address is the camera's Wi-Fi MAC; the peripheral offers ATT_MTU 247 (§9.2);
the 30 s pair timer (§9.1 step 3) is checked when the app next writes, not by a sleeping timer (with a virtual
clock that jumps while the world looks idle, a sleeping timer would fire in the middle of an exchange), so a
silent app is never dropped; any number of apps may connect at once, each with its own connection state.

The methods marked "hook" are what a fault overrides (see :mod:`harness.emulator.camera.ble_faults`).
Everything here runs on the world's loop, except the :class:`BlePeripheral` callbacks, which the radio calls in
the sender's thread and which only hand over to the loop.
"""

from __future__ import annotations

import contextlib
import secrets
from typing import TYPE_CHECKING, Any, Literal

from harness.emulator.camera.pairing import PairingConfig
from harness.emulator.camera.states import State
from harness.emulator.loop import LoopError
from harness.emulator.radio import LinkLost, Radio, RadioError, RadioLink
from harness.protocol.ble import (
    AdvertisementV4,
    BleDeviceConnection,
    DisconnectRequested,
    Event,
    Generation,
    MessageIgnored,
    MessageReceived,
    NetStatus,
    PacketDropped,
    Paired,
    ResetRequested,
    WifiConfigRefused,
    WifiConfigured,
    WifiCredentials,
    advertise_v4,
    ble_id,
    frame_control,
)
from harness.protocol.ble.gatt import NOTIFY_CHARACTERISTIC, WRITE_CHARACTERISTIC
from harness.protocol.ble.security import bound_advertised_id, is_compressed_uuid

if TYPE_CHECKING:
    from harness.clock import Clock
    from harness.emulator.camera.activation import Activation
    from harness.emulator.loop import DeviceLoop
    from harness.emulator.timeline import TimelineEvent

AdvertisingMode = Literal["unbound", "bound"]
#: §9.2: the characteristics' value length is 244, so the peripheral takes ATT_MTU up to 247.
PERIPHERAL_ATT_MTU = 247
#: States in which the camera's Wi-Fi link is up (the frame control's connection-request bit is clear, §9.3.1).
_WIFI_UP = frozenset({State.ACTIVATING, State.CONNECTING, State.ONLINE})
_UNBOUND_ADVERTISING = frozenset({State.PAIRING, State.CONFIG_RECEIVED, State.JOINING, State.ACTIVATING, State.FAILED})


class BlePeripheral:
    """The camera's GATT server on the radio: the radio calls it in the sender's thread, it hands over to the loop."""

    def __init__(self, camera: BleMixin, radio: Radio, address: str) -> None:
        self.camera = camera
        self.radio = radio
        self.address = address
        self.connections: dict[int, tuple[RadioLink, BleDeviceConnection]] = {}
        self.mode: AdvertisingMode | None = None
        radio.register(address, self)

    @property
    def max_att_mtu(self) -> int:
        return self.camera.ble_max_att_mtu()

    # -- the radio's callbacks (any thread) --------------------------------------------------------------

    def connected(self, link: RadioLink) -> None:
        self._hand_over(self._opened, link)

    def written(self, link: RadioLink, characteristic: str, data: bytes) -> None:
        self._hand_over(self._written, link, characteristic, data)

    def disconnected(self, link: RadioLink, reason: str) -> None:
        self._hand_over(self._closed, link, reason)

    def _hand_over(self, callback: Any, *args: object) -> None:
        with contextlib.suppress(LoopError):
            self.camera.device_loop.call_soon(callback, *args)

    # -- on the loop -----------------------------------------------------------------------------------------

    def _opened(self, link: RadioLink) -> None:
        camera = self.camera
        if self.mode is None:  # it stopped advertising while the connection was on its way
            link.disconnect("not accepting connections")
            return
        connection = camera.make_ble_connection(**camera.ble_connection_options(bound=self.mode == "bound"))
        self.connections[link.number] = (link, connection)
        camera.record("ble-connected", link=link.number, att_mtu=link.att_mtu, bound=self.mode == "bound")

    def _written(self, link: RadioLink, characteristic: str, data: bytes) -> None:
        entry = self.connections.get(link.number)
        if entry is None:  # a write sent before the link dropped is still taken, in order, as on a real link
            return
        connection = entry[1]
        if characteristic != WRITE_CHARACTERISTIC:
            self.camera.record("ble-write-ignored", link=link.number, characteristic=characteristic, length=len(data))
            return
        try:
            connection.check_timeout(self.camera.clock.time())  # §9.1 step 3, checked lazily (module docstring)
            connection.receive_data(data)
        except Exception as exc:  # the codec never raises on remote bytes: this is the harness's own bug
            self.camera.record("firmware-error", error=repr(exc))
            link.disconnect("emulator error")  # the app sees a dropped link (radio trouble: ERROR, never FAIL)
            return
        self._drain(link, connection)

    def _drain(self, link: RadioLink, connection: BleDeviceConnection) -> None:
        """Send what the connection queued, then act on its events (a disconnect comes after its answer)."""
        for notification in connection.data_to_send():
            try:
                link.notify(NOTIFY_CHARACTERISTIC, notification)
            except (LinkLost, RadioError):
                break
        for event in connection.events():
            self._on_event(link, event)

    def _on_event(self, link: RadioLink, event: Event) -> None:
        camera = self.camera
        if isinstance(event, MessageReceived):
            camera.record("ble-received", link=link.number, message=type(event.message).__name__, sn=event.sn,
                          mode=event.mode)
        elif isinstance(event, PacketDropped):
            camera.record("ble-dropped", link=link.number, reason=event.reason.value, detail=event.detail)
        elif isinstance(event, MessageIgnored):
            camera.record("ble-ignored", link=link.number, message=type(event.message).__name__, reason=event.reason)
        elif isinstance(event, Paired):
            camera.record("ble-paired", link=link.number)
        elif isinstance(event, WifiConfigRefused):
            camera.record("ble-config-refused", link=link.number, result=event.result, detail=event.detail)
        elif isinstance(event, WifiConfigured):
            camera.record("ble-config-received", link=link.number, ssid=event.credentials.ssid)
            camera.capture_config(camera.ble_pairing_config(event.credentials))
        elif isinstance(event, ResetRequested):
            camera.record("ble-reset-requested", link=link.number, cmd=event.cmd)
            camera.device_loop.loop.create_task(camera.factory_reset_async())
        elif isinstance(event, DisconnectRequested):
            camera.record("ble-disconnecting", link=link.number, reason=event.reason.value, detail=event.detail)
            link.disconnect(event.reason.value)

    def _closed(self, link: RadioLink, reason: str) -> None:
        if self.connections.pop(link.number, None) is not None:
            self.camera.record("ble-disconnected", link=link.number, reason=reason)

    # -- advertising ----------------------------------------------------------------------------------------

    def update(self, state: State) -> None:
        """Advertise (or not) as the camera's new state says; stopping drops every link."""
        camera = self.camera
        mode = camera.ble_advertising_mode(state)
        if mode is None:
            if self.mode is not None:
                self.radio.stop_advertising(self.address)
                camera.record("ble-advertising", mode="off")
            self.mode = None
            self.drop_links("advertising stopped")
            return
        advertisement = camera.ble_advertisement(bound=mode == "bound", wifi_up=state in _WIFI_UP)
        adv_data, scan_response = advertisement.encode()
        if self.radio.advertising(self.address) != (adv_data, scan_response):
            self.radio.advertise(self.address, adv_data, scan_response)
            camera.record("ble-advertising", mode=mode, frame_control=f"0x{advertisement.service.frame_control:04x}")
        self.mode = mode

    def drop_links(self, reason: str) -> None:
        for link, _ in list(self.connections.values()):
            link.disconnect(reason)
        self.connections.clear()

    def close(self) -> None:
        self.mode = None
        self.radio.unregister(self.address)
        self.connections.clear()


class BleMixin:
    """The BLE half of :class:`~harness.emulator.camera.firmware.EmulatedCamera`."""

    if TYPE_CHECKING:
        device_loop: DeviceLoop
        clock: Clock
        uuid: str
        auth_key: str
        pid: str
        mac: str
        pairing_modes: frozenset[str]
        activation: Activation | None

        @property
        def state(self) -> State: ...

        def record(self, name: str, **details: Any) -> TimelineEvent: ...

        def capture_config(self, config: PairingConfig) -> None: ...

        def crash(self, reason: str) -> None: ...

        async def factory_reset_async(self) -> None: ...

    radio: Radio | None
    ble_generation: Generation
    _ble: BlePeripheral | None

    def _init_ble(self, radio: Radio | None, generation: str) -> None:
        self.radio = radio
        self.ble_generation = Generation(generation)
        self._ble = None
        if "ble" in self.pairing_modes:
            if radio is None:
                raise ValueError("pairing mode 'ble' needs the world's radio (radio=...)")
            self._ble = BlePeripheral(self, radio, self.ble_address)

    @property
    def ble_address(self) -> str:
        """The BLE device address: the Wi-Fi MAC, upper case (emulator-defined)."""
        return self.mac.replace("-", ":").upper()

    @property
    def ble_advertising(self) -> AdvertisingMode | None:
        """How the camera advertises now: unbound, bound or not at all."""
        return None if self._ble is None else self._ble.mode

    def _ble_state_changed(self, state: State) -> None:
        if self._ble is not None:
            self._ble.update(state)

    def _ble_close(self) -> None:
        if self._ble is not None:
            self._ble.close()

    def ble_connection_options(self, *, bound: bool) -> dict[str, Any]:
        """The :class:`BleDeviceConnection` arguments for a new connection (its srand, IVs, keys, state)."""
        options: dict[str, Any] = {
            "auth_key": self.auth_key.encode("ascii"), "uuid": self.uuid, "srand": self.ble_srand(),
            "iv_source": self.ble_iv, "generation": self.ble_generation, "connected_at": self.clock.time(),
            "network_status": NetStatus.LINK_UP if self.state in _WIFI_UP else NetStatus.LINK_DOWN,
        }
        if bound and self.activation is not None:
            options.update(bound=True, local_key=self.activation.local_key.encode("ascii"),
                           sec_key=self.activation.sec_key.encode("ascii"))
        return options

    # -- hooks: the small decisions a fault overrides ---------------------------------------------------------

    def make_ble_connection(self, **options: Any) -> BleDeviceConnection:
        """Hook: the device side of one connection, with the §9.9 reference reactions."""
        return BleDeviceConnection(**options)

    def ble_srand(self) -> bytes:
        """Hook: the 6-byte ``srand`` of a connection (§9.6.2), fresh from the system's RNG."""
        return secrets.token_bytes(6)

    def ble_iv(self) -> bytes:
        """Hook: the IV of each packet the device sends (§9.6.1: 16 random bytes per packet)."""
        return secrets.token_bytes(16)

    def ble_max_att_mtu(self) -> int:
        """Hook: the ATT_MTU the peripheral accepts in the exchange (§9.2)."""
        return PERIPHERAL_ATT_MTU

    def ble_advertising_mode(self, state: State) -> AdvertisingMode | None:
        """Hook: §9.1 step 10 and §9.8, see the module docstring's table."""
        if state in _UNBOUND_ADVERTISING:
            return "unbound"
        if state is State.CONNECTING and self.activation is not None:
            return "bound"
        return None

    def ble_advertisement(self, *, bound: bool, wifi_up: bool) -> AdvertisementV4:
        """Hook: the §9.3.1 advertisement: TuyaOpen's (V2: frame control 0x430C unbound) or CK's (V1: 0x4300),
        the PID while unbound, the bound ID (§9.6.6) once activated, the BLE ID encrypted in the scan response."""
        v2 = self.ble_generation is Generation.V2
        id16 = ble_id(self.uuid)
        value = frame_control(v2_supported=v2, v2_enabled=v2, connection_request=not wifi_up, bound=bound)
        if bound and self.activation is not None:
            id_field = bound_advertised_id(id16, self.activation.sec_key.encode("ascii"))
        else:
            id_field = self.pid.encode("ascii")[:16].ljust(16, b"\x00")
        return advertise_v4(id16=id16, id_field=id_field, frame_control_value=value,
                            compressed=is_compressed_uuid(self.uuid), name=b"TYBLE" if v2 else b"TY")

    def ble_pairing_config(self, credentials: WifiCredentials) -> PairingConfig:
        """Hook: the credentials a BLE configuration delivered, as every channel's config (§9.8: UTF-8 SSID and
        password, the 14-character token split later, 2/8/4)."""
        return PairingConfig("ble", credentials.ssid.encode("utf-8"), credentials.password.encode("utf-8"),
                             credentials.token)


__all__ = ["PERIPHERAL_ATT_MTU", "AdvertisingMode", "BleMixin", "BlePeripheral"]
