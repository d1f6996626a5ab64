"""Every camera fault observably changes behaviour, next to a conformant camera; and faults from outside work."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from _camera_helpers import PASSWORD, SSID, Lab, lab, qr_image, wait_until

from harness.emulator.air import Air
from harness.emulator.camera.faults import CAMERA_FAULTS, camera_class, register_camera_fault
from harness.emulator.camera.firmware import EmulatedCamera
from harness.emulator.camera.states import State
from harness.protocol import apconfig as ap
from harness.protocol.smartconfig import BROADCAST_PREAMBLE, broadcast_data, encode_broadcast, transmission_schedule
from harness.protocol.token import split_token_fixed


@pytest.fixture(scope="module")
def the_lab() -> Iterator[Lab]:
    with lab() as value:
        yield value


def fault(name: str) -> str:
    """A catalogued fault's name (the catalogue test checks that each one is used here)."""
    assert name in CAMERA_FAULTS
    return name


def pair(the_lab: Lab, cam: EmulatedCamera, **qr: object) -> State:
    assert cam.present_qr(qr_image(token=the_lab.token(), **qr)).outcome == "captured"  # type: ignore[arg-type]
    return cam.wait_for_state(State.ONLINE, State.PAIRING, State.FAILED, timeout=10)


def online(the_lab: Lab, name: str | None = None) -> EmulatedCamera:
    cam = the_lab.camera(faults=[fault(name)] if name else [])
    assert pair(the_lab, cam) is State.ONLINE
    the_lab.online(cam)
    return cam


# ------------------------------------------------------------------------------------------------- QR


def test_qr_mangles_utf8(the_lab: Lab) -> None:
    the_lab.air.add_access_point("café-net".encode(), PASSWORD)
    good = the_lab.camera()
    assert pair(the_lab, good, ssid="café-net") is State.ONLINE
    bad = the_lab.camera(faults=[fault("qr-mangles-utf8")])
    assert bad.present_qr(qr_image("café-net", token=the_lab.token())).outcome == "captured"
    assert bad.events("config-received")[0].details["ssid"] != "café-net"
    wait_until(lambda: bool(bad.events("wifi-join")))
    assert bad.events("wifi-join")[0].details["outcome"] == "no-such-ssid"


def test_qr_fixed_key_order(the_lab: Lab) -> None:
    good = the_lab.camera(pairing_modes=("qr",))
    assert good.present_qr(qr_image(token=the_lab.token(), key_order="pst")).outcome == "captured"
    bad = the_lab.camera(faults=[fault("qr-fixed-key-order")], pairing_modes=("qr",))
    assert bad.present_qr(qr_image(token=the_lab.token(), key_order="pst")).outcome == "refused"
    assert bad.present_qr(qr_image(token=the_lab.token(), key_order="spt")).outcome == "captured"


def test_qr_ignores_escapes(the_lab: Lab) -> None:
    the_lab.air.add_access_point(b"slash-net", b"pw/123456")
    good = the_lab.camera()
    assert pair(the_lab, good, ssid="slash-net", password="pw/123456", escape_slash=True) is State.ONLINE
    bad = the_lab.camera(faults=[fault("qr-ignores-escapes")])
    bad.present_qr(qr_image("slash-net", "pw/123456", the_lab.token(), escape_slash=True))
    wait_until(lambda: bool(bad.events("wifi-join")))
    assert bad.events("wifi-join")[0].details["outcome"] == "wrong-password"


def test_qr_unicode_escape_low_byte(the_lab: Lab) -> None:
    ssid, password = "café-net", "pässwort-123"
    the_lab.air.add_access_point(ssid.encode(), password.encode())
    good = the_lab.camera()
    assert pair(the_lab, good, ssid=ssid, password=password, ascii_only=True) is State.ONLINE
    bad = the_lab.camera(faults=[fault("qr-unicode-escape-low-byte")])
    bad.present_qr(qr_image(ssid, password, the_lab.token(), ascii_only=True))
    wait_until(lambda: bool(bad.events("wifi-join")))
    assert bad.events("wifi-join")[0].details["outcome"] == "no-such-ssid"  # joined "caf\xe9-net", Latin-1
    # Raw UTF-8, the quotes and backslashes escapes, and control characters as \u00XX all come through.
    tricky_ssid, tricky_password = 'café "x" \\ y', "bell\x07pässwort"
    the_lab.air.add_access_point(tricky_ssid.encode(), tricky_password.encode())
    other = the_lab.camera(faults=[fault("qr-unicode-escape-low-byte")])
    assert pair(the_lab, other, ssid=tricky_ssid, password=tricky_password) is State.ONLINE


