"""How long one suite test may take, derived from the profile (its parameters and its hooks).

Every call the harness makes has its own deadline (a hook's ``timeout_s``, a prompt's ``prompt_timeout_s``, the
activator's timeout, the pairing-mode wait, the boot time after a power cycle, a remote cloud's ``timeout_s``),
so a slow or hung device gets its verdict from the call that waited for it. The per-test limit is the outer
safety net around those calls: it is derived so that it is always longer than the calls a test makes, and it
covers the test's call phase only (``func_only``), so that it can never fire inside the plugin's own hooks.
"""

from __future__ import annotations

from typing import Any

from harness.profiles import Profile

DEFAULT_ACTION_S = 10.0  # an emulated device's reset or QR scan, a remote cloud's request
DEFAULT_PROMPT_S = 300.0  # the operator adapter's default prompt_timeout_s
WALL_MARGIN_S = 60.0  # harness.conformance.lab.WALL_MARGIN_S: the wall-clock slack around one pairing
PAIRINGS_PER_TEST = 4  # a test pairs the device up to a few times (a binding test pairs, resets, pairs again)
FUZZ_CASES_PER_EXAMPLE = 2  # a fuzz example is a case and, for refusals, a normal pairing after it


def action_s(profile: Profile, device: str) -> float:
    """The longest single action on the device: a hook's timeout, or a person's prompt timeout."""
    hooks = [getattr(profile.hooks, name) for name in type(profile.hooks).model_fields]
    longest = max([DEFAULT_ACTION_S, *(h.timeout_s for h in hooks if h is not None)])
    args: dict[str, Any] = dict(profile.adapters.device.args) if device == profile.adapters.device.name else {}
    for key in ("qr_hook", "events_hook"):
        hook = args.get(key)
        if isinstance(hook, dict) and isinstance(hook.get("timeout_s"), int | float):
            longest = max(longest, float(hook["timeout_s"]))
    if device == "operator":
        prompt = args.get("prompt_timeout_s", DEFAULT_PROMPT_S)
        longest = max(longest, float(prompt) if isinstance(prompt, int | float) else DEFAULT_PROMPT_S)
    return float(longest)


def time_limit_s(profile: Profile, *, device: str, virtual_clock: bool, cases: int = PAIRINGS_PER_TEST) -> float:
    """The call phase's limit for a test that pairs the device up to ``cases`` times.

    One case: bring the device back (an action, then the pairing-mode wait), show it the pairing (an action),
    wait the activator's timeout (on a virtual clock that costs wall time only up to the lab's margin). Once per
    test: a recovery (a power cycle, the boot time, a reset, the pairing-mode wait).
    """
    params = profile.parameters
    act = action_s(profile, device)
    activator = WALL_MARGIN_S if virtual_clock else params.activator_timeout_s + WALL_MARGIN_S
    case = act + params.pairing_mode_timeout_s + act + activator
    recovery = act + params.boot_time_s + act + params.pairing_mode_timeout_s
    return round(cases * case + recovery + WALL_MARGIN_S, 1)


__all__ = ["action_s", "time_limit_s"]
