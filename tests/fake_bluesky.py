"""A fake Bluesky PDS (XRPC over HTTP) on 127.0.0.1, for atproto's client and brandbot's adapter.

What the adapter uses, with the PDS's shapes: createSession/refreshSession with JWTs that
carry an ``exp`` (so the client refreshes them itself), ``ExpiredToken`` errors for a
token past its time, listNotifications newest first with a cursor into the past,
getPosts, resolveHandle, createRecord/getRecord with TID record keys (a second create
under the same key is refused like a PDS refuses it), ``ratelimit-*`` headers and 429s.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import time
from datetime import UTC, timedelta
from typing import Any

from aiohttp import web

from brandbot.clocks import Clock, SystemClock
from brandbot.networks.skytext import is_tid, tid
from tests.fake_failures import FakeService

HANDLE = "brand.fake.social"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"

# Endpoint names (the XRPC method ids) for fail_next / calls_to.
CREATE_SESSION = "com.atproto.server.createSession"
REFRESH_SESSION = "com.atproto.server.refreshSession"
LIST_NOTIFICATIONS = "app.bsky.notification.listNotifications"
GET_POSTS = "app.bsky.feed.getPosts"
RESOLVE_HANDLE = "com.atproto.identity.resolveHandle"
CREATE_RECORD = "com.atproto.repo.createRecord"
GET_RECORD = "com.atproto.repo.getRecord"
GET_PROFILE = "app.bsky.actor.getProfile"


def _jwt(payload: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'typ': 'at+jwt', 'alg': 'ES256K'})}.{part(payload)}.c2lnbmF0dXJl"


def cid_of(data: Any) -> str:
    """A CIDv1 (dag-cbor, sha-256) look-alike: 'bafyrei' and 52 base32 characters."""
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).digest()
    return "bafyrei" + base64.b32encode(digest).decode().lower().rstrip("=")[:52]


class FakeBluesky(FakeService):
    """One PDS hosting the brand's account, plus the other accounts tests need."""

    def __init__(self, *, clock: Clock | None = None, token_lifetime: float = 7200.0,
                 duplicate_status: int = 400) -> None:
        super().__init__(clock or SystemClock(), 3000, 300.0)
        self.token_lifetime = token_lifetime
        self.duplicate_status = duplicate_status  # 400 with an error name (newer PDS) or 500 (older)
        self.accounts: dict[str, dict[str, Any]] = {}  # did -> profile
        self.records: dict[str, dict[str, Any]] = {}  # uri -> {"uri", "cid", "value", "indexedAt"}
        self.notifications: list[dict[str, Any]] = []  # oldest first
        self.posted: list[dict[str, Any]] = []  # records the brand created through the API
        self.sessions_created = 0
        self.refreshes = 0
        self._access: dict[str, float] = {}  # access JWT -> expiry (epoch seconds, real time like the client)
        self._refresh: set[str] = set()
        self._serial = itertools.count(1)
        self._tick = itertools.count(1)
        self.brand = self.add_account("brand", "The Brand", handle=HANDLE)

    async def start(self) -> FakeBluesky:
        app = web.Application()
        app.router.add_route("*", "/xrpc/{method}", self._dispatch)
        await self.serve(app)
        return self

    # ------------------------------------------------------------------ test controls

    def add_account(self, name: str, display_name: str = "", handle: str | None = None) -> dict[str, Any]:
        did = "did:plc:" + base64.b32encode(hashlib.sha256(name.encode()).digest()).decode().lower()[:24]
        profile = {"did": did, "handle": handle or f"{name}.fake.social", "displayName": display_name,
                   "labels": [], "createdAt": self._now()}
        self.accounts[did] = profile
        return profile

    def brand_post(self, text: str) -> str:
        return self._new_post(self.brand, text)["uri"]

    def push_mention(self, author: dict[str, Any], text: str) -> str:
        post = self._new_post(author, f"@{HANDLE} {text}")
        self._notify("mention", author, post)
        return post["uri"]

    def push_reply(self, author: dict[str, Any], text: str, to: str) -> str:
        post = self._new_post(author, text, reply_to=to)
        self._notify("reply", author, post, subject=to)
        return post["uri"]

    def push_quote(self, author: dict[str, Any], text: str, of: str) -> str:
        post = self._new_post(author, text, quote=of)
        self._notify("quote", author, post, subject=of)
        return post["uri"]

    def push_repost(self, author: dict[str, Any], of: str) -> str:
        return self._subject_record("app.bsky.feed.repost", "repost", author, of)

    def push_like(self, author: dict[str, Any], of: str) -> str:
        return self._subject_record("app.bsky.feed.like", "like", author, of)

    def push_follow(self, author: dict[str, Any]) -> str:
        record = self._put(author["did"], "app.bsky.graph.follow",
                           {"$type": "app.bsky.graph.follow", "subject": self.brand["did"], "createdAt": self._now()})
        self._notify("follow", author, record)
        return record["uri"]

    def push_other(self, reason: str, author: dict[str, Any]) -> str:
        record = self._put(author["did"], "app.bsky.graph.starterpack",
                           {"$type": "app.bsky.graph.starterpack", "name": "pack", "createdAt": self._now()})
        self._notify(reason, author, record)
        return record["uri"]

    def delete(self, uri: str) -> None:
        self.records.pop(uri, None)

    def expire_tokens(self) -> None:
        """Every access token issued so far is past its time on the server's side."""
        for token in self._access:
            self._access[token] = 0.0

    # ------------------------------------------------------------------ model

    def _now(self) -> str:
        # Every record gets a distinct time, a millisecond apart, like a busy PDS.
        moment = self.clock.now().astimezone(UTC) + timedelta(milliseconds=next(self._tick))
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def _rkey(self) -> str:
        return tid(int(time.time() * 1_000_000) + next(self._serial), 7)

    def _put(self, did: str, collection: str, value: dict[str, Any], rkey: str | None = None) -> dict[str, Any]:
        uri = f"at://{did}/{collection}/{rkey or self._rkey()}"
        record = {"uri": uri, "cid": cid_of([uri, value]), "value": value, "indexedAt": self._now(), "did": did}
        self.records[uri] = record
        return record

    def _strong(self, uri: str) -> dict[str, str]:
        return {"uri": uri, "cid": self.records[uri]["cid"]}

    def _new_post(self, author: dict[str, Any], text: str, *, reply_to: str | None = None,
                  quote: str | None = None) -> dict[str, Any]:
        value: dict[str, Any] = {"$type": "app.bsky.feed.post", "text": text, "createdAt": self._now(), "langs": ["en"]}
        if reply_to is not None:
            parent = self.records[reply_to]
            root = parent["value"].get("reply", {}).get("root") or self._strong(reply_to)
            value["reply"] = {"root": root, "parent": self._strong(reply_to)}
        if quote is not None:
            value["embed"] = {"$type": "app.bsky.embed.record", "record": self._strong(quote)}
        return self._put(author["did"], "app.bsky.feed.post", value)

    def _subject_record(self, collection: str, reason: str, author: dict[str, Any], of: str) -> str:
        record = self._put(author["did"], collection,
                           {"$type": collection, "subject": self._strong(of), "createdAt": self._now()})
        self._notify(reason, author, record, subject=of)
        return record["uri"]

    def _notify(self, reason: str, author: dict[str, Any], record: dict[str, Any], subject: str | None = None) -> None:
        note = {"uri": record["uri"], "cid": record["cid"], "author": author, "reason": reason,
                "record": record["value"], "isRead": False, "indexedAt": record["indexedAt"], "labels": []}
        if subject is not None:
            note["reasonSubject"] = subject
        self.notifications.append(note)

    # ------------------------------------------------------------------ HTTP

    def _issue(self, did: str) -> dict[str, Any]:
        now = time.time()
        access = _jwt({"scope": "com.atproto.appPass", "sub": did, "iat": int(now), "exp": int(now + self.token_lifetime),
                       "jti": str(next(self._serial))})
        refresh = _jwt({"scope": "com.atproto.refresh", "sub": did, "iat": int(now), "exp": int(now + 90 * 86400),
                        "jti": str(next(self._serial))})
        self._access[access] = now + self.token_lifetime
        self._refresh.add(refresh)
        profile = self.accounts[did]
        return {"accessJwt": access, "refreshJwt": refresh, "handle": profile["handle"], "did": did, "active": True}

    def _json(self, body: Any, status: int = 200) -> web.Response:
        headers = {"ratelimit-limit": str(self.window.limit), "ratelimit-remaining": str(self.window.remaining),
                   "ratelimit-reset": str(int(self.window.reset_at)), "ratelimit-policy": "3000;w=300"}
        return web.Response(text=json.dumps(body), status=status, content_type="application/json", headers=headers)

    def _error(self, status: int, error: str, message: str) -> web.Response:
        return self._json({"error": error, "message": message}, status)

    async def _dispatch(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body = await request.json() if request.method == "POST" and request.can_read_body else None
        failure = await self.record(request, method, body)
        if failure is not None:
            error = {429: "RateLimitExceeded"}.get(failure.status, "InternalServerError" if failure.status >= 500
                                                    else "InvalidRequest")
            return self._error(failure.status, error, failure.body)
        auth = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if method == CREATE_SESSION:
            return self._create_session(body or {})
        if method == REFRESH_SESSION:
            if auth not in self._refresh:
                return self._error(400, "ExpiredToken", "Token has been revoked")
            self._refresh.discard(auth)  # a refresh token is used once
            self.refreshes += 1
            return self._json(self._issue(self.brand["did"]))
        if auth not in self._access:
            return self._error(401, "AuthenticationRequired", "Authentication Required")
        if self._access[auth] < time.time():
            return self._error(400, "ExpiredToken", "Token has expired")
        handler = {LIST_NOTIFICATIONS: self._list_notifications, GET_POSTS: self._get_posts,
                   RESOLVE_HANDLE: self._resolve_handle, CREATE_RECORD: self._create_record,
                   GET_RECORD: self._get_record, GET_PROFILE: self._get_profile}.get(method)
        if handler is None:
            return self._error(501, "MethodNotImplemented", f"Method Not Implemented: {method}")
        return await handler(request, body)

    def _create_session(self, body: dict[str, Any]) -> web.Response:
        if body.get("identifier") not in (HANDLE, self.brand["did"]) or body.get("password") != APP_PASSWORD:
            return self._error(401, "AuthenticationRequired", "Invalid identifier or password")
        self.sessions_created += 1
        return self._json(self._issue(self.brand["did"]))

    async def _list_notifications(self, request: web.Request, body: Any) -> web.Response:
        limit = int(request.query.get("limit", "50"))
        newest_first = list(reversed(self.notifications))
        start = int(request.query.get("cursor", "0"))
        page = newest_first[start:start + limit]
        answer: dict[str, Any] = {"notifications": page, "seenAt": self._now()}
        if start + limit < len(newest_first):
            answer["cursor"] = str(start + limit)
        return self._json(answer)

    async def _get_posts(self, request: web.Request, body: Any) -> web.Response:
        posts = []
        for uri in request.query.getall("uris", []):
            record = self.records.get(uri)
            if record is not None:
                posts.append({"uri": uri, "cid": record["cid"], "author": self.accounts[record["did"]],
                              "record": record["value"], "indexedAt": record["indexedAt"], "labels": []})
        return self._json({"posts": posts})

    async def _get_profile(self, request: web.Request, body: Any) -> web.Response:
        profile = self.accounts.get(request.query.get("actor", ""))
        if profile is None:
            return self._error(400, "InvalidRequest", "Profile not found")
        return self._json({**profile, "followersCount": 0, "followsCount": 0, "postsCount": 0})

    async def _resolve_handle(self, request: web.Request, body: Any) -> web.Response:
        handle = request.query.get("handle", "").lower()
        for profile in self.accounts.values():
            if profile["handle"] == handle:
                return self._json({"did": profile["did"]})
        return self._error(400, "InvalidRequest", "Unable to resolve handle")

    async def _create_record(self, request: web.Request, body: Any) -> web.Response:
        collection, rkey = body.get("collection"), body.get("rkey")
        if body.get("repo") not in (self.brand["did"], HANDLE):
            return self._error(400, "InvalidRequest", "Repo does not match the session")
        if collection == "app.bsky.feed.post" and rkey is not None and not is_tid(rkey):
            return self._error(400, "InvalidRequest", f"Invalid record key for {collection}: {rkey}")
        value = body.get("record") or {}
        if len(value.get("text", "")) > 3000:
            return self._error(400, "InvalidRequest", "Invalid app.bsky.feed.post record: text too long")
        uri = f"at://{self.brand['did']}/{collection}/{rkey}"
        if rkey is not None and uri in self.records:
            if self.duplicate_status >= 500:
                return self._error(500, "InternalServerError", "Internal Server Error")
            return self._error(400, "RecordAlreadyExists", f"Record already exists: {uri}")
        record = self._put(self.brand["did"], collection, value, rkey=rkey)
        self.posted.append({"uri": record["uri"], "rkey": rkey, **value})
        await self.changed()
        return self._json({"uri": record["uri"], "cid": record["cid"],
                           "commit": {"cid": cid_of(record), "rev": "3l" + (rkey or "x")[:11]}})

    async def _get_record(self, request: web.Request, body: Any) -> web.Response:
        query = request.query
        repo = self.brand["did"] if query.get("repo") == HANDLE else query.get("repo")
        uri = f"at://{repo}/{query.get('collection')}/{query.get('rkey')}"
        record = self.records.get(uri)
        if record is None:
            return self._error(400, "RecordNotFound", f"Could not locate record: {uri}")
        return self._json({"uri": uri, "cid": record["cid"], "value": record["value"]})
