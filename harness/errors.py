"""The harness's own failure, for every layer: raised where an invariant of the harness does not hold.

A :class:`HarnessError` is never the device's or the cloud's fault: the verdict taxonomy
(:mod:`harness.conformance.verdicts`) makes it an ERROR wherever it is raised. Harness code raises it instead of a
bare ``assert``, whose AssertionError the taxonomy reads as a requirement the system under test broke (FAIL). The
sans-IO codecs, which import nothing of the harness, raise
:class:`~harness.protocol.errors.LocalProtocolError` for the same purpose.
"""

from __future__ import annotations


class HarnessError(Exception):
    """The harness broke or was misused (ERROR): an internal invariant failed, or a suite asked for something the
    harness must refuse (e.g. a real-time wait in a test not marked ``slow``)."""


__all__ = ["HarnessError"]
