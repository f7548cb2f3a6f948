"""A fake of Discord's REST API (v10) and gateway, served on 127.0.0.1 for discord.py to use.

It poses as discord.com, gateway.discord.gg and the resume gateway through
:class:`tests.support.loopback.LoopbackServer`, so discord.py runs its real code path:
login, IDENTIFY/READY/GUILD_CREATE, heartbeats, zlib-stream transport compression,
RECONNECT + RESUME with replay of missed dispatches, 429 handling with Discord's
headers, interactions and webhooks. Tests push gateway dispatches, read what the bot
sent, and make the next calls of an endpoint fail.

It also behaves like Discord where the difference matters to an adapter: events are only
delivered for the intents the client identified with, guild message content is blanked
without the Message Content intent, privileged intents the "portal" has not enabled close
the gateway with 4014, and ``enforce_nonce`` returns the earlier message instead of
creating a duplicate.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from tests.support.loopback import LoopbackServer

API = "/api/v10"
GATEWAY_URL = "wss://gateway.discord.gg"
RESUME_GATEWAY_URL = "wss://gateway-resume.discord.gg"
HOSTS = ("discord.com", "gateway.discord.gg", "gateway-resume.discord.gg")
TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAw.fake.not-a-real-token"
DISCORD_EPOCH_MS = 1420070400000

# Gateway opcodes.
OP_DISPATCH, OP_HEARTBEAT, OP_IDENTIFY, OP_RESUME = 0, 1, 2, 6
OP_RECONNECT, OP_INVALID_SESSION, OP_HELLO, OP_HEARTBEAT_ACK = 7, 9, 10, 11

# Intent bits (https://discord.com/developers/docs/events/gateway#gateway-intents).
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_REACTIONS = 1 << 10
DIRECT_MESSAGES = 1 << 12
DIRECT_MESSAGE_REACTIONS = 1 << 13
MESSAGE_CONTENT = 1 << 15
PRIVILEGED = {"members": GUILD_MEMBERS, "message_content": MESSAGE_CONTENT, "presences": 1 << 8}


def iso(dt: datetime | None = None) -> str:
    return (dt or datetime.now(UTC)).isoformat()


class Snowflakes:
    """Real-looking snowflakes (time in the high bits), so created_at/expiry logic works."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def next(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (1 << 17) | (next(self._counter) & 0xFFF)


@dataclass(frozen=True)
class FakeUser:
    id: int
    username: str
    bot: bool = False
    global_name: str | None = None

    def json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.username,
            "global_name": self.global_name,
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }


