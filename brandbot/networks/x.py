"""X (Twitter) through tweepy's asynchronous v2 client.

X offers no push channel on the paid tiers brandbot targets, so this adapter polls:
mentions every ``poll_interval`` seconds (replies to and quotes of brand posts arrive
there too), the retweeters of the brand's few most recent posts every
``repost_poll_interval``, and optionally direct messages. Replies go out as single posts:
X bills per post and asks bots to answer only people who summoned them, so text that
does not fit in 280 weighted characters is refused, never split into a thread.

tweepy is used with ``wait_on_rate_limit=False`` (its waiting is unbounded and would
stall the outbox); a 429 becomes :class:`RateLimitedError` with the time X names in its
``x-rate-limit-reset`` header, and the outbox decides when to retry.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import tweepy
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from tweepy.asynchronous import AsyncClient

from brandbot.clocks import Clock, SystemClock
from brandbot.core.errors import (
    ConfigError,
    PermanentSendError,
    RateLimitedError,
    SendError,
    TransientSendError,
)
from brandbot.core.events import Conversation, Event, Kind, Outgoing, Person
from brandbot.networks import xtext
from brandbot.networks.base import Network, NetworkHost, NetworkState, RateLimits, Sent
from brandbot.networks.xtext import MAX_WEIGHTED_LENGTH

#: X's rate-limit windows are 15 minutes.
WINDOW_SECONDS = 900.0
#: GET /2/users/:id/mentions with the app's bearer token.
MENTIONS_PER_WINDOW = 450
#: GET /2/tweets/:id/retweeted_by, per app.
RETWEETERS_PER_WINDOW = 75
#: GET /2/dm_events, per user.
DM_EVENTS_PER_WINDOW = 15
#: X serves only the newest 800 mentions, however far back since_id points.
MENTIONS_KEPT = 800
#: Durable cursors (host.save_cursor keys).
MENTIONS_CURSOR = "x:since_id"
DMS_CURSOR = "x:dm_since_id"
#: Retry delay when a 429 carries no x-rate-limit-reset header.
DEFAULT_RETRY_AFTER = 60.0
#: Longest pause between two polls of a failing endpoint.
MAX_BACKOFF = WINDOW_SECONDS
#: Most pages of DM events read in one poll (100 each).
MAX_DM_PAGES = 10
_TWITTER_EPOCH_MS = 1288834974657

MENTION_EXPANSIONS = ["author_id", "referenced_tweets.id", "referenced_tweets.id.author_id"]
MENTION_TWEET_FIELDS = ["created_at", "conversation_id", "referenced_tweets", "author_id"]
USER_FIELDS = ["username", "name"]
DM_EVENT_FIELDS = ["id", "text", "event_type", "created_at", "sender_id", "dm_conversation_id"]

# Words in a 403 that mean the person is out of reach (blocked us, protected, closed DMs).
_UNREACHABLE = re.compile(
    r"block|protected|not permitted to send|cannot send messages|not allowed to send", re.IGNORECASE
)


class XConfig(BaseModel):
    """The ``networks.x`` section of brandbot.yaml."""

    model_config = ConfigDict(extra="forbid")

    bearer_token: SecretStr = Field(
        description="App-only bearer token; reads (mentions, posts, retweeters) use the app's "
        "budget."
    )
    consumer_key: SecretStr = Field(description="OAuth 1.0a API key of the app.")
    consumer_secret: SecretStr = Field(description="OAuth 1.0a API key secret of the app.")
    access_token: SecretStr = Field(
        description="OAuth 1.0a access token of the brand account; posting needs user context."
    )
    access_token_secret: SecretStr = Field(
        description="OAuth 1.0a access token secret of the brand account."
    )
    user_id: str | None = Field(
        None,
        pattern=r"^\d+$",
        description="Numeric id of the brand account; looked up with GET /2/users/me at start "
        "when absent.",
    )
    poll_interval: float = Field(
        15.0,
        description="Seconds between two mention polls; at least 2 (X allows 450 per 15 minutes).",
    )
    reposts: bool = Field(
        True, description="Poll who retweeted the brand's recent posts and emit repost events."
    )
    repost_poll_interval: float = Field(
        300.0, gt=0, description="Seconds between two repost polls."
    )
    recent_posts: int = Field(
        5,
        ge=1,
        le=100,
        description="How many of the brand's newest posts are checked for retweets per repost "
        "poll.",
    )
    dms: bool = Field(False, description="Poll direct messages and answer them privately.")
    dm_poll_interval: float = Field(
        60.0, description="Seconds between two DM polls; at least 60 (X allows 15 per 15 minutes)."
    )
    cost_per_post: float = Field(
        xtext.DEFAULT_COST_PER_POST, ge=0, description="What X bills for one post without a link, in dollars."
    )
    cost_per_link_post: float = Field(
        xtext.DEFAULT_COST_PER_LINK_POST, ge=0, description="What X bills for one post that has a URL, in dollars."
    )
    request_timeout: float = Field(
        30.0, gt=0, description="Seconds before one API request is given up."
    )

    @field_validator("user_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("poll_interval")
    @classmethod
    def _within_mentions_budget(cls, value: float) -> float:
        least = WINDOW_SECONDS / MENTIONS_PER_WINDOW
        if value < least:
            raise ValueError(
                f"poll_interval must be at least {least:g} seconds: X allows "
                f"{MENTIONS_PER_WINDOW} mention look-ups per 15 minutes per app; got {value:g}"
            )
        return value

    @field_validator("dm_poll_interval")
    @classmethod
    def _within_dm_budget(cls, value: float) -> float:
        least = WINDOW_SECONDS / DM_EVENTS_PER_WINDOW
        if value < least:
            raise ValueError(
                f"dm_poll_interval must be at least {least:g} seconds: X allows "
                f"{DM_EVENTS_PER_WINDOW} DM look-ups per 15 minutes; got {value:g}"
            )
        return value

    @model_validator(mode="after")
    def _within_retweeters_budget(self) -> XConfig:
        if not self.reposts:
            return self
        per_window = self.recent_posts * WINDOW_SECONDS / self.repost_poll_interval
        if per_window > RETWEETERS_PER_WINDOW:
            least = self.recent_posts * WINDOW_SECONDS / RETWEETERS_PER_WINDOW
            raise ValueError(
                f"recent_posts={self.recent_posts} every {self.repost_poll_interval:g} s makes "
                f"{per_window:g} retweeter look-ups per 15 minutes, over X's "
                f"{RETWEETERS_PER_WINDOW}: lower recent_posts or set "
                f"repost_poll_interval to at least {least:g}"
            )
        return self


class XNetwork(Network):
    """The brand's X account: mentions, replies, quotes, reposts (and DMs) in; posts out."""

    name = "x"
    requires_summons = True
    # POST /2/tweets: 100 per 15 minutes per user, 10,000 per 24 hours per app.
    # DMs: 15 per 15 minutes.
    limits = RateLimits(
        overall=((100, 900.0), (10000, 86400.0)),
        private_overall=((15, 900.0),),
        max_text=MAX_WEIGHTED_LENGTH,
    )
    Config = XConfig

    def __init__(
        self,
        config: XConfig,
        *,
        clock: Clock | None = None,
        connector: aiohttp.BaseConnector | None = None,
        poll_in_background: bool = True,
    ) -> None:
        """``connector`` and ``poll_in_background`` are test hooks: the first sends tweepy's
        requests (to its real https URLs) through a loopback connector, the second lets a
        test drive :meth:`poll_once` and friends itself instead of running the poll loops."""
        self.config = config
        self._clock: Clock = clock or SystemClock()
        self._connector = connector
        self._poll_in_background = poll_in_background
        self._host: NetworkHost | None = None
        self._log = logging.getLogger("brandbot.networks.x")
        self._session: aiohttp.ClientSession | None = None
        self._client: AsyncClient | None = None
        self._user_id: int | None = int(config.user_id) if config.user_id else None
        self._mentions_since: int | None = None
        self._mentions_ready = False
        self._dms_since: int | None = None
        self._dms_ready = False
        self._locks = {"mentions": asyncio.Lock(), "reposts": asyncio.Lock(), "dms": asyncio.Lock()}
        self._tasks: list[asyncio.Task[None]] = []
        self._failing: set[str] = set()
        self._closed = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: NetworkHost) -> None:
        if self._client is not None:
            raise RuntimeError("this XNetwork is already started")
        self._host = host
        self._log = host.log.getChild("x")
        self._closed = False
        host.report_state(NetworkState.CONNECTING)
        _hide_credentials_in_library_logs()
        self._session = self._open_session()
        client = AsyncClient(
            bearer_token=self.config.bearer_token.get_secret_value(),
            consumer_key=self.config.consumer_key.get_secret_value(),
            consumer_secret=self.config.consumer_secret.get_secret_value(),
            access_token=self.config.access_token.get_secret_value(),
            access_token_secret=self.config.access_token_secret.get_secret_value(),
            wait_on_rate_limit=False,
        )
        client.session = self._session
        self._client = client
        try:
            await self._prepare()
        except (tweepy.Unauthorized, tweepy.Forbidden) as exc:
            await self._close_session()
            self._client = None
            host.report_state(NetworkState.FAILED, _describe(exc))
            raise ConfigError(
                f"X refused brandbot's credentials ({_describe(exc)}): check networks.x "
                "bearer_token, consumer_key, consumer_secret, access_token and "
                "access_token_secret (the last two are the brand account's), and that the app "
                "has read and write access (and Direct Message access when dms is true)"
            ) from None
        except (TimeoutError, tweepy.TweepyException, aiohttp.ClientError, OSError) as exc:
            # X is down or slow: start anyway; the poll loops finish the preparation later.
            self._log.warning("X is not answering at start (%s); will keep trying", _describe(exc))
            host.report_state(NetworkState.DEGRADED, f"start: {_describe(exc)}")
            self._failing.update(self._loops())  # READY again once every loop has succeeded
        except BaseException:
            await self._close_session()
            self._client = None
            raise
        else:
            host.report_state(NetworkState.READY)
        if self._poll_in_background:
            for name, (interval, poll) in self._loops().items():
                self._spawn(name, interval, poll)

    def _loops(self) -> dict[str, tuple[float, Callable[[], Awaitable[int]]]]:
        loops: dict[str, tuple[float, Callable[[], Awaitable[int]]]] = {
            "mentions": (self.config.poll_interval, self.poll_once)
        }
        if self.config.reposts:
            loops["reposts"] = (self.config.repost_poll_interval, self.poll_reposts_once)
        if self.config.dms:
            loops["dms"] = (self.config.dm_poll_interval, self.poll_dms_once)
        return loops

    async def stop_intake(self) -> None:
        """Stop polling but keep the session, so the Bot can drain its outbox before stop().

        A poll cut short has not saved its cursor: its events come again next start and
        are deduped by id."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def stop(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.stop_intake()
        await self._close_session()
        self._client = None
        if self._host is not None:
            self._host.report_state(NetworkState.CLOSED)

    def _open_session(self) -> aiohttp.ClientSession:
        timeout = aiohttp.ClientTimeout(total=self.config.request_timeout)
        if self._connector is not None:
            return aiohttp.ClientSession(connector=self._connector, timeout=timeout)
        return aiohttp.ClientSession(timeout=timeout)

    async def _close_session(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def _prepare(self) -> None:
        """Learn the brand's user id and where each timeline starts (no I/O once done)."""
        await self._brand_id()
        if not self._mentions_ready:
            await self._start_mentions()
        if self.config.dms and not self._dms_ready:
            await self._start_dms()

    async def _brand_id(self) -> int:
        if self._user_id is None:
            response = await self._api().get_me(user_auth=True)
            self._user_id = int(response.data.id)
            self._log.info("X brand account is @%s (id %s)", response.data.username, self._user_id)
        return self._user_id

    # ------------------------------------------------------------------ mentions

    async def poll_once(self) -> int:
        """Fetch new mentions (and replies/quotes of brand posts), submit them oldest first,
        then save the cursor. Returns how many events were submitted."""
        async with self._locks["mentions"]:
            host = self._running_host()
            brand = await self._brand_id()
            if not self._mentions_ready:
                await self._start_mentions()
            batch = await self._fetch_mentions(brand, self._mentions_since)
            submitted = 0
            for tweet in sorted(batch.tweets, key=lambda t: t.id):
                event = mention_event(
                    tweet, batch.users, batch.referenced, brand, self._clock.now()
                )
                if event is not None:
                    await host.submit(event)
                    submitted += 1
            if batch.newest_id is not None and batch.newest_id != self._mentions_since:
                await host.settled()
                await host.save_cursor(MENTIONS_CURSOR, str(batch.newest_id))
                self._mentions_since = batch.newest_id
            return submitted

    async def _start_mentions(self) -> None:
        """Resume from the saved cursor; on the very first start, begin at the newest mention."""
        host = self._running_host()
        saved = await host.load_cursor(MENTIONS_CURSOR)
        if saved:
            self._mentions_since = int(saved)
        else:
            response = await self._api().get_users_mentions(await self._brand_id(), max_results=5)
            newest = (response.meta or {}).get("newest_id")
            if newest is not None:
                self._mentions_since = int(newest)
                await host.save_cursor(MENTIONS_CURSOR, str(newest))
                self._log.info("X: first start, mentions before id %s are not replayed", newest)
        self._mentions_ready = True

    async def _fetch_mentions(self, brand: int, since: int | None) -> _MentionBatch:
        batch = _MentionBatch()
        token: str | None = None
        while True:
            response = await self._api().get_users_mentions(
                brand,
                since_id=since,
                pagination_token=token,
                expansions=MENTION_EXPANSIONS,
                tweet_fields=MENTION_TWEET_FIELDS,
                user_fields=USER_FIELDS,
                max_results=100,
            )
            batch.add(response)
            token = (response.meta or {}).get("next_token")
            if not token:
                break
        if len(batch.tweets) >= MENTIONS_KEPT:
            self._warn_mentions_gap(since, batch)
        return batch

    def _warn_mentions_gap(self, since: int | None, batch: _MentionBatch) -> None:
        """X keeps the newest 800 mentions only: say what was lost after a long downtime."""
        oldest = min(batch.tweets, key=lambda t: t.id)
        newest = max(batch.tweets, key=lambda t: t.id)
        oldest_at = oldest.created_at or snowflake_time(oldest.id)
        newest_at = newest.created_at or snowflake_time(newest.id)
        if since is None:
            self._log.warning(
                "X returned its maximum of %d mentions; any older ones (before %s) cannot be "
                "fetched",
                MENTIONS_KEPT,
                oldest_at.isoformat(),
            )
            return
        since_at = snowflake_time(since)
        gap = max(0.0, (oldest_at - since_at).total_seconds())
        span = max(1.0, (newest_at - oldest_at).total_seconds())
        # Between two known mentions spaced like the fetched ones, gap * rate - 1 fit.
        estimate = max(0, round(gap * (len(batch.tweets) - 1) / span) - 1)
        self._log.warning(
            "X keeps only the newest %d mentions: those posted between %s and %s "
            "(%.0f minutes) could not be fetched; about %d missed, estimated from the rate of "
            "the fetched ones",
            MENTIONS_KEPT,
            since_at.isoformat(),
            oldest_at.isoformat(),
            gap / 60,
            estimate,
        )

    # ------------------------------------------------------------------ reposts

    async def poll_reposts_once(self) -> int:
        """Submit a REPOST event for every retweeter of the brand's newest posts.

        Every poll re-submits everyone still listed; the ids (``rt:<tweet>:<user>``) are
        stable, so the core's dedupe drops the ones already handled and this adapter keeps
        no memory of its own."""
        async with self._locks["reposts"]:
            host = self._running_host()
            brand = await self._brand_id()
            client = self._api()
            count = self.config.recent_posts
            timeline = await client.get_users_tweets(
                brand,
                exclude=["replies", "retweets"],
                max_results=min(100, max(5, count)),
                tweet_fields=["created_at", "conversation_id"],
            )
            submitted = 0
            for post in (timeline.data or [])[:count]:
                retweeters = await client.get_retweeters(
                    post.id, user_fields=USER_FIELDS, max_results=100
                )
                for user in reversed(retweeters.data or []):  # X lists the newest first
                    if user.id != brand:
                        await host.submit(repost_event(post, user, self._clock.now()))
                        submitted += 1
            return submitted

    # ------------------------------------------------------------------ direct messages

    async def poll_dms_once(self) -> int:
        """Submit a DIRECT event for every message people sent the brand since the last poll."""
        async with self._locks["dms"]:
            host = self._running_host()
            brand = await self._brand_id()
            if not self._dms_ready:
                await self._start_dms()
            since = self._dms_since
            events: list[Any] = []
            users: dict[int, Any] = {}
            token: str | None = None
            for _ in range(MAX_DM_PAGES):
                response = await self._api().get_direct_message_events(
                    event_types="MessageCreate",
                    dm_event_fields=DM_EVENT_FIELDS,
                    expansions=["sender_id"],
                    user_fields=USER_FIELDS,
                    max_results=100,
                    pagination_token=token,
                    user_auth=True,
                )
                page = list(response.data or [])
                users.update({u.id: u for u in (response.includes or {}).get("users", [])})
                newer = [e for e in page if since is None or e.id > since]
                events.extend(newer)
                token = (response.meta or {}).get("next_token")
                if not token or len(newer) < len(page):
                    break
            submitted = 0
            for message in sorted(events, key=lambda e: e.id):
                event = dm_event(message, users, brand, self._clock.now())
                if event is not None:
                    await host.submit(event)
                    submitted += 1
            if events:
                newest = max(e.id for e in events)
                await host.settled()
                await host.save_cursor(DMS_CURSOR, str(newest))
                self._dms_since = newest
            return submitted

    async def _start_dms(self) -> None:
        host = self._running_host()
        saved = await host.load_cursor(DMS_CURSOR)
        if saved:
            self._dms_since = int(saved)
        else:
            response = await self._api().get_direct_message_events(
                event_types="MessageCreate", max_results=1, user_auth=True
            )
            page = response.data or []
            if page:
                self._dms_since = max(e.id for e in page)
                await host.save_cursor(DMS_CURSOR, str(self._dms_since))
                self._log.info(
                    "X: first start, direct messages before id %s are not replayed", self._dms_since
                )
        self._dms_ready = True

    # ------------------------------------------------------------------ sending

    async def send(self, message: Outgoing) -> Sent:
        reply = message.reply
        reason = self.check_text(reply.text)
        if reason is not None:
            raise PermanentSendError(reason)
        if self._client is None or self._session is None or self._session.closed:
            raise TransientSendError("the X network is not running")
        try:
            if reply.conversation.private:
                participant = _dm_participant(reply.conversation, reply.recipient)
                response = await self._client.create_direct_message(
                    participant_id=participant, text=reply.text, user_auth=True
                )
                return Sent((str(response.data["dm_event_id"]),))
            response = await self._client.create_tweet(
                text=reply.text, in_reply_to_tweet_id=reply.in_reply_to, user_auth=True
            )
            return Sent((str(response.data["id"]),))
        except (TimeoutError, tweepy.TweepyException, aiohttp.ClientError, OSError) as exc:
            raise send_error(exc, self._clock.now().timestamp()) from None

    def length_of(self, text: str) -> int:
        """X weighs characters: CJK and emoji count 2, every link 23."""
        return xtext.weighted_length(text)

    def check_text(self, text: str) -> str | None:
        return xtext.problem(text)

    def cost_of(self, text: str) -> float:
        return xtext.cost(text, self.config.cost_per_post, self.config.cost_per_link_post)

    # ------------------------------------------------------------------ poll loops

    def _spawn(self, name: str, interval: float, poll: Callable[[], Awaitable[int]]) -> None:
        task = asyncio.create_task(
            self._poll_forever(name, interval, poll), name=f"brandbot-x-{name}"
        )
        self._tasks.append(task)

    async def _poll_forever(
        self, name: str, interval: float, poll: Callable[[], Awaitable[int]]
    ) -> None:
        failures = 0
        while True:
            try:
                await poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a poll loop must outlive any one bad response
                failures += 1
                delay = poll_delay(exc, failures, interval, self._clock.now().timestamp())
                self._log.warning(
                    "X %s poll failed (%s); next try in %.0f s", name, _describe(exc), delay
                )
                self._failing.add(name)
                self._running_host().report_state(
                    NetworkState.DEGRADED, f"{name}: {_describe(exc)}"
                )
            else:
                failures = 0
                delay = interval
                if name in self._failing:
                    self._failing.discard(name)
                    if not self._failing:
                        self._running_host().report_state(NetworkState.READY)
            await self._clock.sleep(delay)

    # ------------------------------------------------------------------ helpers

    def _api(self) -> AsyncClient:
        if self._client is None:
            raise RuntimeError("the X network is not started")
        return self._client

    def _running_host(self) -> NetworkHost:
        if self._host is None or self._client is None:
            raise RuntimeError("the X network is not started")
        return self._host


