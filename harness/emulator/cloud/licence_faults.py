"""Cloud faults of a licence over its device's life: after the device is removed, once the licence is revoked,
and when a request carries the device's old devId (PROTOCOL.md §8, §11.9.2). Listed in
:data:`LICENCE_LIFE_FAULTS`, which :mod:`harness.emulator.cloud.faults` registers in its ``CLOUD_FAULTS``.

A conformant cloud ties a licence to the first hardware id that activated it for good: a removal does not free it
for another board, a revocation refuses it whether or not it ever activated a device, and a devId in the request
(which the connect-kit sends after a reset, and a cloned flash holds too) proves nothing about the hardware.
"""

from __future__ import annotations

from .activation import Activation, ActivationOutcome
from .behaviour import CloudBehaviour


def _removed(a: Activation) -> bool:
    """Whether the licence activated a device that is now removed (in no home)."""
    lic = a.found_licence
    dev = a.state.devices.get(lic.dev_id) if lic.dev_id else None
    return dev is not None and not dev.bound


class RemovalFreesLicence(CloudBehaviour):
    def check_hardware_id(self, a: Activation) -> ActivationOutcome | None:
        return None if _removed(a) else super().check_hardware_id(a)

    def licence_hardware_id(self, a: Activation) -> str | None:
        return a.req.hid if _removed(a) and a.req.hid is not None else super().licence_hardware_id(a)


class RevocationSparesActivatedLicence(CloudBehaviour):
    def check_revocation(self, a: Activation) -> ActivationOutcome | None:
        return None if a.found_licence.dev_id is not None else super().check_revocation(a)


class OldDevIdVouches(CloudBehaviour):
    def check_hardware_id(self, a: Activation) -> ActivationOutcome | None:
        lic = a.found_licence
        if lic.dev_id is not None and a.req.dev_id == lic.dev_id:
            return None
        return super().check_hardware_id(a)

    def licence_hardware_id(self, a: Activation) -> str | None:
        return a.found_licence.hid if a.req.dev_id is not None else super().licence_hardware_id(a)


#: (name, class, what the cloud does wrong, the requirement it breaks): registered by
#: :mod:`harness.emulator.cloud.faults`, which imports this module.
LICENCE_LIFE_FAULTS: tuple[tuple[str, type[CloudBehaviour], str, str], ...] = (
    ("removal-frees-licence", RemovalFreesLicence,
     "removing a device frees its licence for any hardware: a cloned board (another MAC) presenting the licence "
     "after the owner removed the device takes it over",
     "PROTOCOL.md §8: one licence, one device (its hardware), for good"),
    ("revocation-spares-activated-licence", RevocationSparesActivatedLicence,
     "a revoked licence is refused only if it never activated a device: the revoked device activates again after "
     "its removal",
     "PROTOCOL.md §8: a revoked licence activates nothing"),
    ("old-devid-vouches", OldDevIdVouches,
     "a request carrying the licence's devId is taken for the licence's own hardware, whatever its hardware id: a "
     "cloned board with the flash's devId activates",
     "PROTOCOL.md §8, §11.9.2: the devId a device sends after a reset proves nothing"),
)


__all__ = ["LICENCE_LIFE_FAULTS", "OldDevIdVouches", "RemovalFreesLicence", "RevocationSparesActivatedLicence"]
