"""The preflight: everything a run's configuration names is checked before the first test.

``paircert run`` and ``paircert profiles --check`` run it; a problem is a
:class:`~harness.profiles.ProfileError` whose lines name the profile file and the dotted key (exit 2), instead
of one ERROR per test later. It checks:

- every ``env:`` reference (parameters, adapter arguments, the device pool) is set;
- each adapter resolves: a registered name, or a ``package.module:factory`` that imports and is callable;
- each adapter's arguments are ones its factory takes (an unknown key is an error, with "did you mean"), and
  none it requires is missing;
- fault names given to the emulated camera and cloud exist;
- every hook's commands exist (a program on ``PATH``, a shell builtin, or an executable file), the ``hooks``
  network adapter's too;
- the network adapter's interface (scapy, hooks, hostapd) exists.

Nothing is started: no adapter is built, no hook is run.
"""

from __future__ import annotations

import difflib
import inspect
import os
import shlex
import shutil
import socket
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from harness.adapters.contracts import AdapterError
from harness.adapters.registry import resolve, split_spec
from harness.profiles import Profile, ProfileError, SecretRef

Problems = list[tuple[str, str]]

# Shell words that start a command without being a program on PATH.
_SHELL_WORDS = frozenset({
    "if", "then", "else", "elif", "fi", "case", "esac", "for", "while", "until", "do", "done", "in", "function",
    "{", "}", "!", "[", "[[", "]]", "time", ":", ".", "source", "alias", "bg", "break", "builtin", "cd", "command",
    "continue", "echo", "eval", "exec", "exit", "export", "false", "fg", "getopts", "hash", "jobs", "kill",
    "local", "printf", "pwd", "read", "readonly", "return", "set", "shift", "test", "trap", "true", "type",
    "ulimit", "umask", "unalias", "unset", "wait",
})
_OPERATORS = frozenset({";", "&&", "||", "|", "&", "(", ")", ";;", "|&"})
_OPERATOR_HOOKS = ("qr_hook", "events_hook", "ap_hook")
_NETWORK_HOOKS = ("add_access_point", "remove_access_point")


def _env_problems(node: Any, key: str, environ: Mapping[str, str]) -> Problems:
    """Unset ``env:`` references anywhere under ``node`` (a profile section, a dict of arguments, a list)."""
    from pydantic import BaseModel

    if isinstance(node, SecretRef):
        return [] if node.env in environ else [(key, f"environment variable {node.env} is not set (expected it to "
                                                     f"hold the secret that {node.reference} refers to)")]
    found: Problems = []
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            found += _env_problems(getattr(node, name), f"{key}.{name}" if key else name, environ)
    elif isinstance(node, dict):
        for name, value in node.items():
            found += _env_problems(value, f"{key}.{name}", environ)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _env_problems(value, f"{key}[{index}]", environ)
    return found


