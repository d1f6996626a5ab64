"""The bundled device profiles: TOML data, shipped in the wheel as ``harness.bundled.profiles`` (see
:mod:`harness.bundled`); a package only so that :mod:`importlib.resources` finds it."""
