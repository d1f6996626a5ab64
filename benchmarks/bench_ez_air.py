"""How many rounds of the EZ broadcast schedule the receiver needs over a lossy, noisy air, and whether it ever
yields a wrong message (PROTOCOL.md §2.3, §2.5). Where tests/test_protocol_smartconfig_air.py's round bounds
come from.

For each air setting, ``STREAMS`` random broadcast-only streams (SSID 1-32 random bytes; password empty or 8-64
random bytes; token 14 or 1-58 random bytes; either tail) are played through the emulator's seeded air
(:class:`harness.emulator.air.Air`, seed = the stream's number) into a fresh receiver, up to ``ROUNDS`` rounds of
``transmission_schedule(..., channels=["broadcast"])``. Reported per setting: the rounds needed at the median,
99th and 99.9th percentile and the maximum, how many streams were not decoded, and how many decoded to a message
that is not the one sent (the budget: none).
"""

from __future__ import annotations

import random
import statistics
from typing import Any

from benchmarks._common import row
from harness.emulator.air import Air, AirObservation
from harness.protocol.smartconfig import EzCredentials, SmartConfigReceiver, encode_broadcast, transmission_schedule

STREAMS = 1000
ROUNDS = 60
# name -> (loss, duplicate, reorder, noise)
AIRS: dict[str, tuple[float, float, float, float]] = {
    "loss 5%": (0.05, 0.0, 0.0, 0.0),
    "loss 10%": (0.10, 0.0, 0.0, 0.0),
    "loss 15%": (0.15, 0.0, 0.0, 0.0),
    "loss 10%, duplicates 5%, stray lengths 5%": (0.10, 0.05, 0.0, 0.05),
    "loss 15%, duplicates 5%, stray lengths 5%": (0.15, 0.05, 0.0, 0.05),
    "TC-EZ-004: loss 8%, duplicates, reordering, stray lengths 5% each": (0.08, 0.05, 0.05, 0.05),
}


def _stream(rng: random.Random) -> tuple[bytes, bytes, bytes, str]:
    ssid = rng.randbytes(rng.randint(1, 32))
    password = rng.randbytes(rng.choice([0, rng.randint(8, 64)]))
    token = rng.randbytes(rng.choice([14, rng.randint(1, 58)]))
    return ssid, password, token, rng.choice(["padded", "tuya-convert"])


def _rounds_needed(number: int, air_setting: tuple[float, float, float, float]) -> tuple[int | None, bool]:
    """(the 1-based round that completed the message or None, whether the message was the one sent)."""
    ssid, password, token, tail = _stream(random.Random(number))
    loss, duplicate, reorder, noise = air_setting
    air = Air(number, loss=loss, duplicate=duplicate, reorder=reorder, noise=noise)
    heard: list[AirObservation] = []
    air.listen(heard.append)
    per_round = len(encode_broadcast(ssid, password, token, tail=tail))  # type: ignore[arg-type]
    schedule = transmission_schedule(ssid, password, token, channels=["broadcast"], tail=tail,  # type: ignore[arg-type]
                                     preamble_rounds=1, data_rounds=ROUNDS)
    preamble = len(schedule) - ROUNDS * per_round
    receiver = SmartConfigReceiver()
    for index, observation in enumerate(schedule):
        air.send(observation)
        for got in heard:
            receiver.feed_length(int(got.value))
        heard.clear()
        if receiver.result is not None:
            return max(0, index - preamble) // per_round + 1, receiver.result == EzCredentials(ssid, password, token)
    return None, True


def _percentile(values: list[int], fraction: float) -> int:
    return sorted(values)[min(len(values) - 1, int(fraction * len(values)))]


def run() -> dict[str, Any]:
    per_air: dict[str, dict[str, Any]] = {}
    wrong_total = 0
    for name, setting in AIRS.items():
        outcomes = [_rounds_needed(number, setting) for number in range(STREAMS)]
        rounds = [needed for needed, _ in outcomes if needed is not None]
        wrong = sum(1 for _, right in outcomes if not right)
        wrong_total += wrong
        per_air[name] = {
            "streams": STREAMS,
            "not_decoded_within_rounds": STREAMS - len(rounds),
            "wrong_messages": wrong,
            "rounds_median": statistics.median(rounds) if rounds else None,
            "rounds_p99": _percentile(rounds, 0.99) if rounds else None,
            "rounds_p999": _percentile(rounds, 0.999) if rounds else None,
            "rounds_max": max(rounds) if rounds else None,
        }
    return {
        "budget": "no wrong message on any air",
        "within_budget": wrong_total == 0,
        "rounds_cap": ROUNDS,
        "airs": per_air,
        "measures": [row(f"EZ rounds at p99.9 (wrong messages), {name.split(':')[0]}",
                         f"{air['rounds_p999']} ({air['wrong_messages']})", "0 wrong",
                         air["wrong_messages"] == 0) for name, air in per_air.items()],
    }
