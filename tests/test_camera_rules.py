"""The camera's pairing rules pinned where a phone, the air, the timeline or the camera's driver sees them: the
precise answers the mutation campaign (tests/mutation/campaign.py) showed no other test pinned down."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _camera_helpers import PASSWORD, SSID, Lab, lab, qr_image, udp_exchange, wait_until

from harness.adapters.contracts import Licence
from harness.adapters.emulated_ble import EmulatedBleCentral
from harness.app.ble import provision
from harness.clock import VirtualClock
from harness.emulator.air import Air, AirObservation
from harness.emulator.camera.ap import RET_REFUSED
from harness.emulator.camera.firmware import EmulatedCamera
from harness.emulator.camera.pairing import PairingChannel, PairingConfig
from harness.emulator.camera.states import Event, IllegalTransition, Lifecycle, State
from harness.emulator.cloud import EmulatedCloud
from harness.emulator.loop import DeviceLoop
from harness.emulator.radio import Radio
from harness.protocol import apconfig as ap
from harness.protocol.ble import WifiCredentials
from harness.protocol.errors import ProtocolError
from harness.protocol.qr import parse_qr_text
from harness.protocol.smartconfig import transmission_schedule
from harness.qrimage import render_qr


def test_an_illegal_event_names_the_event_and_the_state() -> None:
    life = Lifecycle(State.ONLINE)
    with pytest.raises(IllegalTransition) as info:
        life.fire(Event.BOOT)
    assert str(info.value) == "event 'boot' is not allowed in state 'online'"
    assert life.state is State.ONLINE


# ---- the SoftAP (PROTOCOL.md §3) -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def the_lab() -> Iterator[Lab]:
    with lab() as value:
        yield value


def ap_camera(the_lab: Lab, **kwargs: Any) -> tuple[EmulatedCamera, tuple[str, int, int]]:
    cam = the_lab.camera(pairing_modes=("ap",), **kwargs)
    address = cam.ap_address
    assert address is not None
    return cam, address


def lpv35_replies(sock: socket.socket, count: int) -> list[ap.Lpv35Frame]:
    """Read ``count`` frames the camera sends on an open LPV3.5 connection (2 s of the wall clock at most)."""
    buffer = ap.Lpv35FrameBuffer(key=ap.LPV35_APP_KEY)
    frames: list[ap.Lpv35Frame] = []
    deadline = time.monotonic() + 2.0
    while len(frames) < count and time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            break
        if not chunk:
            break
        buffer.receive_data(chunk)
        while (frame := buffer.next_frame()) is not None:
            frames.append(frame)
    return frames


def ext_cmd(request: ap.ExtCmdRequest, seq: int = 1) -> bytes:
    return ap.encode_ext_cmd(request, seq=seq, nonce=os.urandom(ap.NONCE_LEN))


def test_the_ext_commands_answer_with_the_camera_s_facts_in_sequence(the_lab: Lab) -> None:
    cam, address = ap_camera(the_lab)
    with socket.create_connection((address[0], address[2]), timeout=2) as sock:
        sock.sendall(ext_cmd(ap.ExtCmdRequest("query_dev"), 1) + ext_cmd(ap.ExtCmdRequest("get_wifi_list", cnt=5), 2)
                     + ext_cmd(ap.ExtCmdRequest("query_netcfg_stat"), 3))
        frames = lpv35_replies(sock, 3)
    assert [f.seq for f in frames] == [1, 2, 3] and {f.type for f in frames} == {ap.Lpv35Type.EXT_CMD}
    replies = [ap.parse_ext_cmd_reply(f.data) for f in frames]
    assert replies[0] == ap.ExtCmdReply("query_dev_rpt", {"uuid": cam.uuid, "pid": cam.pid, "version": "3.5",
                                                          "active": 0})
    assert replies[1] == ap.ExtCmdReply("wifi_list_rpt", {"list": [{"ssid": SSID.decode(), "rssi": -40}]})
    assert replies[2] == ap.ExtCmdReply("netcfg_stat_rpt", {"stat": "pairing"})
    wait_until(lambda: len(cam.events("ap-ext-cmd")) == 3)
    assert [e.details["req_type"] for e in cam.events("ap-ext-cmd")] == ["query_dev", "get_wifi_list",
                                                                         "query_netcfg_stat"]
    cam.power_off()


def test_an_unknown_ext_command_is_refused_without_an_answer(the_lab: Lab) -> None:
    cam, address = ap_camera(the_lab)
    bogus = ap.encode_lpv35_frame(ap.Lpv35Type.EXT_CMD, b'{"reqType":"format_disk"}', seq=1, key=ap.LPV35_APP_KEY,
                                  nonce=os.urandom(ap.NONCE_LEN))
    other = ap.encode_lpv35_frame(ap.Lpv35Type.GET_DEV_INFO, b"{}", seq=2, key=ap.LPV35_APP_KEY,
                                  nonce=os.urandom(ap.NONCE_LEN))
    with socket.create_connection((address[0], address[2]), timeout=2) as sock:
        sock.sendall(bogus + other + ext_cmd(ap.ExtCmdRequest("query_netcfg_stat"), 3))
        frames = lpv35_replies(sock, 1)  # frames are answered in order: an answer to either would come first
    assert len(frames) == 1 and frames[0].seq == 1
    assert ap.parse_ext_cmd_reply(frames[0].data) == ap.ExtCmdReply("netcfg_stat_rpt", {"stat": "pairing"})
    wait_until(lambda: bool(cam.events("ap-ext-cmd")))
    refused = cam.events("ap-ext-cmd-refused")
    assert len(refused) == 1 and "format_disk" in refused[0].details["error"]
    assert [e.details for e in cam.events("ap-frame-ignored")] == [{"variant": "ap-lpv35",
                                                                    "type": ap.Lpv35Type.GET_DEV_INFO}]
    assert cam.state is State.PAIRING
    cam.power_off()


def test_the_lpv35_ack_names_its_variant_and_code_on_the_timeline(the_lab: Lab) -> None:
    cam, address = ap_camera(the_lab)
    bad = ap.encode_lpv35_frame(ap.Lpv35Type.AP_CFG_WF_V40, b'{"passwd":"x"}', seq=1, key=ap.LPV35_APP_KEY,
                                nonce=os.urandom(ap.NONCE_LEN))
    with socket.create_connection((address[0], address[2]), timeout=2) as sock:
        sock.sendall(bad)
        frames = lpv35_replies(sock, 1)
    assert len(frames) == 1 and frames[0].type == ap.Lpv35Type.AP_CFG_WF_V40
    assert ap.parse_ap_cfg_ack(frames[0].data).ret_code == RET_REFUSED == 1
    wait_until(lambda: bool(cam.events("ap-ack")))
    assert [e.details for e in cam.events("ap-ack")] == [{"variant": "ap-lpv35", "ret_code": 1}]
    assert [e.details for e in cam.events("config-refused")] == [
        {"mode": "ap-lpv35", "reason": "AP config payload has no ssid", "section": "§3.2", "length": 14}]
    assert cam.state is State.PAIRING and not cam.events("config-received")
    cam.power_off()


def test_a_legacy_ack_echoes_the_frame_s_seq_and_a_refusal_answers_1(the_lab: Lab) -> None:
    cam, address = ap_camera(the_lab)
    reply = udp_exchange(address, ap.encode_ap_frame(b'{"passwd":"x"}', seq=41))
    assert reply is not None
    frame = ap.decode_ap_frame(reply)
    assert (frame.seq, frame.cmd, frame.payload) == (41, ap.AP_CONFIG_CMD, (1).to_bytes(4, ap.RET_CODE_BYTEORDER))
    wait_until(lambda: bool(cam.events("ap-ack")))
    assert [e.details for e in cam.events("ap-ack")] == [{"variant": "ap-legacy", "ret_code": 1}]
    good = ap.encode_ap_config(SSID.decode(), PASSWORD.decode(), the_lab.token(), seq=42)
    reply = udp_exchange(address, good)
    assert reply is not None
    frame = ap.decode_ap_frame(reply)
    assert (frame.seq, frame.cmd, frame.payload) == (42, ap.AP_CONFIG_CMD, bytes(4))
    wait_until(lambda: len(cam.events("ap-ack")) == 2)
    assert cam.events("ap-ack")[-1].details == {"variant": "ap-legacy", "ret_code": 0}
    the_lab.online(cam)
    assert cam.events("config-received")[0].details["mode"] == "ap-legacy"


def test_a_legacy_frame_of_another_command_is_ignored(the_lab: Lab) -> None:
    cam, address = ap_camera(the_lab)
    payload = ap.ap_config_payload(SSID.decode(), PASSWORD.decode(), the_lab.token())
    assert udp_exchange(address, ap.encode_ap_frame(payload, seq=3, cmd=2), timeout=0.3) is None
    wait_until(lambda: bool(cam.events("ap-frame-ignored")))
    assert [e.details for e in cam.events("ap-frame-ignored")] == [{"variant": "ap-legacy", "cmd": 2}]
    assert cam.state is State.PAIRING and not cam.events("ap-ack")
    cam.power_off()


def test_the_softap_is_announced_with_its_ports_and_keeps_them_when_it_reopens(the_lab: Lab) -> None:
    cam, address = ap_camera(the_lab)
    host, udp_port, tcp_port = address
    low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    assert low <= udp_port <= high and low <= tcp_port <= high and host == "127.0.0.1"  # ephemeral ports
    opened = cam.events("ap-open")
    assert [e.details for e in opened] == [{"ssid": cam.ap_ssid, "host": host, "udp_port": udp_port,
                                            "tcp_port": tcp_port}]
    announced = the_lab.air.device_ap(cam.ap_ssid)
    assert announced is not None and (announced.host, announced.udp_port, announced.tcp_port) == address
    cam.power_off()
    assert cam.ap_address is None and the_lab.air.device_ap(cam.ap_ssid) is None
    assert [e.details for e in cam.events("ap-closed")] == [{"ssid": cam.ap_ssid}]
    cam.power_on()
    wait_until(lambda: cam.ap_address is not None)
    assert cam.ap_address == address
    cam.power_off()


def test_a_legacy_only_softap_opens_no_tcp_port(the_lab: Lab) -> None:
    cam, address = ap_camera(the_lab, ap_variants=("legacy",))
    assert address[1] > 0 and address[2] == 0
    cam.power_off()
    cam, address = ap_camera(the_lab, ap_variants=("lpv35",))
    assert address[1] == 0 and address[2] > 0
    with socket.create_connection((address[0], address[2]), timeout=2) as sock:
        sock.sendall(ext_cmd(ap.ExtCmdRequest("query_netcfg_stat")))
        assert len(lpv35_replies(sock, 1)) == 1
    cam.power_off()


# ---- the pairing channels' outcomes on the timeline (read by harness/conformance/diagnosis.py) --------------------


def test_a_refused_qr_payload_is_recorded_with_its_mode_reason_section_and_length(the_lab: Lab) -> None:
    payload = b'{"s":"home","p":"pw123456"}'
    with pytest.raises(ProtocolError) as expected:
        parse_qr_text(payload)
    cam = the_lab.camera(pairing_modes=("qr",))
    assert cam.present_qr(render_qr(payload), timeout=5).outcome == "refused"
    assert [e.details for e in cam.events("config-refused")] == [
        {"mode": "qr", "reason": expected.value.message, "section": expected.value.section, "length": len(payload)}]
    assert expected.value.section and expected.value.section.startswith("§1")
    assert cam.state is State.PAIRING and not cam.events("state")[1:]
    cam.power_off()


def test_a_refused_ap_payload_and_a_refused_frame_are_recorded_with_their_details(the_lab: Lab) -> None:
    cam, address = ap_camera(the_lab)
    payload = b'{"passwd":"x","token":"AYabcdefgh1234"}'
    assert udp_exchange(address, ap.encode_ap_frame(payload)) is not None
    wait_until(lambda: bool(cam.events("config-refused")))
    assert [e.details for e in cam.events("config-refused")] == [
        {"mode": "ap-legacy", "reason": "AP config payload has no ssid", "section": "§3.1", "length": len(payload)}]
    good = ap.encode_ap_config(SSID.decode(), PASSWORD.decode(), the_lab.token())
    damaged = good[:-8] + bytes([good[-8] ^ 0xFF]) + good[-7:]
    with pytest.raises(ProtocolError) as expected:
        ap.decode_ap_frame(damaged)
    assert udp_exchange(address, damaged, timeout=0.3) is None
    wait_until(lambda: bool(cam.events("ap-frame-refused")))
    assert [e.details for e in cam.events("ap-frame-refused")] == [
        {"mode": "ap-legacy", "reason": expected.value.message, "length": len(damaged)}]
    assert cam.state is State.PAIRING
    cam.power_off()


def test_a_refused_lpv35_frame_is_recorded_with_its_mode(the_lab: Lab) -> None:
    cam, address = ap_camera(the_lab)
    frame = ext_cmd(ap.ExtCmdRequest("query_netcfg_stat"))
    damaged = frame[:-6] + bytes([frame[-6] ^ 1]) + frame[-5:]
    with socket.create_connection((address[0], address[2]), timeout=2) as sock:
        sock.sendall(damaged + ext_cmd(ap.ExtCmdRequest("query_netcfg_stat"), 2))  # one segment: both frames
        frames = lpv35_replies(sock, 1)
    assert len(frames) == 1 and frames[0].seq == 1  # the frame after the refused one is still answered
    assert ap.parse_ext_cmd_reply(frames[0].data) == ap.ExtCmdReply("netcfg_stat_rpt", {"stat": "pairing"})
    refused = cam.events("ap-frame-refused")
    assert len(refused) == 1 and refused[0].details["mode"] == "ap-lpv35"
    assert refused[0].details["length"] >= len(damaged) and refused[0].details["reason"]  # the bytes received
    assert cam.state is State.PAIRING
    cam.power_off()


def test_a_captured_config_is_recorded_whole_and_named_on_the_state_change(the_lab: Lab) -> None:
    cam = the_lab.camera(pairing_modes=("qr",))
    token = the_lab.token()
    assert cam.present_qr(qr_image(token=token)).outcome == "captured"
    received = cam.events("config-received")
    assert [e.details for e in received] == [{"mode": "qr", "ssid": SSID.decode(),
                                              "password": f"<redacted {len(PASSWORD)}>", "token": token}]
    captured = [e.details for e in cam.events("state") if e.details["event"] == "config-captured"]
    assert captured == [{"event": "config-captured", "old": "pairing", "new": "config-received", "mode": "qr"}]
    the_lab.online(cam)
    assert cam.config == PairingConfig("qr", SSID, PASSWORD, token)


def test_ez_decoding_is_recorded_and_a_malformed_observation_is_refused(the_lab: Lab) -> None:
    air = Air(clock=the_lab.clock)
    air.add_access_point(SSID, PASSWORD)
    cam = the_lab.camera(air=air, pairing_modes=("ez",))
    air.send(AirObservation("address", "not-an-address"))
    wait_until(lambda: bool(cam.events("ez-observation-refused")))
    refused = cam.events("ez-observation-refused")
    assert len(refused) == 1 and "not-an-address" in refused[0].details["error"]
    token = the_lab.token()
    air.send_all(transmission_schedule(SSID, PASSWORD, token.encode(), preamble_rounds=4, data_rounds=3))
    air.flush()
    the_lab.online(cam)
    assert [e.details for e in cam.events("ez-decoded")] == [{"ssid": SSID.decode(), "token": token}]
    assert cam.config == PairingConfig("ez", SSID, PASSWORD, token)
    assert cam.events("config-received")[0].details["mode"] == "ez"


def test_an_ez_token_with_a_byte_outside_ascii_is_still_taken(the_lab: Lab) -> None:
    air = Air(clock=the_lab.clock)
    air.add_access_point(SSID, PASSWORD)
    cam = the_lab.camera(air=air, pairing_modes=("ez",))
    token = b"AYabcdefg\xe91234"
    air.send_all(transmission_schedule(SSID, PASSWORD, token, preamble_rounds=4, data_rounds=3))
    air.flush()
    wait_until(lambda: bool(cam.events("config-received")))
    assert [e.details for e in cam.events("ez-decoded")] == [{"ssid": SSID.decode(), "token": "AYabcdefg\ufffd1234"}]
    assert cam.events("config-received")[0].details["token"] == "AYabcdefg\ufffd1234"
    cam.power_off()


def test_a_config_reaching_a_softap_left_open_after_pairing_is_ignored_and_answered_1(the_lab: Lab) -> None:
    # keeps-ap-open-after-success leaves the sockets open; the conformant take_ap_payload still decides.
    cam = the_lab.camera(pairing_modes=("ap",), faults=["keeps-ap-open-after-success"])
    address = cam.ap_address
    assert address is not None
    frame = ap.encode_ap_config(SSID.decode(), PASSWORD.decode(), the_lab.token(), seq=1)
    assert udp_exchange(address, frame) is not None
    wait_until(lambda: cam.state is not State.PAIRING)
    state = cam.state
    reply = udp_exchange(address, ap.encode_ap_config(SSID.decode(), PASSWORD.decode(), the_lab.token(), seq=2))
    assert reply is not None
    assert ap.decode_ap_frame(reply).payload == RET_REFUSED.to_bytes(4, ap.RET_CODE_BYTEORDER)
    ignored = cam.events("ap-ignored")
    assert len(ignored) == 1 and ignored[0].details["mode"] == "ap-legacy"
    assert ignored[0].details["state"] != "pairing" and ignored[0].details["state"] in {s.value for s in State}
    assert state is not State.PAIRING and len(cam.events("config-received")) == 1
    the_lab.online(cam)


def free_ports() -> tuple[int, int]:
    """A UDP and a TCP port on 127.0.0.1 that were free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, socket.socket() as tcp:
        udp.bind(("127.0.0.1", 0))
        tcp.bind(("127.0.0.1", 0))
        return udp.getsockname()[1], tcp.getsockname()[1]


