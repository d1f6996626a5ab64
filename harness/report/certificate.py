"""What the certificate (``report.html``) says, worked out from ``summary.json`` for people: the model its template
shows.

Page 1 answers what a QA lead and a firmware engineer ask first: the verdict; whether anything was emulated (so
that an emulated run can never pass for a device certificate); what failed, each with the deviation observed
against the requirement and a link to its evidence; what changed since the previous run; the device (PID,
firmware, the capabilities it claims: the PICS of the run, the profile's hash) and the lab (the adapters). Then
every TC once, with its title, its requirement text quoted once and its parametrisations as sub-rows; the
traceability matrix with every source named for a reader; the evidence.

Every value is shown for people (:func:`show`): lists as lists, records as "key: value", yes/no, never a Python
repr.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.conformance.titles import words_of
from harness.report.compare import case_of
from harness.report.summary import RunSummary, TestCaseResult

#: the order the certificate lists what did not pass in
PROBLEM_ORDER = ("FAIL", "ERROR", "INCONCLUSIVE")
_ADAPTER_LABELS = {"cloud": "CLOUD", "device": "DEVICE", "network": "NETWORK"}
_EMULATED_ADAPTERS = {"cloud": ("emulated",), "device": ("emulated",), "network": ("air",)}
_EXCEPTION_PREFIX = re.compile(r"^(?:[A-Za-z_][\w.]*(?:Error|Failure|Exception|Failed|Timeout)): ")
_ACRONYMS = {"qr": "QR", "ez": "EZ", "ap": "AP", "json": "JSON", "mqtt": "MQTT", "ssid": "SSID", "uuid": "UUID",
             "dp": "DP", "dps": "DPs", "pid": "PID", "tls": "TLS", "http": "HTTP", "atop": "ATOP", "ap3": "AP 3.x",
             "lpv35": "LPV 3.5", "ble": "BLE", "crc": "CRC", "id": "ID", "ids": "IDs", "api": "API", "mac": "MAC"}


# -- values for people ------------------------------------------------------------------------------------------

def show(value: Any) -> str:
    """A summary value as text a person reads: lists joined, records as ``key: value``, booleans as yes/no."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | str):
        return str(value)
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return f"{len(value)} bytes 0x{bytes(value).hex()}"
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {show(v)}" for k, v in value.items()) or "none"
    if isinstance(value, Iterable):
        return ", ".join(show(v) for v in value) or "none"
    return type(value).__name__


def sentence(title: str) -> str:
    """A title as the certificate writes it: capitalised, with the protocol's acronyms in capitals."""
    words = [_ACRONYMS.get(w.lower(), w) if w.islower() or w.lower() in _ACRONYMS else w for w in title.split(" ")]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def headline(message: str) -> str:
    """A verdict's message as a headline: the deviation itself, without the exception's class name in front."""
    text = " ".join(message.split())
    return _EXCEPTION_PREFIX.sub("", text, count=1)


# -- the device, its claims and the lab ---------------------------------------------------------------------------

def emulated_parts(adapters: Mapping[str, Any]) -> list[str]:
    """``["EMULATED DEVICE", "EMULATED CLOUD", ...]``: every part of the world the run emulated."""
    parts = []
    for kind in ("device", "cloud", "network"):
        info = adapters.get(kind)
        name = str(info.get("adapter", "")) if isinstance(info, Mapping) else str(info or "")
        if name.split(":", 1)[0] in _EMULATED_ADAPTERS[kind]:
            parts.append(f"EMULATED {_ADAPTER_LABELS[kind]}")
    return parts


def injected_faults(adapters: Mapping[str, Any]) -> list[str]:
    """The faults the run's emulated cloud and device were told to have (a self-check, not a conformant world)."""
    faults: list[str] = []
    for kind in ("device", "cloud"):
        info = adapters.get(kind)
        if isinstance(info, Mapping):
            faults += [f"{kind}: {f}" for f in info.get("faults") or []]
    return faults


_CAPABILITY_LABELS = {
    "pairing_modes": "Pairing modes", "ez_channels": "EZ channels", "ap_variants": "AP variants",
    "binding_mode": "Binding mode", "mqtt_protocol_version": "MQTT protocol version",
    "activation_api": "Activation API", "ble_generation": "BLE generation", "pairing_window_s": "Pairing window",
    "bind_by_uuid": "Binding by UUID",
    "qr_prompt_observable": "Sounds a prompt on a QR code",
}
_SUPPORTS = {"supports_reset": "reset", "supports_factory_reset": "factory reset",
             "supports_power_cycle": "power cycle", "supports_remote_removal": "removal from the app",
             "supports_dp_commands": "DP commands"}


