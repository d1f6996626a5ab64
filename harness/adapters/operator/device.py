"""The ``operator`` device adapter: a real camera on the lab bench, driven by shell hooks or by a person.

Each action of the device contract is done in one of two ways (DESIGN.md "Adapters"):

- a hook: the profile's ``[hooks]`` (``reset``, ``factory_reset``, ``power_cycle``, ``liveness``,
  ``enter_pairing_mode``) or the adapter's ``qr_hook`` / ``events_hook`` arguments, run through
  :class:`~harness.adapters.operator.hooks.HookRunner` with their timeouts; a nonzero exit or a timeout is
  :class:`AdapterError` (ERROR: the lab failed, not the device). ``liveness`` is the exception: its exit
  status *is* the answer (0 alive, anything else but 126/127 not alive), as ``ping`` gives it;
- a person: with no hook, the adapter prompts on the terminal and waits, with a timeout (AdapterError when
  nobody answers). With nobody there (``interactive = false``, or no terminal) and no hook, the action is
  :class:`CapabilityMissing`, so the test is N/A instead of hanging.

The QR is always saved as PNG for the hook or the person (in ``output_dir``, else the private directory of
``paircert run`` (``PAIRCERT_PRIVATE_DIR``), else a private temporary directory), drawn in the terminal with half
blocks, and with ``show_qr = "window"`` also opened with the platform's viewer. It encodes the lab's Wi-Fi
password: the run's evidence keeps it (redrawn with the password masked by the report's sweep), and the PNGs
themselves are deleted when the adapter closes, so no unredacted copy outlives the run. Then the ``qr_hook``
delivers it (``PAIRCERT_QR_PNG``), or a person holds it up to the camera and presses Enter.

Hooks get these environment variables: ``PAIRCERT_ACTION`` (reset, factory-reset, power-cycle, liveness,
enter-pairing-mode, present-qr, events), ``PAIRCERT_DEVICE_UUID``, ``PAIRCERT_DEVICE_PID``,
``PAIRCERT_DEVICE_NAME``, ``PAIRCERT_DEVICE_MAC`` (when known), ``PAIRCERT_POOL_ID`` (in a device pool),
``PAIRCERT_OUTPUT_DIR``, ``PAIRCERT_QR_PNG`` (the last QR saved, if any), ``PAIRCERT_TIMEOUT_S``, and the
``hook_env`` table of the adapter's arguments. Never the AuthKey or the Wi-Fi password, unless ``hook_env``
maps them explicitly.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from PIL import Image

from harness import evidence, redaction
from harness.adapters.contracts import (
    AdapterError,
    ApAddress,
    CapabilityMissing,
    DeviceCapability,
    DeviceEvent,
    Licence,
)
from harness.adapters.operator.desk import DeskTerminal
from harness.adapters.operator.hooks import HookFailed, HookResult, HookRunner, HookSpec, Terminal, hook_environment
from harness.adapters.operator.terminal_qr import half_block_text, qr_modules
from harness.clock import Clock, SystemClock
from harness.evidence import step

if TYPE_CHECKING:
    from harness.adapters.registry import WorldContext
    from harness.profiles import Profile

log = logging.getLogger(__name__)

ShowQr = Literal["terminal", "window", "none"]
SHOW_QR_CHOICES = ("terminal", "window", "none")
_SHOW_QR_ALIASES = {"fullscreen": "window"}

QR_PROMPT = "Hold the QR code in front of the camera, then press Enter"
_PROMPTS = {
    "reset": "Reset the camera (short press of its reset button, binding kept), then press Enter",
    "factory_reset": "Factory reset the camera (long press of its reset button), then press Enter",
    "power_cycle": "Cut the camera's power, restore it, then press Enter",
    "enter_pairing_mode": "Put the camera in pairing mode (it should announce it), then press Enter",
    "liveness": "Is the camera powered and responsive? Answer y or n",
}
_CAPABILITY_OF = {
    "reset": DeviceCapability.RESET, "factory_reset": DeviceCapability.FACTORY_RESET,
    "power_cycle": DeviceCapability.POWER_CYCLE, "liveness": DeviceCapability.LIVENESS,
    "enter_pairing_mode": DeviceCapability.RESET,  # what a missing pairing-mode action makes impossible
}
_SHELL_CANNOT_RUN = (126, 127)  # not executable / command not found: a broken hook, not a dead device
_OUTPUT_TAIL = 2000
ALL_CAPABILITIES = frozenset(capability.value for capability in DeviceCapability)


class OperatorDeviceAdapter:
    """A real device behind the device contract, through the lab's hooks or a person at the terminal."""

    name = "operator"

    def __init__(self, *, licence: Licence, pid: str, hooks: Mapping[str, HookSpec], terminal: Terminal | DeskTerminal,
                 output_dir: Path, show_qr: str = "terminal", clock: Clock | None = None,
                 claimed: frozenset[str] = ALL_CAPABILITIES,
                 ap_address: ApAddress | None = None, hook_env: Mapping[str, str] | None = None,
                 secrets: Sequence[str] = (), secret_env_names: Sequence[str] = (),
                 prompt_timeout_s: float = 300.0, device_name: str = "", mac: str | None = None,
                 pool_id: str | None = None, colour: bool | None = None) -> None:
        show = _SHOW_QR_ALIASES.get(show_qr, show_qr)
        if show not in SHOW_QR_CHOICES:
            raise AdapterError(f"show_qr must be one of {', '.join(SHOW_QR_CHOICES)}, got {show_qr!r}")
        self.show_qr = show
        self.licence = licence
        self.pid = pid
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.terminal = terminal
        self.output_dir = output_dir
        self.prompt_timeout_s = float(prompt_timeout_s)
        self.device_name = device_name
        self.colour = colour
        self._hooks = dict(hooks)
        self._ap = ap_address
        self._events: list[DeviceEvent] = []
        self._lock = threading.Lock()
        self._qr_numbers = itertools.count(1)
        self._last_qr: Path | None = None
        self._saved: list[Path] = []
        self._events_seen = 0.0  # the time of the last event the events hook printed
        self._owned_dir: Path | None = None  # a private directory made for the PNGs, removed at close
        self._viewers: list[subprocess.Popen[bytes]] = []
        self.redactor = redaction.Redactor(secrets)
        redaction.register(self.redactor)
        context_env = {"PAIRCERT_DEVICE_UUID": licence.uuid, "PAIRCERT_DEVICE_PID": pid,
                       "PAIRCERT_DEVICE_NAME": device_name, "PAIRCERT_OUTPUT_DIR": str(output_dir)}
        if mac:
            context_env["PAIRCERT_DEVICE_MAC"] = mac
        if pool_id:
            context_env["PAIRCERT_POOL_ID"] = pool_id
        env = hook_environment(os.environ, secret_names=secret_env_names, secret_values=secrets,
                               extra={**context_env, **(hook_env or {})})
        #: what the network's hooks learn about this device: its context and the hook_env entries that are no
        #: secret (by name or by value)
        self.hook_context = {**context_env, **{k: v for k, v in (hook_env or {}).items()
                                               if not redaction.is_secret_key(k) and v not in secrets}}
        self.runner = HookRunner(redactor=self.redactor, env=env)
        self.capabilities = self._capabilities(claimed)

    # -- what this bench can do ----------------------------------------------------------------------------

    def _capabilities(self, claimed: frozenset[str]) -> frozenset[str]:
        person = self.terminal.person_present
        caps: set[str] = set()
        for action, capability in (("reset", DeviceCapability.RESET), ("factory_reset", DeviceCapability.FACTORY_RESET),
                                   ("power_cycle", DeviceCapability.POWER_CYCLE),
                                   ("liveness", DeviceCapability.LIVENESS), ("qr", DeviceCapability.SCAN_QR),
                                   ("events", DeviceCapability.EVENTS)):
            if capability.value in claimed and (action in self._hooks or (person and action != "events")):
                caps.add(capability.value)
        if DeviceCapability.AP_MODE.value in claimed and (self._ap is not None or "ap" in self._hooks):
            caps.add(DeviceCapability.AP_MODE.value)
        if DeviceCapability.AP_MODE.value in claimed and "ap" in self._hooks:
            caps.add(DeviceCapability.AP_STATUS.value)  # a fixed ap_host cannot tell an open SoftAP from a closed one
        if DeviceCapability.EZ_MODE.value in claimed:
            caps.add(DeviceCapability.EZ_MODE.value)  # the camera listens on the air: nothing asked of the bench
        return frozenset(caps)

    @property
    def person_present(self) -> bool:
        return self.terminal.person_present

    # -- recording -----------------------------------------------------------------------------------------

    def _event(self, name: str, **details: Any) -> None:
        clean = self.redactor.redact_obj(details)
        with self._lock:
            self._events.append(DeviceEvent(at=self.clock.time(), name=name, details=clean))
        recorder = evidence.current()
        if recorder is not None:
            recorder.record("device", name, clean, at=self._events[-1].at)

    def _hook_evidence(self, result: HookResult, *, timed_out: bool = False) -> None:
        recorder = evidence.current()
        if recorder is not None and result.output:
            recorder.attach_text(f"hook {result.name}", result.output)
        self._event(f"hook:{result.name}", command=result.command, returncode=result.returncode,
                    timed_out=timed_out, duration_s=result.duration_s, output=result.output[-_OUTPUT_TAIL:])

    def _run_hook(self, action: str, *, env: Mapping[str, str] | None = None,
                  hook: HookSpec | None = None) -> HookResult:
        hook = hook or self._hooks[action]
        try:
            result = self.runner.run(action, hook, env={"PAIRCERT_ACTION": action.replace("_", "-"),
                                                        **self._qr_env(), **(env or {})})
        except HookFailed as exc:
            self._hook_evidence(exc.result, timed_out=exc.timed_out)
            raise
        self._hook_evidence(result)
        return result

    def _qr_env(self) -> dict[str, str]:
        return {"PAIRCERT_QR_PNG": str(self._last_qr)} if self._last_qr is not None else {}

    def _ask(self, action: str, message: str, timeout_s: float) -> str:
        capability = _CAPABILITY_OF.get(action, DeviceCapability.SCAN_QR).value
        if not self.terminal.person_present:
            missing = CapabilityMissing(self.name, capability)
            missing.args = (f"{missing}: no '{action}' hook and no person at a terminal",)
            raise missing
        answer = self.terminal.ask(message, timeout_s, step=action)
        self._event(f"person:{action}", answer=answer[:200])
        return answer

    def _act(self, action: str, timeout_s: float | None = None) -> None:
        if action in self._hooks:
            self._run_hook(action)
        else:
            self._ask(action, _PROMPTS[action], self.prompt_timeout_s if timeout_s is None else timeout_s)

    # -- the device contract -------------------------------------------------------------------------------

    @step
    def factory_reset(self) -> None:
        self._act("factory_reset")

    @step
    def reset(self) -> None:
        self._act("reset")

    @step
    def power_cycle(self) -> None:
        self._act("power_cycle")

    @step
    def wait_pairing_mode(self, timeout: float) -> None:
        """Run ``enter_pairing_mode`` (or ask a person to do it) within ``timeout`` s."""
        if "enter_pairing_mode" in self._hooks:
            hook = self._hooks["enter_pairing_mode"]
            bounded = HookSpec(hook.command, min(hook.timeout_s, timeout)) if timeout > 0 else hook
            self._run_hook("enter_pairing_mode", hook=bounded)
        else:
            self._ask("enter_pairing_mode", _PROMPTS["enter_pairing_mode"], timeout)

    @step
    def present_qr(self, image: Image.Image) -> None:
        """Save the QR as PNG, show it, and have it delivered: ``qr_hook``, or a person holding it up."""
        path = self.save_qr(image)
        if self.show_qr != "none" and ("qr" in self._hooks or self.terminal.person_present):
            self._show(image, path)
        if "qr" in self._hooks:
            self._run_hook("qr", env={"PAIRCERT_ACTION": "present-qr"})
        else:
            self._ask("qr", QR_PROMPT, self.prompt_timeout_s)
        self._event("qr-presented", png=str(path), via="hook" if "qr" in self._hooks else "person")

    def save_qr(self, image: Image.Image) -> Path:
        """Write the QR as the next ``qr-NNN.png`` in the output directory, and keep it as evidence.

        The file is mode 0600: it encodes the Wi-Fi password (a report sweep redraws it redacted afterwards).
        """
        self.output_dir.mkdir(parents=True, exist_ok=True)
        path = self.output_dir / f"qr-{next(self._qr_numbers):03d}.png"
        try:
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
                os.fchmod(handle.fileno(), 0o600)  # an existing file keeps its mode through O_CREAT
                image.save(handle, format="PNG")
        except OSError as exc:
            raise AdapterError(f"could not save the QR code to {path}: {exc}") from exc
        self._last_qr = path
        self._saved.append(path)
        log.info("QR code saved to %s", path)
        recorder = evidence.current()
        if recorder is not None:
            recorder.attach_image("qr shown to the device", image)
        return path

    def terminal_text(self, image: Image.Image) -> str:
        """The QR as half blocks for the terminal (coloured when the terminal is one, unless told otherwise)."""
        colour = self.colour if self.colour is not None else _isatty(self.terminal.output)
        try:
            return half_block_text(qr_modules(image), colour=colour)
        except ValueError as exc:
            log.warning("the QR image cannot be drawn in the terminal (%s); use the PNG", exc)
            return ""

    def _show(self, image: Image.Image, path: Path) -> None:
        if self.show_qr == "window" and not self._open_viewer(path):
            log.warning("no image viewer (xdg-open/open) to show the QR full screen; showing it in the terminal")
        self.terminal.show(f"\nQR code for the camera (also saved as {path}):\n{self.terminal_text(image)}")

    def _open_viewer(self, path: Path) -> bool:
        opener = shutil.which("xdg-open") or shutil.which("open")
        if opener is None:
            return False
        try:
            viewer = subprocess.Popen([opener, str(path)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            log.warning("could not open %s with %s: %s", path, opener, exc)
            return False
        with self._lock:
            self._viewers.append(viewer)
        return True

    def ap_address(self) -> ApAddress | None:
        """Where the camera's SoftAP answers: the ``ap_hook``'s answer (JSON ``{"host", "udp_port", "tcp_port"}``,
        or ``null`` while the SoftAP is closed), else the fixed ``ap_host`` address."""
        if "ap" not in self._hooks:
            return self._ap
        output = self._run_hook("ap").output.strip()
        try:
            raw = json.loads(output) if output else None
            if raw is None:
                return None
            return ApAddress(str(raw["host"]), _port(raw.get("udp_port")), _port(raw.get("tcp_port")))
        except (ValueError, KeyError, TypeError) as exc:
            raise AdapterError(f"the ap_hook printed {output[:200]!r}, not an AP address as JSON or null: {exc}") \
                from exc

    @step
    def events(self) -> Sequence[DeviceEvent]:
        """What the hooks and prompts did, plus what the ``events_hook`` prints (JSON lines {at?, name, details?});
        the hook gets ``PAIRCERT_EVENTS_SINCE``, the time of the last event it printed, to print only newer ones."""
        if "events" in self._hooks:
            result = self._run_hook("events", env={"PAIRCERT_EVENTS_SINCE": f"{self._events_seen:.6f}"})
            for line in result.output.splitlines():
                self._parse_event_line(line)
        with self._lock:
            return list(self._events)

    def _parse_event_line(self, line: str) -> None:
        if not line.strip():
            return
        try:
            raw = json.loads(line)
            name = str(raw["name"])
            details = raw.get("details") or {}
            at = float(raw.get("at", self.clock.time()))
            if not isinstance(details, dict):
                raise TypeError("details is not an object")
        except (ValueError, KeyError, TypeError) as exc:
            self._event("events-hook:unparsed", line=line[:500], reason=str(exc))
            return
        with self._lock:
            if at <= self._events_seen:
                return  # heard already: the hook may print everything since the device started
            self._events_seen = at
            self._events.append(DeviceEvent(at=at, name=name, details=self.redactor.redact_obj(details)))

    @step
    def is_alive(self) -> bool:
        """The ``liveness`` hook's exit status (0: alive), or a person's y/n."""
        if "liveness" in self._hooks:
            hook = self._hooks["liveness"]
            result, timed_out = self.runner.run_unchecked("liveness", hook, env={"PAIRCERT_ACTION": "liveness",
                                                                                 **self._qr_env()})
            self._hook_evidence(result, timed_out=timed_out)
            if timed_out or result.returncode in _SHELL_CANNOT_RUN:
                raise HookFailed(result, hook.timeout_s, timed_out=timed_out)
            return result.returncode == 0
        return self._ask("liveness", _PROMPTS["liveness"], self.prompt_timeout_s).strip().lower() in ("y", "yes")

    def info(self) -> Mapping[str, Any]:
        return {"adapter": "operator", "name": self.device_name, "pid": self.pid, "uuid": self.licence.uuid,
                "hooks": {name: hook.command for name, hook in sorted(self._hooks.items())},
                "person_present": self.person_present, "show_qr": self.show_qr, "output_dir": str(self.output_dir),
                "ap": None if self._ap is None else f"{self._ap.host} udp {self._ap.udp_port} tcp {self._ap.tcp_port}",
                "capabilities": sorted(self.capabilities)}

    def close(self) -> None:
        with self._lock:
            viewers, self._viewers = self._viewers, []
        for viewer in viewers:  # only the viewers this adapter started, by their process
            if viewer.poll() is None:
                viewer.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                viewer.wait(timeout=2)
        self.terminal.close()
        self._forget_qr_codes()
        redaction.unregister(self.redactor)

    def _forget_qr_codes(self) -> None:
        """Delete the QR PNGs this adapter wrote (they hold the Wi-Fi password; the evidence has redacted copies)."""
        saved, self._saved = self._saved, []
        for path in saved:
            with contextlib.suppress(OSError):
                path.unlink()
        if self._owned_dir is not None:
            shutil.rmtree(self._owned_dir, ignore_errors=True)
            self._owned_dir = None


def _port(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise ValueError(f"{value!r} is not a port")
    return value


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


# -- the factory -----------------------------------------------------------------------------------------------

_PROFILE_HOOKS = ("reset", "factory_reset", "power_cycle", "liveness", "enter_pairing_mode")


def _profile_hooks(profile: Profile) -> dict[str, HookSpec]:
    hooks: dict[str, HookSpec] = {}
    for name in _PROFILE_HOOKS:
        hook = getattr(profile.hooks, name)
        if hook is not None:
            hooks[name] = HookSpec.parse(hook, f"[hooks] {name}")
    return hooks


def _claimed(profile: Profile) -> frozenset[str]:
    caps = profile.capabilities
    claimed = {DeviceCapability.LIVENESS.value, DeviceCapability.EVENTS.value}
    for flag, capability in ((caps.supports_reset, DeviceCapability.RESET),
                             (caps.supports_factory_reset, DeviceCapability.FACTORY_RESET),
                             (caps.supports_power_cycle, DeviceCapability.POWER_CYCLE),
                             ("qr" in caps.pairing_modes, DeviceCapability.SCAN_QR),
                             ("ap" in caps.pairing_modes, DeviceCapability.AP_MODE),
                             ("ez" in caps.pairing_modes, DeviceCapability.EZ_MODE)):
        if flag:
            claimed.add(capability.value)
    return frozenset(claimed)


def _secrets(profile: Profile, licence: Licence) -> tuple[list[str], list[str]]:
    """The secret values the adapter must never let out, and the environment variables that hold them."""
    values, names = profile_secrets(profile)
    return [licence.auth_key, *values], names


def profile_secrets(profile: Profile) -> tuple[list[str], list[str]]:
    """The profile's secret values (the Wi-Fi password) and the environment variables that hold secrets (the
    licence's, the Wi-Fi password's, every ``env:`` argument of the adapters, pool units' too): what a hook must
    never see."""
    from harness.profiles import ProfileError

    values: list[str] = []
    names: list[str] = []
    params = profile.parameters
    if params.licence is not None:
        names += [params.licence.authkey.env, params.licence.uuid.env]
    if params.wifi is not None and params.wifi.password is not None:
        names.append(params.wifi.password.env)
        with contextlib.suppress(ProfileError):
            values.append(params.wifi.password.resolve().get_secret_value())
    for spec in (profile.adapters.cloud, profile.adapters.device, *profile.adapters.device_pool):
        names += [ref[4:] for ref in _env_refs(spec.model_dump(mode="json").get("args", {}))]
    return values, names


def _env_refs(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.startswith("env:") else []
    if isinstance(value, dict):
        return [ref for v in value.values() for ref in _env_refs(v)]
    if isinstance(value, list):
        return [ref for v in value for ref in _env_refs(v)]
    return []


def _licence(profile: Profile, uuid: str | None, auth_key: str | None) -> Licence:
    if uuid and auth_key:
        return Licence(uuid=uuid, auth_key=auth_key, pid=profile.device.pid)
    if profile.parameters.licence is None:
        raise AdapterError("the operator device needs the licence flashed into the camera: [parameters.licence] "
                           "in the profile, or the uuid and auth_key adapter arguments")
    resolved = profile.parameters.licence.resolve()
    return Licence(uuid=resolved.uuid.get_secret_value(), auth_key=resolved.authkey.get_secret_value(),
                   pid=profile.device.pid)


PRIVATE_DIR_ENV = "PAIRCERT_PRIVATE_DIR"  # paircert run's own 0700 directory, removed when the run ends


def _output_dir(output_dir: str | os.PathLike[str] | None) -> tuple[Path, bool]:
    """Where the QR PNGs go, and whether the adapter made that directory (and removes it at close)."""
    if output_dir is not None:
        return Path(output_dir), False
    private = os.environ.get(PRIVATE_DIR_ENV)
    if private and Path(private).is_dir():
        return Path(tempfile.mkdtemp(prefix="operator-qr-", dir=private)), True
    made = Path(tempfile.mkdtemp(prefix="paircert-operator-"))
    log.info("the operator adapter keeps its QR codes in %s until it closes", made)
    return made, True


def operator_device(context: WorldContext, *, show_qr: str = "terminal", interactive: bool | None = None,
                    ap_host: str | None = None, ap_udp_port: int | None = 6669, ap_tcp_port: int | None = 6668,
                    output_dir: str | None = None, qr_hook: Any = None, events_hook: Any = None,
                    hook_env: Mapping[str, Any] | None = None, prompt_timeout_s: float = 300.0,
                    uuid: str | None = None, auth_key: str | None = None, pool_id: str | None = None,
                    colour: bool | None = None, ap_hook: Any = None) -> OperatorDeviceAdapter:
    """The registry's factory (``device = { name = "operator", args = { show_qr = "window", ... } }``).

    ``interactive``: None finds out whether a person is at a terminal; False never prompts (CI); True insists.
    ``ap_host``: where the camera's SoftAP answers (192.168.175.1 or 192.168.176.1 on the lab's Wi-Fi; no AP
    mode without it). ``qr_hook``/``events_hook``: hooks as in ``[hooks]`` (a command, or {command,
    timeout_s}). ``hook_env``: extra environment for every hook (the only way a secret reaches one).
    """
    profile = context.profile
    licence = _licence(profile, uuid, auth_key)
    hooks = _profile_hooks(profile)
    if qr_hook is not None:
        hooks["qr"] = HookSpec.parse(qr_hook, "adapters.device.args.qr_hook")
    if events_hook is not None:
        hooks["events"] = HookSpec.parse(events_hook, "adapters.device.args.events_hook")
    if ap_hook is not None:
        hooks["ap"] = HookSpec.parse(ap_hook, "adapters.device.args.ap_hook")
    secret_values, secret_names = _secrets(profile, licence)
    for value in secret_values:
        redaction.learn(value)
    ap = None if ap_host is None else ApAddress(ap_host, ap_udp_port, ap_tcp_port)
    terminal = Terminal.open(interactive)
    directory, owned = _output_dir(output_dir)
    try:
        adapter = OperatorDeviceAdapter(
            licence=licence, pid=profile.device.pid, hooks=hooks, terminal=terminal,
            output_dir=directory, show_qr=show_qr, clock=context.clock,
            claimed=_claimed(profile), ap_address=ap, hook_env={k: str(v) for k, v in (hook_env or {}).items()},
            secrets=secret_values, secret_env_names=secret_names, prompt_timeout_s=prompt_timeout_s,
            device_name=profile.device.name, mac=profile.device.mac, pool_id=pool_id, colour=colour)
    except BaseException:
        terminal.close()
        if owned:
            shutil.rmtree(directory, ignore_errors=True)
        raise
    adapter._owned_dir = directory if owned else None
    attach = getattr(context.network, "attach_device_env", None)
    if callable(attach):  # network hooks (the hooks network adapter) reach this unit's AP as its own hooks do
        attach(adapter.hook_context)
    return adapter


__all__ = ["QR_PROMPT", "OperatorDeviceAdapter", "operator_device", "profile_secrets"]
