"""Bluesky through atproto's asynchronous client, against the brand account's PDS.

The adapter logs in with an app password (``com.atproto.server.createSession``); the
client refreshes the session itself (``refreshSession``) before the access token expires,
and a token the server calls expired or invalid anyway is answered by one new login.

It polls ``app.bsky.notification.listNotifications`` every ``poll_interval`` seconds.
That list runs newest first and its own cursor pages into the past, so the durable cursor
is the ``indexedAt`` of the newest notification handled, saved after ``host.settled()``;
each poll reads pages until it reaches older ones. Mentions, replies, quotes, reposts,
likes and follows become events.

A reply is a post record with the right ``reply.root``/``reply.parent`` strong refs and
facets (UTF-8 byte ranges) for the mentions and links in its text. It is created with
``com.atproto.repo.createRecord`` under a record key (a TID) derived from the outbox row:
a resend after a crash names the same record, the PDS refuses it as a duplicate, and the
adapter finds the record created the first time and reports it sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from atproto import AsyncClient, models
from atproto_client.exceptions import (
    BadRequestError,
    NetworkError,
    RateLimitExceededError,
    RequestErrorBase,
    UnauthorizedError,
)
from atproto_client.request import AsyncRequest
from atproto_core.exceptions import AtProtocolError
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
from brandbot.networks import mastotext, skytext
from brandbot.networks.base import NetworkHost, RateLimits, Sent
from brandbot.networks.polling import PolledNetwork

#: Durable cursor: the indexedAt of the newest notification handled (ISO 8601).
CURSOR = "bluesky:notifications"
#: Notifications per page (the lexicon's maximum is 100).
PAGE_SIZE = 50
#: Most pages read back to the cursor in one poll (5,000 notifications); older ones are skipped.
MAX_PAGES = 100
#: The PDS's write budget: createRecord costs 3 of 5,000 points per hour and 35,000 per day.
CREATES_PER_HOUR = 1666
CREATES_PER_DAY = 11666
#: Retry delay when a 429 carries no ratelimit-reset.
DEFAULT_RETRY_AFTER = 60.0
MAX_BACKOFF = 900.0
#: Posts seen recently (strong refs of the post and its thread root), so replies need no look-up.
KNOWN_POSTS = 2048
#: Errors of an XRPC server that mean "log in again".
_SESSION_ERRORS = frozenset({"ExpiredToken", "InvalidToken"})

T = TypeVar("T")


class BlueskyConfig(BaseModel):
    """The ``networks.bluesky`` section of brandbot.yaml."""

    model_config = ConfigDict(extra="forbid")

    handle: str = Field(description="The brand account's handle, e.g. inkwell.bsky.social (or its DID).")
    app_password: SecretStr = Field(
        description="An app password (Settings > Privacy and security > App passwords), never the account "
        "password; from an environment variable."
    )
    api_base_url: str = Field(
        "https://bsky.social",
        description="The account's PDS (its hosting provider); https://bsky.social for accounts made on "
        "the Bluesky app.",
    )
    poll_interval: float = Field(15.0, description="Seconds between two notification polls; at least 2.")
    request_timeout: float = Field(30.0, gt=0, description="Seconds before one API request is given up.")

    @field_validator("handle")
    @classmethod
    def _handle(cls, value: str) -> str:
        value = value.strip().removeprefix("@")
        if not value or " " in value:
            raise ValueError(f"handle must be the account's handle (e.g. brand.bsky.social) or DID, got {value!r}")
        return value

    @field_validator("api_base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"api_base_url must start with https:// (the account's PDS), got {value!r}")
        return value

    @field_validator("poll_interval")
    @classmethod
    def _interval(cls, value: float) -> float:
        if value < 2.0:
            raise ValueError(
                f"poll_interval must be at least 2 seconds: the PDS allows 3,000 requests per 5 minutes; got {value:g}"
            )
        return value


@dataclass(frozen=True, slots=True)
class PostRefs:
    """The strong refs a reply to a post needs: the post itself and the root of its thread."""

    uri: str
    cid: str
    root_uri: str
    root_cid: str


class BlueskyNetwork(PolledNetwork):
    """The brand's Bluesky account: notifications in, posts out."""

    name = "bluesky"
    label = "Bluesky"
    unavailable = (AtProtocolError,)
    limits = RateLimits(overall=((CREATES_PER_HOUR, 3600.0), (CREATES_PER_DAY, 86400.0)),
                        max_text=skytext.MAX_GRAPHEMES)
    Config = BlueskyConfig

    def __init__(self, config: BlueskyConfig, *, clock: Clock | None = None, poll_in_background: bool = True) -> None:
        """``poll_in_background=False`` lets a test drive :meth:`poll_once` itself."""
        self.config = config
        clock = clock or SystemClock()
        self._init_polling(clock, poll_in_background, config.poll_interval,
                           lambda exc: retry_after_of(exc, clock.now()), describe, MAX_BACKOFF)
        self._client: AsyncClient | None = None
        self._did: str | None = None
        self._cursor: datetime | None = None
        self._at_cursor: set[str] = set()  # event ids handled at exactly the cursor's time
        self._cursor_ready = False
        self._known: Lru[str, PostRefs] = Lru(KNOWN_POSTS)
        self._handles: Lru[str, str] = Lru(KNOWN_POSTS)  # DID -> handle
        self._poll_lock = asyncio.Lock()

    # ------------------------------------------------------------------ lifecycle

    async def _open(self) -> None:
        self._client = AsyncClient(self.config.api_base_url, request=AsyncRequest(timeout=self.config.request_timeout))
        self._client.on_session_change(self._session_changed)

    def _session_changed(self, event: Any, session: Any) -> None:
        """atproto's hook on createSession/refreshSession: the account's DID comes from there."""
        if self._did != session.did:
            self._log.info("Bluesky brand account is @%s (%s)", session.handle, session.did)
        self._did = session.did

    async def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.request.close()

    def _is_open(self) -> bool:
        return self._client is not None

    def _refused(self, exc: BaseException) -> str | None:
        if not isinstance(exc, UnauthorizedError):
            return None
        return ("check networks.bluesky handle and app_password (an app password of that account, from Settings > "
                "Privacy and security > App passwords) and that api_base_url is the account's PDS")

    async def _prepare(self) -> None:
        if self._did is None:
            await self._login()
        if not self._cursor_ready:
            await self._start_cursor()

    async def _login(self) -> None:
        """createSession with the app password; the session hook learns the DID."""
        await self._api().login(self.config.handle, self.config.app_password.get_secret_value(),
                                fetch_bsky_profile=False)

    async def _call(self, make: Callable[[AsyncClient], Awaitable[T]]) -> T:
        """One XRPC call; a token the server calls expired or invalid gets one new login and a retry."""
        try:
            return await make(self._api())
        except (BadRequestError, UnauthorizedError) as exc:
            if _xrpc_error(exc) not in _SESSION_ERRORS:
                raise
            self._log.info("Bluesky session %s; logging in again", _xrpc_error(exc))
            await self._login()
            return await make(self._api())

    async def _start_cursor(self) -> None:
        """Resume from the saved cursor; on the very first start, begin after the newest notification."""
        host = self._running_host()
        saved = await host.load_cursor(CURSOR)
        if saved:
            self._cursor, self._at_cursor = parse_cursor(saved)
        else:
            page = await self._call(lambda c: c.app.bsky.notification.list_notifications(params={"limit": 1}))
            if page.notifications:
                self._cursor = _parse_time(page.notifications[0].indexed_at)
                self._at_cursor = {page.notifications[0].uri}
                await host.save_cursor(CURSOR, format_cursor(self._cursor, self._at_cursor))
                self._log.info("Bluesky: first start, notifications up to %s are not replayed", self._cursor)
        self._cursor_ready = True

    # ------------------------------------------------------------------ notifications

    async def poll_once(self) -> int:
        """Read notifications back to the cursor, submit them oldest first, then save the cursor."""
        async with self._poll_lock:
            return await self._poll(self._running_host())

    async def _poll(self, host: NetworkHost) -> int:
        await self._prepare()
        brand = self._did or ""
        fresh = await self._fetch_since(self._cursor)
        submitted = 0
        for note in fresh:
            self._remember(note)
            event = notification_event(note, brand, self._clock.now())
            if event is not None:
                await host.submit(event)
                submitted += 1
        if fresh:
            newest = max(_parse_time(n.indexed_at) for n in fresh)
            at_newest = {n.uri for n in fresh if _parse_time(n.indexed_at) == newest}
            at_newest |= self._at_cursor if newest == self._cursor else set()
            await host.settled()
            await host.save_cursor(CURSOR, format_cursor(newest, at_newest))
            self._cursor, self._at_cursor = newest, at_newest
        return submitted

    async def _fetch_since(self, since: datetime | None) -> list[Any]:
        """Notifications at or after ``since`` not handled yet, oldest first."""
        found: list[Any] = []
        page_cursor: str | None = None
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = {"limit": PAGE_SIZE}
            if page_cursor:
                params["cursor"] = page_cursor
            page = await self._call(_list_notifications(params))
            reached = False
            for note in page.notifications:
                when = _parse_time(note.indexed_at)
                if since is not None and when < since:
                    reached = True
                    break
                if not (since is not None and when == since and note.uri in self._at_cursor):
                    found.append(note)
            page_cursor = page.cursor
            if reached or not page_cursor or not page.notifications:
                break
        else:
            oldest = _parse_time(found[-1].indexed_at) if found else None
            self._log.warning(
                "Bluesky: more than %d notifications since the last poll (a long downtime?); those between "
                "%s and %s are not fetched and not answered", MAX_PAGES * PAGE_SIZE,
                since.isoformat() if since else "the start", oldest.isoformat() if oldest else "?")
        found.sort(key=lambda n: (_parse_time(n.indexed_at), n.uri))
        return found

    def _remember(self, note: Any) -> None:
        self._handles.put(note.author.did, note.author.handle or "")
        if note.reason in ("mention", "reply", "quote"):
            self._known.put(note.uri, post_refs(note.uri, note.cid, note.record))

    # ------------------------------------------------------------------ sending

    async def send(self, message: Outgoing) -> Sent:
        reply = message.reply
        reason = self.check_text(reply.text)
        if reason is not None:
            raise PermanentSendError(reason)
        if reply.conversation.private:
            raise PermanentSendError("Bluesky direct messages are not supported by brandbot; answer in public")
        if self._client is None:
            raise TransientSendError("the Bluesky network is not running")
        rkey = skytext.outbox_rkey(message.outbox_id, message.created)
        try:
            if self._did is None:
                await self._login()
            refs = await self._refs_for(reply.in_reply_to)
            text = reply.text
            if refs is None:  # a new post (thanks for a repost, a follow): name the person so it reaches them
                text = mastotext.with_mention(text, await self._handle_of(reply.recipient))
                too_long = self.check_text(text)
                if too_long is not None:
                    raise PermanentSendError(f"{too_long} (with the @handle of the person it thanks)")
            facets = await self._api().detect_facets(text)
            record = models.AppBskyFeedPost.Record(
                text=text,
                created_at=self._clock.now().astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                facets=facets or None,
                reply=_reply_ref(refs) if refs is not None else None,
            )
            data = models.ComAtprotoRepoCreateRecord.Data(
                repo=self._did or self.config.handle, collection=skytext.POST_COLLECTION, rkey=rkey, record=record
            )
            try:
                created = await self._call(lambda c: c.com.atproto.repo.create_record(data))
            except RequestErrorBase as exc:
                if isinstance(exc, RateLimitExceededError | UnauthorizedError):
                    raise
                existing = await self._existing(rkey)  # refused as a duplicate: it went out before
                if existing is None:
                    raise
                self._log.info("Bluesky: outbox %d was posted before (%s); not posting again", message.outbox_id,
                               existing)
                return Sent((existing,))
        except (AtProtocolError, httpx.HTTPError) as exc:
            raise send_error(exc, self._clock.now()) from None
        return Sent((created.uri,))

    async def _handle_of(self, person: Person | None) -> str:
        """The handle of ``person`` (the outbox keeps only the DID): seen in a notification, or
        looked up with app.bsky.actor.getProfile; "" when unknown."""
        if person is None or person.network != "bluesky":
            return ""
        if person.handle:
            return person.handle
        known: str | None = self._handles.get(person.id, None)
        if known is None:
            profile = await self._call(lambda c: c.app.bsky.actor.get_profile(params={"actor": person.id}))
            known = str(profile.handle or "")
            self._handles.put(person.id, known)
        return known

    async def _existing(self, rkey: str) -> str | None:
        """The URI of the brand's post under ``rkey``, if the PDS has it."""
        try:
            found = await self._call(lambda c: c.com.atproto.repo.get_record(
                params={"repo": self._did or self.config.handle, "collection": skytext.POST_COLLECTION, "rkey": rkey}))
        except BadRequestError as exc:
            if _xrpc_error(exc) == "RecordNotFound":
                return None
            raise
        return str(found.uri)

    async def _refs_for(self, uri: str | None) -> PostRefs | None:
        if not uri:
            return None
        known: PostRefs | None = self._known.get(uri, None)
        if known is not None:
            return known
        found = await self._call(lambda c: c.app.bsky.feed.get_posts(params={"uris": [uri]}))
        if not found.posts:
            raise PermanentSendError(f"Bluesky: the post to answer is gone ({uri})")
        post = found.posts[0]
        refs = post_refs(post.uri, post.cid, post.record)
        self._known.put(uri, refs)
        return refs

    def check_text(self, text: str) -> str | None:
        return skytext.problem(text)

    def length_of(self, text: str) -> int:
        """Bluesky counts graphemes."""
        return skytext.graphemes(text)

    # ------------------------------------------------------------------ helpers

    def _api(self) -> AsyncClient:
        if self._client is None:
            raise RuntimeError("the Bluesky network is not started")
        return self._client



