"""The BLE half of the camera's fault zoo (PROTOCOL.md §9): named deviations of the camera's Bluetooth channel.

Most are the security observations of §9.10 in the reference firmware (TuyaOpen, AK, CK, BSDK), which the
emulated camera does *not* make by default: unauthenticated provisioning (mode 0, configuration before pairing,
reset from anyone), duplicate-fragment corruption, the overflows of an oversize sub-packet, an empty request, a
non-string or oversize JSON value (here: the firmware dies), CK's 32-byte password, a stubbed RNG. The others
are plain mistakes a BLE suite must catch: a wrong advertisement, a device that pairs with any ID, answers the
other generation or skips the 0x001E report, AK's answers to bad JSON.

Each is a subclass of :class:`~harness.emulator.camera.firmware.EmulatedCamera`, registered by name when the
package imports this module. Faults of the connection itself return a
:class:`~harness.protocol.ble.BleDeviceConnection` subclass from the camera's ``make_ble_connection`` hook, so two
of those do not combine with each other; the camera-level ones (advertising, credentials, RNG) combine with
anything.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from harness.emulator.camera.firmware import CloudEndpoint, EmulatedCamera
from harness.emulator.camera.pairing import PairingConfig
from harness.emulator.camera.states import State
from harness.errors import HarnessError
from harness.protocol.ble import (
    AdvertisementV4,
    BleDeviceConnection,
    BleError,
    BleFault,
    DeviceInfoAnswer,
    EncryptionMode,
    Envelope,
    Generation,
    MessageSent,
    PairResult,
    ReassembledPacket,
    WifiConfigV1,
    WifiConfigV2,
    WifiCredentials,
    WifiResult,
    advertise_v4,
    ble_id,
)
from harness.protocol.ble.errors import TRANSPORT
from harness.protocol.ble.messages import Cmd, Message
from harness.protocol.ble.security import device_info_mode, key1, key11
from harness.protocol.ble.transport import SubPacket, TransportEvent

from .registry import builtin as _ble_fault


class CameraConnection(BleDeviceConnection):
    """A device connection that knows its camera, for faults that make the firmware die."""

    camera: EmulatedCamera


def _connection(camera: EmulatedCamera, cls: type[CameraConnection], options: Mapping[str, Any]) -> CameraConnection:
    connection = cls(**options)
    connection.camera = camera
    return connection


def _json_members(payload: bytes) -> dict[str, Any] | None:
    try:
        obj = json.loads(payload.split(b"\x00", 1)[0])
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


# ------------------------------------------------------------------------------------------ advertising (§9.3)


@_ble_fault("ble-adv-pid-wrong", "advertises the first 16 characters of its licence UUID where the PID belongs",
            "PROTOCOL.md §9.3.1: an unbound device advertises its PID as the ID")
class BleAdvPidWrong(EmulatedCamera):
    def ble_advertisement(self, *, bound: bool, wifi_up: bool) -> AdvertisementV4:
        advertisement = super().ble_advertisement(bound=bound, wifi_up=wifi_up)
        if bound:
            return advertisement
        service = advertisement.service
        return advertise_v4(id16=ble_id(self.uuid), id_field=self.uuid.encode("ascii")[:16].ljust(16, b"0"),
                            frame_control_value=service.frame_control, name=advertisement.name)


@_ble_fault("ble-adv-flag-wrong", "clears the scan response's 'ID compressed' flag although its 20-character UUID "
            "is compressed", "PROTOCOL.md §9.3.1/§9.6.5: the scan-response flag bit0 announces a compressed ID")
class BleAdvFlagWrong(EmulatedCamera):
    def ble_advertisement(self, *, bound: bool, wifi_up: bool) -> AdvertisementV4:
        advertisement = super().ble_advertisement(bound=bound, wifi_up=wifi_up)
        service = advertisement.service
        return advertise_v4(id16=ble_id(self.uuid), id_field=service.id_field,
                            frame_control_value=service.frame_control, compressed=False, name=advertisement.name)


@_ble_fault("ble-advertises-unbound-after-binding", "keeps advertising as unbound after it is bound and online",
            "PROTOCOL.md §9.1 step 10, §9.8: once on the cloud the device stops advertising as unbound")
class BleAdvertisesUnboundAfterBinding(EmulatedCamera):
    def ble_advertising_mode(self, state: State) -> Any:
        if state in (State.OFF, State.CRASHED, State.PAIRING_CLOSED):
            return None
        return "unbound"


# ------------------------------------------------------------------------------------------ keys and pairing


class _BothGenerations(CameraConnection):
    def _other(self) -> Generation:
        return Generation.V1 if self.generation is Generation.V2 else Generation.V2

    def key_for(self, envelope: Envelope) -> bytes | None:
        if envelope.mode == device_info_mode(self._other()):
            if envelope.iv is None:
                raise HarnessError("broken invariant: envelope.iv is not None")
            if self._other() is Generation.V2:
                return key11(self.auth_key, self.ble_id, envelope.iv)
            return key1(self.auth_key, envelope.iv)
        return super().key_for(envelope)

    def mode_fits(self, mode: int, cmd: int) -> bool:
        if cmd == Cmd.DEVICE_INFO and mode == device_info_mode(self._other()):
            return True
        return super().mode_fits(mode, cmd)


@_ble_fault("ble-answers-other-generation", "answers a device-info request of the other generation's key scheme too",
            "PROTOCOL.md §9.0: each device accepts only its own generation")
class BleAnswersOtherGeneration(EmulatedCamera):
    def make_ble_connection(self, **options: Any) -> BleDeviceConnection:
        return _connection(self, _BothGenerations, options)


class _RawAuthKeyRegister(CameraConnection):
    def device_info_answer(self) -> DeviceInfoAnswer:
        return dataclasses.replace(super().device_info_answer(), register_field=self.auth_key)


@_ble_fault("ble-register-key-raw-authkey", "puts its raw 32-byte AuthKey in the device-info answer's register field "
            "(as BSDK 3.0/3.1), not the register key", "PROTOCOL.md §9.6.3: bytes 14..29 are AES-ECB(authKey[0:16], "
            "rand16)")
class BleRegisterKeyRawAuthKey(EmulatedCamera):
    def make_ble_connection(self, **options: Any) -> BleDeviceConnection:
        return _connection(self, _RawAuthKeyRegister, options)


class _PairsAnyId(CameraConnection):
    def pair_result(self, data: bytes) -> PairResult:
        return PairResult.ALREADY_BOUND if self.bound else PairResult.PAIRED


@_ble_fault("ble-pairs-any-id", "answers every pair request 0x00 whatever BLE ID it carries",
            "PROTOCOL.md §9.7.3: a pair request with a wrong ID is answered 0x01")
class BlePairsAnyId(EmulatedCamera):
    def make_ble_connection(self, **options: Any) -> BleDeviceConnection:
        return _connection(self, _PairsAnyId, options)


class _PairsShortId(CameraConnection):
    def pair_result(self, data: bytes) -> PairResult:
        if len(data) < 16:
            return PairResult.PAIRED  # AK compares nothing when the request is shorter than the ID (§9.7.3)
        return super().pair_result(data)


@_ble_fault("ble-pairs-short-id", "pairs with any pair request shorter than 16 bytes, comparing nothing (AK)",
            "PROTOCOL.md §9.7.3: the first 16 bytes must be the device's BLE ID")
class BlePairsShortId(EmulatedCamera):
    def make_ble_connection(self, **options: Any) -> BleDeviceConnection:
        return _connection(self, _PairsShortId, options)


class _IgnoresSequence(CameraConnection):
    def accept_sn(self, sn: int) -> bool:
        return True


@_ble_fault("ble-ignores-sequence", "acts on frames whose sequence number does not increase (a replay)",
            "PROTOCOL.md §9.5/§9.9: every received sn must be above the last one; TuyaOpen disconnects")
class BleIgnoresSequence(EmulatedCamera):
    def make_ble_connection(self, **options: Any) -> BleDeviceConnection:
        return _connection(self, _IgnoresSequence, options)


# --------------------------------------------------------------------------- unauthenticated provisioning (§9.10.1)


class _AcceptsUnencrypted(CameraConnection):
    def key_for(self, envelope: Envelope) -> bytes | None:
        if envelope.mode == EncryptionMode.NONE:
            return None
        return super().key_for(envelope)

    def mode_fits(self, mode: int, cmd: int) -> bool:
        # Device info needs the IV of a keyed mode to derive the session key (§9.6.2), so mode 0 is taken for
        # everything after it: the pair request, the Wi-Fi configuration, unbind and reset.
        return (mode == EncryptionMode.NONE and cmd != Cmd.DEVICE_INFO) or super().mode_fits(mode, cmd)

    def _queue(self, message: Message, *, mode: int, key: bytes | None, ack_sn: int, iv: bytes | None = None) -> None:
        if mode != EncryptionMode.NONE:
            super()._queue(message, mode=mode, key=key, ack_sn=ack_sn, iv=iv)
            return
        sn = self.next_sn  # TuyaOpen answers in the request's mode: here, unencrypted
        self._outgoing.extend(self._split(self._seal_frame(message, mode=mode, key=None, iv=None, ack_sn=ack_sn)))
        self._emit(MessageSent(message, sn, ack_sn, int(mode)))


@_ble_fault("ble-accepts-unencrypted", "takes unencrypted (mode 0) pair requests and Wi-Fi configurations, as "
            "TuyaOpen and AK take mode 0 in any state",
            "PROTOCOL.md §9.6.1/§9.10 lead 1: mode 0 is unauthenticated provisioning")
class BleAcceptsUnencrypted(EmulatedCamera):
    def make_ble_connection(self, **options: Any) -> BleDeviceConnection:
        return _connection(self, _AcceptsUnencrypted, options)


class _ConfigBeforePair(CameraConnection):
    def may_configure_wifi(self) -> bool:
        return True


@_ble_fault("ble-config-before-pair", "takes a Wi-Fi configuration from an app that has not paired (TuyaOpen "
            "handles 0x801B whatever is_paired is)", "PROTOCOL.md §9.10 lead 1: unauthenticated provisioning")
class BleConfigBeforePair(EmulatedCamera):
    def make_ble_connection(self, **options: Any) -> BleDeviceConnection:
        return _connection(self, _ConfigBeforePair, options)


class _ResetFromAnyone(CameraConnection):
    def may_reset(self) -> bool:
        return True


@_ble_fault("ble-reset-from-anyone", "unbinds and factory-resets on 0x0005/0x0006 from an app that has not paired",
            "PROTOCOL.md §9.7.0/§9.10 lead 1: TuyaOpen takes unbind and factory reset from any peer")
class BleResetFromAnyone(EmulatedCamera):
    def make_ble_connection(self, **options: Any) -> BleDeviceConnection:
        return _connection(self, _ResetFromAnyone, options)


@_ble_fault("ble-fixed-srand", "draws srand 010203040506 and the IV 0102..10 for every connection and packet "
            "(a stubbed RNG, as AK's notes say still provisions)", "PROTOCOL.md §9.10 lead 9, §9.6.1-§9.6.2: "
            "srand and every IV are fresh random bytes")
class BleFixedSrand(EmulatedCamera):
    def ble_srand(self) -> bytes:
        return bytes.fromhex("010203040506")

    def ble_iv(self) -> bytes:
        return bytes(range(1, 17))


# ------------------------------------------------------------------------------------------- the Wi-Fi JSON (§9.7.5)


class _MissingKeyAccepted(CameraConnection):
    _absent = False

    def read_wifi_config(self, message: WifiConfigV2 | WifiConfigV1) -> WifiCredentials:
        members = _json_members(message.payload)
        self._absent = members is not None and any(key not in members for key in ("ssid", "pwd", "token"))
        return super().read_wifi_config(message)

    def wifi_result_for(self, error: BleError) -> int:
        if error.reason is BleFault.MISSING_KEY and self._absent:
            return WifiResult.ACCEPTED  # AK answers 00 00 00 01 00 even when keys are missing (§9.7.5)
        return super().wifi_result_for(error)


@_ble_fault("ble-missing-key-accepted", "answers 0x00 to a Wi-Fi JSON that lacks ssid, pwd or token (AK), and then "
            "does nothing with it", "PROTOCOL.md §9.7.5/§9.9: a missing key is answered 0xF7")
class BleMissingKeyAccepted(EmulatedCamera):
    def make_ble_connection(self, **options: Any) -> BleDeviceConnection:
        return _connection(self, _MissingKeyAccepted, options)


class _UnparseableUnanswered(CameraConnection):
    def _answer_wifi(self, message: WifiConfigV2 | WifiConfigV1, result: int, request_sn: int) -> None:
        if result == WifiResult.JSON_PARSE_ERROR:
            return  # AK: no answer, no callback (§9.9)
        super()._answer_wifi(message, result, request_sn)


@_ble_fault("ble-unparseable-json-unanswered", "does not answer a Wi-Fi configuration whose JSON does not parse (AK)",
            "PROTOCOL.md §9.7.5/§9.9: JSON that does not parse is answered 0xF8")
class BleUnparseableJsonUnanswered(EmulatedCamera):
    def make_ble_connection(self, **options: Any) -> BleDeviceConnection:
        return _connection(self, _UnparseableUnanswered, options)


@_ble_fault("ble-password-truncated-32", "keeps only the first 32 bytes of a password taken over BLE (CK)",
            "PROTOCOL.md §9.10 lead 8: CK truncates the password to 32 bytes, breaking 33-63 character passphrases")
class BlePasswordTruncated32(EmulatedCamera):
    def ble_pairing_config(self, credentials: WifiCredentials) -> PairingConfig:
        config = super().ble_pairing_config(credentials)
        return PairingConfig(config.mode, config.ssid, config.password[:32], config.token)


@_ble_fault("ble-ssid-latin1", "reads the SSID taken over BLE as ISO-8859-1 and stores it re-encoded as UTF-8",
            "PROTOCOL.md §9.7.5: the JSON, and so the SSID, is UTF-8")
class BleSsidLatin1(EmulatedCamera):
    def ble_pairing_config(self, credentials: WifiCredentials) -> PairingConfig:
        config = super().ble_pairing_config(credentials)
        return PairingConfig(config.mode, config.ssid.decode("latin-1").encode("utf-8"), config.password, config.token)


@_ble_fault("ble-token-region-ignored", "activates a configuration taken over BLE at its one cloud whatever region "
            "the token's first two characters name", "PROTOCOL.md §9.7.5/§9.8: the BLE token is split 2/8/4 and "
            "the region picks the endpoint (§1.4)")
class BleTokenRegionIgnored(EmulatedCamera):
    def endpoint_for(self, region: str) -> CloudEndpoint | None:
        if self.config is not None and self.config.mode == "ble":
            if isinstance(self.cloud, CloudEndpoint):
                return self.cloud
            return next(iter(self.cloud.values()), None)
        return super().endpoint_for(region)


# ------------------------------------------------------------------------------------------- bad input (§9.10)


class _CrashesOnLongSsid(CameraConnection):
    def read_wifi_config(self, message: WifiConfigV2 | WifiConfigV1) -> WifiCredentials:
        ssid = (_json_members(message.payload) or {}).get("ssid")
        if isinstance(ssid, str) and len(ssid.encode("utf-8")) > 32:
            self.camera.crash("SSID over 32 bytes overflowed its buffer (§9.10 lead 7)")
        return super().read_wifi_config(message)


@_ble_fault("ble-crashes-on-long-ssid", "copies an SSID over 32 bytes taken over BLE into a 33-byte buffer and dies",
            "PROTOCOL.md §9.10 lead 7: TuyaOpen memcpy's strlen(ssid) bytes into a 33-byte field")
class BleCrashesOnLongSsid(EmulatedCamera):
    def make_ble_connection(self, **options: Any) -> BleDeviceConnection:
        return _connection(self, _CrashesOnLongSsid, options)


class _CrashesOnNonString(CameraConnection):
    def read_wifi_config(self, message: WifiConfigV2 | WifiConfigV1) -> WifiCredentials:
        members = _json_members(message.payload) or {}
        if any(key in members and not isinstance(members[key], str) for key in ("ssid", "pwd", "token")):
            self.camera.crash("strncpy from a NULL valuestring (§9.10 lead 7)")
        return super().read_wifi_config(message)


@_ble_fault("ble-crashes-on-non-string-json", "dies on a Wi-Fi JSON whose ssid, pwd or token is not a string",
            "PROTOCOL.md §9.10 lead 7: a non-string value gives valuestring == NULL")
class BleCrashesOnNonStringJson(EmulatedCamera):
    def make_ble_connection(self, **options: Any) -> BleDeviceConnection:
        return _connection(self, _CrashesOnNonString, options)


class _CrashesOnEmptyRequest(CameraConnection):
    def device_info_request_ok(self, data: bytes) -> bool:
        if not data:
            self.camera.crash("device-info request with no data: data[0..1] read from NULL (§9.10 lead 4)")
        return super().device_info_request_ok(data)

    def pair_result(self, data: bytes) -> PairResult:
        if not data:
            self.camera.crash("pair request with no data: memcmp of 16 bytes at NULL (§9.10 lead 4)")
        return super().pair_result(data)


@_ble_fault("ble-crashes-on-empty-request", "dies on a device-info or pair request with no data (TuyaOpen)",
            "PROTOCOL.md §9.10 lead 4: a zero-length request is read at NULL")
class BleCrashesOnEmptyRequest(EmulatedCamera):
    def make_ble_connection(self, **options: Any) -> BleDeviceConnection:
        return _connection(self, _CrashesOnEmptyRequest, options)


class _CrashesOnOversizeSubPacket(CameraConnection):
    _announced: int | None = None

    def sub_packet_size(self, announced: int | None) -> int:
        self._announced = announced
        return super().sub_packet_size(announced)

    def receive_data(self, data: bytes) -> None:
        if self._announced is not None and len(data) > max(self._announced, 1):
            self.camera.crash(f"a {len(data)}-byte write into a buffer of the announced {self._announced} bytes "
                              "(§9.10 lead 3)")
            return
        super().receive_data(data)


@_ble_fault("ble-crashes-on-oversize-subpacket", "dies on a write longer than the sub-packet size the app announced "
            "(its receive buffer was allocated to that size)", "PROTOCOL.md §9.10 lead 3: the copy is bounded by the "
            "declared total, not the buffer")
class BleCrashesOnOversizeSubPacket(EmulatedCamera):
    def make_ble_connection(self, **options: Any) -> BleDeviceConnection:
        return _connection(self, _CrashesOnOversizeSubPacket, options)


# ------------------------------------------------------------------------------------------- sub-packets (§9.4)


class TuyaOpenReassembler:
    """TuyaOpen's receiver (§9.4 "Receiver rules"): number 0 restarts, a lower number or a jump of more than one is
    an error that resets, an equal number (a duplicate) is "continue", and (§9.10 lead 2) a duplicate's payload is
    appended all the same when ``duplicates_corrupt``; bytes past the total are cut off."""

    def __init__(self, *, duplicates_corrupt: bool) -> None:
        self.duplicates_corrupt = duplicates_corrupt
        self._first: SubPacket | None = None
        self._last = -1
        self._data = bytearray()

    @property
    def in_progress(self) -> bool:
        return self._first is not None

    def reset(self) -> None:
        self._first, self._last, self._data = None, -1, bytearray()

    def receive(self, data: bytes) -> list[TransportEvent]:
        sub = SubPacket.parse(bytes(data))
        if sub.number == 0:
            self.reset()
            self._first = sub
        elif self._first is None or sub.number < self._last or sub.number > self._last + 1:
            self.reset()
            raise BleError(f"sub-packet {sub.number} out of order (TuyaOpen resets)", reason=BleFault.REASSEMBLY,
                           section=TRANSPORT)
        elif sub.number == self._last and not self.duplicates_corrupt:
            return []
        self._last = sub.number
        self._data += sub.payload
        first = self._first
        if first is None or first.total_len is None or first.version is None:
            raise HarnessError("broken invariant: the first sub-packet is held, with total_len and version")
        if len(self._data) < first.total_len:
            return []
        packet = ReassembledPacket(bytes(self._data[:first.total_len]), first.version, first.seq or 0, self._last + 1)
        self.reset()
        return [packet]


class _TuyaOpenReceiver(CameraConnection):
    duplicates_corrupt = True

    def make_reassembler(self, max_packet_len: int) -> Any:
        return TuyaOpenReassembler(duplicates_corrupt=self.duplicates_corrupt)


class _StrictOrderReceiver(_TuyaOpenReceiver):
    duplicates_corrupt = False


@_ble_fault("ble-duplicate-subpacket-corrupts", "reassembles as TuyaOpen does: a duplicated sub-packet is appended "
            "twice (the packet is then dropped) and a reordered one resets", "PROTOCOL.md §9.4, §9.10 lead 2: "
            "duplicated and reordered sub-packets still make the packet")
class BleDuplicateSubPacketCorrupts(EmulatedCamera):
    def make_ble_connection(self, **options: Any) -> BleDeviceConnection:
        return _connection(self, _TuyaOpenReceiver, options)


@_ble_fault("ble-subpacket-strict-order", "drops a packet whose sub-packets arrive out of order (a gap or a lower "
            "number resets reassembly)", "PROTOCOL.md §9.4: reordered sub-packets still make the packet")
class BleSubPacketStrictOrder(EmulatedCamera):
    def make_ble_connection(self, **options: Any) -> BleDeviceConnection:
        return _connection(self, _StrictOrderReceiver, options)


# ------------------------------------------------------------------------------------------- after pairing (§9.7.4)


@_ble_fault("ble-no-network-status", "sends no 0x001E network-status report after a successful pair (V2)",
            "PROTOCOL.md §9.7.4: TuyaOpen and AK report the network status right after the pair answer")
class BleNoNetworkStatus(EmulatedCamera):
    def ble_connection_options(self, *, bound: bool) -> dict[str, Any]:
        return {**super().ble_connection_options(bound=bound), "send_network_status": False}


__all__ = ["CameraConnection", "TuyaOpenReassembler"]
