"""Camera faults of AP mode: legacy 55AA frames and LPV3.5 (PROTOCOL.md §3)."""

from __future__ import annotations

import json

from harness.emulator.camera.firmware import EmulatedCamera
from harness.emulator.camera.pairing import PairingChannel, PairingConfig
from harness.protocol import apconfig as ap
from harness.protocol.errors import ProtocolError, RemoteProtocolError

from .registry import builtin as _fault


@_fault("ap-skips-crc", "accepts legacy AP frames whatever their CRC-32",
        "PROTOCOL.md §3.1 (and issue 6): a frame with a bad CRC is refused, the device stays in pairing mode")
class ApSkipsCrc(EmulatedCamera):
    def decode_legacy_ap_frame(self, data: bytes) -> ap.ApFrame:
        return ap.decode_ap_frame(data, check_crc=False)


@_fault("keeps-ap-open-after-success", "leaves its SoftAP config sockets open after taking a config",
        "PROTOCOL.md §3 / issue 6: the device leaves AP mode after success")
class KeepsApOpen(EmulatedCamera):
    def keeps_ap_open_after_config(self) -> bool:
        return True


@_fault("ap-legacy-needs-passwd", "refuses a legacy AP payload without a passwd member (an open network)",
        "PROTOCOL.md §3.1: a payload without passwd configures an open network")
class ApLegacyNeedsPasswd(EmulatedCamera):
    def parse_ap_payload(self, mode: PairingChannel, data: bytes) -> PairingConfig:
        if mode == "ap-legacy":
            try:
                obj = json.loads(data)
            except ValueError:
                obj = None
            if isinstance(obj, dict) and "passwd" not in obj:
                raise RemoteProtocolError("no passwd in the AP payload", section="§3.1")
        return super().parse_ap_payload(mode, data)


@_fault("lpv35-acks-nonzero", "answers an LPV3.5 0x14 config it takes with ret_code 1 (\"received, not joined\")",
        "PROTOCOL.md §3.2: the device answers a 0x14 config frame with return code 0")
class Lpv35AcksNonzero(EmulatedCamera):
    def ap_ack_code(self, mode: PairingChannel, ret: int) -> int:
        return 1 if mode == "ap-lpv35" and ret == 0 else super().ap_ack_code(mode, ret)


@_fault("lpv35-acks-zero-always", "answers every LPV3.5 0x14 config with ret_code 0, the ones it refuses too: the "
        "app believes a configuration was taken that never was",
        "PROTOCOL.md §3.2: return code 0 means the configuration was taken")
class Lpv35AcksZeroAlways(EmulatedCamera):
    def ap_ack_code(self, mode: PairingChannel, ret: int) -> int:
        return 0 if mode == "ap-lpv35" else super().ap_ack_code(mode, ret)


def _raw_member(raw: bytes, *names: str) -> object:
    try:
        obj = json.loads(raw)
    except ValueError:
        return None
    return next((obj[n] for n in names if n in obj), None) if isinstance(obj, dict) else None


@_fault("crashes-on-long-ap-password", "overflows its password buffer on an AP passwd over 64 bytes and dies",
        "PROTOCOL.md §3.1/§3.2: a password over 64 bytes is refused, never overflows")
class CrashesOnLongApPassword(EmulatedCamera):
    def refuse_config(self, mode: PairingChannel, raw: bytes, error: ProtocolError) -> None:
        password = _raw_member(raw, "passwd")
        if mode.startswith("ap-") and isinstance(password, str) and len(password.encode("utf-8")) > 64:
            self.crash(f"buffer overflow copying a {len(password.encode('utf-8'))}-byte password")
            return
        super().refuse_config(mode, raw, error)
