"""Discord through discord.py 2.x: gateway events in as brandbot Events, replies out over REST.

The adapter only translates. discord.py keeps doing what it does well (gateway
heartbeats, RESUME after a reconnect, per-route 429 handling); this module decides what
a Discord message *means* to brandbot (DM, mention, reply to the bot, quote of a brand
announcement, ...) and turns an :class:`~brandbot.core.events.Outgoing` into REST calls with
safe defaults: replies reference the message they answer, nobody but the recipient can
be pinged, and every message carries a nonce so a resend after a crash is not doubled.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, Generic, TypeVar

import aiohttp
import discord
from discord import app_commands
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from brandbot.clocks import Clock, SystemClock
from brandbot.core.errors import (
    ConfigError,
    PermanentSendError,
    RateLimitedError,
    SendError,
    TransientSendError,
)
from brandbot.core.events import Conversation, Event, Kind, Outgoing, Person
from brandbot.networks.base import (
    CommandSpec,
    Network,
    NetworkHost,
    NetworkState,
    RateLimits,
    Sent,
    split_text,
)

_log = logging.getLogger(__name__)
T = TypeVar("T")

NETWORK = "discord"

#: Discord's hard limit on a message's content (https://discord.com/developers/docs/resources/message#create-message).
MAX_MESSAGE_CHARS = 2000
#: discord.py refuses a smaller ``max_ratelimit_timeout`` (HTTPClient clamps it to >= 30 s).
MIN_RATE_LIMIT_WAIT = 30.0
#: Interaction tokens stay valid for 15 minutes; stop using one a little before that.
INTERACTION_LIFETIME = timedelta(minutes=15) - timedelta(seconds=30)
#: How many pending slash-command interactions are kept for their followup answer.
MAX_PENDING_INTERACTIONS = 1000
#: How long stop_intake() waits for received events to reach the core.
INTAKE_DRAIN_SECONDS = 10.0

# Discord JSON error codes (https://discord.com/developers/docs/topics/opcodes-and-status-codes#json).
CANNOT_MESSAGE_USER = 50007
UNKNOWN_WEBHOOK = 10015
UNKNOWN_INTERACTION = 10062

#: A message link: https://discord.com/channels/<guild or @me>/<channel>/<message>.
MESSAGE_LINK = re.compile(
    r"https?://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/channels/(?:\d+|@me)/(\d+)/(\d+)"
)

#: Message types a person types; system messages (joins, pins, boosts) are not conversation.
_CONVERSATIONAL_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})


class DiscordConfig(BaseModel):
    """The ``networks.discord`` section of brandbot.yaml."""

    model_config = ConfigDict(extra="forbid")

    token: SecretStr = Field(
        description="Bot token from the Developer Portal (Bot page); use ${DISCORD_TOKEN}"
    )
    message_content: bool = Field(
        False,
        description=(
            "Request the privileged Message Content intent (enable it on the Bot page of the "
            "Developer Portal first). Needed to read guild messages that do not mention the bot."
        ),
    )
    members: bool = Field(
        False,
        description=(
            "Request the privileged Server Members intent (enable it on the Bot page of the "
            "Developer Portal first). Needed for JOIN events when someone joins a server."
        ),
    )
    guilds: list[int] = Field(
        default_factory=list,
        description="Server (guild) ids the bot engages in; empty means every server it is in",
    )
    channels: list[int] = Field(
        default_factory=list,
        description="Channel ids the bot engages in (threads follow their parent); empty means all",
    )
    announcement_channels: list[int] = Field(
        default_factory=list,
        description=(
            "The brand's announcement channels: a message that links to or replies to a "
            "message there is a QUOTE of that post, and reactions there are REACTIONs"
        ),
    )
    shard_count: int | None = Field(
        None, ge=1, description="Total number of shards; set it to run an AutoShardedClient"
    )
    shard_ids: list[int] | None = Field(
        None, description="The shards this process runs (all of shard_count when omitted)"
    )
    max_rate_limit_wait: float = Field(
        MIN_RATE_LIMIT_WAIT,
        ge=MIN_RATE_LIMIT_WAIT,
        description=(
            "Seconds discord.py may wait out a rate limit inside one send; a longer wait goes "
            "back to the outbox with its retry time. discord.py's minimum is 30."
        ),
    )
    slash_commands: bool = Field(
        True, description="Register the bot's commands as slash commands in each server"
    )

    @model_validator(mode="after")
    def _shards_are_consistent(self) -> DiscordConfig:
        if self.shard_ids is not None:
            if self.shard_count is None:
                raise ValueError("shard_ids needs shard_count (the total number of shards)")
            bad = [i for i in self.shard_ids if not 0 <= i < self.shard_count]
            if bad:
                raise ValueError(
                    f"shard_ids {bad} are outside 0..{self.shard_count - 1} (shard_count is "
                    f"{self.shard_count})"
                )
            if not self.shard_ids:
                raise ValueError("shard_ids is empty; list at least one shard or omit it")
        return self

    def intents(self) -> discord.Intents:
        """What the gateway should send: the defaults plus the privileged intents asked for."""
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_messages = True
        intents.dm_messages = True
        intents.guild_reactions = True
        intents.dm_reactions = True
        intents.message_content = self.message_content
        intents.members = self.members
        return intents

    @property
    def sharded(self) -> bool:
        return self.shard_count is not None


class _Bounded(Generic[T]):
    """A small map that forgets its oldest entries, so nothing kept in memory grows unbounded."""

    def __init__(self, capacity: int = MAX_PENDING_INTERACTIONS) -> None:
        self._capacity = capacity
        self._items: OrderedDict[str, T] = OrderedDict()

    def put(self, key: str, value: T) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)

    def get(self, key: str | None) -> T | None:
        return self._items.get(key) if key else None

    def forget(self, key: str) -> None:
        self._items.pop(key, None)


def _person(user: discord.abc.User) -> Person:
    return Person(NETWORK, str(user.id), handle=user.name, name=user.display_name)


def _nonce(idempotency_key: str, index: int) -> str:
    """A Discord nonce (string of at most 25 chars) that is the same on every resend of a chunk."""
    digits = re.sub(r"\D", "", idempotency_key) or idempotency_key
    nonce = f"{digits}.{index}"
    if len(nonce) > 25:
        raise PermanentSendError(f"idempotency key {idempotency_key!r} is too long for a nonce")
    return nonce


def _snowflake(value: str, what: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise PermanentSendError(f"{what} {value!r} is not a Discord id") from None
    if number <= 0:
        raise PermanentSendError(f"{what} {value!r} is not a Discord id")
    return number


def _error_code(exc: discord.HTTPException) -> int:
    return int(getattr(exc, "code", 0) or 0)


def _translate_send_error(exc: BaseException) -> SendError:
    """Map what discord.py raised to what the outbox should do next."""
    if isinstance(exc, discord.RateLimited):
        return RateLimitedError("Discord rate limit longer than we wait in place", exc.retry_after)
    if isinstance(exc, discord.Forbidden):
        code = _error_code(exc)
        if code == CANNOT_MESSAGE_USER:
            return PermanentSendError(
                "Discord: this user does not accept direct messages from the bot (50007)",
                unreachable=True,
            )
        return PermanentSendError(f"Discord refused the message: {exc.status} {exc.text} ({code})")
    if isinstance(exc, discord.NotFound):
        return PermanentSendError(
            f"Discord: the channel or message no longer exists: {exc.text} ({_error_code(exc)})"
        )
    if isinstance(exc, discord.HTTPException):
        if exc.status >= 500:
            return TransientSendError(f"Discord server error {exc.status}: {exc.text}")
        if exc.status == 429:
            # A 429 without Cloudflare's Via header: an IP-level ban, not a route limit.
            retry = _retry_after_header(exc.response)
            return RateLimitedError("Discord (Cloudflare) rate limit", retry)
        return PermanentSendError(f"Discord rejected the message: {exc.status} {exc.text}")
    if isinstance(exc, (aiohttp.ClientError, OSError, asyncio.TimeoutError)):
        return TransientSendError(f"Discord connection problem: {type(exc).__name__}: {exc}")
    return TransientSendError(f"unexpected error sending to Discord: {type(exc).__name__}: {exc}")


def _retry_after_header(response: Any) -> float:
    try:
        return float(response.headers.get("Retry-After", 60))
    except (AttributeError, TypeError, ValueError):
        return 60.0


class DiscordNetwork(Network):
    """Discord as a brandbot network: one bot user, its servers, DMs and slash commands."""

    name = NETWORK
    requires_summons = False
    # Discord documents a global limit of 50 requests per second per bot
    # (https://discord.com/developers/docs/topics/rate-limits#global-rate-limit); the
    # message-create bucket it reports in X-RateLimit headers is 5 per 5 s per channel.
    limits = RateLimits(
        per_conversation=((5, 5.0),),
        overall=((50, 1.0),),
        max_text=MAX_MESSAGE_CHARS,
    )
    Config = DiscordConfig

    def __init__(
        self,
        config: DiscordConfig,
        *,
        clock: Clock | None = None,
        connector: aiohttp.BaseConnector | None = None,
        http_trace: aiohttp.TraceConfig | None = None,
        guild_ready_timeout: float | None = None,
        ready_timeout: float = 60.0,
    ) -> None:
        """``connector``, ``http_trace`` and ``guild_ready_timeout`` go to discord.Client as is
        (tests point the connector at a loopback fake); ``ready_timeout`` bounds how long
        :meth:`start` waits for the gateway's READY before returning anyway."""
        self.config = config
        self._clock = clock or SystemClock()
        self._connector = connector
        self._http_trace = http_trace
        self._guild_ready_timeout = guild_ready_timeout
        self._ready_timeout = ready_timeout
        self._host: NetworkHost | None = None
        self._client: discord.Client | None = None
        self._tree: app_commands.CommandTree | None = None
        self._runner: asyncio.Task[None] | None = None
        self._pump: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._inbox: asyncio.Queue[Event] = asyncio.Queue()
        self._ready = asyncio.Event()
        self._failure: BaseException | None = None
        # Deferred slash-command interactions by event id, waiting for their answer.
        self._interactions: _Bounded[discord.Interaction] = _Bounded()
        # Followup message ids already delivered per idempotency key: webhooks take no
        # nonce, so a retry after a partial multi-chunk send skips what went out.
        self._followups_sent: _Bounded[list[str]] = _Bounded()
        self._synced_guilds: set[int] = set()
        self._intake_open = False
        self._stopped = True

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: NetworkHost) -> None:
        """Log in, open the gateway and return once READY arrived (or ``ready_timeout`` passed)."""
        if not self._stopped:
            raise RuntimeError("DiscordNetwork.start() was called twice without stop()")
        self._host = host
        self._stopped = False
        self._intake_open = True
        self._inbox = asyncio.Queue()
        self._ready = asyncio.Event()
        self._failure = None
        self._interactions = _Bounded()
        self._followups_sent = _Bounded()
        self._synced_guilds = set()
        self._tree = None
        host.report_state(NetworkState.CONNECTING)
        self._explain_intents()
        client = self._make_client()
        self._client = client
        self._install_handlers(client)
        if self.config.slash_commands:
            self._tree = self._make_command_tree(client, host.commands())
        self._pump = asyncio.create_task(self._pump_events(), name="discord-pump")
        try:
            await client.login(self.config.token.get_secret_value())
        except discord.LoginFailure:
            await self._fail("Discord rejected the bot token")
            raise ConfigError(
                "Discord rejected the bot token: copy it again from the Bot page of the "
                "Developer Portal (networks.discord.token)"
            ) from None
        except BaseException as exc:
            await self._fail(f"login failed: {type(exc).__name__}")
            raise
        self._runner = asyncio.create_task(self._run(client), name="discord-gateway")
        ready = asyncio.create_task(self._ready.wait())
        done, _ = await asyncio.wait(
            {ready, self._runner}, timeout=self._ready_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        ready.cancel()
        if self._failure is not None:
            failure = self._failure
            await self.stop(state=NetworkState.FAILED, detail=str(failure))
            raise failure
        if not done:
            _log.warning(
                "Discord: no READY after %.0fs; still connecting in the background",
                self._ready_timeout,
            )

    @property
    def backlog(self) -> int:
        """Gateway events received but not yet handed to the core (back-pressure at work)."""
        return self._inbox.qsize()

    async def stop_intake(self) -> None:
        """Take no new gateway events; hand the ones already received to the core.

        The Bot calls this before draining its handlers, so events Discord already
        delivered are not dropped on a graceful stop (the gateway never redelivers them).
        """
        self._intake_open = False
        if self._pump is None or self._pump.done():
            return
        try:
            await asyncio.wait_for(self._inbox.join(), INTAKE_DRAIN_SECONDS)
        except TimeoutError:
            _log.warning(
                "Discord: %d received event(s) not handed over at stop", self._inbox.qsize()
            )

    async def stop(self, *, state: NetworkState = NetworkState.CLOSED, detail: str = "") -> None:
        """Close the gateway and HTTP session, stop our tasks; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self._intake_open = False
        client, self._client = self._client, None
        if client is not None and not client.is_closed():
            await client.close()
        tasks = [t for t in (self._runner, self._pump, *self._background) if t is not None]
        for task in tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._background.clear()
        if self._host is not None:
            self._host.report_state(state, detail)

    async def _run(self, client: discord.Client) -> None:
        try:
            await client.connect(reconnect=True)
        except discord.PrivilegedIntentsRequired:
            self._failure = ConfigError(
                "Discord refused the privileged intents this bot asks for: enable "
                + self._privileged_names()
                + " on the Bot page of the Developer Portal "
                "(https://discord.com/developers/applications), or set networks.discord."
                "message_content / members to false"
            )
            self._report(NetworkState.FAILED, "privileged intents not enabled")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the library gave up reconnecting; health must say so
            self._failure = exc
            self._report(NetworkState.FAILED, f"gateway stopped: {type(exc).__name__}: {exc}")
            _log.error("Discord gateway stopped: %s: %s", type(exc).__name__, exc)

    async def _fail(self, detail: str) -> None:
        await self.stop(state=NetworkState.FAILED, detail=detail)

    def _make_client(self) -> discord.Client:
        options: dict[str, Any] = {
            "intents": self.config.intents(),
            "connector": self._connector,
            "http_trace": self._http_trace,
            "max_ratelimit_timeout": self.config.max_rate_limit_wait,
            # A safe default for anything sent through this client; send() narrows it further.
            "allowed_mentions": discord.AllowedMentions.none(),
            # We never need the full member list; chunking big servers only slows start-up.
            "chunk_guilds_at_startup": False,
        }
        if self._guild_ready_timeout is not None:
            options["guild_ready_timeout"] = self._guild_ready_timeout
        if self.config.sharded:
            if self.config.shard_ids is not None:
                options["shard_ids"] = self.config.shard_ids
            return discord.AutoShardedClient(shard_count=self.config.shard_count, **options)
        return discord.Client(**options)

    def _explain_intents(self) -> None:
        """Say at start-up which privileged intents we ask for and why, or what is missing."""
        portal = "enable it on the Bot page of the Developer Portal (https://discord.com/developers/applications)"
        if self.config.message_content:
            _log.info(
                "Discord: requesting the privileged MESSAGE CONTENT intent (%s); it lets the bot "
                "read guild messages that do not mention it (MESSAGE events, quote links)",
                portal,
            )
        else:
            _log.info(
                "Discord: message_content is off: guild messages that do not mention the bot "
                "arrive without text, and quote links in them cannot be seen"
            )
        if self.config.members:
            _log.info(
                "Discord: requesting the privileged SERVER MEMBERS intent (%s); it is needed for "
                "JOIN events when someone joins a server",
                portal,
            )
        else:
            _log.info("Discord: members is off: no JOIN events when people join a server")

    def _privileged_names(self) -> str:
        names = []
        if self.config.message_content:
            names.append("'Message Content Intent'")
        if self.config.members:
            names.append("'Server Members Intent'")
        return " and ".join(names) or "the privileged intents"

    def _report(self, state: NetworkState, detail: str = "") -> None:
        if self._host is not None and not self._stopped:
            self._host.report_state(state, detail)

    def _enqueue(self, event: Event | None) -> None:
        if event is not None and self._intake_open:
            self._inbox.put_nowait(event)

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ------------------------------------------------------------------ gateway events

    def _install_handlers(self, client: discord.Client) -> None:
        """Register our event handlers the way ``@client.event`` does."""
        handlers = {
            "on_ready": self._on_ready,
            "on_resumed": self._on_resumed,
            "on_disconnect": self._on_disconnect,
            "on_guild_join": self._on_guild_join,
            "on_message": self._on_message,
            "on_member_join": self._on_member_join,
            "on_raw_reaction_add": self._on_raw_reaction_add,
        }
        for event_name, handler in handlers.items():
            setattr(client, event_name, handler)

    async def _on_ready(self) -> None:
        client = self._require_client()
        guilds = [g for g in client.guilds if self._engaged_guild(g.id)]
        self._report(NetworkState.READY, f"logged in as {client.user} in {len(guilds)} server(s)")
        self._ready.set()
        for guild in guilds:
            self._sync_commands_later(guild)

    async def _on_resumed(self) -> None:
        self._report(NetworkState.RESUMED, "gateway session resumed")

    async def _on_disconnect(self) -> None:
        self._report(NetworkState.DEGRADED, "gateway connection lost; discord.py is reconnecting")

    async def _on_guild_join(self, guild: discord.Guild) -> None:
        if self._engaged_guild(guild.id):
            self._sync_commands_later(guild)

    async def _on_message(self, message: discord.Message) -> None:
        self._enqueue(self._message_event(message))

    async def _on_member_join(self, member: discord.Member) -> None:
        self._enqueue(self._join_event(member))

    async def _on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        self._enqueue(self._reaction_event(payload))

    async def _pump_events(self) -> None:
        """Hand events to the core one at a time, in gateway order.

        discord.py runs every handler as its own task; queueing here keeps the order in
        which the gateway delivered them even while ``host.submit`` applies back-pressure.
        """
        host = self._host
        assert host is not None
        while True:
            event = await self._inbox.get()
            try:
                await host.submit(event)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - one refused event must not stop the inbox (logged)
                _log.exception("Discord: the core refused event %s", event.id)
            finally:
                self._inbox.task_done()

    # ------------------------------------------------------------------ translation

    def _require_client(self) -> discord.Client:
        if self._client is None:
            raise TransientSendError("Discord is not started")
        return self._client

    def _bot_id(self) -> int | None:
        user = self._client.user if self._client is not None else None
        return user.id if user is not None else None

    def _engaged_guild(self, guild_id: int | None) -> bool:
        return guild_id is None or not self.config.guilds or guild_id in self.config.guilds

    def _engaged_channel(self, channel: Any) -> bool:
        if not self.config.channels:
            return True
        ids = {getattr(channel, "id", None), getattr(channel, "parent_id", None)}
        return any(i in self.config.channels for i in ids if i is not None)

    def _conversation(self, channel: Any, guild: discord.Guild | None) -> Conversation:
        if guild is None:
            return Conversation(NETWORK, str(channel.id), private=True, title="direct message")
        channel_name = getattr(channel, "name", None) or str(channel.id)
        return Conversation(
            NETWORK, str(channel.id), private=False, title=f"{guild.name} #{channel_name}"
        )

    def _message_event(self, message: discord.Message) -> Event | None:
        bot_id = self._bot_id()
        author = message.author
        if author.bot or author.id == bot_id or message.webhook_id is not None:
            return None
        if message.type not in _CONVERSATIONAL_TYPES:
            return None
        guild = message.guild
        if guild is not None and not (
            self._engaged_guild(guild.id) and self._engaged_channel(message.channel)
        ):
            return None
        kind, refers_to = self._classify(message, bot_id)
        data: list[tuple[str, str]] = [("channel_id", str(message.channel.id))]
        if guild is not None:
            data.append(("guild_id", str(guild.id)))
        return Event(
            kind=kind,
            network=NETWORK,
            id=str(message.id),
            author=_person(author),
            conversation=self._conversation(message.channel, guild),
            text=message.clean_content,
            time=message.created_at,
            post_id=str(message.id),
            refers_to=refers_to,
            addressed=kind not in (Kind.MESSAGE, Kind.REPOST),
            data=tuple(data),
            raw=message,
        )

    def _classify(self, message: discord.Message, bot_id: int | None) -> tuple[Kind, str | None]:
        """Decide what a person's message is to the brand, most specific meaning first."""
        reference = message.reference
        referenced = _referenced_message(reference)
        referenced_author = referenced.author.id if referenced is not None else None
        replied_to_bot = (
            reference is not None and referenced_author is not None and referenced_author == bot_id
        )
        if message.guild is None:
            return Kind.DIRECT, (
                str(reference.message_id) if replied_to_bot and reference else None
            )
        announcements = set(self.config.announcement_channels)
        if reference is not None and reference.message_id is not None:
            from_brand = reference.channel_id in announcements or replied_to_bot
            if reference.type is discord.MessageReferenceType.forward:
                if from_brand:
                    return Kind.REPOST, str(reference.message_id)
            elif reference.channel_id in announcements:
                return Kind.QUOTE, str(reference.message_id)
        for channel_id, message_id in MESSAGE_LINK.findall(message.content):
            if int(channel_id) in announcements:
                return Kind.QUOTE, message_id
        if replied_to_bot and reference is not None:
            return Kind.REPLY, str(reference.message_id)
        if self._mentions_bot(message, bot_id):
            return Kind.MENTION, None
        return Kind.MESSAGE, None

    @staticmethod
    def _mentions_bot(message: discord.Message, bot_id: int | None) -> bool:
        """The bot's user or its managed role is mentioned (@everyone does not count)."""
        if bot_id is None:
            return False
        if bot_id in message.raw_mentions:
            return True
        guild = message.guild
        role = guild.self_role if guild is not None else None
        return role is not None and role.id in message.raw_role_mentions

    def _join_event(self, member: discord.Member) -> Event | None:
        guild = member.guild
        if member.bot or not self._engaged_guild(guild.id):
            return None
        joined = member.joined_at or self._clock.now()
        channel = guild.system_channel
        if channel is not None and self._engaged_channel(channel):
            conversation = self._conversation(channel, guild)
        else:
            # No welcome channel we may use: a reply opens a DM with the newcomer.
            conversation = Conversation(
                NETWORK, f"user:{member.id}", private=True, title=guild.name
            )
        return Event(
            kind=Kind.JOIN,
            network=NETWORK,
            id=f"join:{guild.id}:{member.id}:{joined.isoformat()}",
            author=_person(member),
            conversation=conversation,
            time=joined,
            data=(("guild_id", str(guild.id)),),
            raw=member,
        )

    def _reaction_event(self, payload: discord.RawReactionActionEvent) -> Event | None:
        bot_id = self._bot_id()
        if payload.user_id == bot_id or (payload.member is not None and payload.member.bot):
            return None
        if not self._engaged_guild(payload.guild_id):
            return None
        client = self._require_client()
        channel = client.get_channel(payload.channel_id) or client.get_partial_messageable(
            payload.channel_id, guild_id=payload.guild_id
        )
        if payload.guild_id is not None and not self._engaged_channel(channel):
            return None
        on_bot_message = bot_id is not None and payload.message_author_id == bot_id
        if not (on_bot_message or payload.channel_id in self.config.announcement_channels):
            return None
        guild = client.get_guild(payload.guild_id) if payload.guild_id is not None else None
        user = payload.member or client.get_user(payload.user_id)
        author = _person(user) if user is not None else Person(NETWORK, str(payload.user_id))
        emoji = str(payload.emoji)
        emoji_key = payload.emoji.id or payload.emoji.name
        if payload.guild_id is not None and guild is not None:
            conversation = self._conversation(channel, guild)
        else:
            conversation = Conversation(
                NETWORK, str(payload.channel_id), private=payload.guild_id is None
            )
        data = [("emoji", emoji), ("channel_id", str(payload.channel_id))]
        if payload.guild_id is not None:
            data.append(("guild_id", str(payload.guild_id)))
        return Event(
            kind=Kind.REACTION,
            network=NETWORK,
            id=f"reaction:{payload.message_id}:{payload.user_id}:{emoji_key}",
            author=author,
            conversation=conversation,
            text=emoji,
            time=self._clock.now(),
            refers_to=str(payload.message_id),
            data=tuple(data),
            raw=payload,
        )

    # ------------------------------------------------------------------ slash commands

    def _make_command_tree(
        self, client: discord.Client, commands: Iterable[CommandSpec]
    ) -> app_commands.CommandTree:
        tree: app_commands.CommandTree = app_commands.CommandTree(client)
        for spec in commands:
            try:
                tree.add_command(self._slash_command(spec))
            except (ValueError, TypeError, app_commands.AppCommandError) as exc:
                _log.warning("Discord: cannot offer /%s as a slash command: %s", spec.name, exc)
        return tree

    def _slash_command(self, spec: CommandSpec) -> app_commands.Command[Any, ..., None]:
        network = self

        async def callback(interaction: discord.Interaction, text: str | None = None) -> None:
            await network._on_slash_command(interaction, spec.name, text or "")

        described = app_commands.describe(text="Anything you want to add")(callback)
        if spec.admin_only:
            described = app_commands.default_permissions(manage_guild=True)(described)
        description = (spec.description or spec.name).strip()[:100]
        return app_commands.Command(name=spec.name, description=description, callback=described)

    def _sync_commands_later(self, guild: discord.Guild) -> None:
        if self._tree is None or guild.id in self._synced_guilds:
            return
        self._synced_guilds.add(guild.id)
        self._spawn(self._sync_commands(guild), name=f"discord-sync-{guild.id}")

    async def _sync_commands(self, guild: discord.Guild) -> None:
        """Bulk-overwrite our slash commands in one server (guild commands update at once)."""
        tree = self._tree
        assert tree is not None
        tree.copy_global_to(guild=guild)
        try:
            synced = await tree.sync(guild=guild)
        except discord.Forbidden:
            _log.warning(
                "Discord: no permission to register slash commands in %s (%s); re-invite the "
                "bot with the applications.commands scope",
                guild.name,
                guild.id,
            )
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            self._synced_guilds.discard(guild.id)
            _log.warning("Discord: registering slash commands in %s failed: %s", guild.id, exc)
        else:
            _log.info("Discord: %d slash command(s) registered in %s", len(synced), guild.name)

    async def _on_slash_command(
        self, interaction: discord.Interaction, name: str, text: str
    ) -> None:
        """Acknowledge at once (Discord allows 3 s), then let the core answer as a followup."""
        if not self._intake_open:
            return
        channel = interaction.channel
        if interaction.guild_id is not None and (
            not self._engaged_guild(interaction.guild_id)
            or (channel is not None and not self._engaged_channel(channel))
        ):
            await interaction.response.send_message(
                "I don't answer commands in this channel.", ephemeral=True
            )
            return
        deferred = True
        try:
            await interaction.response.defer(thinking=True)
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            deferred = False
            _log.warning("Discord: could not acknowledge /%s in time: %s", name, exc)
        event_id = f"interaction:{interaction.id}"
        channel_id = interaction.channel_id
        if deferred:
            self._interactions.put(event_id, interaction)
        full = f"/{name} {text}".strip()
        if channel is not None and interaction.guild is not None:
            conversation = self._conversation(channel, interaction.guild)
        else:
            conversation = Conversation(
                NETWORK, str(channel_id), private=interaction.guild_id is None
            )
        data = [("channel_id", str(channel_id))]
        if interaction.guild_id is not None:
            data.append(("guild_id", str(interaction.guild_id)))
        self._enqueue(
            Event(
                kind=Kind.COMMAND,
                network=NETWORK,
                id=event_id,
                author=_person(interaction.user),
                conversation=conversation,
                text=full,
                time=interaction.created_at,
                addressed=True,
                command=name,
                args=tuple(text.split()),
                data=tuple(data),
                raw=interaction,
            )
        )

    # ------------------------------------------------------------------ sending

    def check_text(self, text: str) -> str | None:
        if not text.strip():
            return "Discord does not accept an empty message"
        return None

    async def send(self, message: Outgoing) -> Sent:
        """Deliver a reply: as the followup of the slash command it answers, else in the channel."""
        reply = message.reply
        client = self._require_client()
        if client.is_closed() or client.user is None:
            raise TransientSendError("Discord is not connected")
        chunks = split_text(reply.text, MAX_MESSAGE_CHARS)
        mentions = self._allowed_mentions(message)
        interaction = self._interactions.get(reply.event_id)
        if (
            interaction is not None
            and self._clock.now() < interaction.created_at + INTERACTION_LIFETIME
        ):
            try:
                return await self._send_followups(message, interaction, chunks, mentions)
            except discord.NotFound as exc:
                if _error_code(exc) not in (UNKNOWN_WEBHOOK, UNKNOWN_INTERACTION):
                    raise _translate_send_error(exc) from exc
                _log.info("Discord: interaction expired; answering in the channel instead")
                self._interactions.forget(reply.event_id or "")
            except Exception as exc:
                raise _translate_send_error(exc) from exc
        try:
            return await self._send_to_channel(message, chunks, mentions)
        except SendError:
            raise
        except Exception as exc:
            raise _translate_send_error(exc) from exc

    def _allowed_mentions(self, message: Outgoing) -> discord.AllowedMentions:
        """Never @everyone or roles; only the person we answer may be pinged."""
        recipient = message.reply.recipient
        users: Any = False
        if recipient is not None and recipient.network == NETWORK and recipient.id.isdigit():
            users = [discord.Object(id=int(recipient.id))]
        return discord.AllowedMentions(everyone=False, roles=False, users=users, replied_user=True)

    async def _send_followups(
        self,
        message: Outgoing,
        interaction: discord.Interaction,
        chunks: list[str],
        mentions: discord.AllowedMentions,
    ) -> Sent:
        key = message.idempotency_key
        ids = self._followups_sent.get(key) or []
        self._followups_sent.put(key, ids)
        for chunk in chunks[len(ids) :]:
            sent = await interaction.followup.send(chunk, allowed_mentions=mentions, wait=True)
            ids.append(str(sent.id))
        return Sent(tuple(ids))

    async def _send_to_channel(
        self, message: Outgoing, chunks: list[str], mentions: discord.AllowedMentions
    ) -> Sent:
        reply = message.reply
        channel = await self._destination(reply.conversation)
        reference = None
        if reply.in_reply_to:
            reference = discord.MessageReference(
                message_id=_snowflake(reply.in_reply_to, "in_reply_to"),
                channel_id=channel.id,
                fail_if_not_exists=False,
            )
        ids = []
        for index, chunk in enumerate(chunks):
            # Only the first chunk quotes the message; the rest simply follow it.
            threading: dict[str, Any] = {"reference": reference} if index == 0 and reference else {}
            sent = await channel.send(
                chunk,
                nonce=_nonce(message.idempotency_key, index),
                allowed_mentions=mentions,
                **threading,
            )
            ids.append(str(sent.id))
        return Sent(tuple(ids))

    async def _destination(
        self, conversation: Conversation
    ) -> discord.DMChannel | discord.PartialMessageable:
        """A channel id, or ``user:<id>`` for a DM that has to be opened first."""
        client = self._require_client()
        if conversation.id.startswith("user:"):
            user_id = _snowflake(conversation.id.removeprefix("user:"), "user id")
            return await client.create_dm(discord.Object(id=user_id))
        channel_id = _snowflake(conversation.id, "channel id")
        return client.get_partial_messageable(channel_id)


def _referenced_message(reference: discord.MessageReference | None) -> discord.Message | None:
    """The message a reply or forward points at, if Discord sent it or it is cached."""
    if reference is None:
        return None
    resolved = reference.resolved
    if isinstance(resolved, discord.Message):
        return resolved
    return reference.cached_message


__all__ = ["DiscordConfig", "DiscordNetwork"]
