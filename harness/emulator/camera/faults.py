"""Named deviations of the emulated camera: the camera half of the fault zoo (DESIGN.md "Faults").

Each fault is a real change of behaviour, made by overriding one of the camera's small hook methods
(``decode_qr_image``, ``parse_qr_payload``, ``accept_config``, ``split_token``, ``activation_body``,
``mqtt_credentials``, ``report_dps``, ``on_unbind``, ...; see :mod:`harness.emulator.camera.firmware` and
:mod:`harness.emulator.camera.pairing`). A fault is therefore just a subclass of
:class:`~harness.emulator.camera.firmware.EmulatedCamera`, and several combine by multiple inheritance.
:data:`CAMERA_FAULTS` lists every built-in one with what it breaks, and :func:`camera_class` builds the
camera class for a list of fault names or classes.

Adding a fault from outside the package takes a subclass, and (optionally) registering it by name::

    from harness.emulator.camera.firmware import EmulatedCamera
    from harness.emulator.camera.faults import camera_class, register_camera_fault

    @register_camera_fault("lab-always-star", "always activates at the catch-all endpoint",
                           requirement="PROTOCOL.md §1.4: the region picks the endpoint")
    class AlwaysStar(EmulatedCamera):
        def endpoint_for(self, region):
            return super().endpoint_for("*")

    Camera = camera_class(["lab-always-star", "no-prompt-sound"])  # or camera_class([AlwaysStar])
    camera = Camera(device_loop, air, uuid=..., auth_key=..., pid=..., mac=..., cloud=...)

A fault that must kill the firmware calls ``self.crash(reason)``: the camera goes to CRASHED, closes its
sockets and answers nothing until power cycled; no exception escapes into the harness.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from PIL import Image

from harness.emulator.camera.firmware import Activation, CloudEndpoint, EmulatedCamera
from harness.emulator.camera.pairing import EzReceiver, PairingChannel, PairingConfig
from harness.protocol import apconfig as ap
from harness.protocol import mqtt as mq
from harness.protocol.errors import ProtocolError, RemoteProtocolError
from harness.protocol.smartconfig import (
    PASSWORD_BASE,
    PREAMBLE_BASE,
    SSID_BASE,
    TOKEN_BASE,
    EzCredentials,
    SmartConfigReceiver,
    crc8_maxim,
    decode_multicast_address,
)
from harness.qrimage import decode_qr


@dataclass(frozen=True)
class CameraFault:
    """A catalogue entry: the fault's name, what the camera does wrong, and the requirement it breaks."""

    name: str
    description: str
    requirement: str
    cls: type[EmulatedCamera]


CAMERA_FAULTS: dict[str, CameraFault] = {}

C = TypeVar("C", bound=type[EmulatedCamera])


def register_camera_fault(name: str, description: str, *, requirement: str) -> Callable[[C], C]:
    """Class decorator: list a fault subclass in :data:`CAMERA_FAULTS` under ``name``."""
    def decorate(cls: C) -> C:
        if name in CAMERA_FAULTS and CAMERA_FAULTS[name].cls is not cls:
            raise ValueError(f"a camera fault called {name!r} is already registered")
        CAMERA_FAULTS[name] = CameraFault(name, description, requirement, cls)
        return cls

    return decorate


def camera_class(faults: Iterable[str | type[EmulatedCamera]] = ()) -> type[EmulatedCamera]:
    """The camera class that makes every one of ``faults`` (names from :data:`CAMERA_FAULTS`, or classes)."""
    classes: list[type[EmulatedCamera]] = []
    names: list[str] = []
    for fault in faults:
        if isinstance(fault, str):
            entry = CAMERA_FAULTS.get(fault)
            if entry is None:
                raise ValueError(f"unknown camera fault {fault!r}; known: {', '.join(sorted(CAMERA_FAULTS))}")
            cls, name = entry.cls, entry.name
        elif isinstance(fault, type) and issubclass(fault, EmulatedCamera):
            cls = fault
            name = next((e.name for e in CAMERA_FAULTS.values() if e.cls is fault), fault.__name__)
        else:
            raise TypeError(f"a camera fault is a name or an EmulatedCamera subclass, not {fault!r}")
        if cls not in classes:
            classes.append(cls)
            names.append(name)
    if not classes:
        return EmulatedCamera
    bases = tuple(c for c in classes if c is not EmulatedCamera)
    if len(bases) == 1 and bases[0].fault_names == (names[0],):
        return bases[0]
    return type("FaultyCamera", bases or (EmulatedCamera,), {"fault_names": tuple(names)})


