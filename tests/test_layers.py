"""The layer rules of DESIGN.md ("Layers and the rules between them"), as one table: the authority.

:data:`RULES` maps a package (or module) to what it must never import: other packages of the harness, and
outside modules (pytest, the network libraries). A module obeys every rule whose key is a prefix of its name.
Every import counts, wherever it is written: at the top, inside a function (a lazy import), under
``if TYPE_CHECKING:``, relative (``from ..emulator import air``), or by name (``importlib.import_module("...")``).
Beside the table: no import cycle between the harness's modules, and a check of the walker itself on planted
breaches.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Network I/O: only emulator/, adapters/, net/ and app/ talk to the network (DESIGN.md: "Every I/O boundary").
NETWORK_IO = frozenset({
    "socket", "ssl", "selectors", "socketserver", "http.client", "http.server", "urllib.request", "aiohttp",
    "paho", "amqtt", "scapy", "requests", "bleak",
})
PYTEST = frozenset({"pytest", "_pytest"})
#: What a sans-IO layer never imports: I/O, and the sources of time, threads and randomness (passed in instead).
SANS_IO = NETWORK_IO | PYTEST | frozenset({
    "asyncio", "threading", "time", "random", "secrets", "subprocess", "multiprocessing", "concurrent",
})

#: The harness's packages and top-level modules, each one layer.
KERNEL = ("harness.clock", "harness.evidence", "harness.redaction", "harness.errors")
PACKAGES = (*KERNEL, "harness.protocol", "harness.qrimage", "harness.model", "harness.app", "harness.emulator",
            "harness.adapters", "harness.net", "harness.profiles", "harness.plugin", "harness.conformance",
            "harness.testing", "harness.fuzzing", "harness.report", "harness.cli", "harness.bundled", "harness.load")
#: The adapters' implementations (every module of harness/adapters/ but the contracts and the BLE contracts, which
#: the upper layers may name): the registry, the factories, emulated, remote, openapi, operator/, scapy, wire,
#: preflight, the probes.
ADAPTER_IMPLEMENTATIONS = frozenset(
    ".".join(path.relative_to(ROOT).with_suffix("").parts)
    for path in (ROOT / "harness" / "adapters").glob("*.py")
    if path.stem not in ("__init__", "contracts", "ble_contracts")
) | {"harness.adapters.operator"}


def everything_but(*allowed: str) -> frozenset[str]:
    """Every package of the harness but ``allowed`` (and the suites)."""
    return frozenset(p for p in PACKAGES if p not in allowed) | {"suites"}


RULES: dict[str, frozenset[str]] = {
    # The kernel: every layer may use it, so it uses no layer (the redactor redraws QR images with qrimage, a leaf
    # over the QR codec).
    **{kernel: everything_but(*KERNEL, "harness.protocol", "harness.qrimage") | NETWORK_IO | PYTEST
       for kernel in KERNEL},
    # Sans-IO codecs: text and bytes only; nothing else of the harness; clocks, nonces and randomness passed in.
    "harness.protocol": everything_but("harness.protocol") | SANS_IO,
    # QR images: the QR codec's pictures, no network.
    "harness.qrimage": everything_but("harness.protocol") | NETWORK_IO | PYTEST,
    # The oracle: pure rules over the protocol.
    "harness.model": everything_but("harness.protocol", "harness.model") | SANS_IO,
    # The app side talks to the adapters' contracts, never to an emulator or the test machinery.
    "harness.app": frozenset({"harness.emulator", "harness.net", "harness.plugin", "harness.cli",
                              "harness.conformance", "harness.testing", "harness.fuzzing", "harness.report",
                              "harness.profiles", "suites"}) | PYTEST,
    # The emulated world is a library (and `paircert cloud/device serve`): it knows nothing of who drives it.
    "harness.emulator": frozenset({"harness.app", "harness.adapters", "harness.net", "harness.plugin", "harness.cli",
                                   "harness.conformance", "harness.testing", "harness.fuzzing", "harness.report",
                                   "harness.profiles", "suites"}) | PYTEST,
    # The camera reaches the cloud over the network only, as a real one does; the cloud never reaches into it.
    "harness.emulator.camera": frozenset({"harness.emulator.cloud", "harness.emulator.broker"}),
    "harness.emulator.cloud": frozenset({"harness.emulator.camera"}),
    "harness.emulator.broker": frozenset({"harness.emulator.camera", "harness.emulator.cloud"}),
    # Adapters are libraries too: usable without pytest, never reaching up into the test machinery.
    "harness.adapters": frozenset({"harness.app", "harness.plugin", "harness.cli", "harness.conformance",
                                   "harness.testing", "harness.fuzzing", "harness.report", "suites"}) | PYTEST,
    # The real-network path: frames, send, sniff, pcaps. The air is handed to it, never imported.
    "harness.net": everything_but(*KERNEL, "harness.protocol", "harness.net") | PYTEST,
    # Profiles are configuration: validated values, no adapters, no I/O.
    "harness.profiles": everything_but(*KERNEL, "harness.protocol", "harness.profiles", "harness.bundled")
                        | NETWORK_IO | PYTEST,
    # The pytest plugin wires adapters to tests; the CLI sits above it, the emulator below the adapters. It writes
    # a run's results in CI's formats with the report's writers (JUnit, Allure), which never import it back; the
    # report's command and its HTML and PDF are the CLI's.
    "harness.plugin": frozenset({"harness.emulator", "harness.cli", "harness.fuzzing", "harness.report.cli",
                                 "harness.report.html", "harness.report.pdf", "harness.report.certificate",
                                 "suites"}) | NETWORK_IO,
    # What the suites import: no emulator, no pytest (the plugin feeds the taxonomy exception objects), no I/O.
    "harness.conformance": frozenset({"harness.emulator", "harness.net", "harness.plugin", "harness.cli",
                                      "harness.testing", "harness.fuzzing", "harness.report", "suites"})
                           | NETWORK_IO | PYTEST,
    # Public strategies and the stateful model run against adapters, never an emulator.
    "harness.testing": frozenset({"harness.emulator", "harness.net", "harness.plugin", "harness.cli",
                                  "harness.fuzzing", "harness.report", "suites"}) | NETWORK_IO,
    # The strategies are values built from the codecs and the model only.
    "harness.testing.strategies": everything_but(*KERNEL, "harness.protocol", "harness.model",
                                                 "harness.testing") | SANS_IO - {"random"},
    # Fuzz targets reach the cloud and the device through the adapters only.
    "harness.fuzzing": frozenset({"harness.emulator", "harness.net", "harness.plugin", "harness.cli",
                                  "harness.report", "suites"}) | NETWORK_IO | PYTEST,
    # The report reads what a run wrote; the CLI drives it, never the other way round.
    "harness.report": frozenset({"harness.cli", "harness.emulator", "harness.app", "harness.net", "harness.plugin",
                                 "harness.fuzzing", "harness.testing", "suites"}) | ADAPTER_IMPLEMENTATIONS
                      | NETWORK_IO,
    # What the wheel ships besides code, found through importlib.resources: a leaf every layer may ask.
    "harness.bundled": everything_but("harness.bundled") | NETWORK_IO | PYTEST,
    # The top: `paircert` runs pytest in a child process, so that `paircert --help` never imports it.
    "harness.cli": frozenset({"suites"}) | NETWORK_IO | PYTEST,
    # The suites talk to adapters' contracts and the lab vocabulary: that is what lets them run against real
    # devices and clouds. No bytes or sockets of their own.
    # paircert load: emulated devices (the camera's own codecs and activation) and the app side on Locust; a tool
    # beside the suites, never part of them.
    "harness.load": frozenset({"harness.plugin", "harness.conformance", "harness.testing", "harness.report",
                               "suites"}) | PYTEST,
    "suites": frozenset({"harness.emulator", "harness.net", "harness.plugin", "harness.cli", "harness.report"})
              | ADAPTER_IMPLEMENTATIONS - {"harness.adapters.probes"} | NETWORK_IO,
}


# ----------------------------------------------------------------------------------------------- the walker


@dataclass(frozen=True)
class Import:
    """One name a module imports, absolute: a module (``socket``) or a module's attribute (``harness.app.pair``)."""

    name: str
    line: int


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package_of(path: Path, root: Path) -> str:
    name = module_name(path, root)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imports_of(path: Path, root: Path = ROOT) -> list[Import]:
    """Every import of ``path``: top-level, lazy (in a function), under TYPE_CHECKING, relative (resolved against
    the module's package), and ``importlib.import_module``/``__import__`` with a literal name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(Import(alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, path, root)
            found.append(Import(base, node.lineno))
            found.extend(Import(f"{base}.{alias.name}", node.lineno) for alias in node.names if alias.name != "*")
        elif isinstance(node, ast.Call) and _is_import_call(node.func) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.append(Import(first.value, node.lineno))
    return found


def _absolute(node: ast.ImportFrom, path: Path, root: Path) -> str:
    if node.level == 0:
        return node.module or ""
    package = _package_of(path, root).split(".")
    if node.level - 1 >= len(package):
        raise ValueError(f"{path}:{node.lineno}: relative import beyond the top-level package")
    base = ".".join(package[:len(package) - (node.level - 1)])
    return f"{base}.{node.module}" if node.module else base


def _is_import_call(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in ("__import__", "import_module")
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def hits(name: str, prefixes: Iterable[str]) -> str | None:
    """The prefix of ``prefixes`` that ``name`` is, or lies under (``a.b`` is under ``a``, ``a.bc`` is not)."""
    return next((p for p in prefixes if name == p or name.startswith(p + ".")), None)


def breaches(path: Path, root: Path = ROOT, rules: dict[str, frozenset[str]] = RULES) -> list[str]:
    """What ``path`` imports that a rule forbids it, one line each."""
    name = module_name(path, root)
    found: dict[tuple[int, str, str], str] = {}  # (line, rule, target) -> the first name imported there
    for key, forbidden in rules.items():
        if hits(name, [key]) is None:
            continue
        for imported in imports_of(path, root):
            target = hits(imported.name, forbidden)
            if target is not None and hits(imported.name, [key]) is None:
                found.setdefault((imported.line, key, target), imported.name)
    return [f"{path.relative_to(root)}:{line} imports {imported} (rule {key} -> never {target})"
            for (line, key, target), imported in sorted(found.items())]


def modules(root: Path = ROOT) -> list[Path]:
    return sorted([*(root / "harness").rglob("*.py"), *(root / "suites").rglob("*.py")])


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the harness modules it imports. ``from pkg import sub`` is an edge to the module ``pkg.sub`` (not to
    the package's ``__init__``); any other imported name is an edge to the longest module it names."""
    paths = {module_name(p, root): p for p in sorted((root / "harness").rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                named = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(node, path, root)
                named = [f"{base}.{a.name}" if f"{base}.{a.name}" in paths else base for a in node.names]
            elif isinstance(node, ast.Call) and _is_import_call(node.func) and node.args and \
                    isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                named = [node.args[0].value]
            else:
                continue
            for target in named:
                while target and target not in paths:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    targets.add(target)
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


@cache
def _tree_modules() -> list[Path]:
    return modules()


# ------------------------------------------------------------------------------------------------ the rules


@pytest.mark.parametrize("path", _tree_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_obeys_the_layer_rules(path: Path) -> None:
    found = breaches(path)
    assert not found, "\n".join(found)


#: Cycles known and owned by others, to be emptied: the cloud's behaviour hooks take the concrete CloudState and
#: AtopService as parameter types (imported under TYPE_CHECKING), which the state, the ATOP service, the bind by
#: UUID and MQTT-ATOP import back.
#: The split `paircert run` (real-device path work): the runner and the resume logic name the run request of
#: harness.cli.run, which calls them.
KNOWN_CYCLES: list[list[str]] = [
    ["harness.emulator.cloud.activation", "harness.emulator.cloud.atop", "harness.emulator.cloud.behaviour",
     "harness.emulator.cloud.bind", "harness.emulator.cloud.matop", "harness.emulator.cloud.state"],
    ["harness.cli.resume", "harness.cli.run", "harness.cli.runner"],
]


def test_no_import_cycles_between_modules() -> None:
    found = [c for c in cycles(import_graph()) if c not in KNOWN_CYCLES]
    assert not found, "import cycles (TYPE_CHECKING and lazy imports count): " + "; ".join(" <-> ".join(c)
                                                                                           for c in found)


def test_the_known_cycles_still_exist() -> None:
    """An allowed cycle that is gone leaves the list, so that it cannot come back unnoticed."""
    found = cycles(import_graph())
    assert [c for c in KNOWN_CYCLES if c not in found] == []


def test_the_table_covers_every_package_and_names_only_real_ones() -> None:
    top = {f"harness.{p.stem}" for p in (ROOT / "harness").glob("*.py") if p.stem not in ("__init__", "__main__")}
    top |= {f"harness.{p.name}" for p in (ROOT / "harness").iterdir() if (p / "__init__.py").is_file()}
    assert top == set(PACKAGES), f"packages without a rule: {sorted(top - set(PACKAGES))}; " \
                                 f"rules for no package: {sorted(set(PACKAGES) - top)}"
    assert set(PACKAGES) | {"suites"} <= set(RULES)
    names = {module_name(p, ROOT) for p in modules()}
    for key, forbidden in RULES.items():
        assert any(hits(n, [key]) for n in names), f"rule {key} names no module"
        for target in forbidden:
            if target.startswith(("harness", "suites")):
                assert any(hits(n, [target]) for n in names), f"rule {key} forbids {target}, which does not exist"


# ------------------------------------------------------------------------------------------------ the walker


def _plant(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    for folder in {(root / r).parent for r in files}:
        while folder != root:
            (folder / "__init__.py").touch()
            folder = folder.parent


def test_the_walker_resolves_relative_lazy_type_checking_and_by_name_imports(tmp_path: Path) -> None:
    _plant(tmp_path, {"harness/net/spy.py": (
        "from typing import TYPE_CHECKING\n"
        "import socket\n"
        "from . import layers\n"
        "from ..emulator import air\n"
        "if TYPE_CHECKING:\n"
        "    from ..adapters.contracts import ApAddress\n"
        "def later():\n"
        "    from harness.plugin import hooks\n"
        "    import importlib\n"
        "    return importlib.import_module('harness.cli.run')\n"
    )})
    names = {i.name for i in imports_of(tmp_path / "harness/net/spy.py", tmp_path)}
    assert {"socket", "harness.net.layers", "harness.emulator", "harness.emulator.air",
            "harness.adapters.contracts.ApAddress", "harness.plugin.hooks", "harness.cli.run"} <= names


@pytest.mark.parametrize(("planted", "text", "rule"), [
    ("harness/net/spy.py", "from ..emulator.air import Air\n", "harness.net -> never harness.emulator"),
    ("harness/net/spy.py", "def f():\n    from harness.adapters import scapy\n",
     "harness.net -> never harness.adapters"),
    ("harness/emulator/camera/spy.py", "from ...app import faults\n", "harness.emulator -> never harness.app"),
    ("harness/emulator/camera/spy.py", "from ..cloud import state\n",
     "harness.emulator.camera -> never harness.emulator.cloud"),
    ("harness/protocol/spy.py", "def f():\n    import time\n", "harness.protocol -> never time"),
    ("harness/fuzzing/spy.py", "import http.client\n", "harness.fuzzing -> never http.client"),
    ("harness/report/spy.py", "import importlib\nimportlib.import_module('harness.cli.run')\n",
     "harness.report -> never harness.cli"),
    ("harness/testing/strategies.py", "from harness.adapters.contracts import Licence\n",
     "harness.testing.strategies -> never harness.adapters"),
    ("suites/test_spy.py", "from harness.emulator import air\n", "suites -> never harness.emulator"),
    ("harness/adapters/spy.py", "if True:\n    import pytest\n", "harness.adapters -> never pytest"),
])
def test_a_planted_breach_is_found(tmp_path: Path, planted: str, text: str, rule: str) -> None:
    _plant(tmp_path, {planted: text})
    found = breaches(tmp_path / planted, tmp_path)
    assert any(rule in line for line in found), found


def test_a_module_may_import_its_own_package(tmp_path: Path) -> None:
    _plant(tmp_path, {"harness/net/spy.py": "from . import layers\nfrom harness.net import sniff\n"})
    assert breaches(tmp_path / "harness/net/spy.py", tmp_path) == []


def test_a_planted_cycle_is_found_even_through_type_checking(tmp_path: Path) -> None:
    _plant(tmp_path, {
        "harness/emulator/camera/firmware.py": "from .ap import ApServer\n",
        "harness/emulator/camera/ap.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                         "    from .firmware import EmulatedCamera\n",
        "harness/emulator/camera/states.py": "X = 1\n",
    })
    assert cycles(import_graph(tmp_path)) == [["harness.emulator.camera.ap", "harness.emulator.camera.firmware"]]


def test_a_package_reexporting_its_modules_is_no_cycle(tmp_path: Path) -> None:
    _plant(tmp_path, {
        "harness/plugin/__init__.py": "from harness.plugin.hooks import pytest_configure\n",
        "harness/plugin/hooks.py": "from harness.plugin import hookspecs\n",
        "harness/plugin/hookspecs.py": "X = 1\n",
    })
    assert cycles(import_graph(tmp_path)) == []
