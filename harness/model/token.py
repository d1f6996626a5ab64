"""The pairing token's rules (PROTOCOL.md §0 step 6, §7 "Contract points"; seeds/device-pairing-qr-mode.txt).

Seed: "The Token is valid for 10 minutes and will be invalidated upon successful pairing ... The device must
be bound in a home, so the token is associated with the home ID." Pure: ``now`` is always a parameter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from harness.model.errors import CloudError
from harness.protocol.errors import LocalProtocolError

# Seed: "valid for 10 minutes" (current app-SDK docs); older docs said 5, the OpenAPI example 300 s (§0 step 6).
DEFAULT_TOKEN_TTL_S: Final = 600.0


@dataclass(frozen=True)
class TokenRecord:
    """What the cloud keeps of a token it issued: for which region, home and account, when, and whether used."""

    region: str
    token: str
    secret: str
    home: str
    account: str
    issued_at: float
    ttl_s: float
    consumed_at: float | None = None

    def __post_init__(self) -> None:
        if math.isnan(self.ttl_s) or self.ttl_s <= 0:
            raise LocalProtocolError(f"a token lifetime is positive, got {self.ttl_s!r}", section="§0")
        if math.isnan(self.issued_at):
            raise LocalProtocolError("a token's issued_at is a time", section="§0")

    @property
    def expires_at(self) -> float:
        """The first instant at which the token is no longer valid."""
        return self.issued_at + self.ttl_s

    def consume(self, at: float) -> TokenRecord:
        """The record after a successful pairing at ``at`` (seed: "invalidated upon successful pairing")."""
        return TokenRecord(self.region, self.token, self.secret, self.home, self.account, self.issued_at, self.ttl_s,
                           consumed_at=at)  # dataclasses.replace, without its per-call look at the fields


class TokenVerdict(StrEnum):
    """What :func:`check_token` says of a token presented in an activation."""

    VALID = "valid"
    EXPIRED = "expired"
    CONSUMED = "consumed"
    UNKNOWN = "unknown"
    WRONG_REGION = "wrong-region"

    @property
    def ok(self) -> bool:
        return self is TokenVerdict.VALID

    @property
    def error(self) -> CloudError | None:
        """The errorCode a cloud answers with: EXPIRE for every failure (DESIGN.md), None when valid."""
        return TOKEN_ERRORS[self][0] if self in TOKEN_ERRORS else None

    @property
    def reason(self) -> str:
        """The errorMsg: says which of the four failures it was (DESIGN.md)."""
        return TOKEN_ERRORS[self][1] if self in TOKEN_ERRORS else "token valid"


# DESIGN.md: "EXPIRE for an expired, consumed, unknown or wrong-region token (errorMsg says which)".
# CC's real cloud answers EXPIRE for expired and for wrong-region tokens (§4.4).
TOKEN_ERRORS: Final[dict[TokenVerdict, tuple[CloudError, str]]] = {
    TokenVerdict.EXPIRED: (CloudError.EXPIRE, "token expired"),
    TokenVerdict.CONSUMED: (CloudError.EXPIRE, "token already used by a successful pairing"),
    TokenVerdict.UNKNOWN: (CloudError.EXPIRE, "token unknown"),
    TokenVerdict.WRONG_REGION: (CloudError.EXPIRE, "token issued for another region"),
}


def check_token(record: TokenRecord | None, *, now: float, region: str) -> TokenVerdict:
    """Valid iff the cloud issued it, for ``region``, it is unused, and ``now < issued_at + ttl_s``.

    When several failures hold, the first of unknown, wrong region, consumed, expired is reported: the most
    specific thing the cloud knows (a used token is also usually an old one).
    """
    if record is None:
        return TokenVerdict.UNKNOWN
    if record.region != region:
        return TokenVerdict.WRONG_REGION
    if record.consumed_at is not None:
        return TokenVerdict.CONSUMED
    if not now < record.expires_at:
        return TokenVerdict.EXPIRED
    return TokenVerdict.VALID


def token_error(verdict: TokenVerdict) -> tuple[CloudError, str] | None:
    """(errorCode, errorMsg) for a failed verdict, None for VALID."""
    return TOKEN_ERRORS.get(verdict)


__all__ = ["DEFAULT_TOKEN_TTL_S", "TOKEN_ERRORS", "TokenRecord", "TokenVerdict", "check_token", "token_error"]
