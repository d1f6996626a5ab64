"""The requirement catalogue: every requirement the suites check, with its sentence and its source.

paircert's own catalogue is ``suites/requirements.toml`` in the repository (beside the suites that check it),
shipped in the wheel as ``harness.bundled.suites`` and found through importlib.resources (:mod:`harness.bundled`).
Each entry has an id ``REQ-<AREA>-NNN``, an area, a severity, one sentence, its sources (a seed document, a
PROTOCOL.md section, or DESIGN.md's emulator-defined behaviour; :mod:`harness.conformance.sources` names them
for a reader) and, where a seed states it, the seed's own words.

A vendor's catalogue extends paircert's (:func:`load_catalogue`): the same entries, with the vendor's own areas
(``REQ-ACME-001`` in area ``acme``), any text as a source (``"Acme camera spec §4.2"``) and its own TC ids; an id
paircert already has is refused. An optional ``[catalogue]`` table names it (``name = "Acme camera"``).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

AREAS: tuple[str, ...] = ("token", "qr", "delegate", "licence", "binding", "ez", "ap", "ble", "mqtt", "uuid", "fuzz")
SEVERITIES: tuple[str, ...] = ("blocker", "critical", "normal", "minor", "trivial")
PAIRCERT = "paircert"

_ID = re.compile(r"^REQ-([A-Z][A-Z0-9]*)-(\d{3})$")
_VENDOR_AREA = re.compile(r"^[a-z][a-z0-9]*$")
_SOURCE = re.compile(r"^(seeds/[a-z0-9-]+\.txt( §[A-Z][A-Za-z -]+)?|PROTOCOL\.md §\d+(\.\d+){0,2}"
                     r"|DESIGN\.md §[A-Z][A-Za-z -]+)$")
_KEYS = frozenset({"id", "area", "severity", "text", "source", "quote"})
_REQUIRED = ("id", "area", "text", "source")


class CatalogueError(Exception):
    """The catalogue file is unreadable or an entry breaks its rules; the message names the file and entry."""


@dataclass(frozen=True)
class Rules:
    """What a catalogue's entries may say. paircert's own: its nine areas, and its documents as sources; a
    vendor's: any area of the form ``[a-z][a-z0-9]*``, any one-line text as a source."""

    areas: tuple[str, ...] | None
    paircert_sources: bool

    def check_area(self, area: object) -> str | None:
        """Why ``area`` is refused (None: accepted)."""
        if self.areas is not None:
            return None if area in self.areas else f"area {area!r} is not one of {', '.join(self.areas)}"
        ok = isinstance(area, str) and _VENDOR_AREA.match(area)
        return None if ok else f"area {area!r} is not a lower-case word ([a-z][a-z0-9]*)"

    def check_source(self, source: object) -> str | None:
        """Why ``source`` is refused (None: accepted)."""
        if self.paircert_sources:
            return None if isinstance(source, str) and _SOURCE.match(source) else \
                f"source {source!r} is not 'seeds/<file>.txt', 'seeds/<file>.txt §<section>', " \
                f"'PROTOCOL.md §N[.N[.N]]' or 'DESIGN.md §<section>'"
        ok = isinstance(source, str) and source.strip() and "\n" not in source
        return None if ok else f"source {source!r} must be non-empty text on one line"


PAIRCERT_RULES = Rules(areas=AREAS, paircert_sources=True)
VENDOR_RULES = Rules(areas=None, paircert_sources=False)


def catalogue_path() -> Path:
    """paircert's own catalogue (``suites/requirements.toml``, shipped as package data)."""
    from harness import bundled

    try:
        return bundled.requirements_file()
    except bundled.BundleMissing as exc:
        raise CatalogueError(f"requirement catalogue not found: {exc}") from None


@dataclass(frozen=True)
class Requirement:
    """One requirement: what must hold, and where that comes from."""

    id: str
    area: str
    text: str
    sources: tuple[str, ...]
    severity: str = "normal"
    quote: str | None = None
    catalogue: str = PAIRCERT  # whose catalogue it comes from: paircert, or the vendor catalogue's name

    @property
    def source(self) -> str:
        """The sources as one string, e.g. ``seeds/device-pairing-qr-mode.txt; PROTOCOL.md §0``."""
        return "; ".join(self.sources)

    @property
    def number(self) -> int:
        """The NNN of ``REQ-<AREA>-NNN``."""
        return int(self.id.rsplit("-", 1)[1])


