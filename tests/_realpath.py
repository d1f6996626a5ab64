"""The real-device path on loopback, as a lab runs it: `paircert cloud serve` and `paircert device serve` as their own
processes, a profile whose ``[hooks]`` drive the device process through shell commands (curl to its control
API), and `paircert run --cloud remote --device operator` as a user types it. Every wait is bounded."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from _serve_helpers import Served, ServedCloud

ROOT = Path(__file__).resolve().parent.parent
PAIRCERT = Path(sys.executable).parent / "paircert"
PID = "acmecam2labpid01"  # the vendor's product id
WIFI_SSID = "paircert-lab"
WIFI_PASSWORD = "lab-wifi-pass-1234"
RUN_TIMEOUT_S = 300.0
ADMIN_ARG = 'admin_key = "env:PAIRCERT_ADMIN_KEY"'  # the lab cloud's admin key, as the README has the profile name it


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# The README's "Certifying a real camera" is what runs here: its products file and its commands.
README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README[README.index("## Certifying a real camera"):README.index("**Packet evidence.**")]
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", SECTION, flags=re.S)
PRODUCTS = next(code for lang, code in BLOCKS if lang == "toml" and "[[product]]" in code)
COMMANDS = [shlex.split(code.replace("\\\n", " "), comments=True) for lang, code in BLOCKS if lang == "sh"]


def readme_command(program: str, subcommand: str) -> list[str]:
    """The README's ``paircert <program> <subcommand> ...`` arguments (after the two words)."""
    argv = next(c for c in COMMANDS if c[:3] == ["paircert", program, subcommand])
    return argv[3:]


def on_loopback(args: list[str]) -> list[str]:
    """The README's cloud command on loopback with free ports (the lab's 0.0.0.0:8080 and 1883 may be taken)."""
    values = {"--host": "127.0.0.1", "--port": "0", "--mqtt-port": "0"}
    return [values.get(args[i - 1], arg) if i else arg for i, arg in enumerate(args)]


class ReadmeCloud(ServedCloud):
    """`paircert cloud serve` with exactly the README's arguments (on loopback), run in the lab's directory."""

    def __init__(self, args: list[str], *, cwd: Path) -> None:
        self.urls: dict[str, str] = {}
        # in the lab's directory: the README's relative paths (products.toml, lab-cloud.sqlite, licences.json)
        Served.__init__(self, ["cloud", "serve", *args], ready=r"^serving", cwd=str(cwd))


@dataclass
class Unit:
    """One camera on the bench: its process, its control API, its licence, its SoftAP ports."""

    device: Served
    control: str
    licence: dict[str, str]
    ap_ports: tuple[int, int]


@dataclass
class Lab:
    """The cloud and the camera processes (one unit, or a pool of several), and where the profile and the reports
    go. ``device``, ``control``, ``licence`` and ``ap_ports`` are the first unit's."""

    root: Path
    cloud: ServedCloud
    licences: list[dict[str, str]] = field(default_factory=list)
    units: list[Unit] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        """The lab's environment: the Wi-Fi password, the admin key the README's cloud keeps beside its --state file
        (README: "The lab cloud on a LAN"), and each unit's licence (``PAIRCERT_LICENCE_*`` for the first,
        ``PAIRCERT_LICENCE<N>_*`` for unit N after it)."""
        admin_key = (self.root / "lab-cloud.sqlite.admin-key").read_text(encoding="utf-8").strip()
        env = {**os.environ, "PAIRCERT_WIFI_PASSWORD": WIFI_PASSWORD, "PAIRCERT_ADMIN_KEY": admin_key}
        for number, licence in enumerate(self.licences, start=1):
            infix = "" if number == 1 else str(number)
            env[f"PAIRCERT_LICENCE{infix}_UUID"] = licence["uuid"]
            env[f"PAIRCERT_LICENCE{infix}_AUTHKEY"] = licence["authKey"]
        return env

    def start_device(self, licence: dict[str, str]) -> Unit:
        udp, tcp = (free_port(socket.SOCK_DGRAM), free_port())
        env = {**self.env, "PAIRCERT_LICENCE_UUID": licence["uuid"], "PAIRCERT_LICENCE_AUTHKEY": licence["authKey"]}
        device = Served(["device", "serve", "--url-config", self.cloud.urls["url_config"], "--pid", PID,
                         "--control", "127.0.0.1:0", "--wifi", f"{WIFI_SSID}={WIFI_PASSWORD}",
                         "--ap-udp-port", str(udp), "--ap-tcp-port", str(tcp)],
                        ready=r"^paircert device: control ", env=env)
        self.units.append(Unit(device, "", licence, (udp, tcp)))
        line = next(x for x in device.lines if x.startswith("paircert device: control "))
        self.units[-1].control = line.split()[-1]
        return self.units[-1]

    @property
    def device(self) -> Served:
        return self.units[0].device

    @property
    def control(self) -> str:
        return self.units[0].control

    @property
    def licence(self) -> dict[str, str]:
        return self.licences[0]

    @property
    def ap_ports(self) -> tuple[int, int]:
        return self.units[0].ap_ports

    @property
    def device_pid(self) -> int:
        return self.device.proc.pid

    def stop(self) -> None:
        for unit in self.units:
            unit.device.stop()
        self.cloud.stop()


