"""The blogs network: real aiohttp and feedparser against a loopback server of RSS and Atom feeds."""

from __future__ import annotations

import asyncio
import random
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from brandbot.clocks import FakeClock
from brandbot.core.config import load_config
from brandbot.core.errors import ConfigError, PermanentSendError
from brandbot.core.events import Conversation, Kind, Outgoing, Reply
from brandbot.core.plugin import Plugin
from brandbot.core.policy import Policy, PolicyConfig, Reason, SendRequest, Verdict
from brandbot.networks.base import NetworkState
from brandbot.networks.blogs import READ_ONLY, BlogsConfig, BlogsNetwork
from brandbot.networks.feedentries import MAX_TITLE, FeedError, feed_entries, parse_feed
from brandbot.networks.registry import build_network
from brandbot.runtime.bot import Bot
from brandbot.runtime.context import Context
from brandbot.runtime.loader import configure
from brandbot.store.sqlite import SqliteStore
from tests.fake_feeds import FakeBlogs, Item
from tests.support.host import RecordingHost
from tests.support.waiting import NappingClock, until

WATCH = ["Inkwell Press", "The Salt Orchard", "Maya Lindqvist"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def blogs() -> AsyncIterator[FakeBlogs]:
    server = FakeBlogs()
    server.add_feed("salt/feed", "Salt & Pages", "https://saltandpages.example/")
    server.add_feed("inkdrops/atom", "Ink Drops", "https://www.inkdrops.example/", atom=True)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def make_network(blogs: FakeBlogs, clock: FakeClock) -> AsyncIterator[Callable[..., BlogsNetwork]]:
    made: list[BlogsNetwork] = []

    def make(*, sources: list[dict[str, Any]] | None = None, net_clock: Any = None, background: bool = False,
             **overrides: Any) -> BlogsNetwork:
        settings: dict[str, Any] = {
            "sources": sources or [{"url": blogs.url("salt/feed"), "name": "Salt & Pages"},
                                   {"url": blogs.url("inkdrops/atom")}],
            "watch": WATCH,
            **overrides,
        }
        network = BlogsNetwork(BlogsConfig.model_validate(settings), clock=net_clock or clock,
                               poll_in_background=background)
        made.append(network)
        return network

    yield make
    for network in made:
        await network.stop()


def review(clock: FakeClock, slug: str, *, site: str = "https://saltandpages.example", hours: float = 1,
           **kwargs: Any) -> Item:
    values: dict[str, Any] = {
        "title": "Review: The Salt Orchard by Maya Lindqvist",
        "link": f"{site}/2026/{slug}",
        "body": "<p>A quiet, salty, luminous novel. <b>My rating: 4.5/5</b></p>",
        "author": "Bea Quill",
        "published": clock.now() - timedelta(hours=hours),
    }
    values.update(kwargs)
    return Item(**values)


# ---------------------------------------------------------------------- translating


async def test_an_rss_review_becomes_a_review_event_with_blog_author_link_and_excerpt(
    blogs: FakeBlogs, make_network: Callable[..., BlogsNetwork], clock: FakeClock
) -> None:
    item = blogs.publish("salt/feed", review(clock, "salt-orchard-review", body="<p>" + "Salt and light. " * 40
                                                                                    + "Rating: ★★★★☆</p>"))
    host = RecordingHost()
    network = make_network()
    await network.start(host)
    assert await network.poll_once() == 1

    [event] = host.events
    assert event.kind is Kind.REVIEW and event.network == "blogs" and not event.addressed
    assert event.author.id == "saltandpages.example" and event.author.name == "Bea Quill"
    assert event.conversation == Conversation("blogs", "saltandpages.example", title="Salt & Pages")
    assert event.post_id == item.link and event.extra("link") == item.link
    assert event.extra("blog") == "saltandpages.example" and event.extra("feed") == "Salt & Pages"
    assert event.extra("author") == "Bea Quill" and event.extra("rating") == "★★★★☆"
    assert event.extra("excerpt").startswith("Salt and light.") and event.extra("excerpt").endswith("…")
    assert len(event.extra("excerpt")) <= 281 and "<p>" not in event.text
    assert event.time == item.published.replace(microsecond=0)


async def test_atom_entries_that_mention_the_author_are_posts_and_others_are_skipped(
    blogs: FakeBlogs, make_network: Callable[..., BlogsNetwork], clock: FakeClock
) -> None:
    site = "https://www.inkdrops.example"
    blogs.publish("inkdrops/atom", Item("Ten questions for MAYA LINDQVIST", f"{site}/interview",
                                        "<p>We talked about orchards &amp; the sea.</p>", author="Ines",
                                        published=clock.now() - timedelta(hours=3)))
    blogs.publish("inkdrops/atom", Item("My review of another book: 5/5", f"{site}/other",
                                        "Nothing about our press here.", published=clock.now() - timedelta(hours=2)))
    blogs.publish("inkdrops/atom", Item("Weekend links", f"{site}/links", "Reading the salt orchard this week",
                                        tags=("the salt orchard",), published=clock.now() - timedelta(hours=1)))
    host = RecordingHost()
    network = make_network()
    await network.start(host)
    await network.poll_once()

    assert [(e.kind, e.extra("title")) for e in host.events] == [
        (Kind.POST, "Ten questions for MAYA LINDQVIST"), (Kind.POST, "Weekend links")]
    assert host.events[0].author.id == "inkdrops.example"  # www. dropped: one blog, one person
    assert host.events[0].extra("excerpt") == "We talked about orchards & the sea."


async def test_a_review_site_feed_makes_each_writer_a_person(
    blogs: FakeBlogs, make_network: Callable[..., BlogsNetwork], clock: FakeClock
) -> None:
    blogs.add_feed("search", "Reviews of The Salt Orchard", "https://reads.example/")
    blogs.publish("search", review(clock, "r/1", site="https://reads.example", author="Ana Lee"))
    blogs.publish("search", review(clock, "r/2", site="https://reads.example", author="Bo Ng"))
    host = RecordingHost()
    network = make_network(sources=[{"url": blogs.url("search"), "site": True}])
    await network.start(host)
    await network.poll_once()
    assert [e.author.id for e in host.events] == ["reads.example/ana lee", "reads.example/bo ng"]


# ---------------------------------------------------------------------- polling politely


async def test_the_second_poll_is_conditional_and_a_304_submits_nothing(
    blogs: FakeBlogs, make_network: Callable[..., BlogsNetwork], clock: FakeClock
) -> None:
    blogs.feeds["inkdrops/atom"].etags = False  # this server only knows Last-Modified
    blogs.publish("salt/feed", review(clock, "one"))
    blogs.publish("inkdrops/atom", review(clock, "two", site="https://inkdrops.example"))
    host = RecordingHost()
    network = make_network()
    await network.start(host)
    await network.poll_once()
    await network.poll_once()

    salt, ink = blogs.requests_for("salt/feed"), blogs.requests_for("inkdrops/atom")
    assert [r.status for r in salt] == [200, 304] and [r.status for r in ink] == [200, 304]
    assert salt[0].if_none_match is None and salt[1].if_none_match == blogs.feeds["salt/feed"].etag
    assert ink[1].if_none_match is None and ink[1].if_modified_since is not None
    assert len(host.events) == 2

    blogs.publish("salt/feed", review(clock, "three", hours=0.5))
    await network.poll_once()
    assert blogs.requests_for("salt/feed")[-1].status == 200
    assert [e.extra("link").rsplit("/", 1)[1] for e in host.events] == ["one", "two", "three"]


async def test_the_same_entry_in_two_feeds_is_one_event(
    blogs: FakeBlogs, make_network: Callable[..., BlogsNetwork], clock: FakeClock
) -> None:
    item = blogs.publish("salt/feed", review(clock, "shared"))
    blogs.add_feed("search", "Search: Salt Orchard", "https://search.example/")
    blogs.publish("search", Item(item.title, item.link.replace("https://", "http://www.") + "/", item.body,
                                 published=item.published, guid="search-guid-17"))
    host = RecordingHost()
    network = make_network(sources=[{"url": blogs.url("salt/feed")}, {"url": blogs.url("search"), "site": True}])
    await network.start(host)
    await network.poll_once()
    assert len(host.events) == 1


async def test_a_first_poll_skips_the_archive_and_a_restart_replays_nothing(
    blogs: FakeBlogs, make_network: Callable[..., BlogsNetwork], clock: FakeClock
) -> None:
    blogs.publish("salt/feed", review(clock, "old", hours=24 * 30))
    recent = blogs.publish("salt/feed", review(clock, "recent", hours=2))
    host = RecordingHost()
    first = make_network()
    await first.start(host)
    await first.poll_once()
    await first.stop()
    assert [e.extra("link") for e in host.events] == [recent.link]

    blogs.feeds["salt/feed"].etags = blogs.feeds["salt/feed"].last_modified = False  # no 304 to lean on
    later = blogs.publish("salt/feed", review(clock, "later", hours=1))
    second = make_network()
    await second.start(host)  # the same host: the same durable cursors
    await second.poll_once()
    assert [e.extra("link") for e in host.events] == [recent.link, later.link]


async def test_a_failing_feed_backs_off_and_obeys_retry_after_while_the_others_go_on(
    blogs: FakeBlogs, make_network: Callable[..., BlogsNetwork]
) -> None:
    clock = NappingClock()
    host = RecordingHost()
    network = make_network(sources=[{"url": blogs.url("salt/feed"), "interval": "1m"}], net_clock=clock,
                           background=True)
    blogs.fail_next("salt/feed", 503, times=2)
    blogs.fail_next("salt/feed", 200, body=b"<html><body>Maintenance</body></html>")  # no feed at all
    blogs.fail_next("salt/feed", 429, retry_after="900")
    await network.start(host)
    await until(lambda: clock.naps == [120])
    assert host.states[-1][0] is NetworkState.DEGRADED and "HTTP 503" in host.states[-1][1]
    for step, expected in ((120, 240), (240, 480), (480, 900), (900, 60)):
        naps = len(clock.naps)
        clock.advance(step)
        await until(lambda naps=naps: len(clock.naps) == naps + 1)
        assert clock.naps[-1] == expected
    assert "not an RSS or Atom feed" in host.states[-2][1] or "HTTP 429" in host.states[-2][1]
    assert host.states[-1][0] is NetworkState.READY
    assert [r.status for r in blogs.requests_for("salt/feed")] == [503, 503, 200, 429, 200]


async def test_a_timeout_is_a_failure_with_backoff(
    blogs: FakeBlogs, make_network: Callable[..., BlogsNetwork]
) -> None:
    clock = NappingClock()
    host = RecordingHost()
    network = make_network(sources=[{"url": blogs.url("salt/feed"), "interval": 30}], net_clock=clock,
                           background=True, timeout=0.2)
    blogs.fail_next("salt/feed", 200, hang=2.0)
    await network.start(host)
    await until(lambda: clock.naps == [60])
    assert host.states[-1][0] is NetworkState.DEGRADED and "TimeoutError" in host.states[-1][1]


# ---------------------------------------------------------------------- never sending


async def test_the_network_never_sends(make_network: Callable[..., BlogsNetwork]) -> None:
    network = make_network()
    await network.start(RecordingHost())
    assert network.check_text("Thanks!") == READ_ONLY
    reply = Reply("blogs", Conversation("blogs", "saltandpages.example"), "Thanks!")
    with pytest.raises(PermanentSendError, match="read-only"):
        await network.send(Outgoing(1, reply))


# ---------------------------------------------------------------------- configuration


def write_config(folder: Path, feeds: Any, **extra: Any) -> Path:
    settings = {
        "brand": {"name": "Inkwell Press", "book": "The Salt Orchard", "author": "Maya Lindqvist"},
        "storage": {"path": str(folder / "bot.sqlite3")},
        "networks": {"console": {"enabled": False}},
        "plugin_dirs": [],
        "feeds": feeds,
        **extra,
    }
    path = folder / "brandbot.yaml"
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    return path


def test_the_feeds_section_is_the_blogs_network_watching_for_the_brand(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, {"interval": "1h", "sources": [{"url": "https://a.example/feed"}]}))
    [section] = config.networks
    assert section.name == "blogs" and section.loc == ("feeds",)
    network = build_network(section.name, dict(section.settings), doc=config.doc, loc=section.loc)
    assert isinstance(network, BlogsNetwork)
    assert network.config.watch == WATCH and network.config.interval == 3600


