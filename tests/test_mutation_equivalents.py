"""The committed list of equivalent mutants (tests/mutation/equivalent.toml) parses, and every entry names a
function that still exists in a module of the campaign, with a reason: a stale or misspelt name would silently
count nothing."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def _campaign() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation_campaign", ROOT / "tests" / "mutation" / "campaign.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_every_equivalent_mutant_names_an_existing_function_of_a_campaign_module() -> None:
    campaign = _campaign()
    entries = campaign.load_equivalents()
    assert entries, "the list is empty: nothing is argued"
    for name, entry in entries.items():
        module = campaign.module_of(name)
        assert module in campaign.MODULES, f"{name}: {module} is not mutated by the campaign"
        # mutmut's names: x_<function>__mutmut_N, or xǁ<Class>ǁ<method>__mutmut_N
        mangled = name.rpartition(".")[2].partition("__mutmut_")[0]
        cls, _, method = mangled[2:].rpartition("ǁ") if mangled.startswith("xǁ") else ("", "", mangled[2:])
        source = (ROOT / module).read_text(encoding="utf-8")
        assert re.search(rf"^\s*def {re.escape(method)}\(", source, re.M), f"{name}: no function {method}"
        assert not cls or re.search(rf"^class {re.escape(cls)}\b", source, re.M), f"{name}: no class {cls}"
        assert len(entry.reason) > 40, f"{name}: the reason says too little"
