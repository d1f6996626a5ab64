"""The README is the user's manual: its Python examples run, and its safe commands work as shown."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", README, flags=re.S)
PYTHON = [code for lang, code in BLOCKS if lang == "python"]
# Shell lines the tests can run as they are: they read the bundled profiles and start nothing.
SAFE = ("paircert profiles",)
# (The "Certifying a real camera" commands, on my-camera.toml, are run by tests/test_realpath.py.)
COMMANDS = [line.strip() for lang, code in BLOCKS if lang == "sh" for line in code.splitlines()
            if line.strip().startswith(SAFE) and "my-camera.toml" not in line]


def test_the_readme_has_examples_of_each_kind() -> None:
    assert len(PYTHON) >= 3
    assert COMMANDS
    assert "make demo" in README and "make test" in README


@pytest.mark.parametrize("code", PYTHON, ids=[f"python-{i}" for i in range(len(PYTHON))])
def test_python_example_runs(code: str, tmp_path: Path) -> None:
    # A file of its own, so that tools that read a function's source (Hypothesis' database key) find it.
    example = tmp_path / "readme_example.py"
    example.write_text(code, encoding="utf-8")
    exec(compile(code, str(example), "exec"), {"__name__": "readme_example", "__file__": str(example)})


@pytest.mark.parametrize("command", COMMANDS)
def test_shell_example_works(command: str) -> None:
    argv = shlex.split(command.split("#", 1)[0])
    binary = Path(sys.executable).parent / argv[0]
    done = subprocess.run([str(binary), *argv[1:]], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "camera-strong" in done.stdout
