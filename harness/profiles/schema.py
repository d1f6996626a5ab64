"""Device profiles: what a device claims (PICS), the numbers the tests use (PIXIT) and how it is driven.

A profile is one TOML file per device model, validated on load:

- ``[device]``: name, kind, PID, firmware (and optionally vendor, model, MAC);
- ``[capabilities]``: pairing modes (``qr``, ``ez``, ``ap``, ``ble``), EZ channels, AP variants, the BLE
  generation (``v1``/``v2``, PROTOCOL.md §9.0), binding mode, MQTT protocol version, activation API, pairing
  window and the optional operations (reset, factory reset, power cycle, ...): they decide which tests apply,
  and a test whose capability is not claimed is N/A with the reason :meth:`Profile.na_reason` gives;
- ``[parameters]``: token lifetime, activator timeout, whether real-time waits are allowed, the home region,
  the lab's Wi-Fi and the device's licence (secrets as ``env:NAME`` references, resolved only when used);
- ``[adapters]``: the cloud, device and network adapters, with their arguments, and an optional device pool;
- ``[hooks]``: shell commands the operator device adapter runs (reset, power cycle, liveness, ...).

Where profiles are found: a path is read as given; a bare name (``camera-strong``) is looked up first in the
directories of ``$PAIRCERT_PROFILE_PATH`` (``os.pathsep``-separated), then among the bundled profiles, which the
wheel ships as ``harness.bundled.profiles`` (the repository's ``profiles/``, found through importlib.resources:
:mod:`harness.bundled`). An installation without them says so and asks for a path.

Every problem is a :class:`ProfileError` whose lines read ``<file>: <dotted.key>: <what was expected>``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from harness import bundled
from harness.profiles.adapters import AdapterSpec, AdaptersSection, Hook, HooksSection, NetworkSpec, PoolMember
from harness.profiles.support import (
    FieldProblems,
    ProfileError,
    SecretRef,
    Section,
    no_duplicates,
    problems_from_validation_error,
)
from harness.protocol.token import KNOWN_REGIONS

PROFILE_PATH_ENV = "PAIRCERT_PROFILE_PATH"

DeviceKind = Literal["camera", "plug", "bulb", "other"]
PairingMode = Literal["qr", "ez", "ap", "ble"]
BleGeneration = Literal["v1", "v2"]  # PROTOCOL.md §9.0: the two key schemes (V2: modes 11/12, V1: 1/2)
EzChannel = Literal["broadcast", "multicast"]
ApVariant = Literal["legacy", "lpv35"]
BindingMode = Literal["strong", "medium", "weak"]
MqttProtocolVersion = Literal["2.1", "2.2", "2.3"]
ActivationApi = Literal["tuya.device.active", "thing.device.opensdk.active"]

# The seed's sentence that makes a camera strong-only.
CAMERA_BINDING_RULE = (
    "Powered by Tuya cameras support the strong binding mode, and cannot change to other modes "
    "(seeds/device-pairing-qr-mode.txt)"
)


class DeviceSection(Section):
    """``[device]``: which device this is."""

    name: str = Field(min_length=1, max_length=100)
    kind: DeviceKind
    pid: str = Field(pattern=r"^[A-Za-z0-9]{16}$",
                     description="a product id (PID) of exactly 16 letters or digits (PROTOCOL.md §8)")
    firmware: str = Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z._+-]{0,63}$",
                          description="a firmware version such as '1.2.3' (letters, digits, '.', '_', '+', '-')")
    vendor: str | None = None
    model: str | None = None
    mac: str | None = Field(default=None, pattern=r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$",
                            description="a MAC address such as 'AA:BB:CC:DD:EE:FF'")


class CapabilitiesSection(Section):
    """``[capabilities]``: what the device claims; it selects which tests apply."""

    pairing_modes: list[PairingMode] = Field(min_length=1)
    ez_channels: list[EzChannel] = Field(default_factory=list)
    ap_variants: list[ApVariant] = Field(default_factory=list)
    binding_mode: BindingMode
    mqtt_protocol_version: MqttProtocolVersion
    activation_api: ActivationApi
    pairing_window_s: float | None = Field(default=None, gt=0)
    ble_generation: BleGeneration | None = None  # required with pairing mode 'ble' (§9.0)
    supports_reset: bool = True
    supports_factory_reset: bool = True
    supports_power_cycle: bool = True
    supports_remote_removal: bool = True
    supports_dp_commands: bool = True
    qr_prompt_observable: bool = True
    # §11.6: the device also waits as acon_<uuid> on d/ai/<uuid> for a token the cloud pushes when the app binds
    # its UUID (the SDKs' default token source: the device shows a QR code holding its UUID)
    bind_by_uuid: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> CapabilitiesSection:
        problems: list[tuple[str, str]] = []
        no_duplicates(list(self.pairing_modes), "pairing_modes", problems)
        no_duplicates(list(self.ez_channels), "ez_channels", problems)
        no_duplicates(list(self.ap_variants), "ap_variants", problems)
        for mode, key, values, allowed in (
            ("ez", "ez_channels", self.ez_channels, "'broadcast', 'multicast'"),
            ("ap", "ap_variants", self.ap_variants, "'legacy', 'lpv35'"),
        ):
            if mode in self.pairing_modes and not values:
                problems.append((key, f"expected at least one of {allowed}, because pairing mode '{mode}' is claimed"))
            if mode not in self.pairing_modes and values:
                problems.append((key, f"expected no {key} (or add '{mode}' to pairing_modes): "
                                      f"pairing mode '{mode}' is not claimed"))
        if "ble" in self.pairing_modes and self.ble_generation is None:
            problems.append(("ble_generation", "expected 'v1' or 'v2' (PROTOCOL.md §9.0), because pairing mode "
                                               "'ble' is claimed"))
        if "ble" not in self.pairing_modes and self.ble_generation is not None:
            problems.append(("ble_generation", "expected no ble_generation (or add 'ble' to pairing_modes): "
                                               "pairing mode 'ble' is not claimed"))
        if problems:
            raise FieldProblems(problems)
        return self


class WifiParameters(Section):
    """``[parameters.wifi]``: the lab network a real device joins; the password is a secret (absent: open)."""

    ssid: str = Field(min_length=1)
    password: SecretRef | None = None

    @field_validator("ssid")
    @classmethod
    def _ssid_fits(cls, ssid: str) -> str:
        if len(ssid.encode("utf-8")) > 32:
            raise ValueError(f"expected an SSID of 1 to 32 UTF-8 bytes, got {len(ssid.encode('utf-8'))} bytes")
        return ssid


class ResolvedLicence(BaseModel):
    """A licence whose secrets were read from the environment; both stay redacted when printed."""

    model_config = ConfigDict(frozen=True)

    uuid: SecretStr
    authkey: SecretStr


class LicenceParameters(Section):
    """``[parameters.licence]``: the device's licence (UUID + AuthKey, PROTOCOL.md §8), both secrets."""

    uuid: SecretRef
    authkey: SecretRef

    def resolve(self, environ: Mapping[str, str] | None = None) -> ResolvedLicence:
        """Read both secrets and check their shapes (UUID 16-25 characters, AuthKey 32, §8)."""
        uuid = self.uuid.resolve(environ)
        authkey = self.authkey.resolve(environ)
        if not 16 <= len(uuid.get_secret_value()) <= 25:
            raise self.uuid.error(f"expected {self.uuid} to hold a licence UUID of 16 to 25 characters")
        if len(authkey.get_secret_value()) != 32:
            raise self.authkey.error(f"expected {self.authkey} to hold an AuthKey of 32 characters")
        return ResolvedLicence(uuid=uuid, authkey=authkey)


