"""The activator's outcome rules (PROTOCOL.md §7, §0 step 5; DESIGN.md "Activator").

The app side gets exactly one ``did_receive_device`` per start. :func:`outcome_for` decides what it says from
the cloud's attempt records for the token (:class:`AttemptSummary`, the shape the cloud records them in),
whether the device is online on MQTT, whether it is bound to the token's home, and whether the activator's
deadline has passed. The rules are one ordered table, :data:`OUTCOME_RULES` (first match wins), and the
cloud errorCode → app-side code mapping is another, :data:`REFUSAL_CODES`.

§0 step 5 / §7: "the app counts pairing as successful only after the device is online on MQTT. Activation
alone shows up as a failure or timeout in the app" (iOS 3709 DeviceNotConnectMQTT).

Emulator choices, where §7 is silent:
- a refusal that retrying cannot change (the token, the binding, the licence) fails the start at once; one the
  firmware may retry past (CC retries FIRMWARE_NOT_MATCH, APP_PRODUCT_UNSUPPORT and NOT_EXISTS with swapped
  product keys, §4.2; a busy server) is reported only at the deadline, as the latest attempt's code;
- an activation outweighs refusals around it (a repeated activation after success is refused EXPIRE, because
  the token was consumed, and must not undo the success);
- activated with this token but bound to another home by the deadline (rebound since) reads as 3711.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import Final, Literal

from harness.model.errors import BindError, CloudError, ModelError
from harness.protocol.errors import LocalProtocolError

S_APP: Final = "§7"


class ActivatorErrorCode(IntEnum):
    """``ThingSmartActivatorDiscoveryError`` codes (§7, IOSREF ThingSmartActivatorDiscoveryError.h).

    3724–3733 are further "Resume*" codes that §7 does not name one by one, so they are not listed.
    """

    DEFAULT = 0
    CONFIG_INFO_ERROR = 1
    ROUTER_NOT_FOUND = 2
    WRONG_PASSWORD = 3
    ROUTER_CONNECT_FAILED = 4
    DHCP_ERROR = 5
    SUB_DEVICE_OVER_LIMIT = 201
    ZIGBEE_SUB_DEVICE_REPORT_ERROR = 402
    ZIGBEE_GATEWAY_REPORT_ERROR = 403
    TIMEOUT = 1512
    BLE_SCAN_EXPIRED = 3700
    RESUME_CONFIG_INFO_ERROR = 3701
    RESUME_ROUTER_NOT_FOUND = 3702
    RESUME_WRONG_PASSWORD = 3703
    RESUME_ROUTER_CONNECT_FAILED = 3704
    RESUME_DHCP_ERROR = 3705
    RESUME_WAN_NOT_CONNECTED = 3706
    RESUME_PPPOE_ERROR = 3707
    NO_NETWORK = 3708
    DEVICE_NOT_CONNECT_MQTT = 3709
    DEVICE_ACTIVE_REPEATED = 3710
    DEVICE_ALREADY_BOUND = 3711
    GUEST_NOT_SUPPORT_STRONG_BIND = 3712
    APP_UNSUPPORT_PRODUCT = 3713
    APP_UNSUPPORT_UUID = 3714
    DEVICE_FOR_LOCATION_OVER_LIMIT = 3715
    DEVICE_HAS_RESET_FACTORY = 3716
    PRODUCT_NOT_EXISTS = 3717
    TOKEN_EXPIRED = 3718
    PERMISSION_DENIED = 3719
    USER_SESSION_LOSS = 3720
    REMOTE_API_PARAM_LOSS = 3721
    REMOTE_API_PARAM_BLANK = 3722
    REMOTE_API_PARAM_ILLEGAL = 3723
    FAILED_ACTIVE_BEACON_DEVICE = 3734
    FAILED_SCAN_WIFI_LIST = 3735
    COMMON_DEVICE_ACTIVE = 4000  # "generic, with a message from the backend"
    # BLE and combo devices (§7 "Tuya pairing FAQ", §9.8): the app's own codes for the Bluetooth leg.
    BLE_SEND_FAILED = -14  # "failed to send pairing info": the device refused the pair or the Wi-Fi config
    BLE_TIMEOUT = -20  # "pairing timeout": the device did not answer over BLE
    BLE_CONNECT_FAILED = -2561  # "BLE connect failed"


@dataclass(frozen=True)
class AttemptSummary:
    """One activation attempt the cloud saw for a token: when, activated or refused, why, which device, where."""

    at: float
    outcome: Literal["activated", "refused"]
    error_code: str | None
    error_msg: str | None
    dev_id: str | None
    home: str | None

    def __post_init__(self) -> None:
        if self.outcome not in ("activated", "refused"):
            raise LocalProtocolError(f"an attempt is activated or refused, not {self.outcome!r}", section=S_APP)
        if (self.outcome == "refused") != (self.error_code is not None):
            raise LocalProtocolError("a refused attempt, and only a refused one, has an error_code", section=S_APP)


@dataclass(frozen=True)
class Refusal:
    """How the app reports a cloud errorCode, and whether retrying could change it."""

    code: ActivatorErrorCode
    terminal: bool


_T, _R = True, False
# cloud errorCode -> app-side code. Licence errors are the generic 4000 with the cloud's message (§7).
REFUSAL_CODES: Final[Mapping[str, Refusal]] = MappingProxyType({
    CloudError.DEVICE_ALREADY_BIND: Refusal(ActivatorErrorCode.DEVICE_ALREADY_BOUND, _T),
    CloudError.GUEST_NOT_SUPPORT_STRONG_BIND: Refusal(ActivatorErrorCode.GUEST_NOT_SUPPORT_STRONG_BIND, _T),
    CloudError.EXPIRE: Refusal(ActivatorErrorCode.TOKEN_EXPIRED, _T),
    CloudError.APP_PRODUCT_UNSUPPORT: Refusal(ActivatorErrorCode.APP_UNSUPPORT_PRODUCT, _R),
    CloudError.NOT_EXISTS: Refusal(ActivatorErrorCode.PRODUCT_NOT_EXISTS, _R),
    CloudError.FIRMWARE_NOT_MATCH: Refusal(ActivatorErrorCode.COMMON_DEVICE_ACTIVE, _R),
    CloudError.LICENSE_NOT_EXISTS: Refusal(ActivatorErrorCode.COMMON_DEVICE_ACTIVE, _T),
    CloudError.LICENSE_REVOKED: Refusal(ActivatorErrorCode.COMMON_DEVICE_ACTIVE, _T),
    CloudError.LICENSE_IN_USE: Refusal(ActivatorErrorCode.COMMON_DEVICE_ACTIVE, _T),
    CloudError.SIGN_INVALID: Refusal(ActivatorErrorCode.COMMON_DEVICE_ACTIVE, _T),
    CloudError.DECRYPT_FAILED: Refusal(ActivatorErrorCode.COMMON_DEVICE_ACTIVE, _T),
    CloudError.GATEWAY_NOT_EXISTS: Refusal(ActivatorErrorCode.COMMON_DEVICE_ACTIVE, _T),
    CloudError.REMOTE_API_RUN_UNKNOW_FAILED: Refusal(ActivatorErrorCode.COMMON_DEVICE_ACTIVE, _R),
    CloudError.API_QPS_LIMIT_OR_DEGRADE: Refusal(ActivatorErrorCode.COMMON_DEVICE_ACTIVE, _R),
    CloudError.INTERNAL_ERROR: Refusal(ActivatorErrorCode.COMMON_DEVICE_ACTIVE, _R),
    CloudError.REPEATED_REQUEST: Refusal(ActivatorErrorCode.COMMON_DEVICE_ACTIVE, _R),
})
# Any other errorCode (ILLEGAL_PARAM, UNKNOWN_API, a string we never heard of): generic, retry may help.
OTHER_REFUSAL: Final = Refusal(ActivatorErrorCode.COMMON_DEVICE_ACTIVE, _R)


def refusal_for(error_code: str) -> Refusal:
    return REFUSAL_CODES.get(error_code, OTHER_REFUSAL)


# Binding by UUID (§11.6): the app API refuses the bind call itself -> the app-side code (emulator-defined; §7's
# names: 3714 APPUnsupportUUID for a UUID the cloud does not know, 3709 DeviceNotConnectMQTT for a device that is
# not connected, and the binding rules' own 3711 and 3712).
BIND_REFUSAL_CODES: Final[Mapping[str, ActivatorErrorCode]] = MappingProxyType({
    BindError.UUID_NOT_EXISTS: ActivatorErrorCode.APP_UNSUPPORT_UUID,
    BindError.DEVICE_OFFLINE: ActivatorErrorCode.DEVICE_NOT_CONNECT_MQTT,
    CloudError.DEVICE_ALREADY_BIND: ActivatorErrorCode.DEVICE_ALREADY_BOUND,
    CloudError.GUEST_NOT_SUPPORT_STRONG_BIND: ActivatorErrorCode.GUEST_NOT_SUPPORT_STRONG_BIND,
    "PERMISSION_DENIED": ActivatorErrorCode.PERMISSION_DENIED,
    "USER_SESSION_LOSS": ActivatorErrorCode.USER_SESSION_LOSS,
})


def bind_refusal_code(error_code: str) -> ActivatorErrorCode:
    """The app-side code of a refused bind by UUID (generic 4000 for a code the table does not know)."""
    return BIND_REFUSAL_CODES.get(error_code, ActivatorErrorCode.COMMON_DEVICE_ACTIVE)


class OutcomeKind(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    PENDING = "pending"  # no decision yet: keep polling until the deadline


@dataclass(frozen=True)
class Outcome:
    """The delegate's single answer: success with a devId, a failure with a §7 code and message, or not yet."""

    kind: OutcomeKind
    error: ActivatorErrorCode | None
    message: str
    dev_id: str | None
    rule: str
    cloud_error: str | None = None  # the cloud errorCode behind a refusal, when one decided it

    @property
    def error_code(self) -> ActivatorErrorCode | None:
        """The §7 code of a failure (the same as ``error``), None on success or while pending."""
        return self.error

    @property
    def success(self) -> bool:
        return self.kind is OutcomeKind.SUCCESS

    @property
    def pending(self) -> bool:
        return self.kind is OutcomeKind.PENDING


