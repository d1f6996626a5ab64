"""Cloud faults of a licence over its device's life: after the device is removed, once the licence is revoked,
and when a request carries the device's old devId (PROTOCOL.md §8, §11.9.2). Registered in
:data:`harness.emulator.cloud.faults.CLOUD_FAULTS` like the others (importing that module imports this one).

A conformant cloud ties a licence to the first hardware id that activated it for good: a removal does not free it
for another board, a revocation refuses it whether or not it ever activated a device, and a devId in the request
(which the connect-kit sends after a reset, and a cloned flash holds too) proves nothing about the hardware.
"""

from __future__ import annotations

from .activation import Activation, ActivationOutcome
from .behaviour import CloudBehaviour
from .faults import register_cloud_fault


def _removed(a: Activation) -> bool:
    """Whether the licence activated a device that is now removed (in no home)."""
    lic = a.found_licence
    dev = a.state.devices.get(lic.dev_id) if lic.dev_id else None
    return dev is not None and not dev.bound


@register_cloud_fault("removal-frees-licence", "removing a device frees its licence for any hardware: a cloned "
                      "board (another MAC) presenting the licence after the owner removed the device takes it over",
                      requirement="PROTOCOL.md §8: one licence, one device (its hardware), for good")
class RemovalFreesLicence(CloudBehaviour):
    def check_hardware_id(self, a: Activation) -> ActivationOutcome | None:
        return None if _removed(a) else super().check_hardware_id(a)

    def licence_hardware_id(self, a: Activation) -> str | None:
        return a.req.hid if _removed(a) and a.req.hid is not None else super().licence_hardware_id(a)


@register_cloud_fault("revocation-spares-activated-licence", "a revoked licence is refused only if it never "
                      "activated a device: the revoked device activates again after its removal",
                      requirement="PROTOCOL.md §8: a revoked licence activates nothing")
class RevocationSparesActivatedLicence(CloudBehaviour):
    def check_revocation(self, a: Activation) -> ActivationOutcome | None:
        return None if a.found_licence.dev_id is not None else super().check_revocation(a)


@register_cloud_fault("old-devid-vouches", "a request carrying the licence's devId is taken for the licence's own "
                      "hardware, whatever its hardware id: a cloned board with the flash's devId activates",
                      requirement="PROTOCOL.md §8, §11.9.2: the devId a device sends after a reset proves nothing")
class OldDevIdVouches(CloudBehaviour):
    def check_hardware_id(self, a: Activation) -> ActivationOutcome | None:
        lic = a.found_licence
        if lic.dev_id is not None and a.req.dev_id == lic.dev_id:
            return None
        return super().check_hardware_id(a)

    def licence_hardware_id(self, a: Activation) -> str | None:
        return a.found_licence.hid if a.req.dev_id is not None else super().licence_hardware_id(a)


__all__ = ["OldDevIdVouches", "RemovalFreesLicence", "RevocationSparesActivatedLicence"]