def _entry(raw: Any, where: str, rules: Rules, catalogue: str) -> Requirement:
    """One ``[[requirement]]`` table, checked against ``rules``: its keys, id and area, severity, text, sources
    and quote."""
    if not isinstance(raw, dict):
        raise CatalogueError(f"{where}: expected a table")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise CatalogueError(f"{where}: unknown key(s) {unknown}; expected {sorted(_KEYS)}")
    missing = [key for key in _REQUIRED if key not in raw]
    if missing:
        raise CatalogueError(f"{where}: missing key(s) {missing}")
    req_id, area, text = raw["id"], raw["area"], raw["text"]
    where = _checked_id(req_id, area, where, rules)
    severity = raw.get("severity", "normal")
    if severity not in SEVERITIES:
        raise CatalogueError(f"{where}: severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    if not isinstance(text, str) or not text.strip() or "\n" in text or not text.endswith("."):
        raise CatalogueError(f"{where}: text must be one non-empty sentence on one line, ending with '.'")
    sources = _checked_sources(raw["source"], where, rules)
    quote = raw.get("quote")
    if quote is not None and (not isinstance(quote, str) or not quote.strip()):
        raise CatalogueError(f"{where}: quote must be a non-empty string")
    if quote is not None and rules.paircert_sources and not any(s.startswith("seeds/") for s in sources):
        raise CatalogueError(f"{where}: a quote needs a seed document among its sources")
    return Requirement(id=req_id, area=area, text=text, sources=sources, severity=severity, quote=quote,
                       catalogue=catalogue)


def _checked_id(req_id: object, area: object, where: str, rules: Rules) -> str:
    """``where`` with the id added, once the id is ``REQ-<AREA>-NNN`` of an area ``rules`` accept that matches
    ``area``."""
    if not isinstance(req_id, str) or not (match := _ID.match(req_id)):
        raise CatalogueError(f"{where}: id {req_id!r} is not of the form REQ-<AREA>-NNN")
    where = f"{where} ({req_id})"
    problem = rules.check_area(area)
    if problem is not None:
        raise CatalogueError(f"{where}: {problem}")
    if match.group(1) != str(area).upper():
        raise CatalogueError(f"{where}: the id's area {match.group(1)} does not match area {area!r}")
    return where


def _checked_sources(sources: object, where: str, rules: Rules) -> tuple[str, ...]:
    """The sources as a tuple: one string or a non-empty array, each one ``rules`` accept."""
    if isinstance(sources, str):
        sources = [sources]
    if not isinstance(sources, list) or not sources:
        raise CatalogueError(f"{where}: source must be a string or a non-empty array of strings")
    for source in sources:
        problem = rules.check_source(source)
        if problem is not None:
            raise CatalogueError(f"{where}: {problem}")
    return tuple(sources)

def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogueError(f"{path}: requirement catalogue not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"{path}: cannot read the file: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{path}: invalid TOML: {exc}") from None


def _catalogue_name(path: Path, data: dict[str, Any], default: str) -> str:
    header = data.get("catalogue", {})
    if not isinstance(header, dict) or sorted(set(header) - {"name"}):
        raise CatalogueError(f"{path}: catalogue: expected a table with only a 'name' key")
    name = header.get("name", default)
    if not isinstance(name, str) or not name.strip():
        raise CatalogueError(f"{path}: catalogue.name: expected a non-empty string")
    return name


def load_requirements(path: Path | None = None, *, rules: Rules = PAIRCERT_RULES) -> dict[str, Requirement]:
    """Every requirement of one catalogue file (paircert's when ``path`` is None), by id, in file order; a
    CatalogueError naming the file and the entry if any entry breaks ``rules``."""
    path = catalogue_path() if path is None else path
    data = _read(path)
    unexpected = sorted(set(data) - {"requirement", "catalogue"})
    if unexpected:
        raise CatalogueError(f"{path}: unknown top-level key(s) {unexpected}; expected [[requirement]] entries")
    name = _catalogue_name(path, data, PAIRCERT if rules is PAIRCERT_RULES else path.parent.name or path.stem)
    entries = data.get("requirement", [])
    if not isinstance(entries, list) or not entries:
        raise CatalogueError(f"{path}: expected [[requirement]] entries")
    catalogue: dict[str, Requirement] = {}
    for index, raw in enumerate(entries):
        requirement = _entry(raw, f"{path}: requirement #{index + 1}", rules, name)
        if requirement.id in catalogue:
            raise CatalogueError(f"{path}: requirement #{index + 1}: duplicate id {requirement.id}")
        catalogue[requirement.id] = requirement
    return catalogue


def load_catalogue(*vendor: Path) -> dict[str, Requirement]:
    """paircert's catalogue extended by the vendor catalogues given: paircert's entries first; a vendor id that is
    already taken (by paircert or an earlier vendor file) is a CatalogueError naming the file and the id."""
    catalogue = load_requirements()
    for path in vendor:
        for req_id, requirement in load_requirements(path, rules=VENDOR_RULES).items():
            if req_id in catalogue:
                raise CatalogueError(f"{path}: {req_id} is already in the {catalogue[req_id].catalogue} "
                                     f"catalogue; a vendor catalogue extends it with ids of its own")
            catalogue[req_id] = requirement
    return catalogue


def requirements_by_area(catalogue: dict[str, Requirement] | None = None) -> dict[str, list[Requirement]]:
    """The catalogue grouped by area: paircert's areas in :data:`AREAS` order, then a vendor's in file order."""
    catalogue = load_requirements() if catalogue is None else catalogue
    grouped: dict[str, list[Requirement]] = {area: [] for area in AREAS}
    for requirement in catalogue.values():
        grouped.setdefault(requirement.area, []).append(requirement)
    return grouped


__all__ = [
    "AREAS",
    "PAIRCERT",
    "PAIRCERT_RULES",
    "SEVERITIES",
    "VENDOR_RULES",
    "CatalogueError",
    "Requirement",
    "Rules",
    "catalogue_path",
    "load_catalogue",
    "load_requirements",
    "requirements_by_area",
]
