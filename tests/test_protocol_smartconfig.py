"""EZ mode (SmartConfig) codec: vectors, round trips, a lossy air, corrupted checks, and the decoder invariant."""

from __future__ import annotations

import contextlib
import json
import random
import string
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.protocol.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from harness.protocol.smartconfig import (
    BROADCAST_PORT,
    BROADCAST_PREAMBLE,
    DATAGRAM_GAP_S,
    MULTICAST_PORT,
    MULTICAST_PREAMBLE,
    EzCredentials,
    Observation,
    SmartConfigReceiver,
    addresses,
    broadcast_data,
    crc8_maxim,
    crc32,
    decode_multicast_address,
    decrypt_password,
    encode_broadcast,
    encode_multicast,
    encrypt_password,
    lengths,
    multicast_sections,
    transmission_schedule,
)

VECTORS = json.loads((Path(__file__).parent / "vectors" / "ez.json").read_text(encoding="utf-8"))
CASES = VECTORS["vectors"]
T = TypeVar("T")
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def inputs_of(case: dict[str, Any]) -> tuple[bytes, bytes, bytes]:
    given_ = case["input"]
    token = given_["region"] + given_["token"] + given_["secret"]
    return given_["ssid"].encode(), given_["password"].encode(), token.encode()


def receive(stream: Iterable[Observation], receiver: SmartConfigReceiver | None = None) -> SmartConfigReceiver:
    receiver = receiver or SmartConfigReceiver()
    for observation in stream:
        receiver.feed(observation)
    return receiver


# --- §2.2 primitives and the vectors -----------------------------------------------------------------------------

def test_primitive_check_values() -> None:
    checks = VECTORS["primitive_checks"]
    assert crc8_maxim(b"123456789") == int(checks["crc8_maxim_check_123456789"], 16) == 0xA1
    assert crc32(b"123456789") == int(checks["crc32_check_123456789"], 16) == 0xCBF43926
    assert crc8_maxim(b"") == 0


def test_aes_zero_padding_and_empty_stays_empty() -> None:
    assert encrypt_password(b"") == b""
    assert len(encrypt_password(b"x" * 16)) == 16
    assert len(encrypt_password(b"x" * 17)) == 32
    assert decrypt_password(encrypt_password(b"hunter22"), 8) == b"hunter22"
    with pytest.raises(RemoteProtocolError):
        decrypt_password(encrypt_password(b"hunter22"), 7)  # the 8th byte is not zero padding
    with pytest.raises(RemoteProtocolError):
        decrypt_password(b"\x00" * 15, 8)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case["name"])
def test_every_vector_value_matches(case: dict[str, Any]) -> None:
    ssid, password, token = inputs_of(case)
    out, mid, sizes = case["output"], case["output"]["intermediate"], case["lengths"]
    assert token == mid["token_group"].encode()
    assert ssid.hex() == case["input_hex"]["ssid_bytes_as_transmitted"]
    assert password.hex() == case["input_hex"]["password_bytes_as_transmitted"]
    assert list(BROADCAST_PREAMBLE) == out["broadcast_head"]
    assert list(MULTICAST_PREAMBLE) == out["multicast_head"]
    assert encode_broadcast(ssid, password, token) == out["broadcast_body"]
    assert encode_broadcast(ssid, password, token, tail="tuya-convert") == out["broadcast_body"]
    assert encode_broadcast(ssid, password, token, tail="padded") == out["tuyapi_link_broadcast_body"]
    assert encode_multicast(ssid, password, token) == out["multicast_body"]
    assert list(broadcast_data(ssid, password, token)) == mid["broadcast_data_bytes_r"]
    sections = multicast_sections(ssid, password, token)
    assert list(sections["ssid"]) == mid["multicast_ssid_section_bytes"]
    assert list(sections["password"]) == mid["multicast_password_section_bytes"]
    assert list(sections["token"]) == mid["multicast_token_section_bytes"]
    assert crc32(ssid).to_bytes(4, "little").hex() == mid["crc32_ssid_le_hex"]
    assert crc32(password).to_bytes(4, "little").hex() == mid["crc32_password_le_hex"]
    assert crc32(token).to_bytes(4, "little").hex() == mid["crc32_token_group_le_hex"]
    assert encrypt_password(password).hex() == mid["aes_ecb_password_ciphertext_hex"]
    assert (len(ssid), len(password), len(token)) == (sizes["ssid"], sizes["password"], sizes["token_group"])
    assert len(broadcast_data(ssid, password, token)) == sizes["broadcast_data_len"]
    assert len(out["broadcast_body"]) == sizes["broadcast_body_packets"]
    assert len(out["multicast_body"]) == sizes["multicast_body_packets"]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case["name"])
