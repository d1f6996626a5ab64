"""The fuzz targets: for each, a strategy of explicit, JSON-serialisable cases and how to run one.

``qr``, ``ez``, ``ap`` and ``ble`` mix valid pairings (generated SSID, password, QR style: the device must pair and join
exactly that network) with invalid inputs (malformed QR texts and AP payloads, frames with a broken CRC,
malformed BLE Wi-Fi JSON, passwords no WPA network has, guessed tokens: refused without activation, device alive,
normal pairing afterwards). ``atop`` sends generated malformed activation requests to the cloud's live endpoint: a
well-formed error, never a server error or a success (REQ-FUZZ-004). The ``stateful`` target is
:mod:`harness.testing.stateful`. Adapters only: no emulator import.
"""

from __future__ import annotations

import json
import secrets
import urllib.parse
from dataclasses import asdict, dataclass
from typing import Any, Final

from hypothesis import strategies as st

from harness.adapters.contracts import AccessPointCapability, CloudCapability, Licence, require
from harness.conformance.verdicts import DeviceFailure, Refused
from harness.fuzzing.drive import (
    PLACEHOLDER_TOKEN,
    FuzzContext,
    ap_frame_sender,
    ble_json_sender,
    lpv35_sender,
    qr_bytes_sender,
)
from harness.protocol import atop
from harness.protocol.errors import ProtocolError
from harness.protocol.qr import SSID_MAX_BYTES
from harness.testing.strategies import (
    QrStyle,
    malformed_qr_texts,
    non_wpa_passwords,
    qr_styles,
    ssids,
    tokens,
    wpa_passwords,
)

TARGETS: Final = ("qr", "ez", "ap", "ble", "atop", "stateful")


@dataclass(frozen=True)
class PairCase:
    """A valid pairing: ``mode``, the generated network, and (QR) how the app writes the text."""

    mode: str
    ssid: str
    password: str
    style: QrStyle | None = None


@dataclass(frozen=True)
class RefuseCase:
    """An invalid input: ``kind`` says which; ``data`` is the raw text or payload (hex in JSON)."""

    kind: str
    mode: str
    data: bytes = b""
    password: str = "fuzz-password"
    token: str | None = None
    crc_flip: int = 0


@dataclass(frozen=True)
class AtopCase:
    """A malformed activation request: a valid one (fresh licence, issued token) with one ``defect``."""

    defect: str
    et: int
    position: int
    value: int


Case = PairCase | RefuseCase | AtopCase


def case_to_json(case: Case) -> dict[str, Any]:
    raw = asdict(case)
    if isinstance(case, RefuseCase):
        raw["data"] = case.data.hex()
    return {"type": type(case).__name__, **raw}


def case_from_json(raw: dict[str, Any]) -> Case:
    fields = {k: v for k, v in raw.items() if k != "type"}
    kind = raw["type"]
    if kind == "PairCase":
        style = fields.pop("style", None)
        return PairCase(**fields, style=None if style is None else QrStyle(**style))
    if kind == "RefuseCase":
        fields["data"] = bytes.fromhex(fields.get("data", ""))
        return RefuseCase(**fields)
    if kind == "AtopCase":
        return AtopCase(**fields)
    raise ValueError(f"unknown case type {kind!r}")


# ------------------------------------------------------------------------------------------- strategies


def _pairing_modes(ctx: FuzzContext, family: str) -> list[str]:
    return [m for m in ctx.modes if m.partition("-")[0] == family]