def test_a_softap_whose_ports_were_taken_meanwhile_opens_on_new_ones(the_lab: Lab) -> None:
    cam, address = ap_camera(the_lab)
    cam.power_off()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, socket.socket() as tcp:
        udp.bind(("127.0.0.1", address[1]))
        tcp.bind(("127.0.0.1", address[2]))
        tcp.listen()
        cam.power_on()
        wait_until(lambda: cam.ap_address is not None)
        moved = cam.ap_address
        assert moved is not None and moved[1] not in (0, address[1]) and moved[2] not in (0, address[2])
        assert cam.events("ap-open")[-1].details["udp_port"] == moved[1]
        assert udp_exchange(moved, ap.encode_ap_frame(b'{"passwd":"x"}', seq=5)) is not None
    cam.power_off()


def test_a_lab_softap_keeps_its_fixed_ports_or_does_not_open(the_lab: Lab) -> None:
    ports = free_ports()
    cam, address = ap_camera(the_lab, ap_ports=ports)
    assert address == ("127.0.0.1", *ports)
    cam.power_off()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", ports[0]))
        cam.power_on()
        wait_until(lambda: bool(cam.events("firmware-error")))
        assert "OSError" in cam.events("firmware-error")[0].details["error"]
        assert cam.ap_address is None and the_lab.air.device_ap(cam.ap_ssid) is None
        assert len(cam.events("ap-open")) == 1
    cam.power_off()


