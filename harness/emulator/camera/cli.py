"""``paircert device serve``: one emulated camera as its own process, driven through a small control API.

This is what a vendor's lab scripts (and the operator device adapter's shell hooks) drive in place of a real
camera: scan a QR image, press reset, pull the power, read the status and the event timeline. The control
interface is HTTP + JSON on loopback:

=========================  ===================================================================================
``POST /qr``               scan a QR: the PNG bytes as the body (``Content-Type: image/png``), or JSON
                           ``{"path": "/file.png"}``; answers ``{"outcome": "captured"|"refused"|...}``
``POST /reset``            the reset button (binding kept); also ``/factory-reset``, ``/power-cycle``,
                           ``/power-on``, ``/power-off``; each answers the status
``GET /status``            state, activation, devId, AP address, DPs, faults
``GET /events``            the timeline (secrets redacted); ``?since=N`` skips the first N events, ``?after=T``
                           those at or before the time T;
                           ``?format=lines``: one JSON object ``{"at", "name", "details"}`` a line (what the
                           operator adapter's ``events_hook`` prints)
``GET /ap``                the SoftAP address ``{"host", "udp_port", "tcp_port"}`` (null when closed)
``GET /wait``              ``?state=online&timeout=10``: wait for a state (408 on timeout)
``GET /networks``          the Wi-Fi networks it can join: ``[{"ssid_hex", "ssid", "security"}]`` (no password)
``POST /networks``         make one: ``?ssid_hex=HEX&security=open|wpa2-psk|wpa3-sae``, the password as the body
``DELETE /networks``       remove one: ``?ssid_hex=HEX``
=========================  ===================================================================================

The camera finds its cloud from ``--cloud-url`` (the ATOP ``/d.json`` URL) and ``--mqtt HOST:PORT``, or from a
cloud's iot-dns ``--url-config`` endpoint (§4.1). Its Wi-Fi networks come from ``--wifi SSID=PASSWORD`` and the
``/networks`` routes (what the ``hooks`` network adapter drives); with neither, every network it is told about
joins (the lab's Wi-Fi is not what is under test).
"""

from __future__ import annotations

import base64
import json
import signal
import ssl
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from aiohttp import web
from PIL import Image

from harness.clock import SystemClock
from harness.emulator.air import Air, JoinOutcome
from harness.emulator.camera.faults import CAMERA_FAULTS, make_camera
from harness.emulator.camera.firmware import CloudEndpoint, EmulatedCamera
from harness.emulator.camera.states import State
from harness.emulator.loop import DeviceLoop
from harness.errors import HarnessError
from harness.protocol.errors import ProtocolError
from harness.protocol.iotdns import UrlConfigRequest, UrlConfigResponse

#: Starts feeding a camera's air with the EZ datagrams sniffed on an interface, and returns how to stop. The
#: emulator never imports harness.net: ``paircert device`` (:mod:`harness.cli.device`) hands it this bridge.
SniffBridge = Callable[[str, Air], Callable[[], object]]


@dataclass(frozen=True)
class Bridges:
    """What the command line hands ``serve`` in its click context (``ctx.obj``): the real-network bridges."""

    sniff: SniffBridge | None = None


class AnyNetworkAir(Air):
    """An air where every SSID exists and takes any password: for a lab that is not testing its Wi-Fi; once the
    lab makes a network through the control API (``POST /networks``), only the networks made exist."""

    managed = False

    def join(self, ssid: bytes, password: bytes) -> JoinOutcome:
        return super().join(ssid, password) if self.managed else "ok"


SECURITIES = ("open", "wpa2-psk", "wpa3-sae")


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise click.BadParameter(f"expected HOST:PORT, got {text!r}")
    return host or "127.0.0.1", int(port)


