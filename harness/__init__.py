"""paircert: conformance harness and protocol fuzzer for Tuya-style Wi-Fi pairing and device-cloud binding."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("paircert")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
