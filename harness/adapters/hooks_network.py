"""The ``hooks`` network adapter: the lab's own tooling makes the Wi-Fi networks a test needs, through shell hooks.

For a lab with its own access point tooling (a vendor's AP controller, a script around ``nmcli``, a bench whose
device is scripted through its own control channel: ``paircert device serve``'s ``/networks`` routes). The profile::

    [adapters.network]
    name = "hooks"

    [adapters.network.args]
    add_access_point = { command = "./lab/ap.sh add", timeout_s = 30 }
    remove_access_point = "./lab/ap.sh remove"
    non_ascii = true          # which networks the lab makes (harness.adapters.contracts.AccessPointCapability)
    securities = ["open", "wpa2-psk"]
    settle_s = 2

A hook gets the network in its environment, never on its command line (the command is the profile's, as written):

- ``PAIRCERT_ACTION``: ``add-access-point`` or ``remove-access-point``;
- ``PAIRCERT_SSID_HEX``: the SSID's bytes in lower-case hex (any bytes an SSID holds);
- ``PAIRCERT_SSID``: the SSID as text (absent when its bytes are not UTF-8 or hold a NUL);
- ``PAIRCERT_AP_SECURITY``: ``open``, ``wpa2-psk`` or ``wpa3-sae``;
- ``PAIRCERT_AP_PASSWORD``: the password (add, secured networks only): a secret, only ever in the environment;
- the device's hook context once the device adapter is made (``PAIRCERT_DEVICE_UUID``, ``PAIRCERT_POOL_ID`` in a
  pool, the operator device's ``hook_env``, e.g. ``$CAMERA``), the adapter's own ``hook_env``, and
  ``PAIRCERT_TIMEOUT_S``.

The rest of the environment is the harness's minus every variable the profile names as a secret. What a hook prints
is redacted and kept as evidence; a nonzero exit or a timeout is the lab's trouble (ERROR), never the device's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from harness import evidence, redaction
from harness.adapters.contracts import AccessPointCapability, AdapterError, CannotMakeNetwork, Security
from harness.adapters.labwifi import CAPABILITY_ARGS, LabWifiAdapter, capability_from_args, lab_traffic
from harness.adapters.operator.device import profile_secrets
from harness.adapters.operator.hooks import HookFailed, HookResult, HookRunner, HookSpec, hook_environment

if TYPE_CHECKING:
    from harness.adapters.registry import WorldContext

PASSWORD_ENV = "PAIRCERT_AP_PASSWORD"
#: What the hooks adapter declares unless the profile says otherwise: what a lab's tooling can usually make.
DEFAULT_CAPABILITY = AccessPointCapability(non_utf8=False, securities=frozenset({Security.OPEN, Security.WPA2_PSK}),
                                           wpa_passphrases_only=True)
_OUTPUT_TAIL = 2000


def ssid_environment(ssid: bytes) -> dict[str, str]:
    """``PAIRCERT_SSID_HEX`` always; ``PAIRCERT_SSID`` when the bytes are UTF-8 text an environment can hold."""
    env = {"PAIRCERT_SSID_HEX": ssid.hex()}
    try:
        text = ssid.decode("utf-8")
    except UnicodeDecodeError:
        return env
    if "\x00" not in text:
        env["PAIRCERT_SSID"] = text
    return env


class HooksNetworkAdapter(LabWifiAdapter):
    """Networks made and removed by the profile's hooks (see the module docstring)."""

    name = "hooks"

    def __init__(self, *, add: HookSpec, remove: HookSpec | None, capability: AccessPointCapability,
                 env: Mapping[str, str], secrets: list[str] | None = None, interface: str | None = None,
                 traffic: Any = None) -> None:
        super().__init__(capability, interface=interface, traffic=traffic)
        self.add_hook = add
        self.remove_hook = remove
        self.redactor = redaction.Redactor(secrets or [])
        redaction.register(self.redactor)
        self.runner = HookRunner(redactor=self.redactor, env=env)

    def attach_device_env(self, env: Mapping[str, str]) -> None:
        """The device's hook context (its UUID, pool id, ``hook_env``): a pool's hooks reach each unit's own AP."""
        self.runner.env.update({k: str(v) for k, v in env.items()})

    def _run(self, action: str, hook: HookSpec, env: Mapping[str, str]) -> HookResult:
        try:
            result = self.runner.run(action, hook, env={"PAIRCERT_ACTION": action.replace("_", "-"), **env})
        except HookFailed as exc:
            self._hook_evidence(exc.result, timed_out=exc.timed_out)
            raise
        self._hook_evidence(result)
        return result

    def _hook_evidence(self, result: HookResult, *, timed_out: bool = False) -> None:
        recorder = evidence.current()
        if recorder is None:
            return
        recorder.record("network", f"hook:{result.name}", {
            "command": result.command, "returncode": result.returncode, "timed_out": timed_out,
            "duration_s": result.duration_s, "output": result.output[-_OUTPUT_TAIL:]})

    def _make(self, ssid: bytes, password: bytes, security: Security) -> None:
        env = {**ssid_environment(ssid), "PAIRCERT_AP_SECURITY": security.value}
        if security is not Security.OPEN:
            if b"\x00" in password:
                raise CannotMakeNetwork(self.name, "a network whose password holds a NUL byte (a hook gets the "
                                                   "password in an environment variable)")
            secret = password.decode("utf-8", "surrogateescape")
            self.redactor.add(secret)
            env[PASSWORD_ENV] = secret
        self._run("add_access_point", self.add_hook, env)

    def _unmake(self, ssid: bytes) -> None:
        if self.remove_hook is None:
            return  # the lab's tooling replaces networks itself: nothing to run
        self._run("remove_access_point", self.remove_hook, ssid_environment(ssid))

    def info(self) -> Mapping[str, Any]:
        return {**super().info(), "hooks": {"add_access_point": self.add_hook.command,
                                            "remove_access_point": self.remove_hook.command if self.remove_hook
                                            else None}}

    def close(self) -> None:
        try:
            super().close()
        finally:
            redaction.unregister(self.redactor)


