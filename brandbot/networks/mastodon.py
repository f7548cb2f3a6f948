"""Mastodon through Mastodon.py, against any instance's REST API.

Mastodon has a streaming API, but it needs a long-lived connection per account; the
notifications endpoint is the durable record, so this adapter polls it every
``poll_interval`` seconds from a cursor (the newest notification id handled) that is
saved only after the host has stored the events. Mentions, replies, direct messages,
quotes, boosts, favourites and follows all arrive there.

Mastodon.py is synchronous (requests): every call runs in a worker thread, one at a time
per account, so its rate-limit bookkeeping (``X-RateLimit-*`` headers) stays consistent.
It is used with ``ratelimit_method="throw"``: its own waiting would block the thread for up
to five minutes; a 429 becomes :class:`RateLimitedError` with the reset time the server
named, and the outbox decides when to retry.

A reply goes out as a status in reply to the post, with that post's visibility (a direct
mention is answered directly, never publicly), its content warning, and the author's
``@name`` (a Mastodon status reaches only the accounts it mentions). It carries an
``Idempotency-Key`` derived from the outbox row, so a resend after a crash returns the
status posted the first time instead of posting twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import mastodon as mastodon_py
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from brandbot.clocks import Clock, SystemClock
from brandbot.core.errors import (
    PermanentSendError,
    RateLimitedError,
    SendError,
    TransientSendError,
)
from brandbot.core.events import Conversation, Event, Kind, Outgoing, Person
from brandbot.core.lru import Lru
from brandbot.networks import mastotext
from brandbot.networks.base import RateLimits, Sent
from brandbot.networks.polling import PolledNetwork

#: Durable cursor: the id of the newest notification handled.
CURSOR = "mastodon:notifications"
#: Mastodon's default API budget: 300 requests per 5 minutes per account.
WINDOW_SECONDS = 300.0
REQUESTS_PER_WINDOW = 300
#: Posting statuses: 300 per 3 hours per account (Mastodon's default).
STATUSES_PER_3_HOURS = 300
#: Notifications per page (Mastodon's maximum is 80; 40 is its default page).
PAGE_SIZE = 40
#: Most pages read in one poll; the rest comes next poll.
MAX_PAGES = 10
#: Keep this many requests of the window for replies: polls wait for the reset below it.
RESERVED_FOR_SENDING = 20
#: Retry delay when a 429 came without a usable X-RateLimit-Reset.
DEFAULT_RETRY_AFTER = 60.0
MAX_BACKOFF = WINDOW_SECONDS
#: Recently seen statuses (visibility, author, content warning) so replies need no look-up.
KNOWN_STATUSES = 2048

T = TypeVar("T")


class MastodonConfig(BaseModel):
    """The ``networks.mastodon`` section of brandbot.yaml."""

    model_config = ConfigDict(extra="forbid")

    api_base_url: str = Field(
        description="The brand account's instance, e.g. https://mastodon.social (any Mastodon-compatible "
        "server, or a test server)."
    )
    access_token: SecretStr = Field(
        description="Access token of an application created in the brand account's Preferences > "
        "Development, with scopes read:accounts read:notifications read:statuses write:statuses."
    )
    poll_interval: float = Field(
        30.0, description="Seconds between two notification polls; at least 2 (300 requests per 5 minutes)."
    )
    max_characters: int = Field(
        mastotext.DEFAULT_MAX_CHARACTERS, ge=1,
        description="Status length for `brandbot check`; at run time the instance's own limit (from its "
        "API) is used.",
    )
    request_timeout: float = Field(30.0, gt=0, description="Seconds before one API request is given up.")

    @field_validator("api_base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"api_base_url must start with https:// (the instance's address), got {value!r}")
        return value

    @field_validator("poll_interval")
    @classmethod
    def _within_budget(cls, value: float) -> float:
        least = 2.0
        if value < least:
            raise ValueError(
                f"poll_interval must be at least {least:g} seconds: Mastodon allows {REQUESTS_PER_WINDOW} "
                f"requests per 5 minutes for everything the account does; got {value:g}"
            )
        return value


@dataclass(frozen=True, slots=True)
class StatusFacts:
    """What a reply to a status must copy from it."""

    visibility: str
    acct: str
    spoiler_text: str = ""


class MastodonNetwork(PolledNetwork):
    """The brand's Mastodon account: notifications in, statuses out."""

    name = "mastodon"
    label = "Mastodon"
    unavailable = (mastodon_py.MastodonError,)
    limits = RateLimits(overall=((STATUSES_PER_3_HOURS, 10800.0),), max_text=mastotext.DEFAULT_MAX_CHARACTERS)
    send_concurrency = 1  # one worker thread per account: Mastodon.py's bookkeeping is not shared-safe
    Config = MastodonConfig

    def __init__(self, config: MastodonConfig, *, clock: Clock | None = None, poll_in_background: bool = True) -> None:
        """``poll_in_background=False`` lets a test drive :meth:`poll_once` itself."""
        self.config = config
        self._api: mastodon_py.Mastodon | None = None
        self._init_polling(clock or SystemClock(), poll_in_background, config.poll_interval,
                           lambda exc: retry_after_of(exc, self._api), describe, MAX_BACKOFF)
        self._lock = asyncio.Lock()
        self._poll_lock = asyncio.Lock()
        self._brand_id: str | None = None
        self._cursor: str | None = None
        self._cursor_ready = False
        self._max_characters = config.max_characters
        self._url_weight = mastotext.DEFAULT_URL_WEIGHT
        self.limits = replace(type(self).limits, max_text=config.max_characters)
        self._known: Lru[str, StatusFacts] = Lru(KNOWN_STATUSES)
        self._accounts: Lru[str, str] = Lru(KNOWN_STATUSES)  # account id -> acct
        self._threads: Lru[str, str] = Lru(KNOWN_STATUSES)  # brand reply id -> its conversation

    # ------------------------------------------------------------------ lifecycle

    async def _open(self) -> None:
        self._api = mastodon_py.Mastodon(
            access_token=self.config.access_token.get_secret_value(),
            api_base_url=self.config.api_base_url,
            ratelimit_method="throw",
            request_timeout=self.config.request_timeout,
            version_check_mode="none",
        )

    async def _close(self) -> None:
        api, self._api = self._api, None
        if api is not None:
            api.session.close()

    def _is_open(self) -> bool:
        return self._api is not None

    def _refused(self, exc: BaseException) -> str | None:
        if not isinstance(exc, mastodon_py.MastodonUnauthorizedError):
            return None
        return ("check networks.mastodon access_token (an application token of the brand account with read and "
                "write:statuses scopes) and that api_base_url is the account's own instance")

    async def _prepare(self) -> None:
        """Learn the brand account, the instance's status limit and where notifications start."""
        if self._brand_id is None:
            account = await self._call(self._client().account_verify_credentials)
            self._brand_id = str(account["id"])
            self._log.info("Mastodon brand account is @%s (id %s)", account.get("acct", ""), self._brand_id)
            await self._learn_limits()
        if not self._cursor_ready:
            await self._start_cursor()

    async def _learn_limits(self) -> None:
        """The instance's ``max_characters`` (API v2, or v1 on older servers); 500 when it says none."""
        api = self._client()
        try:
            info = await self._call(api.instance_v2)
        except mastodon_py.MastodonNotFoundError:
            info = await self._call(api.instance_v1)
        statuses = _dig(info, "configuration", "statuses") or {}
        limit = statuses.get("max_characters") or _dig(info, "max_toot_chars") or mastotext.DEFAULT_MAX_CHARACTERS
        self._max_characters = int(limit)
        self._url_weight = int(statuses.get("characters_reserved_per_url") or mastotext.DEFAULT_URL_WEIGHT)
        self.limits = replace(self.limits, max_text=self._max_characters)

    async def _start_cursor(self) -> None:
        """Resume from the saved cursor; on the very first start, begin after the newest notification."""
        host = self._running_host()
        saved = await host.load_cursor(CURSOR)
        if saved:
            self._cursor = saved
        else:
            newest = await self._call(self._client().notifications, limit=1)
            if newest:
                self._cursor = str(newest[0]["id"])
                await host.save_cursor(CURSOR, self._cursor)
                self._log.info("Mastodon: first start, notifications up to id %s are not replayed", self._cursor)
        self._cursor_ready = True

    # ------------------------------------------------------------------ notifications

    async def poll_once(self) -> int:
        """Fetch notifications newer than the cursor, submit them oldest first, save the cursor
        after the host stored them. Returns how many events were submitted."""
        async with self._poll_lock:
            host = self._running_host()
            await self._prepare()
            brand = self._brand_id or ""
            submitted = 0
            for _ in range(MAX_PAGES):
                # min_id pages forward from the cursor; "0" is the beginning (an account that had
                # no notification at all at the first start).
                page = await self._call(self._client().notifications, min_id=self._cursor or "0", limit=PAGE_SIZE)
                if not page:
                    break
                for note in sorted(page, key=lambda n: _id_order(n["id"])):
                    self._remember(note)
                    event = notification_event(note, brand, self._clock.now(), self._threads)
                    if event is not None:
                        await host.submit(event)
                        submitted += 1
                newest = max((str(n["id"]) for n in page), key=_id_order)
                await host.settled()
                await host.save_cursor(CURSOR, newest)
                self._cursor = newest
                if len(page) < PAGE_SIZE:
                    break
            return submitted

    def _remember(self, note: Any) -> None:
        account = note.get("account") or {}
        if account.get("id") is not None:
            self._accounts.put(str(account["id"]), str(account.get("acct") or ""))
        status = note.get("status")
        if status is not None and status.get("id") is not None:
            self._known.put(str(status["id"]), status_facts(status))

    def _after_poll(self, interval: float) -> float:
        """Wait for the window's reset when polling has used all but the sending reserve."""
        api = self._api
        if api is None:
            return interval
        remaining, reset = api.ratelimit_remaining, api.ratelimit_reset
        if remaining is not None and reset is not None and remaining <= RESERVED_FOR_SENDING:
            wait = float(reset) - time.time()
            if wait > interval:
                self._log.info("Mastodon: %s requests left in this window; next poll in %.0f s", remaining, wait)
                return min(wait, MAX_BACKOFF)
        return interval

    # ------------------------------------------------------------------ sending

    async def send(self, message: Outgoing) -> Sent:
        reply = message.reply
        if self._api is None:
            raise TransientSendError("the Mastodon network is not running")
        try:
            facts = await self._facts_for(reply.in_reply_to)
            recipient = await self._acct_of(reply.recipient) if facts is None else ""
            visibility, acct, spoiler = _reply_shape(facts, reply.conversation, recipient)
            text = mastotext.with_mention(reply.text, acct)
            too_long = mastotext.problem(text, self._max_characters, spoiler, self._url_weight)
            if too_long:
                raise PermanentSendError(too_long)
            status = await self._call(
                self._client().status_post,
                text,
                in_reply_to_id=reply.in_reply_to,
                visibility=visibility,
                spoiler_text=spoiler or None,
                idempotency_key=idempotency_key(message),
            )
        except mastodon_py.MastodonError as exc:
            raise self._send_error(exc) from None
        self._known.put(str(status["id"]), StatusFacts(visibility, acct, spoiler))
        if not reply.conversation.private:  # an answer to it continues the same conversation
            self._threads.put(str(status["id"]), reply.conversation.id)
        return Sent((str(status["id"]),))

    async def _acct_of(self, person: Person | None) -> str:
        """Whom to mention in a status that answers no post (thanks for a boost, a follow)."""
        if person is None or person.network != "mastodon":
            return ""
        if person.handle:
            return person.handle
        known: str | None = self._accounts.get(person.id, None)
        if known is None:
            account = await self._call(self._client().account, person.id)
            known = str(account.get("acct") or "")
            self._accounts.put(person.id, known)
        return known

    async def _facts_for(self, status_id: str | None) -> StatusFacts | None:
        if not status_id:
            return None
        known: StatusFacts | None = self._known.get(status_id, None)
        if known is not None:
            return known
        status = await self._call(self._client().status, status_id)
        facts = status_facts(status)
        self._known.put(status_id, facts)
        return facts

    def _send_error(self, exc: BaseException) -> SendError:
        retry = retry_after_of(exc, self._api)
        if retry is not None:
            return RateLimitedError(f"Mastodon rate limit: {describe(exc)}", retry)
        return send_error(exc)

    def check_text(self, text: str) -> str | None:
        return mastotext.problem(text, self._max_characters, url_weight=self._url_weight)

    def length_of(self, text: str) -> int:
        """Mastodon counts graphemes, every link as 23 and ``@name@server`` as ``@name``."""
        return mastotext.status_length(text, url_weight=self._url_weight)

    # ------------------------------------------------------------------ helpers

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """One Mastodon.py call in a worker thread; one at a time, so the rate-limit
        bookkeeping read after it belongs to it."""
        async with self._lock:
            return await asyncio.to_thread(fn, *args, **kwargs)

    def _client(self) -> mastodon_py.Mastodon:
        if self._api is None:
            raise RuntimeError("the Mastodon network is not started")
        return self._api



