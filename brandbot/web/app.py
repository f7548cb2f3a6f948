"""The staff web UI, served by the bot process beside ``/healthz`` and ``/metrics``.

``install(bot)`` adds it to the bot's HTTP server (``http.enabled`` with
``http.accounts``): the runtime knows nothing of it, it only serves what is mounted
(``Bot.http_mounts``), so the layers still point one way (ops -> web -> runtime).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from brandbot.web import inbox, people
from brandbot.web.accounts import LoginThrottle, check_login
from brandbot.web.advocates import advocates_context, advocates_data
from brandbot.web.audit import AuditLog
from brandbot.web.guard import (
    Handler,
    add_security_headers,
    current_user,
    make_guard,
    redirect,
    safe_next,
    session_of,
    set_session,
)
from brandbot.web.numbers import RangeError, day_range
from brandbot.web.overview import overview_context, overview_data
from brandbot.web.queries import NoDatabase, Queries
from brandbot.web.render import environment, render

if TYPE_CHECKING:
    from brandbot.runtime.bot import Bot

log = logging.getLogger("brandbot.web")

STATIC = Path(__file__).parent / "static"
NAV = (("/", "Overview"), ("/people", "People"), ("/inbox", "Inbox"), ("/advocates", "Advocates"),
       ("/audit", "Audit log"))

View = Callable[["WebUI", web.Request], Awaitable[web.StreamResponse]]


class WebUI:
    """The pages, bound to one running bot."""

    def __init__(self, bot: Bot) -> None:
        from brandbot.web.sessions import SessionCodec

        http = bot.config.top.http
        self.bot = bot
        self.codec = SessionCodec(http.secret, http.session_hours * 3600)
        self.env = environment()
        self.queries = Queries(bot.config.storage_path)
        self.audit = AuditLog(bot.store, bot.clock)
        self.throttle = LoginThrottle()

    # -- wiring ------------------------------------------------------------------------
    def mount(self, app: web.Application) -> None:
        http = self.bot.config.top.http
        app.middlewares.append(make_guard(self.codec, lambda: self.bot.config.top.http.accounts, self.throttle,
                                          secure=http.secure_cookies, max_age=http.session_hours * 3600))
        app.middlewares.append(_no_database)
        app.on_response_prepare.append(add_security_headers)
        app.on_cleanup.append(self._close)
        get, post = app.router.add_get, app.router.add_post
        get("/login", self.login_page)
        post("/login", self.login)
        post("/logout", self.logout)
        get("/", self._view(overview))
        get("/people", self._view(people.search))
        get("/people/{id}", self._view(people.person))
        post("/people/{id}/tag", self._view(people.tag))
        post("/people/{id}/points", self._view(people.points))
        post("/people/{id}/export", self._view(people.export))
        get("/people/{id}/forget", self._view(people.confirm_forget))
        post("/people/{id}/forget", self._view(people.forget))
        get("/inbox", self._view(inbox.inbox))
        get("/inbox/list", self._view(inbox.inbox_list))
        get("/inbox/stream", self._view(inbox.stream))
        post("/inbox/answer", self._view(inbox.answer))
        post("/inbox/assign", self._view(inbox.assign))
        post("/inbox/release", self._view(inbox.release))
        get("/advocates", self._view(advocates))
        get("/audit", self._view(audit))
        app.router.add_static("/static/", STATIC, append_version=False)

    def _view(self, view: View) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        return functools.partial(view, self)

    async def _close(self, app: web.Application) -> None:
        await self.queries.close()

    # -- rendering ---------------------------------------------------------------------
    def page(self, request: web.Request, template: str, title: str, *, status: int = 200,
             **context: Any) -> web.Response:
        user = current_user(request)
        html = render(self.env, template, title=title, brand=str(self.bot.config.brand.get("name", "")),
                      user=user, csrf=self.codec.csrf_token(session_of(request)), nav=NAV, path=request.path,
                      **context)
        return web.Response(text=html, status=status, content_type="text/html")

    # -- login -------------------------------------------------------------------------
    async def login_page(self, request: web.Request, error: str = "", status: int = 200) -> web.StreamResponse:
        return self.page(request, "login.html", "Log in", status=status, error=error,
                         next=safe_next(request.query.get("next")))

    async def login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        name = str(form.get("name", ""))[:100]
        wait = self.throttle.wait(name, time.monotonic())
        if wait > 0:
            log.warning("web: login for %r from %s refused: too many failures", name, request.remote)
            return await self.login_page(request, f"Too many failed logins for this name; try again in "
                                         f"{max(1, round(wait / 60))} min.", 429)
        user = check_login(self.bot.config.top.http.accounts, name, str(form.get("password", "")))
        if user is None:
            self.throttle.failed(name, time.monotonic())
            log.warning("web: failed login for %r from %s", name, request.remote)
            return await self.login_page(request, "Wrong name or password.", 401)
        self.throttle.succeeded(name)
        self.codec.revoke(session_of(request))
        response = redirect(safe_next(str(form.get("next", "/"))))
        http = self.bot.config.top.http
        set_session(response, self.codec, self.codec.fresh(user.name), secure=http.secure_cookies,
                    max_age=http.session_hours * 3600)
        self.audit.record(user.name, "login", "web UI", str(request.remote or ""))
        return response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        session = session_of(request)
        self.codec.revoke(session)
        if session.user:
            self.audit.record(session.user, "logout", "web UI")
        response = redirect("/login")
        response.del_cookie("brandbot_session", path="/")
        return response


@web.middleware
async def _no_database(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A bot without a database file (``:memory:``) still serves the UI, saying why it is empty."""
    try:
        return await handler(request)
    except NoDatabase as exc:
        return web.Response(status=503, text=str(exc))


# -- the read-only pages --------------------------------------------------------------------
async def overview(ui: WebUI, request: web.Request) -> web.StreamResponse:
    today = ui.bot.clock.now().date()
    try:
        days = day_range(today, request.query.get("from"), request.query.get("to"))
        error = ""
    except RangeError as exc:
        days, error = day_range(today, None, None), str(exc)
    handoffs = len(await inbox.open_handoffs(ui.bot))
    data = await overview_data(ui.queries, days, today, handoffs_open=handoffs,
                               budget=ui.bot.config.top.policy.daily_cost_budget)
    return ui.page(request, "overview.html", "Overview", status=400 if error else 200, error=error,
                   **overview_context(data))


async def advocates(ui: WebUI, request: web.Request) -> web.StreamResponse:
    data = await advocates_data(ui.queries, ui.bot.people, ui.bot.clock.now())
    return ui.page(request, "advocates.html", "Advocates", **advocates_context(data, live=True))


async def audit(ui: WebUI, request: web.Request) -> web.StreamResponse:
    return ui.page(request, "audit.html", "Audit log", lines=await ui.audit.latest())


def install(bot: Bot) -> WebUI:
    """Serve the staff web UI from the bot's HTTP server when it starts."""
    ui = WebUI(bot)
    bot.http_mounts.append(ui.mount)
    return ui


__all__ = ["NAV", "WebUI", "advocates", "audit", "install", "overview"]
