"""The ``tc`` and ``requires`` markers: their signatures, their checks, and the capability names.

``@pytest.mark.tc("TC-TOKEN-002", reqs=["REQ-TOKEN-002"], title="...")``: the conformance test case id, the
requirement ids it checks and, optionally, its title (else the docstring's or the function's:
:mod:`harness.conformance.titles`). Required on every test under a suite directory (a missing or duplicated id is a
collection error); unknown requirement ids are errors too.

``@pytest.mark.requires("mode:qr", "binding:strong", "cloud:time-travel")``: capabilities the test needs.
The names (:func:`capability_names`):

- what the device claims, answered by the profile: ``mode:qr|ez|ap|ble``, ``ble:v1|v2``, ``ez:broadcast|multicast``,
  ``ap:legacy|lpv35``, ``binding:strong|medium|weak``, ``mqtt:2.1|2.2|2.3``,
  ``activation:tuya.device.active|thing.device.opensdk.active``, ``device:reset``, ``device:factory-reset``,
  ``device:power-cycle``, ``device:remote-removal``, ``device:dp-commands``, ``device:qr-prompt``,
  ``device:pairing-window``, ``device:bind-by-uuid``, ``lab:wifi``, ``lab:licence``, ``lab:real-time-waits``; the
  profile's own spellings (``pairing_mode:qr``, ``qr``, ``power_cycle``, ...) are accepted as well;
- what the adapters offer, answered by the world: ``cloud:<CloudCapability>`` (``cloud:time-travel``,
  ``cloud:issue-licences``, ...), ``device:<DeviceCapability>`` (``device:scan-qr``, ``device:events``, ...;
  ``device:power-cycle`` and the like need both the profile's claim and the adapter's capability) and
  ``network:<NetworkCapability>`` (``network:send-ez``, ``network:create-networks``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytest

from harness.profiles import Profile

TC_SIGNATURE = 'tc("TC-<AREA>-NNN", reqs=["REQ-<AREA>-NNN", ...], title="optional title")'
REQUIRES_SIGNATURE = 'requires("<capability>", ...)'

_TC_ID = re.compile(r"^TC-([A-Z][A-Z0-9]*)-(\d{3})$")

# The suites' family names -> the profile's (harness.profiles.schema.Profile.claims).
_PROFILE_FAMILIES = {"mode": "pairing_mode", "ez": "ez_channel", "ap": "ap_variant", "binding": "binding_mode",
                     "mqtt": "mqtt_protocol_version", "activation": "activation_api", "ble": "ble_generation"}
# device:<x> claims the profile answers (x -> the profile's flag).
_DEVICE_FLAGS = {"reset": "reset", "factory-reset": "factory_reset", "power-cycle": "power_cycle",
                 "remote-removal": "remote_removal", "dp-commands": "dp_commands", "qr-prompt": "qr_prompt",
                 "pairing-window": "pairing_window", "bind-by-uuid": "bind_by_uuid"}
_LAB_FLAGS = {"wifi": "wifi", "licence": "licence", "real-time-waits": "real_time_waits"}


def _cloud_capabilities() -> tuple[str, ...]:
    from harness.adapters.contracts import CloudCapability

    return tuple(c.value for c in CloudCapability)


def _network_capabilities() -> tuple[str, ...]:
    from harness.adapters.contracts import NetworkCapability

    return tuple(c.value for c in NetworkCapability)


def _device_capabilities() -> tuple[str, ...]:
    from harness.adapters.contracts import DeviceCapability

    return tuple(c.value for c in DeviceCapability)


@dataclass(frozen=True)
class TcMark:
    id: str
    reqs: tuple[str, ...]
    title: str | None = None  # the marker's own title=, if any

    @property
    def area(self) -> str:
        return self.id.split("-")[1].lower()


@dataclass(frozen=True)
class Need:
    """One capability a test needs: what the profile must claim and/or what an adapter must offer."""

    name: str
    profile_claim: str | None = None
    adapter: str | None = None  # "cloud", "device" or "network"
    adapter_capability: str | None = None


def parse_tc(mark: pytest.Mark, where: str) -> TcMark:
    """The tc marker's id and requirement ids; bad arguments raise UsageError naming the signature."""
    def bad(why: str) -> pytest.UsageError:
        return pytest.UsageError(f"{where}: bad tc marker ({why}); expected {TC_SIGNATURE}")

    unknown = sorted(set(mark.kwargs) - {"reqs", "title"})
    if unknown:
        raise bad(f"unknown keyword argument(s) {', '.join(unknown)}")
    if len(mark.args) != 1 or not isinstance(mark.args[0], str):
        raise bad(f"expected one TC id as a string, got {len(mark.args)} positional argument(s)")
    tc_id = mark.args[0]
    if not _TC_ID.match(tc_id):
        raise bad(f"TC id {tc_id!r} is not of the form TC-<AREA>-NNN")
    reqs = mark.kwargs.get("reqs", ())
    if isinstance(reqs, str) or not isinstance(reqs, Sequence) or not all(isinstance(r, str) for r in reqs):
        raise bad("reqs must be a list of requirement id strings")
    if not reqs:
        raise bad(f"{tc_id} names no requirement")
    title = mark.kwargs.get("title")
    if title is not None and (not isinstance(title, str) or not title.strip()):
        raise bad("title must be a non-empty string")
    return TcMark(tc_id, tuple(reqs), title)