class DpCommand(Section):
    """``[parameters.dp_command]``: a writable data point the MQTT suite sets and expects reported back."""

    id: int = Field(ge=1, le=255)
    value: bool | int | str


class ParametersSection(Section):
    """``[parameters]``: the numbers the tests use (PIXIT) and the lab's secrets."""

    token_ttl_s: float = Field(default=600, gt=0)
    activator_timeout_s: float = Field(default=100, gt=0)
    pairing_mode_timeout_s: float = Field(default=60, gt=0)
    boot_time_s: float = Field(default=60, gt=0)
    real_time_waits: bool = False
    region: str = "AY"
    # §11.1: the device reaches the cloud over TLS (HTTPS ATOP, MQTT over TLS) and verifies the lab CA; the
    # emulated cloud then serves TLS with a lab CA its emulated devices trust (false: plain HTTP and MQTT)
    tls: bool = False
    wifi: WifiParameters | None = None
    licence: LicenceParameters | None = None
    dp_command: DpCommand = Field(default_factory=lambda: DpCommand(id=1, value=True))

    @field_validator("region")
    @classmethod
    def _known_region(cls, region: str) -> str:
        if region not in KNOWN_REGIONS:
            raise ValueError(f"expected one of {', '.join(sorted(KNOWN_REGIONS))} (PROTOCOL.md §1.3), got {region!r}")
        return region


