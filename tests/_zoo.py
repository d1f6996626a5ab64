"""The fault zoo's catalogue (suites/faults/<kind>.toml) and the suites' TC-to-requirement map, for the
self-checks (tests/test_selfcheck.py, tests/test_fuzz_selfcheck.py)."""

from __future__ import annotations

import ast
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITES = ROOT / "suites"
CATALOGUE_DIR = SUITES / "faults"
KINDS = ("camera", "cloud", "activator")
ALLOWED_KEYS = {"name", "catches", "profile", "fuzz", "fuzz_expect"}


@dataclass(frozen=True)
class Fault:
    name: str
    kind: str  # camera | cloud | activator
    catches: tuple[str, ...]
    profile: str = "camera-strong"
    fuzz: str | None = None
    fuzz_expect: tuple[str, ...] = ("FAIL",)

    @property
    def modules(self) -> list[str]:
        areas = sorted({tc.split("-")[1].lower() for tc in self.catches})
        return [str(SUITES / f"test_{area}.py") for area in areas]


def catalogue() -> list[Fault]:
    faults: list[Fault] = []
    for kind in KINDS:
        path = CATALOGUE_DIR / f"{kind}.toml"
        if not path.exists():
            continue
        for entry in tomllib.loads(path.read_text(encoding="utf-8")).get("fault", []):
            unknown = set(entry) - ALLOWED_KEYS
            if unknown:
                raise ValueError(f"{path}: fault {entry.get('name')!r} has unknown keys {sorted(unknown)}")
            faults.append(Fault(entry["name"], kind, tuple(entry["catches"]), entry.get("profile", "camera-strong"),
                                entry.get("fuzz"), tuple(entry.get("fuzz_expect", ("FAIL",)))))
    return faults


def tc_requirements() -> dict[str, set[str]]:
    """Every TC of the suites and the requirements its ``pytest.mark.tc(..., reqs=[...])`` marker names."""
    out: dict[str, set[str]] = defaultdict(set)
    for path in sorted(SUITES.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "tc"):
                continue
            if not node.args or not isinstance(node.args[0], ast.Constant):
                continue
            reqs = next((k.value for k in node.keywords if k.arg == "reqs"), None)
            names = ast.literal_eval(reqs) if reqs is not None else []
            out[str(node.args[0].value)].update(names)
    return dict(out)


def requirement_tcs() -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for tc, reqs in tc_requirements().items():
        for req in reqs:
            out[req].add(tc)
    return dict(out)


def requirement_ids() -> list[str]:
    data = tomllib.loads((SUITES / "requirements.toml").read_text(encoding="utf-8"))
    return [str(r["id"]) for r in data["requirement"]]


def sole_catchers() -> dict[str, list[str]]:
    """For every requirement, the faults that only TCs of that requirement are expected to catch."""
    by_req = requirement_tcs()
    faults = catalogue()
    return {req: [f"{f.kind}:{f.name}" for f in faults if f.catches and set(f.catches) <= by_req.get(req, set())]
            for req in requirement_ids()}
