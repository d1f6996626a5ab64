"""OpenAPI access and refresh tokens kept in the shared store, for ``paircert cloud serve --workers N``.

A token is the project's, not one process's (PROTOCOL.md §10.4): a client logs in at one worker process and calls
another, and a refresh at one revokes the pair everywhere. Over a shared store the grants are rows of the state
(kind ``openapi-grant``, keyed by the SHA-256 of the token, never the token itself), read and written under the
state's lock, which first applies the other processes' changes. One process alone keeps them in memory
(:class:`~harness.emulator.cloud.openapi.OpenApiService`).
"""

from __future__ import annotations

import hashlib
from typing import Any

from harness.protocol.openapi import OpenApiCode

from .openapi_calls import OpenApiError
from .state import CloudState

KIND = "openapi-grant"


def _key(prefix: str, token: str) -> str:
    return prefix + hashlib.sha256(token.encode("utf-8")).hexdigest()


def keep(state: CloudState, client_id: str, access: str, refresh: str, expires_at: float, limit: int) -> None:
    """Keep a new pair for every process (the oldest rows are forgotten past ``limit``: every table bounded)."""
    access_key, refresh_key = _key("a:", access), _key("r:", refresh)
    rows: dict[str, Any] = {access_key: {"client_id": client_id, "expires_at": expires_at, "revoked": False},
                            refresh_key: {"client_id": client_id, "access": access_key, "used": False}}
    with state.lock:
        grants = state.openapi_grants
        grants.update(rows)
        changes: list[tuple[str, str, Any]] = [(KIND, key, row) for key, row in rows.items()]
        while len(grants) > limit:
            oldest = next(iter(grants))
            del grants[oldest]
            changes.append((KIND, oldest, None))
        state._save(*changes)


def check_access(state: CloudState, client_id: str, access: str, now: float) -> int | None:
    """§10.4: None when the access token is good; 1011 unknown, another project's or refreshed away; 1010 expired."""
    with state.lock:
        row = state.openapi_grants.get(_key("a:", access))
    if row is None or row.get("client_id") != client_id or row.get("revoked"):
        return int(OpenApiCode.TOKEN_INVALID)
    return int(OpenApiCode.TOKEN_EXPIRED) if now >= float(row.get("expires_at", 0)) else None


def use_refresh(state: CloudState, client_id: str, refresh: str) -> None:
    """§10.4: the refresh token works once; using it revokes its pair everywhere. OpenApiError 1012 when it was
    used before, 1011 when it is unknown or another project's."""
    key = _key("r:", refresh)
    with state.lock:
        row = state.openapi_grants.get(key)
        if row is not None and row.get("used"):
            raise OpenApiError(OpenApiCode.TOKEN_STATUS_INVALID, "token status is invalid: refresh token used")
        if row is None or row.get("client_id") != client_id:
            raise OpenApiError(OpenApiCode.TOKEN_INVALID)
        changes: list[tuple[str, str, Any]] = [(KIND, key, {**row, "used": True})]
        state.openapi_grants[key] = changes[0][2]
        access = state.openapi_grants.get(str(row.get("access")))
        if access is not None:
            state.openapi_grants[str(row["access"])] = {**access, "revoked": True}
            changes.append((KIND, str(row["access"]), state.openapi_grants[str(row["access"])]))
        state._save(*changes)


__all__ = ["KIND", "check_access", "keep", "use_refresh"]
