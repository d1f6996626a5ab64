"""The wheel is the product: built from this checkout (sdist, then the wheel from the sdist, as ``make dist``
does), installed non-editable into a fresh venv outside the checkout, and used from another directory as a vendor
would: ``paircert run``, ``paircert fuzz``, ``paircert profiles``, the README's Python examples and a vendor's own
test project (examples/vendor-suite) on the plugin's fixtures and strategies.

The wheel is built once (module fixture) and every step reuses it. Dependencies: the wheel is installed with
``--no-deps`` and the fresh venv sees the dependencies of the project's .venv through one line in a ``.pth`` file
(``python -m venv --system-site-packages`` would show the base interpreter's site-packages, not .venv's). Python
adds that directory to sys.path but does not run the ``.pth`` files in it, so the editable install's finder is
never loaded: every ``harness`` module, suite and profile comes from the wheel, which the first test checks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import site
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import xmlschema

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
PYTHON_EXAMPLES = [code for lang, code in re.findall(r"```(\w+)\n(.*?)```", README, flags=re.S) if lang == "python"]
RUN_EXAMPLES = """\
import json, sys
for index, code in enumerate(json.load(open(sys.argv[1], encoding="utf-8"))):
    exec(compile(code, f"README.md python example {index}", "exec"), {"__name__": "readme_example"})
    print(f"example {index}: ok", flush=True)
