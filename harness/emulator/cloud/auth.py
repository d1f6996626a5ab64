"""Who may call the lab cloud's app API and its lab controls.

A lab cloud on a LAN is reachable by everyone on it, so ``/app/v1/`` is behind credentials (ATOP, url_config,
MQTT and the OpenAPI keep the authentication firmware and Tuya's clients speak):

- **accounts** log in with the password set when the account was created (``POST /app/v1/login``) and get a
  bearer token; with it the app API acts as that account and no other (``Authorization: Bearer <token>``);
- **lab controls** (``/app/v1/lab/...``: products, licences, faults, time travel; and creating accounts) need
  the lab's **admin key** as the bearer. The admin key is not an account: it cannot act in the app API.

:class:`LabAuth` with ``admin_key=None`` is the open lab of local development (``paircert cloud serve
--no-auth``, loopback binds only): lab controls are open and an app call names its account in the
``X-Paircert-Account`` header, as before; bearer tokens still work there.

Passwords are kept as scrypt hashes (hashed off the event loop); bearer tokens as SHA-256 digests, in memory
only (a restart logs everyone out), at most :data:`MAX_SESSIONS_PER_ACCOUNT` per account, purged when expired.
Failed logins are throttled per client address. No secret ever reaches a log line.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import ipaddress
import logging
import os
import secrets
import socket
import stat
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from .limits import RateLimitedLog
from .records import CloudInputError

log = logging.getLogger(__name__)

API_PREFIX = "/app/v1"
LOGIN_PATH = f"{API_PREFIX}/login"
LAB_PREFIX = f"{API_PREFIX}/lab/"
ACCOUNTS_PATH = f"{API_PREFIX}/accounts"
# The request key the middleware stores the authenticated account under (read by app_api.AppHttp.caller):
# a typed RequestKey where aiohttp has them (3.13 and later), else the plain string.
CALLER_KEY: Any = web.RequestKey("paircert.caller", str) if hasattr(web, "RequestKey") else "paircert.caller"
ADMIN_KEY_BYTES = 32
MIN_ADMIN_KEY_LEN = 16
MIN_PASSWORD_LEN = 8
MAX_PASSWORD_LEN = 256
SESSION_TTL_S = 12 * 3600.0
MAX_SESSIONS_PER_ACCOUNT = 32
# scrypt cost (RFC 7914): N=2^14, r=8, p=1 is about 16 MB and a few tens of milliseconds per hash.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
# Failed logins: at most this many per client address in a window, then 429 until the window has passed.
LOGIN_FAILURES_ALLOWED = 10
LOGIN_FAILURE_WINDOW_S = 60.0
MAX_THROTTLED_ADDRESSES = 4096


# ------------------------------------------------------------------------------------------- passwords


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$salt$digest`` (hex) of ``password``: what an account keeps instead of its password."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches the stored hash (False for a missing or malformed hash)."""
    if not stored:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(digest) // 2)
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(got.hex(), digest)


def check_password(value: Any) -> str:
    """A password as the app API accepts it: a string of 8 to 256 characters."""
    if not isinstance(value, str) or not MIN_PASSWORD_LEN <= len(value) <= MAX_PASSWORD_LEN:
        raise AuthError("ILLEGAL_PARAM", f"password must be a string of {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} "
                                         "characters", 400)
    return value


# ------------------------------------------------------------------------------------------- admin key


def is_loopback_host(host: str) -> bool:
    """Whether binding ``host`` keeps the server on this machine (127.0.0.0/8, ::1, localhost)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    return bool(infos) and all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos)


def new_admin_key() -> str:
    """A fresh admin key: 32 random bytes, URL-safe base64."""
    return secrets.token_urlsafe(ADMIN_KEY_BYTES)


def admin_key_file(path: Path) -> tuple[str, bool]:
    """The admin key kept in ``path``, created (mode 0600, a fresh key) when the file does not exist.

    Returns ``(key, created)``. A key shorter than 16 characters, or with whitespace inside, is refused
    (ValueError naming the file); a file others may read is used but warned about.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        key = new_admin_key()
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(key + "\n")
        return key, True
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("the admin key file %s may be read by others (mode %o): chmod 600 it", path, mode & 0o777)
    key = path.read_text(encoding="utf-8").strip()
    if len(key) < MIN_ADMIN_KEY_LEN or any(c.isspace() for c in key) or not key.isprintable():
        raise ValueError(f"{path}: an admin key is one line of at least {MIN_ADMIN_KEY_LEN} printable characters "
                         "without spaces")
    return key, False


