"""Cloud faults of a token's time: how a presentation that was refused, and the activation's own timestamp, bear on
the token's lifetime (PROTOCOL.md §0, §11.9.2). Listed in :data:`TOKEN_TIME_FAULTS`, which
:mod:`harness.emulator.cloud.faults` registers in its :data:`~harness.emulator.cloud.faults.CLOUD_FAULTS`.

A conformant cloud keeps a token's lifetime on its own clock from the moment it issued it: a refused presentation
neither renews nor shortens it, and the ``t`` an activation carries (a device's clock, unset before its first
activation on the connect-kit) is neither trusted for the token's age nor a reason to refuse.
"""

from __future__ import annotations

import dataclasses

from harness.model.errors import CloudError
from harness.model.token import check_token as model_check_token

from .activation import Activation, ActivationOutcome
from .behaviour import CloudBehaviour

#: How long a token stays valid after a refused presentation under ``refused-presentation-leaves-a-minute``.
REFUSED_GRACE_S = 60.0
#: How far an activation's ``t`` may be from the cloud's clock under ``refuses-skewed-request-time``.
SKEW_WINDOW_S = 300.0


def _refused_while_valid(a: Activation, refusal: ActivationOutcome | None) -> bool:
    """Whether this activation was refused after presenting a token the cloud issued, unused and unexpired."""
    token = a.token
    return refusal is not None and token is not None and token.consumed_at is None and a.now < token.expires_at


class PresentationRenewsToken(CloudBehaviour):
    def decide_activation(self, a: Activation) -> ActivationOutcome | None:
        refusal = super().decide_activation(a)
        if _refused_while_valid(a, refusal) and a.token is not None:
            a.state.tokens[a.token.token] = dataclasses.replace(a.token, issued_at=a.now)  # the caller holds the lock
        return refusal


class RefusedPresentationLeavesAMinute(CloudBehaviour):
    def decide_activation(self, a: Activation) -> ActivationOutcome | None:
        refusal = super().decide_activation(a)
        if _refused_while_valid(a, refusal) and a.token is not None:
            ttl = min(a.token.ttl_s, a.now + REFUSED_GRACE_S - a.token.issued_at)
            a.state.tokens[a.token.token] = dataclasses.replace(a.token, ttl_s=ttl)  # the caller holds the lock
        return refusal


class TokenAgedByRequestTime(CloudBehaviour):
    def check_token(self, a: Activation) -> ActivationOutcome | None:
        verdict = model_check_token(self.token_as_checked(a), now=float(a.req.t), region=a.state.region)
        if not verdict.ok:
            return a.refuse(verdict.error or CloudError.EXPIRE, verdict.reason)
        return None


class RefusesSkewedRequestTime(CloudBehaviour):
    def check_token(self, a: Activation) -> ActivationOutcome | None:
        if abs(a.req.t - a.now) > SKEW_WINDOW_S:
            return a.refuse(CloudError.ILLEGAL_PARAM, f"request time is invalid (t={a.req.t})")
        return super().check_token(a)


#: (name, class, what the cloud does wrong, the requirement it breaks): registered by
#: :mod:`harness.emulator.cloud.faults`, which imports this module.
TOKEN_TIME_FAULTS: tuple[tuple[str, type[CloudBehaviour], str, str], ...] = (
    ("presentation-renews-token", PresentationRenewsToken,
     "a refused presentation of a token restarts its lifetime (a sliding expiry): a token presented once, "
     "refused, pairs long after its 10 minutes",
     "PROTOCOL.md §0: a token is valid for 10 minutes from its issue"),
    ("refused-presentation-leaves-a-minute", RefusedPresentationLeavesAMinute,
     "a refused presentation of a token leaves it one more minute (a retry window) instead of the rest of its "
     "lifetime",
     "PROTOCOL.md §0: a token lives its lifetime until it pairs a device"),
    ("token-aged-by-request-time", TokenAgedByRequestTime,
     "a token's age is judged on the activation's own t (the device's clock), not on the cloud's: an expired "
     "token pairs from a device whose clock is behind, a fresh one is refused to a device whose clock is ahead",
     "PROTOCOL.md §0, §11.9.2: the cloud judges a token's lifetime on its own clock"),
    ("refuses-skewed-request-time", RefusesSkewedRequestTime,
     f"an activation whose t is more than {SKEW_WINDOW_S:g} s from the cloud's clock is refused (\"request time "
     "is invalid\"): every first activation of a device whose clock is not set yet fails",
     "PROTOCOL.md §11.9.2: the connect-kit activates with t from an unset clock"),
)


__all__ = ["REFUSED_GRACE_S", "SKEW_WINDOW_S", "TOKEN_TIME_FAULTS", "PresentationRenewsToken",
           "RefusedPresentationLeavesAMinute", "RefusesSkewedRequestTime", "TokenAgedByRequestTime"]