def test_a_bad_feed_url_names_its_line(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, {"sources": [{"url": "https://a.example/feed"},
                                                             {"url": "ftp://b.example/feed"}]}))
    [section] = config.networks
    with pytest.raises(ConfigError, match=r"brandbot.yaml:\d+.*http:// or https://"):
        build_network(section.name, dict(section.settings), doc=config.doc, loc=section.loc, where=section.where)


def test_feeds_configured_twice_is_an_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"sources": [{"url": "https://a.example/feed"}]},
                        networks={"blogs": {"sources": [{"url": "https://a.example/feed"}]}})
    with pytest.raises(ConfigError, match="configured twice"):
        load_config(path)


def test_every_setting_is_described() -> None:
    assert all(f.description for f in BlogsConfig.model_fields.values())


# ---------------------------------------------------------------------- with the real Bot


async def test_the_bot_polls_handles_refuses_to_comment_and_resumes_after_a_restart(
    blogs: FakeBlogs, tmp_path: Path
) -> None:
    commenter = Plugin("commenter")

    @commenter.on(Kind.REVIEW)
    async def comment(ctx: Context[Any]) -> None:  # what no plugin should do: answer on the blog
        await ctx.reply("Thanks {{ name }}!")

    path = write_config(tmp_path, {"sources": [{"url": blogs.url("salt/feed")}]})
    clock = FakeClock()
    blogs.publish("salt/feed", review(clock, "first"))

    async def run_once() -> Bot:
        config = load_config(path)
        [section] = config.networks
        network = build_network(section.name, dict(section.settings), clock=clock, poll_in_background=False)
        assert isinstance(network, BlogsNetwork)
        bot = Bot(config, store=SqliteStore(config.storage_path), networks={"blogs": network}, clock=clock,
                  plugins=[configure(commenter, config, "test")])
        await bot.start()
        try:
            await network.poll_once()
            await bot.drain()
        finally:
            await bot.stop()
        return bot

    first = await run_once()
    assert first.stats["events"] == 1 and first.stats["refused"] == 1  # the policy knows: no comments
    second = await run_once()
    assert second.stats["events"] == 0  # the cursor was saved with the events: no replay
    assert blogs.requests_for("salt/feed")[-1].status == 304

    store = SqliteStore(str(tmp_path / "bot.sqlite3"))
    await store.open()
    try:
        follower = await store.find_follower("blogs", "saltandpages.example")
        assert follower is not None
        refused = [i for i in await store.all_interactions(follower.id) if i.kind == "refused"]
        assert len(refused) == 1 and refused[0].text.startswith("read_only: blogs is read-only")
    finally:
        await store.close()