# ---------------------------------------------------------------------- translation (pure)


def notification_event(note: Mapping[str, Any], brand_id: str, now: datetime,
                       threads: Lru[str, str] | None = None) -> Event | None:
    """Translate one notification; None for kinds brandbot does not handle (polls, edits, admin).

    ``threads`` maps the brand's replies to the conversation they answered, so a person who
    answers the bot's reply stays in that conversation (Mastodon's API names no thread root).

    A mention is DIRECT when its visibility is direct, a REPLY when it answers a brand post,
    else a MENTION; a quote is a QUOTE; all of these summoned the brand. A boost is a
    REPOST, a favourite a REACTION, a follow a FOLLOW.
    """
    kind_name = note.get("type")
    account = note.get("account") or {}
    if str(account.get("id", "")) in ("", brand_id):
        return None
    author = Person("mastodon", str(account["id"]), str(account.get("acct") or ""),
                    str(account.get("display_name") or ""))
    when = _aware(note.get("created_at")) or now
    event_id = f"n:{note['id']}"
    status = note.get("status")
    if kind_name == "follow":
        return Event(kind=Kind.FOLLOW, network="mastodon", id=event_id, author=author,
                     conversation=Conversation("mastodon", f"account:{brand_id}"), time=when, raw=note)
    if status is None:
        return None
    status_id = str(status["id"])
    if kind_name in ("reblog", "favourite"):
        kind = Kind.REPOST if kind_name == "reblog" else Kind.REACTION
        return Event(kind=kind, network="mastodon", id=event_id, author=author,
                     conversation=Conversation("mastodon", status_id), time=when, refers_to=status_id,
                     data=(("emoji", "⭐"),) if kind is Kind.REACTION else (), raw=note)
    if kind_name not in ("mention", "quote"):
        return None
    visibility = str(status.get("visibility") or "public")
    private = visibility == "direct"
    refers_to: str | None = None
    if kind_name == "quote":
        kind, refers_to = Kind.QUOTE, _quoted_id(status)
    elif private:
        kind = Kind.DIRECT
    elif str(status.get("in_reply_to_account_id") or "") == brand_id:
        kind, refers_to = Kind.REPLY, str(status.get("in_reply_to_id") or "") or None
    else:
        kind = Kind.MENTION
    thread = threads.get(str(status.get("in_reply_to_id") or ""), None) if threads is not None else None
    conversation = (Conversation("mastodon", f"dm:{author.id}", private=True) if private
                    else Conversation("mastodon", thread or status_id))
    spoiler = str(status.get("spoiler_text") or "")
    data: tuple[tuple[str, str], ...] = (("visibility", visibility),)
    if spoiler:
        data += (("spoiler_text", spoiler),)
    # The status is the event: a quote that also names the brand comes as two notifications.
    return Event(kind=kind, network="mastodon", id=f"status:{status_id}", author=author, conversation=conversation,
                 text=mastotext.html_to_text(str(status.get("content") or "")), time=when, post_id=status_id,
                 refers_to=refers_to, addressed=True, data=data, raw=note)