def test_closing_the_softap_ends_its_open_config_connections(the_lab: Lab) -> None:
    cam, address = ap_camera(the_lab)
    with socket.create_connection((address[0], address[2]), timeout=2) as sock:
        sock.sendall(ext_cmd(ap.ExtCmdRequest("query_netcfg_stat")))
        assert len(lpv35_replies(sock, 1)) == 1  # the connection is up on the camera's side
        assert udp_exchange(address, ap.encode_ap_config(SSID.decode(), PASSWORD.decode(), the_lab.token())) is not None
        sock.settimeout(2)
        assert sock.recv(4096) == b""  # the camera closed the connection when it left pairing mode
    the_lab.online(cam)
    assert len(cam.events("ap-closed")) == 1
    cam.reset()  # back to pairing mode: the SoftAP reopens where it was, its old connection's port included
    wait_until(lambda: cam.ap_address is not None)
    assert cam.ap_address == address
    cam.power_off()


def test_only_the_first_of_two_configs_in_one_segment_is_taken(the_lab: Lab) -> None:
    cam, address = ap_camera(the_lab)
    token = the_lab.token()
    first = ap.encode_ap_cfg_request(SSID.decode(), PASSWORD.decode(), token, seq=1, nonce=os.urandom(ap.NONCE_LEN))
    second = ap.encode_ap_cfg_request("other-net", "pw999999", token, seq=2, nonce=os.urandom(ap.NONCE_LEN))
    with socket.create_connection((address[0], address[2]), timeout=2) as sock:
        sock.sendall(first + second)
        frames = lpv35_replies(sock, 2)
    assert len(frames) == 1 and ap.parse_ap_cfg_ack(frames[0].data).ok
    the_lab.online(cam)
    assert [e.details["ssid"] for e in cam.events("config-received")] == [SSID.decode()]
    assert not cam.events("ap-ignored") and len(cam.events("ap-ack")) == 1