@pytest.mark.parametrize("field", ["broadcast_body", "tuyapi_link_broadcast_body", "multicast_body"])
def test_every_vector_body_decodes(case: dict[str, Any], field: str) -> None:
    body = case["output"][field]
    stream = addresses(body) if field == "multicast_body" else lengths(body)
    receiver = receive(stream)
    assert receiver.result == EzCredentials(*inputs_of(case))
    assert receiver.completed_by == ("multicast" if field == "multicast_body" else "broadcast")


def test_schedule_follows_tuya_convert() -> None:
    ssid, password, token = inputs_of(CASES[0])
    plan = VECTORS["transmission_schedule"]
    assert plan["gap_between_datagrams_s"] == DATAGRAM_GAP_S
    schedule = transmission_schedule(ssid, password, token)
    mc_head, bc_head = addresses(MULTICAST_PREAMBLE), lengths(BROADCAST_PREAMBLE)
    mc_body = addresses(encode_multicast(ssid, password, token))
    bc_body = lengths(encode_broadcast(ssid, password, token))
    assert schedule == (mc_head + bc_head) * 40 + (mc_head + mc_body + bc_body) * 10
    only = transmission_schedule(ssid, password, token, channels=["broadcast"], preamble_rounds=2, data_rounds=1,
                                 tail="padded")
    assert only == bc_head * 2 + lengths(encode_broadcast(ssid, password, token, tail="padded"))
    assert schedule[0].destination == ("226.120.89.84", MULTICAST_PORT) and schedule[0].payload == b"\x00"
    assert schedule[3].destination == ("255.255.255.255", BROADCAST_PORT) and schedule[3].payload == b"\x00"
    assert schedule[6].payload == bytes(10)


# --- validation: local errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("ssid", "password", "token"),
    [
        (b"", b"", b"t" * 14),
        (b"s" * 33, b"", b"t" * 14),
        (b"s", b"p" * 65, b"t" * 14),
        (b"s", b"", b""),
        (b"s", b"", b"t" * 59),
        ("text", b"", b"t" * 14),
        (b"s", None, b"t" * 14),
    ],
)
def test_encoders_refuse_what_the_spec_cannot_carry(ssid: Any, password: Any, token: Any) -> None:
    for encode in (encode_broadcast, encode_multicast, transmission_schedule):
        with pytest.raises(LocalProtocolError):
            encode(ssid, password, token)
    with pytest.raises(LocalProtocolError):
        EzCredentials(ssid, password, token)


def test_bad_arguments_are_local_errors() -> None:
    args = (b"s", b"", b"t" * 14)
    with pytest.raises(LocalProtocolError):
        encode_broadcast(*args, tail="short")  # type: ignore[arg-type]
    for bad in ({"channels": []}, {"channels": ["radio"]}, {"data_rounds": -1}, {"preamble_rounds": True}):
        with pytest.raises(LocalProtocolError):
            transmission_schedule(*args, **bad)
    for kind, value in (("length", -1), ("length", 70_000), ("length", "5"), ("address", 5), ("address", "1.2.3"),
                        ("datagram", 5)):
        with pytest.raises(LocalProtocolError):
            Observation(kind, value)  # type: ignore[arg-type]
    for options in ({"broadcast_votes": 0}, {"broadcast_votes": 1.5}, {"length_offset": "42"}):
        with pytest.raises(LocalProtocolError):
            SmartConfigReceiver(**options)  # type: ignore[arg-type]
    receiver = SmartConfigReceiver()
    for call, value in ((receiver.feed_length, "12"), (receiver.feed_length, True), (receiver.feed_address, 226),
                        (receiver.feed, 12)):
        with pytest.raises(LocalProtocolError):
            call(value)


def test_multicast_address_decoding() -> None:
    assert decode_multicast_address("226.65.103.47") == (65, 47, 103)
    assert decode_multicast_address("239.255.255.250") is None
    assert decode_multicast_address("226.200.1.2") is None
    for garbage in ("not an ip", "226.67.24237.23478", "226.1.2", "226.01.2.3", ""):
        with pytest.raises(RemoteProtocolError) as caught:
            decode_multicast_address(garbage)
        assert caught.value.section == "§2.4"