async def fetch_url_config(device_loop: DeviceLoop, url: str, region: str,
                           ca_pem: bytes | None = None) -> CloudEndpoint:
    """Ask a cloud's iot-dns endpoint where to activate and log in (§4.1). Over https the endpoint is verified
    against ``ca_pem`` (the CA a firmware build pins for iot-dns); an answer with a CA (``caArr``, §11.2) is
    taken as the SDKs take it: ATOP at ``httpsSelfUrl`` and MQTT over TLS at ``mqttsSelfUrl``, trusting that CA."""
    tls = CloudEndpoint(url, "", 0, ca_pem=ca_pem).tls_context() if url.startswith("https://") else None
    async with device_loop.http_session().post(url, data=UrlConfigRequest(region=region).to_json(),
                                               ssl=tls if tls is not None else True) as response:
        answer = UrlConfigResponse.from_json(await response.read())
    https, mqtts = answer.addr("httpsSelfUrl"), answer.addr("mqttsSelfUrl")
    if answer.ca_arr and https and https.startswith("https://") and mqtts:  # §11.1, §11.2: the SDKs' path
        host, port = _address(mqtts)
        der = base64.b64decode(answer.ca_arr[0], validate=True)
        return CloudEndpoint(https, host, port, ca_pem=ssl.DER_cert_to_PEM_cert(der).encode("ascii"), mqtt_tls=True)
    http = answer.addr("httpUrl") or answer.addr("httpsSelfUrl")
    mqtt = answer.addr("mqttUrl") or answer.addr("mqttsSelfUrl")
    if http is None or mqtt is None:
        raise click.ClickException(f"{url} named no HTTP and MQTT addresses")
    host, port = _address(mqtt)
    return CloudEndpoint(http, host, port)


class ControlServer:
    """The camera's control API on the device loop."""

    def __init__(self, camera: EmulatedCamera) -> None:
        self.camera = camera
        self._runner: web.AppRunner | None = None
        self.url = ""
        self._securities: dict[bytes, str] = {}

    def app(self) -> web.Application:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_post("/qr", self.qr)
        for path, action in (("/reset", self.camera.reset_async), ("/factory-reset", self.camera.factory_reset_async),
                             ("/power-cycle", self.camera.power_cycle_async),
                             ("/power-on", self.camera.power_on_async), ("/power-off", self.camera.power_off_async)):
            app.router.add_post(path, self._button(action))
        app.router.add_get("/status", self.status)
        app.router.add_get("/events", self.events)
        app.router.add_get("/ap", self.ap)
        app.router.add_get("/wait", self.wait)
        app.router.add_get("/networks", self.networks)
        app.router.add_post("/networks", self.add_network)
        app.router.add_delete("/networks", self.remove_network)
        return app

    async def start(self, host: str, port: int) -> str:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0]
        self.url = f"http://{bound[0]}:{bound[1]}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def qr(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            if request.content_type == "application/json":
                path = Path(str(json.loads(body)["path"]))
                image = Image.open(path)
            else:
                from io import BytesIO

                image = Image.open(BytesIO(body))
            image.load()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return web.json_response({"error": f"not a readable image: {exc}"}, status=400)
        scan = await self.camera.present_qr_async(image)
        return web.json_response({"outcome": scan.outcome, "reason": scan.reason, "state": self.camera.state.value})

    def _button(self, action: Any) -> Any:
        async def press(request: web.Request) -> web.Response:
            try:
                await action()
            except RuntimeError as exc:  # an illegal transition, e.g. power-off while off
                return web.json_response({"error": str(exc), **self.camera.status()}, status=409)
            return web.json_response(self.camera.status())

        return press

    async def status(self, request: web.Request) -> web.Response:
        return web.json_response(self.camera.status())

    async def events(self, request: web.Request) -> web.Response:
        try:
            since = int(request.query.get("since", "0") or 0)
        except ValueError:
            return web.json_response({"error": "since must be a number"}, status=400)
        events = self.camera.events()[since:]
        after = request.query.get("after")
        if after:
            try:
                events = [e for e in events if e.t > float(after)]
            except ValueError:
                return web.json_response({"error": "after must be a time in seconds"}, status=400)
        if request.query.get("format") == "lines":
            text = "".join(_dumps({"at": e.t, "name": e.name, "details": dict(e.details)}) + "\n" for e in events)
            return web.Response(text=text, content_type="application/x-ndjson")
        return web.json_response([e.to_dict() for e in events], dumps=_dumps)

    async def ap(self, request: web.Request) -> web.Response:
        address = self.camera.ap_address
        body = None if address is None else {"host": address[0], "udp_port": address[1], "tcp_port": address[2]}
        return web.json_response(body)

    # -- the Wi-Fi networks the camera can join (what the lab's access points would be) ------------------------

    def _network(self, ssid: bytes) -> dict[str, Any]:
        return {"ssid_hex": ssid.hex(), "ssid": ssid.decode("utf-8", "backslashreplace"),
                "security": self._securities.get(ssid, "wpa2-psk")}

    async def networks(self, request: web.Request) -> web.Response:
        """The networks on the camera's air: SSID (hex and text) and security, never a password."""
        return web.json_response([self._network(ap.ssid) for ap in self.camera.air.access_points])

    @staticmethod
    def _ssid(request: web.Request) -> bytes | str:
        try:
            ssid = bytes.fromhex(request.query.get("ssid_hex", ""))
        except ValueError:
            return "ssid_hex must be the SSID's bytes in hex"
        return ssid if 1 <= len(ssid) <= 32 else f"an SSID is 1 to 32 bytes, got {len(ssid)}"

    async def add_network(self, request: web.Request) -> web.Response:
        """Make a network: ``?ssid_hex=..&security=open|wpa2-psk|wpa3-sae``, the password as the body (so that it
        is never in a URL or a command line)."""
        ssid = self._ssid(request)
        security = request.query.get("security", "wpa2-psk")
        password = await request.read()
        problem = ssid if isinstance(ssid, str) else None
        if security not in SECURITIES:
            problem = f"security must be one of {', '.join(SECURITIES)}"
        elif (security == "open") != (not password):
            problem = "an open network has no password, a secured one has one"
        if problem is not None or isinstance(ssid, str):
            return web.json_response({"error": problem}, status=400)
        air = self.camera.air
        if isinstance(air, AnyNetworkAir):
            air.managed = True
        air.add_access_point(ssid, password)
        self._securities[ssid] = security
        return web.json_response(self._network(ssid))

    async def remove_network(self, request: web.Request) -> web.Response:
        ssid = self._ssid(request)
        if isinstance(ssid, str):
            return web.json_response({"error": ssid}, status=400)
        present = self.camera.air.access_point(ssid) is not None
        self.camera.air.remove_access_point(ssid)
        self._securities.pop(ssid, None)
        return web.json_response({"removed": present, "ssid_hex": ssid.hex()})

    async def wait(self, request: web.Request) -> web.Response:
        try:
            states = [State(s) for s in request.query.get("state", "online").split(",")]
            timeout = min(float(request.query.get("timeout", "10")), 300.0)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        try:
            await self.camera.wait_for_state_async(*states, timeout=timeout)
        except TimeoutError:
            return web.json_response(self.camera.status(), status=408)
        return web.json_response(self.camera.status())


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)


