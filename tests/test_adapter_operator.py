"""The operator device adapter: hooks, prompts, the terminal QR, and a real-device lab setup end to end with
`paircert device serve` and `paircert cloud serve` each in its own process."""

from __future__ import annotations

import io
import json
import os
import shlex
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _serve_helpers import ServedCloud, ServedDevice
from PIL import Image

from harness.adapters.contracts import AdapterError, CapabilityMissing, DeviceAdapter, DeviceCapability, Licence
from harness.adapters.operator.device import QR_PROMPT, OperatorDeviceAdapter, operator_device
from harness.adapters.operator.hooks import HookFailed, HookSpec, Terminal
from harness.adapters.operator.terminal_qr import image_from_modules, modules_from_half_blocks, qr_modules
from harness.adapters.registry import WorldContext, build_world
from harness.adapters.remote import RemoteCloudAdapter
from harness.app.activator import Activator, ActivatorMode, pair
from harness.clock import SystemClock
from harness.model import BindingMode
from harness.profiles import Profile, load_profile
from harness.protocol.qr import QrPayload
from harness.qrimage import decode_qr, render_qr
from harness.redaction import MASK

UUID = "paircertlabuuid0001"
AUTH_KEY = "A" * 8 + "uthKeyOfTheLabCamera1234"  # 32 characters
WIFI_PASSWORD = "lab-wifi-secret-77"
PID = "paircertlabcam01"
PY = shlex.quote(sys.executable)


