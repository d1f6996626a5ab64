"""Token lifetime and invalidation: the pairing token lives for the profile's lifetime, is consumed by a successful
pairing, binds the device to its home, belongs to one region, and cannot be guessed (seed "device-pairing-qr-mode",
PROTOCOL.md §0, §1.3)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness.adapters import probes
from harness.adapters.contracts import CloudAdapter, DeviceAdapter
from harness.conformance.lab import Lab
from harness.model import ActivatorErrorCode
from harness.protocol.token import KNOWN_REGIONS, PairingToken, split_token_fixed

DRAWS = 200
MIN_SUCCESSOR_PAIRS = 100  # a counter's last position gives at most its alphabet's size (62)


@pytest.mark.tc("TC-TOKEN-001", reqs=["REQ-TOKEN-001"])
@pytest.mark.requires("cloud:time-travel")
def test_a_token_pairs_just_before_its_lifetime_ends(lab: Lab, device: DeviceAdapter, mode: str) -> None:
    """"The Token is valid for 10 minutes" (seed): a token used shortly before the profile's token_ttl_s pairs."""
    home = lab.home()
    token = lab.activator().get_token(home)
    lab.advance(lab.token_lifetime_s - min(30.0, lab.token_lifetime_s / 10))
    outcome = lab.pair(mode, home=home, token=token)
    assert outcome.ok, f"a token {min(30.0, lab.token_lifetime_s / 10):g} s before its end was refused: {outcome.error}"


@pytest.mark.tc("TC-TOKEN-002", reqs=["REQ-TOKEN-001", "REQ-DELEGATE-007"])
@pytest.mark.requires("cloud:time-travel")
def test_a_token_is_refused_just_after_its_lifetime_ends(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter,
                                                        mode: str) -> None:
    """"The Token is valid for 10 minutes" (seed): once token_ttl_s has passed it activates nothing (3718)."""
    home = lab.home()
    token = lab.activator().get_token(home)
    lab.advance(lab.token_lifetime_s + 1)
    outcome = lab.pair(mode, home=home, token=token)
    assert not outcome.ok, "an expired token paired the device"
    assert outcome.code == ActivatorErrorCode.TOKEN_EXPIRED
    assert lab.homes_holding([home]) == []


@pytest.mark.tc("TC-TOKEN-003", reqs=["REQ-TOKEN-002", "REQ-DELEGATE-007"])
def test_a_token_that_paired_a_device_cannot_pair_again(lab: Lab, device: DeviceAdapter, mode: str,
                                                        release: Callable[[], None]) -> None:
    """"The Token ... will be invalidated upon successful pairing" (seed): the same token pairs nothing more."""
    home = lab.home()
    token = lab.activator().get_token(home)
    assert lab.pair(mode, home=home, token=token).ok
    release()
    again = lab.pair(mode, home=home, token=token)
    assert not again.ok, "a consumed token paired the device again"
    assert again.code == ActivatorErrorCode.TOKEN_EXPIRED


@pytest.mark.tc("TC-TOKEN-004", reqs=["REQ-TOKEN-003"])
def test_a_reset_device_pairs_again_with_a_new_token(lab: Lab, device: DeviceAdapter, mode: str,
                                                     release: Callable[[], None]) -> None:
    """"To pair the device again, a new QR code must be generated" (seed): a new token pairs the reset device."""
    home = lab.home()
    assert lab.pair(mode, home=home).ok
    release()
    outcome = lab.pair(mode, home=home, token=lab.activator().get_token(home))
    assert outcome.ok, outcome.error


@pytest.mark.tc("TC-TOKEN-005", reqs=["REQ-TOKEN-004"])
def test_a_device_appears_in_the_tokens_home_and_in_no_other(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter,
                                                             mode: str) -> None:
    """"The token is associated with the home ID. After the device is successfully activated with this token,
    the device is displayed in the device list of this home" (seed)."""
    account = lab.account()
    first, chosen = lab.home(account), lab.home(account)
    stranger_home = lab.home(lab.account())
    outcome = lab.pair(mode, account=account, home=chosen)
    assert outcome.ok, outcome.error
    assert outcome.device_model is not None and outcome.device_model.home == chosen
    assert lab.homes_holding([first, chosen, stranger_home]) == [chosen]


@pytest.mark.tc("TC-TOKEN-006", reqs=["REQ-TOKEN-005"])
def test_a_token_of_another_region_activates_nothing(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter,
                                                     mode: str) -> None:
    """PROTOCOL.md §1.3/§4.4: the region prefix picks the cloud; a token from another region activates nothing."""
    home = lab.home()
    token = lab.activator().get_token(home)
    other = next(region for region in sorted(KNOWN_REGIONS) if region != token[:2])
    outcome = lab.pair(mode, home=home, token=other + token[2:])
    assert not outcome.ok, f"a token with region {other} paired the device on the {cloud.region} cloud"
    assert lab.homes_holding([home]) == []


@pytest.mark.tc("TC-TOKEN-007", reqs=["REQ-TOKEN-006"])
def test_tokens_are_unique_and_unguessable_over_many_draws(lab: Lab, cloud: CloudAdapter) -> None:
    """PROTOCOL.md §0/§1.3: 14 characters (known region, 8-character token, 4-character secret), never repeated,
    with no pattern from one draw to the next."""
    home = lab.home()
    activator = lab.activator()
    drawn = [activator.get_token(home) for _ in range(DRAWS)]
    parsed = [PairingToken.parse(text) for text in drawn]
    assert {p.region for p in parsed} == {cloud.region}
    assert len({p.token for p in parsed}) == DRAWS, "a token was issued twice"
    for position in range(8):
        assert len({p.token[position] for p in parsed}) >= 20, f"token character {position} barely varies"
    close = [(a.token, b.token) for a, b in itertools.pairwise(parsed)
             if sum(x != y for x, y in zip(a.token, b.token, strict=True)) <= 3]
    assert len(close) <= DRAWS // 50, f"consecutive tokens differ in 3 characters or fewer: {close[:3]}"
    # No position follows a successor rule (the next token's character fixed by the previous one's, as in any
    # counter, whatever its stride or alphabet order: at most one or two successors per character). Random
    # tokens give about 190 distinct (previous, next) pairs per position over 199 steps with 62 characters,
    # about 150 with the 20 the check above allows; fewer than MIN_SUCCESSOR_PAIRS is then far out in the tail.
    for position in range(8):
        pairs = {(a.token[position], b.token[position]) for a, b in itertools.pairwise(parsed)}
        assert len(pairs) >= MIN_SUCCESSOR_PAIRS, (
            f"token character {position} follows from the previous token's: only {len(pairs)} distinct "
            f"(previous, next) pairs over {DRAWS - 1} draws")


@pytest.mark.tc("TC-TOKEN-008", reqs=["REQ-TOKEN-007"])
@pytest.mark.requires("cloud:issue-licences")
def test_two_activations_racing_with_one_token_give_one_device(lab: Lab, cloud: CloudAdapter,
                                                               device: DeviceAdapter) -> None:
    """PROTOCOL.md §0 and DESIGN.md: a token is single-use; of two concurrent activations exactly one wins."""
    token = lab.activator().get_token(lab.home())
    licences = [lab.issue_licence() for _ in range(2)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        replies = list(pool.map(lambda lic: lab.activate_as_device(uuid=lic.uuid, auth_key=lic.auth_key,
                                                                   pid=device.pid, token=token), licences))
    assert sum(r.accepted for r in replies) == 1, [probes.describe(r) for r in replies]
    assert split_token_fixed(token)[1] == token[2:10]