class _MentionBatch:
    """The tweets of one mentions poll, with the users and referenced tweets of all its pages."""

    def __init__(self) -> None:
        self.tweets: list[Any] = []
        self.users: dict[int, Any] = {}
        self.referenced: dict[int, Any] = {}
        self.newest_id: int | None = None

    def add(self, response: Any) -> None:
        self.tweets.extend(response.data or [])
        includes = response.includes or {}
        self.users.update({u.id: u for u in includes.get("users", [])})
        self.referenced.update({t.id: t for t in includes.get("tweets", [])})
        newest = (response.meta or {}).get("newest_id")
        if newest is not None and self.newest_id is None:
            self.newest_id = int(newest)  # the first page holds the newest of the whole chain


# ---------------------------------------------------------------------- translation (pure)


def mention_event(
    tweet: Any,
    users: Mapping[int, Any],
    referenced: Mapping[int, Any],
    brand_id: int,
    now: datetime,
) -> Event | None:
    """Translate one tweet of the mentions timeline; None for what is not for us.

    A reply to a brand post is a REPLY, a quote of a brand post a QUOTE, anything else a
    MENTION; all of them summoned the brand. Retweets and the brand's own posts are skipped
    (repost events come from the retweeters poll).
    """
    author_id = tweet.author_id
    if author_id is None or author_id == brand_id:
        return None
    kind, refers_to = Kind.MENTION, None
    refs = {ref.type: ref.id for ref in tweet.referenced_tweets or []}
    if "retweeted" in refs:
        return None
    replied, quoted = refs.get("replied_to"), refs.get("quoted")
    if replied is not None and _authored_by(referenced.get(replied), brand_id):
        kind, refers_to = Kind.REPLY, str(replied)
    elif quoted is not None and _authored_by(referenced.get(quoted), brand_id):
        kind, refers_to = Kind.QUOTE, str(quoted)
    return Event(
        kind=kind,
        network="x",
        id=str(tweet.id),
        author=_person(author_id, users),
        conversation=Conversation("x", str(tweet.conversation_id or tweet.id)),
        text=tweet.text or "",
        time=tweet.created_at or now,
        post_id=str(tweet.id),
        refers_to=refers_to,
        addressed=True,
        raw=tweet,
    )