def test_a_rule_that_replies_to_reviews_is_refused_at_start(tmp_path: Path) -> None:
    rules = {"rules": [{"name": "comment", "kinds": ["review"], "reply": "Thanks {{ name }}!"},
                       {"name": "ask", "kinds": ["direct"], "reply": "Hello!"}]}  # never fires on blogs: fine
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    config = load_config(write_config(tmp_path, {"sources": [{"url": "https://a.example/feed"}]},
                                      rules=["rules.yaml"]))
    [section] = config.networks
    network = build_network(section.name, dict(section.settings), poll_in_background=False)
    with pytest.raises(ConfigError, match=r"rules.yaml:\d+.*replies to review events, which come from blogs"):
        Bot(config, store=SqliteStore(":memory:"), networks={"blogs": network}, plugins=[])


def test_the_policy_refuses_anything_for_a_read_only_network() -> None:
    request = SendRequest(network="blogs", requires_summons=False, event_kind="review", addressed=False,
                          private=False, person_wrote_first=True, opted_out=False, unreachable=False,
                          once_key_used=False, handed_off=False, now=datetime(2026, 1, 1, tzinfo=UTC),
                          essential=True, read_only=True)
    decision = Policy(PolicyConfig()).decide(request)
    assert decision.reason is Reason.READ_ONLY and decision.verdict is Verdict.REFUSE