@dataclass(frozen=True)
class _Facts:
    activated: AttemptSummary | None  # the latest activation for this token
    latest: AttemptSummary | None  # the latest attempt of any kind
    online: bool
    home_matches: bool
    timed_out: bool

    @property
    def latest_refusal(self) -> Refusal | None:
        if self.latest is None or self.latest.error_code is None:
            return None
        return refusal_for(self.latest.error_code)


@dataclass(frozen=True)
class OutcomeRule:
    name: str
    when: Callable[[_Facts], bool]
    kind: OutcomeKind
    error: ActivatorErrorCode | None  # None on a refusal rule: the code comes from REFUSAL_CODES
    message: str


def _refusal_terminal(f: _Facts) -> bool:
    refusal = f.latest_refusal
    return refusal is not None and refusal.terminal


_S, _F, _P = OutcomeKind.SUCCESS, OutcomeKind.FAILURE, OutcomeKind.PENDING
_E = ActivatorErrorCode
# Ordered: the first rule whose condition holds decides. The last rule holds always, so the table is total.
# fmt: off
OUTCOME_RULES: Final[tuple[OutcomeRule, ...]] = (
    OutcomeRule("paired", lambda f: f.activated is not None and f.online and f.home_matches,
                _S, None, "activated in the token's home and online on MQTT"),
    OutcomeRule("waiting-for-mqtt", lambda f: f.activated is not None and not f.timed_out,
                _P, None, "activated; waiting for the device on MQTT"),
    OutcomeRule("activated-not-online", lambda f: f.activated is not None and f.home_matches,
                _F, _E.DEVICE_NOT_CONNECT_MQTT, "activated but not online on MQTT by the deadline"),
    OutcomeRule("activated-then-bound-elsewhere", lambda f: f.activated is not None,
                _F, _E.DEVICE_ALREADY_BOUND, "activated, but bound to another home by the deadline"),
    OutcomeRule("refused-terminal", _refusal_terminal,
                _F, None, "activation refused"),
    OutcomeRule("refused-at-deadline", lambda f: f.latest is not None and f.timed_out,
                _F, None, "activation refused"),
    OutcomeRule("no-activation-at-deadline", lambda f: f.latest is None and f.timed_out,
                _F, _E.TIMEOUT, "the device never tried to activate"),
    OutcomeRule("pending", lambda f: True,
                _P, None, "waiting for the device"),
)
# fmt: on


