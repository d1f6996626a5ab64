"""The requirement catalogue: it loads, its ids are unique and well-formed, and every source exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.conformance.requirements import (
    AREAS,
    CATALOGUE_PATH,
    CatalogueError,
    Requirement,
    load_requirements,
    requirements_by_area,
)

# The sources a requirement may cite. The project never reads ../shared at run time, so the seed
# documents and the sections of PROTOCOL.md and DESIGN.md are listed here, as they stand.
SEED_DOCUMENTS = {"seeds/device-pairing-qr-mode.txt", "seeds/device-cloud-binding.txt"}
PROTOCOL_SECTIONS = {
    "0", "1", "1.1", "1.2", "1.3", "1.4", "1.5", "2", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7",
    "3", "3.1", "3.2", "3.3", "4", "4.1", "4.2", "4.3", "4.4", "4.5", "5", "6", "7", "8",
    "11", "11.1", "11.2", "11.3", "11.4", "11.5", "11.6", "11.7", "11.8", "11.9", "11.9.1", "11.9.2", "11.9.3",
    "11.9.4", "11.9.5",
    *(f"9.{n}" for n in range(16)),  # BLE provisioning, §9.0-§9.15
}
DESIGN_SECTIONS = {"Emulator-defined behaviour", "Core concepts"}


@pytest.fixture(scope="module")
def catalogue() -> dict[str, Requirement]:
    return load_requirements()


def test_the_catalogue_sits_beside_the_suites() -> None:
    expected = Path(__file__).resolve().parent.parent / "suites" / "requirements.toml"
    assert expected == CATALOGUE_PATH


def test_ids_are_well_formed_unique_and_match_their_area(catalogue: dict[str, Requirement]) -> None:
    raw_ids = re.findall(r'^id = "([^"]+)"', CATALOGUE_PATH.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert len(raw_ids) == len(set(raw_ids)) == len(catalogue)
    for req_id, requirement in catalogue.items():
        assert re.fullmatch(r"REQ-[A-Z]+-\d{3}", req_id)
        assert req_id.split("-")[1] == requirement.area.upper()


def test_every_area_is_present_and_numbered_from_one(catalogue: dict[str, Requirement]) -> None:
    grouped = requirements_by_area(catalogue)
    assert list(grouped) == list(AREAS)
    for area, requirements in grouped.items():
        assert requirements, f"no requirement in area {area}"
        assert [r.number for r in requirements] == list(range(1, len(requirements) + 1)), area
    assert 40 <= len(catalogue) <= 90  # 15 of them BLE (PROTOCOL.md §9)


def test_every_source_exists(catalogue: dict[str, Requirement]) -> None:
    for requirement in catalogue.values():
        assert requirement.sources
        for source in requirement.sources:
            if source.startswith("seeds/"):
                assert source in SEED_DOCUMENTS, (requirement.id, source)
            elif source.startswith("PROTOCOL.md §"):
                assert source.removeprefix("PROTOCOL.md §") in PROTOCOL_SECTIONS, (requirement.id, source)
            else:
                assert source.removeprefix("DESIGN.md §") in DESIGN_SECTIONS, (requirement.id, source)


def test_each_requirement_is_one_sentence_and_quotes_come_from_seeds(catalogue: dict[str, Requirement]) -> None:
    for requirement in catalogue.values():
        assert requirement.text.endswith(".") and "\n" not in requirement.text
        assert not re.search(r"\.\s+[A-Z]", requirement.text.replace("e.g. ", "")), requirement.id
        if requirement.quote:
            assert any(s in SEED_DOCUMENTS for s in requirement.sources), requirement.id


def test_the_seed_sentences_the_issues_name_are_quoted(catalogue: dict[str, Requirement]) -> None:
    quotes = " ".join(r.quote or "" for r in catalogue.values())
    for sentence in ("The Token is valid for 10 minutes", "will be invalidated upon successful pairing",
                     "the token is associated with the home ID", "the device will sound a prompt",
                     "cannot change to other modes", "Strong mode:", "Medium mode:", "Weak mode:"):
        assert sentence in quotes, sentence
    assert catalogue["REQ-TOKEN-001"].source == (
        "seeds/device-pairing-qr-mode.txt; PROTOCOL.md §0; PROTOCOL.md §7")


BAD_ENTRIES = [
    pytest.param('id = "REQ-TOKEN-1"\narea = "token"', "not of the form REQ-<AREA>-NNN", id="bad-id"),
    pytest.param('id = "REQ-QR-001"\narea = "token"', "does not match area 'token'", id="area-mismatch"),
    pytest.param('id = "REQ-NFC-001"\narea = "nfc"', "area 'nfc' is not one of", id="unknown-area"),
    pytest.param('id = "REQ-TOKEN-001"\narea = "token"\nsource = "PROTOCOL.md section 1"',
                 "is not 'seeds/<file>.txt'", id="bad-source"),
    pytest.param('id = "REQ-TOKEN-001"\narea = "token"\ncolour = "red"', "unknown key(s) ['colour']",
                 id="unknown-key"),
    pytest.param('id = "REQ-TOKEN-001"\narea = "token"\nseverity = "huge"', "severity 'huge'", id="bad-severity"),
]


@pytest.mark.parametrize(("entry", "expected"), BAD_ENTRIES)
def test_a_bad_entry_is_refused_with_its_reason(tmp_path: Path, entry: str, expected: str) -> None:
    body = entry if "source" in entry else entry + '\nsource = "PROTOCOL.md §0"'
    path = tmp_path / "requirements.toml"
    path.write_text(f'[[requirement]]\n{body}\ntext = "Something holds."\n', encoding="utf-8")
    with pytest.raises(CatalogueError) as caught:
        load_requirements(path)
    assert expected in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_duplicate_id_is_refused(tmp_path: Path) -> None:
    entry = '[[requirement]]\nid = "REQ-AP-001"\narea = "ap"\ntext = "A holds."\nsource = "PROTOCOL.md §3"\n'
    path = tmp_path / "requirements.toml"
    path.write_text(entry + entry, encoding="utf-8")
    with pytest.raises(CatalogueError, match="requirement #2: duplicate id REQ-AP-001"):
        load_requirements(path)