# capability family -> (the words of an N/A reason, the attribute of [capabilities] it reads)
_LIST_FAMILIES: dict[str, tuple[str, str]] = {
    "pairing_mode": ("pairing mode", "pairing_modes"),
    "ez_channel": ("EZ channel", "ez_channels"),
    "ap_variant": ("AP variant", "ap_variants"),
}
_VALUE_FAMILIES: dict[str, tuple[str, str]] = {
    "binding_mode": ("binding mode", "binding_mode"),
    "mqtt_protocol_version": ("MQTT protocol version", "mqtt_protocol_version"),
    "activation_api": ("activation API", "activation_api"),
    "ble_generation": ("BLE generation", "ble_generation"),
}
_FLAGS: dict[str, tuple[str, str]] = {
    "reset": ("a device reset", "capabilities.supports_reset"),
    "factory_reset": ("a factory reset", "capabilities.supports_factory_reset"),
    "power_cycle": ("power cycling", "capabilities.supports_power_cycle"),
    "remote_removal": ("remote removal over MQTT", "capabilities.supports_remote_removal"),
    "dp_commands": ("DP commands", "capabilities.supports_dp_commands"),
    "qr_prompt": ("an observable QR prompt", "capabilities.qr_prompt_observable"),
    "bind_by_uuid": ("binding by UUID", "capabilities.bind_by_uuid"),
    "pairing_window": ("a pairing window", "capabilities.pairing_window_s"),
    "real_time_waits": ("real-time waits", "parameters.real_time_waits"),
    "wifi": ("lab Wi-Fi credentials", "parameters.wifi"),
    "licence": ("a licence", "parameters.licence"),
}
_ALIASES = {"qr": "pairing_mode:qr", "ez": "pairing_mode:ez", "ap": "pairing_mode:ap", "ble": "pairing_mode:ble"}

_FAMILY_VALUES: dict[str, tuple[str, ...]] = {
    "pairing_mode": ("qr", "ez", "ap", "ble"),
    "ez_channel": ("broadcast", "multicast"),
    "ap_variant": ("legacy", "lpv35"),
    "binding_mode": ("strong", "medium", "weak"),
    "mqtt_protocol_version": ("2.1", "2.2", "2.3"),
    "activation_api": ("tuya.device.active", "thing.device.opensdk.active"),
    "ble_generation": ("v1", "v2"),
}

#: Every capability string :meth:`Profile.claims` understands (plus the aliases ``qr``, ``ez``, ``ap``, and
#: hyphens for underscores in the part before the colon, e.g. ``power-cycle``).
CAPABILITIES: tuple[str, ...] = (
    *(f"{family}:{value}" for family, values in _FAMILY_VALUES.items() for value in values),
    *_FLAGS,
)


