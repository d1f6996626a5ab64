"""BLE (Bluetooth) pairing: a BLE+Wi-Fi combo device advertises while unbound, pairs with an app that knows its BLE
ID, takes the Wi-Fi configuration only from that app and only encrypted, answers bad input as §9.9 says without
dying, and stops advertising as unbound once it is on the cloud (seed "device-pairing-qr-mode": "On first boot the
device pairs (Bluetooth or Wi-Fi AP) and activates"; PROTOCOL.md §9)."""

from __future__ import annotations

import contextlib
import json
import string
from collections.abc import Callable, Iterator

import pytest

from harness.adapters.ble_contracts import BleLinkLost
from harness.adapters.contracts import CloudAdapter, DeviceAdapter, NetworkAdapter
from harness.app.ble import BleSession
from harness.conformance.ble import STOPS_ADVERTISING_S, BleLab, envelope_ivs
from harness.conformance.lab import Lab
from harness.profiles import Profile
from harness.protocol.ble import (
    AdvertisementV4,
    DeviceInfoAnswer,
    DeviceInfoRequest,
    Generation,
    NetStatus,
    NetworkStatusReport,
    OtherCommand,
    PairAnswer,
    PairRequest,
    PairResult,
    ResetRequest,
    ble_id,
)
from harness.protocol.ble.advertisement import FLAG_BOUND, FLAG_ID_COMPRESSED, ID_TYPE_PID
from harness.protocol.ble.messages import Cmd
from harness.protocol.ble.security import is_compressed_uuid
from harness.protocol.token import KNOWN_REGIONS

FOREIGN_TOKEN_TIMEOUT_S = 15.0  # world-clock seconds the app waits for a token that must activate nothing


@pytest.fixture
def ble(lab: Lab, device: DeviceAdapter, network: NetworkAdapter, cloud: CloudAdapter,
        profile: Profile) -> Iterator[BleLab]:
    """The device under test over BLE, in pairing mode (N/A without a usable BLE radio); what each session heard
    goes in the evidence."""
    ble_lab = BleLab(lab, device, network, cloud, profile)
    yield ble_lab
    ble_lab.record_sessions()


def other_generation(generation: Generation) -> Generation:
    return Generation.V1 if generation is Generation.V2 else Generation.V2


def accepted(answers: list[str]) -> bool:
    return any(answer.startswith("WifiConfigAnswer") for answer in answers)


def configure(ble: BleLab, session: BleSession, payload: bytes, **options: object) -> int | None:
    """Send ``payload`` as the Wi-Fi JSON; the device's result byte, or None when it did not answer."""
    session.send(ble.raw_config(payload), **options)
    answer = ble.wifi_answer(session)
    return None if answer is None else answer.result


@pytest.mark.tc("TC-BLE-001", reqs=["REQ-BLE-001"])
@pytest.mark.requires("mode:ble")
def test_the_device_advertises_its_pid_and_encrypted_ble_id_as_unbound(ble: BleLab, device: DeviceAdapter) -> None:
    """PROTOCOL.md §9.3.1, §9.6.6: 0xFD50 service data with the frame control of its generation (bound bit clear),
    ID type 0 and the PID; the scan response's encrypted ID decrypts to the BLE ID of its licence, and its flag
    says whether that ID is compressed."""
    found = ble.find()
    advertisement = found.advertisement
    assert isinstance(advertisement, AdvertisementV4), "the device advertises the v3 (0xA201) format, not v4 on 0xFD50"
    service = advertisement.service
    assert service.version == 4, f"frame control 0x{service.frame_control:04x} is not version 4"
    assert found.generation is ble.generation, (
        f"frame control 0x{service.frame_control:04x} announces {found.generation.value}, the profile claims "
        f"{ble.generation.value}")
    assert (service.id_type, service.id_field) == (ID_TYPE_PID, device.pid.encode("ascii")), (
        f"the advertised ID is type {service.id_type} {service.id_field!r}, not the PID {device.pid!r}")
    assert advertisement.manufacturer is not None, "no scan response with the encrypted BLE ID"
    flag = advertisement.manufacturer.flag
    compressed = is_compressed_uuid(device.licence.uuid)
    assert bool(flag & FLAG_ID_COMPRESSED) == compressed, (
        f"scan-response flag 0x{flag:02x} says the ID is {'' if flag & 1 else 'not '}compressed; the "
        f"{len(device.licence.uuid)}-character UUID's ID is {'' if compressed else 'not '}compressed")
    assert not flag & FLAG_BOUND, f"scan-response flag 0x{flag:02x} says bound in pairing mode"


