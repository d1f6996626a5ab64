"""What the app-side and device-side BLE connections share: events, the receive pipeline and the send path.

h11 in shape: the caller owns the radio. It feeds each GATT write or notification it received to
``receive_data(bytes)``, drains ``next_event()`` until None, and puts on the air what ``send(...)`` returns (app)
or ``data_to_send()`` holds (device). Nothing here draws randomness or reads a clock: IVs come from an
``iv_source`` callable the caller supplies, ``srand`` and times are parameters.

Receive pipeline (§9.4 -> §9.6.1 -> §9.5 -> §9.7), each step a drop reason when it fails:
reassembly, version nibble, envelope, mode allowed, key known, decrypt + frame (length, CRC), mode fits the
command, sequence number, message layout. Remote garbage never raises: it becomes a :class:`PacketDropped`
(or, where §9.9 says so, a :class:`DisconnectRequested`). Only misuse by the caller raises (LocalProtocolError).
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import LocalProtocolError
from .errors import BleError, BleFault
from .frame import Frame
from .messages import Message, WifiCredentials, to_frame
from .security import IV_LEN, EncryptionMode, Envelope, Generation, Padding, seal
from .transport import (
    DEFAULT_MAX_PACKET_LEN,
    DEFAULT_VERSION,
    PacketAbandoned,
    ReassembledPacket,
    Reassembler,
    split_packet,
)


class DropReason(enum.StrEnum):
    """Why a received packet led nowhere (§9.9 "dropped"); the first values mirror :class:`BleFault`."""

    SUB_PACKET = "sub-packet"
    REASSEMBLY = "reassembly"
    TOO_LONG = "too-long"
    ABANDONED = "abandoned"  # a later packet began before this one was complete: a sub-packet was lost
    VERSION = "version"  # transport version nibble refused (§9.9: below 2)
    ENVELOPE = "envelope"
    MODE = "mode"  # an encryption mode this side does not accept here (§9.6.4)
    NO_KEY = "no-key"  # the mode's key is not known yet (e.g. mode 12 before device info)
    LENGTH = "length"
    CRC = "crc"  # CRC mismatch, or decryption with the wrong key (§9.9: both dropped)
    SEQUENCE = "sequence"  # sn not strictly increasing (the app's finding; the device disconnects instead)
    PAYLOAD = "payload"  # the command's data does not have its §9.7 layout


class DisconnectReason(enum.StrEnum):
    """Why the device wants the link closed (§9.9)."""

    SEQUENCE = "sequence"  # sn ≤ last received sn (TuyaOpen, BSDK)
    PAIR_MISMATCH = "pair-mismatch"  # pair answer 0x01 (TuyaOpen, BSDK)
    PAIR_TIMEOUT = "pair-timeout"  # no successful pair within 30 s of connect (TuyaOpen)
    DEVICE_INFO_LENGTH = "device-info-length"  # 4.x device-info request with len ≠ 2 (BSDK)
    RESET = "reset"  # after answering unbind / device reset (§9.7.0)


_DROP_VALUES = {reason.value for reason in DropReason}
_FAULT_TO_DROP = {fault: DropReason(fault.value) for fault in BleFault if fault.value in _DROP_VALUES}


def drop_reason(error: BleError) -> DropReason:
    """The drop reason of a decoder's refusal."""
    return _FAULT_TO_DROP.get(error.reason, DropReason.PAYLOAD)


# --------------------------------------------------------------------------------------------------
# events


@dataclass(frozen=True)
class MessageReceived:
    """A frame passed every check and carried ``message``."""

    message: Message
    sn: int
    ack_sn: int
    mode: int


@dataclass(frozen=True)
class MessageSent:
    """The device queued ``message`` in ``data_to_send()`` (an answer or an unsolicited report)."""

    message: Message
    sn: int
    ack_sn: int
    mode: int


@dataclass(frozen=True)
class PacketDropped:
    """A received packet was dropped, silently as far as the peer can tell (§9.9)."""

    reason: DropReason
    detail: str


