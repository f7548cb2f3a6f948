"""A loopback web server of blogs: RSS 2.0 and Atom feeds with ETag and Last-Modified.

It answers conditional GETs as a real server does (304 when ``If-None-Match`` or
``If-Modified-Since`` still hold), and a test can make the next answers fail (429 with
``Retry-After``, 5xx, a body that is no feed) or hang past the client's timeout.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape

from aiohttp import web


@dataclass(frozen=True)
class Item:
    title: str
    link: str
    body: str
    author: str = ""
    published: datetime = field(default_factory=lambda: datetime.now(UTC))
    guid: str = ""
    tags: tuple[str, ...] = ()


@dataclass
class Feed:
    """One feed: its items (newest last), its format and what it answers next."""

    title: str
    site: str
    atom: bool = False
    items: list[Item] = field(default_factory=list)
    modified: datetime = field(default_factory=lambda: datetime(2026, 12, 1, tzinfo=UTC))
    etags: bool = True
    last_modified: bool = True

    def render(self) -> bytes:
        return (_atom(self) if self.atom else _rss(self)).encode("utf-8")

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.render()).hexdigest()[:16] + '"'


@dataclass(frozen=True)
class Request:
    path: str
    if_none_match: str | None
    if_modified_since: str | None
    status: int


@dataclass
class _Failure:
    status: int
    times: int
    retry_after: str | None
    body: bytes | None
    hang: float


class FakeBlogs:
    """``start()`` serves every added feed at ``http://127.0.0.1:<port>/<path>``."""

    def __init__(self) -> None:
        self.feeds: dict[str, Feed] = {}
        self.requests: list[Request] = []
        self._failures: dict[str, list[_Failure]] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def add_feed(self, path: str, title: str, site: str, *, atom: bool = False, **kwargs: bool) -> Feed:
        feed = Feed(title, site, atom=atom, **kwargs)
        self.feeds[path] = feed
        return feed

    def publish(self, path: str, item: Item) -> Item:
        feed = self.feeds[path]
        feed.items.append(item)
        feed.modified = max(feed.modified, item.published).replace(microsecond=0)
        return item

    def fail_next(self, path: str, status: int, *, times: int = 1, retry_after: str | None = None,
                  body: bytes | None = None, hang: float = 0.0) -> None:
        """The next ``times`` requests for ``path`` get ``status`` (200 with ``body``: garbage)."""
        self._failures.setdefault(path, []).append(_Failure(status, times, retry_after, body, hang))

    def requests_for(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{path:.+}", self._serve)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _serve(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        inm, ims = request.headers.get("If-None-Match"), request.headers.get("If-Modified-Since")
        response = await self._answer(path, inm, ims)
        self.requests.append(Request(path, inm, ims, response.status))
        return response

    async def _answer(self, path: str, inm: str | None, ims: str | None) -> web.Response:
        failures = self._failures.get(path)
        if failures:
            failure = failures[0]
            failure.times -= 1
            if failure.times <= 0:
                failures.pop(0)
            if failure.hang:
                await asyncio.sleep(failure.hang)
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            return web.Response(status=failure.status, body=failure.body or b"<html>busy</html>",
                                headers=headers, content_type="text/html")
        feed = self.feeds.get(path)
        if feed is None:
            return web.Response(status=404, text="no such feed")
        headers = {}
        if feed.etags:
            headers["ETag"] = feed.etag
        if feed.last_modified:
            headers["Last-Modified"] = format_datetime(feed.modified, usegmt=True)
        if (feed.etags and inm == feed.etag) or (
            not feed.etags and feed.last_modified and ims == headers["Last-Modified"]
        ):
            return web.Response(status=304, headers=headers)
        kind = "application/atom+xml" if feed.atom else "application/rss+xml"
        return web.Response(body=feed.render(), headers={**headers, "Content-Type": f"{kind}; charset=utf-8"})


def _rss(feed: Feed) -> str:
    items = "".join(
        "<item>"
        f"<title>{escape(i.title)}</title><link>{escape(i.link)}</link>"
        f"<guid isPermaLink=\"false\">{escape(i.guid or i.link)}</guid>"
        + (f"<dc:creator>{escape(i.author)}</dc:creator>" if i.author else "")
        + "".join(f"<category>{escape(t)}</category>" for t in i.tags)
        + f"<pubDate>{format_datetime(i.published, usegmt=True)}</pubDate>"
        f"<description>{escape(i.body)}</description>"
        "</item>"
        for i in reversed(feed.items)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>{escape(feed.title)}</title><link>{escape(feed.site)}</link>"
        f"<description>{escape(feed.title)}</description>{items}</channel></rss>"
    )


def _atom(feed: Feed) -> str:
    entries = "".join(
        "<entry>"
        f"<title>{escape(i.title)}</title><link rel=\"alternate\" href=\"{escape(i.link)}\"/>"
        f"<id>{escape(i.guid or i.link)}</id>"
        + (f"<author><name>{escape(i.author)}</name></author>" if i.author else "")
        + "".join(f"<category term=\"{escape(t)}\"/>" for t in i.tags)
        + f"<published>{i.published.isoformat()}</published><updated>{i.published.isoformat()}</updated>"
        f"<content type=\"html\">{escape(i.body)}</content>"
        "</entry>"
        for i in reversed(feed.items)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(feed.title)}</title><link rel=\"alternate\" href=\"{escape(feed.site)}\"/>"
        f"<id>{escape(feed.site)}</id><updated>{feed.modified.isoformat()}</updated>{entries}</feed>"
    )
