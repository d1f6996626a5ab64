"""Camera faults of EZ (SmartConfig) decoding, each a receiver with its own flaw (PROTOCOL.md §2)."""

from __future__ import annotations

from itertools import chain

from harness.emulator.camera.firmware import EmulatedCamera
from harness.emulator.camera.pairing import EzReceiver, PairingConfig
from harness.protocol.errors import ProtocolError
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
from harness.protocol.smartconfig.multicast import MulticastDecoder

from .registry import builtin as _fault


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


class _CrcBlindMulticast(MulticastDecoder):
    """The §2.4 decoder without its section check: the first candidate pairs make the section."""

    def _check_section(self, name: str, length: int, size: int, combo: list[tuple[int, int]]) -> bytes | None:
        plain = bytes(chain.from_iterable(combo))[4:4 + size]
        return (self._decrypt(plain) if name == "password" else plain)[:length]


class _MulticastCrcBlindReceiver(SmartConfigReceiver):
    def __init__(self) -> None:
        super().__init__()
        self._multicast = _CrcBlindMulticast()


@_fault("ez-multicast-crc-unchecked", "takes EZ multicast sections without checking their CRC-32 (the first "
        "addresses heard make the SSID, password and token)",
        "PROTOCOL.md §2.4: a section whose CRC-32 of the plaintext fails is ignored")
class EzMulticastCrcUnchecked(EmulatedCamera):
    def make_ez_receiver(self) -> EzReceiver | SmartConfigReceiver:
        return _MulticastCrcBlindReceiver()


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

    def __init__(self) -> None:
        super().__init__()
        self._too_long = False

    def feed_length(self, length: int) -> None:
        if 16 <= length < 32:
            self._too_long = (length & 0xF) << 4 >= EZ_BROADCAST_BUFFER
        if 16 <= length < 80 and self._too_long:
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


class RoundAtATimeEzReceiver:
    """A broadcast decoder that starts over at every round's header, keeping nothing a round delivered into the
    next: only a round that arrives whole decodes (the multicast channel is decoded as usual)."""

    def __init__(self) -> None:
        self._broadcast = SmartConfigReceiver()
        self._multicast = SmartConfigReceiver()
        self._in_header = False

    @property
    def result(self) -> EzCredentials | None:
        return self._broadcast.result or self._multicast.result

    def feed_length(self, length: int) -> None:
        header = 16 <= length < 80  # §2.3 step 3: the header that opens every round
        if header and not self._in_header and self._broadcast.result is None:
            self._broadcast = SmartConfigReceiver()
        self._in_header = header or (self._in_header and not 128 <= length < 512)
        self._broadcast.feed_length(length)

    def feed_address(self, address: str) -> None:
        self._multicast.feed_address(address)


@_fault("ez-round-at-a-time", "decodes the EZ broadcast channel one round at a time, forgetting at every header "
        "what the round before delivered: over a lossy air, where hardly a round arrives whole, it never pairs "
        "from the broadcast channel alone", "PROTOCOL.md §2.5: the device pairs over a lossy, noisy air as the app "
        "repeats its rounds")
class EzRoundAtATime(EmulatedCamera):
    def make_ez_receiver(self) -> EzReceiver | SmartConfigReceiver:
        return RoundAtATimeEzReceiver()


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