def make_camera(*args: Any, faults: Iterable[str | type[EmulatedCamera]] = (), **kwargs: Any) -> EmulatedCamera:
    """Build a camera making ``faults``; the other arguments are :class:`EmulatedCamera`'s."""
    return camera_class(faults)(*args, **kwargs)


def _fault(name: str, description: str, requirement: str) -> Callable[[C], C]:
    def decorate(cls: C) -> C:
        cls.fault_names = (name,)
        return register_camera_fault(name, description, requirement=requirement)(cls)

    return decorate


# ---------------------------------------------------------------------------------------------------- QR


@_fault("qr-mangles-utf8", "decodes QR codes with zbar's default charset guessing, which mangles UTF-8",
        "PROTOCOL.md §1.2: the payload is UTF-8 (non-ASCII written raw)")
class QrManglesUtf8(EmulatedCamera):
    def decode_qr_image(self, image: Image.Image) -> list[bytes]:
        return decode_qr(image, backend="zbar", zbar_binary=False)


@_fault("qr-fixed-key-order", "refuses a QR payload whose members are not in s, p, t order",
        "PROTOCOL.md §1.2: key order is not fixed (s,p,t and p,s,t both occur)")
class QrFixedKeyOrder(EmulatedCamera):
    def parse_qr_payload(self, data: bytes) -> PairingConfig:
        try:
            pairs = json.loads(data, object_pairs_hook=lambda p: [k for k, _ in p])
        except ValueError:
            pairs = None
        if not isinstance(pairs, list) or pairs[:3] != ["s", "p", "t"]:
            raise RemoteProtocolError("members are not in the order s, p, t", section="§1.2")
        return super().parse_qr_payload(data)


_RAW_MEMBER = re.compile(rb'"([spt])"\s*:\s*"((?:[^"\\]|\\.)*)"')


@_fault("qr-ignores-escapes", "takes the QR members' text as written, without undoing \\/, \\\" or \\uXXXX",
        "PROTOCOL.md §1.2: a conformant device must accept \\/, \\\", \\\\ and \\uXXXX")
class QrIgnoresEscapes(EmulatedCamera):
    def parse_qr_payload(self, data: bytes) -> PairingConfig:
        members = {m.group(1).decode(): m.group(2) for m in _RAW_MEMBER.finditer(data)}
        if set(members) != {"s", "p", "t"}:
            raise RemoteProtocolError("QR text lacks one of s, p, t", section="§1.1")
        return PairingConfig("qr", members["s"], members["p"], members["t"].decode("utf-8", "replace"))


_ESCAPE = re.compile(rb'\\(u[0-9a-fA-F]{4}|.)', re.DOTALL)
_SIMPLE_ESCAPES = {b'"': b'"', b"\\": b"\\", b"/": b"/", b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r",
                   b"t": b"\t"}


def _unescape_low_byte(text: bytes) -> bytes:
    """A JSON string's escapes undone by a hand-written loop that stores ``\\uXXXX`` as the one byte
    ``XXXX & 0xFF``: right for ASCII (control characters included), wrong for anything above U+007F."""
    def one(match: re.Match[bytes]) -> bytes:
        escape = match.group(1)
        if escape.startswith(b"u") and len(escape) == 5:
            return bytes([int(escape[1:], 16) & 0xFF])
        return _SIMPLE_ESCAPES.get(escape, escape)

    return _ESCAPE.sub(one, text)


@_fault("qr-unicode-escape-low-byte", "undoes a QR member's \\uXXXX escape into the single byte XXXX & 0xFF, "
        "so an escaped non-ASCII character arrives as a Latin-1 byte, not UTF-8",
        "PROTOCOL.md §1.2: \\uXXXX escapes are legal and stand for the character's UTF-8 bytes")
class QrUnicodeEscapeLowByte(EmulatedCamera):
    def parse_qr_payload(self, data: bytes) -> PairingConfig:
        checked = super().parse_qr_payload(data)  # the legality checks stand; only the members' bytes differ
        members = {m.group(1).decode(): m.group(2) for m in _RAW_MEMBER.finditer(data)}
        return PairingConfig("qr", _unescape_low_byte(members["s"]), _unescape_low_byte(members["p"]), checked.token)


