"""Sessions in signed cookies, and the CSRF token each session's forms carry.

The cookie holds ``{"u": user or "", "n": nonce}`` signed and timestamped with
itsdangerous: it cannot be forged without ``http.secret`` and expires after
``http.session_hours``. Every visitor gets a nonce (the login form needs a CSRF token
too); the token is an HMAC of the nonce, so it cannot be guessed from another session's.
Logging in issues a fresh nonce (no session fixation); logging out revokes the nonce.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "brandbot_session"
REVOKED_REMEMBERED = 10_000


@dataclass(frozen=True, slots=True)
class Session:
    user: str  # "" before login
    nonce: str


class SessionCodec:
    """Signs, reads and revokes session cookies; makes and checks CSRF tokens."""

    def __init__(self, secret: str, max_age_seconds: float) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="brandbot-web-session")
        self._csrf_key = hashlib.sha256(b"brandbot-web-csrf:" + secret.encode()).digest()
        self._max_age = int(max_age_seconds)
        self._revoked: OrderedDict[str, None] = OrderedDict()

    @staticmethod
    def fresh(user: str = "") -> Session:
        return Session(user, secrets.token_urlsafe(24))

    def dump(self, session: Session) -> str:
        return self._serializer.dumps({"u": session.user, "n": session.nonce})

    def load(self, cookie: str | None) -> Session | None:
        """The session in a cookie; None if missing, forged, expired or logged out."""
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=self._max_age)
        except BadSignature:  # SignatureExpired is a BadSignature too
            return None
        if not isinstance(data, dict) or not isinstance(data.get("u"), str) or not isinstance(data.get("n"), str):
            return None
        if data["n"] in self._revoked:
            return None
        return Session(data["u"], data["n"])

    def revoke(self, session: Session) -> None:
        """Logged out: the cookie stops working even if someone kept a copy."""
        self._revoked[session.nonce] = None
        while len(self._revoked) > REVOKED_REMEMBERED:
            self._revoked.popitem(last=False)

    def csrf_token(self, session: Session) -> str:
        return hmac.new(self._csrf_key, session.nonce.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session: Session, token: str) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(session), token)


__all__ = ["COOKIE", "Session", "SessionCodec"]