# --- round trips over the valid input space ----------------------------------------------------------------------

ssids = st.one_of(
    st.binary(min_size=1, max_size=32),
    st.text(min_size=1, max_size=32).map(str.encode).filter(lambda raw: len(raw) <= 32),
)
wpa_passwords = st.one_of(st.just(b""), st.binary(min_size=8, max_size=64))
tokens = st.text(string.ascii_letters + string.digits + "_", min_size=14, max_size=14).map(str.encode)


def interleave(rng: random.Random, *streams: list[T]) -> list[T]:
    """Merge streams at random, keeping each one's own order (two senders sharing the air)."""
    queues = [list(reversed(stream)) for stream in streams if stream]
    merged: list[T] = []
    while queues:
        queue = rng.choice(queues)
        merged.append(queue.pop())
        if not queue:
            queues.remove(queue)
    return merged


@FAST
@given(ssid=ssids, password=wpa_passwords, token=tokens, tail=st.sampled_from(["padded", "tuya-convert"]),
       rng=st.randoms(use_true_random=False))
def test_round_trip_each_channel_alone_and_interleaved(
    ssid: bytes, password: bytes, token: bytes, tail: Any, rng: random.Random
) -> None:
    expected = EzCredentials(ssid, password, token)
    bc = lengths(encode_broadcast(ssid, password, token, tail=tail))
    mc = addresses(encode_multicast(ssid, password, token))
    assert receive(bc).result == expected
    assert receive(mc).result == expected
    both = receive(interleave(rng, bc, mc))
    assert both.result == expected and both.completed_by in ("broadcast", "multicast")
    schedule = transmission_schedule(ssid, password, token, tail=tail, preamble_rounds=1, data_rounds=1)
    assert receive(schedule).result == expected


@settings(max_examples=40, deadline=None)
@given(ssid=st.binary(min_size=1, max_size=32), password=st.binary(max_size=64),
       token=st.binary(min_size=1, max_size=58))
def test_round_trip_over_the_whole_encodable_space(ssid: bytes, password: bytes, token: bytes) -> None:
    expected = EzCredentials(ssid, password, token)
    assert receive(lengths(encode_broadcast(ssid, password, token))).result == expected
    assert receive(addresses(encode_multicast(ssid, password, token))).result == expected


@pytest.mark.parametrize("password_len", [48, 49, 63, 64])
def test_long_passwords_collide_with_the_token_section_and_still_decode(password_len: int) -> None:
    # §2.4 step 6 (the max_lengths_ssid32_pw63 input is not in ez.json; built here): 49-64 byte passwords need
    # 35 addresses, sequence numbers 0-34, and 32-34 are also the token section's first three.
    ssid, password, token = "Ünïcödé-SSID-of-32-bytes!".encode().ljust(32, b"x"), b"p" * password_len, b"US000000000101"
    body = encode_multicast(ssid, password, token)
    seqs = [decode_multicast_address(address)[0] for address in body]  # type: ignore[index]
    collided = {seq for seq in seqs if seqs.count(seq) > 1}
    assert collided == ({32, 33, 34} if password_len > 48 else set())
    expected = EzCredentials(ssid, password, token)
    assert receive(addresses(body)).result == expected
    assert receive(addresses(list(reversed(body)))).result == expected
    rng = random.Random(password_len)
    shuffled = body * 3
    rng.shuffle(shuffled)
    assert receive(addresses(shuffled)).result == expected


# --- a lossy, noisy air -----------------------------------------------------------------------------------------

def noise(rng: random.Random) -> Observation:
    pick = rng.random()
    if pick < 0.5:
        return Observation("length", rng.randrange(0, 1500))
    if pick < 0.6:
        return Observation("address", rng.choice(["239.255.255.250", "224.0.0.251", "224.0.0.22"]))
    # Unrelated traffic that lands in the EZ alphabet itself: the hard case.
    return Observation("address", f"226.{rng.randrange(128)}.{rng.randrange(256)}.{rng.randrange(256)}")