def _list_notifications(params: dict[str, Any]) -> Callable[[AsyncClient], Awaitable[Any]]:
    async def call(client: AsyncClient) -> Any:
        return await client.app.bsky.notification.list_notifications(params=params)

    return call


# ---------------------------------------------------------------------- translation (pure)

_KINDS = {"mention": Kind.MENTION, "reply": Kind.REPLY, "quote": Kind.QUOTE, "repost": Kind.REPOST,
          "like": Kind.REACTION, "follow": Kind.FOLLOW}


def notification_event(note: Any, brand_did: str, now: datetime) -> Event | None:
    """Translate one notification; None for reasons brandbot does not handle (starter packs,
    verification, likes of reposts) and for the brand's own actions."""
    kind = _KINDS.get(note.reason)
    author = note.author
    if kind is None or author.did == brand_did:
        return None
    person = Person("bluesky", author.did, author.handle or "", getattr(author, "display_name", None) or "")
    record = note.record
    when = _parse_time(_field(record, "created_at") or note.indexed_at) if record is not None else now
    if kind is Kind.FOLLOW:
        return Event(kind=kind, network="bluesky", id=note.uri, author=person,
                     conversation=Conversation("bluesky", f"followers:{brand_did}"), time=when, raw=note)
    subject = note.reason_subject
    if kind in (Kind.REPOST, Kind.REACTION):
        target = subject or _subject_uri(record)
        data = (("emoji", "❤"),) if kind is Kind.REACTION else ()
        return Event(kind=kind, network="bluesky", id=note.uri, author=person,
                     conversation=Conversation("bluesky", target or note.uri), time=when, refers_to=target,
                     data=data, raw=note)
    refs = post_refs(note.uri, note.cid, record)
    refers_to: str | None = None
    if kind is Kind.REPLY:
        refers_to = subject or _reply_parent(record)
    elif kind is Kind.QUOTE:
        refers_to = subject or _quoted_uri(record)
    return Event(kind=kind, network="bluesky", id=note.uri, author=person,
                 conversation=Conversation("bluesky", refs.root_uri), text=str(_field(record, "text") or ""),
                 time=when, post_id=note.uri, refers_to=refers_to, addressed=True, raw=note)