def test_a_lab_softap_that_cannot_take_its_tcp_port_releases_its_udp_port(the_lab: Lab) -> None:
    ports = free_ports()
    with socket.socket() as tcp:
        tcp.bind(("127.0.0.1", ports[1]))
        tcp.listen()
        cam = the_lab.camera(pairing_modes=("ap",), ap_ports=ports, power=False)
        cam.power_on()
        wait_until(lambda: bool(cam.events("firmware-error")))
        assert cam.ap_address is None and the_lab.air.device_ap(cam.ap_ssid) is None and not cam.events("ap-open")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", ports[0]))  # free again: the half-open SoftAP closed its UDP socket
    cam.power_off()


def test_a_ble_config_reaching_a_camera_that_is_joining_is_ignored() -> None:
    # A clock that moves only when told: the camera waits in JOINING for its join retry until the test is done.
    clock = VirtualClock(autojump=False)
    with EmulatedCloud(clock=clock) as cloud, DeviceLoop(clock) as device_loop:
        ble_config_while_joining(Lab(cloud, device_loop, clock))


def ble_config_while_joining(the_lab: Lab) -> None:
    radio = Radio(clock=the_lab.clock)
    cam = the_lab.camera(pairing_modes=("qr", "ble"), radio=radio, ble_generation="v2")
    assert cam.present_qr(qr_image(ssid="no-such-net", token=the_lab.token())).outcome == "captured"
    wait_until(lambda: bool(cam.events("wifi-join")))
    assert cam.state is State.JOINING  # waiting on the virtual clock to retry the join
    licence = Licence(uuid=cam.uuid, auth_key=cam.auth_key, pid=cam.pid)
    provision(EmulatedBleCentral(radio), licence, WifiCredentials(SSID.decode(), PASSWORD.decode(), the_lab.token()))
    wait_until(lambda: bool(cam.events("config-ignored")))
    assert [e.details for e in cam.events("config-ignored")] == [{"mode": "ble", "state": "joining"}]
    assert cam.config is not None and cam.config.ssid == b"no-such-net" and cam.state is State.JOINING
    cam.power_off()


