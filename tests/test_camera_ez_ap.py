"""The camera's EZ (PROTOCOL.md §2) and AP (§3) channels, over the air and over real loopback sockets."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest
from _camera_helpers import PASSWORD, SSID, Lab, lab, udp_exchange, wait_until

from harness.emulator.air import Air
from harness.emulator.camera.firmware import EmulatedCamera
from harness.emulator.camera.states import State
from harness.protocol import apconfig as ap
from harness.protocol.smartconfig import transmission_schedule


@pytest.fixture(scope="module")
def the_lab() -> Iterator[Lab]:
    with lab() as value:
        yield value


def send_ez(air: Air, token: str, *, channels: tuple[str, ...] = ("broadcast", "multicast"), rounds: int = 10,
            ssid: bytes = SSID, password: bytes = PASSWORD) -> None:
    air.send_all(transmission_schedule(ssid, password, token.encode(), channels=channels,  # type: ignore[arg-type]
                                       preamble_rounds=4, data_rounds=rounds))
    air.flush()


@pytest.mark.parametrize("channels", [("broadcast", "multicast"), ("broadcast",), ("multicast",)], ids="+".join)
def test_ez_pairing_data_is_recovered_from_an_air_losing_a_fifth(the_lab: Lab, channels: tuple[str, ...]) -> None:
    air = Air(seed=11, loss=0.2, clock=the_lab.clock)
    air.add_access_point(SSID, PASSWORD)
    cam = the_lab.camera(air=air, pairing_modes=("ez",), ez_channels=channels)
    token = the_lab.token()
    send_ez(air, token, channels=channels, rounds=20)
    the_lab.online(cam)
    received = cam.events("config-received")[0].details
    assert received["mode"] == "ez" and received["token"] == token and received["ssid"] == SSID.decode()


def test_ez_pairing_survives_loss_duplication_reordering_and_noise(the_lab: Lab) -> None:
    air = Air(seed=3, loss=0.2, duplicate=0.05, reorder=0.05, noise=0.1, clock=the_lab.clock)
    air.add_access_point(SSID, PASSWORD)
    cam = the_lab.camera(air=air, pairing_modes=("ez",))
    send_ez(air, the_lab.token())
    the_lab.online(cam)
    assert {r.fate for r in air.log} >= {"lost", "duplicated", "held", "released", "noise", "delivered"}


def test_ez_channel_the_camera_does_not_sniff_is_not_heard(the_lab: Lab) -> None:
    air = Air(clock=the_lab.clock)
    cam = the_lab.camera(air=air, pairing_modes=("ez",), ez_channels=("multicast",))
    send_ez(air, the_lab.token(), channels=("broadcast",), rounds=3)
    the_lab.device_loop.run(_settle())
    assert cam.state is State.PAIRING and not cam.events("config-received")


async def _settle() -> None:
    import asyncio

    for _ in range(5):
        await asyncio.sleep(0.01)


def tcp_exchange(address: tuple[str, int, int], data: bytes, timeout: float = 0.5) -> bytes:
    with socket.create_connection((address[0], address[2]), timeout=2) as sock:
        sock.settimeout(timeout)
        sock.sendall(data)
        chunks = b""
        try:
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                chunks += chunk
                if chunks.endswith(ap.LPV35_SUFFIX):
                    break
        except TimeoutError:
            pass
        return chunks


def ap_camera(the_lab: Lab) -> tuple[EmulatedCamera, tuple[str, int, int]]:
    cam = the_lab.camera(pairing_modes=("ap",))
    address = cam.ap_address
    assert address is not None
    assert the_lab.air.device_ap(cam.ap_ssid) is not None
    return cam, address


@pytest.mark.parametrize("style", ap.PAYLOAD_STYLES)
def test_a_legacy_frame_over_udp_is_acked_and_pairs_and_the_ap_closes(the_lab: Lab, style: str) -> None:
    cam, address = ap_camera(the_lab)
    frame = ap.encode_ap_config(SSID.decode(), PASSWORD.decode(), the_lab.token(), style=style)  # type: ignore[arg-type]
    reply = udp_exchange(address, frame)
    assert reply is not None
    assert int.from_bytes(ap.decode_ap_frame(reply).payload, ap.RET_CODE_BYTEORDER) == 0
    the_lab.online(cam)
    assert cam.ap_address is None and the_lab.air.device_ap(cam.ap_ssid) is None
    assert udp_exchange(address, frame, timeout=0.2) is None


def test_an_lpv35_frame_over_tcp_is_acked_and_pairs(the_lab: Lab) -> None:
    cam, address = ap_camera(the_lab)
    frame = ap.encode_ap_cfg_request(SSID.decode(), PASSWORD.decode(), the_lab.token(), seq=1,
                                     nonce=os.urandom(ap.NONCE_LEN))
    reply = tcp_exchange(address, frame)
    ack = ap.decode_lpv35_frame(reply, key=ap.LPV35_APP_KEY)
    assert ack.type == ap.Lpv35Type.AP_CFG_WF_V40 and ap.parse_ap_cfg_ack(ack.data).ok
    the_lab.online(cam)
    with pytest.raises(OSError):
        socket.create_connection((address[0], address[2]), timeout=1).close()


def test_an_lpv35_query_is_answered(the_lab: Lab) -> None:
    cam, address = ap_camera(the_lab)
    query = ap.encode_ext_cmd(ap.ExtCmdRequest("query_dev"), seq=1, nonce=os.urandom(ap.NONCE_LEN))
    reply = ap.parse_ext_cmd_reply(ap.decode_lpv35_frame(tcp_exchange(address, query), key=ap.LPV35_APP_KEY).data)
    assert reply.req_type == "query_dev_rpt" and reply.data["uuid"] == cam.uuid


def corrupt_crc(frame: bytes) -> bytes:
    return frame[:-8] + bytes([frame[-8] ^ 0xFF]) + frame[-7:]


def corrupt_length(frame: bytes) -> bytes:
    return frame[:12] + (int.from_bytes(frame[12:16], "big") + 3).to_bytes(4, "big") + frame[16:]


@pytest.mark.parametrize("damage", [corrupt_crc, corrupt_length], ids=["crc", "length"])
def test_a_damaged_legacy_frame_is_refused_and_the_camera_stays_in_pairing_mode(the_lab: Lab, damage: object) -> None:
    cam, address = ap_camera(the_lab)
    frame = ap.encode_ap_config(SSID.decode(), PASSWORD.decode(), the_lab.token())
    assert udp_exchange(address, damage(frame), timeout=0.2) is None  # type: ignore[operator]
    wait_until(lambda: bool(cam.events("ap-frame-refused")))
    assert cam.state is State.PAIRING and cam.ap_address == address
    assert udp_exchange(address, frame) is not None
    the_lab.online(cam)


@pytest.mark.parametrize("damage", ["tag", "length"])
def test_a_damaged_lpv35_frame_is_refused(the_lab: Lab, damage: str) -> None:
    cam, address = ap_camera(the_lab)
    frame = ap.encode_ap_cfg_request(SSID.decode(), PASSWORD.decode(), the_lab.token(), seq=1,
                                     nonce=os.urandom(ap.NONCE_LEN))
    bad = frame[:-6] + bytes([frame[-6] ^ 1]) + frame[-5:] if damage == "tag" else corrupt_length_lpv35(frame)
    assert tcp_exchange(address, bad, timeout=0.2) == b""
    wait_until(lambda: bool(cam.events("ap-frame-refused")))
    assert cam.state is State.PAIRING
    assert ap.parse_ap_cfg_ack(ap.decode_lpv35_frame(tcp_exchange(address, frame), key=ap.LPV35_APP_KEY).data).ok
    the_lab.online(cam)


def corrupt_length_lpv35(frame: bytes) -> bytes:
    return frame[:14] + (int.from_bytes(frame[14:18], "big") - 1).to_bytes(4, "big") + frame[18:]


def test_a_config_without_ssid_gets_a_failing_ack(the_lab: Lab) -> None:
    cam, address = ap_camera(the_lab)
    reply = udp_exchange(address, ap.encode_ap_frame(b'{"passwd":"x","token":"AYabcdefgh1234"}'))
    assert reply is not None and int.from_bytes(ap.decode_ap_frame(reply).payload, "little") != 0
    assert cam.state is State.PAIRING
