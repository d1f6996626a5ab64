"""The requirement catalogue: every requirement the suites check, with its sentence and its source.

The data lives in ``suites/requirements.toml`` at the project root (beside the suites that check it),
located relative to this package like the bundled profiles. Each entry has an id ``REQ-<AREA>-NNN``, an
area, a severity, one sentence, its sources (a seed document, a PROTOCOL.md section, or DESIGN.md's
emulator-defined behaviour) and, where a seed states it, the seed's own words.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CATALOGUE_PATH = Path(__file__).resolve().parent.parent.parent / "suites" / "requirements.toml"

AREAS: tuple[str, ...] = ("token", "qr", "delegate", "licence", "binding", "ez", "ap", "ble", "mqtt", "uuid", "fuzz")
SEVERITIES: tuple[str, ...] = ("blocker", "critical", "normal", "minor", "trivial")

_ID = re.compile(r"^REQ-([A-Z]+)-(\d{3})$")
_SOURCE = re.compile(r"^(seeds/[a-z0-9-]+\.txt|PROTOCOL\.md §\d+(\.\d+){0,2}|DESIGN\.md §[A-Z][A-Za-z -]+)$")
_KEYS = frozenset({"id", "area", "severity", "text", "source", "quote"})
_REQUIRED = ("id", "area", "text", "source")


class CatalogueError(Exception):
    """The catalogue file is unreadable or an entry breaks its rules; the message names the file and entry."""


@dataclass(frozen=True)
class Requirement:
    """One requirement: what must hold, and where that comes from."""

    id: str
    area: str
    text: str
    sources: tuple[str, ...]
    severity: str = "normal"
    quote: str | None = None

    @property
    def source(self) -> str:
        """The sources as one string, e.g. ``seeds/device-pairing-qr-mode.txt; PROTOCOL.md §0``."""
        return "; ".join(self.sources)

    @property
    def number(self) -> int:
        """The NNN of ``REQ-<AREA>-NNN``."""
        return int(self.id.rsplit("-", 1)[1])


def _entry(raw: Any, where: str) -> Requirement:
    """One ``[[requirement]]`` table, checked: its keys, id and area, severity, text, sources and quote."""
    if not isinstance(raw, dict):
        raise CatalogueError(f"{where}: expected a table")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise CatalogueError(f"{where}: unknown key(s) {unknown}; expected {sorted(_KEYS)}")
    missing = [key for key in _REQUIRED if key not in raw]
    if missing:
        raise CatalogueError(f"{where}: missing key(s) {missing}")
    req_id, area, text = raw["id"], raw["area"], raw["text"]
    where = _checked_id(req_id, area, where)
    severity = raw.get("severity", "normal")
    if severity not in SEVERITIES:
        raise CatalogueError(f"{where}: severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    if not isinstance(text, str) or not text.strip() or "\n" in text or not text.endswith("."):
        raise CatalogueError(f"{where}: text must be one non-empty sentence on one line, ending with '.'")
    sources = _checked_sources(raw["source"], where)
    quote = raw.get("quote")
    if quote is not None and (not isinstance(quote, str) or not quote.strip()):
        raise CatalogueError(f"{where}: quote must be a non-empty string")
    if quote is not None and not any(s.startswith("seeds/") for s in sources):
        raise CatalogueError(f"{where}: a quote needs a seed document among its sources")
    return Requirement(id=req_id, area=area, text=text, sources=sources, severity=severity, quote=quote)


def _checked_id(req_id: object, area: object, where: str) -> str:
    """``where`` with the id added, once the id is ``REQ-<AREA>-NNN`` of a known area that matches ``area``."""
    if not isinstance(req_id, str) or not (match := _ID.match(req_id)):
        raise CatalogueError(f"{where}: id {req_id!r} is not of the form REQ-<AREA>-NNN")
    where = f"{where} ({req_id})"
    if area not in AREAS:
        raise CatalogueError(f"{where}: area {area!r} is not one of {', '.join(AREAS)}")
    if match.group(1) != str(area).upper():
        raise CatalogueError(f"{where}: the id's area {match.group(1)} does not match area {area!r}")
    return where


def _checked_sources(sources: object, where: str) -> tuple[str, ...]:
    """The sources as a tuple: one string or a non-empty array, each a seed, a PROTOCOL.md or a DESIGN.md section."""
    if isinstance(sources, str):
        sources = [sources]
    if not isinstance(sources, list) or not sources:
        raise CatalogueError(f"{where}: source must be a string or a non-empty array of strings")
    for source in sources:
        if not isinstance(source, str) or not _SOURCE.match(source):
            raise CatalogueError(f"{where}: source {source!r} is not 'seeds/<file>.txt', 'PROTOCOL.md §N[.N[.N]]' "
                                 f"or 'DESIGN.md §<section>'")
    return tuple(sources)


def load_requirements(path: Path | None = None) -> dict[str, Requirement]:
    """Every requirement of the catalogue, by id, in file order; a CatalogueError if any entry is invalid."""
    path = CATALOGUE_PATH if path is None else path
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogueError(f"{path}: requirement catalogue not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{path}: invalid TOML: {exc}") from None
    unexpected = sorted(set(data) - {"requirement"})
    if unexpected:
        raise CatalogueError(f"{path}: unknown top-level key(s) {unexpected}; expected [[requirement]] entries")
    entries = data.get("requirement", [])
    if not isinstance(entries, list) or not entries:
        raise CatalogueError(f"{path}: expected [[requirement]] entries")
    catalogue: dict[str, Requirement] = {}
    for index, raw in enumerate(entries):
        requirement = _entry(raw, f"{path}: requirement #{index + 1}")
        if requirement.id in catalogue:
            raise CatalogueError(f"{path}: requirement #{index + 1}: duplicate id {requirement.id}")
        catalogue[requirement.id] = requirement
    return catalogue


def requirements_by_area(catalogue: dict[str, Requirement] | None = None) -> dict[str, list[Requirement]]:
    """The catalogue grouped by area, areas in :data:`AREAS` order."""
    catalogue = load_requirements() if catalogue is None else catalogue
    grouped: dict[str, list[Requirement]] = {area: [] for area in AREAS}
    for requirement in catalogue.values():
        grouped[requirement.area].append(requirement)
    return grouped


__all__ = [
    "AREAS",
    "CATALOGUE_PATH",
    "SEVERITIES",
    "CatalogueError",
    "Requirement",
    "load_requirements",
    "requirements_by_area",
]
