"""MQTT message rate through the emulated cloud's broker, end to end.

N device clients (real paho clients with their derived credentials) publish pre-encoded DP reports
(protocol 4, pv 2.2) on their own ``smart/device/out/<devId>``; the cloud's privileged client receives,
decrypts and hands each one over. Measured from the first publish to the last message handed over.
Runs on the embedded amqtt broker and, when it is installed, on Mosquitto for comparison.

Report only: DESIGN.md sets no budget for the MQTT rate.
"""

from __future__ import annotations

import secrets
import string
import threading
import time
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from benchmarks._common import row
from harness.emulator.broker.embedded import CredentialAuthority, MqttBroker, make_broker
from harness.emulator.broker.mosquitto import find_mosquitto
from harness.emulator.cloud.mqtt import CloudMqttClient
from harness.protocol import mqtt

DEVICES = 16
MESSAGES_PER_DEVICE = 250
QOS = 1
DEADLINE_S = 12.0
ALNUM = string.ascii_lowercase + string.digits


def _random(n: int) -> str:
    return "".join(secrets.choice(ALNUM) for _ in range(n))


def measure(kind: str) -> dict[str, Any]:
    authority = CredentialAuthority()
    cloud_password = secrets.token_urlsafe(16)
    authority.set_cloud("bench-cloud", cloud_password)
    devices = {f"bf{_random(18)}": (_random(16), _random(16)) for _ in range(DEVICES)}
    for dev_id, (sec_key, _) in devices.items():
        authority.set_device(dev_id, sec_key)
    local_keys = {dev_id: keys[1] for dev_id, keys in devices.items()}

    total = DEVICES * MESSAGES_PER_DEVICE
    delivered = 0
    done = threading.Event()
    last_at = 0.0
    lock = threading.Lock()

    def on_message(_dev_id: str, _message: mqtt.MqttMessage) -> None:
        nonlocal delivered, last_at
        with lock:
            delivered += 1
            last_at = time.perf_counter()
            if delivered >= total:
                done.set()

    broker: MqttBroker = make_broker(kind, authority)  # type: ignore[arg-type]
    broker.start()
    cloud = CloudMqttClient(broker.host, broker.port, "bench-cloud", cloud_password,
                            key_lookup=local_keys.get, on_message=on_message)
    clients: list[paho.Client] = []
    try:
        cloud.start()
        for dev_id, (sec_key, _) in devices.items():
            creds = mqtt.device_credentials(dev_id, sec_key)
            client = paho.Client(CallbackAPIVersion.VERSION2, client_id=creds.client_id, protocol=paho.MQTTv311)
            client.username_pw_set(creds.username, creds.password)
            client.max_inflight_messages_set(100)
            client.max_queued_messages_set(0)
            client.connect(broker.host, broker.port)
            client.loop_start()
            clients.append(client)
        deadline = time.monotonic() + 10
        while not all(c.is_connected() for c in clients) and time.monotonic() < deadline:
            time.sleep(0.01)
        payloads = {
            dev_id: [mqtt.encode_message(mqtt.dp_report({"1": i % 2 == 0, "2": i}, t=1_700_000_000 + i),
                                         local_key=keys[1], seq=i)
                     for i in range(MESSAGES_PER_DEVICE)]
            for dev_id, keys in devices.items()
        }

        def send(client: paho.Client, dev_id: str) -> None:
            for payload in payloads[dev_id]:
                client.publish(mqtt.topic_out(dev_id), payload, qos=QOS)

        senders = [threading.Thread(target=send, args=(c, d)) for c, d in zip(clients, devices, strict=True)]
        started = time.perf_counter()
        for thread in senders:
            thread.start()
        for thread in senders:
            thread.join(DEADLINE_S)
        done.wait(max(0.0, DEADLINE_S - (time.perf_counter() - started)))
        with lock:
            got, finished = delivered, last_at
        seconds = max(1e-9, (finished if got else time.perf_counter()) - started)
        return {
            "devices": DEVICES,
            "messages_sent": total,
            "delivered": got,
            "malformed": cloud.malformed_count,
            "seconds": round(seconds, 3),
            "messages_per_s": round(got / seconds, 1),
            "complete": got == total,
        }
    finally:
        for client in clients:
            client.disconnect()
            client.loop_stop()
        cloud.stop()
        broker.stop()


def run() -> dict[str, Any]:
    result: dict[str, Any] = {
        "budget": "report only (DESIGN.md sets no MQTT-rate budget)",
        "within_budget": True,
        "qos": QOS,
        "pv": "2.2",
        "amqtt": measure("amqtt"),
    }
    result["messages_per_s"] = result["amqtt"]["messages_per_s"]
    result["delivered"] = result["amqtt"]["delivered"]
    if find_mosquitto() is not None:
        result["mosquitto"] = measure("mosquitto")
    else:
        result["mosquitto"] = "not installed (make mosquitto)"
    result["measures"] = [
        row(f"MQTT DP reports through the {kind} broker to the cloud",
            f"{got['messages_per_s']:.0f}/s"
            + ("" if got["complete"] else f" ({got['delivered']} of {got['messages_sent']})"),
            "report", None if got["complete"] else False)
        for kind, got in (("amqtt", result["amqtt"]), ("mosquitto", result["mosquitto"])) if isinstance(got, dict)]
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
