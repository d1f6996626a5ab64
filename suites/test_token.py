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
from harness.conformance.verdicts import Blocked
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
    assert outcome.code == ActivatorErrorCode.TOKEN_EXPIRED, f"an expired token was answered {outcome.error}, not 3718"
    assert lab.homes_holding([home]) == [], "the home lists a device paired with an expired token"


@pytest.mark.tc("TC-TOKEN-003", reqs=["REQ-TOKEN-002", "REQ-DELEGATE-007"])
def test_a_token_that_paired_a_device_cannot_pair_again(lab: Lab, device: DeviceAdapter, mode: str,
                                                        release: Callable[[], None]) -> None:
    """"The Token ... will be invalidated upon successful pairing" (seed): the same token pairs nothing more."""
    home = lab.home()
    token = lab.activator().get_token(home)
    first = lab.pair(mode, home=home, token=token)
    assert first.ok, f"the first pairing with a fresh token failed: {first.error}"
    release()
    again = lab.pair(mode, home=home, token=token)
    assert not again.ok, "a consumed token paired the device again"
    assert again.code == ActivatorErrorCode.TOKEN_EXPIRED, f"a consumed token was answered {again.error}, not 3718"


@pytest.mark.tc("TC-TOKEN-004", reqs=["REQ-TOKEN-003"])
def test_a_reset_device_pairs_again_with_a_new_token(lab: Lab, device: DeviceAdapter, mode: str,
                                                     release: Callable[[], None]) -> None:
    """"To pair the device again, a new QR code must be generated" (seed): a new token pairs the reset device."""
    home = lab.home()
    first = lab.pair(mode, home=home)
    assert first.ok, f"the first pairing failed: {first.error}"
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
    assert outcome.device_model is not None and outcome.device_model.home == chosen, \
        f"the app was told the device is in {outcome.device_model and outcome.device_model.home}, not {chosen}"
    held = lab.homes_holding([first, chosen, stranger_home])
    assert held == [chosen], f"the device is listed in {held}, not only in the token's home {chosen}"


@pytest.mark.tc("TC-TOKEN-006", reqs=["REQ-TOKEN-005"])
def test_a_token_of_another_region_activates_nothing(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter,
                                                     mode: str) -> None:
    """PROTOCOL.md §1.3/§4.4: the region prefix picks the cloud; a token from another region activates nothing."""
    home = lab.home()
    token = lab.activator().get_token(home)
    other = next(region for region in sorted(KNOWN_REGIONS) if region != token[:2])
    outcome = lab.pair(mode, home=home, token=other + token[2:])
    assert not outcome.ok, f"a token with region {other} paired the device on the {cloud.region} cloud"
    assert lab.homes_holding([home]) == [], "the home lists a device paired with another region's token"


@pytest.mark.tc("TC-TOKEN-007", reqs=["REQ-TOKEN-006"])
def test_tokens_are_unique_and_unguessable_over_many_draws(lab: Lab, cloud: CloudAdapter) -> None:
    """PROTOCOL.md §0/§1.3: 14 characters (known region, 8-character token, 4-character secret), never repeated,
    with no pattern from one draw to the next."""
    home = lab.home()
    activator = lab.activator()
    drawn = [activator.get_token(home) for _ in range(DRAWS)]
    parsed = [PairingToken.parse(text) for text in drawn]
    assert {p.region for p in parsed} == {cloud.region}, f"tokens of regions {sorted({p.region for p in parsed})}"
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


def bound_elsewhere(lab: Lab, cloud: CloudAdapter,
                    device: DeviceAdapter) -> tuple[probes.CloudEndpoints, str, str, str]:
    """A second device of the profile's product, strong-bound to another account by the lab: (endpoints, uuid,
    AuthKey, hid), so that any token of the lab's account it presents is refused by the binding rules (§6)."""
    licence = cloud.issue_licence(device.pid)
    lab.redactor.add(licence.auth_key)
    endpoints, hid, owner = probes.cloud_endpoints(cloud), probes.new_hid(), lab.account()
    bound = probes.activate_raw(endpoints, uuid=licence.uuid, auth_key=licence.auth_key, pid=device.pid,
                                token=lab.activator(owner).get_token(lab.home(owner)), hid=hid,
                                t=int(cloud.clock.time()))
    if not bound.accepted:
        raise Blocked(f"blocked: the lab's second device did not activate: {probes.describe(bound)}")
    return endpoints, licence.uuid, licence.auth_key, hid


@pytest.mark.tc("TC-TOKEN-009", reqs=["REQ-TOKEN-001", "REQ-TOKEN-002"])
@pytest.mark.requires("cloud:issue-licences", "binding:strong")
def test_a_token_refused_to_one_device_still_pairs_another(lab: Lab, cloud: CloudAdapter, device: DeviceAdapter,
                                                           mode: str) -> None:
    """"The Token ... will be invalidated upon successful pairing" (seed), and only then: a token first presented
    by a device the binding rules refuse (strong-bound to another account) still pairs the device it was meant
    for, within its lifetime."""
    endpoints, uuid, auth_key, hid = bound_elsewhere(lab, cloud, device)
    home = lab.home()
    token = lab.activator().get_token(home)
    refused = probes.activate_raw(endpoints, uuid=uuid, auth_key=auth_key, pid=device.pid, token=token, hid=hid,
                                  t=int(cloud.clock.time()))
    assert not refused.accepted, f"a strong-bound device was taken by another account: {probes.describe(refused)}"
    outcome = lab.pair(mode, home=home, token=token)
    assert outcome.ok, f"a token refused once to another device no longer pairs: {outcome.error}"


