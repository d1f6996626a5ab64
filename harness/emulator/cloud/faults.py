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
    #: Check-then-consume is not atomic: the device record is written first and the token is marked used only
    #: after that (slow) store write, so two activations racing with one token both pass the check and both
    #: bind; a later, sequential reuse is still refused (DESIGN.md "exactly one wins").
    TOKEN_CONSUME_RACE = "token-consume-race"
    #: A retry shortcut: a consumed token is accepted again when the licence's own device (the devId it
    #: activated) presents it, so a device removed from the app re-pairs with the token it already used.
    TOKEN_REUSABLE_BY_SAME_DEVICE = "token-reusable-by-same-device"
    #: Token ids are a counter stepped by a fixed large stride (an "obfuscated sequence") instead of random:
    #: unique, and every character varies, but each token follows from the previous one (§0, §1.3).
    SEQUENTIAL_TOKENS = "sequential-tokens"
    #: ``thing.device.opensdk.active`` (the TuyaOpen / GCM activation, §4.2) is not routed: it answers
    #: UNKNOWN_API, so a device presenting a valid licence through it never activates.
    OPENSDK_ACTIVATION_UNSERVED = "opensdk-activation-unserved"
    #: An unknown licence uuid is looked up by its AuthKey instead: a body that opens under any issued
    #: AuthKey activates that licence (a uuid made up around a cloned key activates).
    UNKNOWN_UUID_ACCEPTED = "unknown-uuid-accepted"
    #: A key-ring fallback: a request whose sign or body fails under the named licence's AuthKey is tried
    #: under every other AuthKey the cloud issued, and accepted for the named licence if one opens it.
    AUTHKEY_ANY_ISSUED = "authkey-any-issued"
    #: The activation's productKey is not matched against the licence's product: another PID's licence activates.
    LICENCE_PRODUCT_UNCHECKED = "licence-product-unchecked"
    #: A plain "Remove device" of a strong-bound device tells the device but keeps the cloud's binding (only
    #: "remove and wipe" releases it): another account is still refused with DEVICE_ALREADY_BIND (§6).
    STRONG_REMOVE_KEEPS_BINDING = "strong-remove-keeps-binding"
    #: The guest rule is missing: a home member (guest) adds a strong-binding device like an admin (§6, 3712).
    GUEST_MAY_BIND_STRONG = "guest-may-bind-strong"
    #: Strong binding is checked per home, not per account: its owner cannot move the device to another of
    #: their own homes (DEVICE_ALREADY_BIND), which DESIGN.md allows.
    STRONG_REFUSES_OWNER_MOVE = "strong-refuses-owner-move"
    #: A camera product keeps the binding mode it is created with: medium and weak cameras can be made (§6).
    CAMERA_BINDING_CHANGEABLE = "camera-binding-changeable"
    #: The broker matches a device login's password against every registered device, not the one the client
    #: id names: a device logs in under another device's identity with its own password (§5).
    BROKER_PASSWORD_ANY_DEVICE = "broker-password-any-device"
    #: The token lookup fails open: a token this cloud never issued is answered with the newest token it did
    #: issue, as if unused (a cache that serves its last entry on a miss), so a guessed token activates (§0).
    TOKEN_LOOKUP_FAILS_OPEN = "token-lookup-fails-open"
    #: An activation request whose form body cannot be parsed or decoded crashes the handler: HTTP 500 with a
    #: plain-text body instead of an ATOP error (§4.2).
    ATOP_500_ON_MALFORMED_BODY = "atop-500-on-malformed-body"
    #: A stale home-device index: removal from the app unbinds the device but leaves it in its home's index, so
    #: adding it back to the home it was removed from is refused (DEVICE_ALREADY_BIND); other homes are fine.
    REMOVED_DEVICE_STAYS_INDEXED = "removed-device-stays-indexed"
    #: The rebind notice is keyed on the home, not the account: an owner moving a device between their own homes
    #: sends the previous home's admins "bound by another account" (§6: only a medium rebind notifies).
    OWNER_MOVE_NOTIFIES = "owner-move-notifies"
    # -- binding by UUID (§11.6): decided in harness/emulator/cloud/bind.py
    #: The token a bind by UUID issues never expires: the app's push "lives for 10 minutes" is not kept (§0).
    BIND_TOKEN_NEVER_EXPIRES = "bind-token-never-expires"
    #: A bind by UUID skips the binding rules: a strong-bound device of another account is not refused 3711
    #: up front (§6), the request goes on as if the device were free.
    BIND_SKIPS_BINDING_RULES = "bind-skips-binding-rules"
    #: A bind by UUID never checks the UUID: an unknown or unconnected UUID is answered with a token (and a push
    #: that reaches nobody) instead of an error the app can show.
    BIND_PUSHES_TO_ANYONE = "bind-pushes-to-anyone"
    #: The protocol-46 push is always a 2.3 envelope, whatever the acon login said: a device that logged in
    #: without ``|pv=2.3`` (the connect-kit) cannot open it (§11.9.1).
    ACTIVE_TOKEN_PUSH_ALWAYS_23 = "active-token-push-always-2.3"


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