def repost_event(post: Any, user: Any, now: datetime) -> Event:
    """A retweet of a brand post. X does not say when it happened, so it is dated ``now``."""
    return Event(
        kind=Kind.REPOST,
        network="x",
        id=f"rt:{post.id}:{user.id}",
        author=Person("x", str(user.id), user.username, user.name),
        conversation=Conversation("x", str(post.conversation_id or post.id)),
        time=now,
        refers_to=str(post.id),
        addressed=False,
        raw=user,
    )


def dm_event(message: Any, users: Mapping[int, Any], brand_id: int, now: datetime) -> Event | None:
    """A direct message a person sent the brand; None for the brand's own messages."""
    sender = message.sender_id
    if sender is None or sender == brand_id or message.event_type != "MessageCreate":
        return None
    return Event(
        kind=Kind.DIRECT,
        network="x",
        id=f"dm:{message.id}",
        author=_person(sender, users),
        conversation=Conversation("x", f"dm:{sender}", private=True),
        text=message.text or "",
        time=message.created_at or now,
        post_id=str(message.id),
        addressed=True,
        raw=message,
    )


def snowflake_time(tweet_id: int) -> datetime:
    """When an X id was minted: ids carry their creation time in milliseconds."""
    milliseconds = (int(tweet_id) >> 22) + _TWITTER_EPOCH_MS
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=milliseconds)