def test_an_ap_payload_without_a_token_gives_an_empty_token(the_lab: Lab) -> None:
    cam, address = ap_camera(the_lab)
    reply = udp_exchange(address, ap.encode_ap_frame(b'{"ssid":"home-net","passwd":"pw123456"}', seq=7))
    assert reply is not None and ap.decode_ap_frame(reply).payload == bytes(4)
    wait_until(lambda: bool(cam.events("config-received")))
    assert cam.events("config-received")[0].details["token"] == ""
    cam.power_off()


def test_a_camera_without_ez_does_not_decode_an_ez_transmission(the_lab: Lab) -> None:
    air = Air(clock=the_lab.clock)
    air.add_access_point(SSID, PASSWORD)
    cam = the_lab.camera(air=air, pairing_modes=("qr",))  # both EZ channels named, EZ itself not offered
    air.send_all(transmission_schedule(SSID, PASSWORD, the_lab.token().encode(), preamble_rounds=4, data_rounds=3))
    air.flush()
    listening = the_lab.camera(air=air, pairing_modes=("ez",), power=False)
    listening.power_on()  # a control on the same air, after the transmission: it must not have heard it either
    air.send_all(transmission_schedule(SSID, PASSWORD, the_lab.token().encode(), preamble_rounds=4, data_rounds=3))
    air.flush()
    wait_until(lambda: bool(listening.events("ez-decoded")))
    assert cam.state is State.PAIRING and not cam.events("ez-decoded") and not cam.events("config-received")
    cam.power_off()
    listening.power_off()


