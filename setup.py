"""What pyproject.toml cannot say alone: the repository's top-level ``suites/`` and ``profiles/`` ship inside the
``harness`` package, as ``harness.bundled.suites`` and ``harness.bundled.profiles`` (found at run time through
importlib.resources, see ``harness/bundled/__init__.py``). Data folders (``report/templates``, ``suites/faults``)
are namespace packages, listed like the rest. Everything else is in pyproject.toml."""

from setuptools import find_namespace_packages, setup

BUNDLED = {"harness.bundled.suites": "suites", "harness.bundled.profiles": "profiles"}
NOT_PACKAGES = ["*__pycache__*"]

setup(
    packages=[
        *find_namespace_packages(include=["harness", "harness.*"], exclude=NOT_PACKAGES),
        *BUNDLED,
        *(f"{package}.{sub}" for package, folder in BUNDLED.items()
          for sub in find_namespace_packages(folder, exclude=NOT_PACKAGES)),
    ],
    package_dir=BUNDLED,
)
