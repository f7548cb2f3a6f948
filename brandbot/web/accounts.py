"""Staff logins: argon2 password hashes from the config, checked in constant work.

Passwords are never stored or compared in plain text: ``brandbot hash-password`` prints
the hash the config holds. An unknown login name still costs one hash check, so the
answer time does not tell which names exist.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from brandbot.core.config import WebAccount

STAFF, VIEWER = "staff", "viewer"

_HASHER = PasswordHasher()
# Checked for unknown names, so a wrong name costs what a wrong password costs.
_DECOY = _HASHER.hash("not a password of anyone")


@dataclass(frozen=True, slots=True)
class User:
    """Who is logged in, and whether they may change anything."""

    name: str
    role: str

    @property
    def can_act(self) -> bool:
        return self.role == STAFF


def hash_password(password: str) -> str:
    """The argon2id hash to write under ``http.accounts.<name>.password``."""
    if len(password) < 10:
        raise ValueError("choose a password of at least 10 characters")
    return _HASHER.hash(password)


def check_login(accounts: Mapping[str, WebAccount], name: str, password: str) -> User | None:
    """The user if ``name`` and ``password`` match an account, else None."""
    account = accounts.get(name)
    try:
        _HASHER.verify(account.password if account is not None else _DECOY, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    return User(name, account.role) if account is not None else None


def user_of(accounts: Mapping[str, WebAccount], name: str) -> User | None:
    """The user a session names, if the account still exists (a removed account logs out)."""
    account = accounts.get(name)
    return User(name, account.role) if account is not None else None


class LoginThrottle:
    """At most ``limit`` failed logins per name within ``window`` seconds; then that name waits.

    Keyed by the name tried, not the address: behind a reverse proxy every visitor comes
    from 127.0.0.1. Someone guessing can lock a name out for a while, never get in.
    """

    def __init__(self, limit: int = 10, window: float = 900.0) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}

    def wait(self, name: str, now: float) -> float:
        """Seconds until ``name`` may try again (0: now)."""
        recent = self._recent(name, now)
        return recent[0] + self.window - now if len(recent) >= self.limit else 0.0

    def failed(self, name: str, now: float) -> None:
        self._recent(name, now).append(now)
        if len(self._failures) > 10_000:  # names nobody tries any more
            for key in [k for k, v in self._failures.items() if not v or v[-1] <= now - self.window]:
                del self._failures[key]

    def succeeded(self, name: str) -> None:
        self._failures.pop(name, None)

    def _recent(self, name: str, now: float) -> deque[float]:
        recent = self._failures.setdefault(name, deque())
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        return recent


__all__ = ["STAFF", "VIEWER", "LoginThrottle", "User", "check_login", "hash_password", "user_of"]