@dataclass(frozen=True)
class MessageIgnored:
    """A valid message the device does not act on and does not answer (§9.9: unknown command or
    sub-command; the reference also ignores configuration before pairing and unbind while unpaired)."""

    message: Message
    reason: str


@dataclass(frozen=True)
class Paired:
    """The device answered the pair request with 0x00 (§9.7.3)."""

    ble_id: bytes


@dataclass(frozen=True)
class WifiConfigured:
    """The device accepted Wi-Fi credentials: it now joins Wi-Fi and activates (§9.1 step 9, §9.8)."""

    credentials: WifiCredentials


@dataclass(frozen=True)
class WifiConfigRefused:
    """The device answered the Wi-Fi configuration with a refusal code (§9.7.5: 0xF8, 0xF7)."""

    result: int
    detail: str


@dataclass(frozen=True)
class ResetRequested:
    """A paired app asked for unbind (0x0005) or device reset (0x0006); the device answered and resets."""

    cmd: int


@dataclass(frozen=True)
class DisconnectRequested:
    """The device wants the link closed (§9.9); any answer queued before it is still to be sent."""

    reason: DisconnectReason
    detail: str


Event = (MessageReceived | MessageSent | PacketDropped | MessageIgnored | Paired | WifiConfigured
         | WifiConfigRefused | ResetRequested | DisconnectRequested)

IvSource = Callable[[], bytes]


# --------------------------------------------------------------------------------------------------
# the shared connection


@dataclass(frozen=True)
class Opened:
    """A received frame that passed the checks up to the message layout, with what carried it."""

    frame: Frame
    mode: int
    iv: bytes | None
    key: bytes | None