@_fault("no-prompt-sound", "captures a QR payload without sounding the prompt",
        "seed: the device will sound a prompt after capturing the information of the QR code")
class NoPromptSound(EmulatedCamera):
    def prompt_sound(self) -> None:
        return None


@_fault("qr-scanner-stops-after-refusal", "stops scanning QR codes after refusing one, until reset or power cycled",
        "PROTOCOL.md §1.1/§1.3: an illegal QR payload is refused and the device then pairs with a legal one")
class QrScannerStopsAfterRefusal(EmulatedCamera):
    """The scanner task exits when the parser throws, and only the buttons or a reboot restart it."""

    _qr_scanner_dead = False

    def refuse_config(self, mode: PairingChannel, raw: bytes, error: ProtocolError) -> None:
        if mode == "qr":
            self._qr_scanner_dead = True
            self.record("qr-scanner-stopped", reason=error.message)
        super().refuse_config(mode, raw, error)

    def decode_qr_image(self, image: Image.Image) -> list[bytes]:
        return [] if self._qr_scanner_dead else super().decode_qr_image(image)

    async def reset_async(self) -> None:
        self._qr_scanner_dead = False
        await super().reset_async()

    async def factory_reset_async(self) -> None:
        self._qr_scanner_dead = False
        await super().factory_reset_async()

    async def power_on_async(self) -> None:
        self._qr_scanner_dead = False
        await super().power_on_async()


# ----------------------------------------------------------------------------------------- config limits


@_fault("ssid-truncate-32", "drops the last byte of a 32-byte SSID (a 32-byte buffer with its terminator)",
        "PROTOCOL.md §2.1/§3.2: an SSID is up to 32 bytes, all of them kept")
class SsidTruncate32(EmulatedCamera):
    def accept_config(self, config: PairingConfig) -> PairingConfig:
        if len(config.ssid) == 32:
            config = PairingConfig(config.mode, config.ssid[:31], config.password, config.token)
        return super().accept_config(config)


def _raw_ssid(raw: bytes) -> bytes | None:
    try:
        obj = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    value = obj.get("s", obj.get("ssid"))
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else None


@_fault("crashes-on-long-ssid", "overflows its SSID buffer on an SSID over 32 bytes and dies",
        "PROTOCOL.md §3.2 fuzz lead: an SSID over 32 bytes must be refused, never overflow")
class CrashesOnLongSsid(EmulatedCamera):
    def refuse_config(self, mode: PairingChannel, raw: bytes, error: ProtocolError) -> None:
        ssid = _raw_ssid(raw)
        if ssid is not None and len(ssid) > 32:
            self.crash(f"stack overflow copying a {len(ssid)}-byte SSID")
            return
        super().refuse_config(mode, raw, error)


def _without_format_characters(ssid: bytes) -> bytes:
    try:
        text = ssid.decode("utf-8")
    except UnicodeDecodeError:
        return ssid
    return "".join(c for c in text if unicodedata.category(c) != "Cf").encode("utf-8")


@_fault("ssid-strips-format-chars", "deletes invisible Unicode format characters (bidi marks, ZWJ, BOM) from the SSID",
        "PROTOCOL.md §1.2/§2.1/§3.1: the SSID is kept byte for byte, whatever UTF-8 it holds")
class SsidStripsFormatChars(EmulatedCamera):
    """A display sanitiser (against right-to-left spoofing) run over the stored config instead of the UI text."""

    def accept_config(self, config: PairingConfig) -> PairingConfig:
        config = PairingConfig(config.mode, _without_format_characters(config.ssid), config.password, config.token)
        return super().accept_config(config)


@_fault("crashes-on-short-password", "aborts deriving the WPA key from a password of 1 to 7 characters",
        "fuzz: a password no WPA network has fails the join and is refused; the device stays alive")
class CrashesOnShortPassword(EmulatedCamera):
    def accept_config(self, config: PairingConfig) -> PairingConfig:
        if 0 < len(config.password) < 8:
            self.crash(f"assertion in the PSK derivation: a {len(config.password)}-character passphrase")
            return config
        return super().accept_config(config)