@st.composite
def _ap_malformed(draw: st.DrawFn) -> bytes:
    """AP payloads a device must refuse (§3.1/§3.2): an SSID over 32 bytes or empty, a password over 64, members
    of the wrong type, not JSON, truncated. Each carries the placeholder token."""
    kind = draw(st.sampled_from(["long-ssid", "empty-ssid", "long-password", "wrong-type", "not-json", "truncated"]))
    good: dict[str, Any] = {"ssid": draw(ssids()), "passwd": draw(wpa_passwords()), "token": PLACEHOLDER_TOKEN}
    if kind == "long-ssid":
        good["ssid"] = "S" * draw(st.integers(33, 96))
    elif kind == "empty-ssid":
        good["ssid"] = ""
    elif kind == "long-password":
        good["passwd"] = "p" * draw(st.integers(65, 128))
    elif kind == "wrong-type":
        good[draw(st.sampled_from(["ssid", "passwd", "token"]))] = draw(st.sampled_from([0, None, True, [], {}]))
    text = json.dumps(good, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if kind == "not-json":
        return draw(st.sampled_from([b"", b"ssid=x", b"[]", b"{", b"\xff\xfe"]))
    if kind == "truncated":
        return text[:draw(st.integers(0, len(text) - 1))]
    return text


@st.composite
def _ble_malformed(draw: st.DrawFn) -> bytes:
    """BLE Wi-Fi JSON a device must refuse (§9.7.5, §9.10 lead 7): an SSID over 32 bytes or empty, a password over
    64, a missing key, a non-string value, not JSON, truncated. Each carries the placeholder token."""
    kind = draw(st.sampled_from(["long-ssid", "empty-ssid", "long-password", "missing", "wrong-type", "not-json",
                                 "truncated"]))
    good: dict[str, Any] = {"ssid": draw(ssids()), "pwd": draw(wpa_passwords()), "token": PLACEHOLDER_TOKEN}
    if kind == "long-ssid":
        good["ssid"] = draw(ssids()) + "S" * draw(st.integers(33, 96))
    elif kind == "empty-ssid":
        good["ssid"] = ""
    elif kind == "long-password":
        good["pwd"] = "p" * draw(st.integers(65, 128))
    elif kind == "missing":
        del good[draw(st.sampled_from(["ssid", "pwd", "token"]))]
    elif kind == "wrong-type":
        good[draw(st.sampled_from(["ssid", "pwd", "token"]))] = draw(st.sampled_from([0, None, True, [], {}]))
    text = json.dumps(good, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if kind == "not-json":
        return draw(st.sampled_from([b"", b"ssid=x", b"[]", b"{", b"\xff\xfe"]))
    if kind == "truncated":
        return text[:draw(st.integers(0, len(text) - 1))]
    return text


def atop_cases() -> st.SearchStrategy[AtopCase]:
    """Malformed activation requests: one defect each (REQ-FUZZ-004)."""
    return st.builds(AtopCase, defect=st.sampled_from(ATOP_DEFECTS), et=st.sampled_from([1, 3]),
                     position=st.integers(0, 10_000), value=st.integers(1, 255))


def valid_cases(modes: list[str], lab: AccessPointCapability | None = None) -> st.SearchStrategy[PairCase]:
    """Valid pairings in ``modes`` (REQ-FUZZ-001): generated SSID and password, and a QR style for QR; with
    ``lab`` (which networks the lab makes), only networks it can make: its SSID lengths, ASCII where it makes no
    other, open networks only where it makes them, no secured ones where it makes none."""
    if not modes:
        return st.nothing()
    qr = "qr" in modes
    ssid = ssids()
    password = wpa_passwords()
    if lab is not None:
        low, high = max(1, lab.ssid_min_bytes), min(SSID_MAX_BYTES, lab.ssid_max_bytes)
        if low > high:
            return st.nothing()
        ssid = ssids(min_bytes=low, max_bytes=high, ascii_only=not lab.non_ascii)
        opens, secured = lab.security_for(b"") is not None, lab.security_for(b"x") is not None
        if not (opens or secured):
            return st.nothing()
        password = wpa_passwords(open_network=opens) if secured else st.just("")
    return st.builds(PairCase, mode=st.sampled_from(modes), ssid=ssid, password=password,
                     style=qr_styles() if qr else st.none())


def invalid_cases(modes: list[str], *, guessed_tokens: bool = True) -> st.SearchStrategy[RefuseCase]:
    """Invalid inputs in ``modes`` (REQ-FUZZ-002/003): passwords no WPA network has, guessed tokens, and per mode
    malformed QR texts, long SSIDs, malformed AP payloads and AP frames with a broken CRC."""
    if not modes:
        return st.nothing()
    mode = st.sampled_from(modes)
    found: list[st.SearchStrategy[RefuseCase]] = [
        st.builds(RefuseCase, kind=st.just("wrong-password"), mode=mode, password=non_wpa_passwords())]
    if guessed_tokens:
        found.append(st.builds(RefuseCase, kind=st.just("guessed-token"), mode=mode, token=tokens()))
    if "qr" in modes:
        found.append(st.builds(RefuseCase, kind=st.just("qr-malformed"), mode=st.just("qr"),
                               data=malformed_qr_texts(token=st.just(PLACEHOLDER_TOKEN))))
        # §3.2 fuzz lead "an SSID over 32 bytes must be refused, never overflow": well-formed JSON, long SSID.
        long_ssid = st.integers(33, 96).map(lambda n: json.dumps(
            {"s": "S" * n, "p": "fuzz-password", "t": PLACEHOLDER_TOKEN}, separators=(",", ":")).encode("utf-8"))
        found.append(st.builds(RefuseCase, kind=st.just("qr-malformed"), mode=st.just("qr"), data=long_ssid))
    ap_modes = [m for m in modes if m.startswith("ap-")]
    if ap_modes:
        found.append(st.builds(RefuseCase, kind=st.just("ap-malformed"), mode=st.sampled_from(ap_modes),
                               data=_ap_malformed()))
    if "ble" in modes:
        found.append(st.builds(RefuseCase, kind=st.just("ble-malformed"), mode=st.just("ble"), data=_ble_malformed()))
    if "ap-legacy" in modes:
        good = json.dumps({"ssid": "fuzz-net", "passwd": "fuzz-password", "token": PLACEHOLDER_TOKEN},
                          separators=(",", ":")).encode("utf-8")
        found.append(st.builds(RefuseCase, kind=st.just("ap-bad-crc"), mode=st.just("ap-legacy"), data=st.just(good),
                               crc_flip=st.integers(1, 2**32 - 1)))
    return st.one_of(*found)


def cases(target: str, ctx: FuzzContext) -> st.SearchStrategy[Case]:
    """Every case of ``target`` the device's claims allow (nothing when it claims no such mode)."""
    if target == "atop":
        return atop_cases()
    modes = _pairing_modes(ctx, {"qr": "qr", "ez": "ez", "ap": "ap", "ble": "ble"}[target])
    if not modes:
        return st.nothing()
    valid = valid_cases(modes)
    return st.one_of(valid, valid, invalid_cases(modes))


# -------------------------------------------------------------------------------------------- running


def run_case(ctx: FuzzContext, case: Case, *, then_pairs: bool = True) -> None:
    """Run one case; AssertionError (FAIL) or DeviceCrashed (CRASH) when the system under test is wrong.

    ``then_pairs``: after an invalid case, check that the device still pairs normally.
    """
    if isinstance(case, PairCase):
        ctx.check_pairs(case.mode, case.ssid, case.password, case.style)
        return
    if isinstance(case, AtopCase):
        check_atop(ctx, case)
        return
    refuse: dict[str, Any] = {"then_pairs": then_pairs}
    if case.kind == "wrong-password":
        what, refuse["password"] = f"a password no WPA network has ({case.password!r})", case.password
    elif case.kind == "guessed-token":
        what, refuse["token"] = f"a token the cloud never issued ({case.token})", case.token
    elif case.kind == "qr-malformed":
        what, refuse["send"] = f"a malformed QR text {case.data[:80]!r}", qr_bytes_sender(ctx, case.data)
    elif case.kind == "ap-malformed":
        what = f"a malformed AP payload {case.data[:80]!r}"
        refuse["send"] = ap_frame_sender(ctx, case.data) if case.mode == "ap-legacy" else lpv35_sender(ctx, case.data)
    elif case.kind == "ble-malformed":
        what, refuse["send"] = f"a malformed BLE Wi-Fi JSON {case.data[:80]!r}", ble_json_sender(ctx, case.data)
    elif case.kind == "ap-bad-crc":
        what = f"an AP frame whose CRC-32 is wrong (XOR 0x{case.crc_flip:08x})"
        refuse["send"] = ap_frame_sender(ctx, case.data, crc_flip=case.crc_flip)
    else:
        raise ValueError(f"unknown case kind {case.kind!r}")
    ctx.check_refused(case.mode, what, **refuse)


# ------------------------------------------------------------------------------------------------ ATOP

ATOP_DEFECTS: Final = ("sign", "product", "uuid", "body-flip", "body-truncate", "et", "api", "query-drop",
                       "random-body", "method")


def _licence(ctx: FuzzContext) -> Licence:
    if CloudCapability.ISSUE_LICENCES in ctx.cloud.capabilities:
        return ctx.cloud.issue_licence(ctx.device.pid)
    return ctx.device.licence


def _body(pid: str, token: str, t: int) -> bytes:
    hid = secrets.token_hex(6)
    body = {"token": token[2:10], "softVer": "1.0.0", "productKey": pid, "protocolVer": "2.2",
            "baselineVer": "40.00", "options": '{"otaChannel":0,"isFK":false}', "devAttribute": 2048,
            "cadVer": "1.0.3", "cdVer": "1.0.0", "t": t, "hid": hid}
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def atop_request(ctx: FuzzContext, case: AtopCase) -> tuple[str, str, bytes, Licence]:
    """(method, query, form body, licence) of the malformed request ``case`` describes."""
    lic = _licence(ctx)
    token = ctx.cloud.get_token(ctx.home, ctx.account)
    t = int(ctx.cloud.clock.time())
    api, version = atop.API_ACTIVE_V44 if case.et == 1 else atop.API_OPENSDK_ACTIVE
    pid = lic.pid or ctx.device.pid
    if case.defect == "product":
        pid = ("x" + pid)[:16] if not pid.startswith("x") else ("y" + pid[1:])
    uuid = lic.uuid
    key = lic.auth_key
    if case.defect == "uuid":
        uuid = "zz" + secrets.token_hex(8)
    if case.defect == "sign":  # signed and encrypted under another key
        key = "k" * 32 if lic.auth_key != "k" * 32 else "j" * 32
    et = case.et if case.defect != "et" else (3 if case.et == 1 else 1)
    request = atop.AtopRequest(api=api if case.defect != "api" else "tuya.device.fuzz.unknown", version=version,
                               et=case.et, t=t, uuid=uuid, dev_id=None, body=_body(pid, token, t))
    nonce = secrets.token_bytes(atop.GCM_NONCE_LEN) if case.et == atop.ET_GCM else None
    query, form = atop.build_request(request, key, nonce=nonce)
    if case.defect == "et":
        query = query.replace(f"et={case.et}", f"et={et}")
    if case.defect == "query-drop":
        pairs = urllib.parse.parse_qsl(query)
        pairs.pop(case.position % len(pairs))
        query = urllib.parse.urlencode(pairs)
    if case.defect == "body-flip":
        hex_start = len(b"data=")
        at = hex_start + case.position % (len(form) - hex_start)
        digits = b"0123456789ABCDEF"
        old = form[at]
        new = digits[(digits.index(old) + case.value % 15 + 1) % 16] if old in digits else digits[0]
        form = form[:at] + bytes([new]) + form[at + 1:]
    if case.defect == "body-truncate":
        form = form[:case.position % len(form)]
    if case.defect == "random-body":
        form = secrets.token_bytes(case.value)
    method = "GET" if case.defect == "method" else "POST"
    return method, query, form, Licence(uuid=uuid, auth_key=lic.auth_key, pid=pid)


def check_atop(ctx: FuzzContext, case: AtopCase) -> None:
    """REQ-FUZZ-004: a malformed activation request gets a well-formed error; never a 5xx, never a success."""
    require(ctx.cloud, CloudCapability.RAW_ATOP)
    where = urllib.parse.urlsplit(str(ctx.cloud.info().get("atop_url", ""))).hostname
    if where not in ("127.0.0.1", "localhost", "::1"):
        raise Refused(f"the ATOP fuzzer only talks to a cloud on loopback, not {where}")
    ctx.cases += 1
    method, query, form, lic = atop_request(ctx, case)
    ctx.last_inputs = {"check": "atop", **asdict(case), "target": query[:200]}
    reply = ctx.cloud.send_atop(query, form, method=method)
    status, wire = reply.status, reply.body
    if status >= 500:
        raise DeviceFailure(f"REQ-FUZZ-004: the cloud answered a malformed request ({case.defect}) with HTTP {status}")
    try:
        answer = atop.decode_response(wire, lic.auth_key, case.et)
    except ProtocolError as exc:
        raise DeviceFailure(f"REQ-FUZZ-004: the reply to a malformed request ({case.defect}) is not a well-formed "
                            f"ATOP reply: {exc}; {wire[:200]!r}") from None
    if answer.success:
        raise DeviceFailure(f"REQ-FUZZ-004: the cloud accepted a malformed activation request ({case.defect})")
    if not answer.error_code:
        raise DeviceFailure(f"REQ-FUZZ-004: the error reply to {case.defect} has no errorCode")


__all__ = ["ATOP_DEFECTS", "TARGETS", "AtopCase", "Case", "PairCase", "RefuseCase", "atop_cases", "case_from_json",
           "case_to_json", "cases", "check_atop", "invalid_cases", "run_case", "valid_cases"]
