"""The scapy layers against the codecs: both build and parse the same bytes (vectors and generated frames)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from harness.net.layers import EzAddress, EzLength, TuyaAp55AA, TuyaLpv35, bind_ap_ports
from harness.protocol import apconfig
from harness.protocol.framing import FrameError

VECTORS = json.loads((Path(__file__).parent / "vectors" / "ap.json").read_text(encoding="utf-8"))
LEGACY_VECTORS = VECTORS["legacy_ap_v3"]["vectors"]
LPV35_VECTORS = VECTORS["lpv35_ap"]["vectors"]
KEY = apconfig.LPV35_APP_KEY
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

u32 = st.integers(min_value=0, max_value=2**32 - 1)
payloads = st.binary(max_size=300)


def _sealed_parts(frame: bytes) -> tuple[bytes, bytes, bytes]:
    """nonce, ciphertext, tag of a codec-built 6699 frame."""
    return frame[18:30], frame[30:-20], frame[-20:-4]


# ---------------------------------------------------------------------------------------------- 55AA, §3.1


@pytest.mark.parametrize("vector", LEGACY_VECTORS, ids=lambda v: v["name"])
def test_55aa_built_by_scapy_is_the_vector(vector: dict[str, Any]) -> None:
    built = bytes(TuyaAp55AA(seq=0, cmd=1, data=bytes.fromhex(vector["payload_hex"])))
    assert built.hex() == vector["frame_hex"]


@pytest.mark.parametrize("vector", LEGACY_VECTORS, ids=lambda v: v["name"])
def test_55aa_vector_dissects_into_its_fields(vector: dict[str, Any]) -> None:
    frame = TuyaAp55AA(bytes.fromhex(vector["frame_hex"]))
    assert (frame.prefix, frame.seq, frame.cmd, frame.suffix) == (0x55AA, 0, 1, 0xAA55)
    assert frame.data == bytes.fromhex(vector["payload_hex"])
    assert frame.length == len(frame.data) + 8
    assert f"{frame.crc:08x}" == vector["crc32_hex"]
    assert frame.frame() == apconfig.decode_ap_frame(bytes.fromhex(vector["frame_hex"]))


@FAST
@given(payload=payloads, seq=u32, cmd=u32)
def test_55aa_scapy_and_codec_agree(payload: bytes, seq: int, cmd: int) -> None:
    codec = apconfig.encode_ap_frame(payload, seq=seq, cmd=cmd)
    assert bytes(TuyaAp55AA(seq=seq, cmd=cmd, data=payload)) == codec
    assert apconfig.decode_ap_frame(bytes(TuyaAp55AA(seq=seq, cmd=cmd, data=payload))) == \
        apconfig.ApFrame(seq=seq, cmd=cmd, payload=payload)
    dissected = TuyaAp55AA(codec)
    assert (dissected.seq, dissected.cmd, dissected.data) == (seq, cmd, payload)
    assert bytes(dissected) == codec


def test_55aa_set_fields_are_kept_so_a_fuzzer_can_lie() -> None:
    wrong_crc = bytes(TuyaAp55AA(data=b"{}", crc=0xDEADBEEF))
    with pytest.raises(FrameError, match="CRC-32"):
        apconfig.decode_ap_frame(wrong_crc)
    assert apconfig.decode_ap_frame(wrong_crc, check_crc=False).payload == b"{}"
    with pytest.raises(FrameError):
        apconfig.decode_ap_frame(bytes(TuyaAp55AA(data=b"{}", length=99)))


# ---------------------------------------------------------------------------------------------- 6699, §3.2


@pytest.mark.parametrize("vector", LPV35_VECTORS, ids=lambda v: v["name"])
def test_6699_vector_dissects_rebuilds_and_opens(vector: dict[str, Any]) -> None:
    raw = bytes.fromhex(vector["frame_hex"])
    frame = TuyaLpv35(raw)
    assert (frame.prefix, frame.version, frame.reserved, frame.suffix) == (0x6699, 0, 0, 0x9966)
    assert (frame.seq, frame.type) == (vector["seq"], vector["type"])
    assert frame.length == len(raw) - 22
    nonce, ciphertext, tag = _sealed_parts(raw)
    assert (frame.nonce, frame.ciphertext, frame.tag) == (nonce, ciphertext, tag)
    rebuilt = TuyaLpv35(seq=vector["seq"], type=vector["type"], nonce=nonce, ciphertext=ciphertext, tag=tag)
    assert bytes(rebuilt) == raw
    assert frame.open() == apconfig.decode_lpv35_frame(raw, key=KEY)


@FAST
@given(data=payloads, seq=u32, frame_type=u32, nonce=st.binary(min_size=12, max_size=12))
def test_6699_scapy_and_codec_agree(data: bytes, seq: int, frame_type: int, nonce: bytes) -> None:
    codec = apconfig.encode_lpv35_frame(frame_type, data, seq=seq, key=KEY, nonce=nonce)
    _, ciphertext, tag = _sealed_parts(codec)
    built = bytes(TuyaLpv35(seq=seq, type=frame_type, nonce=nonce, ciphertext=ciphertext, tag=tag))
    assert built == codec
    assert apconfig.decode_lpv35_frame(built, key=KEY) == apconfig.Lpv35Frame(seq, frame_type, data, nonce)
    dissected = TuyaLpv35(codec)
    assert (dissected.seq, dissected.type, dissected.ciphertext) == (seq, frame_type, ciphertext)
    assert bytes(dissected) == codec


def test_two_6699_frames_in_one_segment_dissect_as_a_chain() -> None:
    first = apconfig.encode_ap_cfg_request("HomeNet", "pw", "AYabcdefgh1234", seq=1, nonce=b"a" * 12)
    second = apconfig.encode_ap_cfg_ack(0, seq=2, nonce=b"b" * 12)
    chain = TuyaLpv35(first + second)
    assert chain.open().seq == 1
    assert isinstance(chain.payload, TuyaLpv35)
    assert chain.payload.open() == apconfig.decode_lpv35_frame(second, key=KEY)
    assert bytes(chain) == first + second


# ---------------------------------------------------------------------------------------------- port bindings


def _wire(transport: Any, payload: bytes, dst: str = "192.168.176.1") -> Any:
    return Ether(bytes(Ether() / IP(dst=dst) / transport / Raw(payload)))


def test_ports_bind_the_layers_both_ways() -> None:
    legacy = apconfig.encode_ap_config("HomeNet", "pw", "AYabcdefgh1234")
    assert _wire(UDP(sport=40000, dport=6669), legacy)[TuyaAp55AA].frame().payload.startswith(b"{")
    assert TuyaAp55AA in _wire(UDP(sport=6669, dport=40000), legacy)
    sealed = apconfig.encode_ap_cfg_request("HomeNet", "pw", "AYabcdefgh1234", seq=1, nonce=b"n" * 12)
    for port in (6668, 7001):
        assert TuyaLpv35 in _wire(TCP(sport=40000, dport=port, flags="PA"), sealed)
        assert TuyaLpv35 in _wire(TCP(sport=port, dport=40000, flags="PA"), sealed)
    beacon = apconfig.encode_ap_beacon("192.168.176.1", "uuid1234", seq=0, nonce=b"c" * 12)
    assert _wire(UDP(sport=6667, dport=6667), beacon, "255.255.255.255")[TuyaLpv35].type == 0x11


def test_ez_datagrams_dissect_with_their_value() -> None:
    length = _wire(UDP(sport=6666, dport=30011), bytes(3), "255.255.255.255")
    assert length[EzLength].value == 3
    address = _wire(UDP(sport=6666, dport=30012), b"\x00", "226.120.89.84")
    assert address[EzAddress].value == "226.120.89.84"


def test_extra_ports_dissect_after_binding_them() -> None:
    legacy = apconfig.encode_ap_frame(b"{}")
    assert TuyaAp55AA not in _wire(UDP(sport=40000, dport=41234), legacy)
    bind_ap_ports(udp_port=41234, tcp_port=41235)
    assert TuyaAp55AA in _wire(UDP(sport=40000, dport=41234), legacy)
    sealed = apconfig.encode_ap_cfg_ack(0, seq=1, nonce=b"d" * 12)
    assert TuyaLpv35 in _wire(TCP(sport=41235, dport=40000, flags="PA"), sealed)