def _authored_by(tweet: Any, user_id: int) -> bool:
    return tweet is not None and tweet.author_id == user_id


def _person(user_id: int, users: Mapping[int, Any]) -> Person:
    user = users.get(user_id)
    if user is None:
        return Person("x", str(user_id))
    return Person("x", str(user_id), user.username or "", user.name or "")


def _dm_participant(conversation: Conversation, recipient: Person | None) -> str:
    if conversation.id.startswith("dm:"):
        return conversation.id.removeprefix("dm:")
    if recipient is not None and recipient.network == "x":
        return recipient.id
    raise PermanentSendError(f"cannot tell whom to message in X conversation {conversation.id!r}")


# ---------------------------------------------------------------------- errors


def send_error(exc: BaseException, now: float) -> SendError:
    """What the outbox should do about a failed X call; ``now`` is epoch seconds."""
    status, headers = _status_and_headers(exc)
    detail = _describe(exc)
    if status is None:
        return TransientSendError(f"X could not be reached: {detail}")
    if status == 429:
        return RateLimitedError(f"X rate limit: {detail}", retry_after_from(headers, now))
    if status == 401:
        return PermanentSendError(
            f"X rejected the credentials ({detail}): check the brand account's access token "
            "and secret"
        )
    if status == 403:
        return PermanentSendError(
            f"X refused the post: {detail}", unreachable=bool(_UNREACHABLE.search(detail))
        )
    if status >= 500:
        return TransientSendError(f"X is having trouble: {detail}")
    return PermanentSendError(f"X refused the post: {detail}")


