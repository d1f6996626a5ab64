"""The camera's fault registry: :data:`CAMERA_FAULTS`, :func:`register_camera_fault` and :func:`camera_class`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

from harness.emulator.camera.firmware import EmulatedCamera
from harness.emulator.fault_registry import FaultEntry, FaultRegistry

#: A catalogue entry: the fault's name, what the camera does wrong, the requirement it breaks, and its class.
CameraFault: TypeAlias = FaultEntry[EmulatedCamera]

REGISTRY: FaultRegistry[EmulatedCamera] = FaultRegistry("camera", EmulatedCamera, composed_name="FaultyCamera")
#: Every registered camera fault by name: the built-in ones, and those registered from outside the package.
CAMERA_FAULTS: dict[str, CameraFault] = REGISTRY.entries

C = TypeVar("C", bound=type[EmulatedCamera])


def register_camera_fault(name: str, description: str, *, requirement: str) -> Callable[[C], C]:
    """Class decorator: list a fault subclass of :class:`EmulatedCamera` in :data:`CAMERA_FAULTS` under ``name``."""
    return REGISTRY.register(name, description, requirement=requirement)


def builtin(name: str, description: str, requirement: str) -> Callable[[C], C]:
    """:func:`register_camera_fault` for the built-in faults of this package."""
    return register_camera_fault(name, description, requirement=requirement)


def camera_class(faults: Iterable[str | type[EmulatedCamera]] = (), *,
                 search_path: Sequence[Path] = ()) -> type[EmulatedCamera]:
    """The camera class that makes every one of ``faults``: registered names, ``package.module:Class`` specs
    (imported from the Python path, else from ``search_path``) or classes; ValueError for an unknown name."""
    return REGISTRY.compose(faults, search_path=search_path)


def make_camera(*args: Any, faults: Iterable[str | type[EmulatedCamera]] = (), **kwargs: Any) -> EmulatedCamera:
    """Build a camera making ``faults``; the other arguments are :class:`EmulatedCamera`'s."""
    return camera_class(faults)(*args, **kwargs)


__all__ = ["CAMERA_FAULTS", "REGISTRY", "CameraFault", "builtin", "camera_class", "make_camera",
           "register_camera_fault"]