def claimed_capabilities(capabilities: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The profile's ``[capabilities]`` (the PICS of the run) as (what, claimed) rows."""
    rows: list[tuple[str, str]] = []
    for key, label in _CAPABILITY_LABELS.items():
        if key not in capabilities:
            continue
        value = capabilities[key]
        if key == "pairing_window_s":
            text = "until paired" if value is None else f"{value:g} s"
        elif isinstance(value, list):
            text = ", ".join(_ACRONYMS.get(str(v), str(v)) for v in value) or "none"
        else:
            text = _ACRONYMS.get(str(value), show(value))
        rows.append((label, text))
    supported = [label for key, label in _SUPPORTS.items() if capabilities.get(key) is True]
    refused = [label for key, label in _SUPPORTS.items() if capabilities.get(key) is False]
    if supported or refused:
        rows.append(("Supports", ", ".join(supported) or "none"))
    if refused:
        rows.append(("Does not support", ", ".join(refused)))
    return rows


_HIDDEN_INFO = {"adapter", "ca"}  # shown elsewhere, or a certificate no one reads in a table
_EPHEMERAL_INFO = {"atop_url", "app_url", "mqtt", "mac"}  # an emulator's loopback addresses: of no use to a reader


def lab_rows(adapters: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The adapters the run used, one row each, with what they said about themselves."""
    rows = []
    for kind, info in adapters.items():
        if kind == "devices" and isinstance(info, list):
            units = [f"{d.get('worker') or 'main'}: {d.get('name') or d.get('uuid') or 'device'}" for d in info
                     if isinstance(d, Mapping)]
            rows.append(("Devices (one per worker)", "; ".join(units)))
            continue
        if not isinstance(info, Mapping):
            rows.append((kind.capitalize(), show(info)))
            continue
        details = []
        name = str(info.get("adapter", "")) or "unknown"
        hidden = _HIDDEN_INFO | (_EPHEMERAL_INFO if name in ("emulated", "air") else set())
        for key, value in info.items():
            if key in hidden or value in (None, "", [], {}):
                continue
            details.append(f"{key.replace('_', ' ')} {show(value)}")
        if "ca" in info:
            details.append("lab CA certificate")
        rows.append((f"{kind.capitalize()} adapter", name + (f" ({'; '.join(details)})" if details else "")))
    return rows


# -- test cases ---------------------------------------------------------------------------------------------------

@dataclass
class CaseRow:
    """One parametrisation of a TC (or the TC itself when it has none)."""

    result: TestCaseResult
    case: str
    headline: str
    anchor: str  # the id of its evidence in the page ('' when it has none shown)


@dataclass
class TcRow:
    """A TC: its title, its requirements quoted once, its verdict over all its cases, and the cases."""

    tc: str
    title: str
    area: str
    verdict: str
    requirements: list[tuple[str, str]]
    cases: list[CaseRow] = field(default_factory=list)
    quoted_before: list[str] = field(default_factory=list)  # requirement ids whose text an earlier TC quotes

    @property
    def quoted(self) -> list[tuple[str, str]]:
        """The requirements this TC quotes: those no earlier TC quoted (each text appears once in the table)."""
        return [(rid, text) for rid, text in self.requirements if rid not in self.quoted_before]

    @property
    def duration_s(self) -> float:
        return sum(c.result.duration_s for c in self.cases)

    @property
    def parametrised(self) -> bool:
        return len(self.cases) > 1 or any(c.case for c in self.cases)

    def not_passed(self) -> list[tuple[str, str, list[str], str]]:
        """The cases that did not pass, those with one verdict and one headline together: (verdict, headline,
        cases, the first one's evidence anchor); ten N/A cases for one reason are one line."""
        groups: dict[tuple[str, str], tuple[list[str], str]] = {}
        for case in self.cases:
            if case.result.verdict == "PASS" or not case.headline:
                continue
            groups.setdefault((case.result.verdict, case.headline), ([], case.anchor))[0].append(case.case)
        return [(verdict, text, [n for n in names if n], anchor) for (verdict, text), (names, anchor) in groups.items()]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for case in self.cases:
            counts[case.result.verdict] = counts.get(case.result.verdict, 0) + 1
        return counts


def tc_verdict(verdicts: Sequence[str]) -> str:
    """A TC's verdict over its cases: the worst applicable one (N/A only when every case is N/A)."""
    order = ("FAIL", "ERROR", "INCONCLUSIVE", "PASS")
    applicable = [v for v in verdicts if v != "N/A"]
    return next((v for v in order if v in applicable), "N/A")


def title_of(result: TestCaseResult) -> str:
    """The TC's title as recorded (harness.conformance.titles), else its test function read as words."""
    if result.title:
        return sentence(result.title)
    function = result.nodeid.rsplit("::", 1)[-1]
    return sentence(words_of(function)) if function else result.tc


def group_by_tc(summary: RunSummary, requirement_text: Mapping[str, str], anchors: Mapping[int, str]) -> list[TcRow]:
    """Every TC once, in area and TC order, with its cases; ``anchors`` maps a result's index to its evidence id."""
    rows: dict[str, TcRow] = {}
    indexed = sorted(enumerate(summary.results), key=lambda p: (p[1].area, p[1].tc, p[1].nodeid))
    for index, result in indexed:
        row = rows.get(result.tc)
        if row is None:
            reqs = [(rid, requirement_text.get(rid, "(not in the requirement catalogue)"))
                    for rid in result.requirements]
            row = rows[result.tc] = TcRow(result.tc, title_of(result), result.area, "", reqs)
        row.cases.append(CaseRow(result, case_of(result), headline(result.message), anchors.get(index, "")))
    seen: set[str] = set()
    for row in rows.values():
        row.verdict = tc_verdict([c.result.verdict for c in row.cases])
        row.quoted_before = [rid for rid, _ in row.requirements if rid in seen]
        seen.update(rid for rid, _ in row.requirements)
    return list(rows.values())


def problems(summary: RunSummary) -> list[tuple[int, TestCaseResult]]:
    """The results that did not pass (FAIL, then ERROR, then INCONCLUSIVE), with their index in the summary."""
    found = [(i, r) for i, r in enumerate(summary.results) if r.verdict in PROBLEM_ORDER]
    return sorted(found, key=lambda p: (PROBLEM_ORDER.index(p[1].verdict), p[1].area, p[1].tc, p[1].nodeid))


__all__ = ["PROBLEM_ORDER", "CaseRow", "TcRow", "claimed_capabilities", "emulated_parts", "group_by_tc", "headline",
           "injected_faults", "lab_rows", "problems", "sentence", "show", "tc_verdict", "title_of"]
