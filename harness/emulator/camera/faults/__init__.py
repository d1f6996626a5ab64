"""Named deviations of the emulated camera: the camera half of the fault zoo (DESIGN.md "Faults").

Each fault is a real change of behaviour, made by overriding one of the camera's small hook methods
(``decode_qr_image``, ``parse_qr_payload``, ``accept_config``, ``split_token``, ``activation_body``,
``mqtt_credentials``, ``report_dps``, ``on_unbind``, ...; see :mod:`harness.emulator.camera.firmware` and
:mod:`harness.emulator.camera.pairing`). A fault is therefore just a subclass of
:class:`~harness.emulator.camera.firmware.EmulatedCamera`, and several combine by multiple inheritance.
:data:`CAMERA_FAULTS` lists every registered one with what it breaks, and :func:`camera_class` builds the
camera class for a list of fault names, ``package.module:Class`` specs or classes. The built-in faults live in
one module per area: :mod:`.qr`, :mod:`.config`, :mod:`.ez`, :mod:`.ap`, :mod:`.ble`, :mod:`.activation`,
:mod:`.mqtt`, :mod:`.bind`.

Adding a fault from outside the package takes a subclass, and (optionally) registering it by name::

    from harness.emulator.camera.firmware import EmulatedCamera
    from harness.emulator.camera.faults import camera_class, register_camera_fault

    @register_camera_fault("lab-always-star", "always activates at the catch-all endpoint",
                           requirement="PROTOCOL.md §1.4: the region picks the endpoint")
    class AlwaysStar(EmulatedCamera):
        def endpoint_for(self, region):
            return super().endpoint_for("*")

    Camera = camera_class(["lab-always-star", "no-prompt-sound"])  # or camera_class([AlwaysStar])
    camera = Camera(device_loop, air, uuid=..., auth_key=..., pid=..., mac=..., cloud=...)

A fault that must kill the firmware calls ``self.crash(reason)``: the camera goes to CRASHED, closes its
sockets and answers nothing until power cycled; no exception escapes into the harness.
"""

from __future__ import annotations

from . import activation, ap, bind, ble, config, ez, mqtt, qr, reset  # noqa: F401 (registers the built-in faults)
from .ez import LaxEzReceiver
from .registry import CAMERA_FAULTS, CameraFault, camera_class, make_camera, register_camera_fault

__all__ = ["CAMERA_FAULTS", "CameraFault", "LaxEzReceiver", "camera_class", "make_camera", "register_camera_fault"]