def retry_after_from(headers: Mapping[str, str], now: float) -> float:
    """Seconds until X resets the rate window (``x-rate-limit-reset`` is epoch seconds)."""
    reset = headers.get("x-rate-limit-reset")
    if reset is None:
        return DEFAULT_RETRY_AFTER
    try:
        return max(0.0, float(reset) - now)
    except ValueError:
        return DEFAULT_RETRY_AFTER


def poll_delay(exc: BaseException, failures: int, interval: float, now: float) -> float:
    """How long a poll loop waits after its ``failures``-th failure in a row.

    A 429 waits until X resets the window; anything else backs off exponentially from
    the poll interval, never beyond 15 minutes.
    """
    status, headers = _status_and_headers(exc)
    if status == 429:
        return min(MAX_BACKOFF + 60.0, max(1.0, retry_after_from(headers, now) + 1.0))
    return min(MAX_BACKOFF, interval * 2.0 ** min(failures, 16))


def _status_and_headers(exc: BaseException) -> tuple[int | None, Mapping[str, str]]:
    if isinstance(exc, tweepy.HTTPException):
        response = exc.response
        status = getattr(response, "status", None) or getattr(response, "status_code", None)
        return status, getattr(response, "headers", None) or {}
    if isinstance(exc, aiohttp.ClientResponseError):
        # e.g. ContentTypeError: tweepy reads every error body as JSON, a proxy's HTML page is not.
        return exc.status, exc.headers or {}
    return None, {}


