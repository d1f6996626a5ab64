"""paircert's pytest plugin (entry point ``pytest11``).

The fixtures, markers and verdict mapping arrive with the plugin issue; until then the plugin only
registers the markers so that suites and tests can already carry them.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "tc(id, reqs=[...]): the conformance test case id and requirement ids")
    config.addinivalue_line("markers", "requires(*capabilities): profile capabilities the test needs")
    config.addinivalue_line("markers", "slow: waits for real time")