@dataclass
class Recorded:
    """One REST request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    headers: dict[str, str]
    status: int = 0


@dataclass
class _Failure:
    method: str
    pattern: re.Pattern[str]
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    remaining: int
    skip: int = 0


@dataclass
class _Session:
    """One gateway session: its dispatch log survives the socket, for RESUME replay."""

    id: str
    intents: int
    shard: tuple[int, int] | None
    seq: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)
    socket: _Socket | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class _Socket:
    """A client websocket with its transport compression."""

    def __init__(self, ws: web.WebSocketResponse, compress: str | None) -> None:
        self.ws = ws
        self._zlib = zlib.compressobj() if compress == "zlib-stream" else None

    async def send(self, payload: dict[str, Any]) -> None:
        text = json.dumps(payload)
        if self._zlib is not None:
            data = self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
            await self.ws.send_bytes(data)
        else:
            await self.ws.send_str(text)


class FakeDiscord:
    """Discord for one bot in one server: #general, #announcements, a rules channel, DMs."""

    def __init__(
        self,
        *,
        token: str = TOKEN,
        portal_intents: frozenset[str] = frozenset({"members", "message_content"}),
        heartbeat_interval_ms: int = 41250,
    ) -> None:
        self.token = token
        self.portal_intents = portal_intents
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.ids = Snowflakes()
        self.bot = FakeUser(self.ids.next(), "BrandBot", bot=True)
        self.app_id = self.bot.id
        self.alice = FakeUser(self.ids.next(), "alice", global_name="Alice")
        self.bob = FakeUser(self.ids.next(), "bob", global_name="Bob")
        self.other_bot = FakeUser(self.ids.next(), "otherbot", bot=True)
        #: Not in the server yet: the one who joins.
        self.carol = FakeUser(self.ids.next(), "carol", global_name="Carol")
        self.guild_id = self.ids.next()
        self.general_id = self.ids.next()
        self.announcements_id = self.ids.next()
        self.welcome_id = self.ids.next()
        self.bot_role_id = self.ids.next()
        self.fans_role_id = self.ids.next()
        self.dm_channels: dict[int, int] = {u.id: self.ids.next() for u in self.users}

        self.requests: list[Recorded] = []
        #: Messages created through REST (channel messages and followups), each once.
        self.messages: list[dict[str, Any]] = []
        self.command_registrations: list[tuple[int, list[dict[str, Any]]]] = []
        self.interaction_callbacks: list[dict[str, Any]] = []
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []
        self.gateway_queries: list[dict[str, str]] = []

        self._failures: list[_Failure] = []
        self._nonces: dict[tuple[int, str], dict[str, Any]] = {}
        self._interactions: dict[str, dict[str, Any]] = {}  # token -> interaction
        self._sessions: dict[str, _Session] = {}
        self._latest: _Session | None = None
        self._changed = asyncio.Condition()

        app = web.Application()
        app.router.add_get("/", self._gateway)
        app.router.add_route("*", API + "/{tail:.*}", self._rest)
        self.server = LoopbackServer(app, HOSTS)

    @property
    def users(self) -> tuple[FakeUser, ...]:
        return (self.alice, self.bob, self.other_bot, self.carol)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FakeDiscord:
        await self.server.start()
        return self

    async def stop(self) -> None:
        for session in self._sessions.values():
            if session.socket is not None:
                await session.socket.ws.close()
        await self.server.stop()

    def connector(self) -> aiohttp.TCPConnector:
        return self.server.connector()

    # ------------------------------------------------------------------ test controls

    def fail_next(
        self,
        method: str,
        path: str,
        status: int,
        *,
        code: int = 0,
        message: str = "",
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        skip: int = 0,
    ) -> None:
        """Make the next ``times`` calls of ``method path`` (regex after /api/v10) fail.

        ``skip`` lets that many matching calls through first.
        """
        payload = (
            body if body is not None else {"message": message or f"{status} error", "code": code}
        )
        self._failures.append(
            _Failure(
                method.upper(), re.compile(path + r"$"), status, payload, headers or {}, times, skip
            )
        )

    def rate_limit_next(
        self, method: str, path: str, retry_after: float, *, times: int = 1, is_global: bool = False
    ) -> None:
        """Answer like Discord's rate limiter: 429 with retry_after and X-RateLimit-* headers."""
        headers = {
            "Retry-After": str(max(1, int(retry_after + 0.999))),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
            "X-RateLimit-Bucket": "fakebucket",
            "X-RateLimit-Scope": "global" if is_global else "user",
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": is_global,
        }
        self.fail_next(method, path, 429, body=body, headers=headers, times=times)

    def requests_to(self, method: str, path: str) -> list[Recorded]:
        pattern = re.compile(path + r"$")
        return [r for r in self.requests if r.method == method and pattern.match(r.path)]

    def channel_messages(self, channel_id: int | None = None) -> list[dict[str, Any]]:
        return [
            m
            for m in self.messages
            if "webhook_id" not in m and (channel_id is None or int(m["channel_id"]) == channel_id)
        ]

    def followups(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if "webhook_id" in m]

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    @property
    def session(self) -> _Session:
        assert self._latest is not None, "no gateway session yet"
        return self._latest

    async def dispatch(self, event: str, data: dict[str, Any]) -> int | None:
        """Send a dispatch to the bot, or log it for replay if its socket is gone.

        Returns the sequence number, or None when the session's intents exclude it
        (Discord would not send it at all).
        """
        session = self.session
        payload = self._as_delivered(session, event, data)
        if payload is None:
            return None
        async with session.lock:
            session.seq += 1
            frame = {"op": OP_DISPATCH, "t": event, "s": session.seq, "d": payload}
            session.log.append(frame)
            if session.socket is not None:
                await session.socket.send(frame)
            return session.seq

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT and drop the socket; later dispatches wait for the RESUME."""
        session = self.session
        async with session.lock:
            socket, session.socket = session.socket, None
        if socket is not None:
            await socket.send({"op": OP_RECONNECT, "d": None})

    # ------------------------------------------------------------------ payload builders

    def member_json(self, user: FakeUser, roles: list[int] | None = None) -> dict[str, Any]:
        return {
            "user": user.json(),
            "nick": None,
            "avatar": None,
            "roles": [str(r) for r in roles or []],
            "joined_at": iso(),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }

    def message(
        self,
        author: FakeUser,
        content: str,
        *,
        channel_id: int | None = None,
        dm: bool = False,
        mentions: list[FakeUser] | None = None,
        mention_roles: list[int] | None = None,
        reply_to: dict[str, Any] | None = None,
        forward_of: dict[str, Any] | None = None,
        mention_everyone: bool = False,
    ) -> dict[str, Any]:
        """A MESSAGE_CREATE payload as the gateway sends it."""
        if dm:
            channel_id = self.dm_channels[author.id]
        elif channel_id is None:
            channel_id = self.general_id
        data: dict[str, Any] = {
            "id": str(self.ids.next()),
            "channel_id": str(channel_id),
            "author": author.json(),
            "content": content,
            "timestamp": iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": mention_everyone,
            "mentions": [dict(u.json(), member=self._partial_member()) for u in mentions or []],
            "mention_roles": [str(r) for r in mention_roles or []],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
        }
        if not dm:
            data["guild_id"] = str(self.guild_id)
            data["member"] = self._partial_member()
        if reply_to is not None:
            data["type"] = 19
            data["message_reference"] = {
                "type": 0,
                "message_id": reply_to["id"],
                "channel_id": reply_to["channel_id"],
                **({"guild_id": str(self.guild_id)} if not dm else {}),
            }
            data["referenced_message"] = reply_to
        if forward_of is not None:
            data["message_reference"] = {
                "type": 1,
                "message_id": forward_of["id"],
                "channel_id": forward_of["channel_id"],
                "guild_id": str(self.guild_id),
            }
            data["message_snapshots"] = [
                {
                    "message": {
                        k: forward_of[k]
                        for k in (
                            "content",
                            "timestamp",
                            "type",
                            "embeds",
                            "attachments",
                            "flags",
                            "edited_timestamp",
                            "mentions",
                            "mention_roles",
                            "components",
                        )
                    }
                }
            ]
        return data

    def posted_message(
        self, channel_id: int, content: str, author: FakeUser | None = None
    ) -> dict[str, Any]:
        """A message that already exists (e.g. a brand announcement), to refer to."""
        author = author or self.bot
        return {
            "id": str(self.ids.next()),
            "channel_id": str(channel_id),
            "author": author.json(),
            "content": content,
            "timestamp": iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
        }

    def member_add(self, user: FakeUser) -> dict[str, Any]:
        return dict(self.member_json(user), guild_id=str(self.guild_id))

    def reaction_add(
        self, user: FakeUser, message: dict[str, Any], emoji: str = "🔥"
    ) -> dict[str, Any]:
        return {
            "user_id": str(user.id),
            "channel_id": message["channel_id"],
            "message_id": message["id"],
            "guild_id": str(self.guild_id),
            "member": self.member_json(user),
            "emoji": {"id": None, "name": emoji},
            "message_author_id": message["author"]["id"],
            "burst": False,
            "burst_colors": [],
            "type": 0,
        }

    def slash_command(
        self, user: FakeUser, name: str, text: str | None = None, *, channel_id: int | None = None
    ) -> dict[str, Any]:
        """An INTERACTION_CREATE for a chat-input command registered in our guild."""
        channel_id = channel_id or self.general_id
        token = "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(24)
        interaction = {
            "id": str(self.ids.next()),
            "application_id": str(self.app_id),
            "type": 2,
            "data": {
                "id": str(self.ids.next()),
                "name": name,
                "type": 1,
                "guild_id": str(self.guild_id),
                **({"options": [{"name": "text", "type": 3, "value": text}]} if text else {}),
            },
            "guild_id": str(self.guild_id),
            "guild": {"id": str(self.guild_id), "locale": "en-US", "features": []},
            "channel_id": str(channel_id),
            "channel": self._channel_json(channel_id, "general", 0),
            "member": dict(self.member_json(user), permissions="1071698660929"),
            "token": token,
            "version": 1,
            "app_permissions": "1071698660929",
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(self.guild_id)},
            "context": 0,
            "attachment_size_limit": 8388608,
        }
        self._interactions[token] = {
            "data": interaction,
            "created": time.monotonic(),
            "acked": False,
        }
        return interaction

    def _partial_member(self) -> dict[str, Any]:
        return {"roles": [], "joined_at": iso(), "deaf": False, "mute": False, "flags": 0}

    def _channel_json(
        self, channel_id: int, name: str, type_: int, position: int = 0
    ) -> dict[str, Any]:
        return {
            "id": str(channel_id),
            "type": type_,
            "guild_id": str(self.guild_id),
            "name": name,
            "position": position,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }

    def _guild_create(self) -> dict[str, Any]:
        everyone = {
            "id": str(self.guild_id),
            "name": "@everyone",
            "color": 0,
            "hoist": False,
            "position": 0,
            "permissions": "1071698660929",
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }
        bot_role = dict(
            everyone,
            id=str(self.bot_role_id),
            name="BrandBot",
            position=1,
            managed=True,
            tags={"bot_id": str(self.bot.id)},
        )
        fans_role = dict(
            everyone, id=str(self.fans_role_id), name="Fans", position=2, mentionable=True
        )
        return {
            "id": str(self.guild_id),
            "name": "Brand Community",
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(self.alice.id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 1,
            "default_message_notifications": 1,
            "explicit_content_filter": 2,
            "roles": [everyone, bot_role, fans_role],
            "emojis": [],
            "stickers": [],
            "features": ["COMMUNITY", "NEWS"],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": str(self.welcome_id),
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "joined_at": iso(),
            "large": False,
            "unavailable": False,
            "member_count": 4,
            "voice_states": [],
            "members": [
                self.member_json(self.bot, [self.bot_role_id]),
                self.member_json(self.alice),
                self.member_json(self.bob),
                self.member_json(self.other_bot),
            ],
            "channels": [
                self._channel_json(self.general_id, "general", 0, 0),
                self._channel_json(self.announcements_id, "announcements", 5, 1),
                self._channel_json(self.welcome_id, "welcome", 0, 2),
            ],
            "threads": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def _as_delivered(
        self, session: _Session, event: str, data: dict[str, Any]
    ) -> dict[str, Any] | None:
        """What Discord would send this session, given its intents (None: not sent at all)."""
        in_guild = "guild_id" in data
        needed = {
            "MESSAGE_CREATE": GUILD_MESSAGES if in_guild else DIRECT_MESSAGES,
            "MESSAGE_REACTION_ADD": GUILD_MESSAGE_REACTIONS
            if in_guild
            else DIRECT_MESSAGE_REACTIONS,
            "GUILD_MEMBER_ADD": GUILD_MEMBERS,
        }.get(event, 0)
        if needed and not session.intents & needed:
            return None
        if event == "MESSAGE_CREATE" and in_guild and not session.intents & MESSAGE_CONTENT:
            mentioned = any(int(u["id"]) == self.bot.id for u in data.get("mentions", []))
            if not mentioned and int(data["author"]["id"]) != self.bot.id:
                data = dict(data, content="", embeds=[], attachments=[], components=[])
        return data

    # ------------------------------------------------------------------ gateway

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.gateway_queries.append(dict(request.query))
        socket = _Socket(ws, request.query.get("compress"))
        session: _Session | None = None
        await socket.send({"op": OP_HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
        try:
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                op = frame.get("op")
                if op == OP_HEARTBEAT:
                    await socket.send({"op": OP_HEARTBEAT_ACK})
                elif op == OP_IDENTIFY:
                    session = await self._identify(socket, frame["d"])
                elif op == OP_RESUME:
                    session = await self._resume(socket, frame["d"])
                if session is None and op in (OP_IDENTIFY, OP_RESUME):
                    break
        finally:
            if session is not None and session.socket is socket:
                session.socket = None
            await self._notify()
        return ws

    async def _identify(self, socket: _Socket, data: dict[str, Any]) -> _Session | None:
        self.identifies.append(data)
        await self._notify()
        if data.get("token") != self.token:
            await socket.ws.close(code=4004, message=b"Authentication failed.")
            return None
        intents = int(data.get("intents", 0))
        for name, bit in PRIVILEGED.items():
            if intents & bit and name not in self.portal_intents:
                await socket.ws.close(code=4014, message=b"Disallowed intent(s).")
                return None
        shard = tuple(data["shard"]) if "shard" in data else None
        session = _Session(id=secrets.token_hex(16), intents=intents, shard=shard)  # type: ignore[arg-type]
        self._sessions[session.id] = session
        self._latest = session
        ready = {
            "v": 10,
            "user": dict(self.bot.json(), verified=True, mfa_enabled=False, flags=0),
            "guilds": [{"id": str(self.guild_id), "unavailable": True}],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": RESUME_GATEWAY_URL,
            "application": {"id": str(self.app_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["us-east"],
            "user_settings": {},
        }
        if shard is not None:
            ready["shard"] = list(shard)
        async with session.lock:
            session.socket = socket
            for event, payload in (("READY", ready), ("GUILD_CREATE", self._guild_create())):
                session.seq += 1
                frame = {"op": OP_DISPATCH, "t": event, "s": session.seq, "d": payload}
                session.log.append(frame)
                await socket.send(frame)
        await self._notify()
        return session

    async def _resume(self, socket: _Socket, data: dict[str, Any]) -> _Session | None:
        self.resumes.append(data)
        session = self._sessions.get(data.get("session_id", ""))
        if data.get("token") != self.token or session is None:
            await socket.send({"op": OP_INVALID_SESSION, "d": False})
            return None
        after = data.get("seq") or 0
        async with session.lock:
            for frame in session.log:
                if frame["s"] > after:
                    await socket.send(frame)
            session.seq += 1
            resumed = {"op": OP_DISPATCH, "t": "RESUMED", "s": session.seq, "d": {}}
            session.log.append(resumed)
            await socket.send(resumed)
            session.socket = socket
        self._latest = session
        await self._notify()
        return session

    # ------------------------------------------------------------------ REST

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            if raw:
                body = json.loads(raw)
        record = Recorded(request.method, path, dict(request.query), body, dict(request.headers))
        self.requests.append(record)
        try:
            response = self._injected_failure(request.method, path) or await self._route(
                request, path, body
            )
        finally:
            await self._notify()
        record.status = response.status
        return response

    def _injected_failure(self, method: str, path: str) -> web.Response | None:
        for failure in self._failures:
            if failure.remaining > 0 and failure.method == method and failure.pattern.match(path):
                if failure.skip > 0:
                    failure.skip -= 1
                    continue
                failure.remaining -= 1
                return self._json(failure.body, failure.status, failure.headers)
        return None

    def _json(
        self, data: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> web.Response:
        all_headers = {
            "Content-Type": "application/json",
            "Via": "1.1 google",
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "4",
            "X-RateLimit-Reset": f"{time.time() + 5:.3f}",
            "X-RateLimit-Reset-After": "5.000",
            "X-RateLimit-Bucket": "fakebucket",
        }
        all_headers.update(headers or {})
        return web.Response(body=json.dumps(data).encode(), status=status, headers=all_headers)

    def _error(self, status: int, code: int, message: str) -> web.Response:
        return self._json({"message": message, "code": code}, status)

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bot {self.token}"

    async def _route(self, request: web.Request, path: str, body: Any) -> web.Response:
        method = request.method
        if path.startswith(("/interactions/", "/webhooks/")):
            return self._interaction_route(method, path, body, request)
        if not self._authorized(request):
            return self._error(401, 0, "401: Unauthorized")
        if method == "GET" and path == "/users/@me":
            return self._json(dict(self.bot.json(), verified=True, mfa_enabled=False, flags=0))
        if method == "GET" and path == "/oauth2/applications/@me":
            return self._json(self._application())
        if method == "GET" and path == "/gateway":
            return self._json({"url": GATEWAY_URL})
        if method == "GET" and path == "/gateway/bot":
            limit = {"total": 1000, "remaining": 999, "reset_after": 14400000, "max_concurrency": 1}
            return self._json({"url": GATEWAY_URL, "shards": 1, "session_start_limit": limit})
        if method == "POST" and path == "/users/@me/channels":
            return self._open_dm(body)
        match = re.fullmatch(r"/channels/(\d+)/messages", path)
        if method == "POST" and match:
            return self._create_message(int(match.group(1)), body)
        match = re.fullmatch(r"/applications/(\d+)/guilds/(\d+)/commands", path)
        if method == "PUT" and match:
            return self._register_commands(int(match.group(2)), body)
        return self._error(404, 0, "404: Not Found")

    def _application(self) -> dict[str, Any]:
        return {
            "id": str(self.app_id),
            "name": "BrandBot",
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "hook": True,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "owner": self.alice.json(),
            "team": None,
            "flags": 0,
            "rpc_origins": [],
            "interactions_endpoint_url": None,
            "bot": dict(self.bot.json()),
            "tags": [],
            "redirect_uris": [],
            "approximate_guild_count": 1,
        }

    def _known_channels(self) -> set[int]:
        return {self.general_id, self.announcements_id, self.welcome_id, *self.dm_channels.values()}

    def _open_dm(self, body: dict[str, Any]) -> web.Response:
        user_id = int(body["recipient_id"])
        if user_id not in self.dm_channels:
            return self._error(400, 50033, "Invalid Recipient(s)")
        user = next(u for u in self.users if u.id == user_id)
        return self._json(
            {
                "id": str(self.dm_channels[user_id]),
                "type": 1,
                "last_message_id": None,
                "flags": 0,
                "recipients": [user.json()],
            }
        )

    def _validate_message(self, body: dict[str, Any]) -> web.Response | None:
        content = body.get("content") or ""
        if not content:
            return self._error(400, 50006, "Cannot send an empty message")
        if len(content) > 2000:
            return self._json(
                {
                    "message": "Invalid Form Body",
                    "code": 50035,
                    "errors": {
                        "content": {
                            "_errors": [
                                {
                                    "code": "BASE_TYPE_MAX_LENGTH",
                                    "message": "Must be 2000 or fewer in length.",
                                }
                            ]
                        }
                    },
                },
                400,
            )
        nonce = body.get("nonce")
        if nonce is not None and len(str(nonce)) > 25:
            return self._error(400, 50035, "Invalid Form Body (nonce)")
        return None

    def _create_message(self, channel_id: int, body: dict[str, Any]) -> web.Response:
        if channel_id not in self._known_channels():
            return self._error(404, 10003, "Unknown Channel")
        invalid = self._validate_message(body)
        if invalid is not None:
            return invalid
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            earlier = self._nonces.get((channel_id, str(nonce)))
            if earlier is not None:
                return self._json(earlier)
        message = self.posted_message(channel_id, body["content"])
        message["nonce"] = nonce
        reference = body.get("message_reference")
        if reference:
            message["type"] = 19
            message["message_reference"] = reference
            message["referenced_message"] = None
        message["request"] = body
        self.messages.append(message)
        if nonce is not None:
            self._nonces[(channel_id, str(nonce))] = message
        return self._json({k: v for k, v in message.items() if k != "request"})

    def _register_commands(self, guild_id: int, body: list[dict[str, Any]]) -> web.Response:
        self.command_registrations.append((guild_id, body))
        created = [
            dict(
                command,
                id=str(self.ids.next()),
                application_id=str(self.app_id),
                guild_id=str(guild_id),
                version=str(self.ids.next()),
                type=command.get("type", 1),
                options=command.get("options", []),
                default_member_permissions=command.get("default_member_permissions"),
                nsfw=command.get("nsfw", False),
            )
            for command in body
        ]
        return self._json(created)

    def _interaction_route(
        self, method: str, path: str, body: Any, request: web.Request
    ) -> web.Response:
        match = re.fullmatch(r"/interactions/(\d+)/([^/]+)/callback", path)
        if method == "POST" and match:
            entry = self._interactions.get(match.group(2))
            if entry is None or time.monotonic() - entry["created"] > 3.0:
                return self._error(404, 10062, "Unknown interaction")
            if entry["acked"]:
                return self._error(400, 40060, "Interaction has already been acknowledged.")
            entry["acked"] = True
            self.interaction_callbacks.append({"interaction_id": match.group(1), **body})
            interaction = entry["data"]
            return self._json(
                {
                    "interaction": {
                        "id": interaction["id"],
                        "type": interaction["type"],
                        "response_message_loading": body.get("type") == 5,
                        "response_message_ephemeral": False,
                    },
                    "resource": {"type": body.get("type")},
                }
            )
        match = re.fullmatch(rf"/webhooks/{self.app_id}/([^/]+)", path)
        if method == "POST" and match:
            entry = self._interactions.get(match.group(1))
            if entry is None or not entry["acked"]:
                return self._error(404, 10015, "Unknown Webhook")
            invalid = self._validate_message(body)
            if invalid is not None:
                return invalid
            channel_id = int(entry["data"]["channel_id"])
            message = self.posted_message(channel_id, body["content"])
            message["webhook_id"] = str(self.app_id)
            message["application_id"] = str(self.app_id)
            message["interaction_id"] = entry["data"]["id"]
            message["request"] = body
            self.messages.append(message)
            return self._json(
                {k: v for k, v in message.items() if k not in ("request", "interaction_id")}
            )
        return self._error(404, 0, "404: Not Found")
