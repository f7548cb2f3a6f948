"""A fake Mastodon instance's REST API on 127.0.0.1, for Mastodon.py and brandbot's adapter.

Enough of the API with Mastodon's own shapes: ``verify_credentials``, ``/api/v2/instance``
(the status limit), ``/api/v1/notifications`` with ``min_id``/``since_id``/``limit`` paging
(newest first, like the server), statuses as HTML, ``POST /api/v1/statuses`` with the
``Idempotency-Key`` header honoured as the server does (the same key returns the status
posted the first time), ``X-RateLimit-*`` headers over a 300-requests-per-5-minutes window
counted on the fake's clock, and JSON ``{"error": ...}`` bodies.
"""

from __future__ import annotations

import html
import itertools
import json
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from aiohttp import web

from brandbot.clocks import Clock, SystemClock
from tests.fake_failures import FakeService

TOKEN = "mastodon-test-token-4f9a"
DOMAIN = "fake.social"

# Endpoint names for fail_next / calls_to.
VERIFY = "verify_credentials"
INSTANCE = "instance"
NOTIFICATIONS = "notifications"
STATUS = "status"
POST_STATUS = "post_status"
ACCOUNT = "account"


class FakeMastodon(FakeService):
    """One Mastodon instance with the brand's account, in memory."""

    def __init__(self, *, clock: Clock | None = None, max_characters: int = 500, instance_v2: bool = True,
                 requests_per_window: int = 300) -> None:
        super().__init__(clock or SystemClock(), requests_per_window, 300.0)
        self.max_characters = max_characters
        self.instance_v2 = instance_v2
        self.accounts: dict[str, dict[str, Any]] = {}
        self.statuses: dict[str, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []  # oldest first
        self.posted: list[dict[str, Any]] = []  # statuses the brand created through the API
        self.idempotency: dict[str, str] = {}  # Idempotency-Key -> status id
        self._ids = itertools.count(110_000_000_000_000_001)
        self.brand = self.add_account("brand", "The Brand")

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FakeMastodon:
        app = web.Application()
        app.router.add_get("/api/v1/accounts/verify_credentials", self._verify)
        for slash in ("", "/"):  # Mastodon.py asks for /api/v2/instance/; Rails serves both
            app.router.add_get(f"/api/v2/instance{slash}", self._instance_v2)
            app.router.add_get(f"/api/v1/instance{slash}", self._instance_v1)
        app.router.add_get("/api/v1/notifications", self._notifications)
        app.router.add_get("/api/v1/statuses/{id}", self._status)
        app.router.add_get("/api/v1/accounts/{id}", self._account)
        app.router.add_post("/api/v1/statuses", self._post_status)
        await self.serve(app)
        return self

    # ------------------------------------------------------------------ test controls

    def add_account(self, username: str, display_name: str = "", domain: str | None = None) -> dict[str, Any]:
        account_id = self._next_id()
        acct = f"{username}@{domain}" if domain else username
        account = {"id": account_id, "username": username, "acct": acct, "display_name": display_name,
                   "url": f"https://{domain or DOMAIN}/@{username}", "created_at": self._now(),
                   "locked": False, "bot": False, "note": "", "avatar": "", "header": "",
                   "followers_count": 0, "following_count": 0, "statuses_count": 0, "fields": [], "emojis": []}
        self.accounts[account_id] = account
        return account

    def brand_status(self, text: str, visibility: str = "public", spoiler_text: str = "") -> str:
        return str(self._new_status(self.brand, text, visibility=visibility, spoiler_text=spoiler_text)["id"])

    def push_mention(self, account: dict[str, Any], text: str, *, visibility: str = "public",
                     in_reply_to: str | None = None, spoiler_text: str = "") -> str:
        """``account`` posts a status naming the brand (a reply when ``in_reply_to`` is a brand status)."""
        status = self._new_status(account, text, visibility=visibility, in_reply_to=in_reply_to,
                                  spoiler_text=spoiler_text, mention_brand=True)
        self._notify("mention", account, status)
        return str(status["id"])

    def push_quote(self, account: dict[str, Any], text: str, of: str) -> str:
        status = self._new_status(account, text, quote_of=of)
        self._notify("quote", account, status)
        return str(status["id"])

    def push_reblog(self, account: dict[str, Any], status_id: str) -> str:
        return str(self._notify("reblog", account, self.statuses[status_id])["id"])

    def push_favourite(self, account: dict[str, Any], status_id: str) -> str:
        return str(self._notify("favourite", account, self.statuses[status_id])["id"])

    def push_follow(self, account: dict[str, Any]) -> str:
        return str(self._notify("follow", account, None)["id"])

    def push_other(self, kind: str, account: dict[str, Any], status_id: str | None = None) -> str:
        """A notification brandbot does not handle (poll ended, status edited, admin.sign_up)."""
        status = self.statuses[status_id] if status_id else None
        return str(self._notify(kind, account, status)["id"])

    def delete_status(self, status_id: str) -> None:
        self.statuses.pop(status_id, None)

    # ------------------------------------------------------------------ model

    def _next_id(self) -> str:
        return str(next(self._ids))

    def _now(self) -> str:
        return self.clock.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    def _new_status(self, account: dict[str, Any], text: str, *, visibility: str = "public",
                    in_reply_to: str | None = None, spoiler_text: str = "", mention_brand: bool = False,
                    quote_of: str | None = None) -> dict[str, Any]:
        body = html.escape(text).replace("\n", "<br />")
        if mention_brand:
            body = ('<span class="h-card"><a href="https://fake.social/@brand" class="u-url mention">'
                    f"@<span>brand</span></a></span> {body}")
        parent = self.statuses.get(in_reply_to) if in_reply_to else None
        quoted = self.statuses.get(quote_of) if quote_of else None
        status = {
            "id": self._next_id(), "created_at": self._now(), "account": account,
            "in_reply_to_id": in_reply_to, "in_reply_to_account_id": parent["account"]["id"] if parent else None,
            "visibility": visibility, "spoiler_text": spoiler_text, "sensitive": bool(spoiler_text),
            "content": f"<p>{body}</p>", "uri": "", "url": None, "replies_count": 0, "reblogs_count": 0,
            "favourites_count": 0, "mentions": [], "tags": [], "emojis": [], "media_attachments": [],
            "reblog": None, "language": "en",
            "quote": {"state": "accepted", "quoted_status": quoted} if quoted else None,
        }
        self.statuses[status["id"]] = status
        return status

    def _notify(self, kind: str, account: dict[str, Any], status: dict[str, Any] | None) -> dict[str, Any]:
        note = {"id": self._next_id(), "type": kind, "created_at": self._now(), "account": account, "status": status}
        self.notifications.append(note)
        return note

    # ------------------------------------------------------------------ HTTP

    async def _begin(self, request: web.Request, endpoint: str) -> web.Response | None:
        """Record the call, check the token and the rate window, play scripted failures."""
        failure = await self.record(request, endpoint)
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._json({"error": "The access token is invalid"}, 401)
        if failure is not None:
            return self._json({"error": failure.body}, failure.status)
        return None

    def _json(self, body: Any, status: int = 200) -> web.Response:
        now = self.clock.now()
        reset = datetime.fromtimestamp(self.window.reset_at, tz=UTC)
        headers = {
            "X-RateLimit-Limit": str(self.window.limit),
            "X-RateLimit-Remaining": str(self.window.remaining),
            "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "Date": format_datetime(now.astimezone(UTC), usegmt=True),
        }
        return web.Response(text=json.dumps(body), status=status, content_type="application/json", headers=headers)

    async def _verify(self, request: web.Request) -> web.Response:
        return await self._begin(request, VERIFY) or self._json(self.brand)

    async def _instance_v2(self, request: web.Request) -> web.Response:
        failed = await self._begin(request, INSTANCE)
        if failed is not None:
            return failed
        if not self.instance_v2:
            return self._json({"error": "Record not found"}, 404)
        return self._json({"domain": DOMAIN, "title": "Fake", "version": "4.5.0",
                           "configuration": {"statuses": {"max_characters": self.max_characters,
                                                          "characters_reserved_per_url": 23}}})

    async def _instance_v1(self, request: web.Request) -> web.Response:
        return await self._begin(request, INSTANCE) or self._json(
            {"uri": DOMAIN, "title": "Fake", "version": "3.5.0", "max_toot_chars": self.max_characters})

    async def _notifications(self, request: web.Request) -> web.Response:
        failed = await self._begin(request, NOTIFICATIONS)
        if failed is not None:
            return failed
        query = request.query
        limit = min(80, int(query.get("limit", "40")))
        notes = self.notifications
        if "min_id" in query:  # the page right after min_id, oldest of the newer ones
            newer = [n for n in notes if int(n["id"]) > int(query["min_id"])]
            page = newer[:limit]
        else:
            since = int(query.get("since_id", "0"))
            page = [n for n in notes if int(n["id"]) > since][-limit:]
        return self._json(list(reversed(page)))

    async def _status(self, request: web.Request) -> web.Response:
        failed = await self._begin(request, STATUS)
        if failed is not None:
            return failed
        status = self.statuses.get(request.match_info["id"])
        return self._json(status) if status else self._json({"error": "Record not found"}, 404)

    async def _account(self, request: web.Request) -> web.Response:
        failed = await self._begin(request, ACCOUNT)
        if failed is not None:
            return failed
        account = self.accounts.get(request.match_info["id"])
        return self._json(account) if account else self._json({"error": "Record not found"}, 404)

    async def _post_status(self, request: web.Request) -> web.Response:
        failed = await self._begin(request, POST_STATUS)
        if failed is not None:
            return failed
        form = dict(await request.post()) if request.content_type != "application/json" else await request.json()
        key = request.headers.get("Idempotency-Key")
        if key is not None and key in self.idempotency:
            return self._json(self.statuses[self.idempotency[key]])
        text = str(form.get("status", ""))
        spoiler = str(form.get("spoiler_text", ""))
        if len(text) + len(spoiler) > self.max_characters:
            return self._json({"error": f"Validation failed: Text character limit of {self.max_characters} exceeded"},
                              422)
        reply_to = form.get("in_reply_to_id")
        if reply_to and str(reply_to) not in self.statuses:
            return self._json({"error": "Record not found"}, 404)
        status = self._new_status(self.brand, text, visibility=str(form.get("visibility", "public")),
                                  in_reply_to=str(reply_to) if reply_to else None, spoiler_text=spoiler)
        status["content"] = f"<p>{html.escape(text)}</p>"
        if key is not None:
            self.idempotency[key] = status["id"]
        self.posted.append({**status, "text": text, "idempotency_key": key})
        await self.changed()
        return self._json(status)