def post_refs(uri: str, cid: str, record: Any) -> PostRefs:
    """The post's own strong ref and its thread's root (the post itself when it starts one)."""
    reply = _field(record, "reply")
    root = _field(reply, "root") if reply is not None else None
    if root is None:
        return PostRefs(uri, cid, uri, cid)
    return PostRefs(uri, cid, str(_field(root, "uri")), str(_field(root, "cid")))


def _reply_ref(refs: PostRefs) -> models.AppBskyFeedPost.ReplyRef:
    return models.AppBskyFeedPost.ReplyRef(
        parent=models.ComAtprotoRepoStrongRef.Main(uri=refs.uri, cid=refs.cid),
        root=models.ComAtprotoRepoStrongRef.Main(uri=refs.root_uri, cid=refs.root_cid),
    )


def _field(obj: Any, name: str) -> Any:
    """A field of an atproto model or of a plain dict (records of unknown types stay dicts)."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name, obj.get(_camel(name)))
    return getattr(obj, name, None)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _subject_uri(record: Any) -> str | None:
    subject = _field(record, "subject")
    uri = _field(subject, "uri") if subject is not None and not isinstance(subject, str) else None
    return str(uri) if uri else None


def _reply_parent(record: Any) -> str | None:
    parent = _field(_field(record, "reply"), "parent")
    uri = _field(parent, "uri")
    return str(uri) if uri else None


def _quoted_uri(record: Any) -> str | None:
    embed = _field(record, "embed")
    inner = _field(embed, "record")
    if inner is not None and _field(inner, "uri") is None:
        inner = _field(inner, "record")  # recordWithMedia nests the record once more
    uri = _field(inner, "uri")
    return str(uri) if uri else None


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def format_cursor(newest: datetime, handled: set[str]) -> str:
    """The durable cursor: the newest indexedAt handled and the notifications handled at that
    very time (URIs hold no spaces), so a restart replays none of them."""
    return " ".join([newest.astimezone(UTC).isoformat(timespec="microseconds"), *sorted(handled)])


def parse_cursor(value: str) -> tuple[datetime, set[str]]:
    when, *handled = value.split()
    return _parse_time(when), set(handled)


# ---------------------------------------------------------------------- errors


def _xrpc_error(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    content = getattr(response, "content", None)
    return str(getattr(content, "error", "") or "")


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def retry_after_of(exc: BaseException, now: datetime | None = None) -> float | None:
    """Seconds until the PDS's rate window resets, for a 429; None for anything else."""
    if not isinstance(exc, RateLimitExceededError):
        return None
    if exc.retry_after is not None:
        return exc.retry_after
    reset = exc.reset_at
    if reset is None:
        return DEFAULT_RETRY_AFTER
    return max(0.0, (reset - (now or datetime.now(UTC))).total_seconds())


def send_error(exc: BaseException, now: datetime) -> SendError:
    """What the outbox should do about a failed Bluesky call."""
    detail = describe(exc)
    retry = retry_after_of(exc, now)
    if retry is not None:
        return RateLimitedError(f"Bluesky rate limit: {detail}", retry)
    status = _status(exc)
    if status is None or status >= 500 or isinstance(exc, NetworkError):
        return TransientSendError(f"Bluesky could not be reached or had trouble: {detail}")
    if isinstance(exc, UnauthorizedError):
        return PermanentSendError(f"Bluesky refused the session ({detail}): check networks.bluesky app_password")
    blocked = "block" in detail.lower()
    return PermanentSendError(f"Bluesky refused the post: {detail}", unreachable=blocked)


def describe(exc: BaseException) -> str:
    """One line about a failure, with no credentials (atproto's messages hold none)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


__all__ = [
    "CURSOR",
    "BlueskyConfig",
    "BlueskyNetwork",
    "PostRefs",
    "describe",
    "notification_event",
    "post_refs",
    "retry_after_of",
    "send_error",
]