# -------------------------------------------------------------------------------------------------- EZ


class LaxEzReceiver:
    """A broadcast-only EZ decoder that checks no CRC: the first copy of each group wins (§2.3, wrongly)."""

    def __init__(self) -> None:
        self._header: dict[int, int] = {}
        self._groups: dict[int, bytes] = {}
        self._control: list[int] = []
        self._current: tuple[int, bytearray] | None = None
        self._result: EzCredentials | None = None

    @property
    def result(self) -> EzCredentials | None:
        return self._result

    def feed_address(self, address: str) -> None:
        return None

    def feed_length(self, length: int) -> None:
        if self._result is not None:
            return
        if 16 <= length < 80:
            self._header[length >> 4] = length & 0xF
            self._control.clear()
        elif 128 <= length < 256:
            self._flush()
            self._control.append(length & 0x7F)
            if len(self._control) == 2:
                self._current = (self._control[1], bytearray())
                self._control.clear()
        elif 256 <= length < 512 and self._current is not None:
            self._current[1].append(length & 0xFF)
            total = self._total()
            if total is not None and len(self._current[1]) >= min(4, total - 4 * self._current[0]):
                self._flush()

    def _total(self) -> int | None:
        if 1 in self._header and 2 in self._header:
            return (self._header[1] << 4) | self._header[2]
        return None

    def _flush(self) -> None:
        current, self._current = self._current, None
        total = self._total()
        if current is None or total is None:
            return
        seq, data = current
        want = min(4, total - 4 * seq)
        if want > 0 and len(data) >= want and seq not in self._groups:
            self._groups[seq] = bytes(data[:want])
        groups = (total + 3) // 4
        if all(s in self._groups for s in range(groups)):
            d = b"".join(self._groups[s] for s in range(groups))
            pw_len = d[0]
            tok_len = d[1 + pw_len] if len(d) > 1 + pw_len else 0
            try:
                self._result = EzCredentials(ssid=d[2 + pw_len + tok_len:], password=d[1:1 + pw_len],
                                             token=d[2 + pw_len:2 + pw_len + tok_len])
            except ProtocolError:
                self._groups.clear()


@_fault("ez-skips-crc", "accepts EZ broadcast groups without checking their CRC-8 (first copy wins)",
        "PROTOCOL.md §2.2/§2.3: corrupted CRCs are ignored, never accepted")
class EzSkipsCrc(EmulatedCamera):
    def make_ez_receiver(self) -> EzReceiver | SmartConfigReceiver:
        return LaxEzReceiver()


class _FilteredEzReceiver:
    """The conformant decoder behind a firmware's own front end, which decides what reaches it."""

    def __init__(self) -> None:
        self.inner = SmartConfigReceiver()

    @property
    def result(self) -> EzCredentials | None:
        return self.inner.result

    def feed_length(self, length: int) -> None:
        self.inner.feed_length(length)

    def feed_address(self, address: str) -> None:
        self.inner.feed_address(address)


class BroadcastOnlyEzReceiver(_FilteredEzReceiver):
    """A sniffer built without the §2.4 multicast decoder: 226.x.y.z addresses are dropped."""

    def feed_address(self, address: str) -> None:
        return None


@_fault("ez-broadcast-only", "claims the EZ multicast channel but only decodes the broadcast one",
        "PROTOCOL.md §2.4: a device that claims multicast pairs from 226.x.y.z addresses alone")
class EzBroadcastOnly(EmulatedCamera):
    def make_ez_receiver(self) -> EzReceiver | SmartConfigReceiver:
        return BroadcastOnlyEzReceiver()


class HeaderCrcUncheckedEzReceiver(_FilteredEzReceiver):
    """A broadcast front end that reads L from the header's first two values and never compares the header's
    CRC-8 with it: the check nibbles it passes on are recomputed from the L it read (§2.3 step 3, wrongly)."""

    def __init__(self) -> None:
        super().__init__()
        self._nibbles: list[int] = []

    def feed_length(self, length: int) -> None:
        if 16 <= length < 80:
            kind, nibble = length >> 4, length & 0xF
            if kind == 1:
                self._nibbles = [nibble]
            elif kind == len(self._nibbles) + 1:
                self._nibbles.append(nibble)
            else:
                self._nibbles = []  # out of order: the decoder behind drops this header anyway
            if kind in (3, 4) and len(self._nibbles) == kind:
                check = crc8_maxim(bytes([self._nibbles[0] << 4 | self._nibbles[1]]))
                length = 0x30 | check >> 4 if kind == 3 else 0x40 | check & 0xF
        super().feed_length(length)


