"""The ``[adapters]`` and ``[hooks]`` tables of a device profile (see :mod:`harness.profiles.schema`).

Adapters are named as DESIGN.md says ("Adapters"): a name registered in the entry point group
``paircert.adapters`` (``emulated``, ``remote``, ``operator``, ...) or a ``package.module:factory`` spec, with an
``args`` table handed to the factory; ``env:NAME`` strings in ``args`` are secrets, kept as references until
:meth:`AdapterSpec.resolved_args` is called.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_serializer, model_validator

from harness.profiles.support import FieldProblems, SecretRef, Section, no_duplicates
from harness.redaction import is_secret_key

_ADAPTER_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_FACTORY_SPEC = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")
_ENV_REF = re.compile(r"^env:[A-Za-z_][A-Za-z0-9_]*$")


def _with_secret_refs(args: dict[str, Any]) -> dict[str, Any]:
    """Turn ``env:NAME`` strings anywhere in an arguments table into :class:`SecretRef` (redacted, lazy)."""
    def convert(value: Any) -> Any:
        if isinstance(value, str) and _ENV_REF.match(value):
            return SecretRef.parse(value)
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value
    return {k: convert(v) for k, v in args.items()}


def _references(value: Any) -> Any:
    """The arguments as written: every SecretRef back to its ``env:NAME`` (for dumps and the profile hash)."""
    if isinstance(value, SecretRef):
        return value.reference
    if isinstance(value, dict):
        return {k: _references(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_references(v) for v in value]
    return value


def _resolved(value: Any, environ: Mapping[str, str] | None) -> Any:
    if isinstance(value, SecretRef):
        return value.resolve(environ).get_secret_value()
    if isinstance(value, dict):
        return {k: _resolved(v, environ) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved(v, environ) for v in value]
    return value


class AdapterSpec(Section):
    """An adapter: a registered name (entry point group ``paircert.adapters``) or ``package.module:factory``.

    In the file either a bare string (``cloud = "emulated"``) or a table with ``name`` and ``args``.
    """

    name: str
    args: dict[str, Any] = Field(default_factory=dict)

    @field_serializer("args")
    def _dump_args(self, args: dict[str, Any]) -> Any:
        return _references(args)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            data = {"name": data}
        if isinstance(data, dict) and isinstance(data.get("args"), dict):
            data = {**data, "args": _with_secret_refs(data["args"])}
        return data

    @model_validator(mode="after")
    def _well_formed(self) -> AdapterSpec:
        if not (_ADAPTER_NAME.match(self.name) or _FACTORY_SPEC.match(self.name)):
            raise FieldProblems([("name", "expected a registered adapter name (e.g. 'emulated') "
                                          "or a 'package.module:factory' spec")])
        written_out = [f"args.{k}" for k, v in self.args.items() if is_secret_key(k) and isinstance(v, str) and v]
        if written_out:  # a password, secret or admin key in the file itself
            raise FieldProblems([(key, "expected an env:NAME reference (secrets never sit in the profile)")
                                 for key in written_out])
        return self

    @property
    def is_factory_spec(self) -> bool:
        """True when :attr:`name` is a ``package.module:factory`` spec rather than a registered name."""
        return ":" in self.name

    def resolved_args(self, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The arguments with every ``env:NAME`` reference replaced by its value (pass them to the factory only)."""
        resolved: dict[str, Any] = _resolved(self.args, environ)
        return resolved


class NetworkSpec(Section):
    """``[adapters.network]``: ``air`` (in memory), ``scapy`` on a lab interface, ``bleak`` (a Bluetooth LE radio
    only, its controller as ``interface`` or ``args.adapter``, PROTOCOL.md §9.12), ``hooks`` (the lab's tooling
    makes the Wi-Fi networks a test needs; ``interface`` optional, for EZ) or ``hostapd`` (hostapd makes them on
    the Wi-Fi ``interface``)."""

    name: Literal["air", "scapy", "bleak", "hooks", "hostapd"]
    interface: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _interface_matches(self) -> NetworkSpec:
        if self.name == "scapy" and not self.interface:
            raise FieldProblems([("interface", "expected the lab interface the scapy network adapter uses")])
        if self.name == "air" and self.interface is not None:
            raise FieldProblems([("interface", "expected no interface for the in-memory 'air' (use name = 'scapy')")])
        if self.name == "hostapd" and not self.interface:
            raise FieldProblems([("interface", "expected the Wi-Fi interface hostapd makes the networks on")])
        if self.name == "hooks" and "add_access_point" not in self.args:
            raise FieldProblems([("args.add_access_point", "expected the hook that makes an access point (a shell "
                                                          "command, or a table with command and timeout_s)")])
        return self


class PoolMember(Section):
    """``[[adapters.device_pool]]``: one device of a pool for parallel runs; its args override the device's."""

    id: str = Field(min_length=1)
    args: dict[str, Any] = Field(default_factory=dict)

    @field_serializer("args")
    def _dump_args(self, args: dict[str, Any]) -> Any:
        return _references(args)

    @model_validator(mode="before")
    @classmethod
    def _secrets(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("args"), dict):
            data = {**data, "args": _with_secret_refs(data["args"])}
        return data


class AdaptersSection(Section):
    """``[adapters]``: which adapters drive the cloud, the device and the network."""

    cloud: AdapterSpec = Field(default_factory=lambda: AdapterSpec(name="emulated"))
    device: AdapterSpec = Field(default_factory=lambda: AdapterSpec(name="emulated"))
    network: NetworkSpec = Field(default_factory=lambda: NetworkSpec(name="air"))
    device_pool: list[PoolMember] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_pool(self) -> AdaptersSection:
        problems: list[tuple[str, str]] = []
        no_duplicates([m.id for m in self.device_pool], "device_pool", problems)
        if problems:
            raise FieldProblems([(k, m.replace("each value", "each pool id")) for k, m in problems])
        return self

    def device_for(self, slot: int | None = None) -> AdapterSpec:
        """The device adapter for a worker: with a pool, member ``slot % len(pool)``'s args over the device's."""
        if slot is None or not self.device_pool:
            return self.device
        member = self.device_pool[slot % len(self.device_pool)]
        return self.device.model_copy(update={"args": {**self.device.args, **member.args, "pool_id": member.id}})


class Hook(Section):
    """A shell command with a timeout; a string in the file means the default timeout."""

    command: str = Field(min_length=1)
    timeout_s: float = Field(default=60, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"command": data} if isinstance(data, str) else data


class HooksSection(Section):
    """``[hooks]``: what the operator device adapter runs instead of prompting a person."""

    reset: Hook | None = None
    factory_reset: Hook | None = None
    power_cycle: Hook | None = None
    liveness: Hook | None = None
    enter_pairing_mode: Hook | None = None


__all__ = ["AdapterSpec", "AdaptersSection", "Hook", "HooksSection", "NetworkSpec", "PoolMember"]