# ------------------------------------------------------------------------------------------- errors


class AuthError(CloudInputError):
    """A request the credentials check refuses: errorCode, message and HTTP status."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(code, message, status=status)


def _refusal(error: AuthError) -> web.Response:
    body = {"success": False, "errorCode": error.code, "errorMsg": error.message}
    headers = {"WWW-Authenticate": 'Bearer realm="paircert"'} if error.status == 401 else None
    return web.json_response(body, status=error.status, headers=headers)


# ------------------------------------------------------------------------------------------- sessions


class Sessions:
    """Bearer tokens of logged-in accounts, by SHA-256 digest; bounded per account, expiring on the wall clock.

    Sessions are about who talks to the lab, not about the emulated world, so they use the monotonic clock
    even when the cloud's own clock is virtual (time travel never logs the harness out).
    """

    def __init__(self, *, ttl_s: float = SESSION_TTL_S, now: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._now = now
        self._lock = threading.Lock()
        self._by_digest: dict[str, tuple[str, float]] = {}
        self._by_account: dict[str, deque[str]] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_digest)

    def issue(self, account: str) -> str:
        token = "pcs_" + secrets.token_urlsafe(32)
        digest = hashlib.sha256(token.encode()).hexdigest()
        with self._lock:
            self._purge_locked()
            mine = self._by_account.setdefault(account, deque())
            while len(mine) >= MAX_SESSIONS_PER_ACCOUNT:
                self._by_digest.pop(mine.popleft(), None)  # the oldest login of the account ends
            mine.append(digest)
            self._by_digest[digest] = (account, self._now() + self.ttl_s)
        return token

    def account_of(self, token: str) -> str | None:
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()
        with self._lock:
            found = self._by_digest.get(digest)
            if found is None:
                return None
            if found[1] <= self._now():
                self._forget_locked(digest, found[0])
                return None
            return found[0]

    def end_account(self, account: str) -> None:
        """Log every session of ``account`` out (its password changed, or it is gone)."""
        with self._lock:
            for digest in self._by_account.pop(account, ()):
                self._by_digest.pop(digest, None)

    def purge(self) -> int:
        with self._lock:
            return self._purge_locked()

    def _purge_locked(self) -> int:
        now = self._now()
        expired = [(d, a) for d, (a, until) in self._by_digest.items() if until <= now]
        for digest, account in expired:
            self._forget_locked(digest, account)
        return len(expired)

    def _forget_locked(self, digest: str, account: str) -> None:
        self._by_digest.pop(digest, None)
        mine = self._by_account.get(account)
        if mine is not None:
            if digest in mine:
                mine.remove(digest)
            if not mine:
                del self._by_account[account]


class SharedSessions(Sessions):
    """Sessions kept in the cloud's shared state, so that a login on one worker holds on all (``cloud serve
    --workers``); the monotonic clock is the machine's, the same in every worker."""

    def __init__(self, state: Any, *, ttl_s: float = SESSION_TTL_S) -> None:
        from .shared import put_session

        self._put = put_session
        super().__init__(ttl_s=ttl_s)
        self._state = state

    def __len__(self) -> int:
        with self._state.lock:
            return len(self._state.sessions)

    def issue(self, account: str) -> str:
        token = "pcs_" + secrets.token_urlsafe(32)
        digest = hashlib.sha256(token.encode()).hexdigest()
        with self._state.lock:
            mine = sorted((row["until"], d) for d, row in self._state.sessions.items() if row["account"] == account)
            for _, oldest in mine[:max(0, len(mine) - MAX_SESSIONS_PER_ACCOUNT + 1)]:
                self._put(self._state, oldest, None)  # the oldest login of the account ends
            self._put(self._state, digest, {"account": account, "until": self._now() + self.ttl_s})
        return token

    def account_of(self, token: str) -> str | None:
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()
        with self._state.lock:
            row = self._state.sessions.get(digest)
            if row is None:
                return None
            if row["until"] <= self._now():
                self._put(self._state, digest, None)
                return None
            return str(row["account"])

    def end_account(self, account: str) -> None:
        with self._state.lock:
            for digest in [d for d, row in self._state.sessions.items() if row["account"] == account]:
                self._put(self._state, digest, None)

    def purge(self) -> int:
        with self._state.lock:
            now = self._now()
            expired = [d for d, row in self._state.sessions.items() if row["until"] <= now]
            for digest in expired:
                self._put(self._state, digest, None)
            return len(expired)


