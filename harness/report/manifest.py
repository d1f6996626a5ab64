"""``manifest.json``: the SHA-256 of every file in a run directory, so that a handed-over bundle is tamper-evident.

The manifest is written last, after every other file of the run; :func:`verify_manifest` recomputes the hashes
and lists every file that changed, went missing or appeared.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.report.summary import atomic_write_text

MANIFEST_FILE = "manifest.json"
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def run_files(run_dir: Path) -> Iterator[Path]:
    """Every regular file under ``run_dir`` but the manifest itself, sorted, symlinks not followed."""
    for path in sorted(run_dir.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        if path.parent == run_dir and path.name == MANIFEST_FILE:
            continue
        yield path


def build_manifest(run_dir: Path, *, run_id: str = "") -> dict[str, Any]:
    files = {path.relative_to(run_dir).as_posix(): sha256_file(path) for path in run_files(run_dir)}
    return {"algorithm": "sha256", "run_id": run_id, "files": files}


def write_manifest(run_dir: Path, *, run_id: str = "") -> Path:
    """Hash every file of the run directory into ``manifest.json`` (call it last)."""
    path = run_dir / MANIFEST_FILE
    atomic_write_text(path, json.dumps(build_manifest(run_dir, run_id=run_id), indent=1, sort_keys=True) + "\n")
    return path


@dataclass
class Verification:
    """What :func:`verify_manifest` found; ``ok`` when nothing changed, went missing or appeared."""

    checked: int = 0
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.unexpected or self.problem)

    def lines(self) -> list[str]:
        if self.problem:
            return [self.problem]
        out = [f"changed: {name}" for name in self.changed]
        out += [f"missing: {name}" for name in self.missing]
        out += [f"not in the manifest: {name}" for name in self.unexpected]
        return out


def verify_manifest(run_dir: Path) -> Verification:
    """Check every file of ``run_dir`` against its ``manifest.json``."""
    result = Verification()
    path = run_dir / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        result.problem = f"{path}: no manifest (the run did not finish writing its report?)"
        return result
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        result.problem = f"{path}: unreadable manifest: {exc}"
        return result
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if manifest.get("algorithm") != "sha256" or not isinstance(files, dict):
        result.problem = f"{path}: expected an object with algorithm 'sha256' and a 'files' object"
        return result
    present = {p.relative_to(run_dir).as_posix(): p for p in run_files(run_dir)}
    for name, digest in sorted(files.items()):
        file = present.get(name)
        if file is None:
            result.missing.append(name)
            continue
        result.checked += 1
        if sha256_file(file) != digest:
            result.changed.append(name)
    result.unexpected = sorted(set(present) - set(files))
    return result


__all__ = ["MANIFEST_FILE", "Verification", "build_manifest", "run_files", "sha256_file", "verify_manifest",
           "write_manifest"]
