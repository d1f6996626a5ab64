"""The cloud's MQTT side on loopback: online state, DP reports, DP commands, removal over MQTT, login refused."""

from __future__ import annotations

import os
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterator

import paho.mqtt.client as paho
import pytest
from _cloud_helpers import World, activate, make_world
from paho.mqtt.enums import CallbackAPIVersion

from harness.emulator.cloud import EmulatedCloud
from harness.protocol import mqtt


def _mosquitto_installed() -> bool:
    return shutil.which("mosquitto", path=os.environ.get("PATH", "") + ":/usr/sbin:/usr/local/sbin") is not None


@pytest.fixture(scope="module", params=[
    "amqtt",
    pytest.param("mosquitto", marks=pytest.mark.skipif(not _mosquitto_installed(), reason="mosquitto not installed")),
])
def cloud(request: pytest.FixtureRequest) -> Iterator[EmulatedCloud]:
    with EmulatedCloud(broker=request.param) as c:
        yield c


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


class FakeDevice:
    """A paho client logged in with the §5 device credentials."""

    def __init__(self, cloud: EmulatedCloud, dev_id: str, sec_key: str, local_key: str) -> None:
        self.dev_id, self.local_key = dev_id, local_key
        self.inbox: queue.Queue[mqtt.MqttMessage] = queue.Queue()
        self.connack: queue.Queue[bool] = queue.Queue()
        self.subscribed = threading.Event()  # the broker granted the command topic (SUBACK)
        creds = mqtt.device_credentials(dev_id, sec_key)
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=creds.client_id)
        self.client.username_pw_set(creds.username, creds.password)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda _c, _u, _mid, reasons, _p: (
            self.subscribed.set() if reasons and not reasons[0].is_failure else None)
        self.client.on_message = lambda _c, _u, msg: self.inbox.put(
            mqtt.decode_message(msg.payload, local_key=self.local_key))
        self.client.connect(cloud.mqtt_host, cloud.mqtt_port, keepalive=30)
        self.client.loop_start()

    def _on_connect(self, client: paho.Client, _u: object, _f: object, reason: paho.ReasonCode, _p: object) -> None:
        ok = not reason.is_failure
        if ok:
            client.subscribe(mqtt.topic_in(self.dev_id), qos=1)
        self.connack.put(ok)

    def report(self, dps: dict[str, object]) -> None:
        payload = mqtt.encode_message(mqtt.dp_report(dps, t=int(time.time())), local_key=self.local_key, pv="2.2")
        self.client.publish(mqtt.topic_out(self.dev_id), payload, qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def paired(world: World) -> tuple[str, str, str]:
    result = activate(world.cloud, world.licence(), world.token()).result
    assert result is not None
    return result["devId"], result["secKey"], result["localKey"]


def test_online_state_reports_and_commands(cloud: EmulatedCloud) -> None:
    world = make_world(cloud)
    dev_id, sec_key, local_key = paired(world)
    device = FakeDevice(cloud, dev_id, sec_key, local_key)
    try:
        assert device.connack.get(timeout=5)
        assert wait_for(lambda: cloud.app.device(world.owner, dev_id)["online"])
        assert device.subscribed.wait(5), "the broker never granted the device its command topic"
        device.report({"1": True, "2": 40})
        assert wait_for(lambda: cloud.app.device(world.owner, dev_id)["dps"] == {"1": True, "2": 40})
        assert cloud.app.send_dps(world.owner, dev_id, {"1": False})
        command = device.inbox.get(timeout=5)
        assert command.protocol == mqtt.MqttProtocol.DP_COMMAND and dict(command.dps) == {"1": False}
    finally:
        device.close()
    assert wait_for(lambda: not cloud.app.device(world.owner, dev_id)["online"])


@pytest.mark.parametrize(("wipe", "protocol"), [(False, 8), (True, 11)])
def test_removal_tells_the_online_device_and_its_next_login_is_refused(cloud: EmulatedCloud, wipe: bool,
                                                                       protocol: int) -> None:
    world = make_world(cloud)
    dev_id, sec_key, local_key = paired(world)
    device = FakeDevice(cloud, dev_id, sec_key, local_key)
    try:
        assert device.connack.get(timeout=5)
        assert wait_for(lambda: cloud.app.device(world.owner, dev_id)["online"])
        assert device.subscribed.wait(5), "the broker never granted the device its command topic"
        cloud.app.remove_device(world.owner, dev_id, wipe=wipe)
        told = device.inbox.get(timeout=5)
        assert told.protocol == protocol
        assert told.is_factory_reset is wipe
    finally:
        device.close()
    again = FakeDevice(cloud, dev_id, sec_key, local_key)
    try:
        assert again.connack.get(timeout=5) is False, "a removed device's login is not authorised"
    finally:
        again.close()