class LoginThrottle:
    """Failed logins per client address in a sliding window; a bounded table (oldest addresses forgotten)."""

    def __init__(self, *, allowed: int = LOGIN_FAILURES_ALLOWED, window_s: float = LOGIN_FAILURE_WINDOW_S,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.allowed = allowed
        self.window_s = window_s
        self._now = now
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def blocked(self, address: str) -> bool:
        with self._lock:
            times = self._recent_locked(address)
            return times is not None and len(times) >= self.allowed

    def failed(self, address: str) -> None:
        with self._lock:
            times = self._recent_locked(address)
            if times is None:
                times = self._failures[address] = deque()
            times.append(self._now())
            self._failures.move_to_end(address)
            while len(self._failures) > MAX_THROTTLED_ADDRESSES:
                self._failures.popitem(last=False)

    def _recent_locked(self, address: str) -> deque[float] | None:
        times = self._failures.get(address)
        if times is None:
            return None
        horizon = self._now() - self.window_s
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            del self._failures[address]
            return None
        return times


# ------------------------------------------------------------------------------------------- the gate


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PasswordLookup = Callable[[str], str | None]


class LabAuth:
    """The credentials of one lab cloud: its admin key (None: an open lab), account logins, bearer sessions."""

    def __init__(self, admin_key: str | None, *, session_ttl_s: float = SESSION_TTL_S) -> None:
        if admin_key is not None and (len(admin_key) < MIN_ADMIN_KEY_LEN or not admin_key.isprintable()):
            raise ValueError(f"an admin key has at least {MIN_ADMIN_KEY_LEN} printable characters")
        self._admin_key = admin_key
        self.sessions = Sessions(ttl_s=session_ttl_s)
        self.throttle = LoginThrottle()
        self._passwords: PasswordLookup = lambda _account: None

    def __repr__(self) -> str:
        return f"LabAuth(required={self.required}, sessions={len(self.sessions)})"

    def __reduce__(self) -> tuple[type[LabAuth], tuple[str | None]]:
        """Pickled for another worker process (``cloud serve --workers``): the admin key only; logins and their
        sessions stay in the process that made them."""
        return LabAuth, (self._admin_key,)

    @property
    def required(self) -> bool:
        """True when the app API and the lab controls need credentials (False: the open lab of --no-auth)."""
        return self._admin_key is not None

    def use_passwords(self, lookup: PasswordLookup) -> None:
        """Where the stored password hash of an account is found (the cloud's state)."""
        self._passwords = lookup

    def is_admin_key(self, presented: str) -> bool:
        key = self._admin_key
        return key is not None and hmac.compare_digest(presented.encode("utf-8", "surrogateescape"), key.encode())

    # -- login ----------------------------------------------------------------------------------------

    async def login(self, request: web.Request, body: dict[str, Any]) -> web.Response:
        """``POST /app/v1/login`` ``{"account", "password"}`` -> ``{"token", "account", "expiresIn"}``."""
        address = request.remote or "?"
        if self.throttle.blocked(address):
            raise AuthError("TOO_MANY_ATTEMPTS", f"too many failed logins; try again in "
                                                 f"{int(self.throttle.window_s)} s", 429)
        account, password = body.get("account"), body.get("password")
        if not isinstance(account, str) or not 0 < len(account) <= 128 or not isinstance(password, str) \
                or len(password) > MAX_PASSWORD_LEN:
            raise AuthError("ILLEGAL_PARAM", "login needs {\"account\": id, \"password\": text}", 400)
        stored = self._passwords(account)
        # A missing account costs the same hash as a wrong password, so the answer time tells nothing.
        ok = await asyncio.to_thread(verify_password, password, stored or _dummy_hash())
        if not ok or stored is None:
            self.throttle.failed(address)
            _LIMITED.log(logging.INFO, "logins refused", "login refused for an account from %s", address)
            raise AuthError("LOGIN_FAILED", "unknown account or wrong password", 401)
        token = self.sessions.issue(account)
        return web.json_response({"success": True, "result": {"token": token, "account": account,
                                                              "expiresIn": int(self.sessions.ttl_s)}})

    # -- the middleware -------------------------------------------------------------------------------

    def caller(self, request: web.Request) -> str | None:
        """The account whose bearer token came with ``request`` (None: no token). AuthError for a bad one."""
        token = _bearer(request)
        if token is None:
            return None
        account = self.sessions.account_of(token)
        if account is None:
            if self.is_admin_key(token):
                raise AuthError("NOT_AN_ACCOUNT", "the admin key is for lab controls; log in as an account to "
                                                  "use the app API", 403)
            raise AuthError("TOKEN_INVALID", "the bearer token is unknown or expired; log in again", 401)
        return account

    def check_admin(self, request: web.Request) -> None:
        """Lab controls: the admin key as the bearer (nothing needed on an open lab)."""
        if not self.required:
            return
        token = _bearer(request)
        if token is None:
            raise AuthError("ADMIN_KEY_REQUIRED", "lab controls need the lab's admin key as the bearer token", 401)
        if not self.is_admin_key(token):
            if self.sessions.account_of(token) is not None:
                raise AuthError("PERMISSION_DENIED", "an account may not use lab controls; they need the admin key",
                                403)
            raise AuthError("ADMIN_KEY_REQUIRED", "wrong admin key", 401)

    def classify(self, request: web.Request) -> str:
        """``"public"`` (login), ``"admin"`` (lab controls, creating accounts) or ``"account"``."""
        path = request.path
        if path == LOGIN_PATH:
            return "public"
        if path.startswith(LAB_PREFIX) or path == LAB_PREFIX.rstrip("/") or path == ACCOUNTS_PATH:
            return "admin"
        return "account"

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Checks credentials on ``/app/v1/`` before routing (so unknown paths are not told apart unauthenticated)."""
        path = request.path
        if path != API_PREFIX and not path.startswith(API_PREFIX + "/"):
            return await handler(request)
        try:
            kind = self.classify(request)
            if kind == "admin":
                self.check_admin(request)
            elif kind == "account":
                account = self.caller(request)
                if account is not None:
                    request[CALLER_KEY] = account
                elif self.required:
                    raise AuthError("USER_SESSION_LOSS", "log in (POST /app/v1/login) and send the token as "
                                                         "'Authorization: Bearer <token>'", 401)
        except AuthError as exc:
            return _refusal(exc)
        return await handler(request)

    async def login_handler(self, request: web.Request, body: dict[str, Any]) -> web.Response:
        try:
            return await self.login(request, body)
        except AuthError as exc:
            return _refusal(exc)


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value:
        raise AuthError("TOKEN_INVALID", "expected 'Authorization: Bearer <token>'", 401)
    return value


_LIMITED = RateLimitedLog(log)


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


__all__ = [
    "ACCOUNTS_PATH", "CALLER_KEY", "LOGIN_PATH", "MAX_SESSIONS_PER_ACCOUNT", "SESSION_TTL_S", "AuthError", "LabAuth",
    "LoginThrottle", "Sessions", "admin_key_file", "check_password", "hash_password", "is_loopback_host",
    "new_admin_key", "verify_password",
]