def hooks_network(context: WorldContext, *, add_access_point: Any, remove_access_point: Any = None,
                  interface: str | None = None, hook_env: Mapping[str, Any] | None = None,
                  **capability: Any) -> HooksNetworkAdapter:
    """The registry's factory (``[adapters.network] name = "hooks"``); ``capability`` holds the declaration
    arguments (:data:`~harness.adapters.labwifi.CAPABILITY_ARGS`) over :data:`DEFAULT_CAPABILITY`."""
    unknown = sorted(set(capability) - set(CAPABILITY_ARGS))
    if unknown:
        raise AdapterError(f"unknown argument(s) of the hooks network adapter: {', '.join(unknown)}")
    add = HookSpec.parse(add_access_point, "adapters.network.args.add_access_point")
    remove = None if remove_access_point is None else HookSpec.parse(remove_access_point,
                                                                    "adapters.network.args.remove_access_point")
    declared = capability_from_args(DEFAULT_CAPABILITY, **capability)
    values, names = profile_secrets(context.profile)
    env = hook_environment(os.environ, secret_names=[*names, PASSWORD_ENV], secret_values=values,
                           extra={k: str(v) for k, v in (hook_env or {}).items()})
    traffic = lab_traffic(interface)
    return HooksNetworkAdapter(add=add, remove=remove, capability=declared, env=env, secrets=values,
                               interface=interface, traffic=traffic)


# The arguments the profile may give (the preflight checks them): the factory takes the declaration as **capability.
hooks_network.accepted_args = ("add_access_point", "remove_access_point", "interface",  # type: ignore[attr-defined]
                               "hook_env", *CAPABILITY_ARGS)

__all__ = ["DEFAULT_CAPABILITY", "PASSWORD_ENV", "HooksNetworkAdapter", "hooks_network", "ssid_environment"]