def test_no_prompt_sound(the_lab: Lab) -> None:
    good, bad = the_lab.camera(), the_lab.camera(faults=[fault("no-prompt-sound")])
    for cam in (good, bad):
        cam.present_qr(qr_image(token=the_lab.token()))
    assert good.events("prompt-sound") and not bad.events("prompt-sound")


# ----------------------------------------------------------------------------------------- config limits


def test_qr_scanner_stops_after_refusal(the_lab: Lab) -> None:
    from harness.qrimage import render_qr

    illegal = render_qr(b'{"s":"home-net","t":"EUabcdefgh1234"}')  # no p
    good = the_lab.camera(pairing_modes=("qr",))
    assert good.present_qr(illegal).outcome == "refused"
    assert good.present_qr(qr_image(token=the_lab.token())).outcome == "captured"
    bad = the_lab.camera(pairing_modes=("qr",), faults=[fault("qr-scanner-stops-after-refusal")])
    assert bad.present_qr(illegal).outcome == "refused" and bad.state is State.PAIRING
    assert bad.present_qr(qr_image(token=the_lab.token())).outcome == "no-code"
    bad.reset()
    assert pair(the_lab, bad) is State.ONLINE


def test_qr_scan_hangs_on_astral(the_lab: Lab) -> None:
    """A payload with an emoji (4 UTF-8 bytes) is neither captured nor refused: the scan never ends."""
    good, bad = the_lab.camera(), the_lab.camera(faults=[fault("qr-scan-hangs-on-astral")])
    assert good.present_qr(qr_image("home 🏠", token=the_lab.token())).outcome == "captured"
    with pytest.raises(TimeoutError):
        bad.present_qr(qr_image("home 🏠", token=the_lab.token()), timeout=1.0)
    assert bad.events("qr-scan-stuck") and not bad.events("config-received") and bad.state is State.PAIRING
    assert bad.present_qr(qr_image("home", token=the_lab.token())).outcome == "captured"  # plain text scans


def test_ssid_truncate_32(the_lab: Lab) -> None:
    ssid = "s" * 32
    the_lab.air.add_access_point(ssid.encode(), PASSWORD)
    assert pair(the_lab, the_lab.camera(), ssid=ssid) is State.ONLINE
    bad = the_lab.camera(faults=[fault("ssid-truncate-32")])
    bad.present_qr(qr_image(ssid, token=the_lab.token()))
    wait_until(lambda: bool(bad.events("wifi-join")))
    assert bad.events("wifi-join")[0].details["outcome"] == "no-such-ssid"


def test_crashes_on_long_ssid(the_lab: Lab) -> None:
    from harness.qrimage import render_qr

    long_ssid = b'{"s":"' + b"x" * 40 + b'","p":"pw123456","t":"EUabcdefgh1234"}'
    good = the_lab.camera()
    assert good.present_qr(render_qr(long_ssid)).outcome == "refused" and good.state is State.PAIRING
    bad = the_lab.camera(faults=[fault("crashes-on-long-ssid")])
    address = bad.ap_address
    assert address is not None
    bad.present_qr(render_qr(long_ssid))
    assert bad.state is State.CRASHED and not bad.alive
    assert bad.ap_address is None and bad.present_qr(qr_image(token=the_lab.token())).outcome == "not-listening"
    bad.reset()  # a dead firmware ignores its button
    assert bad.state is State.CRASHED
    bad.power_cycle()
    assert pair(the_lab, bad) is State.ONLINE


def test_ssid_strips_format_chars(the_lab: Lab) -> None:
    ssid = "home\u202enet\u200d"  # a right-to-left override and a zero-width joiner: invisible, but bytes of the SSID
    the_lab.air.add_access_point(ssid.encode(), PASSWORD)
    assert pair(the_lab, the_lab.camera(), ssid=ssid) is State.ONLINE
    bad = the_lab.camera(faults=[fault("ssid-strips-format-chars")])
    bad.present_qr(qr_image(ssid, token=the_lab.token()))
    wait_until(lambda: bool(bad.events("wifi-join")))
    assert bad.events("config-received")[0].details["ssid"] == "homenet"
    assert bad.events("wifi-join")[0].details["outcome"] == "no-such-ssid"


