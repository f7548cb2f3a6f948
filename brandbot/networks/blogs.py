"""Blogs and review sites, read from their RSS and Atom feeds (the ``feeds:`` section).

Word of mouth about a book lives on blogs: tour stops, interviews, reviews. This network
polls the feeds the config lists and turns each entry that mentions the brand, the book
or the author into an event: ``review`` when it reads as one (a rating such as "4/5" or
"★★★★☆", or a review word), else ``post``. The decisions are pure and live in
:mod:`brandbot.core.reviews`; this adapter only fetches and translates.

Why it is shaped this way:

- **Polite polling.** Each feed has its own interval and is fetched with a conditional
  GET (``If-None-Match`` / ``If-Modified-Since`` from the last answer), so an unchanged
  feed costs a 304 and no parsing. A failing feed (429, 5xx, a timeout, a body that is
  no feed) backs off exponentially, up to ``max_backoff``; a ``Retry-After`` is obeyed.
  One bad feed never stops the others.
- **Durable cursor per feed.** The validators and the keys of the entries already seen
  are saved under ``blogs:<url>`` only after ``host.settled()``: a crash replays the
  last poll's entries, which the core's processed-id dedupe then drops.
- **One entry, one event.** The event id is derived from the entry's canonical link (else
  its guid), so the same review listed by the blog's feed and a search feed is one event.
- **First poll.** A feed seen for the first time yields only entries younger than
  ``backfill`` (14 days by default): adding a blog does not replay its archive.
- **A blog is not a chat.** The bot never comments on blogs: the network is
  ``read_only``, so the policy refuses any message to it before the outbox (reason
  ``read_only``), ``brandbot check`` rejects a rule that replies to review or post
  events, and ``send`` refuses as a last guard. The reviewcopy plugin thanks reviewers
  on a network where the brand knows them.

feedparser is given the bytes aiohttp fetched (it does no I/O itself then), in a
worker thread, so a large feed does not hold up the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, field_validator

from brandbot.clocks import Clock, SystemClock
from brandbot.core.durations import Duration
from brandbot.core.errors import PermanentSendError
from brandbot.core.events import Outgoing
from brandbot.core.lru import Lru
from brandbot.core.reviews import DEFAULT_REVIEW_WORDS, Watch, blog_of
from brandbot.networks.base import Network, NetworkHost, NetworkState, RateLimits, Sent
from brandbot.networks.feedentries import (
    NETWORK,
    FeedError,
    entry_event,
    feed_entries,
    oldest_first,
    parse_feed,
)

CURSOR_PREFIX = "blogs:"
#: Why nothing is ever sent here (the policy shows it as the refusal's detail).
READ_ONLY = (
    "blogs are read-only: the bot never comments on a blog; thank the writer on a network "
    "where the brand knows them (the reviewcopy plugin does), or tell the staff"
)
#: Entries remembered per feed besides those it lists now (most list 10 to 50)...
SEEN_PER_FEED = 500
#: ...and at most this many in all (a feed that lists more is cut at max_bytes anyway).
SEEN_MOST = 20_000
#: Event ids remembered across feeds in this process, so a review in two feeds is submitted once.
SUBMITTED_MEMORY = 10_000


class FeedSource(BaseModel):
    """One feed under ``feeds.sources``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="The RSS or Atom feed's address (http or https)")
    name: str = Field("", description="What the staff call this feed; default: its host")
    interval: Duration | None = Field(None, description="Seconds (or 30m, 2h) between polls; default: feeds.interval")
    site: bool = Field(
        False,
        description="A review site or search feed with many writers: each entry's author is a person "
        "(on a blog, the blog is the person)",
    )

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        value = value.strip()
        if not value.lower().startswith(("http://", "https://")) or not blog_of(value):
            raise ValueError(f"a feed url starts with http:// or https:// and names a host, got {value!r}")
        return value

    @property
    def label(self) -> str:
        return self.name or blog_of(self.url)