class Profile(Section):
    """A validated device profile. Build it with :func:`load_profile` (or :func:`parse_profile`)."""

    description: str = ""
    device: DeviceSection
    capabilities: CapabilitiesSection
    parameters: ParametersSection = Field(default_factory=ParametersSection)
    adapters: AdaptersSection = Field(default_factory=AdaptersSection)
    hooks: HooksSection = Field(default_factory=HooksSection)

    _name: str = PrivateAttr(default="<unnamed>")
    _path: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _camera_is_strong(self) -> Profile:
        if self.device.kind == "camera" and self.capabilities.binding_mode != "strong":
            raise FieldProblems([(
                "capabilities.binding_mode",
                f"expected 'strong' for a device of kind 'camera', got '{self.capabilities.binding_mode}': "
                + CAMERA_BINDING_RULE,
            )])
        return self

    @property
    def name(self) -> str:
        """The profile's name: its file name without ``.toml``."""
        return self._name

    @property
    def path(self) -> Path | None:
        """The file it was loaded from (None when built from a mapping)."""
        return self._path

    def hash(self) -> str:
        """SHA-256 (hex) of the canonical content: sorted-key JSON, defaults filled, secrets as references."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def claims(self, capability: str) -> bool:
        """Whether the profile claims a capability (see :data:`CAPABILITIES`); unknown names raise ValueError."""
        return self.na_reason(capability) is None

    def na_reason(self, *capabilities: str) -> str | None:
        """Why a test needing all these capabilities does not apply (the N/A reason), or None when it does."""
        for capability in capabilities:
            reason = self._reason(capability)
            if reason is not None:
                return reason
        return None

    def _reason(self, capability: str) -> str | None:
        family, _, value = _ALIASES.get(capability, capability).partition(":")
        family = family.replace("-", "_")  # "power-cycle" as the adapter contracts spell it
        canonical = f"{family}:{value}" if value else family
        caps = self.capabilities
        if family in _LIST_FAMILIES and value in _FAMILY_VALUES[family]:
            words, attribute = _LIST_FAMILIES[family]
            claimed = getattr(caps, attribute)
            return None if value in claimed else f"profile {self.name} does not claim {words} '{value}'"
        if family in _VALUE_FAMILIES and value in _FAMILY_VALUES[family]:
            words, attribute = _VALUE_FAMILIES[family]
            actual = getattr(caps, attribute)
            if actual is None:
                return f"profile {self.name} does not claim a {words}"
            return None if actual == value else f"profile {self.name} claims {words} '{actual}', not '{value}'"
        if canonical in _FLAGS and not value:
            words, key = _FLAGS[canonical]
            return None if self._flag(canonical) else f"profile {self.name} does not claim {words} ({key})"
        raise ValueError(f"unknown capability {capability!r}; expected one of {', '.join(CAPABILITIES)}")

    def _flag(self, flag: str) -> bool:
        caps, params = self.capabilities, self.parameters
        values = {
            "reset": caps.supports_reset, "factory_reset": caps.supports_factory_reset,
            "power_cycle": caps.supports_power_cycle, "remote_removal": caps.supports_remote_removal,
            "dp_commands": caps.supports_dp_commands, "qr_prompt": caps.qr_prompt_observable,
            "bind_by_uuid": caps.bind_by_uuid,
            "pairing_window": caps.pairing_window_s is not None, "real_time_waits": params.real_time_waits,
            "wifi": params.wifi is not None, "licence": params.licence is not None,
        }
        return values[flag]

    def adapters_summary(self) -> str:
        """``cloud / device / network`` as one short string, for tables and report headers."""
        network = self.adapters.network
        net = f"scapy@{network.interface}" if network.name == "scapy" else network.name
        return f"{self.adapters.cloud.name} / {self.adapters.device.name} / {net}"

    def summary(self) -> dict[str, str]:
        """What a report header says about the profile (no secrets)."""
        return {
            "profile": self.name, "file": str(self.path) if self.path else "", "sha256": self.hash(),
            "device": self.device.name, "kind": self.device.kind, "pid": self.device.pid,
            "firmware": self.device.firmware, "adapters": self.adapters_summary(),
        }


def _bind_secrets(node: object, source: str, prefix: str) -> None:
    """Tell every SecretRef in the profile its file and dotted key, so that a resolution error names both."""
    if isinstance(node, SecretRef):
        node.bind(source, prefix)
    elif isinstance(node, BaseModel):
        for field_name in type(node).model_fields:
            _bind_secrets(getattr(node, field_name), source, f"{prefix}.{field_name}" if prefix else field_name)
    elif isinstance(node, dict):
        for key, value in node.items():
            _bind_secrets(value, source, f"{prefix}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _bind_secrets(value, source, f"{prefix}[{index}]")


def parse_profile(data: Mapping[str, Any], *, source: str = "<profile>", name: str | None = None) -> Profile:
    """Validate an already-parsed profile table; ``source`` is what error messages call the file."""
    try:
        profile = Profile.model_validate(dict(data))
    except ValidationError as exc:
        raise ProfileError(source, problems_from_validation_error(exc, Profile)) from None
    profile._name = name or Path(source).stem
    _bind_secrets(profile, source, "")
    return profile


def _toml_position(message: str) -> str:
    match = re.search(r"\(at line (\d+), column (\d+)\)", message)
    return f"line {match.group(1)}, column {match.group(2)}" if match else "end of file"


def read_profile_file(path: Path) -> Profile:
    """Load and validate one profile file."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ProfileError(str(path), [("", "file not found (expected a profile TOML file)")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(str(path), [("", f"cannot read the file: {exc}")]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        detail = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(exc))
        raise ProfileError(str(path), [("", f"{_toml_position(str(exc))}: invalid TOML: {detail}")]) from None
    profile = parse_profile(data, source=str(path), name=path.stem)
    profile._path = path
    return profile


