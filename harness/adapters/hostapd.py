"""The ``hostapd`` network adapter: a Linux lab machine's Wi-Fi interface is the access point a test needs.

For each network it writes a hostapd configuration (``ssid2=`` in hex, so any bytes an SSID holds; open, WPA2-PSK or
WPA3-SAE; the channel), starts hostapd on it, or makes the running hostapd reread it (SIGHUP: hostapd reloads its
configuration file), and returns once the access point beacons with that SSID, as hostapd's control socket says
(``STATUS``: ``state=ENABLED``, ``ssid[0]=`` the SSID). Removing the network stops hostapd (``hostapd_cli
terminate``, then signals); so does closing the adapter. One network at a time: adding another replaces it.

The password reaches hostapd only through the configuration file: mode 0600, in a private directory (0700), removed
as soon as the network is removed and at the end; never on a command line, in a log or in the report (what hostapd
prints is redacted). Needs the ``hostapd`` package (``hostapd`` and ``hostapd_cli``), a Wi-Fi interface whose driver
can be an access point (``iw list``: "Supported interface modes: * AP"), not managed by NetworkManager or
wpa_supplicant meanwhile, and root (or ``hostapd = ["sudo", "-n", "hostapd"]``). The device reaches the cloud through
it only if the lab routes that interface (``bridge = "br0"``, or NAT and a DHCP server on it): the lab's job.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import redaction
from harness.adapters.contracts import AccessPointCapability, AdapterError, CannotMakeNetwork, Security
from harness.adapters.labwifi import CAPABILITY_ARGS, LabWifiAdapter, capability_from_args, lab_traffic
from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.adapters.registry import WorldContext

#: What hostapd makes: any SSID bytes (ssid2= hex), open, WPA2-PSK, WPA3-SAE; WPA passphrases only (hostapd refuses
#: others); one network at a time (one BSS on the interface).
DEFAULT_CAPABILITY = AccessPointCapability(wpa_passphrases_only=True, max_networks=1)
_MANAGED_KEYS = frozenset({"interface", "driver", "ctrl_interface", "ctrl_interface_group", "ssid", "ssid2",
                           "utf8_ssid", "hw_mode", "channel", "auth_algs", "wpa", "wpa_key_mgmt", "rsn_pairwise",
                           "wpa_passphrase", "wpa_psk", "sae_password", "ieee80211w", "bridge", "country_code"})
_POLL_S = 0.2
_CLI_TIMEOUT_S = 5.0
_OUTPUT_LINES = 200
_UNIX_PATH_MAX = 107
_clients = itertools.count(1)


def printf_encode(data: bytes) -> str:
    """An SSID as hostapd prints it in ``STATUS`` (its printf_encode): printable ASCII as is, ``"`` and ``\\``
    escaped, ``\\e \\n \\r \\t``, and ``\\xNN`` for any other byte."""
    out: list[str] = []
    for byte in data:
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif char in "\x1b\n\r\t":
            out.append({"\x1b": "\\e", "\n": "\\n", "\r": "\\r", "\t": "\\t"}[char])
        elif 32 <= byte <= 126:
            out.append(char)
        else:
            out.append(f"\\x{byte:02x}")
    return "".join(out)


def _line_value(value: bytes, what: str) -> str:
    """A value on one configuration line (hostapd takes the rest of the line as it is): no line breaks, no NUL."""
    if any(c in value for c in b"\n\r\x00"):
        raise CannotMakeNetwork("hostapd", f"a network whose {what} holds a line break or a NUL byte (a hostapd "
                                           f"configuration line cannot)")
    return value.decode("utf-8", "surrogateescape")


def hostapd_config(*, interface: str, ssid: bytes, password: bytes, security: Security, channel: int,
                   ctrl_interface: str, ctrl_group: int | None = None, driver: str = "nl80211",
                   country_code: str | None = None, bridge: str | None = None,
                   extra: Sequence[str] = ()) -> str:
    """The hostapd configuration of one network (hostapd.conf(5) keys)."""
    lines = [f"interface={interface}", f"driver={driver}", f"ctrl_interface={ctrl_interface}"]
    if ctrl_group is not None:
        lines.append(f"ctrl_interface_group={ctrl_group}")
    if bridge:
        lines.append(f"bridge={bridge}")
    if country_code:
        lines += [f"country_code={country_code}", "ieee80211d=1"]
    lines += [f"ssid2={ssid.hex()}"]
    try:
        if not ssid.decode("utf-8").isascii():
            lines.append("utf8_ssid=1")
    except UnicodeDecodeError:
        pass
    lines += [f"hw_mode={'g' if channel <= 14 else 'a'}", f"channel={channel}", "auth_algs=1", "wmm_enabled=1"]
    if security is Security.WPA2_PSK:
        key = (f"wpa_psk={password.decode('ascii')}" if len(password) == 64 and _is_hex(password)
               else f"wpa_passphrase={_line_value(password, 'password')}")
        lines += ["wpa=2", "wpa_key_mgmt=WPA-PSK", "rsn_pairwise=CCMP", key]
    elif security is Security.WPA3_SAE:
        if b"|" in password:
            raise CannotMakeNetwork("hostapd", "a WPA3-SAE network whose password holds '|' (hostapd's sae_password "
                                               "takes '|' as the start of its options)")
        lines += ["wpa=2", "wpa_key_mgmt=SAE", "rsn_pairwise=CCMP", "ieee80211w=2",
                  f"sae_password={_line_value(password, 'password')}"]
    lines += list(extra)
    return "\n".join(lines) + "\n"


def _is_hex(data: bytes) -> bool:
    return all(c in b"0123456789abcdefABCDEF" for c in data)


def _program(value: str | Sequence[str], what: str) -> list[str]:
    argv = [value] if isinstance(value, str) else list(value)
    if not argv or not all(isinstance(a, str) and a for a in argv):
        raise AdapterError(f"{what} must be a program, or a list of a program and its arguments")
    return argv


class HostapdNetworkAdapter(LabWifiAdapter):
    """Networks made by hostapd on a Wi-Fi interface (see the module docstring)."""

    name = "hostapd"
    replaces_in_place = True  # one BSS: a new network is the running hostapd's new configuration

    def __init__(self, interface: str, *, capability: AccessPointCapability = DEFAULT_CAPABILITY,
                 channel: int = 6, hostapd: str | Sequence[str] = "hostapd",
                 hostapd_cli: str | Sequence[str] = "hostapd_cli", driver: str = "nl80211",
                 country_code: str | None = None, bridge: str | None = None, extra_config: Sequence[str] = (),
                 start_timeout_s: float = 30.0, config_dir: str | None = None, traffic: Any = None) -> None:
        if capability.max_networks != 1:
            raise AdapterError("the hostapd network adapter makes one network at a time (max_networks = 1)")
        super().__init__(capability, interface=interface, traffic=traffic)
        if isinstance(channel, bool) or not isinstance(channel, int) or not 1 <= channel <= 196:
            raise AdapterError(f"channel must be a Wi-Fi channel number (1..196), got {channel!r}")
        if not 0 < start_timeout_s <= 600:
            raise AdapterError("start_timeout_s must be in (0, 600] s")
        for line in extra_config:
            key = line.partition("=")[0]
            if not isinstance(line, str) or "=" not in line or "\n" in line or key in _MANAGED_KEYS:
                raise AdapterError(f"extra_config: {line!r} is not a 'key=value' line of a key the adapter does not "
                                   f"set itself ({', '.join(sorted(_MANAGED_KEYS))})")
        self.channel = channel
        self.hostapd = _program(hostapd, "hostapd")
        self.hostapd_cli = _program(hostapd_cli, "hostapd_cli")
        self.driver, self.country_code, self.bridge = driver, country_code, bridge
        self.extra_config = list(extra_config)
        self.start_timeout_s = float(start_timeout_s)
        base = Path(config_dir) if config_dir is not None else None
        if base is not None:
            base.mkdir(parents=True, exist_ok=True)
        self.directory = Path(tempfile.mkdtemp(prefix="paircert-hostapd-", dir=base))  # 0700
        self.config_path = self.directory / "hostapd.conf"
        self.ctrl_dir = self.directory / "ctrl"
        self.ctrl_dir.mkdir(mode=0o700)
        if len(str(self.ctrl_dir / f"paircert-{os.getpid()}-000000")) > _UNIX_PATH_MAX:
            shutil.rmtree(self.directory, ignore_errors=True)
            raise AdapterError(f"config_dir {base} is too deep for hostapd's control socket (a Unix socket path is at "
                               f"most {_UNIX_PATH_MAX} bytes): give a shorter one")
        self.redactor = redaction.Redactor()
        redaction.register(self.redactor)
        self._proc: subprocess.Popen[bytes] | None = None
        self._output: collections.deque[str] = collections.deque(maxlen=_OUTPUT_LINES)
        self._reader: threading.Thread | None = None
        self._ssid: bytes | None = None
        self._config_text = ""

    # -- the configuration file ------------------------------------------------------------------------------

    def _write_config(self, text: str) -> None:
        """Write the configuration as a new 0600 file, renamed over the old one (hostapd never reads half of it)."""
        staged = self.directory / "hostapd.conf.new"
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(text)
        os.replace(staged, self.config_path)

    def _remove_config(self) -> None:
        for path in (self.config_path, self.directory / "hostapd.conf.new"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    # -- the contract's two changes ---------------------------------------------------------------------------

    def _make(self, ssid: bytes, password: bytes, security: Security) -> None:
        if password:
            self.redactor.add(password.decode("utf-8", "surrogateescape"))
        if self.interface is None:
            raise HarnessError("broken invariant: self.interface is not None")
        text = hostapd_config(interface=self.interface, ssid=ssid, password=password, security=security,
                              channel=self.channel, ctrl_interface=str(self.ctrl_dir), ctrl_group=os.getgid(),
                              driver=self.driver, country_code=self.country_code, bridge=self.bridge,
                              extra=self.extra_config)
        if self._running() and self._ssid == ssid and text == self._config_text:
            return  # that very network is up already
        self._write_config(text)
        self._config_text = text
        if self._running():
            if self._proc is None:
                raise HarnessError("broken invariant: self._proc is not None")
            self._proc.send_signal(signal.SIGHUP)  # hostapd rereads its configuration file
        else:
            self._start()
        try:
            self._wait_beaconing(ssid)
        except AdapterError:
            self._stop()
            raise
        self._ssid = ssid

    def _unmake(self, ssid: bytes) -> None:
        self._stop()

    # -- hostapd, the process -----------------------------------------------------------------------------------

    def _running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _start(self) -> None:
        self._output.clear()
        try:
            self._proc = subprocess.Popen([*self.hostapd, str(self.config_path)], stdin=subprocess.DEVNULL,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            self._remove_config()
            raise AdapterError(f"hostapd could not start ({' '.join(self.hostapd)}): {exc}; install the hostapd "
                               f"package (apt-get install hostapd)") from exc
        self._reader = threading.Thread(target=self._read_output, args=(self._proc,), name="hostapd-output",
                                        daemon=True)
        self._reader.start()

    def _read_output(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.stdout is None:
            raise HarnessError("broken invariant: proc.stdout is not None")
        for raw in proc.stdout:  # ends when hostapd exits and closes its output
            self._output.append(self.redactor.redact(raw.decode("utf-8", "replace").rstrip()))

    def _said(self) -> str:
        """The last lines hostapd printed; once it has exited, all of them (its output is read to the end first)."""
        if self._reader is not None and self._proc is not None and self._proc.poll() is not None:
            self._reader.join(timeout=2)  # EOF comes with the exit: the reader ends right after
        tail = list(self._output)[-5:]
        return (": " + " | ".join(tail)) if tail else ""

    def _wait_beaconing(self, ssid: bytes) -> None:
        """Poll ``STATUS`` on the control socket until hostapd beacons with ``ssid``; AdapterError when it exits or
        the deadline passes."""
        expected = printf_encode(ssid)
        deadline = time.monotonic() + self.start_timeout_s
        last: Mapping[str, str] = {}
        while time.monotonic() < deadline:
            if not self._running():
                code = self._proc.returncode if self._proc is not None else None
                raise AdapterError(f"hostapd exited with status {code} before the access point came up{self._said()}")
            last = self.status(timeout=min(1.0, max(0.05, deadline - time.monotonic()))) or last
            if last.get("state") == "ENABLED" and last.get("ssid[0]") == expected:
                return
            if self._closed.wait(_POLL_S):
                raise AdapterError("the hostapd network adapter was closed while hostapd came up")
        raise AdapterError(f"hostapd did not beacon with the SSID {expected!r} within {self.start_timeout_s:g} s "
                           f"(last status: state={last.get('state', 'no answer')}, "
                           f"ssid={last.get('ssid[0]', '-')}){self._said()}")

    def status(self, timeout: float = 1.0) -> dict[str, str] | None:
        """hostapd's ``STATUS`` through its control socket, as a dict; None when it does not answer."""
        if self.interface is None:
            raise HarnessError("broken invariant: self.interface is not None")
        answer = self.request("STATUS", timeout=timeout)
        if answer is None:
            return None
        return dict(line.split("=", 1) for line in answer.splitlines() if "=" in line)

    def request(self, command: str, timeout: float = 1.0) -> str | None:
        """One command on hostapd's control socket (a datagram to ``ctrl_interface/<interface>``); its answer, or
        None when nobody answers in time."""
        if self.interface is None:
            raise HarnessError("broken invariant: self.interface is not None")
        server = self.ctrl_dir / self.interface
        client = self.ctrl_dir / f"paircert-{os.getpid()}-{next(_clients)}"
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind(str(client))
                sock.settimeout(timeout)
                sock.sendto(command.encode("ascii"), str(server))
                return sock.recv(8192).decode("utf-8", "replace")
            except (FileNotFoundError, ConnectionRefusedError, TimeoutError):
                return None
            except OSError as exc:
                raise AdapterError(f"hostapd's control socket {server}: {exc}") from exc
            finally:
                with contextlib.suppress(FileNotFoundError):
                    client.unlink()

    def _stop(self) -> None:
        """``hostapd_cli terminate``, then SIGTERM, then SIGKILL, each bounded; the configuration file goes."""
        proc, self._proc = self._proc, None
        self._ssid, self._config_text = None, ""
        try:
            if proc is not None and proc.poll() is None:
                if self.interface is None:
                    raise HarnessError("broken invariant: self.interface is not None")
                with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                    subprocess.run([*self.hostapd_cli, "-p", str(self.ctrl_dir), "-i", self.interface, "terminate"],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   timeout=_CLI_TIMEOUT_S)
                for sig, wait_s in ((None, 3.0), (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
                    if sig is not None:
                        with contextlib.suppress(ProcessLookupError):
                            proc.send_signal(sig)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(wait_s)
                        break
            if self._reader is not None:
                self._reader.join(timeout=2)
        finally:
            self._remove_config()

    def info(self) -> Mapping[str, Any]:
        return {**super().info(), "channel": self.channel, "hostapd": " ".join(self.hostapd),
                "running": self._running()}

    def close(self) -> None:
        try:
            super().close()
            self._stop()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
            redaction.unregister(self.redactor)


def hostapd_network(context: WorldContext, *, interface: str, channel: int = 6,
                    hostapd: str | list[str] = "hostapd", hostapd_cli: str | list[str] = "hostapd_cli",
                    driver: str = "nl80211", country_code: str | None = None, bridge: str | None = None,
                    extra_config: list[str] | None = None, start_timeout_s: float = 30.0,
                    config_dir: str | None = None, app_traffic: bool = True,
                    **capability: Any) -> HostapdNetworkAdapter:
    """The registry's factory (``[adapters.network] name = "hostapd"``, ``interface = "wlan1"``); ``capability``
    holds declaration arguments over :data:`DEFAULT_CAPABILITY`. ``app_traffic``: the app side's EZ and AP frames
    go out on the interface (a ScapyNetworkAdapter on it)."""
    unknown = sorted(set(capability) - set(CAPABILITY_ARGS))
    if unknown:
        raise AdapterError(f"unknown argument(s) of the hostapd network adapter: {', '.join(unknown)}")
    declared = capability_from_args(DEFAULT_CAPABILITY, **capability)
    traffic = lab_traffic(interface) if app_traffic else None
    try:
        return HostapdNetworkAdapter(interface, capability=declared, channel=channel, hostapd=hostapd,
                                     hostapd_cli=hostapd_cli, driver=driver, country_code=country_code, bridge=bridge,
                                     extra_config=extra_config or (), start_timeout_s=start_timeout_s,
                                     config_dir=config_dir, traffic=traffic)
    except BaseException:
        if traffic is not None:
            traffic.close()
        raise


hostapd_network.accepted_args = ("interface", "channel", "hostapd", "hostapd_cli", "driver",  # type: ignore[attr-defined]
                                 "country_code", "bridge", "extra_config", "start_timeout_s", "config_dir",
                                 "app_traffic", *CAPABILITY_ARGS)

__all__ = ["DEFAULT_CAPABILITY", "HostapdNetworkAdapter", "hostapd_config", "hostapd_network", "printf_encode"]