"""
TIMEOUT_S = 600


@dataclass(frozen=True)
class Installed:
    venv: Path
    site_packages: Path
    elsewhere: Path  # a directory outside the checkout, the working directory of every step
    dist: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def paircert(self) -> Path:
        return self.venv / "bin" / "paircert"

    def run(self, *argv: str | Path, cwd: Path | None = None, timeout: float = TIMEOUT_S,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("PAIRCERT_", "PYTHON"))}
        return subprocess.run([str(a) for a in argv], cwd=cwd or self.elsewhere, capture_output=True, text=True,
                              timeout=timeout, env={**clean, **(env or {})}, stdin=subprocess.DEVNULL, check=False)


def _project_version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"])


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    assert not base.is_relative_to(ROOT)
    dist = base / "dist"
    built = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(ROOT)],
                           capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site_packages = next((venv / "lib").glob("python3*/site-packages"))
    (site_packages / "_paircert_test_deps.pth").write_text(site.getsitepackages()[0] + "\n", encoding="utf-8")
    wheel = next(dist.glob("paircert-*.whl"))
    pip = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
                          "--no-deps", "--no-index", "--disable-pip-version-check", "-q", str(wheel)],
                         capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    return Installed(venv, site_packages, elsewhere, dist)


def test_the_sdist_and_the_wheel_pass_twine_check_and_carry_the_one_version(installed: Installed) -> None:
    version = _project_version()
    artifacts = sorted(p.name for p in installed.dist.iterdir())
    assert artifacts == [f"paircert-{version}-py3-none-any.whl", f"paircert-{version}.tar.gz"]
    check = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, installed.dist.iterdir())],
                           capture_output=True, text=True, timeout=120, check=False)
    assert check.returncode == 0 and check.stdout.count("PASSED") == 2, check.stdout + check.stderr
    assert f"pip install paircert-{version}-py3-none-any.whl" in README  # the README installs this very wheel
    shown = installed.run(installed.paircert, "--version")
    assert shown.returncode == 0 and shown.stdout.strip().endswith(version), shown.stdout + shown.stderr
    with zipfile.ZipFile(next(installed.dist.glob("*.whl"))) as wheel:
        names = set(wheel.namelist())
    for expected in ("harness/bundled/suites/test_qr.py", "harness/bundled/suites/conftest.py",
                     "harness/bundled/suites/requirements.toml", "harness/bundled/suites/faults/camera.toml",
                     "harness/bundled/profiles/camera-strong.toml", "harness/report/templates/report.html.j2"):
        assert expected in names, expected


def test_everything_comes_from_the_wheel_not_the_checkout(installed: Installed) -> None:
    probe = ("import json, sys, harness, harness.plugin; from harness import bundled; "
             "from harness.conformance.requirements import catalogue_path; "
             "print(json.dumps({'harness': harness.__file__, 'suites': str(bundled.suites_dir()), "
             "'profiles': str(bundled.profiles_dir()), 'catalogue': str(catalogue_path()), "
             f"'checkout_on_path': [p for p in sys.path if p.startswith({str(ROOT)!r}) "
             f"and not p.startswith({str(ROOT / '.venv')!r})]}}))")
    done = installed.run(installed.python, "-c", probe)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found.pop("checkout_on_path") == []
    for name, path in found.items():
        assert Path(path).is_relative_to(installed.site_packages / "harness"), (name, path)


def test_paircert_profiles_lists_the_bundled_profiles(installed: Installed) -> None:
    done = installed.run(installed.paircert, "profiles")
    assert done.returncode == 0, done.stdout + done.stderr
    for name in ("camera-strong", "plug-medium", "bulb-weak", "example-real-camera", "cloud-tuya-openapi"):
        assert name in done.stdout


def test_paircert_run_certifies_the_emulated_camera(installed: Installed) -> None:
    reports = installed.elsewhere / "reports"
    done = installed.run(installed.paircert, "run", "--profile", "camera-strong", "--fuzz-budget", "ci", "-n", "2",
                         "--no-progress", "--report-dir", reports)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "Overall: PASS" in done.stdout
    summary = json.loads((reports / "latest" / "summary.json").read_text(encoding="utf-8"))
    assert Path(summary["selection"]["suites_dir"]).is_relative_to(installed.site_packages)
    verdicts = {r["verdict"] for r in summary["results"]}
    assert verdicts <= {"PASS", "N/A"} and len(summary["results"]) > 50
    assert all(r.get("title") for r in summary["results"])
    junit = reports / "latest" / "junit.xml"
    xmlschema.XMLSchema(ROOT / "tests" / "vectors" / "junit-10.xsd").validate(junit)  # as tests/test_junit.py
    names = re.findall(r'<testcase [^>]*name="([^"]*)"', junit.read_text(encoding="utf-8"))
    assert len(names) == len(summary["results"]) and all(name.startswith("TC-") for name in names)
    assert any(name.startswith("TC-QR-007 ") for name in names)


def test_paircert_fuzz_passes_within_its_budget(installed: Installed) -> None:
    """Every target, counted in examples (the ci budget, derandomized: the same campaign on any machine)."""
    done = installed.run(installed.paircert, "fuzz", "--budget", "ci", "--examples", "12", "--steps", "4", "--json",
                         "--report-dir", installed.elsewhere / "fuzz")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(done.stdout)
    assert {r["verdict"] for r in results} <= {"PASS", "N/A"} and any(r["verdict"] == "PASS" for r in results)
    assert all(r["examples"] == 12 for r in results if r["verdict"] == "PASS"), results


def test_the_readme_python_examples_run_against_the_wheel(installed: Installed) -> None:
    examples = installed.elsewhere / "readme-examples.json"
    examples.write_text(json.dumps(PYTHON_EXAMPLES), encoding="utf-8")
    done = installed.run(installed.python, "-c", RUN_EXAMPLES, examples)
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    assert done.stdout.count(": ok") == len(PYTHON_EXAMPLES) >= 3


def test_a_vendor_project_runs_on_the_installed_plugin(installed: Installed) -> None:
    project = installed.elsewhere / "vendor-suite"
    shutil.copytree(ROOT / "examples" / "vendor-suite", project)
    done = installed.run(installed.python, "-m", "pytest", "--paircert-report-dir", "reports", "--junitxml",
                         "reports/junit.xml", "-q", cwd=project)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "PASS 3  FAIL 0  ERROR 0" in done.stdout
    assert 'name="TC-ACME-002 the camera joins generated Wi-Fi networks"' in \
        (project / "reports" / "junit.xml").read_text(encoding="utf-8")
    assert (project / "reports" / "evidence" / "TC-ACME-001" / "timeline.json").is_file()
