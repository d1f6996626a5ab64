"""JUnit XML that CI tools read right: paircert's verdicts rewritten into pytest's ``--junitxml`` file.

pytest writes a harness ERROR raised in a test's body as ``<failure>``, names each case after its Python function
and puts the TC id in ``<properties>``, which the JUnit schema Jenkins and GitLab read (junit-10.xsd) does not allow
inside ``<testcase>``. This rewrites every case paircert judged:

- PASS: no child element; FAIL: ``<failure type="FAIL">``; ERROR: ``<error type="ERROR">``; N/A and INCONCLUSIVE:
  ``<skipped type="N/A|INCONCLUSIVE" message="N/A: the reason">``;
- the case's ``name`` is the TC id and its title (``TC-QR-007 the device activates with the 8 character token``,
  :mod:`harness.conformance.titles`), with the parameters after it;
- the ``message`` is the verdict's message (the deviation observed, without the exception's type name), and
  ``<system-out>`` holds the TC, its requirements, its evidence directory and pytest's full detail.

The counts of each ``<testsuite>`` (and ``<testsuites>``) are recomputed. Cases paircert did not judge are left as
pytest wrote them, but for paircert's own properties.
"""

from __future__ import annotations

import os
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

_VERDICT_ELEMENTS = ("failure", "error", "skipped")
_DEVIATION_TYPES = re.compile(r"^(AssertionError|DeviceFailure|Failed): ")
_OWN_PROPERTIES = re.compile(r"^paircert_")


def address(nodeid: str) -> tuple[str, str]:
    """The ``(classname, name)`` pytest's JUnit writer gives a nodeid: the file's dotted path (and classes), and the
    function with its parameters."""
    path, bracket, params = nodeid.partition("[")
    parts = path.split("::")
    parts[0] = re.sub(r"\.py$", "", parts[0].replace("/", "."))
    return ".".join(parts[:-1]), parts[-1] + bracket + params


def deviation(message: str) -> str:
    """The verdict message as a CI tool should show it: the deviation, without the exception's type name."""
    return _DEVIATION_TYPES.sub("", message, count=1)


def _detail(result: Mapping[str, Any], pytest_text: str) -> str:
    lines = [f"paircert {result.get('verdict')}: {result.get('tc')} {result.get('title', '')}".rstrip(),
             f"requirements: {', '.join(result.get('reqs', []))}", f"pytest node: {result.get('nodeid')}"]
    if result.get("evidence"):
        lines.append(f"evidence: {result['evidence']}")
    if result.get("message"):
        lines.append(f"message: {result['message']}")
    if pytest_text.strip():
        lines += ["", pytest_text.strip()]
    return "\n".join(lines) + "\n"


def _strip_own_properties(case: ET.Element) -> None:
    for properties in case.findall("properties"):
        for prop in list(properties):
            if _OWN_PROPERTIES.match(prop.get("name", "")):
                properties.remove(prop)
        if not len(properties):
            case.remove(properties)


def rewrite_case(case: ET.Element, result: Mapping[str, Any]) -> None:
    """Rewrite one ``<testcase>`` from paircert's result for it (see the module's docstring)."""
    pytest_text = "\n\n".join((child.text or "") for child in case if child.tag in (*_VERDICT_ELEMENTS, "system-out"))
    for child in list(case):
        if child.tag in (*_VERDICT_ELEMENTS, "system-out", "properties"):
            case.remove(child)
    case.set("name", str(result.get("name") or case.get("name", "")))
    verdict, message = str(result.get("verdict")), deviation(str(result.get("message") or ""))
    element = {"FAIL": "failure", "ERROR": "error", "N/A": "skipped", "INCONCLUSIVE": "skipped"}.get(verdict)
    if element is not None:
        shown = f"{verdict}: {message}" if element == "skipped" else message
        child = ET.SubElement(case, element, {"type": verdict, "message": shown or verdict})
        child.text = shown or verdict
    ET.SubElement(case, "system-out").text = _detail(result, pytest_text)


def _recount(suite: ET.Element) -> tuple[int, int, int, int]:
    cases = suite.findall("testcase")
    counts = (len(cases), sum(1 for c in cases if c.find("failure") is not None),
              sum(1 for c in cases if c.find("error") is not None),
              sum(1 for c in cases if c.find("skipped") is not None))
    for name, value in zip(("tests", "failures", "errors", "skipped"), counts, strict=True):
        suite.set(name, str(value))
    return counts


def rewrite(path: Path, results: Iterable[Mapping[str, Any]]) -> int:
    """Rewrite the JUnit XML at ``path`` from paircert's results (``results.jsonl`` records); returns how many cases
    were rewritten. The file is replaced atomically."""
    by_address = {address(str(r["nodeid"])): r for r in results if r.get("nodeid")}
    tree = ET.parse(path)
    root = tree.getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    rewritten = 0
    totals = [0, 0, 0, 0]
    for suite in suites:
        for case in suite.findall("testcase"):
            classname, name = case.get("classname", ""), case.get("name", "")
            result = by_address.get((classname, name)) or by_address.get((classname.partition(".")[2], name))
            if result is None:
                _strip_own_properties(case)
                continue
            rewrite_case(case, result)
            rewritten += 1
        totals = [a + b for a, b in zip(totals, _recount(suite), strict=True)]
    if root.tag == "testsuites":
        for name, value in zip(("tests", "failures", "errors"), totals, strict=False):
            if name in root.attrib:
                root.set(name, str(value))
    mode = path.stat().st_mode & 0o777
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        os.chmod(tmp, mode)
        tree.write(tmp, encoding="utf-8", xml_declaration=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return rewritten


__all__ = ["address", "deviation", "rewrite", "rewrite_case"]