@click.group(name="device")
def cli_command() -> None:
    """The emulated camera as a process."""


@cli_command.command(name="serve")
@click.option("--cloud-url", default=None, help="The cloud's ATOP URL, e.g. http://127.0.0.1:8080/d.json.")
@click.option("--mqtt", "mqtt_addr", default=None, help="The cloud's MQTT broker as HOST:PORT.")
@click.option("--url-config", default=None, help="A cloud's iot-dns url_config URL (instead of the two above).")
@click.option("--region", default="EU", show_default=True,
              help="The camera's region: the one asked of url_config, the only one it activates in (§1.3).")
@click.option("--ca", "ca_file", default=None, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The CA an https --url-config is verified against (the lab CA a firmware build pins).")
@click.option("--refused-retries", default=0, show_default=True, type=click.IntRange(0, 10_000),
              help="Retry a refused activation this many times, a second apart, with the same token (§11.7).")
@click.option("--uuid", envvar=["PAIRCERT_DEVICE_UUID", "PAIRCERT_LICENCE_UUID"], required=True,
              help="Licence UUID [env PAIRCERT_DEVICE_UUID, or the profiles' PAIRCERT_LICENCE_UUID].")
@click.option("--auth-key", envvar=["PAIRCERT_DEVICE_AUTH_KEY", "PAIRCERT_LICENCE_AUTHKEY"], required=True,
              help="Licence AuthKey [env PAIRCERT_DEVICE_AUTH_KEY, or the profiles' PAIRCERT_LICENCE_AUTHKEY].")
@click.option("--pid", envvar="PAIRCERT_DEVICE_PID", required=True, help="Product id (16 characters).")
@click.option("--mac", default="02:00:00:00:00:01", show_default=True)
@click.option("--firmware", default="1.0.0", show_default=True)
@click.option("--activation-api", type=click.Choice(["v4.4", "opensdk"]), default="v4.4", show_default=True)
@click.option("--control", "control_addr", default="127.0.0.1:0", show_default=True,
              help="Where the control API listens (loopback).")
@click.option("--wifi", "wifi", multiple=True, help="A Wi-Fi network as SSID=PASSWORD (repeatable).")
@click.option("--fault", "faults", multiple=True, type=click.Choice(sorted(CAMERA_FAULTS)),
              help="A camera fault to make (repeatable).")
@click.option("--ap-host", default="127.0.0.1", show_default=True,
              help="The address the camera's SoftAP config sockets listen on (a lab interface's address).")
@click.option("--ap-udp-port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="The SoftAP's legacy UDP port (6669 on a real camera; 0: any free port).")
@click.option("--ap-tcp-port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="The SoftAP's LPV3.5 TCP port (6668 on a real camera; 0: any free port).")
@click.option("--sniff", "sniff_interface", default=None,
              help="Sniff EZ traffic on this interface (scapy, needs root) and feed it to the camera.")
def serve(cloud_url: str | None, mqtt_addr: str | None, url_config: str | None, region: str, ca_file: Path | None,
          refused_retries: int, uuid: str,
          auth_key: str, pid: str, mac: str, firmware: str, activation_api: str, control_addr: str,
          wifi: tuple[str, ...], faults: tuple[str, ...], ap_host: str, ap_udp_port: int, ap_tcp_port: int,
          sniff_interface: str | None) -> None:
    """Run one emulated camera until SIGTERM or SIGINT; print its control URL."""
    control_host, control_port = _address(control_addr)
    if url_config is None and (cloud_url is None or mqtt_addr is None):
        raise click.UsageError("give --cloud-url and --mqtt, or --url-config")
    device_loop = DeviceLoop(SystemClock(), name="paircert-device").start()
    try:
        if url_config is not None:
            ca_pem = ca_file.read_bytes() if ca_file is not None else None
            endpoint = device_loop.run(fetch_url_config(device_loop, url_config, region, ca_pem), timeout=15)
        else:
            if cloud_url is None or mqtt_addr is None:
                raise HarnessError("broken invariant: cloud_url is not None and mqtt_addr is not None")
            host, port = _address(mqtt_addr)
            endpoint = CloudEndpoint(cloud_url, host, port)
        air: Air = AnyNetworkAir() if not wifi else Air()
        for entry in wifi:
            ssid, sep, password = entry.partition("=")
            if not sep:
                raise click.BadParameter(f"expected SSID=PASSWORD, got {entry!r}", param_hint="--wifi")
            air.add_access_point(ssid.encode("utf-8"), password.encode("utf-8"))
        camera = make_camera(device_loop, air, uuid=uuid, auth_key=auth_key, pid=pid, mac=mac, firmware=firmware,
                             cloud={region: endpoint}, activation_api=activation_api, faults=faults, ap_host=ap_host,
                             ap_ports=(ap_udp_port, ap_tcp_port) if ap_udp_port or ap_tcp_port else None,
                             refused_retries=refused_retries)
        control = ControlServer(camera)
        url = device_loop.run(control.start(control_host, control_port))
        camera.power_on()
        if sniff_interface is not None:
            device_loop.on_stop(_stopper(_sniff_bridge()(sniff_interface, camera.air)))
        click.echo(f"paircert device: control {url}", nl=True)
        click.echo(json.dumps({"control": url, "uuid": uuid, "faults": list(faults)}), nl=True)
        _wait_for_signal()
        device_loop.run(control.stop())
    except (ProtocolError, OSError, TimeoutError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        device_loop.stop()


def _sniff_bridge() -> SniffBridge:
    """The real-network bridge ``paircert device`` (:mod:`harness.cli.device`) put in the click context."""
    bridges = click.get_current_context().find_object(Bridges)
    if bridges is None or bridges.sniff is None:
        raise click.UsageError("--sniff needs the real-network bridge of `paircert device serve` (harness.cli.device)")
    return bridges.sniff


def _stopper(stop_sniffing: Callable[[], object]) -> Callable[[], Awaitable[None]]:
    async def stop() -> None:
        stop_sniffing()

    return stop


def _wait_for_signal() -> None:
    stop = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


__all__ = ["AnyNetworkAir", "Bridges", "ControlServer", "SniffBridge", "cli_command", "fetch_url_config", "serve"]