class BlogsConfig(BaseModel):
    """The ``feeds:`` section of brandbot.yaml (or ``networks.blogs``)."""

    model_config = ConfigDict(extra="forbid")

    sources: list[FeedSource] = Field(min_length=1, description="The feeds to watch: tour hosts' blogs, review sites, search feeds")
    watch: list[str] = Field(
        default_factory=list,
        description="Phrases an entry must contain to become an event; default: the brand's name, book and author",
    )
    review_words: list[str] = Field(
        default_factory=lambda: list(DEFAULT_REVIEW_WORDS),
        description="Words that make an entry a review (whole words, any case or accent)",
    )
    ratings: bool = Field(True, description="An entry with a rating (4/5, 4.5 out of 5, ★★★★☆, 4 stars) is a review")
    interval: Duration = Field(1800.0, gt=0, description="Seconds (or 30m) between two polls of a feed")
    backfill: Duration = Field(14 * 86400.0, description="On a feed's first poll, entries younger than this become events")
    timeout: Duration = Field(30.0, gt=0, description="Seconds before one fetch is given up")
    max_backoff: Duration = Field(6 * 3600.0, gt=0, description="Longest pause after failures of one feed")
    max_bytes: int = Field(5_000_000, ge=10_000, description="A feed larger than this is refused")
    user_agent: str = Field("brandbot feed watcher", description="The User-Agent sent with every fetch")

    @field_validator("watch")
    @classmethod
    def _something_to_watch(cls, value: list[str]) -> list[str]:
        phrases = [p.strip() for p in value if p.strip()]
        if not phrases:
            raise ValueError("name at least one phrase to watch for (the brand, the book, the author)")
        return phrases

    @field_validator("sources")
    @classmethod
    def _each_once(cls, value: list[FeedSource]) -> list[FeedSource]:
        urls = [s.url for s in value]
        twice = sorted({u for u in urls if urls.count(u) > 1})
        if twice:
            raise ValueError(f"feed listed twice: {', '.join(twice)}")
        return value

    def watcher(self) -> Watch:
        return Watch(tuple(self.watch), tuple(self.review_words), self.ratings)


@dataclass(slots=True)
class FeedCursor:
    """What a feed's next poll needs: the validators of its last answer and the entries seen."""

    etag: str = ""
    modified: str = ""
    seen: list[str] = field(default_factory=list)
    started: bool = False  # False until the first poll: then only recent entries count

    def dump(self) -> str:
        return json.dumps({"etag": self.etag, "modified": self.modified, "seen": self.seen[-SEEN_MOST:]})

    @classmethod
    def load(cls, text: str | None) -> FeedCursor:
        if not text:
            return cls()
        try:
            data = json.loads(text)
            return cls(str(data.get("etag", "")), str(data.get("modified", "")),
                       [str(k) for k in data.get("seen", [])], started=True)
        except (ValueError, TypeError, AttributeError):
            logging.getLogger("brandbot.network.blogs").warning(
                "blogs: a saved feed cursor is unreadable; the feed starts afresh (recent entries only)")
            return cls()


def remember(seen: list[str], listed: set[str]) -> list[str]:
    """The entry keys a feed's cursor keeps: every one it lists now, however many (one
    forgotten while still listed would come back as new once the core's dedupe forgot
    it), and the latest others up to ``SEEN_PER_FEED`` in all; never over ``SEEN_MOST``."""
    current = [k for k in seen if k in listed]
    room = max(0, SEEN_PER_FEED - len(current))
    older = [k for k in seen if k not in listed][-room:] if room else []
    return (older + current)[-SEEN_MOST:]


