"""The app side of pairing: the ThingSmartActivator-shaped activator (:mod:`~harness.app.activator`) and the
app-side faults of the fault zoo (:mod:`~harness.app.faults`).

    from harness.app import Activator, ActivatorMode, pair
"""

from harness.app.activator import (
    Activator,
    ActivatorBusy,
    ActivatorDelegate,
    ActivatorError,
    ActivatorMode,
    ActivatorStep,
    ApOptions,
    BleOptions,
    DeviceModel,
    EzOptions,
    Outcome,
    QrOptions,
    bind,
    pair,
)

__all__ = [
    "Activator",
    "ActivatorBusy",
    "ActivatorDelegate",
    "ActivatorError",
    "ActivatorMode",
    "ActivatorStep",
    "ApOptions",
    "BleOptions",
    "DeviceModel",
    "EzOptions",
    "Outcome",
    "QrOptions",
    "bind",
    "pair",
]