def status_facts(status: Mapping[str, Any]) -> StatusFacts:
    account = status.get("account") or {}
    return StatusFacts(str(status.get("visibility") or "public"), str(account.get("acct") or ""),
                       str(status.get("spoiler_text") or ""))


def _reply_shape(facts: StatusFacts | None, conversation: Conversation, recipient: str) -> tuple[str, str, str]:
    """(visibility, whom to mention, content warning) of a reply: never wider than the post it
    answers, and direct in a private conversation whatever the post said. ``recipient`` is
    the acct to mention when the reply answers no post."""
    acct = facts.acct if facts is not None else recipient
    wanted = "direct" if conversation.private else "public"
    if facts is None:
        if conversation.private and not acct:
            raise PermanentSendError(
                f"cannot tell whom to write in Mastodon conversation {conversation.id!r}: a direct status "
                "reaches only the accounts it mentions")
        return wanted, acct, ""
    return mastotext.narrowest(facts.visibility, wanted), acct, facts.spoiler_text


def idempotency_key(message: Outgoing) -> str:
    """The Idempotency-Key of an outbox row: the same on every attempt, different for every row
    (also across a store started afresh, whose ids start again at 1)."""
    created = message.created
    stamp = f"{created.timestamp():.6f}" if created is not None else "0"
    return f"brandbot-{message.outbox_id}-{stamp}"


