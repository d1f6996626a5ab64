"""What paircert ships besides its code: the conformance suites, the requirement catalogue, the fault zoo and the
bundled device profiles.

The repository keeps them in its top-level ``suites/`` and ``profiles/`` folders; the build maps those folders into
this package (``pyproject.toml``: ``[tool.setuptools.package-dir]``), as ``harness.bundled.suites`` and
``harness.bundled.profiles``. They are found through :mod:`importlib.resources` only, so a wheel installed in
site-packages and an editable install of the checkout agree, and nothing is looked up relative to a source tree.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SUITES_PACKAGE = "harness.bundled.suites"
PROFILES_PACKAGE = "harness.bundled.profiles"


class BundleMissing(LookupError):
    """This installation does not ship the named part (a broken or zipped install)."""


def _directory(package: str) -> Path:
    """The directory of a bundled package, as a real path (pytest and the profile loader need files on disk)."""
    try:
        root = resources.files(package)
    except ModuleNotFoundError:
        raise BundleMissing(f"{package} is not installed (this paircert installation ships no "
                            f"{package.rsplit('.', 1)[1]}/)") from None
    path = Path(str(root))
    if not isinstance(root, Path) or not path.is_dir():
        raise BundleMissing(f"{package} is not a directory on disk ({root}); install paircert from its wheel")
    return path


def suites_dir() -> Path:
    """The bundled conformance suites (``suites/`` in the repository)."""
    return _directory(SUITES_PACKAGE)


def profiles_dir() -> Path:
    """The bundled device profiles (``profiles/`` in the repository)."""
    return _directory(PROFILES_PACKAGE)


def requirements_file() -> Path:
    """paircert's requirement catalogue, beside the suites that check it (``suites/requirements.toml``)."""
    return suites_dir() / "requirements.toml"


def faults_dir() -> Path:
    """The fault zoo's catalogue (``suites/faults/*.toml``): each emulated fault and the TCs that must catch it."""
    return suites_dir() / "faults"


__all__ = ["PROFILES_PACKAGE", "SUITES_PACKAGE", "BundleMissing", "faults_dir", "profiles_dir", "requirements_file",
           "suites_dir"]
