"""Device profiles: what a device claims (PICS), the numbers the tests use (PIXIT), and how it is driven.

:mod:`~harness.profiles.schema` holds the schema and loading, :mod:`~harness.profiles.support` the error type
and secret references, :mod:`~harness.profiles.adapters` the ``[adapters]`` and ``[hooks]`` tables (``paircert
profiles``, which also runs the adapters' preflight, is :mod:`harness.cli.profiles`). The names a user needs are
re-exported here.
"""

from harness.profiles.schema import (
    CAPABILITIES,
    Profile,
    ProfileError,
    SecretRef,
    bundled_profile_paths,
    bundled_profiles_dir,
    load_profile,
    parse_profile,
    read_profile_file,
)

__all__ = [
    "CAPABILITIES",
    "Profile",
    "ProfileError",
    "SecretRef",
    "bundled_profile_paths",
    "bundled_profiles_dir",
    "load_profile",
    "parse_profile",
    "read_profile_file",
]