@_fault("ez-header-crc-unchecked", "takes the EZ broadcast length L from the header without checking its CRC-8 "
        "(group CRCs are checked)", "PROTOCOL.md §2.3 step 3: the header carries L and CRC-8(L); data whose "
        "CRC-8 does not match is ignored")
class EzHeaderCrcUnchecked(EmulatedCamera):
    def make_ez_receiver(self) -> EzReceiver | SmartConfigReceiver:
        return HeaderCrcUncheckedEzReceiver()


EZ_BROADCAST_BUFFER = 64


class SmallBufferEzReceiver(_FilteredEzReceiver):
    """A broadcast decoder with a 64-byte data buffer: a message whose header announces more is dropped."""

    def feed_length(self, length: int) -> None:
        if 16 <= length < 32 and (length & 0xF) << 4 >= EZ_BROADCAST_BUFFER:
            return  # the high nibble of L (§2.3 step 3) says the message does not fit: the header is thrown away
        super().feed_length(length)


@_fault("ez-broadcast-64-byte-buffer", "keeps EZ broadcast data in a 64-byte buffer: long credentials never decode",
        "PROTOCOL.md §2.3: the broadcast channel alone carries any legal SSID, password and token (L up to 255)")
class EzBroadcast64ByteBuffer(EmulatedCamera):
    def make_ez_receiver(self) -> EzReceiver | SmartConfigReceiver:
        return SmallBufferEzReceiver()


class PaddedTailOnlyEzReceiver(_FilteredEzReceiver):
    """Reads every broadcast group as exactly 4 data values, as TuyaAPI/link pad it: a group window of any
    other size (tuya-convert's last group, 2p values, §2.3 step 5) is thrown away whole."""

    def __init__(self) -> None:
        super().__init__()
        self._window: list[int] = []  # the control values of a group, then its data values
        self._data = 0

    def feed_length(self, length: int) -> None:
        if 128 <= length < 256:
            if self._data:
                self._close()
            self._window.append(length)
        elif 256 <= length < 512 and self._window:
            self._window.append(length)
            self._data += 1
        else:
            if 16 <= length < 80:
                self._close()
            super().feed_length(length)

    def _close(self) -> None:
        window, data = self._window, self._data
        self._window, self._data = [], 0
        if data in (0, 4):
            for value in window:
                super().feed_length(value)


@_fault("ez-padded-tail-only", "takes only EZ broadcast groups of exactly 4 data values (the padded tail)",
        "PROTOCOL.md §2.3 step 5: either tail is accepted, trailing 256 values or a padded last chunk")
class EzPaddedTailOnly(EmulatedCamera):
    def make_ez_receiver(self) -> EzReceiver | SmartConfigReceiver:
        return PaddedTailOnlyEzReceiver()


_MULTICAST_STARTS = frozenset({SSID_BASE, PASSWORD_BASE, TOKEN_BASE, PREAMBLE_BASE})


class CleanAirEzReceiver(_FilteredEzReceiver):
    """A decoder that assumes a perfect air: the first out-of-sequence datagram (lost, duplicated, reordered or
    stray) leaves it waiting for the missing one for good, on both channels, until pairing mode restarts."""

    def __init__(self) -> None:
        super().__init__()
        self.stalled: str | None = None
        self._header = 0  # kinds of the current header seen so far (§2.3 step 3: 1, 2, 3, 4 in order)
        self._controls = 0  # control values since the last data value
        self._data: int | None = None  # data values in the open group window
        self._synced = False
        self._last_seq: int | None = None

    def _stall(self, why: str) -> None:
        if self.stalled is None:
            self.stalled = why

    def feed_length(self, length: int) -> None:
        if self.stalled is None:
            self._check_length(length)
        if self.stalled is None:
            super().feed_length(length)

    def _check_length(self, value: int) -> None:
        if 16 <= value < 80:
            self._close()
            kind = value >> 4
            if kind != 1 and kind != self._header + 1:
                self._stall(f"header value {value} out of order")
            self._header = kind % 4
            self._synced = True
            self._controls = 0
        elif 128 <= value < 256 and self._synced:
            self._close()
            self._controls += 1
            if self._controls > 2 or self._header != 0:
                self._stall("control value out of place")
            if self._controls == 2:
                self._data = 0
        elif 256 <= value < 512 and self._synced:
            if self._data is None or self._controls == 1:
                self._stall("data value outside a group")
                return
            self._controls = 0
            self._data += 1

    def _close(self) -> None:
        data, self._data = self._data, None
        if data is not None and data not in (2, 4, 6, 8):
            self._stall(f"a group of {data} data values")

    def feed_address(self, address: str) -> None:
        if self.stalled is None:
            decoded = decode_multicast_address(address)
            if decoded is not None:
                seq, last = decoded[0], self._last_seq
                if last is not None and seq != last + 1 and seq not in _MULTICAST_STARTS:
                    self._stall(f"multicast sequence {seq} after {last}")
                self._last_seq = seq
        if self.stalled is None:
            super().feed_address(address)


