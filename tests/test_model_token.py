"""Token rules (PROTOCOL.md §0 step 6, §7).

Seed: "The Token is valid for 10 minutes and will be invalidated upon successful pairing".
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.model import DEFAULT_TOKEN_TTL_S, CloudError, TokenRecord, TokenVerdict, check_token, token_error
from harness.protocol.errors import LocalProtocolError

ISSUED = 1_700_000_000.0


def record(**changes: object) -> TokenRecord:
    base = TokenRecord(region="AY", token="AbCd1234", secret="pr_0", home="home-1", account="alice",
                       issued_at=ISSUED, ttl_s=DEFAULT_TOKEN_TTL_S)
    return TokenRecord(**{**base.__dict__, **changes})


def test_the_default_lifetime_is_ten_minutes() -> None:
    assert DEFAULT_TOKEN_TTL_S == 600.0


def test_valid_a_millisecond_before_the_end_and_expired_at_the_end() -> None:
    rec = record()
    assert check_token(rec, now=ISSUED + 600 - 0.001, region="AY") is TokenVerdict.VALID
    assert check_token(rec, now=ISSUED + 600, region="AY") is TokenVerdict.EXPIRED
    assert check_token(rec, now=ISSUED, region="AY") is TokenVerdict.VALID


def test_a_consumed_token_is_refused_even_inside_its_lifetime() -> None:
    rec = record().consume(ISSUED + 10)
    assert rec.consumed_at == ISSUED + 10
    assert check_token(rec, now=ISSUED + 11, region="AY") is TokenVerdict.CONSUMED


def test_unknown_and_wrong_region() -> None:
    assert check_token(None, now=ISSUED, region="AY") is TokenVerdict.UNKNOWN
    assert check_token(record(), now=ISSUED, region="EU") is TokenVerdict.WRONG_REGION


def test_precedence_unknown_region_consumed_expired() -> None:
    late = ISSUED + 10_000
    assert check_token(record(consumed_at=ISSUED + 1), now=late, region="EU") is TokenVerdict.WRONG_REGION
    assert check_token(record(consumed_at=ISSUED + 1), now=late, region="AY") is TokenVerdict.CONSUMED


def test_every_failure_is_expire_with_a_message_saying_which() -> None:
    failures = [v for v in TokenVerdict if v is not TokenVerdict.VALID]
    assert {token_error(v)[0] for v in failures} == {CloudError.EXPIRE}  # type: ignore[index]
    assert len({v.reason for v in failures}) == len(failures)
    assert token_error(TokenVerdict.VALID) is None
    assert TokenVerdict.VALID.ok and TokenVerdict.VALID.error is None
    assert not TokenVerdict.CONSUMED.ok and TokenVerdict.CONSUMED.error is CloudError.EXPIRE
    assert "used" in TokenVerdict.CONSUMED.reason and "region" in TokenVerdict.WRONG_REGION.reason


def test_an_infinite_lifetime_never_expires_and_a_non_positive_one_is_refused() -> None:
    assert check_token(record(ttl_s=math.inf), now=1e18, region="AY") is TokenVerdict.VALID
    for bad in (0.0, -1.0, math.nan):
        with pytest.raises(LocalProtocolError):
            record(ttl_s=bad)


@settings(max_examples=300, deadline=None)
@given(ttl=st.floats(0.001, 1e6), offset=st.floats(-1e6, 2e6), consumed=st.booleans(),
       region=st.sampled_from(["AY", "EU"]))
def test_valid_iff_inside_lifetime_unused_and_same_region(ttl: float, offset: float, consumed: bool,
                                                          region: str) -> None:
    rec = record(ttl_s=ttl, consumed_at=ISSUED if consumed else None)
    now = ISSUED + offset
    verdict = check_token(rec, now=now, region=region)
    assert (verdict is TokenVerdict.VALID) == (now < ISSUED + ttl and not consumed and region == "AY")
