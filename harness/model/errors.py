"""The cloud's ATOP ``errorCode`` strings, in one place (PROTOCOL.md §4.4, DESIGN.md "Emulator-defined behaviour").

Some are seen in public code (§4.4); where PROTOCOL.md says the real string is not established (a bad licence,
a strong-bound device claimed by another account) the emulator defines its own, and the suites test the
observable outcome (activation refused, the app-side code of §7) rather than these strings.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class CloudError(StrEnum):
    """An ATOP ``errorCode``. The comment on each says where it comes from."""

    # Seen in public code (§4.4).
    EXPIRE = "EXPIRE"  # CC: token expired or wrong region; here also unknown or consumed (DESIGN)
    FIRMWARE_NOT_MATCH = "FIRMWARE_NOT_MATCH"  # CC
    APP_PRODUCT_UNSUPPORT = "APP_PRODUCT_UNSUPPORT"  # CC
    NOT_EXISTS = "NOT_EXISTS"  # CC
    GATEWAY_NOT_EXISTS = "GATEWAY_NOT_EXISTS"  # TO/AK: device gone or unbound; terminal
    REMOTE_API_RUN_UNKNOW_FAILED = "REMOTE_API_RUN_UNKNOW_FAILED"  # AK: server busy, retry
    ILLEGAL_ACCESS_API = "ILLEGAL_ACCESS_API"  # AK mocks
    REPEATED_REQUEST = "REPEATED_REQUEST"  # AK mocks
    API_QPS_LIMIT_OR_DEGRADE = "API_QPS_LIMIT_OR_DEGRADE"  # AK mocks
    INTERNAL_ERROR = "INTERNAL_ERROR"  # AK mocks
    ILLEGAL_PARAM = "ILLEGAL_PARAM"  # AK mocks, a Go client
    UNKNOWN_API = "UNKNOWN_API"  # AK mocks, a Go client
    NOUPDATE = "NOUPDATE"  # AK mocks
    # Emulator-defined (§4.4 and §6 "Not established"; DESIGN.md).
    DEVICE_ALREADY_BIND = "DEVICE_ALREADY_BIND"  # strong-bound device claimed by another account
    GUEST_NOT_SUPPORT_STRONG_BIND = "GUEST_NOT_SUPPORT_STRONG_BIND"  # a home member (guest) pairs a strong device
    LICENSE_NOT_EXISTS = "LICENSE_NOT_EXISTS"  # a uuid the cloud never issued
    LICENSE_REVOKED = "LICENSE_REVOKED"
    LICENSE_IN_USE = "LICENSE_IN_USE"  # the licence is tied to another hardware id (hid)
    SIGN_INVALID = "SIGN_INVALID"  # the query sign does not verify (§4.2)
    DECRYPT_FAILED = "DECRYPT_FAILED"  # the body does not open under the key (§4.2)


# The licence family: the app shows these as the generic 4000 with the cloud's message (§7, §8).
LICENCE_ERRORS: Final = frozenset(
    {
        CloudError.LICENSE_NOT_EXISTS,
        CloudError.LICENSE_REVOKED,
        CloudError.LICENSE_IN_USE,
        CloudError.SIGN_INVALID,
        CloudError.DECRYPT_FAILED,
        CloudError.FIRMWARE_NOT_MATCH,
    }
)



class BindError(StrEnum):
    """The app API's errorCodes for a bind by UUID it refuses before any token is pushed (§11.6; emulator-defined:
    the real cloud's strings are not established). Binding-rule refusals use the CloudError strings."""

    UUID_NOT_EXISTS = "UUID_NOT_EXISTS"  # no licence with that UUID (or a revoked one)
    DEVICE_OFFLINE = "DEVICE_OFFLINE"  # the UUID is not logged in as acon_<uuid>, waiting on d/ai/<uuid>


class ModelError(Exception):
    """The model's own rules contradict themselves (a harness bug: ERROR, never the device's FAIL)."""


__all__ = ["LICENCE_ERRORS", "BindError", "CloudError", "ModelError"]
