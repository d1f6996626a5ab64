"""A device licence (PROTOCOL.md §8): the UUID and AuthKey a vendor writes into a device, one device each.

A value of the model, not of an adapter: the strategies generate licences, the cloud adapters issue them and the
device adapters carry them (:mod:`harness.adapters.contracts` re-exports it).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Licence:
    """A device licence: UUID and AuthKey (§8). ``auth_key`` is a secret: its repr is redacted."""

    uuid: str
    auth_key: str = field(repr=False)
    pid: str = ""


__all__ = ["Licence"]
