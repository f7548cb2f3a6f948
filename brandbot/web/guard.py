"""The door: who is logged in, what they may do, and the headers every page carries.

One aiohttp middleware in front of everything the server answers:

- ``/healthz`` and ``/static/`` are open (a supervisor probes the one; the other is CSS);
- ``/metrics`` needs a session or HTTP Basic credentials of an account (Prometheus has
  ``basic_auth``);
- every other page needs a login: a visitor without one is sent to ``/login``;
- every POST (the login form included) must carry the session's CSRF token, and only the
  ``staff`` role may POST anything but ``/logout``.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Middleware

from brandbot.core.config import WebAccount
from brandbot.web.accounts import LoginThrottle, User, check_login, user_of
from brandbot.web.sessions import COOKIE, Session, SessionCodec

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SECURITY_HEADERS = {
    # No inline script or style, nothing from another origin: an injected tag does nothing.
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                                "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def redirect(location: str) -> web.Response:
    """303 See Other: after a POST the browser GETs the page (no resubmission on reload)."""
    return web.Response(status=303, headers={"Location": location})


def safe_next(target: str | None) -> str:
    """Where to go after login: a path on this site only (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def basic_credentials(header: str) -> tuple[str, str] | None:
    """(name, password) from an ``Authorization: Basic`` header, if it is one."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        name, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (name, password) if sep else None


def basic_user(accounts: Mapping[str, WebAccount], header: str, throttle: LoginThrottle) -> User | None:
    """The account an ``Authorization: Basic`` header names, if its password is right and the
    name is not waiting after too many failures (the same throttle as the login form)."""
    credentials = basic_credentials(header)
    if credentials is None or throttle.wait(credentials[0], time.monotonic()) > 0:
        return None
    user = check_login(accounts, *credentials)
    if user is None:
        throttle.failed(credentials[0], time.monotonic())
    return user


SESSION = web.RequestKey("brandbot_session", Session)
USER = web.RequestKey("brandbot_user", User)


def session_of(request: web.Request) -> Session:
    return request[SESSION]


def current_user(request: web.Request) -> User | None:
    return request.get(USER)


def set_session(response: web.StreamResponse, codec: SessionCodec, session: Session, *, secure: bool,
                max_age: float) -> None:
    response.set_cookie(COOKIE, codec.dump(session), httponly=True, samesite="Strict", secure=secure,
                        max_age=int(max_age), path="/")


def make_guard(codec: SessionCodec, accounts: Callable[[], Mapping[str, WebAccount]], throttle: LoginThrottle, *,
               secure: bool, max_age: float) -> Middleware:
    """The middleware; ``accounts`` is read per request so a config reload takes effect."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        session = codec.load(request.cookies.get(COOKIE))
        issued = session is None
        if session is None:
            session = codec.fresh()
        request[SESSION] = session
        user = user_of(accounts(), session.user) if session.user else None
        if user is not None:
            request[USER] = user
        response = await _decide(request, handler, session)
        if issued and not response.prepared and "Set-Cookie" not in response.headers:
            set_session(response, codec, session, secure=secure, max_age=max_age)
        if not response.prepared:
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    async def _decide(request: web.Request, handler: Handler, session: Session) -> web.StreamResponse:
        path = request.path
        if path == "/healthz" or path.startswith("/static/"):
            return await handler(request)
        user = current_user(request)
        if path == "/metrics":
            if user is None and basic_user(accounts(), request.headers.get("Authorization", ""), throttle) is None:
                return web.Response(status=401, text="log in, or scrape with basic_auth of an http.accounts login",
                                    headers={"WWW-Authenticate": 'Basic realm="brandbot"'})
            return await handler(request)
        if path != "/login" and user is None:
            return redirect("/login?next=" + quote(request.path_qs, safe="/"))
        if request.method == "POST":
            form = await request.post()
            token = str(form.get("csrf", "")) or request.headers.get("X-CSRF-Token", "")
            if not codec.csrf_ok(session, token):
                return web.Response(status=403, text="the form expired or did not come from this site: "
                                    "reload the page and try again")
            if user is not None and not user.can_act and path != "/logout":
                return web.Response(status=403, text=f"{user.name} has the read-only role (viewer)")
        return await handler(request)

    return guard


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every response, streams included (``on_response_prepare``)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


__all__ = ["SECURITY_HEADERS", "add_security_headers", "basic_credentials", "basic_user", "current_user", "make_guard", "redirect", "safe_next", "session_of",
           "set_session"]
