"""Camera faults of the QR path: decoding the image and parsing its payload (PROTOCOL.md §1)."""

from __future__ import annotations

import asyncio
import json
import re

from PIL import Image

from harness.emulator.camera.firmware import EmulatedCamera, QrScan
from harness.emulator.camera.pairing import PairingChannel, PairingConfig
from harness.emulator.camera.states import State
from harness.protocol.errors import ProtocolError, RemoteProtocolError
from harness.qrimage import decode_qr

from .registry import builtin as _fault


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


@_fault("qr-joins-without-token", "takes a QR payload without a token t all the same: joins the Wi-Fi network in "
        "it, then has nothing to activate with (the app's network sees a device it was never told to pair)",
        "PROTOCOL.md §1.1: s, p and t are all required; a payload without t is refused, nothing taken from it")
class QrJoinsWithoutToken(EmulatedCamera):
    def parse_qr_payload(self, data: bytes) -> PairingConfig:
        try:
            return super().parse_qr_payload(data)
        except ProtocolError as refused:
            try:
                members = json.loads(data)
            except ValueError:
                members = None
            if not (isinstance(members, dict) and "t" not in members and isinstance(members.get("s"), str)
                    and isinstance(members.get("p"), str)):
                raise refused from None
            return PairingConfig("qr", members["s"].encode("utf-8"), members["p"].encode("utf-8"), "")


@_fault("qr-duplicate-member-last-wins", "reads the QR payload with a lenient JSON parser that keeps the last of "
        "duplicated members: a payload with two s members sends it to the second network",
        "PROTOCOL.md §1.2: the payload is one strict JSON object; a duplicated member is refused")
class QrDuplicateMemberLastWins(EmulatedCamera):
    def parse_qr_payload(self, data: bytes) -> PairingConfig:
        try:
            return super().parse_qr_payload(data)
        except ProtocolError as refused:
            try:
                pairs = json.loads(data, object_pairs_hook=lambda p: p)
            except ValueError:
                raise refused from None
            names = [name for name, _ in pairs] if isinstance(pairs, list) else []
            if len(names) == len(set(names)):
                raise refused from None
            members = dict(pairs)
            if not all(isinstance(members.get(k), str) for k in "spt"):
                raise refused from None
            return PairingConfig("qr", members["s"].encode("utf-8"), members["p"].encode("utf-8"), members["t"])


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


@_fault("qr-scan-hangs-on-astral", "its QR scanner never finishes a code whose payload holds a character outside "
        "the Basic Multilingual Plane (4 UTF-8 bytes: an emoji), neither capturing nor refusing it",
        "PROTOCOL.md §1.2: the payload is UTF-8, any character; a device in pairing mode takes the code it is shown")
class QrScanHangsOnAstral(EmulatedCamera):
    """The decoder's UTF-8 loop never advances past a 4-byte sequence: the scan is stuck until the next reset."""

    async def present_qr_async(self, image: Image.Image) -> QrScan:
        found = await self.device_loop.loop.run_in_executor(None, self.decode_qr_image, image)
        if found and any(byte >= 0xF0 for byte in found[0]) and self.in_state(State.PAIRING):
            self.record("qr-scan-stuck")
            await asyncio.Event().wait()  # cancelled when the one holding the code gives up
        return await super().present_qr_async(image)
