"""The layer rules of DESIGN.md, checked by reading every module's imports.

- harness.protocol is sans-IO: no socket, thread, asyncio, time, random, pytest, paho, aiohttp or scapy,
  and nothing else of the harness.
- harness.model imports only harness.protocol (and the standard library).
- harness.emulator never imports pytest, the plugin or the suites.
- suites never import harness.emulator.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SANS_IO_FORBIDDEN = {
    "socket", "threading", "asyncio", "time", "random", "pytest", "paho", "aiohttp", "scapy",
    "selectors", "subprocess", "multiprocessing", "secrets", "requests", "urllib.request", "http.client",
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules_under(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def hits(name: str, forbidden: set[str]) -> bool:
    return any(name == f or name.startswith(f + ".") for f in forbidden)


@pytest.mark.parametrize("path", modules_under("harness/protocol"), ids=lambda p: p.name)
def test_protocol_modules_are_sans_io(path: Path) -> None:
    bad = {name for name in imports_of(path) if hits(name, SANS_IO_FORBIDDEN)}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}: harness.protocol must stay sans-IO"


@pytest.mark.parametrize("path", modules_under("harness/protocol"), ids=lambda p: p.name)
def test_protocol_imports_nothing_else_of_the_harness(path: Path) -> None:
    bad = {n for n in imports_of(path) if n.startswith("harness") and not n.startswith("harness.protocol")}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", modules_under("harness/model"), ids=lambda p: p.name)
def test_model_imports_only_protocol(path: Path) -> None:
    bad = {
        n for n in imports_of(path)
        if (n.startswith("harness") and not n.startswith(("harness.protocol", "harness.model")))
        or hits(n, SANS_IO_FORBIDDEN)
    }
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}: the model is pure"


@pytest.mark.parametrize("path", modules_under("harness/emulator"), ids=lambda p: p.name)
def test_emulator_is_a_library(path: Path) -> None:
    bad = {n for n in imports_of(path) if hits(n, {"pytest", "_pytest", "harness.plugin", "suites"})}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", modules_under("suites") or [ROOT / "suites"], ids=lambda p: p.name)
def test_suites_never_import_the_emulator(path: Path) -> None:
    if path.is_dir():
        pytest.skip("no suite modules yet")
    bad = {n for n in imports_of(path) if hits(n, {"harness.emulator"})}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}: suites talk to adapters only"


def test_the_walker_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("import socket\nfrom asyncio import sleep\nfrom . import sibling\n")
    assert {n for n in imports_of(sample) if hits(n, SANS_IO_FORBIDDEN)} == {"socket", "asyncio"}