def outcome_for(attempts: Sequence[AttemptSummary], *, device_online: bool, bound_home_matches: bool,
                timed_out: bool) -> Outcome:
    """The delegate's answer now, from the token's attempts and the device's state (§7).

    ``device_online``: the device is connected to MQTT; ``bound_home_matches``: it is bound to the token's
    home; ``timed_out``: the activator's deadline has passed (then the answer is never PENDING).
    Attempts are ordered by ``at``; ties keep the order of ``attempts`` (the cloud's recording order).
    """
    ordered = sorted(attempts, key=lambda a: a.at)
    activations = [a for a in ordered if a.outcome == "activated"]
    facts = _Facts(activated=activations[-1] if activations else None, latest=ordered[-1] if ordered else None,
                   online=device_online, home_matches=bound_home_matches, timed_out=timed_out)
    rule = next(r for r in OUTCOME_RULES if r.when(facts))
    if rule.kind is OutcomeKind.SUCCESS:
        if facts.activated is None:
            raise ModelError("broken invariant: facts.activated is not None")
        return Outcome(_S, None, rule.message, facts.activated.dev_id, rule.name)
    if rule.kind is OutcomeKind.PENDING or rule.error is not None:
        dev_id = facts.activated.dev_id if facts.activated else None
        return Outcome(rule.kind, rule.error, rule.message, dev_id, rule.name)
    latest = facts.latest
    if latest is None or latest.error_code is None:
        raise ModelError("broken invariant: latest is not None and latest.error_code is not None")
    code = refusal_for(latest.error_code).code
    # §7: 4000 is "CommonDeviceActive (generic, with a message from the backend)".
    detail = latest.error_msg or latest.error_code
    message = detail if code is _E.COMMON_DEVICE_ACTIVE else f"{rule.message}: {latest.error_code}: {detail}"
    return Outcome(_F, code, message, latest.dev_id, rule.name, cloud_error=latest.error_code)


__all__ = [
    "BIND_REFUSAL_CODES", "OTHER_REFUSAL", "OUTCOME_RULES", "REFUSAL_CODES", "ActivatorErrorCode", "AttemptSummary",
    "Outcome", "OutcomeKind", "OutcomeRule", "Refusal", "bind_refusal_code", "outcome_for", "refusal_for",
]