# ---------------------------------------------------------------------- SIGKILL


async def test_sigkill_loses_no_entry_and_counts_none_twice(blogs: FakeBlogs, tmp_path: Path) -> None:
    """A real ``brandbot run`` polling the loopback feeds, killed at random moments while
    entries keep appearing: in the end every entry is one event, counted once."""
    path = write_config(tmp_path, {"interval": 0.2, "backfill": "30d",
                                   "sources": [{"url": blogs.url("salt/feed")}, {"url": blogs.url("inkdrops/atom")}]},
                        runtime={"watch_config": False})
    rng = random.Random(17)
    links: set[str] = set()

    def publish(n: int) -> None:
        for _ in range(n):
            i = len(links)
            link = f"https://saltandpages.example/2026/{i}"
            item = Item(f"Stop {i} of the tour: The Salt Orchard", link, f"Rating: {1 + i % 5}/5", author="Bea",
                        published=datetime.now(UTC) - timedelta(minutes=1))
            blogs.publish("salt/feed", item)
            if i % 3 == 0:  # also listed by the other feed: still one event
                blogs.publish("inkdrops/atom", item)
            links.add(link)

    def counts() -> tuple[int, int]:
        db = tmp_path / "bot.sqlite3"
        if not db.exists():
            return 0, 0
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            try:
                processed = con.execute("SELECT COUNT(*) FROM processed WHERE network = 'blogs'").fetchone()[0]
                counted = con.execute("SELECT COUNT(*), COUNT(DISTINCT event_id) FROM interactions "
                                      "WHERE network = 'blogs' AND direction = 'in'").fetchone()
            except sqlite3.OperationalError:  # not created yet
                return 0, 0
        assert counted[0] == counted[1], "an entry was counted twice"
        return processed, counted[0]

    async def start() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(sys.executable, "-m", "brandbot.ops.cli", "-c", str(path), "run",
                                                    stdout=asyncio.subprocess.DEVNULL,
                                                    stderr=asyncio.subprocess.DEVNULL)

    for _ in range(3):
        publish(8)
        process = await start()
        before = counts()[0]
        await until(lambda before=before: counts()[0] > before, timeout=60)  # it is working...
        await asyncio.sleep(rng.uniform(0.0, 0.4))
        process.send_signal(signal.SIGKILL)  # ...and dies without warning
        await process.wait()

    publish(3)  # new entries: only the last process, up and running, can count them
    process = await start()
    await until(lambda: counts()[0] == len(links), timeout=60)
    process.send_signal(signal.SIGTERM)
    assert await process.wait() == 0
    assert counts() == (len(links), len(links))


