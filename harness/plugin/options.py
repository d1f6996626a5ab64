"""The plugin's options: one named group, each mirrored in an ini key and an environment variable, every name
namespaced (``--paircert-*``, ``PAIRCERT_*``, ``paircert_*``) so that paircert never collides with another plugin.

Precedence (first found wins): the command line (``--paircert-profile``), then the environment (``PAIRCERT_PROFILE``),
then the ini file (``paircert_profile``), then the profile itself (for the adapters). A relative path from the
command line or the environment is taken from the directory pytest was started in; one from the ini file,
from the ini file's directory. :func:`resolve` returns the values with where each came from, which the
report header and ``session.json`` show.
"""

from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PRECEDENCE = "command line > environment > ini"


@dataclass(frozen=True)
class Option:
    name: str  # the settings key: profile, cloud, ...
    help: str
    path: bool = False  # a directory or file path (made absolute as described above)

    @property
    def flag(self) -> str:
        return f"--paircert-{self.name.replace('_', '-')}"

    @property
    def env(self) -> str:
        return f"PAIRCERT_{self.name.upper()}"

    @property
    def ini(self) -> str:
        return f"paircert_{self.name}"

    @property
    def dest(self) -> str:
        return f"paircert_{self.name}"


OPTIONS: tuple[Option, ...] = (
    Option("profile", "device profile: a bundled name (camera-strong) or a path to a .toml file; "
                      "without it the plugin stays inert"),
    Option("cloud", "cloud adapter: a registered name or package.module:factory (default: the profile's)"),
    Option("device", "device adapter: a registered name or package.module:factory (default: the profile's)"),
    Option("network", "network adapter: air or scapy (default: the profile's)"),
    Option("report_dir", "directory for results.jsonl, session.json and evidence/", path=True),
    Option("evidence_dir", "directory for each test's evidence (default: <report-dir>/evidence)", path=True),
    Option("evidence", "which tests keep an evidence directory: all (the default), failed (those not PASS or N/A: "
                       "the rest write none and capture no traffic) or none (results only)"),
    Option("seed", "seed for the world and the lab's generated names and passwords (default: random, printed)"),
)

EVIDENCE_CHOICES = ("all", "failed", "none")
_ADAPTER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*(:\S+)?$")


@dataclass
class Settings:
    """The effective option values and where each came from (``command line``, ``PAIRCERT_X``, ...)."""

    values: dict[str, str | None] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def path(self, name: str) -> Path | None:
        value = self.values.get(name)
        return Path(value) if value else None

    def describe(self) -> str:
        """``profile=camera-strong (command line), report_dir=... (PAIRCERT_REPORT_DIR)``."""
        return ", ".join(f"{k}={v} ({self.sources[k]})" for k, v in self.values.items() if v is not None)


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("paircert", f"paircert conformance runs (precedence: {PRECEDENCE})")
    for option in OPTIONS:
        group.addoption(option.flag, dest=option.dest, default=None, metavar=option.name.upper(),
                        help=f"{option.help} [env {option.env}, ini {option.ini}]")
        parser.addini(option.ini, f"paircert: {option.help}", default=None)
    parser.addini("paircert_suites", "paircert: directories whose tests must carry a tc marker "
                                     "(default: the bundled suites/)", type="paths", default=[])
    parser.addini("paircert_requirements", "paircert: your own requirement catalogue (a requirements.toml), "
                                           "extending paircert's", default=None)


def profile_requested(config: pytest.Config) -> bool:
    """Whether the run names a profile anywhere (command line, environment, ini): only then is paircert active."""
    option = OPTIONS[0]
    return bool(getattr(config.option, option.dest, None) or os.environ.get(option.env, "").strip()
                or config.getini(option.ini))


def resolve(config: pytest.Config) -> Settings:
    """The effective settings, following :data:`PRECEDENCE`; bad values raise :class:`pytest.UsageError`."""
    settings = Settings()
    start_dir = Path(config.invocation_params.dir)
    ini_dir = config.inipath.parent if config.inipath else config.rootpath
    for option in OPTIONS:
        value: str | None = getattr(config.option, option.dest, None)
        source, base = "command line", start_dir
        if value is None and os.environ.get(option.env):
            value, source, base = os.environ[option.env], option.env, start_dir
        if value is None:
            ini_value = config.getini(option.ini)
            if ini_value:
                value, source, base = str(ini_value), f"ini {option.ini}", ini_dir
        if value is not None:
            value = value.strip()
            if option.path or (option.name == "profile" and _looks_like_path(value)):
                value = str((base / value).resolve())
            _check(option, value)
        settings.values[option.name] = value
        settings.sources[option.name] = source if value is not None else "unset"
    return settings


def _looks_like_path(text: str) -> bool:
    return text.endswith(".toml") or "/" in text or os.sep in text


def _check(option: Option, value: str) -> None:
    if not value:
        raise pytest.UsageError(f"{option.flag}: expected a value, got an empty string")
    if option.name in ("cloud", "device", "network") and not _ADAPTER.match(value):
        raise pytest.UsageError(f"{option.flag}: expected a registered adapter name (e.g. 'emulated') or a "
                                f"'package.module:factory' spec, got {value!r}")
    if option.name == "evidence" and value not in EVIDENCE_CHOICES:
        raise pytest.UsageError(f"{option.flag}: expected one of {', '.join(EVIDENCE_CHOICES)}, got {value!r}")
    if option.name == "seed" and not value.isdigit():
        raise pytest.UsageError(f"{option.flag}: expected a non-negative integer, got {value!r}")
    if option.path:
        path = Path(value)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise pytest.UsageError(f"{option.flag}: cannot create the directory {value}: {exc}") from None


def check_adapter_names(settings: Settings) -> None:
    """A registered name given for --cloud/--device/--network must exist (specs are checked when loaded)."""
    from harness.adapters.registry import registered

    names = registered()
    for kind in ("cloud", "device", "network"):
        value = settings.get(kind)
        if value is None or ":" in value:
            continue
        if f"{kind}.{value}" not in names:
            known = sorted(k.split(".", 1)[1] for k in names if k.startswith(kind + "."))
            raise pytest.UsageError(f"--paircert-{kind}: no {kind} adapter named {value!r} ({settings.sources[kind]}); "
                                    f"registered: {', '.join(known)}")


def session_seed(settings: Settings) -> int:
    """The run's seed: the option's, or a fresh random one (printed in the header so the run replays)."""
    value = settings.get("seed")
    return int(value) if value is not None else random.SystemRandom().randrange(2**32)


__all__ = ["EVIDENCE_CHOICES", "OPTIONS", "PRECEDENCE", "Option", "Settings", "add_options", "check_adapter_names",
           "profile_requested", "resolve", "session_seed"]