def impair(stream: list[Observation], rng: random.Random, *, loss: float = 0.2, duplicate: float = 0.05,
           swap: float = 0.05, extra: float = 0.2) -> list[Observation]:
    out: list[Observation] = []
    for observation in stream:
        if rng.random() < extra:
            out.append(noise(rng))
        if rng.random() < loss:
            continue
        out.append(observation)
        if rng.random() < duplicate:
            out.append(observation)
    for i in range(len(out) - 1):
        if rng.random() < swap:
            out[i], out[i + 1] = out[i + 1], out[i]
    return out


def rounds_until_result(receiver: SmartConfigReceiver, make_round: Callable[[], list[Observation]],
                        limit: int) -> int:
    for attempt in range(1, limit + 1):
        receive(make_round(), receiver)
        if receiver.result is not None:
            return attempt
    return limit + 1


LOSSY_INPUTS = [
    (b"HomeNet", b"hunter22", b"EUAbCd1234WWB3"),
    ("Café ☕ 2.4GHz".encode(), b"correct horse battery staple", b"US000000000101"),
    (b"S" * 32, b"p" * 63, b"AY0a1B2c3D4e5F"),
    (b"x", b"", b"CN_____________"[:14]),
]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize(
    ("channels", "votes"),
    [(("broadcast",), 1), (("broadcast",), 2), (("multicast",), 1), (("broadcast", "multicast"), 1)],
    ids=["broadcast", "broadcast-2-votes", "multicast", "both"],
)
def test_a_lossy_noisy_air_yields_exactly_the_input(seed: int, channels: Any, votes: int) -> None:
    rng = random.Random(seed)
    ssid, password, token = LOSSY_INPUTS[seed % len(LOSSY_INPUTS)]
    schedule = transmission_schedule(ssid, password, token, channels=channels, preamble_rounds=1, data_rounds=1,
                                     tail=rng.choice(["padded", "tuya-convert"]))
    receiver = SmartConfigReceiver(broadcast_votes=votes)
    rounds = rounds_until_result(receiver, lambda: impair(schedule, rng), limit=200)
    assert receiver.result == EzCredentials(ssid, password, token), f"after {rounds} rounds"


@pytest.mark.parametrize("seed", range(3))
def test_multicast_survives_a_flood_inside_its_own_address_band(seed: int) -> None:
    rng = random.Random(seed)
    ssid, password, token = LOSSY_INPUTS[2]  # the colliding 63-byte password
    body = addresses(MULTICAST_PREAMBLE) + addresses(encode_multicast(ssid, password, token))

    def flooded() -> list[Observation]:
        out = impair(body, rng, loss=0.3, extra=0.0)
        for _ in range(len(body)):
            out.insert(rng.randrange(len(out) + 1),
                       Observation("address", f"226.{rng.randrange(84)}.{rng.randrange(256)}.{rng.randrange(256)}"))
        return out

    receiver = SmartConfigReceiver()
    rounds = rounds_until_result(receiver, flooded, limit=60)
    assert receiver.result == EzCredentials(ssid, password, token), f"after {rounds} rounds"


def test_one_clean_round_is_enough_but_a_damaged_air_needs_a_second_vote() -> None:
    ssid, password, token = inputs_of(CASES[0])
    body = encode_broadcast(ssid, password, token)
    assert receive(lengths(body)).result == EzCredentials(ssid, password, token)
    # Group 2's window is body[16:22]: its two control values, then its 4 data values (4 header values first).
    corrupted = [*body[:19], 0x100 | (body[19] ^ 0x55) & 0xFF, *body[20:]]  # a data value of group 2 replaced
    receiver = receive(lengths(corrupted))
    assert receiver.result is None
    receive(lengths(body), receiver)
    assert receiver.result is None  # group 2 has one clean reading so far, and this air has shown damage
    assert receiver.progress().broadcast_groups_known == receiver.progress().broadcast_groups_total - 1  # type: ignore[operator]
    receive(lengths(body), receiver)
    assert receiver.result == EzCredentials(ssid, password, token)


def test_a_stray_value_inside_a_window_is_taken_out_and_the_rest_counts() -> None:
    # A reading one value too long is explained on a noisy air by one inserted datagram: with it taken out, its
    # bytes count as a second reading, so one clean round after it is enough. (No two equal bytes side by side
    # here: a group holding them must be read whole once more on a noisy air.)
    ssid, password, token = b"HomeNet", b"hunter-2", b"EUAbCd1234WxB3"
    body = encode_broadcast(ssid, password, token)
    noisy = [*body[:20], 0x100 | 0x55, *body[20:]]  # a stray data value inside group 2's window
    receiver = receive(lengths(noisy))
    assert receiver.result is None
    receive(lengths(body), receiver)
    assert receiver.result == EzCredentials(ssid, password, token)


