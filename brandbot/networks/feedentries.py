"""From a feed's bytes to events: feedparser's result as FeedEntry values, then as Events.

Kept apart from the polling (``blogs.py``) so the translation can be read, and tested,
on its own: parse (no I/O: feedparser is given bytes), normalise (markup out, dates in
UTC, bounded lengths), and judge with :class:`~brandbot.core.reviews.Watch`.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import feedparser

from brandbot.core.events import Conversation, Event, Person
from brandbot.core.reviews import FeedEntry, Watch, blog_of, excerpt, plain_text, rating_in

NETWORK = "blogs"
#: Longest title and author name kept (a hostile feed may put a book in a title).
MAX_TITLE = 300
MAX_NAME = 100


class FeedError(Exception):
    """A poll that failed: the feed answered an error or no feed, or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def parse_feed(body: bytes, url: str) -> Any:
    """feedparser on bytes (no I/O); a body that holds no feed is a FeedError."""
    parsed = feedparser.parse(body, response_headers={"content-location": url})
    if parsed.get("bozo") and not parsed.get("entries") and not parsed.get("version"):
        problem = parsed.get("bozo_exception")
        kind = type(problem).__name__ if problem else "unknown format"
        raise FeedError(f"not an RSS or Atom feed ({kind}: {problem})")
    return parsed


def feed_entries(parsed: Mapping[str, Any], label: str, url: str, *, site: bool = False) -> list[FeedEntry]:
    """feedparser's result -> FeedEntry values (markup removed, dates in UTC).

    On a blog every entry belongs to the blog (the feed's site); on a review site
    (``site``) to the host of the entry's own link."""
    feed = parsed.get("feed", {})
    blog_title = _short(plain_text(str(feed.get("title", ""))), MAX_TITLE) or label
    feed_host = blog_of(str(feed.get("link", ""))) or blog_of(url)
    entries = []
    for item in parsed.get("entries", []):
        link = str(item.get("link", ""))
        content = item.get("content") or []
        body = content[0].get("value", "") if content else item.get("summary", "")
        tags = tuple(str(t.get("term", ""))[:MAX_NAME] for t in item.get("tags", []) if t.get("term"))
        author = str(item.get("author") or (item.get("author_detail") or {}).get("name") or "")
        entries.append(FeedEntry(
            feed=label,
            blog=(blog_of(link) or feed_host) if site else feed_host,
            blog_title=blog_title,
            link=link,
            guid=str(item.get("id", "")),
            title=_short(plain_text(str(item.get("title", ""))), MAX_TITLE),
            author=_short(plain_text(author), MAX_NAME),
            text=plain_text(str(body)),
            tags=tags,
            published=_when(item),
            site=site,
        ))
    return entries


def entry_event(entry: FeedEntry, watch: Watch, now: datetime) -> Event | None:
    """The event an entry makes, or None when it does not mention the brand.

    On a blog the blog is the person (its host is the user id); on a review site each
    writer is (``host/author``)."""
    kind = watch.kind_of(entry)
    if kind is None:
        return None
    user = f"{entry.blog}/{entry.author.casefold()}" if entry.site and entry.author else entry.blog
    short = excerpt(entry.text)
    data = {"blog": entry.blog, "blog_title": entry.blog_title, "author": entry.author, "link": entry.link,
            "title": entry.title, "excerpt": short, "feed": entry.feed}
    rating = rating_in(f"{entry.title}\n{entry.text}")
    if rating:
        data["rating"] = rating
    if entry.site:
        data["site"] = "yes"  # many writers on one host: a review is someone's by the writer's name
    return Event(
        kind=kind,
        network=NETWORK,
        id=entry.event_id,
        author=Person(NETWORK, user, handle=entry.blog, name=entry.author or entry.blog_title),
        conversation=Conversation(NETWORK, entry.blog, title=entry.blog_title),
        text=f"{entry.title}\n{short}".strip(),
        time=entry.published or now,
        post_id=entry.link or None,
        addressed=False,
        data=tuple(data.items()),
    )


def oldest_first(entries: list[FeedEntry], now: datetime) -> list[FeedEntry]:
    """By date; feeds list the newest first, so entries of one date keep that order reversed."""
    ranked = sorted(enumerate(entries), key=lambda pair: (pair[1].published or now, -pair[0]))
    return [entry for _, entry in ranked]


def _when(item: dict[str, Any]) -> datetime | None:
    for key in ("published_parsed", "updated_parsed"):
        value = dict.get(item, key)  # as stored: feedparser's own get maps one to the other, with a warning
        if value:
            return datetime.fromtimestamp(calendar.timegm(value), UTC)
    return None


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


__all__ = ["MAX_NAME", "MAX_TITLE", "NETWORK", "FeedError", "entry_event", "feed_entries", "oldest_first", "parse_feed"]
