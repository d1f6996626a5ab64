"""What pytest loads through the ``pytest11`` entry point: the options, the hook specs, and activation.

paircert is a good neighbour in projects that do not ask for it: it adds only namespaced options
(``--paircert-profile``, ...) and ini keys (``paircert_*``), and its ``pytest_configure`` returns at once. Only a run
that names a profile (``--paircert-profile``, ``PAIRCERT_PROFILE`` or ini ``paircert_profile``) activates it: then
the markers are declared, the profile is loaded, and the hooks (:mod:`harness.plugin.hooks`) and the fixtures
(:mod:`harness.plugin.fixtures`: ``device``, ``cloud``, ``lab``, ...) are registered. Nothing else of paircert is
imported before that.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import pytest

from harness.plugin import hookspecs
from harness.plugin.options import OPTIONS, add_options, profile_requested, resolve
from harness.plugin.selection import add_selection_options

if TYPE_CHECKING:
    from harness.plugin.options import Settings
    from harness.plugin.run import Run
    from harness.profiles import Profile

MARKERS = (
    'tc(id, reqs=[...], title=None): the conformance test case id, the requirement ids it checks, its title',
    "requires(*capabilities): profile and adapter capabilities the test needs",
    "slow: waits for real time",
)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)
    # Here, not in the options module: the selection reads the stash keys, whose types name the run, which
    # reads the options (no import cycle).
    add_selection_options(parser.getgroup("paircert"))


@pytest.hookimpl(trylast=True)  # after Hypothesis's own plugin has loaded its settings profile
def pytest_configure(config: pytest.Config) -> None:
    if not profile_requested(config):
        return  # not asked for: no markers, no fixtures, no hooks, no imports, no directories made
    settings = resolve(config)
    if settings.get("profile") is not None:
        activate(config, settings)
        _let_the_seed_decide(config)


def _let_the_seed_decide(config: pytest.Config) -> None:
    """A run given a Hypothesis seed draws its examples from that seed, also on a CI machine.

    Hypothesis loads its ``ci`` profile whenever a CI variable (``CI``, ``GITHUB_ACTIONS``, ...) is set, and that
    profile derandomizes: every test draws from its own source's hash and the seed is never read. ``paircert run``
    prints its seed as the way to replay a run or to draw different examples, so in a paircert run a derandomizing
    profile keeps all its other settings and gives up only ``derandomize``.
    """
    if config.getoption("hypothesis_seed", None) is None:
        return
    from hypothesis import settings as hypothesis_settings

    current = hypothesis_settings.default
    if current is not None and current.derandomize:
        name = f"{hypothesis_settings.get_current_profile_name()}-seeded"
        hypothesis_settings.register_profile(name, derandomize=False)
        hypothesis_settings.load_profile(name)


def activate(config: pytest.Config, settings: Settings) -> Run:
    """Load the profile, check the catalogue, make the run and register the hooks and fixtures."""
    # By name from sys.modules: a ``from harness.plugin import hooks`` could find a stale attribute on the package
    # after an in-process pytester run dropped the module.
    hooks = importlib.import_module("harness.plugin.hooks")
    fixtures = importlib.import_module("harness.plugin.fixtures")
    from harness.plugin.options import check_adapter_names, session_seed
    from harness.plugin.run import Run
    from harness.plugin.stash import RUN_KEY
    from harness.profiles import ProfileError, load_profile

    for line in MARKERS:
        config.addinivalue_line("markers", line)
    try:
        profile = load_profile(str(settings.get("profile")))
    except ProfileError as exc:
        raise pytest.UsageError(f"{OPTIONS[0].flag} ({settings.sources['profile']}): {exc}") from None
    check_adapter_names(settings)
    if getattr(config, "workerinput", None) is None:  # an xdist worker starts only once its controller checked
        _check_fault_names(profile, settings.get("cloud"), settings.get("device"))
    seed = session_seed(settings)
    config.option.paircert_seed = str(seed)  # xdist workers inherit it: every process replays the same
    if settings.get("seed") is None:
        settings.sources["seed"] = "random"
    settings.values["seed"] = str(seed)
    run = Run(config, settings, profile, seed)
    run.check_traceability()
    config.stash[RUN_KEY] = run
    config.pluginmanager.register(hooks, "paircert-hooks")
    config.pluginmanager.register(fixtures, "paircert-fixtures")
    config.pluginmanager.register(run, "paircert-run")
    if run.worker is None:
        run.write_session()
    return run


def _check_fault_names(profile: Profile, cloud: str | None, device: str | None) -> None:
    """The faults the profile names for its emulated adapters resolve (before the first test: a usage error)."""
    if "emulated" not in (cloud or profile.adapters.cloud.name, device or profile.adapters.device.name):
        return
    from harness.adapters.factories import check_fault_names
    from harness.profiles import ProfileError

    try:
        check_fault_names(profile, cloud=cloud, device=device)
    except ProfileError as exc:
        raise pytest.UsageError(str(exc)) from None


__all__ = ["MARKERS", "activate", "pytest_addhooks", "pytest_addoption", "pytest_configure"]