def test_crashes_on_short_password(the_lab: Lab) -> None:
    good = the_lab.camera(pairing_modes=("qr",))
    good.present_qr(qr_image(password="1234567", token=the_lab.token()))
    assert good.wait_for_state(State.PAIRING, State.ONLINE, timeout=10) is State.PAIRING and good.alive
    bad = the_lab.camera(pairing_modes=("qr",), faults=[fault("crashes-on-short-password")])
    bad.present_qr(qr_image(password="1234567", token=the_lab.token()))
    assert bad.state is State.CRASHED and not bad.alive
    bad.power_cycle()
    assert pair(the_lab, bad) is State.ONLINE


# ------------------------------------------------------------------------------------------------- EZ


def test_ez_skips_crc(the_lab: Lab) -> None:
    token = the_lab.token().encode()
    clean = encode_broadcast(SSID, PASSWORD, token)
    corrupted = list(clean)
    first_data = next(i for i, v in enumerate(clean) if v >= 256)
    corrupted[first_data + 1] ^= 0x01  # the password's first byte; the group's CRC-8 now disagrees
    air = Air(clock=the_lab.clock)
    air.add_access_point(SSID, PASSWORD)
    good = the_lab.camera(air=air, pairing_modes=("ez",), ez_channels=("broadcast",))
    bad = the_lab.camera(air=air, pairing_modes=("ez",), ez_channels=("broadcast",), faults=[fault("ez-skips-crc")])
    for lengths in [list(BROADCAST_PREAMBLE) + corrupted] + [list(BROADCAST_PREAMBLE) + clean] * 3:
        for value in lengths:
            air.send_length(value)
    the_lab.online(good)
    wait_until(lambda: bool(bad.events("wifi-join")))
    assert bad.events("wifi-join")[0].details["outcome"] == "wrong-password"


