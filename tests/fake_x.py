"""A fake of the X API v2, served on loopback under X's real host names.

Enough of the API for brandbot's X adapter, with X's own payload shapes: ``data``,
``includes.users``/``includes.tweets``, ``meta`` with newest_id/oldest_id/result_count/
next_token, problem-style JSON errors, ``x-rate-limit-*`` headers, and only the newest
800 mentions. Tests push tweets, retweets and DMs into it, read what the bot posted, and
make the next calls of an endpoint fail.
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from brandbot.clocks import Clock, SystemClock
from tests.support.loopback import LoopbackServer

TWITTER_EPOCH_MS = 1288834974657
MENTIONS_KEPT = 800

# Endpoint names for fail_next / calls_to.
ME = "me"
MENTIONS = "mentions"
USER_TWEETS = "user_tweets"
RETWEETERS = "retweeted_by"
CREATE_TWEET = "create_tweet"
DM_EVENTS = "dm_events"
CREATE_DM = "create_dm"

_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass
class _Failure:
    status: int
    times: int
    reset_at: int | None
    detail: str | None
    json_body: bool


@dataclass(frozen=True)
class Call:
    """One request the fake answered: which endpoint, how it was authenticated, its query."""

    endpoint: str
    auth: str  # "bearer", "oauth1" or "none"
    query: dict[str, str]


class FakeX:
    """The X API v2 for one brand account, in memory."""

    HOSTS = ("api.twitter.com", "api.x.com")

    def __init__(
        self,
        *,
        brand_id: str = "1000",
        brand_username: str = "brand",
        bearer_token: str = "fake-bearer-token",
        consumer_key: str = "fake-consumer-key",
        access_token: str = "1000-fake-access-token",
        clock: Clock | None = None,
    ) -> None:
        self.brand_id = brand_id
        self.bearer_token = bearer_token
        self.consumer_key = consumer_key
        self.access_token = access_token
        self.clock = clock or SystemClock()
        self.users: dict[str, dict[str, str]] = {}
        self.tweets: dict[str, dict[str, Any]] = {}
        self.mention_ids: list[str] = []
        self.retweeters: dict[str, list[str]] = {}  # tweet id -> user ids, newest first
        self.dm_events: list[dict[str, Any]] = []
        self.posted: list[dict[str, Any]] = []  # JSON bodies of POST /2/tweets that succeeded
        self.sent_dms: list[tuple[str, dict[str, Any]]] = []
        self.closed_dms: set[str] = set()  # people who do not accept DMs from the brand
        self.calls: list[Call] = []
        self._failures: dict[str, deque[_Failure]] = {}
        self._sequence = itertools.count()
        self._last_id = 0
        self.add_user(brand_id, brand_username, "The Brand")
        app = web.Application()
        app.router.add_get("/2/users/me", self._me)
        app.router.add_get("/2/users/{id}/mentions", self._mentions)
        app.router.add_get("/2/users/{id}/tweets", self._user_tweets)
        app.router.add_get("/2/tweets/{id}/retweeted_by", self._retweeted_by)
        app.router.add_post("/2/tweets", self._create_tweet)
        app.router.add_get("/2/dm_events", self._dm_events)
        app.router.add_post("/2/dm_conversations/with/{participant}/messages", self._create_dm)
        self.server = LoopbackServer(app, self.HOSTS)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()

    def connector(self) -> aiohttp.TCPConnector:
        return self.server.connector()

    # ------------------------------------------------------------------ test controls

    def add_user(self, user_id: str, username: str, name: str = "") -> dict[str, str]:
        user = {"id": user_id, "username": username, "name": name or username.title()}
        self.users[user_id] = user
        return user

    def brand_post(self, text: str) -> str:
        """The brand posts something (not a mention)."""
        return str(self._new_tweet(self.brand_id, text)["id"])

    def push_mention(self, author_id: str, text: str) -> str:
        return self._mention(author_id, text)

    def push_reply(self, author_id: str, text: str, to: str) -> str:
        """A reply to tweet ``to``; X lists replies to the brand's posts among its mentions."""
        return self._mention(author_id, text, replied_to=to)

    def push_quote(self, author_id: str, text: str, of: str) -> str:
        """A quote of tweet ``of`` that also names the brand (so it is a mention)."""
        return self._mention(author_id, text, quoted=of)

    def delete_tweet(self, tweet_id: str) -> None:
        self.tweets[tweet_id]["deleted"] = True

    def add_retweeter(self, tweet_id: str, user_id: str) -> None:
        self.retweeters.setdefault(tweet_id, []).insert(0, user_id)

    def push_dm(self, sender_id: str, text: str) -> str:
        return str(self._new_dm(sender_id, self.brand_id, text)["id"])

    def fail_next(
        self,
        endpoint: str,
        status: int,
        times: int = 1,
        *,
        reset_at: int | None = None,
        detail: str | None = None,
        json_body: bool = True,
    ) -> None:
        """Answer the next ``times`` calls of ``endpoint`` with ``status``.

        ``reset_at`` (epoch seconds) becomes the ``x-rate-limit-reset`` header of a 429;
        ``json_body=False`` sends an HTML page, as a proxy in front of X would.
        """
        self._failures.setdefault(endpoint, deque()).append(
            _Failure(status, times, reset_at, detail, json_body)
        )

    def calls_to(self, endpoint: str) -> list[Call]:
        return [c for c in self.calls if c.endpoint == endpoint]

    # ------------------------------------------------------------------ data

    def _next_id(self) -> str:
        """A snowflake id, like X's: the creation time in milliseconds, shifted left 22 bits."""
        milliseconds = int(self.clock.now().timestamp() * 1000) - TWITTER_EPOCH_MS
        candidate = (milliseconds << 22) | (next(self._sequence) & 0xFFF)
        self._last_id = max(candidate, self._last_id + 1)
        return str(self._last_id)

    def _now_text(self) -> str:
        return self.clock.now().strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def _new_tweet(
        self, author_id: str, text: str, *, replied_to: str | None = None, quoted: str | None = None
    ) -> dict[str, Any]:
        tweet_id = self._next_id()
        tweet: dict[str, Any] = {
            "id": tweet_id,
            "text": text,
            "edit_history_tweet_ids": [tweet_id],
            "author_id": author_id,
            "created_at": self._now_text(),
            "conversation_id": tweet_id,
        }
        refs = []
        if replied_to is not None:
            parent = self.tweets[replied_to]
            tweet["conversation_id"] = parent["conversation_id"]
            tweet["in_reply_to_user_id"] = parent["author_id"]
            refs.append({"type": "replied_to", "id": replied_to})
        if quoted is not None:
            refs.append({"type": "quoted", "id": quoted})
        if refs:
            tweet["referenced_tweets"] = refs
        self.tweets[tweet_id] = tweet
        return tweet

    def _mention(self, author_id: str, text: str, **refs: str | None) -> str:
        if author_id not in self.users:
            self.add_user(author_id, f"user{author_id}")
        tweet = self._new_tweet(author_id, text, **refs)
        tweet_id = str(tweet["id"])
        self.mention_ids.append(tweet_id)
        return tweet_id

    def _new_dm(self, sender_id: str, recipient_id: str, text: str) -> dict[str, Any]:
        low, high = sorted((sender_id, recipient_id), key=int)
        event = {
            "id": self._next_id(),
            "event_type": "MessageCreate",
            "text": text,
            "sender_id": sender_id,
            "dm_conversation_id": f"{low}-{high}",
            "created_at": self._now_text(),
        }
        self.dm_events.append(event)
        return event

    # ------------------------------------------------------------------ plumbing

    def _begin(
        self, request: web.Request, endpoint: str, *, user_context: bool
    ) -> web.Response | None:
        """Record the call; answer it with a queued failure or an auth error, if any."""
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            auth = "bearer"
        elif header.startswith("OAuth "):
            auth = "oauth1"
        else:
            auth = "none"
        self.calls.append(Call(endpoint, auth, dict(request.query)))
        queue = self._failures.get(endpoint)
        if queue:
            failure = queue[0]
            failure.times -= 1
            if failure.times <= 0:
                queue.popleft()
            return self._failure_response(failure)
        if auth == "bearer" and header == f"Bearer {self.bearer_token}" and not user_context:
            return None
        if auth == "oauth1" and (
            f'oauth_consumer_key="{self.consumer_key}"' in header
            and f'oauth_token="{self.access_token}"' in header
        ):
            return None
        if auth == "bearer" and user_context and header == f"Bearer {self.bearer_token}":
            return _problem(
                403,
                "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  "
                "Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User "
                "Context].",
                title="Unsupported Authentication",
            )
        return _problem(401, "Unauthorized")

    def _failure_response(self, failure: _Failure) -> web.Response:
        headers: dict[str, str] = {}
        if failure.status == 429:
            reset = (
                failure.reset_at
                if failure.reset_at is not None
                else int(self.clock.now().timestamp()) + 900
            )
            headers = {
                "x-rate-limit-limit": "100",
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(reset),
            }
        detail = failure.detail or _REASONS.get(failure.status, "Error")
        if not failure.json_body:
            return web.Response(
                status=failure.status,
                text=f"<html><body><h1>{failure.status} {detail}</h1></body></html>",
                content_type="text/html",
                headers=headers,
            )
        return _problem(failure.status, detail, headers=headers)

    def _tweet_view(self, tweet: dict[str, Any], fields: set[str]) -> dict[str, Any]:
        view = {k: tweet[k] for k in ("id", "text", "edit_history_tweet_ids")}
        view.update({k: tweet[k] for k in fields if k in tweet})
        return view

    def _user_view(self, user_id: str) -> dict[str, str]:
        return dict(
            self.users.get(user_id) or {"id": user_id, "username": f"user{user_id}", "name": ""}
        )

    # ------------------------------------------------------------------ endpoints

    async def _me(self, request: web.Request) -> web.Response:
        if (refused := self._begin(request, ME, user_context=True)) is not None:
            return refused
        return _ok({"data": self._user_view(self.brand_id)})

    async def _mentions(self, request: web.Request) -> web.Response:
        if (refused := self._begin(request, MENTIONS, user_context=False)) is not None:
            return refused
        query = request.query
        size = int(query.get("max_results", "10"))
        if not 5 <= size <= 100:
            return _problem(400, "The `max_results` query parameter value is not between 5 and 100")
        kept = sorted(self.mention_ids, key=int, reverse=True)[:MENTIONS_KEPT]
        since = int(query.get("since_id", "0"))
        newer = [t for t in kept if int(t) > since and not self.tweets[t].get("deleted")]
        start = int(query.get("pagination_token", "p0")[1:])
        page = newer[start : start + size]
        fields = set(_split(query.get("tweet.fields")))
        expansions = set(_split(query.get("expansions")))
        body: dict[str, Any] = {}
        if page:
            tweets = [self.tweets[t] for t in page]
            body["data"] = [self._tweet_view(t, fields) for t in tweets]
            includes = self._includes(tweets, expansions, fields)
            if includes:
                body["includes"] = includes
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta["newest_id"], meta["oldest_id"] = page[0], page[-1]
        if start + size < len(newer):
            meta["next_token"] = f"p{start + size}"
        body["meta"] = meta
        return _ok(body)

    def _includes(
        self, tweets: list[dict[str, Any]], expansions: set[str], fields: set[str]
    ) -> dict[str, Any]:
        user_ids: list[str] = []
        referenced: list[dict[str, Any]] = []
        for tweet in tweets:
            if "author_id" in expansions:
                user_ids.append(tweet["author_id"])
            if "referenced_tweets.id" in expansions:
                for ref in tweet.get("referenced_tweets", []):
                    target = self.tweets.get(ref["id"])
                    if target is not None and not target.get("deleted"):
                        referenced.append(target)
                        if "referenced_tweets.id.author_id" in expansions:
                            user_ids.append(target["author_id"])
        includes: dict[str, Any] = {}
        if user_ids:
            includes["users"] = [self._user_view(u) for u in dict.fromkeys(user_ids)]
        if referenced:
            unique = {t["id"]: t for t in referenced}
            includes["tweets"] = [
                self._tweet_view(t, fields | {"author_id"}) for t in unique.values()
            ]
        return includes

    async def _user_tweets(self, request: web.Request) -> web.Response:
        if (refused := self._begin(request, USER_TWEETS, user_context=False)) is not None:
            return refused
        query = request.query
        size = int(query.get("max_results", "10"))
        if not 5 <= size <= 100:
            return _problem(400, "The `max_results` query parameter value is not between 5 and 100")
        excluded = set(_split(query.get("exclude")))
        author = request.match_info["id"]
        own = [
            t
            for t in sorted(self.tweets.values(), key=lambda t: int(t["id"]), reverse=True)
            if t["author_id"] == author
            and not t.get("deleted")
            and not ("replies" in excluded and "in_reply_to_user_id" in t)
        ][:size]
        fields = set(_split(query.get("tweet.fields")))
        meta: dict[str, Any] = {"result_count": len(own)}
        body: dict[str, Any] = {}
        if own:
            body["data"] = [self._tweet_view(t, fields) for t in own]
            meta["newest_id"], meta["oldest_id"] = own[0]["id"], own[-1]["id"]
        body["meta"] = meta
        return _ok(body)

    async def _retweeted_by(self, request: web.Request) -> web.Response:
        if (refused := self._begin(request, RETWEETERS, user_context=False)) is not None:
            return refused
        size = int(request.query.get("max_results", "100"))
        users = self.retweeters.get(request.match_info["id"], [])[:size]
        body: dict[str, Any] = {"meta": {"result_count": len(users)}}
        if users:
            body["data"] = [self._user_view(u) for u in users]
        return _ok(body)

    async def _create_tweet(self, request: web.Request) -> web.Response:
        if (refused := self._begin(request, CREATE_TWEET, user_context=True)) is not None:
            return refused
        payload = await request.json()
        text = payload.get("text", "")
        parent = (payload.get("reply") or {}).get("in_reply_to_tweet_id")
        if parent is not None and (parent not in self.tweets or self.tweets[parent].get("deleted")):
            return _problem(
                403, "You attempted to reply to a Tweet that is deleted or not visible to you."
            )
        if any(t["author_id"] == self.brand_id and t["text"] == text for t in self.tweets.values()):
            return _problem(403, "You are not allowed to create a Tweet with duplicate content.")
        tweet = self._new_tweet(self.brand_id, text, replied_to=parent)
        self.posted.append(payload)
        return _ok(
            {"data": {"id": tweet["id"], "text": text, "edit_history_tweet_ids": [tweet["id"]]}},
            201,
        )

    async def _dm_events(self, request: web.Request) -> web.Response:
        if (refused := self._begin(request, DM_EVENTS, user_context=True)) is not None:
            return refused
        query = request.query
        size = int(query.get("max_results", "100"))
        kinds = set(_split(query.get("event_types"))) or {"MessageCreate"}
        events = [
            e
            for e in sorted(self.dm_events, key=lambda e: int(e["id"]), reverse=True)
            if e["event_type"] in kinds
        ]
        start = int(query.get("pagination_token", "p0")[1:])
        page = events[start : start + size]
        fields = set(_split(query.get("dm_event.fields")))
        body: dict[str, Any] = {}
        if page:
            body["data"] = [
                {k: v for k, v in e.items() if k in {"id", "event_type", "text"} or k in fields}
                for e in page
            ]
            if "sender_id" in _split(query.get("expansions")):
                body["includes"] = {
                    "users": [
                        self._user_view(u) for u in dict.fromkeys(e["sender_id"] for e in page)
                    ]
                }
        meta: dict[str, Any] = {"result_count": len(page)}
        if start + size < len(events):
            meta["next_token"] = f"p{start + size}"
        body["meta"] = meta
        return _ok(body)

    async def _create_dm(self, request: web.Request) -> web.Response:
        if (refused := self._begin(request, CREATE_DM, user_context=True)) is not None:
            return refused
        participant = request.match_info["participant"]
        if participant in self.closed_dms:
            return _problem(403, "You are not permitted to send Direct Messages to this user.")
        payload = await request.json()
        event = self._new_dm(self.brand_id, participant, payload.get("text", ""))
        self.sent_dms.append((participant, payload))
        return _ok(
            {
                "data": {
                    "dm_conversation_id": event["dm_conversation_id"],
                    "dm_event_id": event["id"],
                }
            },
            201,
        )


def _split(value: str | None) -> list[str]:
    return [part for part in (value or "").split(",") if part]


def _ok(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


def _problem(
    status: int, detail: str, *, title: str | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    """An error as X v2 sends it: an RFC 7807 problem document."""
    body = {
        "title": title or _REASONS.get(status, "Error"),
        "detail": detail,
        "type": "about:blank",
        "status": status,
    }
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type="application/problem+json",
        headers=headers or {},
    )