@pytest.mark.tc("TC-BLE-002", reqs=["REQ-BLE-002"])
@pytest.mark.requires("mode:ble")
def test_the_device_speaks_the_generation_it_advertises(ble: BleLab, lab: Lab) -> None:
    """PROTOCOL.md §9.0, §9.6.2-§9.6.3: the other generation's device-info request is dropped unanswered; the
    advertised generation's is answered with the register key of rand16; the app pairs in it into the token's
    home."""
    other = other_generation(ble.generation)
    with ble.session(generation=other) as session:
        session.write(session.connection.request_device_info())
        session.switch_generation(ble.generation)
        answers = ble.answers_before_fence(session)
        assert not answers, f"the {ble.generation.value} device answered a {other.value} device-info request: {answers}"
        info = ble.device_info(session)
        assert session.connection.register_key_ok, "the device-info answer's register key is not " \
                                                   "AES-ECB(authKey[0:16], rand16)"
        assert info.bound == 0, "the device-info answer says bound in pairing mode"
    outcome = lab.pair("ble")
    assert outcome.ok, f"pairing over BLE in {ble.generation.value} failed: {outcome.error}"


WRONG_IDS = {  # the pair request's data: another device's ID and the 28-byte tail, or 8 bytes of its own ID only
    "wrong-id": lambda own: ble_id("pcwrongwrongwrongwr0") + bytes(28),
    "short-id": lambda own: own[:8],
}


@pytest.mark.tc("TC-BLE-003", reqs=["REQ-BLE-003"])
@pytest.mark.requires("mode:ble")
@pytest.mark.parametrize("case", sorted(WRONG_IDS))
def test_a_pair_request_with_a_wrong_ble_id_is_refused(ble: BleLab, case: str) -> None:
    """PROTOCOL.md §9.7.3, §9.9: answer 0x01; TuyaOpen then disconnects, and a device that does not must still
    refuse the Wi-Fi configuration on that connection."""
    attempt = ble.attempt()
    with ble.session() as session:
        ble.device_info(session)
        session.send(OtherCommand(Cmd.PAIR, WRONG_IDS[case](ble.target)))
        answer = session.wait_for(PairAnswer)
        got = "no answer" if answer is None else f"0x{answer.result:02x}"
        assert answer is not None and answer.result == PairResult.ID_MISMATCH, f"{case}: the pair request was " \
                                                                               f"answered {got}, not 0x01"
        with contextlib.suppress(BleLinkLost):  # TuyaOpen drops the link after 0x01: nothing more to send
            if session.disconnected is None:
                result = configure(ble, session, ble.credentials(attempt).to_json())
                assert result != 0, f"{case}: the Wi-Fi configuration was accepted after the pair was refused"
    assert not ble.activated(attempt), f"{case}: the device activated after a refused pair"


UNPARSEABLE = {"truncated": b'{"ssid":"lab-net","pwd":"x', "not-json": b"ssid=lab-net;pwd=x",
               "invalid-utf8": b"\xff\xfe{}"}
MISSING = ("ssid", "pwd", "token")


def json_case(case: str, payload: bytes) -> tuple[bytes, int]:
    """The JSON of ``case`` and the answer §9.7.5 gives it (0x00, 0xF8 unparseable, 0xF7 missing key)."""
    if case == "good":
        return payload, 0x00
    if case in UNPARSEABLE:
        return UNPARSEABLE[case], 0xF8
    key = case.removeprefix("missing-")
    members = {k: v for k, v in json.loads(payload).items() if k != key}
    return json.dumps(members, separators=(",", ":")).encode("utf-8"), 0xF7


@pytest.mark.tc("TC-BLE-004", reqs=["REQ-BLE-004"])
@pytest.mark.requires("mode:ble")
@pytest.mark.parametrize("case", ["good", *sorted(UNPARSEABLE), *(f"missing-{k}" for k in MISSING)])
def test_the_device_answers_each_wifi_configuration_as_section_9_7_5_says(ble: BleLab, lab: Lab, case: str) -> None:
    """PROTOCOL.md §9.7.5, §9.9: 0x00 for good JSON (and the device pairs into the token's home), 0xF8 for JSON that
    does not parse, 0xF7 for JSON without ssid, pwd or token; after a refusal it still pairs."""
    attempt = ble.attempt()
    payload, expected = json_case(case, ble.credentials(attempt).to_json())
    with ble.session() as session:
        ble.paired(session)
        result = configure(ble, session, payload)
    got = "no answer" if result is None else f"0x{result:02x}"
    assert result == expected, f"{case}: the configuration was answered {got}, not 0x{expected:02x}"
    if expected == 0x00:
        assert ble.bound_in(attempt.home), "accepted, but the device is not in the token's home"
        return
    assert not ble.activated(attempt), f"{case}: the device activated with a refused configuration"
    outcome = lab.pair("ble")
    assert outcome.ok, f"after {case} the device no longer pairs: {outcome.error}"