class BleConnection:
    """The pipeline both sides share; :class:`BleAppConnection` and :class:`BleDeviceConnection` add roles."""

    def __init__(self, *, generation: Generation, iv_source: IvSource, padding: Padding, write_size: int,
                 version: int = DEFAULT_VERSION, max_packet_len: int = DEFAULT_MAX_PACKET_LEN) -> None:
        if not isinstance(generation, Generation):
            raise LocalProtocolError(f"generation must be a Generation, got {generation!r}")
        if not callable(iv_source):
            raise LocalProtocolError("iv_source must be a callable returning 16 bytes")
        if padding not in tuple(Padding):
            raise LocalProtocolError(f"padding must be one of {[p.value for p in Padding]}, got {padding!r}")
        self.generation = generation
        self.padding = Padding(padding)
        self.version = version
        self.write_size = write_size
        self._iv_source = iv_source
        self._reassembler = self.make_reassembler(max_packet_len)
        self._events: deque[Event] = deque()
        self._next_sn = 1  # §9.5: TuyaOpen sets send_sn = 1 on connect
        self.last_received_sn = 0  # §9.5: and recv_sn = 0
        self._seq = 0
        self.closed = False

    # ---- caller API

    def receive_data(self, data: bytes) -> None:
        """Take one received GATT write (device) or notification (app). Ignored once the link is closed."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise LocalProtocolError(f"receive_data takes bytes, not {type(data).__name__}")
        if self.closed:
            return
        try:
            results = self._reassembler.receive(bytes(data))
        except BleError as exc:
            self._emit(PacketDropped(drop_reason(exc), exc.message))
            return
        for result in results:
            if self._link_closed():  # a packet's reaction may close the link (§9.9 disconnect)
                return
            if isinstance(result, PacketAbandoned):
                self._emit(PacketDropped(DropReason.ABANDONED, f"packet of {result.total_len} bytes lost "
                                         f"sub-packet(s) {list(result.missing)}"))
            else:
                self._packet(result)

    def _link_closed(self) -> bool:
        return self.closed

    def next_event(self) -> Event | None:
        """The next event, or None when there is none."""
        return self._events.popleft() if self._events else None

    def events(self) -> list[Event]:
        """Drain every pending event."""
        drained = list(self._events)
        self._events.clear()
        return drained

    def connection_lost(self) -> None:
        """The link went down: nothing more is received, the reassembly is forgotten."""
        self.closed = True
        self._reassembler.reset()

    @property
    def next_sn(self) -> int:
        """The sn the next frame this side sends will carry."""
        return self._next_sn

    # ---- decision points a fault subclass may override

    def make_reassembler(self, max_packet_len: int) -> Reassembler:
        """The §9.4 receiver; a fault may return one that corrupts duplicates as TuyaOpen does (§9.10 lead 2)."""
        return Reassembler(max_packet_len=max_packet_len)

    def accept_transport_version(self, version: int) -> bool:
        """§9.9: TuyaOpen and BSDK drop a packet whose version nibble is below 2."""
        return version >= 2

    def key_for(self, envelope: Envelope) -> bytes | None:
        """The key to decrypt ``envelope`` with, None when it is not known yet. Raise a ``MODE`` BleError when
        this side never accepts the mode (the reference never accepts mode 0, §9.10 lead 1)."""
        raise NotImplementedError

    def mode_fits(self, mode: int, cmd: int) -> bool:
        """Whether ``cmd`` may arrive in ``mode`` (§9.6.4)."""
        raise NotImplementedError

    def accept_sn(self, sn: int) -> bool:
        """§9.5: every received frame's sn must be strictly greater than the last one."""
        return sn > self.last_received_sn

    # ---- pipeline

    def _emit(self, event: Event) -> None:
        self._events.append(event)

    def _drop(self, reason: DropReason, detail: str) -> None:
        self._emit(PacketDropped(reason, detail))

    def _open(self, packet: ReassembledPacket) -> Opened | None:
        """Reassembled packet -> checked frame, or None after a drop event."""
        if not self.accept_transport_version(packet.version):
            self._drop(DropReason.VERSION, f"transport version {packet.version} refused")
            return None
        try:
            envelope = Envelope.parse(packet.data)
            key = self.key_for(envelope)
            if key is None and envelope.mode != EncryptionMode.NONE:
                self._drop(DropReason.NO_KEY, f"no key yet for mode {envelope.mode}")
                return None
            frame = Frame.parse(envelope.decrypt(key))
        except BleError as exc:
            self._drop(drop_reason(exc), exc.message)
            return None
        if not self.mode_fits(envelope.mode, frame.cmd):
            self._drop(DropReason.MODE, f"cmd 0x{frame.cmd:04x} may not arrive in mode {envelope.mode}")
            return None
        return Opened(frame=frame, mode=envelope.mode, iv=envelope.iv, key=key)

    def _packet(self, packet: ReassembledPacket) -> None:
        raise NotImplementedError

    # ---- send path

    def _take_iv(self, iv: bytes | None) -> bytes:
        value = self._iv_source() if iv is None else iv
        if not isinstance(value, bytes) or len(value) != IV_LEN:
            raise LocalProtocolError(f"an IV is {IV_LEN} bytes")
        return value

    def _seal_frame(self, message: Message, *, mode: int, key: bytes | None, iv: bytes | None, ack_sn: int,
                    sn: int | None = None, padding: Padding | None = None, crc: int | None = None) -> bytes:
        """Frame ``message`` with the next sn (or ``sn``) and seal it; return the encrypted packet."""
        frame = to_frame(message, sn=self._next_sn if sn is None else sn, ack_sn=ack_sn)
        self._next_sn = frame.sn + 1
        return seal(frame.encode(crc=crc), mode=mode, key=key, iv=iv, padding=padding or self.padding)

    def _split(self, packet: bytes, write_size: int | None = None, seq: int | None = None) -> list[bytes]:
        """§9.4: cut the packet for the write size; the seq nibble counts packets, wrapping at 16 (receivers
        ignore it; TuyaOpen's counter sticks at 0 after 16, which no receiver can tell)."""
        writes = split_packet(packet, self.write_size if write_size is None else write_size, version=self.version,
                              seq=self._seq if seq is None else seq)
        self._seq = (self._seq + 1) % 16
        return writes


__all__ = [
    "BleConnection", "DisconnectReason", "DisconnectRequested", "DropReason", "Event", "IvSource", "MessageIgnored",
    "MessageReceived", "MessageSent", "Opened", "PacketDropped", "Paired", "ResetRequested", "WifiConfigRefused",
    "WifiConfigured", "drop_reason",
]
