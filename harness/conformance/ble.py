"""The BLE suite's vocabulary (PROTOCOL.md §9): find the device under test on the air, open sessions with it,
send it what a phone would (or what a phone must never get away with), and read what it answered.

:class:`BleLab` wraps the network's BLE central (the tests that need one are N/A without it: the contract's
:func:`~harness.adapters.ble_contracts.ble_central`), the device's licence (the app's credentials provider, §9.6.2)
and the test's :class:`~harness.conformance.lab.Lab` (tokens, homes, Wi-Fi, the activator).

"No answer" is decided with a *fence* rather than a wait: after the input that must go unanswered, the app sends a
request every device answers (a pair request with its own BLE ID once it has the keys, else a device-info request,
§9.1 steps 4-7); a device handles its writes in order, so whatever it sent before answering the fence is its
reaction to the input, and a device that sent nothing before it did not answer. A device that drops the link
instead has not answered either.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from harness.adapters.ble_contracts import BleCentral, BleLinkLost, ble_central
from harness.adapters.contracts import CloudAdapter, DeviceAdapter, NetworkAdapter
from harness.app.ble import BleOptions, BleSession, FoundDevice, credentials_for, scan_devices
from harness.conformance.lab import Lab
from harness.conformance.verdicts import DeviceFailure
from harness.profiles import Profile
from harness.protocol.ble import (
    DeviceInfoAnswer,
    EncryptionMode,
    Frame,
    Generation,
    MessageReceived,
    NetworkStatusReport,
    PacketDropped,
    PairAnswer,
    Reassembler,
    WifiConfigAnswerV1,
    WifiConfigAnswerV2,
    WifiConfigV1,
    WifiConfigV2,
    WifiCredentials,
    ble_id,
    seal,
    split_packet,
)
from harness.protocol.ble.messages import Cmd, Message
from harness.protocol.ble.security import key1, key11
from harness.protocol.errors import ProtocolError

#: How long the suite waits for an answer the device must give (real seconds): the emulated device answers at
#: once, TuyaOpen within its 20 ms notification gap (§9.11); a slow radio gets a margin.
RESPONSE_TIMEOUT_S = 3.0
SCAN_TIMEOUT_S = 10.0
#: §9.1 step 10: TuyaOpen's 3 s monitor timer drops BLE and advertising once the cloud is connected; plus a margin.
STOPS_ADVERTISING_S = 5.0
BIND_WAIT_S = 10.0
#: The receive size the malformed device-info request announces (§9.2: 20 is always safe).
RECEIVE_SIZE = 20


@dataclass(frozen=True)
class WifiAttempt:
    """A Wi-Fi configuration the suite sent: the token it carried and the home the token is for."""

    token: str
    home: str


class BleLab:
    """The device under test over BLE, for one test; see the module docstring."""

    def __init__(self, lab: Lab, device: DeviceAdapter, network: NetworkAdapter, cloud: CloudAdapter,
                 profile: Profile) -> None:
        self.central: BleCentral = ble_central(network)  # N/A (CapabilityMissing) without a usable radio
        self.lab = lab
        self.device = device
        self.cloud = cloud
        self.profile = profile
        self.generation = Generation(profile.capabilities.ble_generation or "v2")
        self.target = ble_id(device.licence.uuid)
        self.options = BleOptions(response_timeout_s=RESPONSE_TIMEOUT_S, scan_timeout_s=SCAN_TIMEOUT_S)
        self.sessions: list[BleSession] = []
        lab.redactor.add(device.licence.auth_key)

    # -- finding the device ---------------------------------------------------------------------------------

    def advertisements(self, *, timeout: float = 0.0,
                       until: Callable[[list[FoundDevice]], bool] | None = None) -> list[FoundDevice]:
        """This device's advertisements a scan sees now (or once ``until`` holds, within ``timeout`` s)."""
        def mine(found: list[FoundDevice]) -> list[FoundDevice]:
            return [f for f in found if f.ble_id == self.target]

        done = None if until is None else (lambda found: until(mine(found)))
        return mine(scan_devices(self.central, timeout=timeout, until=done))

    def find(self, *, timeout: float = SCAN_TIMEOUT_S) -> FoundDevice:
        """The device's unbound advertisement; a FAIL when it does not advertise as unbound in pairing mode."""
        found = [f for f in self.advertisements(timeout=timeout, until=lambda mine: any(not f.bound for f in mine))
                 if not f.bound]
        if not found:
            raise DeviceFailure(f"no unbound advertisement carrying the device's BLE ID within {timeout:g} s "
                                "of pairing mode", section="§9.3")
        self.lab.evidence.record("ble", "advertisement", {
            "address": found[0].scan.address, "generation": found[0].generation.value,
            "service_data": {k: v.hex() for k, v in found[0].scan.service_data.items()}})
        return found[0]

    # -- sessions ---------------------------------------------------------------------------------------------

    def session(self, *, generation: Generation | None = None, announce: int | None = None) -> BleSession:
        """A new connection to the device (open; close it, or use it in a ``with`` block)."""
        found = self.find()
        options = self.options if announce is None else BleOptions(
            response_timeout_s=RESPONSE_TIMEOUT_S, scan_timeout_s=SCAN_TIMEOUT_S, announce=announce)
        session = BleSession(self.central, found, credentials_for(self.device.licence), options=options,
                             generation=generation)
        self.sessions.append(session)
        return session.open()

    def record_sessions(self) -> None:
        """Put what each session heard in the test's evidence: message names, sn, mode, drops, the link's end
        (never a key or a payload)."""
        for number, session in enumerate(self.sessions, 1):
            heard = [f"{type(e.message).__name__} sn={e.sn} ack={e.ack_sn} mode={e.mode}"
                     if isinstance(e, MessageReceived) else f"dropped: {e.reason.value} ({e.detail})"
                     for e in session.events]
            self.lab.evidence.record("ble", f"session {number}", {
                "address": session.found.scan.address, "generation": session.generation.value,
                "heard": heard, "disconnected": session.disconnected})

    def device_info(self, session: BleSession) -> DeviceInfoAnswer:
        answer = session.device_info()
        if answer is None:
            raise DeviceFailure(f"no answer to the device-info request within {RESPONSE_TIMEOUT_S:g} s "
                                f"({self._link(session)})", section="§9.1 step 5")
        return answer

    def paired(self, session: BleSession) -> BleSession:
        """Device info and pair on ``session``; a FAIL when the device does not pair with its own BLE ID."""
        self.device_info(session)
        answer = session.pair()
        if answer is None or answer.result != 0:
            got = "no answer" if answer is None else f"0x{answer.result:02x}"
            raise DeviceFailure(f"the pair request with the device's own BLE ID was answered {got}, not 0x00 "
                                f"({self._link(session)})", section="§9.7.3")
        return session

    @staticmethod
    def _link(session: BleSession) -> str:
        return f"link dropped: {session.disconnected}" if session.disconnected else "link up"

    # -- Wi-Fi configurations ------------------------------------------------------------------------------------

    def attempt(self) -> WifiAttempt:
        """A token for a fresh home of the test's account (what a configuration carries)."""
        home = self.lab.home()
        return WifiAttempt(self.lab.activator().get_token(home), home)

    def credentials(self, attempt: WifiAttempt, *, ssid: str | None = None, password: str | None = None
                    ) -> WifiCredentials:
        wifi = self.lab.default_wifi if ssid is None else self.lab.wifi(ssid, password)
        return WifiCredentials(wifi.ssid, wifi.password, attempt.token)

    def raw_config(self, payload: bytes) -> WifiConfigV2 | WifiConfigV1:
        """The generation's Wi-Fi configuration message carrying exactly ``payload`` as its JSON (§9.7.5)."""
        return WifiConfigV2(payload=payload) if self.generation is Generation.V2 else WifiConfigV1(payload=payload)

    @staticmethod
    def wifi_answer(session: BleSession) -> WifiConfigAnswerV1 | WifiConfigAnswerV2 | None:
        return session.wait_for((WifiConfigAnswerV2, WifiConfigAnswerV1))

    def activated(self, attempt: WifiAttempt) -> bool:
        """Whether the cloud saw the device activate with the attempt's token."""
        return any(a.outcome == "activated" for a in self.cloud.token_attempts(attempt.token))

    def bound_in(self, home: str, *, timeout: float = BIND_WAIT_S) -> bool:
        """Whether the device is listed in ``home`` within ``timeout`` s (polled)."""
        deadline = time.monotonic() + timeout
        while True:
            if any(d.uuid == self.device.licence.uuid for d in self.cloud.list_devices(home)):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def device_info_with_length(self, session: BleSession, *, declared: int) -> list[bytes]:
        """A device-info request whose frame says ``declared`` data bytes while carrying 2 (§9.10 lead 6), sealed
        in the generation's device-info mode, as the session's writes."""
        conn = session.connection
        frame = bytearray(Frame(sn=conn.next_sn, ack_sn=0, cmd=Cmd.DEVICE_INFO,
                                data=RECEIVE_SIZE.to_bytes(2, "big")).encode())
        frame[10:12] = declared.to_bytes(2, "big")
        iv = os.urandom(16)
        auth_key = self.device.licence.auth_key.encode("ascii")
        if self.generation is Generation.V2:
            key, mode = key11(auth_key, self.target, iv), EncryptionMode.KEY11
        else:
            key, mode = key1(auth_key, iv), EncryptionMode.KEY1
        return split_packet(seal(bytes(frame), mode=mode, key=key, iv=iv), conn.write_size)

    # -- "no answer" ---------------------------------------------------------------------------------------------

    def answers_before_fence(self, session: BleSession) -> list[str]:
        """What the device sent in reaction to the last input, up to its answer to a fence (the module
        docstring): message names, and ``dropped:<reason>`` for packets the app could not open. The fence is a
        pair request once the session has its keys (so that nothing in flight loses its key), else a device-info
        request; its answer is the one whose ack_sn is the fence's sn (§9.5). The unsolicited 0x001E report is not
        an answer. When the link drops instead, what came before the drop."""
        mark = len(session.events)
        conn = session.connection
        fence_sn, kind = conn.next_sn, PairAnswer if conn.session_key is not None else DeviceInfoAnswer
        if session.disconnected is None:
            with contextlib.suppress(BleLinkLost):
                session.write(conn.request_pair() if kind is PairAnswer else conn.request_device_info())
                while not self._fence_answered(session, mark, kind, fence_sn):
                    if session.wait_for(kind) is None:
                        break
        session.drain()  # what arrived before a dropped link
        answers: list[str] = []
        for event in session.events[mark:]:
            if isinstance(event, PacketDropped):
                answers.append(f"dropped:{event.reason.value}")
            elif isinstance(event.message, kind) and event.ack_sn == fence_sn:
                break  # the fence's answer: what follows is not a reaction to the input
            elif not isinstance(event.message, NetworkStatusReport):
                answers.append(type(event.message).__name__)
        return answers

    @staticmethod
    def _fence_answered(session: BleSession, mark: int, kind: type, fence_sn: int) -> bool:
        return any(isinstance(e, MessageReceived) and isinstance(e.message, kind) and e.ack_sn == fence_sn
                   for e in session.events[mark:])


def envelope_ivs(packets: list[bytes]) -> list[bytes]:
    """The IVs of the device's encrypted packets (§9.6.1), from the raw notifications a session received."""
    from harness.protocol.ble import Envelope
    from harness.protocol.ble.transport import ReassembledPacket

    reassembler = Reassembler()
    ivs: list[bytes] = []
    for data in packets:
        try:
            events = reassembler.receive(data)
        except ProtocolError:
            continue
        for event in events:
            if isinstance(event, ReassembledPacket):
                try:
                    envelope = Envelope.parse(event.data)
                except ProtocolError:
                    continue
                if envelope.iv is not None:
                    ivs.append(envelope.iv)
    return ivs


def message_names(messages: list[Message]) -> list[str]:
    return [type(m).__name__ for m in messages]


__all__ = ["BIND_WAIT_S", "RESPONSE_TIMEOUT_S", "SCAN_TIMEOUT_S", "STOPS_ADVERTISING_S", "BleLab", "WifiAttempt",
           "envelope_ivs", "message_names"]