@pytest.mark.tc("TC-BLE-005", reqs=["REQ-BLE-005"])
@pytest.mark.requires("mode:ble")
def test_the_ble_token_is_split_2_8_4(ble: BleLab, lab: Lab, profile: Profile,
                                      release: Callable[[], None]) -> None:
    """PROTOCOL.md §9.7.5, §9.8, §1.4: the 14-character token activates with its middle 8 characters in the home it
    was issued for; with the first two naming a region the cloud does not serve, nothing activates."""
    attempt = ble.attempt()
    outcome = lab.pair("ble", token=attempt.token)
    assert outcome.ok, f"pairing over BLE failed: {outcome.error}"
    assert ble.activated(attempt) and ble.bound_in(attempt.home), "the activation did not use the token's 8 " \
                                                                  "middle characters in the token's home"
    release()
    foreign_region = sorted(set(KNOWN_REGIONS) - {profile.parameters.region})[0]
    second = ble.attempt()
    foreign = foreign_region + second.token[2:]
    outcome = lab.pair("ble", token=foreign, timeout=FOREIGN_TOKEN_TIMEOUT_S)
    assert not outcome.ok and not ble.activated(second), (
        f"a token naming region {foreign_region} activated at the {profile.parameters.region} cloud: the region "
        f"part was not used to pick the endpoint")


@pytest.mark.tc("TC-BLE-006", reqs=["REQ-BLE-006"])
@pytest.mark.requires("mode:ble")
def test_no_wifi_configuration_is_taken_before_pairing(ble: BleLab, lab: Lab) -> None:
    """PROTOCOL.md §9.1, §9.10 lead 1: a configuration right after device info, without a pair, is neither accepted
    nor used; a proper pairing afterwards works."""
    attempt = ble.attempt()
    with ble.session() as session:
        ble.device_info(session)
        session.send(ble.raw_config(ble.credentials(attempt).to_json()))
        answers = ble.answers_before_fence(session)
    assert not accepted(answers), f"an unpaired app's Wi-Fi configuration was answered: {answers}"
    outcome = lab.pair("ble")
    assert outcome.ok, f"a proper pairing afterwards failed: {outcome.error}"
    assert not ble.activated(attempt), "the device activated with an unpaired app's configuration"


@pytest.mark.tc("TC-BLE-007", reqs=["REQ-BLE-007"])
@pytest.mark.requires("mode:ble")
@pytest.mark.parametrize("case", ["device-info", "pair", "wifi-config"])
def test_unencrypted_frames_are_dropped(ble: BleLab, lab: Lab, case: str) -> None:
    """PROTOCOL.md §9.6.1, §9.10 lead 1: a mode-0 device-info request, pair request or Wi-Fi configuration gets no
    answer and is not used."""
    attempt = ble.attempt()
    with ble.session() as session:
        if case == "device-info":
            session.send(DeviceInfoRequest(20), mode=0)
        elif case == "pair":
            ble.device_info(session)
            session.send(PairRequest(ble.target), mode=0)
        else:
            ble.paired(session)
            session.send(ble.raw_config(ble.credentials(attempt).to_json()), mode=0)
        answers = ble.answers_before_fence(session)
    assert not answers, f"the device answered an unencrypted {case}: {answers}"
    if case == "wifi-config":
        outcome = lab.pair("ble")
        assert outcome.ok, f"a proper pairing afterwards failed: {outcome.error}"
        assert not ble.activated(attempt), "the device activated with an unencrypted configuration"


@pytest.mark.tc("TC-BLE-008", reqs=["REQ-BLE-008"])
@pytest.mark.requires("mode:ble")
def test_the_device_stops_advertising_as_unbound_once_bound(ble: BleLab, lab: Lab) -> None:
    """PROTOCOL.md §9.1 step 10, §9.8: once bound and on the cloud, no advertisement of its BLE ID has the bound bit
    clear (TuyaOpen's monitor checks every 3 s)."""
    outcome = lab.pair("ble")
    assert outcome.ok, f"pairing over BLE failed: {outcome.error}"
    seen = ble.advertisements(timeout=STOPS_ADVERTISING_S, until=lambda mine: all(f.bound for f in mine))
    unbound = [f.scan.address for f in seen if not f.bound]
    assert not unbound, f"{STOPS_ADVERTISING_S:g} s after pairing the device still advertises as unbound ({unbound})"


