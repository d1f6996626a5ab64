"""The emulated camera, a firmware model: its lifecycle table (:mod:`~harness.emulator.camera.states`), how it takes
pairing data (:mod:`~harness.emulator.camera.pairing`, :mod:`~harness.emulator.camera.ap`), the firmware itself
(:mod:`~harness.emulator.camera.firmware`), its MQTT session (:mod:`~harness.emulator.camera.online`,
:mod:`~harness.emulator.camera.mqtt`), its named faults (:mod:`~harness.emulator.camera.faults`) and
``paircert device serve`` (:mod:`~harness.emulator.camera.cli`)."""
