"""The requirement catalogue: it loads, its ids are unique and well-formed, and every source exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.conformance.requirements import (
    AREAS,
    CatalogueError,
    Requirement,
    catalogue_path,
    load_catalogue,
    load_requirements,
    requirements_by_area,
)

# The sources a requirement may cite. The project never reads ../shared at run time, so the seed
# documents and the sections of PROTOCOL.md and DESIGN.md are listed here, as they stand.
SEED_DOCUMENTS = {"seeds/device-pairing-qr-mode.txt", "seeds/device-cloud-binding.txt"}
SEED_SECTIONS = {
    "seeds/device-pairing-qr-mode.txt": {"Device Pairing", "Class and Protocol", "Get a token",
                                         "Concatenate a Wi-Fi string", "Start pairing", "Stop pairing",
                                         "Delegate a callback", "Binding modes"},
    "seeds/device-cloud-binding.txt": {"The four pieces", "The binding flow", "Where the firmware talks to the cloud"},
}
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
    assert expected == catalogue_path()  # the editable install maps the checkout's suites/ into harness.bundled


def test_ids_are_well_formed_unique_and_match_their_area(catalogue: dict[str, Requirement]) -> None:
    raw_ids = re.findall(r'^id = "([^"]+)"', catalogue_path().read_text(encoding="utf-8"), flags=re.MULTILINE)
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
                document, _, section = source.partition(" §")
                assert document in SEED_DOCUMENTS and section in SEED_SECTIONS[document], (requirement.id, source)
            elif source.startswith("PROTOCOL.md §"):
                assert source.removeprefix("PROTOCOL.md §") in PROTOCOL_SECTIONS, (requirement.id, source)
            else:
                assert source.removeprefix("DESIGN.md §") in DESIGN_SECTIONS, (requirement.id, source)


def test_each_requirement_is_one_sentence_and_quotes_come_from_seeds(catalogue: dict[str, Requirement]) -> None:
    for requirement in catalogue.values():
        assert requirement.text.endswith(".") and "\n" not in requirement.text
        assert not re.search(r"\.\s+[A-Z]", requirement.text.replace("e.g. ", "")), requirement.id
        if requirement.quote:
            assert any(s.partition(" §")[0] in SEED_DOCUMENTS for s in requirement.sources), requirement.id


def test_the_seed_sentences_the_issues_name_are_quoted(catalogue: dict[str, Requirement]) -> None:
    quotes = " ".join(r.quote or "" for r in catalogue.values())
    for sentence in ("The Token is valid for 10 minutes", "will be invalidated upon successful pairing",
                     "the token is associated with the home ID", "the device will sound a prompt",
                     "cannot change to other modes", "Strong mode:", "Medium mode:", "Weak mode:"):
        assert sentence in quotes, sentence
    assert catalogue["REQ-TOKEN-001"].source == (
        "seeds/device-pairing-qr-mode.txt §Get a token; PROTOCOL.md §0; PROTOCOL.md §7")


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


def test_every_source_is_named_for_a_reader_without_file_names(catalogue: dict[str, Requirement]) -> None:
    from harness.conformance.sources import cite, cite_all

    for requirement in catalogue.values():
        for source in requirement.sources:
            named = cite(source)
            assert not re.search(r"seeds/|\.md\b|\.txt\b", named), (requirement.id, named)
    assert cite("PROTOCOL.md §3.2") == "paircert protocol notes §3.2 (Current Tuya SDK AP mode (LPV 3.5))"
    assert cite("seeds/device-pairing-qr-mode.txt §Get a token") == (
        "Tuya, “Device Pairing” (cameras, QR code mode), section “Get a token”")
    assert cite_all(["seeds/device-cloud-binding.txt §The four pieces", "PROTOCOL.md §5", "PROTOCOL.md §8"]) == [
        "Tuya, “How Device–Cloud Binding Works”, section “The four pieces”", "paircert protocol notes §5, §8"]
    assert all(cite(f"PROTOCOL.md §{n}").endswith(")") for r in catalogue.values() for s in r.sources
               if s.startswith("PROTOCOL.md §") for n in [s.partition(" §")[2]]), "a cited section without its title"
    assert cite("Acme camera spec §4.2") == "Acme camera spec §4.2"  # a vendor's own source is shown as it is


# ---------------------------------------------------------------------------------------- vendor catalogues

VENDOR = """\
[catalogue]
name = "Acme camera"

[[requirement]]
id = "REQ-ACME-001"
area = "acme"
severity = "critical"
text = "The camera blinks blue while it waits for a QR code."
source = ["Acme camera spec §4.2", "ticket ACME-17"]
quote = "blue LED, 2 Hz"

[[requirement]]
id = "REQ-QR-101"
area = "qr"
text = "The camera reads a QR code shown at 30 cm."
source = "Acme lab procedure 7"
"""


def test_a_vendor_catalogue_extends_paircerts_with_its_own_areas_and_sources(tmp_path: Path) -> None:
    path = tmp_path / "requirements.toml"
    path.write_text(VENDOR, encoding="utf-8")
    catalogue = load_catalogue(path)
    assert set(load_requirements()) < set(catalogue)
    acme = catalogue["REQ-ACME-001"]
    assert (acme.area, acme.catalogue, acme.sources) == ("acme", "Acme camera", ("Acme camera spec §4.2",
                                                                                 "ticket ACME-17"))
    assert catalogue["REQ-TOKEN-001"].catalogue == "paircert"
    grouped = requirements_by_area(catalogue)
    assert list(grouped)[: len(AREAS)] == list(AREAS) and list(grouped)[len(AREAS):] == ["acme"]
    assert [r.id for r in grouped["qr"]][-1] == "REQ-QR-101"


@pytest.mark.parametrize(("change", "expected"), [
    (("", ""), None),
    (('severity = "critical"', 'severity = "major"'), "severity 'major'"),
    (('area = "acme"', 'area = "Acme"'), "area 'Acme' is not a lower-case word"),
    (('id = "REQ-QR-101"', 'id = "REQ-QR-001"'), "REQ-QR-001 is already in the paircert catalogue"),
    (('source = "Acme lab procedure 7"', 'source = ""'), "source '' must be non-empty text"),
])
def test_a_vendor_catalogue_is_checked_like_paircerts(tmp_path: Path, change: tuple[str, str],
                                                      expected: str | None) -> None:
    path = tmp_path / "requirements.toml"
    path.write_text(VENDOR.replace(*change) if change[0] else VENDOR, encoding="utf-8")
    if expected is None:
        assert "REQ-ACME-001" in load_catalogue(path)
        return
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(path)
    assert expected in str(caught.value) and str(path) in str(caught.value)


def test_paircerts_own_catalogue_keeps_its_strict_sources(tmp_path: Path) -> None:
    path = tmp_path / "requirements.toml"
    path.write_text(VENDOR.replace("[catalogue]", "[ignored]"), encoding="utf-8")
    with pytest.raises(CatalogueError, match="unknown top-level key"):
        load_requirements(path)
    path.write_text(VENDOR, encoding="utf-8")
    with pytest.raises(CatalogueError, match="area 'acme' is not one of"):
        load_requirements(path)