CREDENTIALS = {
    "ssid-32-ascii": ("S" * 32, "long-ssid-pass1"),
    "ssid-32-utf8": ("Ü" * 16, "utf8-ssid-pass1"),
    "ssid-emoji-spaces": ("Café 🏠 Wi-Fi ✓", "emoji-ssid-pw1"),
    "password-63-printable": ("BLE-Net-63", (string.punctuation + string.ascii_letters)[:62] + " "),
    "password-64-hex": ("BLE-Net-64", "0123456789abcdef" * 4),
    "password-unicode": ("BLE-Net-U", "pässwört-ünïcödé-🔑"),
    "open-network": ("BLE-Open", ""),
}


@pytest.mark.tc("TC-BLE-009", reqs=["REQ-BLE-009"])
@pytest.mark.requires("mode:ble")
@pytest.mark.parametrize("case", sorted(CREDENTIALS))
def test_long_and_unicode_credentials_pair_over_ble(ble: BleLab, lab: Lab, device: DeviceAdapter, case: str) -> None:
    """PROTOCOL.md §9.7.5, §2.1: SSIDs of up to 32 UTF-8 bytes and passwords of up to 64 characters, non-ASCII and
    the longest, and an open network: the device pairs and joins exactly that network."""
    ssid, password = CREDENTIALS[case]
    lab.wifi(ssid, password)
    since = len(device.events())
    outcome = lab.pair("ble", ssid=ssid, password=password)
    joined = [str(e.details.get("ssid")) for e in device.events()[since:]
              if e.name == "wifi-join" and e.details.get("outcome") == "ok"]
    assert outcome.ok, f"{case}: pairing over BLE failed: {outcome.error} (joined {joined or 'nothing'})"
    assert not joined or joined[-1] == ssid, f"{case}: the device joined {joined[-1]!r}, not {ssid!r}"


BAD_VALUES = {
    "ssid-over-32-bytes": {"ssid": "S" * 33},
    "password-over-64-bytes": {"pwd": "p" * 65},
    "token-over-16": {"token_suffix": "XYZ"},
    "non-string-ssid": {"ssid": 12345},
    "null-pwd": {"pwd": None},
}
BAD_REQUESTS = ("empty-device-info", "empty-pair-request", "announced-size-0", "write-over-announced-size",
                "length-beyond-data")


def bad_request(ble: BleLab, case: str) -> None:
    """Send the malformed request ``case`` (§9.10 leads 3-6) on a fresh connection."""
    with ble.session(announce=0 if case == "announced-size-0" else 20 if case == "write-over-announced-size"
                     else None) as session:
        if case == "empty-device-info":
            session.send(OtherCommand(Cmd.DEVICE_INFO, b""))
        elif case == "empty-pair-request":
            ble.device_info(session)
            session.send(OtherCommand(Cmd.PAIR, b""))
        elif case == "length-beyond-data":
            session.write(ble.device_info_with_length(session, declared=1000))
        else:  # announced-size-0, write-over-announced-size: the pair request goes in one long write
            ble.device_info(session)
            session.send(PairRequest(ble.target))


@pytest.mark.tc("TC-BLE-010", reqs=["REQ-BLE-010"])
@pytest.mark.requires("mode:ble")
@pytest.mark.parametrize("case", [*sorted(BAD_VALUES), *BAD_REQUESTS])
def test_bad_ble_input_never_kills_the_device(ble: BleLab, lab: Lab, device: DeviceAdapter, case: str) -> None:
    """PROTOCOL.md §9.9, §9.10 leads 3-7: oversize and non-string JSON values are refused; empty requests, an
    announced size of 0, a write over the announced size and a length field past the data are survived; the device
    stays alive and pairs afterwards."""
    attempt = ble.attempt()
    if case in BAD_VALUES:
        members = json.loads(ble.credentials(attempt).to_json())
        change = dict(BAD_VALUES[case])
        if "token_suffix" in change:
            members["token"] += change.pop("token_suffix")
        members.update(change)
        with ble.session() as session:
            ble.paired(session)
            result = configure(ble, session, json.dumps(members, separators=(",", ":")).encode("utf-8"))
        assert result != 0x00, f"{case}: the configuration was accepted (0x00)"
    else:
        bad_request(ble, case)
    lab.expect_still_pairing(case, device)
    assert not ble.activated(attempt), f"{case}: the device activated with a refused configuration"
    outcome = lab.pair("ble")
    assert outcome.ok, f"after {case} the device no longer pairs: {outcome.error}"