def _quoted_id(status: Mapping[str, Any]) -> str | None:
    quote = status.get("quote") or {}
    quoted = quote.get("quoted_status") or {}
    return str(quoted["id"]) if quoted.get("id") is not None else None


def _id_order(value: Any) -> tuple[int, str]:
    """Mastodon ids are numeric strings; order by number, longer ids are newer."""
    text = str(value)
    return (int(text), text) if text.isdigit() else (0, text)


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


# ---------------------------------------------------------------------- errors


def _status_of(exc: BaseException) -> int | None:
    if isinstance(exc, mastodon_py.MastodonAPIError) and len(exc.args) > 1 and isinstance(exc.args[1], int):
        return exc.args[1]
    return None


def retry_after_of(exc: BaseException, api: Any = None) -> float | None:
    """Seconds to wait after a 429 (the X-RateLimit-Reset Mastodon.py recorded); None otherwise."""
    if not isinstance(exc, mastodon_py.MastodonRatelimitError):
        return None
    reset = getattr(api, "ratelimit_reset", None)
    if reset is None:
        return DEFAULT_RETRY_AFTER
    return max(0.0, float(reset) - time.time())


def send_error(exc: BaseException) -> SendError:
    """What the outbox should do about a failed Mastodon call (429s are handled before)."""
    detail = describe(exc)
    status = _status_of(exc)
    if isinstance(exc, mastodon_py.MastodonRatelimitError):
        return RateLimitedError(f"Mastodon rate limit: {detail}", DEFAULT_RETRY_AFTER)
    if isinstance(exc, mastodon_py.MastodonIllegalArgumentError):
        return PermanentSendError(f"Mastodon.py refused the request: {detail}")
    if isinstance(exc, mastodon_py.MastodonNetworkError) or status is None:
        return TransientSendError(f"Mastodon could not be reached: {detail}")
    if status == 401:
        return PermanentSendError(f"Mastodon rejected the access token ({detail}): check networks.mastodon access_token")
    if status == 404:
        return PermanentSendError(f"Mastodon: the post to answer is gone ({detail})")
    if status >= 500 or status in (408, 409):
        return TransientSendError(f"Mastodon is having trouble: {detail}")
    return PermanentSendError(f"Mastodon refused the status: {detail}", unreachable=status == 403)


def describe(exc: BaseException) -> str:
    """One line about a failure, with no credentials (Mastodon.py's messages hold none)."""
    if isinstance(exc, mastodon_py.MastodonAPIError) and len(exc.args) >= 4:
        return f"HTTP {exc.args[1]} {exc.args[3] or exc.args[2]}"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


__all__ = [
    "CURSOR",
    "MastodonConfig",
    "MastodonNetwork",
    "StatusFacts",
    "describe",
    "idempotency_key",
    "notification_event",
    "retry_after_of",
    "send_error",
    "status_facts",
]