def test_ez_header_crc_unchecked(the_lab: Lab) -> None:
    token = the_lab.token().encode()
    clean = encode_broadcast(SSID, PASSWORD, token)
    length = len(broadcast_data(SSID, PASSWORD, token))
    short = 4 * ((length - 1) // 4)
    lying = [0x10 | short >> 4, 0x20 | short & 0xF, *clean[2:]]  # the header's CRC-8 is still that of L
    air = Air(clock=the_lab.clock)
    air.add_access_point(SSID, PASSWORD)
    good = the_lab.camera(air=air, pairing_modes=("ez",), ez_channels=("broadcast",))
    bad = the_lab.camera(air=air, pairing_modes=("ez",), ez_channels=("broadcast",),
                         faults=[fault("ez-header-crc-unchecked")])
    for lengths in [list(BROADCAST_PREAMBLE) + lying] + [list(BROADCAST_PREAMBLE) + clean] * 3:
        for value in lengths:
            air.send_length(value)
    the_lab.online(good)
    wait_until(lambda: bool(bad.events("wifi-join")))
    join = bad.events("wifi-join")[0].details
    assert join["outcome"] == "no-such-ssid" and join["ssid"] == SSID[:short - length].decode(), join
    # Everything else is the conformant decoder: the lossy, noisy air of §2.5 is no problem.
    noisy = Air(seed=7, loss=0.08, duplicate=0.05, reorder=0.05, noise=0.05, clock=the_lab.clock)
    _, faulty = ez_decoded(the_lab, fault("ez-header-crc-unchecked"), air=noisy)
    assert faulty.events("ez-decoded")


def ez_decoded(the_lab: Lab, name: str, ssid: bytes = SSID, password: bytes = PASSWORD, *,
               channels: tuple[str, ...] = ("broadcast", "multicast"), tail: str = "padded",
               air: Air | None = None) -> tuple[EmulatedCamera, EmulatedCamera]:
    """A conformant camera and one with the fault sniff the same EZ attempt; returns them once the good one has
    decoded it and the faulty one has heard all of it."""
    air = air or Air(clock=the_lab.clock)
    air.add_access_point(ssid, password)
    good = the_lab.camera(air=air, pairing_modes=("ez",))
    bad = the_lab.camera(air=air, pairing_modes=("ez",), faults=[fault(name)])
    token = the_lab.token().encode()
    air.send_all(transmission_schedule(ssid, password, token, channels=channels, tail=tail,  # type: ignore[arg-type]
                                       preamble_rounds=2, data_rounds=3))
    air.flush()
    wait_until(lambda: bool(good.events("ez-decoded")))
    bad.wait_for_state(*State)  # runs on the cameras' loop after every observation already handed to it
    return good, bad


def test_ez_broadcast_only(the_lab: Lab) -> None:
    _, bad = ez_decoded(the_lab, fault("ez-broadcast-only"), channels=("multicast",))
    assert not bad.events("ez-decoded")
    _, bad = ez_decoded(the_lab, fault("ez-broadcast-only"), channels=("broadcast",))
    assert bad.events("ez-decoded")


def test_ez_broadcast_64_byte_buffer(the_lab: Lab) -> None:
    ssid, password = b"s" * 32, b"0123456789abcdef" * 4
    _, bad = ez_decoded(the_lab, fault("ez-broadcast-64-byte-buffer"), ssid, password, channels=("broadcast",))
    assert not bad.events("ez-decoded")
    _, bad = ez_decoded(the_lab, fault("ez-broadcast-64-byte-buffer"), ssid, password, channels=("multicast",))
    assert bad.events("ez-decoded")


def test_ez_padded_tail_only(the_lab: Lab) -> None:
    ssid = b"home-net-31"  # 35 bytes: a last chunk of 3, sent as 6 values by the tuya-convert tail
    _, bad = ez_decoded(the_lab, fault("ez-padded-tail-only"), ssid, channels=("broadcast",), tail="tuya-convert")
    assert not bad.events("ez-decoded")
    _, bad = ez_decoded(the_lab, fault("ez-padded-tail-only"), ssid, channels=("broadcast",), tail="padded")
    assert bad.events("ez-decoded")


def test_ez_needs_clean_air(the_lab: Lab) -> None:
    _, bad = ez_decoded(the_lab, fault("ez-needs-clean-air"))
    assert bad.events("ez-decoded")
    noisy = Air(seed=7, loss=0.08, duplicate=0.05, reorder=0.05, noise=0.05, clock=the_lab.clock)
    _, bad = ez_decoded(the_lab, fault("ez-needs-clean-air"), air=noisy)
    assert not bad.events("ez-decoded")


def test_ez_round_at_a_time(the_lab: Lab) -> None:
    _, bad = ez_decoded(the_lab, fault("ez-round-at-a-time"), channels=("broadcast",))
    assert bad.events("ez-decoded")  # on a clean air every round arrives whole
    lossy = Air(seed=7, loss=0.08, clock=the_lab.clock)
    good, bad = ez_decoded(the_lab, fault("ez-round-at-a-time"), channels=("broadcast",), air=lossy)
    assert good.events("ez-decoded") and not bad.events("ez-decoded")  # no round of the three arrived whole
    lossy = Air(seed=7, loss=0.08, clock=the_lab.clock)
    _, bad = ez_decoded(the_lab, fault("ez-round-at-a-time"), air=lossy)
    wait_until(lambda: bool(bad.events("ez-decoded")))  # the multicast channel is decoded as usual


def test_ez_latin1_credentials(the_lab: Lab) -> None:
    ssid, password = "Büro-Netz".encode(), "pässwört-123".encode()
    _, bad = ez_decoded(the_lab, fault("ez-latin1-credentials"), ssid, password)
    wait_until(lambda: bool(bad.events("wifi-join")))
    assert bad.events("config-received")[0].details["ssid"] == "BÃ¼ro-Netz"
    assert bad.events("wifi-join")[0].details["outcome"] == "no-such-ssid"


def test_joins_without_handshake(the_lab: Lab) -> None:
    good = the_lab.camera(pairing_modes=("qr",))
    bad = the_lab.camera(pairing_modes=("qr",), faults=[fault("joins-without-handshake")])
    for cam in (good, bad):
        cam.present_qr(qr_image(password="not-the-password", token=the_lab.token()))
    assert good.wait_for_state(State.PAIRING, State.ONLINE, timeout=10) is State.PAIRING
    the_lab.online(bad)
    assert not good.activated and bad.activated


# ------------------------------------------------------------------------------------------------- AP


def _udp(address: tuple[str, int, int], frame: bytes) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.3)
        sock.sendto(frame, address[:2])
        try:
            return sock.recv(4096)
        except TimeoutError:
            return None