@pytest.mark.tc("TC-TOKEN-010", reqs=["REQ-TOKEN-001", "REQ-TOKEN-004"])
@pytest.mark.parametrize("homes", ["one-home", "two-homes-of-one-account"])
def test_every_outstanding_token_pairs_whatever_was_issued_after_it(lab: Lab, cloud: CloudAdapter,
                                                                    device: DeviceAdapter, mode: str,
                                                                    homes: str) -> None:
    """PROTOCOL.md §0: each token lives its own lifetime; a token issued later, for the same home or for another
    home of the same account (two phones adding devices at once), does not invalidate an earlier one."""
    home = lab.home()
    activator = lab.activator()
    earlier = activator.get_token(home)
    later = activator.get_token(home if homes == "one-home" else lab.home())
    assert later != earlier, "the cloud issued the same token twice"
    outcome = lab.pair(mode, home=home, token=earlier)
    assert outcome.ok, f"a token issued before another one ({homes}) no longer pairs: {outcome.error}"
    assert lab.homes_holding([home]) == [home], "the pairing succeeded but the token's home lacks it"


@pytest.mark.tc("TC-TOKEN-011", reqs=["REQ-TOKEN-001", "REQ-TOKEN-002"])
@pytest.mark.requires("cloud:issue-licences", "cloud:time-travel", "binding:strong")
@pytest.mark.parametrize("when", ["just-before-its-end", "just-after-its-end"])
def test_a_refused_presentation_neither_renews_nor_shortens_a_token(lab: Lab, cloud: CloudAdapter,
                                                                     device: DeviceAdapter, mode: str,
                                                                     when: str) -> None:
    """"The Token is valid for 10 minutes and will be invalidated upon successful pairing" (seed): a token
    presented halfway through its lifetime by a device the binding rules refuse keeps its lifetime from its issue,
    so it still pairs just before its end and is refused (3718) just after it."""
    endpoints, uuid, auth_key, hid = bound_elsewhere(lab, cloud, device)
    home = lab.home()
    token = lab.activator().get_token(home)
    issued = cloud.clock.time()
    lifetime = lab.token_lifetime_s
    lab.advance(lifetime / 2)
    refused = probes.activate_raw(endpoints, uuid=uuid, auth_key=auth_key, pid=device.pid, token=token, hid=hid,
                                  t=int(cloud.clock.time()))
    assert not refused.accepted, f"a strong-bound device was taken by another account: {probes.describe(refused)}"
    age = lifetime - min(30.0, lifetime / 10) if when == "just-before-its-end" else lifetime + 1
    lab.advance(issued + age - cloud.clock.time())
    outcome = lab.pair(mode, home=home, token=token)
    if when == "just-before-its-end":
        assert outcome.ok, (f"a token refused once at {lifetime / 2:g} s no longer pairs at {age:g} s of its "
                            f"{lifetime:g} s: {outcome.error}")
    else:
        assert not outcome.ok, (f"a token refused once at {lifetime / 2:g} s still paired at {age:g} s, past its "
                                f"{lifetime:g} s lifetime")
        assert outcome.code == ActivatorErrorCode.TOKEN_EXPIRED, \
            f"a token past its lifetime was answered {outcome.error}, not 3718"


# The t of a first activation from a device whose clock was never set (PROTOCOL.md §11.9.2 saw 5659 to 5803).
UNSET_CLOCK_T = 5803
DAY_S = 86_400


@pytest.mark.tc("TC-TOKEN-012", reqs=["REQ-TOKEN-008"])
@pytest.mark.requires("cloud:issue-licences", "cloud:time-travel")
@pytest.mark.parametrize("case", ["fresh-token-from-an-unset-clock", "fresh-token-from-a-clock-a-day-ahead",
                                  "expired-token-from-a-clock-still-in-its-lifetime"])
def test_the_cloud_ages_a_token_on_its_own_clock_not_the_activations_t(lab: Lab, cloud: CloudAdapter,
                                                                       device: DeviceAdapter, case: str) -> None:
    """PROTOCOL.md §0, §11.9.2: a token's lifetime runs on the cloud's clock from its issue. A device whose clock
    is not set yet (t=5803) or is a day ahead activates with a fresh token; an expired token is refused even when
    the activation's t says it was sent within the token's lifetime."""
    licence = cloud.issue_licence(device.pid)
    lab.redactor.add(licence.auth_key)
    home = lab.home()
    token = lab.activator().get_token(home)
    issued = int(cloud.clock.time())
    if case == "expired-token-from-a-clock-still-in-its-lifetime":
        lab.advance(lab.token_lifetime_s + 1)
    t = {"fresh-token-from-an-unset-clock": UNSET_CLOCK_T, "fresh-token-from-a-clock-a-day-ahead": issued + DAY_S,
         "expired-token-from-a-clock-still-in-its-lifetime": issued + 1}[case]
    reply = probes.activate_raw(probes.cloud_endpoints(cloud), uuid=licence.uuid, auth_key=licence.auth_key,
                                pid=device.pid, token=token, hid=probes.new_hid(), t=t)
    listed = any(d.uuid == licence.uuid for d in cloud.list_devices(home))
    if case.startswith("fresh-token"):
        assert reply.accepted, (f"an activation with a fresh token and t={t} (the cloud's clock says "
                                f"{int(cloud.clock.time())}) was refused: {probes.describe(reply)}")
        assert listed, "the activation was accepted but the token's home does not list the device"
    else:
        assert not reply.accepted, (f"a token {lab.token_lifetime_s + 1:g} s old on the cloud's clock activated a "
                                    f"device whose t={t} says 1 s: {probes.describe(reply)}")
        assert not listed, "the token's home lists a device activated with an expired token"