def _describe(exc: BaseException) -> str:
    """One line about a failure, with no credentials (tweepy's messages hold none)."""
    if isinstance(exc, aiohttp.ContentTypeError):
        return f"HTTP {exc.status} with a non-JSON body"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _RedactAuthorization(logging.Filter):
    """tweepy logs request headers at DEBUG, bearer token included: blank the value out."""

    _HEADER = re.compile(r"('Authorization':\s*')[^']*(')")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "Authorization" in message:
            record.msg = self._HEADER.sub(r"\1<redacted>\2", message)
            record.args = None
        return True


class _DropSigningDetails(logging.Filter):
    """oauthlib logs each OAuth 1.0a signature base string at DEBUG: consumer key and access
    token in clear. Only oauthlib's own developers need those lines; drop them."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


def _hide_credentials_in_library_logs() -> None:
    """Install the filters once per process (logging is process-wide, like the libraries)."""
    for name, kind in (
        ("tweepy.asynchronous.client", _RedactAuthorization),
        ("oauthlib.oauth1.rfc5849", _DropSigningDetails),
    ):
        logger = logging.getLogger(name)
        if not any(isinstance(f, kind) for f in logger.filters):
            logger.addFilter(kind())


__all__ = [
    "XConfig",
    "XNetwork",
    "dm_event",
    "mention_event",
    "poll_delay",
    "repost_event",
    "retry_after_from",
    "send_error",
    "snowflake_time",
]