def test_ap_skips_crc(the_lab: Lab) -> None:
    frame = ap.encode_ap_config(SSID.decode(), PASSWORD.decode(), the_lab.token())
    bad_crc = frame[:-8] + bytes([frame[-8] ^ 0xFF]) + frame[-7:]
    good = the_lab.camera(pairing_modes=("ap",))
    assert good.ap_address is not None and _udp(good.ap_address, bad_crc) is None
    assert good.state is State.PAIRING
    bad = the_lab.camera(pairing_modes=("ap",), faults=[fault("ap-skips-crc")])
    assert bad.ap_address is not None and _udp(bad.ap_address, bad_crc) is not None
    the_lab.online(bad)


def test_keeps_ap_open_after_success(the_lab: Lab) -> None:
    good = online(the_lab)
    bad = online(the_lab, "keeps-ap-open-after-success")
    assert good.ap_address is None and bad.ap_address is not None


def test_ap_legacy_needs_passwd(the_lab: Lab) -> None:
    the_lab.air.add_access_point(b"open-net", b"")
    frame = ap.encode_ap_config("open-net", "", the_lab.token())
    assert b"passwd" not in ap.decode_ap_frame(frame).payload
    good = the_lab.camera(pairing_modes=("ap",))
    assert good.ap_address is not None and _udp(good.ap_address, frame) is not None
    the_lab.online(good)
    bad = the_lab.camera(pairing_modes=("ap",), faults=[fault("ap-legacy-needs-passwd")])
    assert bad.ap_address is not None and _udp(bad.ap_address, frame) is not None
    assert bad.events("config-refused") and bad.state is State.PAIRING


def _lpv35_ret(address: tuple[str, int, int], frame: bytes) -> int:
    with socket.create_connection(address[::2], timeout=2) as sock:
        sock.sendall(frame)
        reply = ap.decode_lpv35_frame(sock.recv(4096), key=ap.LPV35_APP_KEY)
    return ap.parse_ap_cfg_ack(reply.data).ret_code


def test_lpv35_acks_nonzero(the_lab: Lab) -> None:
    def frame() -> bytes:
        return ap.encode_ap_cfg_request(SSID.decode(), PASSWORD.decode(), the_lab.token(), seq=1, nonce=bytes(12))

    good = the_lab.camera(pairing_modes=("ap",))
    bad = the_lab.camera(pairing_modes=("ap",), faults=[fault("lpv35-acks-nonzero")])
    assert good.ap_address is not None and bad.ap_address is not None
    assert _lpv35_ret(good.ap_address, frame()) == 0
    assert _lpv35_ret(bad.ap_address, frame()) == 1
    the_lab.online(bad)  # it took the config all the same


def test_crashes_on_long_ap_password(the_lab: Lab) -> None:
    long_password = ap.encode_ap_frame(b'{"ssid":"home-net","passwd":"' + b"p" * 70 + b'","token":"EUabcdefgh1234"}')
    good = the_lab.camera(pairing_modes=("ap",))
    assert good.ap_address is not None and _udp(good.ap_address, long_password) is not None
    assert good.state is State.PAIRING
    bad = the_lab.camera(pairing_modes=("ap",), faults=[fault("crashes-on-long-ap-password")])
    assert bad.ap_address is not None
    _udp(bad.ap_address, long_password)
    assert bad.wait_for_state(State.CRASHED, timeout=2) is State.CRASHED and not bad.alive


# ------------------------------------------------------------------------------------------ activation


def test_token_split_wrong(the_lab: Lab) -> None:
    bad = the_lab.camera(faults=[fault("token-split-wrong")])
    token = the_lab.token()
    bad.present_qr(qr_image(token=token))
    assert bad.wait_for_state(State.FAILED, State.ONLINE, timeout=5) is State.FAILED
    assert bad.events("atop-request")[0].details["token"] != split_token_fixed(token)[1]


def test_token_whole_first(the_lab: Lab) -> None:
    def attempts(token: str) -> list[tuple[str, str | None]]:
        return [(a["outcome"], a["errorCode"]) for a in the_lab.cloud.app.token_attempts(the_lab.owner, token)]

    good_token, bad_token = the_lab.token(), the_lab.token()
    good, bad = the_lab.camera(), the_lab.camera(faults=[fault("token-whole-first")])
    for cam, token in ((good, good_token), (bad, bad_token)):
        assert cam.present_qr(qr_image(token=token)).outcome == "captured"
        assert cam.wait_for_state(State.ONLINE, State.FAILED, timeout=10) is State.ONLINE  # it pairs all the same
    assert attempts(good_token) == [("activated", None)]
    assert attempts(bad_token) == [("refused", "ILLEGAL_PARAM"), ("activated", None)]
    assert [e.details["token"] for e in bad.events("atop-request")] == [bad_token, split_token_fixed(bad_token)[1]]