def test_the_wifi_list_shows_an_ssid_that_is_not_utf8_with_a_replacement_character(the_lab: Lab) -> None:
    air = Air(clock=the_lab.clock)
    air.add_access_point(b"caf\xe9-net", PASSWORD)
    cam, address = ap_camera(the_lab, air=air)
    with socket.create_connection((address[0], address[2]), timeout=2) as sock:
        sock.sendall(ext_cmd(ap.ExtCmdRequest("get_wifi_list", cnt=1)))
        frames = lpv35_replies(sock, 1)
    assert len(frames) == 1
    assert ap.parse_ext_cmd_reply(frames[0].data).data == {"list": [{"ssid": "caf\ufffd-net", "rssi": -40}]}
    cam.power_off()


class NotesAckModes(EmulatedCamera):
    """A user's fault class (profiles may name package.module:Class) keyed on the channel the ack hook is given."""

    def ap_ack_code(self, mode: PairingChannel, ret: int) -> int:
        self.record("ack-hook", mode=mode)
        return super().ap_ack_code(mode, ret)


def test_the_ack_hook_is_told_which_ap_channel_it_answers(the_lab: Lab) -> None:
    cam, address = ap_camera(the_lab, faults=[NotesAckModes])
    assert udp_exchange(address, ap.encode_ap_frame(b'{"passwd":"x"}', seq=1)) is not None
    with socket.create_connection((address[0], address[2]), timeout=2) as sock:
        sock.sendall(ap.encode_lpv35_frame(ap.Lpv35Type.AP_CFG_WF_V40, b'{"passwd":"x"}', seq=1,
                                           key=ap.LPV35_APP_KEY, nonce=os.urandom(ap.NONCE_LEN)))
        assert len(lpv35_replies(sock, 1)) == 1
    assert [e.details["mode"] for e in cam.events("ack-hook")] == ["ap-legacy", "ap-lpv35"]
    cam.power_off()


def test_a_softap_still_open_when_pairing_mode_returns_is_kept_as_it_is(the_lab: Lab) -> None:
    # keeps-ap-open-after-success leaves the sockets open; a failed join brings pairing mode back with them open.
    cam = the_lab.camera(pairing_modes=("ap",), faults=["keeps-ap-open-after-success"], join_attempts=1)
    address = cam.ap_address
    assert address is not None
    frame = ap.encode_ap_config("no-such-net", PASSWORD.decode(), the_lab.token(), seq=1)
    assert udp_exchange(address, frame) is not None
    wait_until(lambda: any(e.details.get("event") == "join-failed" for e in cam.events("state")))
    wait_until(lambda: cam.state is State.PAIRING and cam.ap_address is not None)
    assert cam.ap_address == address and len(cam.events("ap-open")) == 1 and not cam.events("ap-closed")
    assert udp_exchange(address, ap.encode_ap_frame(b'{"passwd":"x"}', seq=2)) is not None
    cam.power_off()