def test_the_preamble_and_progress_are_reported() -> None:
    ssid, password, token = inputs_of(CASES[0])
    receiver = SmartConfigReceiver()
    start = receiver.progress()
    assert not start.preamble_lengths and not start.preamble_addresses and start.completed_by is None
    receive(transmission_schedule(ssid, password, token, preamble_rounds=1, data_rounds=0), receiver)
    assert receiver.progress().preamble_lengths and receiver.progress().preamble_addresses
    body = encode_broadcast(ssid, password, token)
    receive(lengths(body[:-10]), receiver)
    middle = receiver.progress()
    assert middle.broadcast_length == 31 and middle.broadcast_groups_total == 8
    assert 0 < middle.broadcast_groups_known < 8 and receiver.result is None
    receive(addresses(encode_multicast(ssid, password, token)[:7]), receiver)
    assert receiver.progress().multicast_sections == {"ssid"}
    receive(lengths(body[-10:]), receiver)
    assert receiver.result == EzCredentials(ssid, password, token) and receiver.completed_by == "broadcast"
    receive(addresses(encode_multicast(b"other", b"", b"t" * 14)), receiver)  # ignored once complete
    assert receiver.result == EzCredentials(ssid, password, token)


def test_frame_length_offset_is_subtracted() -> None:
    ssid, password, token = inputs_of(CASES[1])
    receiver = SmartConfigReceiver(length_offset=58)
    receive(lengths(value + 58 for value in BROADCAST_PREAMBLE + tuple(encode_broadcast(ssid, password, token))),
            receiver)
    assert receiver.progress().preamble_lengths
    assert receiver.result == EzCredentials(ssid, password, token)


# --- checks are never bypassed ----------------------------------------------------------------------------------

def group_data_positions(body: list[int]) -> list[tuple[int, int]]:
    """(index in body, group number) of every data value of the encoded broadcast body."""
    found, group = [], -1
    for index, value in enumerate(body):
        if 128 <= value < 256 and index and 128 <= body[index - 1] < 256:
            group = value & 0x7F
        elif value >= 256 and group >= 0:
            found.append((index, group))
    return found


@FAST
@given(ssid=ssids, password=wpa_passwords, token=tokens, data=st.data())
def test_a_group_failing_its_crc_is_never_accepted(ssid: bytes, password: bytes, token: bytes,
                                                   data: st.DataObject) -> None:
    body = encode_broadcast(ssid, password, token, tail="padded")
    size = len(broadcast_data(ssid, password, token))
    real_bytes = [(i, g) for position, (i, g) in enumerate(group_data_positions(body)) if position < size]
    index, group = data.draw(st.sampled_from(real_bytes))
    start = index - (index - 6) % 6  # the first data value of this group (4 header values, then 6 per group)
    chunk = [value & 0xFF for value in body[start:start + 4]]
    new = data.draw(st.integers(0, 255).filter(lambda byte: byte != body[index] & 0xFF))
    chunk[index - start] = new
    check = body[start - 2] & 0x7F
    if crc8_maxim(bytes([group, *chunk])) & 0x7F == check:
        return  # undetectable by a 7-bit check: not what this test is about
    corrupted = [*body[:index], 0x100 | new, *body[index + 1:]]
    receiver = receive(lengths(corrupted * 5))
    assert receiver.result is None
    assert receiver.progress().broadcast_groups_known == receiver.progress().broadcast_groups_total - 1  # type: ignore[operator]


def test_a_header_failing_its_crc_is_never_accepted() -> None:
    ssid, password, token = inputs_of(CASES[0])
    body = encode_broadcast(ssid, password, token)
    corrupted = [body[0], body[1], body[2], 0x40 | (body[3] + 1) & 0xF, *body[4:]]
    receiver = receive(lengths(corrupted * 5))
    assert receiver.result is None and receiver.progress().broadcast_length is None