def test_activates_without_token(the_lab: Lab) -> None:
    bad = the_lab.camera(faults=[fault("activates-without-token")])
    bad.present_qr(qr_image(token=the_lab.token()))
    assert bad.wait_for_state(State.FAILED, State.ONLINE, timeout=5) is State.FAILED
    assert bad.events("atop-refused") or bad.events("atop-bad-reply")


def test_ignores_reset_button(the_lab: Lab) -> None:
    good, bad = online(the_lab), online(the_lab, "ignores-reset-button")
    for cam in (good, bad):
        cam.reset()
    assert good.state is State.PAIRING and bad.state is State.ONLINE and bad.events("reset-ignored")
    bad.factory_reset()
    assert bad.state is State.PAIRING


def test_forgets_dev_id_on_reset(the_lab: Lab) -> None:
    good, bad = online(the_lab), online(the_lab, "forgets-dev-id-on-reset")
    for cam in (good, bad):
        cam.reset()
    assert good.kept_dev_id is not None and bad.kept_dev_id is None
    assert pair(the_lab, bad) is State.ONLINE
    assert bad.events("atop-request")[-1].details["dev_id"] is None


# ------------------------------------------------------------------------------------------------ MQTT


def test_mqtt_password_wrong(the_lab: Lab) -> None:
    bad = the_lab.camera(faults=[fault("mqtt-password-wrong")])
    assert pair(the_lab, bad) is State.PAIRING
    assert bad.events("mqtt-refused") and not bad.events("online")


def connected(cam: EmulatedCamera) -> None:
    """``cam`` has done what a camera does on connecting (its ``online`` step, which reports the DPs at once)."""
    wait_until(lambda: bool(cam.events("online")))
    cam.device_loop.run(asyncio.sleep(0))  # the step that recorded "online" has finished on the device loop


def test_never_reports_dps(the_lab: Lab) -> None:
    good, bad = online(the_lab), online(the_lab, "never-reports-dps")
    wait_until(lambda: bool(the_lab.device(good).dps))
    connected(good)
    connected(bad)
    assert good.events("mqtt-publish"), "a conformant camera publishes its report as it connects"
    assert not bad.events("mqtt-publish") and the_lab.device(bad).dps == {}


def test_reports_dps_only_on_command(the_lab: Lab) -> None:
    bad = online(the_lab, "reports-dps-only-on-command")
    connected(bad)
    assert not bad.events("mqtt-publish") and the_lab.device(bad).dps == {}  # nothing reported on connecting
    the_lab.cloud.app.send_dps(the_lab.owner, bad.dev_id, {"103": True})  # type: ignore[arg-type]
    wait_until(lambda: the_lab.device(bad).dps.get("103") is True)  # but a command is reported back


def test_ignores_dp_commands(the_lab: Lab) -> None:
    bad = online(the_lab, "ignores-dp-commands")
    the_lab.cloud.app.send_dps(the_lab.owner, bad.dev_id, {"103": True})  # type: ignore[arg-type]
    bad.wait_for_event("dp-command-ignored", 5)
    assert bad.dps["103"] is False


def test_ignores_remote_unbind(the_lab: Lab) -> None:
    bad = online(the_lab, "ignores-remote-unbind")
    the_lab.cloud.app.remove_device(the_lab.owner, bad.dev_id)  # type: ignore[arg-type]
    bad.wait_for_event("unbind-ignored", 5)
    assert bad.state is State.ONLINE and bad.activated


def test_ignores_remote_reset(the_lab: Lab) -> None:
    good, bad = online(the_lab), online(the_lab, "ignores-remote-reset")
    for cam in (good, bad):
        the_lab.cloud.app.remove_device(the_lab.owner, cam.dev_id, wipe=True)  # type: ignore[arg-type]
    assert good.wait_for_state(State.PAIRING, timeout=5) is State.PAIRING and good.kept_dev_id is None
    bad.wait_for_event("reset-ignored", 5)
    assert bad.state is State.ONLINE