@_fault("ez-needs-clean-air", "EZ decoding stalls for good at the first lost, duplicated, reordered or stray datagram",
        "PROTOCOL.md §2.5: the device pairs over a lossy, noisy air as the app repeats its rounds")
class EzNeedsCleanAir(EmulatedCamera):
    def make_ez_receiver(self) -> EzReceiver | SmartConfigReceiver:
        return CleanAirEzReceiver()

    # The buttons reboot the firmware, and with it the stalled decoder (even when pairing mode was on already).
    async def reset_async(self) -> None:
        await super().reset_async()
        self._restart_ez_decoder()

    async def factory_reset_async(self) -> None:
        await super().factory_reset_async()
        self._restart_ez_decoder()

    def _restart_ez_decoder(self) -> None:
        if self._ez_receiver is not None:
            self._ez_receiver = self.make_ez_receiver()


@_fault("ez-latin1-credentials", "reads the EZ SSID and password as ISO-8859-1 and stores them re-encoded as UTF-8",
        "PROTOCOL.md §2.1/§2.6: SSID and password arrive as their exact UTF-8 bytes")
class EzLatin1Credentials(EmulatedCamera):
    def accept_config(self, config: PairingConfig) -> PairingConfig:
        if config.mode == "ez":
            config = PairingConfig("ez", config.ssid.decode("latin-1").encode("utf-8"),
                                   config.password.decode("latin-1").encode("utf-8"), config.token)
        return super().accept_config(config)


@_fault("joins-without-handshake", "reports the Wi-Fi join done once associated, before the WPA handshake",
        "PROTOCOL.md §0 step 3: a device that cannot join the network (wrong password) activates nothing")
class JoinsWithoutHandshake(EmulatedCamera):
    def join_wifi(self, ssid: bytes, password: bytes) -> str:
        outcome = super().join_wifi(ssid, password)
        return "ok" if outcome == "wrong-password" else outcome


# -------------------------------------------------------------------------------------------------- AP


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


# ------------------------------------------------------------------------------------------ activation


@_fault("token-split-wrong", "splits the 14-character token 3/8/3 instead of 2/8/4",
        "PROTOCOL.md §1.4: region [0,2), token [2,10), secret [10,14)")
class TokenSplitWrong(EmulatedCamera):
    def split_token(self, text: str) -> tuple[str, str, str]:
        return text[:3], text[3:11], text[11:14]


@_fault("token-whole-first", "activates first with the whole 14-character token string (as an AP frame carries "
        "it) and, when that is refused, again with the 8-character token",
        "PROTOCOL.md §1.4: only the 8-character token [2,10) is sent in the activation body")
class TokenWholeFirst(EmulatedCamera):
    """Two token layouts tried in turn, the wrong one first: pairing still succeeds, one refusal later."""

    _whole_token = False

    def split_token(self, text: str) -> tuple[str, str, str]:
        region, token, secret = super().split_token(text)
        return (region, text, secret) if self._whole_token else (region, token, secret)

    def _fail_activation(self, reason: str, **details: Any) -> None:
        if self._whole_token:  # not a failure yet: the other layout is still to be tried
            self.record("activation-retry", reason=reason, **details)
            return
        super()._fail_activation(reason, **details)

    async def _activate(self, config: PairingConfig) -> Activation | None:
        self._whole_token = True
        try:
            first = await super()._activate(config)
        finally:
            self._whole_token = False
        return first if first is not None else await super()._activate(config)


