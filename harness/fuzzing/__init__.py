"""Fuzz campaigns: targets, runs bounded in examples with saved, replayable failures, and ``paircert fuzz``.

:mod:`harness.fuzzing.drive` and :mod:`harness.fuzzing.targets` use the adapters only (the suites share
them); :mod:`harness.fuzzing.campaign` runs a target for a budget on a world built from a profile;
:mod:`harness.fuzzing.cli` is the click command ``paircert fuzz``.
"""
