"""The 14-character pairing token: region (2) + token (8) + secret (4).

PROTOCOL.md §0 step 1: the cloud hands the app ``region``, ``token`` and ``secret`` and "the app joins them
into a 14-character string, region + token + secret". §1.3 gives the alphabet, §1.4 how firmware splits it.

:class:`PairingToken` is the valid token: it cannot be built broken (:class:`LocalProtocolError`), and
:meth:`PairingToken.parse` rejects malformed text with a :class:`RemoteProtocolError` that says what is wrong.
The two ``split_token_*`` functions are deliberately *unchecked*: they reproduce what real firmware does with
whatever it was handed, so the emulated camera can model it, faults included.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .errors import LocalProtocolError, RemoteProtocolError

# §1.3: "Region prefixes accepted by AK's __token_to_region()", plus tuya-convert's default "US"
# (§1.4: tuya-convert uses "US"+"00000000"+"0101"), which the reference vectors use.
KNOWN_REGIONS: Mapping[str, str] = MappingProxyType({
    "AY": "China",
    "AZ": "US-West",
    "UE": "US-East",
    "EU": "Central Europe",
    "WE": "Western Europe",
    "IN": "India",
    "SG": "Singapore",
    "US": "tuya-convert default region",
})

REGION_LEN = 2
TOKEN_LEN = 8
SECRET_LEN = 4
TOKEN_STRING_LEN = REGION_LEN + TOKEN_LEN + SECRET_LEN

# §1.3: every public example is [A-Za-z0-9] with an upper-case 2-letter region first; "the OpenAPI example
# secret pr_0 contains _, so the secret's alphabet is not strictly alphanumeric".
REGION_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
TOKEN_ALPHABET = REGION_ALPHABET + "abcdefghijklmnopqrstuvwxyz0123456789"
SECRET_ALPHABET = TOKEN_ALPHABET + "_"
_REGION_CHARS = frozenset(REGION_ALPHABET)
_TOKEN_CHARS = frozenset(TOKEN_ALPHABET)
_SECRET_CHARS = frozenset(SECRET_ALPHABET)
_REGION_RE = re.compile(r"[A-Z]{2}")
_TOKEN_RE = re.compile(r"[A-Za-z0-9]{8}")
_SECRET_RE = re.compile(r"[A-Za-z0-9_]{4}")

_SECTION = "§1.3"


def _known(regions: Mapping[str, str]) -> str:
    return ", ".join(sorted(regions))


@dataclass(frozen=True)
class PairingToken:
    """A pairing token as the cloud issues it (§0 step 1, §1.3).

    ``regions`` is the table the region is checked against; it defaults to :data:`KNOWN_REGIONS` and is
    not part of the value (it does not take part in equality or the string form).
    """

    region: str
    token: str
    secret: str
    regions: Mapping[str, str] = field(default_factory=lambda: KNOWN_REGIONS, kw_only=True, repr=False,
                                       compare=False, hash=False)

    def __post_init__(self) -> None:
        for name, pattern, rule in (
            ("region", _REGION_RE, "2 upper-case letters"),
            ("token", _TOKEN_RE, "8 characters of [A-Za-z0-9]"),
            ("secret", _SECRET_RE, "4 characters of [A-Za-z0-9_]"),
        ):
            value = getattr(self, name)
            if not isinstance(value, str) or not pattern.fullmatch(value):
                raise LocalProtocolError(f"pairing token {name} must be {rule} (§1.3), got {value!r}")
        if self.region not in self.regions:
            raise LocalProtocolError(
                f"pairing token region {self.region!r} is not a known region ({_known(self.regions)}) (§1.3)")

    def __str__(self) -> str:
        """The 14-character string the app hands to the device (§0 step 1)."""
        return self.region + self.token + self.secret

    @property
    def region_name(self) -> str:
        """What the region stands for, e.g. ``"China"`` for ``AY`` (§1.3)."""
        return self.regions[self.region]

    @classmethod
    def parse(cls, text: str | bytes, *, regions: Mapping[str, str] = KNOWN_REGIONS) -> PairingToken:
        """Parse the 14-character token string (§1.3, §1.4), or raise :class:`RemoteProtocolError`.

        Bytes must be UTF-8. Nothing is stripped or case-folded: firmware splits the string as it is.
        """
        if isinstance(text, bytes | bytearray | memoryview):
            raw = bytes(text)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise RemoteProtocolError(
                    f"pairing token is not valid UTF-8: {exc.reason} at byte {exc.start} "
                    f"(0x{raw[exc.start]:02x})", section=_SECTION) from None
        elif not isinstance(text, str):
            raise LocalProtocolError(f"PairingToken.parse takes str or bytes, not {type(text).__name__}")
        if len(text) != TOKEN_STRING_LEN:
            raise RemoteProtocolError(
                f"pairing token must be {TOKEN_STRING_LEN} characters (region {REGION_LEN} + token {TOKEN_LEN} "
                f"+ secret {SECRET_LEN}), got {len(text)}", section=_SECTION)
        for position, char in enumerate(text):
            if position < REGION_LEN:
                part, allowed, rule = "region", _REGION_CHARS, "A-Z"
            elif position < REGION_LEN + TOKEN_LEN:
                part, allowed, rule = "token", _TOKEN_CHARS, "A-Za-z0-9"
            else:
                part, allowed, rule = "secret", _SECRET_CHARS, "A-Za-z0-9_"
            if char not in allowed:
                raise RemoteProtocolError(
                    f"pairing token has bad character {char!r} (U+{ord(char):04X}) at position {position}: "
                    f"the {part} allows only [{rule}]", section=_SECTION)
        region, token, secret = split_token_fixed(text)
        if region not in regions:
            raise RemoteProtocolError(
                f"pairing token has unknown region {region!r} (known: {_known(regions)})", section=_SECTION)
        return cls(region, token, secret, regions=regions)


def split_token_fixed(text: str) -> tuple[str, str, str]:
    """Split like TuyaOpen and most firmware: region [0,2), token [2,10), secret [10,14) (§1.4).

    Unchecked on purpose, as in the firmware ("there is no length check. A short token yields empty or
    garbage fields"): a short input gives short or empty fields, characters past 14 are ignored.
    """
    return (text[:REGION_LEN], text[REGION_LEN:REGION_LEN + TOKEN_LEN],
            text[REGION_LEN + TOKEN_LEN:TOKEN_STRING_LEN])


def split_token_by_length(text: str) -> tuple[str, str, str]:
    """Split like AK's ``on_boarding_with_token``: region = first 2, secret = last 4, token = the rest (§1.4).

    Unchecked on purpose: a long input gives a long token; an input shorter than 6 characters gives an
    empty token and a region and secret that overlap, as a length-based split without a check would.
    """
    middle_end = max(len(text) - SECRET_LEN, REGION_LEN)
    return text[:REGION_LEN], text[REGION_LEN:middle_end], text[-SECRET_LEN:]


__all__ = [
    "KNOWN_REGIONS",
    "REGION_ALPHABET",
    "REGION_LEN",
    "SECRET_ALPHABET",
    "SECRET_LEN",
    "TOKEN_ALPHABET",
    "TOKEN_LEN",
    "TOKEN_STRING_LEN",
    "PairingToken",
    "split_token_by_length",
    "split_token_fixed",
]