def start_lab(root: Path, units: int = 1) -> Lab:
    """The lab cloud for the vendor's product with ``units`` licences, and as many cameras, each flashed with one
    (the README's command; a pool of units asks its ``--licences`` for each)."""
    assert PID in PRODUCTS
    (root / "products.toml").write_text(PRODUCTS, encoding="utf-8")
    licences = root / "licences.json"
    args = on_loopback(readme_command("cloud", "serve"))
    args[args.index("--licences") + 1] = str(units)
    cloud = ReadmeCloud(args, cwd=root)
    lab = Lab(root, cloud)
    try:
        lab.licences = json.loads(licences.read_text(encoding="utf-8"))
        assert len(lab.licences) == units and all(licence["pid"] == PID for licence in lab.licences)
        for licence in lab.licences:
            lab.start_device(licence)
    except BaseException:
        lab.stop()
        raise
    return lab


def hooks(control: str, *, power_cycle: str | None = None, qr: str | None = None, timeout_s: float = 5.0) -> str:
    """The profile's ``[hooks]`` and operator arguments: curl to the camera's control API."""
    curl = "curl -fsS --max-time 4"
    cycle = power_cycle or f"{curl} -X POST {control}/power-cycle"
    return f'''
[hooks]
reset = {{ command = "{curl} -X POST {control}/reset", timeout_s = {timeout_s} }}
factory_reset = {{ command = "{curl} -X POST {control}/factory-reset", timeout_s = {timeout_s} }}
power_cycle = {{ command = "{cycle}", timeout_s = {timeout_s} }}
liveness = {{ command = "{curl} {control}/status | grep -q '\\"alive\\": true'", timeout_s = {timeout_s} }}
enter_pairing_mode = {{ command = "{curl} \\"{control}/wait?state=pairing&timeout=3\\"", timeout_s = {timeout_s} }}
'''


# The README's hooks network adapter (its "Wi-Fi networks a test needs"): the camera process's /networks routes, the
# password piped from the environment (printf is a shell builtin), never on a command line. ``$CAMERA`` is the
# unit's control URL (the network's own hook_env for one unit, the device's in a pool).
NETWORK_BLOCKS = {tomllib.loads(code)["adapters"]["network"]["name"]: tomllib.loads(code)["adapters"]["network"]
                  for lang, code in BLOCKS if lang == "toml" and "[adapters.network]" in code}
HOOKS_NETWORK = NETWORK_BLOCKS["hooks"]


def toml_value(value: object) -> str:
    """A value as TOML (strings, booleans, numbers, lists and inline tables: what a network section holds)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")


def network_section(lab: Lab, declared: dict[str, object] | None = None) -> str:
    """``[adapters.network]``: the README's hooks network adapter on the camera process's /networks routes;
    ``declared`` overrides what the lab declares it makes (``{"non_ascii": False}``, ...)."""
    args = {**HOOKS_NETWORK["args"], **(declared or {})}
    if len(lab.units) == 1:
        args["hook_env"] = {"CAMERA": lab.control}
    lines = "".join(f"{key} = {toml_value(value)}\n" for key, value in args.items())
    return f'''
[adapters.network]
name = "hooks"

[adapters.network.args]
{lines}'''


def pool_sections(lab: Lab) -> str:
    """``[[adapters.device_pool]]``: each unit's control API (``$CAMERA`` for the hooks), SoftAP and licence."""
    text = ""
    for number, unit in enumerate(lab.units, start=1):
        udp, tcp = unit.ap_ports
        licence = "" if number == 1 else (f', uuid = "env:PAIRCERT_LICENCE{number}_UUID", '
                                          f'auth_key = "env:PAIRCERT_LICENCE{number}_AUTHKEY"')
        text += f'''
[[adapters.device_pool]]
id = "unit-{number}"
args = {{ hook_env = {{ CAMERA = "{unit.control}" }}, ap_udp_port = {udp}, ap_tcp_port = {tcp}{licence} }}
'''
    return text