@FAST
@given(ssid=ssids, password=wpa_passwords, token=tokens, data=st.data())
def test_a_multicast_section_failing_its_crc_is_never_accepted(ssid: bytes, password: bytes, token: bytes,
                                                               data: st.DataObject) -> None:
    body = encode_multicast(ssid, password, token)
    index = data.draw(st.integers(0, len(body) - 1))
    prefix, seq, high, low = body[index].split(".")
    octet = data.draw(st.sampled_from([2, 3]))
    old = int(high if octet == 2 else low)
    new = data.draw(st.integers(0, 255).filter(lambda byte: byte != old))
    parts = [prefix, seq, high, low]
    parts[octet] = str(new)
    corrupted = [*body[:index], ".".join(parts), *body[index + 1:]]
    receiver = receive(addresses(corrupted * 3))
    assert receiver.result is None
    assert len(receiver.progress().multicast_sections) == 2


def test_a_forged_group_loses_the_vote_to_the_real_one() -> None:
    # A control pair followed by noise in 256..511 that happens to pass the 7-bit group check.
    ssid, password, token = inputs_of(CASES[0])
    body = encode_broadcast(ssid, password, token, tail="padded")
    real = bytes(value & 0xFF for value in body[12:16])  # group 1: header 0-3, group 0 4-9, group 1 10-15
    forged = next(
        candidate for n in range(1 << 16)
        if (candidate := bytes([n & 0xFF, n >> 8, 0x41, 0x42])) != real
        and crc8_maxim(bytes([1, *candidate])) & 0x7F == crc8_maxim(bytes([1, *real])) & 0x7F
    )
    forgery = lengths([body[10], body[11], *(0x100 | byte for byte in forged)])
    receiver = receive(forgery)
    receive(lengths(body), receiver)
    assert receiver.result is None  # a tie: neither the forgery nor the real group is taken yet
    receive(lengths(body), receiver)
    assert receiver.result is None  # two readings to one: a rival passing the check must be outvoted by two
    receive(lengths(body), receiver)
    assert receiver.result == EzCredentials(ssid, password, token)
    cautious = receive(forgery, SmartConfigReceiver(broadcast_votes=2))
    receive(lengths(body) * 3, cautious)
    assert cautious.result == EzCredentials(ssid, password, token)


def test_random_corruption_never_yields_wrong_credentials() -> None:
    rng = random.Random(7)
    ssid, password, token = LOSSY_INPUTS[1]
    expected = EzCredentials(ssid, password, token)
    for _ in range(20):
        receiver = SmartConfigReceiver(broadcast_votes=2)
        for _ in range(15):
            stream = transmission_schedule(ssid, password, token, preamble_rounds=0, data_rounds=1)
            for observation in stream:
                if rng.random() < 0.1 and observation.kind == "length":
                    receiver.feed_length(int(observation.value) ^ (1 << rng.randrange(8)))
                elif rng.random() < 0.1:
                    receiver.feed_address(f"226.{rng.randrange(90)}.{rng.randrange(256)}.{rng.randrange(256)}")
                else:
                    receiver.feed(observation)
        assert receiver.result in (None, expected)


# --- the decoder invariant: it works or raises ProtocolError, nothing else ----------------------------------------

garbage = st.one_of(
    st.tuples(st.just("length"), st.integers(-(1 << 70), 1 << 70)),
    st.tuples(st.just("length"), st.integers(0, 600)),
    st.tuples(st.just("address"), st.text(max_size=20)),
    st.tuples(st.just("address"), st.builds("226.{}.{}.{}".format, st.integers(0, 300), st.integers(0, 300),
                                            st.integers(-1, 300))),
    st.tuples(st.sampled_from(["length", "address", "feed"]),
              st.one_of(st.none(), st.floats(), st.binary(max_size=4), st.booleans(), st.lists(st.integers()))),
)


@settings(max_examples=150, deadline=None)
@given(ops=st.lists(garbage, max_size=60), ssid=ssids, password=wpa_passwords, token=tokens,
       rng=st.randoms(use_true_random=False))
def test_any_input_either_works_or_raises_protocol_error(
    ops: list[tuple[str, Any]], ssid: bytes, password: bytes, token: bytes, rng: random.Random
) -> None:
    schedule = transmission_schedule(ssid, password, token, preamble_rounds=1, data_rounds=1)
    real: list[tuple[str, Any]] = [(observation.kind, observation.value) for observation in schedule]
    receiver = SmartConfigReceiver()
    calls: dict[str, Callable[[Any], None]] = {
        "length": receiver.feed_length, "address": receiver.feed_address, "feed": receiver.feed,
    }
    for kind, value in interleave(rng, real, ops):
        with contextlib.suppress(ProtocolError):
            calls[kind](value)
        receiver.progress()