def test_hostile_entries_are_bounded_or_skipped() -> None:
    long_title = "The Salt Orchard " * 200
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><link>https://t.example/</link>'
        f"<item><title>{long_title}</title><link>https://t.example/long</link><pubDate>not a date</pubDate></item>"
        "<item><title>The Salt Orchard, nowhere to link</title></item>"  # no link, no guid: no identity
        "<item><title>The Salt Orchard &lt;script&gt;alert(1)&lt;/script&gt;</title><guid>g-7</guid>"
        "<description>&lt;img src=x onerror=alert(1)&gt;Lovely</description></item>"
        "</channel></rss>"
    ).encode()
    entries = feed_entries(parse_feed(body, "https://t.example/feed"), "T", "https://t.example/feed")
    assert len(entries[0].title) == MAX_TITLE and entries[0].published is None
    assert entries[1].key == ""  # the network skips it
    assert entries[2].key == "t.example/g-7"  # a guid is a permalink unless it says otherwise
    assert entries[2].text == "Lovely" and "<" not in entries[2].title
    with pytest.raises(FeedError, match="not an RSS or Atom feed"):
        parse_feed(b"\x00\x01 binary garbage", "https://t.example/feed")


async def test_a_long_feed_is_read_whole_and_one_over_max_bytes_is_refused(
    blogs: FakeBlogs, make_network: Callable[..., BlogsNetwork], clock: FakeClock
) -> None:
    for i in range(1500):  # about 600 kB: many reads of the body
        blogs.publish("salt/feed", review(clock, f"r{i}", hours=1 + (1500 - i) / 100, body="x " * 100 + "4/5"))
    host = RecordingHost()
    network = make_network(sources=[{"url": blogs.url("salt/feed")}])
    await network.start(host)
    assert await network.poll_once() == 1500

    small = make_network(sources=[{"url": blogs.url("salt/feed")}], max_bytes=100_000)
    await small.start(RecordingHost())
    with pytest.raises(FeedError, match=r"larger than max_bytes \(100000 bytes\)"):
        await small.poll_once()
