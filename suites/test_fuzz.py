"""Generated inputs along every path they travel, and the whole pairing and binding lifecycle as a state machine
(REQ-FUZZ-001..005; PROTOCOL.md §0-§6).

Hypothesis runs inside each test with the settings of the active fuzz budget (``PAIRCERT_FUZZ_BUDGET``: ci,
default, nightly; ``paircert run --fuzz-budget``). The device fixture is prepared once per test; each
generated example starts from a clean slate of its own (removed and wiped, factory-reset, pairing mode).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import FlakyFailure

from harness.adapters.contracts import (
    CloudAdapter,
    DeviceAdapter,
    NetworkAdapter,
    NetworkCapability,
    World,
    network_can,
)
from harness.conformance.verdicts import DeviceFailure
from harness.fuzzing.drive import CASE_TIMEOUT_S, FuzzContext
from harness.fuzzing.targets import AtopCase, PairCase, RefuseCase, atop_cases, invalid_cases, run_case, valid_cases
from harness.profiles import Profile
from harness.testing.stateful import PairingTarget, run_pairing_machine
from harness.testing.strategies import budget_settings, scaled, tokens

BUDGET = budget_settings(suppress_health_check=list(HealthCheck))
# The lifecycle model needs a few steps to reach a state worth checking (a bound device moved, removed, reset,
# its licence revoked): at least 12 examples of 8 steps whatever the budget (a few seconds on the emulated world).
# Counted, never timed: at ci (derandomized) the same steps on every run. No explain phase: it reruns the minimal
# failure many times over for a note the report does not need.
STATEFUL_BUDGET = settings(scaled(BUDGET, 0.75, least=12), stateful_step_count=max(8, BUDGET.stateful_step_count),
                           phases=[p for p in BUDGET.phases if p is not Phase.explain])
# On real time every example that must be refused waits out the app's timeout: a quarter of the budget's examples.
REAL_TIME_SHARE = 0.25
# On real time the lifecycle model is counted in examples, never cut by a clock (an example refused for want of
# time makes Hypothesis call its data generation flaky): a few short examples, each step waiting at most the
# profile's activator timeout.
REAL_TIME_STATEFUL = settings(BUDGET, max_examples=max(3, int(BUDGET.max_examples * REAL_TIME_SHARE)),
                              stateful_step_count=max(4, BUDGET.stateful_step_count // 2))


def budget(fuzz: FuzzContext, fraction: float) -> settings:
    """The budget's examples scaled by ``fraction`` (and by :data:`REAL_TIME_SHARE` on a real clock)."""
    if fuzz.cloud.clock.is_virtual:
        return scaled(BUDGET, fraction)
    return scaled(BUDGET, fraction * REAL_TIME_SHARE, least=2)


MODES = [pytest.param("qr", marks=pytest.mark.requires("mode:qr"), id="qr"),
         pytest.param("ez", marks=pytest.mark.requires("mode:ez", "network:send-ez"), id="ez"),
         pytest.param("ap", marks=pytest.mark.requires("mode:ap"), id="ap"),
         pytest.param("ble", marks=pytest.mark.requires("mode:ble"), id="ble")]


def claimed(profile: Profile, family: str) -> list[str]:
    """The claimed modes of a family: ``qr``, ``ez``, or ``ap-legacy``/``ap-lpv35`` as the profile's variants."""
    caps = profile.capabilities
    if family == "ap":
        return [f"ap-{variant}" for variant in caps.ap_variants] if "ap" in caps.pairing_modes else []
    return [family] if family in caps.pairing_modes else []


@pytest.fixture
def fuzz(cloud: CloudAdapter, network: NetworkAdapter, device: DeviceAdapter,
         profile: Profile) -> Iterator[FuzzContext]:
    """The fuzz cases' lab: a fresh account and home, the claimed modes, the prepared device; a device that a
    case killed is power cycled afterwards for the tests that follow (the verdict on this one stands)."""
    modes = tuple(m for family in ("qr", "ez", "ap", "ble") for m in claimed(profile, family)
                  if m != "ez" or network_can(network, NetworkCapability.SEND_EZ))
    wifi = profile.parameters.wifi
    lab_wifi = None if wifi is None else (
        wifi.ssid, wifi.password.resolve().get_secret_value() if wifi.password else "")
    context = FuzzContext(cloud, network, device, modes, lab_wifi=lab_wifi,
                          case_timeout_s=min(CASE_TIMEOUT_S, profile.parameters.activator_timeout_s))
    yield context
    context.revive()


