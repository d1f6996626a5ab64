"""What the ``remote`` cloud adapter presents to a lab cloud with credentials (``paircert cloud serve``).

:class:`LabLogins` holds the lab's admin key (for lab controls) and, per account the adapter created, the random
password it gave it and the bearer token of its login. A token is fetched on first use and fetched again when the
cloud forgot it (a restart); a cloud without a login route gets the account named in ``X-Paircert-Account``.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable

from harness import redaction

ACCOUNT_HEADER = "X-Paircert-Account"
PASSWORD_BYTES = 24
# login(account, password) -> the bearer token, or None when the cloud has no login route
Login = Callable[[str, str], str | None]


class LabLogins:
    """The admin key and the accounts' passwords and sessions; every secret is taught to the redactor."""

    def __init__(self, admin_key: str | None) -> None:
        self.admin_key = admin_key or None
        if self.admin_key is not None:
            redaction.learn(self.admin_key)
        self._lock = threading.Lock()
        self._passwords: dict[str, str] = {}
        self._sessions: dict[str, str | None] = {}

    def __repr__(self) -> str:
        return f"LabLogins(admin_key={'set' if self.admin_key else 'none'}, accounts={len(self._passwords)})"

    def new_password(self) -> str:
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        redaction.learn(password)
        return password

    def remember(self, account: str, password: str) -> None:
        with self._lock:
            self._passwords[account] = password

    def forget_session(self, account: str) -> bool:
        """Drop the account's token; whether the adapter can log in as it again (it knows its password)."""
        with self._lock:
            self._sessions.pop(account, None)
            return account in self._passwords

    def headers(self, account: str | None, *, admin: bool, login: Login) -> dict[str, str]:
        """The credentials of one call: the admin key, the account's bearer token, or the account's name."""
        if admin and self.admin_key is not None:
            return {"Authorization": f"Bearer {self.admin_key}"}
        if account is None:
            return {}
        token = self._token(account, login)
        return {"Authorization": f"Bearer {token}"} if token is not None else {ACCOUNT_HEADER: account}

    def _token(self, account: str, login: Login) -> str | None:
        with self._lock:
            if account in self._sessions:
                return self._sessions[account]
            password = self._passwords.get(account)
        if password is None:
            return None  # an account made elsewhere: only an open lab lets the adapter act as it
        token = login(account, password)
        if token is not None:
            redaction.learn(token)
        with self._lock:
            self._sessions[account] = token
        return token


__all__ = ["ACCOUNT_HEADER", "LabLogins", "Login"]
