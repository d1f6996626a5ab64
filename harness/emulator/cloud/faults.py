"""Named deviations of the emulated cloud (DESIGN.md "Faults").

Each fault is a real change of behaviour, switched on by passing it to ``EmulatedCloud(faults=...)`` (or
``--fault`` to ``paircert cloud serve``, or ``PUT /app/v1/lab/faults``). The project's own tests run the
suites against each one and require the right TC to fail: that is how the suites prove what they catch.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class CloudFault(StrEnum):
    """What a faulted cloud does differently from a conformant one."""

    #: The token lifetime is ignored: a token issued hours ago still activates (§0 step 6, 10 minutes).
    TOKEN_NEVER_EXPIRES = "token-never-expires"
    #: A successful activation does not consume its token: a second device can use the same one.
    TOKEN_REUSABLE = "token-reusable"
    #: The device is bound to the account's first home (another home when it has one), not the token's home.
    TOKEN_NOT_BOUND_TO_HOME = "token-not-bound-to-home"
    #: A strong-bound device can be re-bound by another account without removal (§6 strong binding).
    STRONG_ALLOWS_REBIND = "strong-allows-rebind"
    #: A medium rebind does not notify the previous home's admins (§6 medium binding).
    MEDIUM_NO_NOTIFY = "medium-no-notify"
    #: A weak rebind notifies the previous home's admins, which weak binding must not (§6 weak binding).
    WEAK_NOTIFIES = "weak-notifies"
    #: The licence is not checked: the sign is not verified, the product is not matched, and an unknown
    #: uuid is accepted when the body opens under any AuthKey the cloud issued (a cloned key activates).
    LICENCE_UNCHECKED = "licence-unchecked"
    #: One licence activates any number of hardware ids (§8 "one licence per device" is not enforced).
    LICENCE_SHARED = "licence-shared"
    #: A revoked licence still activates.
    REVOKED_LICENCE_ACCEPTED = "revoked-licence-accepted"
    #: The broker does not enforce topic ACLs: a device may subscribe and publish to others' topics (§5).
    BROKER_NO_ACL = "broker-no-acl"


def parse_faults(values: Iterable[str | CloudFault]) -> frozenset[CloudFault]:
    """The faults named by ``values``; an unknown name is a ValueError listing the known ones."""
    out: set[CloudFault] = set()
    for value in values:
        try:
            out.add(CloudFault(value))
        except ValueError:
            known = ", ".join(f.value for f in CloudFault)
            raise ValueError(f"unknown cloud fault {value!r}; known: {known}") from None
    return frozenset(out)


__all__ = ["CloudFault", "parse_faults"]