@pytest.mark.tc("TC-FUZZ-001", reqs=["REQ-FUZZ-001"])
@pytest.mark.parametrize("family", MODES)
def test_generated_valid_inputs_pair_and_join_exactly_that_network(fuzz: FuzzContext, profile: Profile,
                                                                   family: str) -> None:
    """For generated SSIDs (1-32 UTF-8 bytes, boundaries weighted), WPA passwords (none, 8-63, 64 hex) and QR
    styles, the device pairs in each claimed mode and joins exactly the access point made for them."""
    fuzz.need_network("pairing on generated SSIDs and passwords")
    strategy = valid_cases(claimed(profile, family), fuzz.capability)  # only networks the lab can make

    @budget(fuzz, 0.5)
    @given(strategy)
    def pairs(case: PairCase) -> None:
        run_case(fuzz, case)

    pairs()


@pytest.mark.tc("TC-FUZZ-002", reqs=["REQ-FUZZ-002"])
@pytest.mark.parametrize("family", MODES)
def test_generated_invalid_inputs_are_refused_and_the_device_survives(fuzz: FuzzContext, profile: Profile,
                                                                      family: str) -> None:
    """Malformed QR texts, SSIDs over 32 bytes, malformed AP payloads and BLE Wi-Fi JSON, frames with a broken CRC
    and passwords no WPA network has: refused without activation, liveness checked after each, and a normal
    pairing at the end."""
    strategy = invalid_cases(claimed(profile, family), guessed_tokens=False)

    @budget(fuzz, 0.75)
    @given(strategy)
    def refused(case: RefuseCase) -> None:
        run_case(fuzz, case, then_pairs=False)

    refused()
    fuzz.check_after("the generated invalid inputs")


@pytest.mark.tc("TC-FUZZ-003", reqs=["REQ-FUZZ-003"])
def test_well_formed_tokens_the_cloud_never_issued_never_activate(fuzz: FuzzContext, profile: Profile) -> None:
    """Guessed tokens (a known region, 8 + 4 characters of the right alphabets) never activate the device."""
    mode = fuzz.modes[0]
    region = profile.parameters.region

    @budget(fuzz, 1.0)
    @given(tokens(regions=[region]))
    def guessed(token: str) -> None:
        run_case(fuzz, RefuseCase(kind="guessed-token", mode=mode, token=token), then_pairs=False)

    guessed()
    fuzz.check_after("the guessed tokens")


@pytest.mark.tc("TC-FUZZ-004", reqs=["REQ-FUZZ-004"])
@pytest.mark.requires("cloud:raw-atop")
def test_the_activation_endpoint_answers_malformed_requests_with_well_formed_errors(fuzz: FuzzContext) -> None:
    """A valid activation request (fresh licence, issued token) with one defect: bad sign, foreign product,
    unknown uuid, corrupted or truncated body, wrong et, unknown API, a missing parameter, GET. Each gets a
    well-formed ATOP error: never a server error, never a success."""

    @scaled(BUDGET, 4.0)
    @given(atop_cases())
    def malformed(case: AtopCase) -> None:
        run_case(fuzz, case)

    malformed()


@pytest.mark.tc("TC-FUZZ-005", reqs=["REQ-FUZZ-005"])
def test_any_sequence_of_pairings_removals_resets_and_revocations_agrees_with_the_model(
        world: World, profile: Profile, device: DeviceAdapter) -> None:
    """Tokens for any account, home and role; pairings of any device in any mode with issued or guessed tokens;
    time; removals with and without wipe; resets; licence revocations. After every step: each device bound to at
    most one home (the model's), online only when bound, each token consumed at most once, and notifications
    exactly as the binding mode says."""
    target = PairingTarget.from_world(world, profile=profile)
    try:
        if world.clock.is_virtual:
            run_pairing_machine(target, STATEFUL_BUDGET)
        else:
            run_on_real_time(target)
    finally:
        for extra in target.pool.devices:
            if extra is not device:
                extra.close()  # switched off: an extra device must not hear later tests' EZ traffic


def run_on_real_time(target: PairingTarget) -> None:
    """The lifecycle model against a device on real time. A break the model saw is the device's FAIL even when
    Hypothesis's replay of it (to shrink it) went otherwise: a real device's timing is not repeatable."""
    try:
        run_pairing_machine(target, REAL_TIME_STATEFUL)
    except FlakyFailure as exc:
        seen = [e for e in exc.exceptions if isinstance(e, AssertionError)]
        if not seen:
            raise
        raise DeviceFailure(f"{seen[0]} (seen once; its replay on real time went otherwise)") from exc