@_fault("activates-without-token", "leaves the pairing token out of the activation body",
        "PROTOCOL.md §0 step 3 / §4.2: activation carries the 8-character token")
class ActivatesWithoutToken(EmulatedCamera):
    def activation_body(self, *, token: str, t: int) -> dict[str, Any]:
        body = super().activation_body(token=token, t=t)
        body.pop("token", None)
        return body


@_fault("forgets-dev-id-on-reset", "a normal reset also forgets the devId, so re-activation sends none",
        "PROTOCOL.md §6: a reset keeps <uuid>.devid and re-activation sends the same devId")
class ForgetsDevIdOnReset(EmulatedCamera):
    def keeps_dev_id_on_reset(self) -> bool:
        return False


# ------------------------------------------------------------------------------------------------ MQTT


@_fault("mqtt-password-wrong", "derives its MQTT password from the wrong MD5 slice (md5(secKey)[0:16])",
        "PROTOCOL.md §5: password = md5(secKey).hexdigest()[8:24]")
class MqttPasswordWrong(EmulatedCamera):
    def mqtt_credentials(self, dev_id: str, sec_key: str) -> tuple[str, str, str]:
        client_id, username, _ = super().mqtt_credentials(dev_id, sec_key)
        return client_id, username, hashlib.md5(sec_key.encode("utf-8")).hexdigest()[:16]


@_fault("never-reports-dps", "never publishes a DP report (protocol 4)",
        "PROTOCOL.md §5 / issue 6: its DP reports reach the cloud; commands are reported back")
class NeverReportsDps(EmulatedCamera):
    async def report_dps(self, dps: Mapping[str, Any]) -> None:
        return None


@_fault("reports-dps-only-on-command", "never reports its DPs by itself (not on connecting); answers commands only",
        "PROTOCOL.md §5: the device's DP reports reach the cloud")
class ReportsDpsOnlyOnCommand(EmulatedCamera):
    async def _after_online(self) -> None:
        self.record("online", dev_id=self.dev_id)  # the fault: no protocol-4 report of its state


@_fault("ignores-dp-commands", "drops DP commands (protocol 5) without applying or reporting them",
        "PROTOCOL.md §5: cloud DP commands reach the device and are reported back")
class IgnoresDpCommands(EmulatedCamera):
    async def on_dp_command(self, dps: Mapping[str, Any]) -> None:
        self.record("dp-command-ignored", dps=dict(dps))


@_fault("ignores-remote-unbind", "stays activated and online after an unbind (protocol 8)",
        "PROTOCOL.md §5/§6: after removal the device is told and un-activates")
class IgnoresRemoteUnbind(EmulatedCamera):
    async def on_unbind(self, message: mq.MqttMessage) -> None:
        self.record("unbind-ignored")


@_fault("ignores-remote-reset", "stays activated and online after a remote reset (protocol 11)",
        "PROTOCOL.md §5/§6: a remote reset un-activates (reset_factory also wipes)")
class IgnoresRemoteReset(EmulatedCamera):
    async def on_remote_reset(self, message: mq.MqttMessage) -> None:
        self.record("reset-ignored", factory=message.is_factory_reset)


@_fault("reconnect-never", "does not log in to MQTT again by itself after a power cycle or a lost link",
        "issue 6: after a power cycle it reconnects by itself")
class ReconnectNever(EmulatedCamera):
    def reconnects(self) -> bool:
        return False


@_fault("token-region-ignored", "activates at its one configured cloud whatever region the token names",
        "PROTOCOL.md §1.3/§1.4: the token's region picks the cloud; another region's token activates nothing here")
class TokenRegionIgnored(EmulatedCamera):
    def endpoint_for(self, region: str) -> CloudEndpoint | None:
        own = super().endpoint_for(region)
        if own is not None or isinstance(self.cloud, CloudEndpoint):
            return own
        return next(iter(self.cloud.values()), None)  # the fault: the first endpoint it knows, for any region


__all__ = ["CAMERA_FAULTS", "CameraFault", "LaxEzReceiver", "camera_class", "make_camera", "register_camera_fault"]
