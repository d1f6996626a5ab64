"""The emulated OpenAPI's vocabulary (PROTOCOL.md §10.3, §10.4): a project, an authenticated call, a refusal.

Shared by the service (:mod:`harness.emulator.cloud.openapi`: signing, tokens, dispatch) and its handlers
(:mod:`harness.emulator.cloud.openapi_routes`), so that neither imports the other's module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.protocol import openapi as oa

DEFAULT_SCHEMA = "paircert"


class OpenApiError(Exception):
    """An OpenAPI refusal: answered HTTP 200 with ``{"success": false, "code", "msg"}`` (§10.3)."""

    def __init__(self, code: int, msg: str | None = None) -> None:
        self.code = int(code)
        self.msg = oa.message_for(code) if msg is None else msg
        super().__init__(f"{self.code} {self.msg}")


@dataclass(frozen=True)
class OpenApiProject:
    """A cloud project: its Access ID, Access Secret (never shown) and the OEM app schema users sync into."""

    client_id: str
    secret: str = field(repr=False)
    schema: str = DEFAULT_SCHEMA
    uid: str = ""  # what the token answer names as ``uid`` (§10.4: not established for a project token)


@dataclass
class Call:
    """One authenticated call: the project, the JSON body (``{}`` when none) and the query."""

    project: OpenApiProject
    body: dict[str, Any]
    query: dict[str, str]
    match: dict[str, str]


Handler = Callable[[Call], Any]

__all__ = ["DEFAULT_SCHEMA", "Call", "Handler", "OpenApiError", "OpenApiProject"]