class BlogsNetwork(Network):
    """Feeds in, events out; nothing is ever sent."""

    name = NETWORK
    read_only = True  # the policy refuses every message to a blog
    limits = RateLimits(max_text=10_000)
    Config = BlogsConfig

    def __init__(self, config: BlogsConfig, *, clock: Clock | None = None, poll_in_background: bool = True) -> None:
        """``poll_in_background=False`` is a test hook: the test calls :meth:`poll_once`."""
        self.config = config
        self._watch = config.watcher()
        self._clock: Clock = clock or SystemClock()
        self._poll_in_background = poll_in_background
        self._host: NetworkHost | None = None
        self._log = logging.getLogger("brandbot.network.blogs")
        self._session: aiohttp.ClientSession | None = None
        self._cursors: dict[str, FeedCursor] = {}
        self._locks = {s.url: asyncio.Lock() for s in config.sources}
        self._submitted: Lru[str, bool] = Lru(SUBMITTED_MEMORY)
        self._failing: dict[str, str] = {}
        self._tasks: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: NetworkHost) -> None:
        if self._session is not None:
            raise RuntimeError("this BlogsNetwork is already started")
        self._host = host
        self._log = host.log
        timeout = aiohttp.ClientTimeout(total=self.config.timeout)
        self._session = aiohttp.ClientSession(timeout=timeout, headers={"User-Agent": self.config.user_agent})
        host.report_state(NetworkState.READY, f"{len(self.config.sources)} feeds")
        if self._poll_in_background:
            for source in self.config.sources:
                self._tasks.append(asyncio.create_task(self._poll_forever(source), name=f"brandbot-blogs-{source.label}"))

    async def stop_intake(self) -> None:
        """Stop polling; a poll cut short has not saved its cursor and is read again next start."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def stop(self) -> None:
        await self.stop_intake()
        session, self._session = self._session, None
        if session is not None:
            await session.close()
            if self._host is not None:
                self._host.report_state(NetworkState.CLOSED)

    # ------------------------------------------------------------------ sending: never

    async def send(self, message: Outgoing) -> Sent:
        raise PermanentSendError(READ_ONLY)

    def check_text(self, text: str) -> str | None:
        return READ_ONLY

    # ------------------------------------------------------------------ polling

    async def poll_once(self) -> int:
        """Poll every feed once (tests and ``brandbot`` tools); returns the events submitted."""
        total = 0
        for source in self.config.sources:
            total += await self.poll_feed(source)
        return total

    async def poll_feed(self, source: FeedSource) -> int:
        """Fetch one feed (conditionally), submit its new entries, then save its cursor."""
        async with self._locks[source.url]:
            host = self._running_host()
            cursor = self._cursors.get(source.url)
            if cursor is None:
                cursor = FeedCursor.load(await host.load_cursor(CURSOR_PREFIX + source.url))
                self._cursors[source.url] = cursor
            fetched = await self._fetch(source, cursor)
            if fetched is None:
                return 0  # 304: nothing new
            body, etag, modified = fetched
            parsed = await asyncio.to_thread(parse_feed, body, source.url)
            entries = feed_entries(parsed, source.label, source.url, site=source.site)
            now = self._clock.now()
            oldest = None if cursor.started else now - timedelta(seconds=self.config.backfill)
            seen, fresh = set(cursor.seen), list(cursor.seen)
            submitted = 0
            for entry in oldest_first(entries, now):
                if entry.key in seen or not entry.key:
                    continue
                seen.add(entry.key)
                fresh.append(entry.key)
                if oldest is not None and (entry.published is None or entry.published < oldest):
                    continue
                event = entry_event(entry, self._watch, now)
                if event is None or self._submitted.get(event.id, False):
                    continue
                await host.submit(event)
                self._submitted.put(event.id, True)
                submitted += 1
            # The cursor in memory moves only once saved: a poll that fails half-way is read again.
            advanced = FeedCursor(etag, modified, remember(fresh, {e.key for e in entries}), started=True)
            await host.settled()
            await host.save_cursor(CURSOR_PREFIX + source.url, advanced.dump())
            self._cursors[source.url] = advanced
            return submitted

    async def _fetch(self, source: FeedSource, cursor: FeedCursor) -> tuple[bytes, str, str] | None:
        """The feed's bytes and its new validators, or None when it has not changed (304)."""
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("the blogs network is not started")
        headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"}
        if cursor.etag:
            headers["If-None-Match"] = cursor.etag
        if cursor.modified:
            headers["If-Modified-Since"] = cursor.modified
        try:
            async with session.get(source.url, headers=headers) as response:
                if response.status == 304:
                    return None
                if response.status != 200:
                    raise FeedError(f"HTTP {response.status}", status=response.status,
                                    retry_after=retry_after(response.headers.get("Retry-After"), self._clock.now()))
                body = await _read_at_most(response, self.config.max_bytes)
                return body, response.headers.get("ETag", ""), response.headers.get("Last-Modified", "")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise FeedError(f"could not be fetched: {type(exc).__name__}: {exc}".rstrip(": ")) from None

    async def _poll_forever(self, source: FeedSource) -> None:
        interval = source.interval or self.config.interval
        failures = 0
        while True:
            try:
                await self.poll_feed(source)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - one bad feed must not end its poll loop
                failures += 1
                delay = backoff(exc, failures, interval, self.config.max_backoff)
                self._log.warning("feed %s (%s) failed: %s; next try in %.0f s", source.label, source.url,
                                  _describe(exc), delay)
                self._failing[source.url] = f"{source.label}: {_describe(exc)}"
                self._running_host().report_state(NetworkState.DEGRADED, "; ".join(self._failing.values()))
            else:
                failures = 0
                delay = interval
                if self._failing.pop(source.url, None) is not None:
                    state = NetworkState.DEGRADED if self._failing else NetworkState.READY
                    self._running_host().report_state(state, "; ".join(self._failing.values()))
            await self._clock.sleep(delay)

    def _running_host(self) -> NetworkHost:
        if self._host is None or self._session is None:
            raise RuntimeError("the blogs network is not started")
        return self._host


async def _read_at_most(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body, read chunk by chunk (one read may return part of it); a FeedError
    as soon as it passes ``limit`` bytes, so a huge or endless answer costs no memory."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise FeedError(f"larger than max_bytes ({limit} bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


# ---------------------------------------------------------------------- failures


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` header asks for (a number or an HTTP date), or None."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def backoff(exc: BaseException, failures: int, interval: float, ceiling: float) -> float:
    """The pause after a feed's ``failures``-th failure in a row: what ``Retry-After``
    asked for, else the interval doubled per failure; never beyond ``ceiling``."""
    asked = exc.retry_after if isinstance(exc, FeedError) else None
    if asked is not None:
        return min(ceiling, max(interval, asked))
    return min(ceiling, interval * 2.0 ** min(failures, 20))


def _describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, FeedError) else f"{type(exc).__name__}: {exc}"


__all__ = [
    "CURSOR_PREFIX",
    "NETWORK",
    "READ_ONLY",
    "BlogsConfig",
    "BlogsNetwork",
    "FeedCursor",
    "FeedSource",
    "backoff",
    "remember",
    "retry_after",
]