def write_profile(tmp_path: Path, *, hooks: dict[str, str] | None = None, cloud: str = '"emulated"',
                  device_args: str = "") -> Path:
    """A real-camera profile (licence and Wi-Fi password as env: references) with the given hooks."""
    hook_lines = "\n".join(f"{name} = {value}" for name, value in (hooks or {}).items())
    path = tmp_path / "bench-camera.toml"
    path.write_text(f"""
[device]
name = "bench camera"
kind = "camera"
pid = "{PID}"
firmware = "1.0.0"

[capabilities]
pairing_modes = ["qr", "ez", "ap"]
ez_channels = ["broadcast"]
ap_variants = ["lpv35"]
binding_mode = "strong"
mqtt_protocol_version = "2.3"
activation_api = "tuya.device.active"

[parameters]
region = "EU"
activator_timeout_s = 30

[parameters.wifi]
ssid = "paircert-lab"
password = "env:PAIRCERT_WIFI_PASSWORD"

[parameters.licence]
uuid = "env:PAIRCERT_LICENCE_UUID"
authkey = "env:PAIRCERT_LICENCE_AUTHKEY"

[adapters]
cloud = {cloud}
device = {{ name = "operator", args = {{ {device_args} }} }}
network = "air"

[hooks]
{hook_lines}
""", encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def secrets_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAIRCERT_LICENCE_UUID", UUID)
    monkeypatch.setenv("PAIRCERT_LICENCE_AUTHKEY", AUTH_KEY)
    monkeypatch.setenv("PAIRCERT_WIFI_PASSWORD", WIFI_PASSWORD)


def make(tmp_path: Path, hooks: dict[str, str] | None = None, **args: Any) -> OperatorDeviceAdapter:
    profile = load_profile(write_profile(tmp_path, hooks=hooks))
    context = WorldContext(profile=profile, clock=SystemClock(), seed=1)
    args.setdefault("interactive", False)
    args.setdefault("output_dir", str(tmp_path / "out"))
    return operator_device(context, **args)


class Person:
    """A person at a terminal: answers each prompt that appears with the next of ``answers``."""

    def __init__(self, answers: list[str]) -> None:
        self.screen = io.StringIO()
        read_fd, self._write_fd = os.pipe()
        self._read_fd = read_fd
        self.terminal = Terminal(self.screen, read_fd)
        self._answers = answers
        self._thread = threading.Thread(target=self._answer, daemon=True)
        self._thread.start()

    def _answer(self) -> None:
        answered = 0
        deadline = time.monotonic() + 10
        while self._answers and time.monotonic() < deadline:
            if self.screen.getvalue().count(">>> ") > answered:
                os.write(self._write_fd, (self._answers.pop(0) + "\n").encode())
                answered += 1
            time.sleep(0.01)

    def close(self) -> None:
        self.terminal.close()
        os.close(self._write_fd)
        os.close(self._read_fd)


def adapter_with(person: Person, tmp_path: Path, **kwargs: Any) -> OperatorDeviceAdapter:
    return OperatorDeviceAdapter(licence=Licence(UUID, AUTH_KEY, PID), pid=PID, hooks=kwargs.pop("hooks", {}),
                                 terminal=person.terminal, output_dir=tmp_path / "out", **kwargs)


HARD_PAYLOAD = QrPayload("Café ☕ \"quoted\" \\ / 😀", "p" * 63 + "é", "EUabcdefghWXYZ").to_text()


# -- the QR in the terminal --------------------------------------------------------------------------------------


@pytest.mark.parametrize("colour", [False, True])
def test_the_terminal_qr_has_the_images_modules_and_decodes_to_the_same_bytes(tmp_path: Path, colour: bool) -> None:
    image = render_qr(HARD_PAYLOAD)
    device = make(tmp_path, colour=colour)
    text = device.terminal_text(image)
    assert ("\x1b[" in text) is colour
    modules = modules_from_half_blocks(text)
    assert modules == qr_modules(image)
    redrawn = image_from_modules(modules, box_size=4)
    for backend in ("zbar", "zxing"):
        assert decode_qr(redrawn, backend=backend) == [HARD_PAYLOAD.encode()]


def test_present_qr_saves_the_png_shows_it_and_waits_for_the_person(tmp_path: Path) -> None:
    person = Person([""])
    device = adapter_with(person, tmp_path)
    image = render_qr(HARD_PAYLOAD)
    device.present_qr(image)
    screen = person.screen.getvalue()
    assert QR_PROMPT in screen and "qr-001.png" in screen
    assert modules_from_half_blocks(screen.split("qr-001.png):\n", 1)[1].split("\n\n>>>")[0]) == qr_modules(image)
    saved = tmp_path / "out" / "qr-001.png"
    assert decode_qr(Image.open(saved)) == [HARD_PAYLOAD.encode()]
    assert saved.stat().st_mode & 0o777 == 0o600  # it encodes the Wi-Fi password
    assert [e.name for e in device.events()] == ["person:qr", "qr-presented"]
    assert device.capabilities >= {"scan-qr", "reset", "factory-reset", "power-cycle", "liveness"}
    assert "events" not in device.capabilities  # no timeline from a real device without an events hook
    person.close()
    device.close()


def test_a_prompt_nobody_answers_is_an_adapter_error(tmp_path: Path) -> None:
    person = Person([])
    device = adapter_with(person, tmp_path, prompt_timeout_s=0.3)
    started = time.monotonic()
    with pytest.raises(AdapterError, match="nobody answered"):
        device.reset()
    assert time.monotonic() - started < 3
    person.close()


def test_a_person_answers_liveness(tmp_path: Path) -> None:
    person = Person(["y", "n"])
    device = adapter_with(person, tmp_path)
    assert device.is_alive() is True
    assert device.is_alive() is False
    person.close()


def test_window_mode_without_a_viewer_falls_back_to_the_terminal(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    person = Person([""])
    device = adapter_with(person, tmp_path, show_qr="fullscreen")
    assert device.show_qr == "window"
    device.present_qr(render_qr(HARD_PAYLOAD))
    assert "no image viewer" in caplog.text and "█" in person.screen.getvalue()
    person.close()
    with pytest.raises(AdapterError, match="show_qr"):
        adapter_with(person, tmp_path, show_qr="hologram")


# -- without a person ---------------------------------------------------------------------------------------------


def test_no_hook_and_nobody_there_is_capability_missing(tmp_path: Path) -> None:
    device = make(tmp_path)
    assert isinstance(device, DeviceAdapter)
    assert device.capabilities == {"ez-mode"}  # no AP host given, nothing to press, nobody to ask
    for action in (device.reset, device.factory_reset, device.power_cycle, device.is_alive,
                   lambda: device.wait_pairing_mode(1), lambda: device.present_qr(render_qr("x"))):
        with pytest.raises(CapabilityMissing):
            action()
    assert (tmp_path / "out" / "qr-001.png").exists()  # saved even so, for the record
    device.close()


def test_a_failing_hook_names_itself_and_its_exit_status_with_secrets_redacted(tmp_path: Path) -> None:
    device = make(tmp_path, {"reset": '"echo pressing; echo key=$LAB_KEY; exit 3"'}, hook_env={"LAB_KEY": AUTH_KEY})
    with pytest.raises(HookFailed, match=r"hook 'reset'.*status 3") as failed:
        device.reset()
    assert AUTH_KEY not in str(failed.value) and MASK in str(failed.value) and "pressing" in str(failed.value)
    [event] = device.events()
    assert event.name == "hook:reset" and event.details["returncode"] == 3
    assert AUTH_KEY not in json.dumps(dict(event.details)) and MASK in event.details["output"]


def test_a_hanging_hook_is_killed_at_its_timeout(tmp_path: Path) -> None:
    device = make(tmp_path, {"power_cycle": '{ command = "echo cutting power; sleep 30; echo never", timeout_s = 1 }'})
    started = time.monotonic()
    with pytest.raises(HookFailed, match=r"'power_cycle'.*timed out after 1 s") as failed:
        device.power_cycle()
    assert time.monotonic() - started < 4 and failed.value.timed_out
    assert "cutting power" in failed.value.result.output and "never" not in failed.value.result.output


def test_hooks_get_their_context_in_the_environment_and_no_secrets(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_LAB_SETTING", "kept")
    dump = tmp_path / "env.json"
    script = f"import json, os; json.dump(dict(os.environ), open({str(dump)!r}, 'w'))"
    device = make(tmp_path, {"reset": json.dumps(f"{PY} -c {shlex.quote(script)}")}, pool_id="unit-2")
    device.reset()
    output = dump.read_text()
    env = json.loads(output)
    assert env["PAIRCERT_ACTION"] == "reset" and env["PAIRCERT_DEVICE_UUID"] == UUID
    assert env["PAIRCERT_DEVICE_PID"] == PID and env["PAIRCERT_POOL_ID"] == "unit-2"
    assert env["PAIRCERT_TIMEOUT_S"] == "60" and env["SOME_LAB_SETTING"] == "kept"
    assert "PAIRCERT_LICENCE_AUTHKEY" not in env and "PAIRCERT_WIFI_PASSWORD" not in env
    assert AUTH_KEY not in output and WIFI_PASSWORD not in output


def test_liveness_is_the_hooks_exit_status_but_a_broken_hook_is_an_error(tmp_path: Path) -> None:
    for command, alive in (('"true"', True), ('"exit 1"', False)):
        assert make(tmp_path, {"liveness": command}).is_alive() is alive
    with pytest.raises(HookFailed, match="status 127"):
        make(tmp_path, {"liveness": '"no-such-command-paircert"'}).is_alive()


def test_an_events_hook_adds_json_lines_to_the_timeline(tmp_path: Path) -> None:
    lines = '{"at": 5, "name": "led", "details": {"colour": "blue"}}\\nnot json'
    device = make(tmp_path, qr_hook="true", events_hook=f"printf '{lines}\\n'", ap_host="192.168.176.1")
    assert {"events", "scan-qr", "ap-mode"} <= device.capabilities
    assert device.ap_address() is not None and device.ap_address().tcp_port == 6668  # type: ignore[union-attr]
    events = device.events()
    names = [e.name for e in events]
    assert "led" in names and "events-hook:unparsed" in names
    assert next(e for e in events if e.name == "led").details == {"colour": "blue"}


def test_only_an_ap_hook_tells_whether_the_access_point_closed(tmp_path: Path) -> None:
    """A fixed ap_host is where the SoftAP answers while it is open, not whether it is open: without an ap_hook
    the adapter does not offer ap-status (TC-AP-004 is then INCONCLUSIVE instead of a wrong FAIL)."""
    fixed = make(tmp_path, ap_host="192.168.176.1")
    asked = make(tmp_path, ap_hook="echo null")
    try:
        assert "ap-mode" in fixed.capabilities and "ap-status" not in fixed.capabilities
        assert fixed.ap_address() is not None  # always the same answer, open or closed
        assert {"ap-mode", "ap-status"} <= asked.capabilities and asked.ap_address() is None
    finally:
        fixed.close()
        asked.close()


def test_each_hook_and_event_is_in_the_timeline_once(tmp_path: Path) -> None:
    """The adapter records its hooks as they run; the plugin's collection of ``events()`` afterwards (on a FAIL,
    an ERROR or at teardown) must not add them a second time, nor drop an event the hook printed."""
    from harness import evidence

    lines = '{"at": 5, "name": "led", "details": {"colour": "blue"}}'
    device = make(tmp_path, {"reset": '"true"'}, events_hook=f"printf '{lines}\\n'")
    recorder = evidence.EvidenceRecorder("TC-QR-001", "suites/test_qr.py::t")
    evidence.activate(recorder)
    try:
        device.reset()
        recorder.add_device_events(device.events())
        recorder.add_device_events(device.events())  # collected again: still once
    finally:
        evidence.activate(None)
        device.close()
    names = [e.name for e in recorder.timeline if e.kind == "device"]
    assert names.count("hook:reset") == 1 and names.count("hook:events") == 2 and names.count("led") == 1, names


def test_a_pool_units_licence_never_reaches_the_hooks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each unit of a device pool has its own licence as env: references: the hooks of every unit see neither
    the variables nor the key."""
    monkeypatch.setenv("PAIRCERT_UNIT2_UUID", "paircertlabuuid0002")
    monkeypatch.setenv("PAIRCERT_UNIT2_AUTHKEY", "B" * 32)
    path = write_profile(tmp_path, hooks={"reset": '"env"'}, device_args="interactive = false")
    path.write_text(path.read_text() + """
[[adapters.device_pool]]
id = "unit-1"

[[adapters.device_pool]]
id = "unit-2"
args = { uuid = "env:PAIRCERT_UNIT2_UUID", auth_key = "env:PAIRCERT_UNIT2_AUTHKEY" }
""")
    profile = load_profile(path)
    context = WorldContext(profile=profile, clock=SystemClock(), seed=1)
    for slot in (0, 1):
        args = {**profile.adapters.device_for(slot).resolved_args(), "output_dir": str(tmp_path / f"out{slot}")}
        device = operator_device(context, **args)
        try:
            device.reset()
            [reset] = [e for e in device.events() if e.name == "hook:reset"]
        finally:
            device.close()
        output = reset.details["output"]
        assert "PAIRCERT_DEVICE_UUID=" in output  # the environment was printed
        assert "PAIRCERT_UNIT2_AUTHKEY" not in output and "B" * 32 not in output and AUTH_KEY not in output
    assert device.licence.uuid == "paircertlabuuid0002"


def test_hook_specs_are_checked() -> None:
    assert HookSpec.parse({"command": "x", "timeout_s": 2}, "h") == HookSpec("x", 2.0)
    for bad in ("", {"command": "x", "timeout_s": 0}, 5):
        with pytest.raises(AdapterError):
            HookSpec.parse(bad, "h")


# -- a real-device lab setup, end to end -------------------------------------------------------------------------


def control_hook(method: str, path: str, *extra: str) -> str:
    """A hook that drives the camera's control interface with curl (as a lab's relay script would)."""
    return f'"curl -fsS -m 10 -X {method} {" ".join(extra)} \\"$CAMERA_URL{path}\\""'


@pytest.fixture(scope="module")
def lab() -> Iterator[tuple[ServedCloud, ServedDevice, Licence]]:
    cloud = ServedCloud("--region", "EU")
    try:
        remote = RemoteCloudAdapter(cloud.urls["app API"], timeout_s=5, admin_key=cloud.admin_key)
        remote.ensure_product(PID, "bench camera", "sp", BindingMode.STRONG)
        licence = remote.issue_licence(PID)
        device = ServedDevice(url_config=cloud.urls["url_config"], uuid=licence.uuid, auth_key=licence.auth_key,
                              pid=PID)
        try:
            yield cloud, device, licence
        finally:
            device.stop()
    finally:
        cloud.stop()


def lab_profile(tmp_path: Path, cloud: ServedCloud, device: ServedDevice, monkeypatch: pytest.MonkeyPatch,
                licence: Licence) -> Profile:
    monkeypatch.setenv("PAIRCERT_LICENCE_UUID", licence.uuid)
    monkeypatch.setenv("PAIRCERT_LICENCE_AUTHKEY", licence.auth_key)
    monkeypatch.setenv("PAIRCERT_ADMIN_KEY", cloud.admin_key or "")
    # alive as a ping would say it: powered, and the firmware has not crashed
    check = "import json, sys; s = json.load(sys.stdin); sys.exit(0 if s['alive'] and s['state'] != 'off' else 1)"
    alive = json.dumps(f"{PY} -c {shlex.quote(check)}")[1:-1]
    hooks = {
        "reset": control_hook("POST", "/reset"),
        "factory_reset": control_hook("POST", "/factory-reset"),
        "power_cycle": control_hook("POST", "/power-cycle"),
        "liveness": f'{{ command = "curl -fsS -m 5 \\"$CAMERA_URL/status\\" | {alive}", timeout_s = 10 }}',
        "enter_pairing_mode": control_hook("GET", "/wait?state=pairing&timeout=10"),
    }
    qr = control_hook("POST", "/qr", "-H 'Content-Type: image/png'", '--data-binary \\"@$PAIRCERT_QR_PNG\\"')
    args = (f'interactive = false, show_qr = "none", output_dir = "{tmp_path / "qr"}", qr_hook = {qr}, '
            f'hook_env = {{ CAMERA_URL = "{device.control}" }}')
    cloud_spec = (f'{{ name = "remote", args = {{ url = "{cloud.urls["app API"]}", timeout_s = 5, '
                  'admin_key = "env:PAIRCERT_ADMIN_KEY" } }')
    return load_profile(write_profile(tmp_path, hooks=hooks, cloud=cloud_spec, device_args=args))


def status(device: ServedDevice) -> dict[str, Any]:
    with urllib.request.urlopen(device.control + "/status", timeout=5) as answer:
        result: dict[str, Any] = json.load(answer)
        return result


def test_hooks_drive_the_served_camera(lab: tuple[ServedCloud, ServedDevice, Licence], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    cloud, served, licence = lab
    profile = lab_profile(tmp_path, cloud, served, monkeypatch, licence)
    world = build_world(profile)
    try:
        device = world.device
        assert device.capabilities >= {"reset", "factory-reset", "power-cycle", "liveness", "scan-qr"}
        device.factory_reset()
        device.wait_pairing_mode(10)
        assert status(served)["state"] == "pairing" and device.is_alive()
        urllib.request.urlopen(urllib.request.Request(served.control + "/power-off", method="POST"), timeout=5).close()
        assert device.is_alive() is False
        device.power_cycle()
        device.wait_pairing_mode(10)
        assert device.is_alive() and status(served)["alive"]
        device.reset()
        names = [e.name for e in device.events()]
        assert names == ["hook:factory_reset", "hook:enter_pairing_mode", "hook:liveness", "hook:liveness",
                         "hook:power_cycle", "hook:enter_pairing_mode", "hook:liveness", "hook:reset"]
        bad = OperatorDeviceAdapter(licence=licence, pid=PID, terminal=Terminal(io.StringIO()),
                                    output_dir=tmp_path, hooks={"reset": HookSpec.parse(
                                        json.loads(control_hook("POST", "/no-such-button")), "reset")},
                                    hook_env={"CAMERA_URL": served.control})
        with pytest.raises(HookFailed, match="status 22"):  # curl -f on an HTTP 404
            bad.reset()
    finally:
        world.close()


def test_a_qr_pairing_through_the_remote_cloud_and_the_operator_device(
        lab: tuple[ServedCloud, ServedDevice, Licence], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cloud, served, licence = lab
    world = build_world(lab_profile(tmp_path, cloud, served, monkeypatch, licence))
    try:
        assert isinstance(world.cloud, RemoteCloudAdapter) and isinstance(world.device, OperatorDeviceAdapter)
        world.device.factory_reset()
        world.device.wait_pairing_mode(10)
        owner = world.cloud.create_account("lab operator")
        home = world.cloud.create_home(owner, "bench")
        activator = Activator(world.cloud, account=owner, device=world.device, poll_interval_s=0.1)
        token = activator.get_token(home)
        outcome = pair(activator, ActivatorMode.QR, "paircert-lab", WIFI_PASSWORD, token, timeout=30,
                       real_timeout_s=40)
        assert outcome.ok and outcome.calls == 1, outcome.error
        assert outcome.device_model is not None and outcome.device_model.home == home
        [record] = world.cloud.list_devices(home)
        assert record.uuid == licence.uuid and record.online
        assert status(served)["state"] == "online" and status(served)["dev_id"] == record.dev_id
        qr_events = [e for e in world.device.events() if e.name == "hook:qr"]
        assert qr_events and qr_events[-1].details["returncode"] == 0
        assert '"outcome": "captured"' in qr_events[-1].details["output"].replace('":"', '": "')
        assert (tmp_path / "qr" / "qr-001.png").exists()
        assert DeviceCapability.SCAN_QR.value in world.device.capabilities
    finally:
        world.close()


def test_the_example_real_camera_profile_builds_an_operator_device(tmp_path: Path) -> None:
    profile = load_profile(Path(__file__).parent.parent / "profiles" / "example-real-camera.toml")
    context = WorldContext(profile=profile, clock=SystemClock(), seed=1)
    args = {**profile.adapters.device.resolved_args(), "interactive": False, "output_dir": str(tmp_path)}
    device = operator_device(context, **args)
    try:
        assert device.show_qr == "window" and device.prompt_timeout_s == 300
        assert device.ap_address() is not None and device.ap_address().host == "192.168.176.1"  # type: ignore[union-attr]
        assert device.capabilities == {"reset", "factory-reset", "power-cycle", "liveness", "ap-mode", "ez-mode"}
        assert device.info()["hooks"]["power_cycle"].startswith("./lab/relay.sh off")  # type: ignore[index]
    finally:
        device.close()


def test_hook_output_and_the_qr_become_the_running_tests_evidence(tmp_path: Path) -> None:
    from harness import evidence

    device = make(tmp_path, {"reset": '"echo key=$LAB_KEY"'}, qr_hook="true", hook_env={"LAB_KEY": AUTH_KEY})
    recorder = evidence.EvidenceRecorder("TC-OPERATOR", "test")
    evidence.activate(recorder)
    try:
        device.reset()
        device.present_qr(render_qr("x"))
    finally:
        evidence.activate(None)
    assert recorder.texts == {"hook reset": f"key={MASK}\n"}
    assert list(recorder.images) == ["qr shown to the device"]
    steps = [e.name for e in recorder.timeline if e.kind == "step"]
    assert steps == ["operator OperatorDeviceAdapter.reset", "operator OperatorDeviceAdapter.present_qr"]
    written = recorder.write(tmp_path / "evidence")
    assert AUTH_KEY not in "".join(p.read_text(errors="replace") for p in written.iterdir() if p.suffix != ".png")