def bundled_profiles_dir() -> Path:
    """The bundled profiles' directory (:func:`harness.bundled.profiles_dir`); a ProfileError when this installation
    ships none."""
    try:
        return bundled.profiles_dir()
    except bundled.BundleMissing as exc:
        raise ProfileError(bundled.PROFILES_PACKAGE, [(
            "", f"bundled profiles directory not found ({exc}): pass a profile's path, or set "
                f"{PROFILE_PATH_ENV}")]) from None


def profile_search_path() -> list[Path]:
    """Where bare profile names are looked up, in order: ``$PAIRCERT_PROFILE_PATH``, then the bundled profiles."""
    extra = [Path(p) for p in os.environ.get(PROFILE_PATH_ENV, "").split(os.pathsep) if p]
    try:
        return [*extra, bundled.profiles_dir()]
    except bundled.BundleMissing:
        return extra


def bundled_profile_paths() -> list[Path]:
    """The bundled profile files, sorted by name; a ProfileError when this installation ships none."""
    return sorted(bundled_profiles_dir().glob("*.toml"))


def _looks_like_path(text: str) -> bool:
    return text.endswith(".toml") or "/" in text or os.sep in text


def load_profile(name_or_path: str | os.PathLike[str]) -> Profile:
    """Load a profile by bundled name (``camera-strong``) or by path (``my-camera.toml``)."""
    path = Path(name_or_path)
    if isinstance(name_or_path, os.PathLike) or _looks_like_path(str(name_or_path)):
        if path.exists() or path.parent != Path(".") or path.suffix != ".toml":
            return read_profile_file(path)
        name_or_path = path.stem  # "camera-strong.toml" typed where no such file is: try the name
    name = str(name_or_path)
    for directory in profile_search_path():
        candidate = directory / f"{name}.toml"
        if candidate.is_file():
            return read_profile_file(candidate)
    known = [p.stem for p in bundled_profile_paths()]
    raise ProfileError(name, [("", f"no such profile; expected a path to a .toml file or one of: {', '.join(known)}")])


__all__ = [
    "CAPABILITIES",
    "AdapterSpec",
    "AdaptersSection",
    "CapabilitiesSection",
    "DeviceSection",
    "DpCommand",
    "Hook",
    "HooksSection",
    "LicenceParameters",
    "NetworkSpec",
    "ParametersSection",
    "PoolMember",
    "Profile",
    "ProfileError",
    "ResolvedLicence",
    "SecretRef",
    "WifiParameters",
    "bundled_profile_paths",
    "bundled_profiles_dir",
    "load_profile",
    "parse_profile",
    "profile_search_path",
    "read_profile_file",
]
