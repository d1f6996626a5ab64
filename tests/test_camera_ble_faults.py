"""Each BLE fault of the camera (harness/emulator/camera/faults/ble.py) really changes what the camera does, seen
from an app-side session on the emulated radio (PROTOCOL.md §9.9, §9.10); the reference does none of it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from _camera_helpers import PASSWORD, SSID, Lab
from _camera_helpers import lab as camera_lab

from harness.adapters.contracts import Licence
from harness.adapters.emulated_ble import EmulatedBleCentral
from harness.app.ble import BleSession, credentials_for, find_device
from harness.emulator.camera.faults.ble import TuyaOpenReassembler
from harness.emulator.camera.states import State
from harness.emulator.radio import Radio
from harness.protocol.ble import (
    BleError,
    DeviceInfoRequest,
    Generation,
    NetworkStatusReport,
    OtherCommand,
    PairAnswer,
    PairRequest,
    ResetAnswer,
    ResetRequest,
    WifiConfigAnswerV2,
    WifiConfigV2,
    WifiCredentials,
    ble_id,
    split_packet,
)
from harness.protocol.ble.messages import Cmd
from harness.protocol.ble.security import is_compressed_uuid


class BleBench:
    """A camera with the faults asked for on its own radio, and sessions to it."""

    def __init__(self, lab: Lab, *faults: str, generation: str = "v2") -> None:
        self.lab = lab
        self.radio = Radio(clock=lab.clock)
        self.camera = lab.camera(faults=faults, pairing_modes=("qr", "ble"), radio=self.radio,
                                 ble_generation=generation)
        self.central = EmulatedBleCentral(self.radio)

    def session(self, generation: Generation | None = None) -> BleSession:
        cam = self.camera
        found = find_device(self.central, target=ble_id(cam.uuid), timeout=2.0)
        assert found is not None
        licence = Licence(uuid=cam.uuid, auth_key=cam.auth_key, pid=cam.pid)
        return BleSession(self.central, found, credentials_for(licence), generation=generation).open()

    def paired(self) -> BleSession:
        session = self.session()
        assert session.device_info() is not None
        assert session.pair() == PairAnswer(0)
        return session

    def json(self, **changes: object) -> bytes:
        members: dict[str, object] = {"ssid": SSID.decode(), "pwd": PASSWORD.decode(), "token": self.lab.token()}
        members.update(changes)
        return json.dumps({k: v for k, v in members.items() if v is not ...}, separators=(",", ":")).encode()


@pytest.fixture
def the_lab() -> Iterator[Lab]:
    with camera_lab() as lab:
        yield lab


def config_answer(session: BleSession, payload: bytes) -> WifiConfigAnswerV2 | None:
    session.send(WifiConfigV2(payload=payload))
    return session.wait_for(WifiConfigAnswerV2, timeout=1.0)


# ------------------------------------------------------------------------------------------ advertising


def test_the_reference_advertises_as_section_9_3_says(the_lab: Lab) -> None:
    cam = BleBench(the_lab).camera
    adv = cam.ble_advertisement(bound=False, wifi_up=False)
    assert adv.service.id_field == cam.pid.encode() and adv.manufacturer is not None
    assert bool(adv.manufacturer.flag & 1) == is_compressed_uuid(cam.uuid)
    assert cam.ble_advertising_mode(State.ONLINE) is None


@pytest.mark.parametrize(("wrong", "name"), [("pid", "ble-adv-pid-wrong"), ("flag", "ble-adv-flag-wrong")])
def test_a_wrong_advertisement(the_lab: Lab, wrong: str, name: str) -> None:
    cam = BleBench(the_lab, name).camera
    adv = cam.ble_advertisement(bound=False, wifi_up=False)
    assert adv.manufacturer is not None
    if wrong == "pid":
        assert adv.service.id_field == cam.uuid.encode()[:16]
    else:
        assert not adv.manufacturer.flag & 1 and is_compressed_uuid(cam.uuid)


def test_advertising_as_unbound_after_binding(the_lab: Lab) -> None:
    cam = BleBench(the_lab, "ble-advertises-unbound-after-binding").camera
    assert cam.ble_advertising_mode(State.ONLINE) == "unbound"


# ------------------------------------------------------------------------------------------ keys and pairing


def test_answering_the_other_generation(the_lab: Lab) -> None:
    bench = BleBench(the_lab, "ble-answers-other-generation")
    with bench.session(generation=Generation.V1) as session:
        assert session.device_info() is not None  # a V2 camera answered a V1 (mode 1) request


def test_the_register_field_carries_the_raw_authkey(the_lab: Lab) -> None:
    bench = BleBench(the_lab, "ble-register-key-raw-authkey")
    with bench.session() as session:
        info = session.device_info()
        assert info is not None and info.register_field == bench.camera.auth_key.encode()
        assert session.connection.register_key_ok is False


@pytest.mark.parametrize(("data", "name"), [(ble_id("pcwrongwrongwrongwr0") + bytes(28), "ble-pairs-any-id"),
                                            (b"\x01" * 8, "ble-pairs-short-id")])
def test_pairing_with_a_wrong_id(the_lab: Lab, data: bytes, name: str) -> None:
    with BleBench(the_lab, name).session() as session:
        assert session.device_info() is not None
        session.send(OtherCommand(Cmd.PAIR, data))
        assert session.wait_for(PairAnswer) == PairAnswer(0)


def test_the_reference_refuses_a_wrong_id_and_disconnects(the_lab: Lab) -> None:
    with BleBench(the_lab).session() as session:
        assert session.device_info() is not None
        session.send(OtherCommand(Cmd.PAIR, b"\x01" * 8))
        assert session.wait_for(PairAnswer) == PairAnswer(1)
        assert session.wait_for(PairAnswer) is None and session.disconnected == "pair-mismatch"


def test_ignoring_the_sequence(the_lab: Lab) -> None:
    with BleBench(the_lab, "ble-ignores-sequence").session() as session:
        assert session.device_info() is not None
        session.send(PairRequest(session.credentials.ble_id), sn=1)
        assert session.wait_for(PairAnswer) == PairAnswer(0)


# --------------------------------------------------------------------------------- unauthenticated provisioning


def test_accepting_unencrypted_frames(the_lab: Lab) -> None:
    with BleBench(the_lab, "ble-accepts-unencrypted").session() as session:
        assert session.device_info() is not None
        session.send(PairRequest(session.credentials.ble_id), mode=0)
        session.quiet(0.2)
        assert [d.reason.value for d in session.dropped] == ["mode"]  # answered, unencrypted
    with BleBench(the_lab).session() as session:  # the reference drops the mode-0 request
        session.send(DeviceInfoRequest(20), mode=0)
        assert session.quiet(0.2) == [] and session.dropped == []


def test_taking_a_configuration_before_pairing(the_lab: Lab) -> None:
    bench = BleBench(the_lab, "ble-config-before-pair")
    with bench.session() as session:
        assert session.device_info() is not None
        answer = config_answer(session, bench.json())
    assert answer is not None and answer.result == 0
    assert bench.camera.wait_for_event("config-received", 5).details["mode"] == "ble"


def test_a_reset_from_anyone(the_lab: Lab) -> None:
    bench = BleBench(the_lab, "ble-reset-from-anyone")
    with bench.session() as session:
        assert session.device_info() is not None
        session.send(ResetRequest(Cmd.UNBIND))
        assert session.wait_for(ResetAnswer) == ResetAnswer(Cmd.UNBIND, 1)
    bench.camera.wait_for_event("ble-reset-requested", 5)


def test_a_fixed_srand(the_lab: Lab) -> None:
    bench = BleBench(the_lab, "ble-fixed-srand")
    srands = []
    for _ in range(2):
        with bench.session() as session:
            info = session.device_info()
            assert info is not None
            srands.append(info.srand)
    assert srands == [bytes.fromhex("010203040506")] * 2


# ------------------------------------------------------------------------------------------- the Wi-Fi JSON


def test_a_missing_key_is_answered_as_accepted_and_not_used(the_lab: Lab) -> None:
    bench = BleBench(the_lab, "ble-missing-key-accepted")
    with bench.paired() as session:
        answer = config_answer(session, bench.json(ssid=...))
    assert answer is not None and answer.result == 0 and bench.camera.in_state(State.PAIRING)


def test_unparseable_json_goes_unanswered(the_lab: Lab) -> None:
    bench = BleBench(the_lab, "ble-unparseable-json-unanswered")
    with bench.paired() as session:
        assert config_answer(session, b'{"ssid":') is None
    with BleBench(the_lab).paired() as session:
        answer = config_answer(session, b'{"ssid":')
        assert answer is not None and answer.result == 0xF8


def test_a_password_truncated_to_32_bytes(the_lab: Lab) -> None:
    bench = BleBench(the_lab, "ble-password-truncated-32")
    cam = bench.camera
    config = cam.ble_pairing_config(WifiCredentials("net", "p" * 40, "AYabcdefgh1234"))
    assert config.password == b"p" * 32


def test_an_ssid_read_as_latin1(the_lab: Lab) -> None:
    cam = BleBench(the_lab, "ble-ssid-latin1").camera
    assert cam.ble_pairing_config(WifiCredentials("Ü", "password1", "AYabcdefgh1234")).ssid == "Ã\x9c".encode()


def test_a_token_region_ignored(the_lab: Lab) -> None:
    bench = BleBench(the_lab, "ble-token-region-ignored")
    with bench.paired() as session:
        answer = config_answer(session, bench.json(token="EU" + the_lab.token()[2:]))
    assert answer is not None and answer.result == 0
    the_lab.online(bench.camera)  # activated at its one cloud although the token names another region


# ------------------------------------------------------------------------------------------- crashes


@pytest.mark.parametrize(("case", "name"), [("long-ssid", "ble-crashes-on-long-ssid"),
                                            ("non-string", "ble-crashes-on-non-string-json"),
                                            ("empty", "ble-crashes-on-empty-request"),
                                            ("oversize", "ble-crashes-on-oversize-subpacket")])
def test_a_crash(the_lab: Lab, case: str, name: str) -> None:
    bench = BleBench(the_lab, name)
    session = bench.session()
    if case in ("long-ssid", "non-string"):
        assert session.device_info() is not None and session.pair() is not None
        session.send(WifiConfigV2(payload=bench.json(ssid="S" * 33 if case == "long-ssid" else 5)))
    elif case == "empty":
        session.send(OtherCommand(Cmd.DEVICE_INFO, b""))
    else:
        session.send(DeviceInfoRequest(20))
        session.wait_for(object)  # the answer: the device now holds 20-byte sub-packets
        session.send(PairRequest(session.credentials.ble_id))  # one write longer than 20 bytes
    assert bench.camera.wait_for_state(State.CRASHED, timeout=5) is State.CRASHED
    session.close()


# ------------------------------------------------------------------------------------------- sub-packets


def test_tuyaopens_receiver_appends_duplicates_and_resets_on_reordering() -> None:
    packet = bytes(range(60))
    writes = split_packet(packet, 20)
    assert len(writes) == 4
    corrupting = TuyaOpenReassembler(duplicates_corrupt=True)
    events = [e for w in [writes[0], writes[1], writes[1], writes[2]] for e in corrupting.receive(w)]
    assert len(events) == 1 and events[0].data != packet  # "complete" one write early, with bytes twice
    strict = TuyaOpenReassembler(duplicates_corrupt=False)
    assert [e.data for w in [writes[0], writes[1], writes[1], writes[2], writes[3]] for e in strict.receive(w)] == [
        packet]
    strict.receive(writes[0])
    with pytest.raises(BleError):
        strict.receive(writes[3])


@pytest.mark.parametrize(("receiver", "name"), [("appends duplicates", "ble-duplicate-subpacket-corrupts"),
                                                ("strict order", "ble-subpacket-strict-order")])
def test_the_tuyaopen_receivers_drop_a_reordered_packet(the_lab: Lab, receiver: str, name: str) -> None:
    with BleBench(the_lab, name).session() as session:
        writes = session.connection.request_device_info(write_size=20)
        session.write([writes[0], *reversed(writes[1:])])
        assert session.wait_for(object, timeout=0.5) is None


def test_no_network_status_after_pairing(the_lab: Lab) -> None:
    with BleBench(the_lab, "ble-no-network-status").paired() as session:
        assert session.wait_for(NetworkStatusReport, timeout=0.5) is None
    with BleBench(the_lab).paired() as session:
        assert session.wait_for(NetworkStatusReport) == NetworkStatusReport(0)