def write_profile(lab: Lab, path: Path, *, qr_hook: str | None = None, extra_hooks: str | None = None,
                  activator_timeout_s: float = 4.0, interactive: bool = False, ap_hook: bool = True,
                  networks: dict[str, object] | None = None, air: bool = False) -> Path:
    """A profile for the camera behind ``lab.control``, as the README's "Certifying a real camera" writes one;
    for a lab of several units, a device pool whose hooks reach each unit's camera as ``$CAMERA``. ``networks``:
    what the hooks network adapter declares it makes, over the README's; ``air``: the in-memory air instead, which
    makes no network the camera process can join."""
    pool = len(lab.units) > 1
    control = "$CAMERA" if pool else lab.control
    curl = "curl -fsS --max-time 4"
    qr = qr_hook or f"{curl} -H 'Content-Type: image/png' --data-binary @$PAIRCERT_QR_PNG {control}/qr"
    udp, tcp = lab.ap_ports
    # with a person at the bench: the QR drawn on the terminal, and no qr_hook (the person holds it up)
    person = 'show_qr = "terminal"\n' if interactive else 'interactive = false\nshow_qr = "none"\n'
    qr_arg = "" if interactive else f'qr_hook = {{ command = "{qr}", timeout_s = 5 }}\n'
    ap_arg = f'ap_hook = {{ command = "{curl} {control}/ap", timeout_s = 5 }}\n' if ap_hook else ""
    text = f'''description = "Acme Cam 2 on the lab bench (loopback)"

[device]
name = "Acme Cam 2 (lab unit 1)"
kind = "camera"
pid = "{PID}"
firmware = "1.0.0"

[capabilities]
pairing_modes = ["qr", "ez", "ap"]
ez_channels = ["broadcast", "multicast"]
ap_variants = ["legacy", "lpv35"]
binding_mode = "strong"
mqtt_protocol_version = "2.2"
activation_api = "tuya.device.active"

[parameters]
token_ttl_s = 600
activator_timeout_s = {activator_timeout_s}
pairing_mode_timeout_s = 5
boot_time_s = 5
region = "EU"

[parameters.wifi]
ssid = "{WIFI_SSID}"
password = "env:PAIRCERT_WIFI_PASSWORD"

[parameters.licence]
uuid = "env:PAIRCERT_LICENCE_UUID"
authkey = "env:PAIRCERT_LICENCE_AUTHKEY"

[adapters]
cloud = {{ name = "remote", args = {{ url = "{lab.cloud.urls['app API']}", timeout_s = 5, {ADMIN_ARG} }} }}
{'network = "air"' if air else ""}

[adapters.device]
name = "operator"

[adapters.device.args]
{person}{qr_arg}{ap_arg}ap_host = "127.0.0.1"
ap_udp_port = {udp}
ap_tcp_port = {tcp}
prompt_timeout_s = 30

[adapters.device.args.events_hook]
command = "{curl} \\"{control}/events?format=lines&after=$PAIRCERT_EVENTS_SINCE\\""
timeout_s = 5
{extra_hooks if extra_hooks is not None else hooks(control)}{pool_sections(lab) if pool else ""}{
        "" if air else network_section(lab, networks)}'''
    path.write_text(text, encoding="utf-8")
    return path


def latest(reports: Path) -> Path:
    """The run directory ``reports/latest`` points to."""
    return (reports / "latest").resolve()


def check_profile(lab: Lab, profile: Path) -> subprocess.CompletedProcess[str]:
    """The README's ``paircert profiles --check my-camera.toml``."""
    args = [str(profile) if a == "my-camera.toml" else a for a in readme_command("profiles", "--check")]
    return subprocess.run([str(PAIRCERT), "profiles", "--check", *args], capture_output=True, text=True, timeout=60,
                          env=lab.env, cwd=lab.root)


def paircert_run(lab: Lab, profile: Path, reports: Path, *extra: str,
                 timeout_s: float = RUN_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    args = [str(profile) if a == "my-camera.toml" else a for a in readme_command("run", "--profile")]
    command = [str(PAIRCERT) if PAIRCERT.exists() else shutil.which("paircert") or "paircert", "run", "--profile",
               *args, "--report-dir", str(reports), "--fuzz-budget", "ci", "--no-progress", *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, env=lab.env,
                          cwd=lab.root, stdin=subprocess.DEVNULL)