def parse_requires(mark: pytest.Mark, where: str, profile: Profile) -> tuple[Need, ...]:
    """The requires marker's capabilities, checked against the known names."""
    if mark.kwargs or not mark.args or not all(isinstance(a, str) for a in mark.args):
        raise pytest.UsageError(f"{where}: bad requires marker; expected {REQUIRES_SIGNATURE} with one or more "
                                f"capability names, got args={mark.args!r} kwargs={mark.kwargs!r}")
    needs = []
    for name in mark.args:
        need = translate(name, profile)
        if need is None:
            raise pytest.UsageError(f"{where}: unknown capability {name!r} in {REQUIRES_SIGNATURE}; known: "
                                    f"{', '.join(capability_names())}")
        needs.append(need)
    return tuple(needs)


def translate(name: str, profile: Profile) -> Need | None:
    """What ``name`` asks of the profile and the adapters (None: an unknown name)."""
    family, sep, value = name.partition(":")
    if sep and family in _PROFILE_FAMILIES:
        return _profile_need(name, f"{_PROFILE_FAMILIES[family]}:{value}", profile)
    if sep and family == "lab" and value in _LAB_FLAGS:
        return Need(name, profile_claim=_LAB_FLAGS[value])
    if sep and family == "cloud":
        return Need(name, adapter="cloud", adapter_capability=value) if value in _cloud_capabilities() else None
    if sep and family == "network":
        return Need(name, adapter="network", adapter_capability=value) if value in _network_capabilities() else None
    if sep and family == "device":
        flag = _DEVICE_FLAGS.get(value)
        in_adapter = value in _device_capabilities()
        if flag is None and not in_adapter:
            return None
        return Need(name, profile_claim=flag, adapter="device" if in_adapter else None,
                    adapter_capability=value if in_adapter else None)
    return _profile_need(name, name, profile)  # the profile's own spelling


def _profile_need(name: str, claim: str, profile: Profile) -> Need | None:
    try:
        profile.claims(claim)
    except ValueError:
        return None
    return Need(name, profile_claim=claim)


def profile_reason(needs: Sequence[Need], profile: Profile) -> str | None:
    """Why the profile makes the test N/A (None: every claim is made)."""
    claims = [n.profile_claim for n in needs if n.profile_claim is not None]
    return profile.na_reason(*claims) if claims else None


def adapter_reason(needs: Sequence[Need], adapters: Callable[[str], tuple[str, frozenset[str]]]) -> str | None:
    """Why an adapter makes the test N/A; ``adapters(kind)`` gives that adapter's name and capabilities."""
    for need in needs:
        if need.adapter is None or need.adapter_capability is None:
            continue
        adapter_name, capabilities = adapters(need.adapter)
        if need.adapter_capability not in capabilities:
            return f"the {adapter_name} {need.adapter} adapter does not offer the capability " \
                   f"'{need.adapter_capability}' ({need.name})"
    return None


def capability_names() -> list[str]:
    """Every name ``requires`` accepts in the suites' spelling (the profile's own spellings work too)."""
    names = [f"mode:{m}" for m in ("qr", "ez", "ap", "ble")] + ["ez:broadcast", "ez:multicast", "ap:legacy", "ap:lpv35"]
    names += ["ble:v1", "ble:v2"]
    names += [f"binding:{b}" for b in ("strong", "medium", "weak")] + [f"mqtt:{v}" for v in ("2.1", "2.2", "2.3")]
    names += ["activation:tuya.device.active", "activation:thing.device.opensdk.active"]
    names += [f"device:{d}" for d in sorted(set(_DEVICE_FLAGS) | set(_device_capabilities()))]
    names += [f"lab:{flag}" for flag in _LAB_FLAGS] + [f"cloud:{c}" for c in _cloud_capabilities()]
    names += [f"network:{c}" for c in _network_capabilities()]
    return names


__all__ = ["REQUIRES_SIGNATURE", "TC_SIGNATURE", "Need", "TcMark", "adapter_reason", "capability_names",
           "parse_requires", "parse_tc", "profile_reason", "translate"]
