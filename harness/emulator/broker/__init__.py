"""The emulated cloud's MQTT brokers: who may log in and touch which topics (:mod:`~harness.emulator.broker.authority`),
the embedded amqtt broker (:mod:`~harness.emulator.broker.embedded`) and Mosquitto
(:mod:`~harness.emulator.broker.mosquitto`)."""