def mangled(writes: list[bytes], case: str) -> list[bytes]:
    """The sub-packets of one packet duplicated, or with the continuations in reverse order (§9.4)."""
    if case == "duplicated":
        return [w for write in writes for w in (write, write)]
    return [writes[0], *reversed(writes[1:])]


@pytest.mark.tc("TC-BLE-011", reqs=["REQ-BLE-011"])
@pytest.mark.requires("mode:ble")
@pytest.mark.parametrize("case", ["duplicated", "out-of-order"])
def test_duplicated_or_reordered_sub_packets_still_pair(ble: BleLab, case: str) -> None:
    """PROTOCOL.md §9.4, §9.10 lead 2: device info, pair and the Wi-Fi configuration in 20-byte sub-packets, each
    sent twice or with its continuations reversed; the device answers each and pairs into the token's home."""
    attempt = ble.attempt()
    with ble.session() as session:
        conn = session.connection
        session.write(mangled(conn.request_device_info(write_size=20), case))
        assert session.wait_for(DeviceInfoAnswer) is not None, f"{case}: no answer to the device-info request"
        session.write(mangled(conn.request_pair(write_size=20), case))
        answer = session.wait_for(PairAnswer)
        assert answer is not None and answer.result == 0, f"{case}: the pair request was not answered 0x00"
        session.write(mangled(conn.configure_wifi(ble.credentials(attempt), write_size=20), case))
        result = ble.wifi_answer(session)
        assert result is not None and result.result == 0, f"{case}: the Wi-Fi configuration was not answered 0x00"
    assert ble.bound_in(attempt.home), f"{case}: the device is not in the token's home"


@pytest.mark.tc("TC-BLE-012", reqs=["REQ-BLE-012"])
@pytest.mark.requires("mode:ble", "ble:v2")
def test_a_v2_device_reports_its_network_status_after_pairing(ble: BleLab) -> None:
    """PROTOCOL.md §9.7.4: right after the pair answer, the 0x001E report, 0 (link down) while it has no Wi-Fi."""
    with ble.session() as session:
        ble.paired(session)
        report = session.wait_for(NetworkStatusReport)
    assert report is not None, "no 0x001E network-status report after a successful pair"
    assert report.status == NetStatus.LINK_DOWN, f"network status {report.status}, not 0 (link down) in pairing mode"


@pytest.mark.tc("TC-BLE-013", reqs=["REQ-BLE-013"])
@pytest.mark.requires("mode:ble")
def test_a_replayed_sequence_number_is_not_acted_on(ble: BleLab) -> None:
    """PROTOCOL.md §9.5, §9.9: a pair request carrying the device-info request's sn 1 is not answered (TuyaOpen and
    BSDK disconnect)."""
    with ble.session() as session:
        ble.device_info(session)
        session.send(PairRequest(ble.target), sn=1)
        answer = session.wait_for(PairAnswer)
    assert answer is None, f"the device answered a pair request whose sn 1 did not increase (0x{answer.result:02x})"


@pytest.mark.tc("TC-BLE-014", reqs=["REQ-BLE-014"])
@pytest.mark.requires("mode:ble")
@pytest.mark.parametrize("case", ["unbind", "device-reset"])
def test_unbind_and_reset_are_taken_only_from_a_paired_app(ble: BleLab, case: str) -> None:
    """PROTOCOL.md §9.7.0, §9.10 lead 1: after device info but without a pair, 0x0005 and 0x0006 are not answered
    (and the device does not reset)."""
    with ble.session() as session:
        ble.device_info(session)
        session.send(ResetRequest(Cmd.UNBIND if case == "unbind" else Cmd.DEVICE_RESET))
        answers = ble.answers_before_fence(session)
    assert not answers, f"the device answered {case} from an app that had not paired: {answers}"


@pytest.mark.tc("TC-BLE-015", reqs=["REQ-BLE-015"])
@pytest.mark.requires("mode:ble")
def test_srand_and_ivs_are_fresh(ble: BleLab) -> None:
    """PROTOCOL.md §9.6.1-§9.6.2, §9.10 lead 9: two connections get different srand values, and no IV repeats among
    the device's packets."""
    srands: list[bytes] = []
    ivs: list[bytes] = []
    for _ in range(2):
        with ble.session() as session:
            ble.paired(session)
            info = session.connection.device_info
            assert info is not None
            srands.append(info.srand)
            ivs += envelope_ivs(session.notifications)
    assert srands[0] != srands[1], f"both connections got srand {srands[0].hex()}"
    repeated = sorted({iv.hex() for iv in ivs if ivs.count(iv) > 1})
    assert len(ivs) >= 4 and not repeated, f"IVs repeat among the device's {len(ivs)} packets: {repeated}"