def accepted_arguments(factory: Callable[..., Any]) -> tuple[set[str], set[str]] | None:
    """``(every argument, the required ones)`` a factory takes after the context; None when it takes any."""
    declared = getattr(factory, "accepted_args", None)
    if declared is not None:
        return set(declared), set()
    try:
        parameters = list(inspect.signature(factory).parameters.values())[1:]
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    names = {p.name for p in parameters if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    required = {p.name for p in parameters if p.default is inspect.Parameter.empty
                and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    return names, required


def _argument_problems(kind: str, name: str, factory: Callable[..., Any], args: Iterable[str], key: str,
                       given: Iterable[str] = ()) -> Problems:
    accepted = accepted_arguments(factory)
    if accepted is None:
        return []
    names, required = accepted
    problems: Problems = []
    for arg in sorted(args):
        if arg not in names:
            close = difflib.get_close_matches(arg, sorted(names), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; it takes: {', '.join(sorted(names))}"
            problems.append((f"{key}.{arg}", f"unknown argument of the {name} {kind} adapter{hint}"))
    for arg in sorted(required - set(args) - set(given)):
        problems.append((key, f"the {name} {kind} adapter needs the argument '{arg}'"))
    return problems


def _fault_problems(profile: Profile, kind: str, name: str, args: Mapping[str, Any], key: str) -> Problems:
    """Faults of the emulated camera and cloud that name nothing (built-in names, registered names, specs)."""
    if name != "emulated" or "faults" not in args or kind not in ("cloud", "device"):
        return []
    from harness.adapters.factories import fault_problems
    from harness.emulator.camera.faults.registry import REGISTRY as CAMERA_FAULT_REGISTRY
    from harness.emulator.cloud.faults import REGISTRY as CLOUD_FAULT_REGISTRY

    registry = CLOUD_FAULT_REGISTRY if kind == "cloud" else CAMERA_FAULT_REGISTRY
    return fault_problems(registry, f"{key}.faults", args, profile)


def _adapter_problems(profile: Profile, kind: str, override: str | None) -> Problems:
    spec = getattr(profile.adapters, kind)
    key = f"adapters.{kind}"
    where = f"{key}.name" if override is None else f"{key} (--{kind} {override})"
    name, given = split_spec(kind, override or spec.name)
    try:
        factory = resolve(kind, name)
    except AdapterError as exc:
        return [(where, str(exc))]
    same = override is None or name == spec.name
    args = dict(spec.args) if same else {}
    if kind == "network" and same and profile.adapters.network.interface:
        given = {**given, "interface": profile.adapters.network.interface}
    problems = _argument_problems(kind, name, factory, args, f"{key}.args", given)
    problems += _fault_problems(profile, kind, name, args, f"{key}.args")
    if kind == "device" and same:
        for index, member in enumerate(profile.adapters.device_pool):
            pool_args = [a for a in member.args if a != "pool_id"]
            problems += _argument_problems(kind, name, factory, pool_args, f"adapters.device_pool[{index}].args",
                                           given=[*args, *given])
    return problems


def command_problems(command: str) -> list[str]:
    """The programs a shell command line starts that cannot be found (PATH, builtins, executable files)."""
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = list(lexer)
    except ValueError as exc:
        return [f"the command cannot be parsed as a shell command line: {exc}"]
    missing: list[str] = []
    starts = True
    for word in words:
        if word in _OPERATORS:
            starts = True
            continue
        if not starts:
            continue
        if "=" in word and not word.startswith("=") and word.split("=", 1)[0].isidentifier():
            continue  # NAME=value before the command
        starts = False
        if word in _SHELL_WORDS or any(c in word for c in "$`*?"):
            starts = word in {"if", "then", "else", "elif", "do", "while", "until", "!", "time", "{"}
            continue
        if "/" in word:
            path = Path(word).expanduser()
            if not (path.is_file() and os.access(path, os.X_OK)):
                missing.append(f"{word} is not an executable file" + ("" if path.exists() else " (it does not exist)"))
        elif shutil.which(word) is None:
            missing.append(f"{word} is not a program on PATH nor a shell builtin")
    return missing


def _hook_problems(profile: Profile, device: str | None, network: str | None = None) -> Problems:
    problems: Problems = []
    hooks = {f"hooks.{name}": getattr(profile.hooks, name) for name in type(profile.hooks).model_fields}
    commands = {key: hook.command for key, hook in hooks.items() if hook is not None}
    if (device or profile.adapters.device.name).split(":", 1)[0] == "operator":
        for name in _OPERATOR_HOOKS:
            value = profile.adapters.device.args.get(name)
            command = value.get("command") if isinstance(value, dict) else value
            if isinstance(command, str):
                commands[f"adapters.device.args.{name}"] = command
    if (network or profile.adapters.network.name) == "hooks" == profile.adapters.network.name:
        for name in _NETWORK_HOOKS:
            value = profile.adapters.network.args.get(name)
            command = value.get("command") if isinstance(value, dict) else value
            if isinstance(command, str):
                commands[f"adapters.network.args.{name}"] = command
    for key, command in commands.items():
        problems += [(key, f"{why} (in {command!r})") for why in command_problems(command)]
    return problems


def _interface_problems(profile: Profile, network: str | None) -> Problems:
    spec = profile.adapters.network
    if (network or spec.name) not in ("scapy", "hooks", "hostapd") or not spec.interface:
        return []
    try:
        socket.if_nametoindex(spec.interface)
    except OSError:
        names = sorted(name for _, name in socket.if_nameindex())
        return [("adapters.network.interface", f"no network interface named {spec.interface!r} on this machine "
                                                f"(it has: {', '.join(names)})")]
    return []


def preflight(profile: Profile, *, cloud: str | None = None, device: str | None = None, network: str | None = None,
              environ: Mapping[str, str] | None = None) -> None:
    """Raise a ProfileError listing every problem of the run's configuration (nothing when all is well)."""
    env = os.environ if environ is None else environ
    problems = _env_problems(profile, "", env)
    for kind, override in (("network", network), ("cloud", cloud), ("device", device)):
        problems += _adapter_problems(profile, kind, override)
    problems += _hook_problems(profile, device, network)
    problems += _interface_problems(profile, network)
    if problems:
        raise ProfileError(str(profile.path) if profile.path else profile.name, problems)


__all__ = ["accepted_arguments", "command_problems", "preflight"]
