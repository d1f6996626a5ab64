"""Camera faults of the detection work, each next to a conformant camera: DP values reported by value, the lab CA
kept across a reboot, the LPV3.5 answer, and the MQTT envelope version (tests/test_camera_faults.py reads this
file for its every-fault-has-a-test check)."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
from collections.abc import Iterator

import pytest
from _camera_helpers import PASSWORD, SSID, Lab, lab, qr_image, wait_until
from test_camera_faults import fault, online, pair

from harness.emulator.air import Air
from harness.emulator.camera.firmware import EmulatedCamera
from harness.emulator.camera.states import State
from harness.protocol import apconfig as ap
from harness.protocol.smartconfig import MULTICAST_PREAMBLE, encode_multicast
from harness.qrimage import render_qr


@pytest.fixture(scope="module")
def the_lab() -> Iterator[Lab]:
    with lab() as value:
        yield value


def test_drops_falsy_dp_values(the_lab: Lab) -> None:
    def send(cam: EmulatedCamera, dps: dict[str, object]) -> None:
        the_lab.cloud.app.send_dps(the_lab.owner, cam.dev_id, dps)  # type: ignore[arg-type]

    good, bad = online(the_lab), online(the_lab, "drops-falsy-dp-values")
    for cam in (good, bad):
        send(cam, {"103": True})
        wait_until(lambda cam=cam: the_lab.device(cam).dps.get("103") is True)
        send(cam, {"103": False})
        send(cam, {"106": "2"})  # the sentinel: reported after the answer to the command before it
        wait_until(lambda cam=cam: the_lab.device(cam).dps.get("106") == "2")
    assert the_lab.device(good).dps["103"] is False
    assert bad.dps["103"] is False and the_lab.device(bad).dps["103"] is True  # applied, never reported


def test_forgets_ca_on_reboot(the_lab: Lab) -> None:
    def rebooted(cam: EmulatedCamera) -> bytes | None:
        assert cam.activation is not None
        endpoint = dataclasses.replace(cam.activation.endpoint, ca_pem=b"the lab CA url_config gave")
        cam.activation = dataclasses.replace(cam.activation, endpoint=endpoint)
        cam.power_cycle()
        assert cam.wait_for_state(State.ONLINE, timeout=10) is State.ONLINE  # plain MQTT: no CA needed here
        assert cam.activation is not None
        return cam.activation.endpoint.ca_pem

    assert rebooted(online(the_lab)) == b"the lab CA url_config gave"
    assert rebooted(online(the_lab, "forgets-ca-on-reboot")) is None


def _lpv35_ret(cam: EmulatedCamera, payload: bytes) -> int:
    assert cam.ap_address is not None
    frame = ap.encode_lpv35_frame(ap.Lpv35Type.AP_CFG_WF_V40, payload, seq=1, key=ap.LPV35_APP_KEY,
                                  nonce=os.urandom(ap.NONCE_LEN))
    with socket.create_connection(cam.ap_address[::2], timeout=2) as sock:
        sock.sendall(frame)
        reply = ap.decode_lpv35_frame(sock.recv(4096), key=ap.LPV35_APP_KEY)
    return ap.parse_ap_cfg_ack(reply.data).ret_code


def test_lpv35_acks_zero_always(the_lab: Lab) -> None:
    refused = json.dumps({"ssid": "x" * 40, "passwd": "pw123456", "token": the_lab.token()}).encode()
    good = the_lab.camera(pairing_modes=("ap",))
    bad = the_lab.camera(pairing_modes=("ap",), faults=[fault("lpv35-acks-zero-always")])
    assert _lpv35_ret(good, refused) != 0
    assert _lpv35_ret(bad, refused) == 0
    assert bad.state is State.PAIRING and not bad.events("config-received")  # it took nothing all the same


def test_reports_in_another_mqtt_version(the_lab: Lab) -> None:
    good, bad = online(the_lab), online(the_lab, "reports-in-another-mqtt-version")
    wait_until(lambda: the_lab.device(good).report_pv is not None and the_lab.device(bad).report_pv is not None)
    assert the_lab.device(good).report_pv == good.mqtt_pv
    assert the_lab.device(bad).report_pv not in (None, bad.mqtt_pv)


def not_verbatim(the_lab: Lab, faulty: str, ssid: str, password: str, decoded: str) -> None:
    """A conformant camera joins ``ssid`` from a QR code; one with ``faulty`` looks for ``decoded`` instead."""
    the_lab.air.add_access_point(ssid.encode(), password.encode())
    assert pair(the_lab, the_lab.camera(), ssid=ssid, password=password) is State.ONLINE
    bad = the_lab.camera(faults=[faulty])
    bad.present_qr(qr_image(ssid, password, token=the_lab.token()))
    wait_until(lambda: bool(bad.events("wifi-join")))
    assert bad.events("config-received")[0].details["ssid"] == decoded
    assert bad.events("wifi-join")[0].details["outcome"] == "no-such-ssid"


def test_qr_trims_credentials(the_lab: Lab) -> None:
    not_verbatim(the_lab, fault("qr-trims-credentials"), " lab net ", " pass word ", "lab net")


def test_qr_url_decodes_credentials(the_lab: Lab) -> None:
    not_verbatim(the_lab, fault("qr-url-decodes-credentials"), "a+b%20c", "p%41ss+word", "a b c")


def test_ez_multicast_crc_unchecked(the_lab: Lab) -> None:
    token = the_lab.token().encode()
    corrupted = encode_multicast(SSID, PASSWORD, token)
    octets = corrupted[3].split(".")  # pair 3 of the SSID section holds its first SSID byte (§2.4)
    corrupted[3] = ".".join([*octets[:3], str(int(octets[3]) ^ 0x01)])
    air = Air(clock=the_lab.clock)
    air.add_access_point(SSID, PASSWORD)
    good = the_lab.camera(air=air, pairing_modes=("ez",), ez_channels=("multicast",))
    bad = the_lab.camera(air=air, pairing_modes=("ez",), ez_channels=("multicast",),
                         faults=[fault("ez-multicast-crc-unchecked")])
    clean = encode_multicast(SSID, PASSWORD, token)
    for body in [corrupted] + [clean] * 3:
        for address in (*MULTICAST_PREAMBLE, *body):
            air.send_address(address)
    air.flush()
    the_lab.online(good)
    wait_until(lambda: bool(bad.events("wifi-join")))
    join = bad.events("wifi-join")[0].details
    assert join["outcome"] == "no-such-ssid" and join["ssid"] != SSID.decode(), join


def test_qr_joins_without_token(the_lab: Lab) -> None:
    without_token = json.dumps({"s": SSID.decode(), "p": PASSWORD.decode()}).encode()
    good, bad = the_lab.camera(), the_lab.camera(faults=[fault("qr-joins-without-token")])
    for cam in (good, bad):
        cam.present_qr(render_qr(without_token))
    wait_until(lambda: bool(bad.events("wifi-join")))
    assert good.events("config-refused") and not good.events("wifi-join")
    assert bad.events("wifi-join")[0].details["ssid"] == SSID.decode() and not bad.activated


def test_qr_duplicate_member_last_wins(the_lab: Lab) -> None:
    doubled = json.dumps({"s": SSID.decode(), "p": PASSWORD.decode(), "t": the_lab.token()})[:-1] + ', "s": "other"}'
    good, bad = the_lab.camera(), the_lab.camera(faults=[fault("qr-duplicate-member-last-wins")])
    for cam in (good, bad):
        cam.present_qr(render_qr(doubled.encode()))
    wait_until(lambda: bool(bad.events("wifi-join")))
    assert good.events("config-refused") and not good.events("wifi-join")
    assert bad.events("wifi-join")[0].details["ssid"] == "other"