def test_ignores_token_push(the_lab: Lab) -> None:
    """§11.6: a camera waiting on d/ai/<uuid> that drops the pushed token never activates; a conformant one does."""
    good = the_lab.camera(bind_by_uuid=True, pairing_modes=("qr",))
    bad = the_lab.camera(bind_by_uuid=True, pairing_modes=("qr",), faults=[fault("ignores-token-push")])
    for cam in (good, bad):
        cam.wait_for_event("bind-waiting", 5)
        the_lab.cloud.app.bind_uuid(the_lab.owner, the_lab.home, cam.uuid)
    assert good.wait_for_state(State.ONLINE, timeout=10) is State.ONLINE
    bad.wait_for_event("bind-push-ignored", 5)
    assert bad.state is State.PAIRING and not bad.activated


def test_reconnect_never(the_lab: Lab) -> None:
    bad = online(the_lab, "reconnect-never")
    bad.power_cycle()
    bad.wait_for_event("mqtt-not-attempted", 5)
    assert bad.state is State.CONNECTING and not bad.mqtt_online
    wait_until(lambda: not the_lab.device(bad).online)


def test_every_catalogued_fault_has_a_test_and_says_what_it_breaks() -> None:
    for entry in CAMERA_FAULTS.values():
        assert entry.description and entry.requirement and issubclass(entry.cls, EmulatedCamera)
    builtin = {n for n, e in CAMERA_FAULTS.items() if e.cls.__module__.startswith("harness.emulator.camera.faults.")}
    source = Path(__file__).read_text(encoding="utf-8")
    source += Path(__file__).with_name("test_camera_ble_faults.py").read_text(encoding="utf-8")  # BLE (§9)
    source += Path(__file__).with_name("test_camera_faults_detection.py").read_text(encoding="utf-8")
    untested = {name for name in builtin if f'"{name}")' not in source}
    assert not untested, f"camera faults without a test here: {sorted(untested)}"


# ------------------------------------------------------------------------------------------ from outside


class ShoutsToken(EmulatedCamera):
    """A fault defined outside the package, the documented way: subclass, override one hook."""

    def split_token(self, text: str) -> tuple[str, str, str]:
        region, token, secret = super().split_token(text)
        return region, token.upper(), secret


@pytest.fixture
def shouts_token() -> Iterator[type[EmulatedCamera]]:
    """Registered for this test only: the catalogue is global, and other tests check it lists the built-ins."""
    register_camera_fault("test-shouts-token", "sends its token in upper case",
                          requirement="PROTOCOL.md §1.4")(ShoutsToken)
    try:
        yield ShoutsToken
    finally:
        CAMERA_FAULTS.pop("test-shouts-token", None)


def test_a_fault_from_outside_combines_with_catalogued_ones(the_lab: Lab, shouts_token: type[EmulatedCamera]) -> None:
    cls = camera_class(["test-shouts-token", "no-prompt-sound"])
    assert cls.fault_names == ("test-shouts-token", "no-prompt-sound")
    assert camera_class([ShoutsToken]).fault_names == ("test-shouts-token",)
    cam = the_lab.camera(faults=[ShoutsToken, "no-prompt-sound"])
    token = the_lab.token()
    cam.present_qr(qr_image(token=token))
    assert not cam.events("prompt-sound")
    assert cam.events("atop-request")[0].details["token"] == split_token_fixed(token)[1].upper()
    expected = State.ONLINE if token[2:10] == token[2:10].upper() else State.FAILED
    assert cam.wait_for_state(State.FAILED, State.ONLINE, timeout=5) is expected
    with pytest.raises(ValueError, match="unknown camera fault"):
        camera_class(["no-such-fault"])


def test_token_region_ignored(the_lab: Lab) -> None:
    foreign = "EU" if the_lab.token()[:2] != "EU" else "US"
    for faults, expect in (((), State.FAILED), ((fault("token-region-ignored"),), State.ONLINE)):
        region = the_lab.token()[:2]
        cam = the_lab.camera(faults=faults, cloud={region: the_lab.endpoint})
        token = the_lab.token()
        assert cam.present_qr(qr_image(token=foreign + token[2:])).outcome == "captured"
        assert cam.wait_for_state(State.ONLINE, State.PAIRING, State.FAILED, timeout=10) is expect
        if expect is State.FAILED:  # refused by the camera itself: no cloud serves that region
            assert any(e.details.get("reason") == "unknown-region" for e in cam.events())
