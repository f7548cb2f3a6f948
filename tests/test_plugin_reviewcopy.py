"""reviewcopy: request -> copy sent -> reminder -> review found on a blog -> thanks where the person asked.

The end-to-end test runs the real Bot with the real blogs network polling a loopback
feed server (tests/fake_feeds.py) next to in-memory chat networks, so the review event
comes from an RSS entry exactly as in production.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from brandbot.clocks import ManualClock
from brandbot.core.config import load_config
from brandbot.core.errors import ConfigError
from brandbot.core.eventlines import parse_event
from brandbot.core.events import Kind
from brandbot.core.reviews import FeedEntry, Watch
from brandbot.networks.blogs import BlogsNetwork
from brandbot.networks.feedentries import entry_event
from brandbot.networks.registry import build_network
from brandbot.ops.cli import main
from brandbot.ops.simulate import SimulatedNetwork
from brandbot.ops.storeviews import StoreRecords
from brandbot.runtime.bot import Bot
from brandbot.runtime.capabilities import Networks
from brandbot.runtime.loader import load_plugins
from brandbot.runtime.reviewcopies import NAMESPACE, format_review_report, review_report
from brandbot.store.sqlite import SqliteStore
from brandbot.testing import BotHarness, write_config
from plugins.reviewcopy import ReviewCopySettings, asks_for_copy
from tests.fake_feeds import FakeBlogs, Item

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
BRAND = {"name": "Inkwell Press", "book": "The Salt Orchard", "author": "Maya Lindqvist"}
ASK_RULE = {"name": "review-copy", "kinds": ["direct", "mention"], "priority": 35,
            "match": {"any": ["review", "arc", "galley"], "not": ["reviewed"]},
            "reply": "We love reviewers! A person will send you a review copy of {{ brand.book }}.",
            "actions": {"tag": ["review-copy"]}}
THANKS = ("Thank you for your review of The Salt Orchard on Salt & Pages, Bea! "
          "We've added 25 points to your account as a thank-you.")
REMINDER = ("Hi Cy! I hope you're enjoying The Salt Orchard. No rush at all: if you write about it, we'd love "
            "to read your review. Thank you for reading!")


@pytest.fixture
async def blogs() -> AsyncIterator[FakeBlogs]:
    server = FakeBlogs()
    server.add_feed("salt/feed", "Salt & Pages", "https://saltandpages.example/")
    server.add_feed("search/atom", "Search: The Salt Orchard", "https://search.example/", atom=True)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def world(blogs: FakeBlogs, tmp_path: Path, bundled: dict) -> AsyncIterator[tuple[BotHarness, BlogsNetwork]]:
    """The bot: Telegram and the staff console in memory, the blogs network real, a file database."""
    path = write_config(tmp_path, {
        **bundled,
        "brand": BRAND,
        "storage": {"path": str(tmp_path / "bot.sqlite3")},
        "networks": {"telegram": {}, "console": {}},
        "feeds": {"sources": [{"url": blogs.url("salt/feed")}, {"url": blogs.url("search/atom"), "site": True}]},
        "admins": {"console": ["staff"]},
        "staff": {"network": "console", "conversation": "staff"},
        "plugins": {"reviewcopy": {"follow_up_after": "21d"}},
    }, [ASK_RULE])
    config = load_config(path)
    clock = ManualClock(START)
    section = next(s for s in config.networks if s.name == "blogs")
    feeds = build_network(section.name, dict(section.settings), clock=clock, poll_in_background=False)
    assert isinstance(feeds, BlogsNetwork)
    chats = {name: SimulatedNetwork(name, clock=clock) for name in ("telegram", "console")}
    plugins = load_plugins(config.plugins, config.plugin_dirs, config.doc)
    bot = Bot(config, store=SqliteStore(config.storage_path), networks={**chats, "blogs": feeds}, clock=clock,
              plugins=plugins, rng=random.Random(7))
    await bot.start()
    harness = BotHarness(bot, chats, clock)
    yield harness, feeds
    await harness.close()


async def poll(harness: BotHarness, feeds: BlogsNetwork) -> None:
    await feeds.poll_once()
    await harness.bot.settled()
    await harness.settle()


def review_item(clock: ManualClock, link: str, **kwargs: Any) -> Item:
    values: dict[str, Any] = {"title": "Review: The Salt Orchard", "link": link, "author": "Bea Quill",
                              "body": "Luminous. ★★★★☆", "published": clock.now() - timedelta(minutes=5)}
    values.update(kwargs)
    return Item(**values)


async def test_from_the_request_to_the_thanks_on_telegram(
    world: tuple[BotHarness, BlogsNetwork], blogs: FakeBlogs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot, feeds = world
    await bot.receive("direct", "Hello! Could I get a review copy? I blog at Salt & Pages", author="bea",
                      network="telegram")
    await bot.receive("direct", "I'd love an ARC too", author="cy", network="telegram")
    assert bot.take_sent() == ["We love reviewers! A person will send you a review copy of The Salt Orchard."] * 2

    await bot.receive("command", "/reviewcopy sent telegram:bea https://www.saltandpages.example/",
                      author="staff", network="console", conversation="staff")
    await bot.receive("command", "/reviewcopy sent telegram:cy", author="staff", network="console",
                      conversation="staff")
    assert bot.take_sent() == [
        ("Noted: review copy sent to Bea (blog: saltandpages.example). If no review appears, I'll remind them on "
        "2026-12-22. I'll thank them on telegram when it does."),
        ("Noted: review copy sent to Cy (blog: not given; matched by their name). If no review appears, I'll "
        "remind them on 2026-12-22. I'll thank them on telegram when it does."),
    ]

    await bot.advance(10 * 86400)
    item = blogs.publish("salt/feed", review_item(bot.clock, "https://saltandpages.example/2026/salt-orchard"))
    blogs.publish("search/atom", review_item(bot.clock, item.link, guid="search-1"))  # the same review, listed twice
    await poll(bot, feeds)

    assert bot.sent_to("telegram")[-1] == THANKS
    assert bot.networks["telegram"].sent[-1].conversation.id == "dm:bea"  # where she asked
    assert bot.sent_to("console")[-1] == (
        f"Review from Bea on saltandpages.example: \"Review: The Salt Orchard\" {item.link} "
        "(10 days after the copy was sent). Tagged reviewer, +25 points, thanked on telegram."
    )
    bea = await bot.follower("bea", "telegram")
    assert "reviewer" in bea.tags and bea.points >= 25
    assert len(bot.take_sent()) == 2  # one thanks, one staff notice: the second listing changed nothing

    await poll(bot, feeds)  # nothing new; a restart would not replay either (tests/test_network_blogs.py)
    await bot.advance(11 * 86400 + 60)  # day 21: the reminder is due
    assert bot.take_sent() == [REMINDER]  # Cy only: Bea's review cancelled hers
    assert bot.networks["telegram"].sent[-1].conversation.id == "dm:cy"
    await bot.advance(30 * 86400)
    assert bot.take_sent() == []  # one reminder, never two

    report = await review_report(StoreRecords(bot.bot.store, NAMESPACE))
    assert (report.requests, len(report.copies), len(report.reviewed), report.reviews) == (2, 2, 1, 1)
    text = format_review_report(report)
    assert "Review copies: 2 requested, 2 sent, 1 reviewed; 1 review found on blogs." in text
    assert "Days from copy to review: median 10, fastest 10, slowest 10." in text

    await bot.bot.store.flush()
    await bot.close()
    assert await asyncio.to_thread(main, ["-c", str(tmp_path / "brandbot.yaml"), "report", "reviews"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Review copies: 2 requested, 2 sent, 1 reviewed") and "saltandpages.example" in out


async def test_a_review_nobody_waited_for_is_told_to_the_staff_and_never_answered_on_the_blog(
    world: tuple[BotHarness, BlogsNetwork], blogs: FakeBlogs
) -> None:
    bot, feeds = world
    blogs.publish("salt/feed", review_item(bot.clock, "https://saltandpages.example/r", author="Ines",
                                           title="The Salt Orchard: 5/5"))
    await poll(bot, feeds)
    assert bot.take_sent() == [("New review on Salt & Pages by Ines: \"The Salt Orchard: 5/5\" (5/5) "
                               "https://saltandpages.example/r")]
    assert bot.bot.stats["refused"] == 0  # no reply was even attempted on the blog


async def test_a_reviewer_known_only_to_the_staff_is_tagged_and_the_staff_thank_by_hand(make_bot, bundled) -> None:
    bot = await make_bot(networks=("console",), plugins=["reviewcopy"], start=START,
                         config={**bundled, "brand": BRAND, "admins": {"console": ["staff"]}})
    await bot.receive("direct", "hello", author="dana", network="console")  # never asked for a copy
    await bot.receive("command", "/reviewcopy sent dana danareads.example", author="staff", conversation="staff")
    assert "nowhere yet: they never asked the bot, so thank them by hand" in bot.take_sent()[-1]

    entry = FeedEntry("Dana Reads", "danareads.example", "Dana Reads", "https://danareads.example/salt", "g1",
                      "The Salt Orchard, reviewed", "Four stars: 4/5", "Dana")
    event = entry_event(entry, Watch(tuple(BRAND.values())), bot.clock.now())
    assert event is not None and event.kind is Kind.REVIEW
    await bot.deliver(event)
    assert bot.take_sent() == [
        ("Review from Dana on danareads.example: \"The Salt Orchard, reviewed\" https://danareads.example/salt "
        "(the day the copy was sent). Tagged reviewer, +25 points, not thanked: they never wrote to the "
        "bot; please thank them by hand.")
    ]
    assert "reviewer" in (await bot.follower("dana", "console")).tags


async def test_the_command_explains_itself(make_bot, bundled) -> None:
    bot = await make_bot(networks=("console",), plugins=["reviewcopy"], config={**bundled, "brand": BRAND,
                                                                                 "admins": {"console": ["staff"]}})
    await bot.receive("command", "/reviewcopy", author="staff", conversation="staff")
    await bot.receive("command", "/reviewcopy sent nobody", author="staff", conversation="staff")
    await bot.receive("command", "/reviewcopy report", author="staff", conversation="staff")
    await bot.receive("command", "/reviewcopy report", author="bea", conversation="staff")  # admins only
    assert bot.take_sent()[:3] == [
        ("Usage: /reviewcopy sent <person> [blog], e.g. /reviewcopy sent @bea saltandpages.example; or "
        "/reviewcopy report"),
        "I don't know nobody: give their id, network:handle, or a handle on this network.",
        "Review copies: 0 requested, 0 sent, 0 reviewed; 0 reviews found on blogs.",
    ]


@pytest.mark.parametrize(("text", "asks"), [
    ("Could I get an ARC?", True), ("review copy please", True), ("Any galleys? I'd REVIEW it", True),
    ("I reviewed it last week", False), ("my reviewers group", False), ("hello", False)])
def test_what_asks_for_a_copy(text: str, asks: bool) -> None:
    assert asks_for_copy(text, ReviewCopySettings()) is asks


def test_the_tour_day_replay_has_a_blog_review_and_the_thanks_on_telegram(capsys: pytest.CaptureFixture[str]) -> None:
    """examples/tour_day.jsonl: Jun asks on Telegram, the staff send a copy, the feed watcher finds the review."""
    root = Path(__file__).resolve().parents[1]
    assert main(["-c", str(root / "config" / "brandbot.yaml"), "simulate", str(root / "examples" / "tour_day.jsonl")]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    sends = [(d.get("to", ""), d.get("text", "")) for d in out if d["action"] == "send" and d.get("event") in
             ("tour031", None)]
    assert ("telegram:dm:jun", ("Thank you for your review of The Salt Orchard on Salt & Pages, Jun! We've added "
            "25 points to your account as a thank-you.")) in sends
    assert any(to == "console:staff" and text.startswith("Review from Jun on saltandpages.example") for to, text in sends)
    assert not any(to.startswith("blogs:") for to, _ in sends)


def test_a_replay_line_carries_the_extra_facts_and_refuses_nested_ones() -> None:
    event = parse_event('{"kind": "review", "network": "blogs", "author": "b.example", '
                        '"data": {"blog": "b.example", "rating": "4/5"}}', 1)
    assert event.extra("blog") == "b.example" and event.extra("rating") == "4/5"
    with pytest.raises(ConfigError, match=r"stdin:2.*'data' values must be text"):
        parse_event('{"kind": "review", "author": "b", "data": {"blog": {"x": 1}}}', 2)
    with pytest.raises(ConfigError, match=r"stdin:3.*'data' must be an object of texts"):
        parse_event('{"kind": "review", "author": "b", "data": "blog"}', 3)


async def test_rules_still_act_on_a_review_the_plugin_handled(make_bot, bundled) -> None:
    rules = [{"name": "blogger", "kinds": ["review"], "actions": {"tag": ["blogger"], "points": 5}}]
    bot = await make_bot(networks=("console", "blogs"), plugins=["reviewcopy"], rules=rules, start=START,
                         config={**bundled, "brand": BRAND})
    entry = FeedEntry("Salt & Pages", "saltandpages.example", "Salt & Pages", "https://saltandpages.example/r",
                      "g1", "The Salt Orchard: 4/5", "Lovely", "Bea")
    event = entry_event(entry, Watch(tuple(BRAND.values())), bot.clock.now())
    assert event is not None
    await bot.deliver(event)
    blog = await bot.follower("saltandpages.example", "blogs")
    assert "blogger" in blog.tags and blog.points >= 5
    assert bot.sent_to("blogs") == []  # the simulated blogs network is read-only too


async def test_a_broken_thanks_template_fails_at_start_with_its_line(make_bot, bundled) -> None:
    config = {**bundled, "brand": BRAND, "plugins": {"reviewcopy": {"thanks": "Thanks {{ nmae }} for {{ blog }}"}}}
    with pytest.raises(ConfigError, match=r"brandbot.yaml:\d+.*nmae"):
        await make_bot(networks=("console",), plugins=["reviewcopy"], config=config)


async def test_plugins_can_tell_a_read_only_network(make_bot, bundled) -> None:
    bot = await make_bot(networks=("console", "blogs"), plugins=["reviewcopy"], config={**bundled, "brand": BRAND})
    networks = Networks(bot.bot.networks)
    assert networks["blogs"].read_only and not networks["console"].read_only


async def test_a_reader_who_asked_on_x_is_thanked_in_reply_to_their_mention(make_bot, bundled) -> None:
    bot = await make_bot(networks=("x", "console"), plugins=["reviewcopy"], start=START,
                         config={**bundled, "brand": BRAND, "admins": {"console": ["staff"]}})
    asked = await bot.receive("mention", "@inkwell could I get an ARC? I review at inkdrops", author="ines",
                              network="x", conversation="t-77")
    await bot.receive("command", "/reviewcopy sent x:ines inkdrops.example", author="staff", network="console",
                      conversation="staff")
    await bot.advance(5 * 86400)
    entry = FeedEntry("Ink Drops", "inkdrops.example", "Ink Drops", "https://inkdrops.example/salt", "g",
                      "The Salt Orchard: a review", "★★★★☆", "Ines", published=bot.clock.now())
    event = entry_event(entry, Watch(tuple(BRAND.values())), bot.clock.now())
    assert event is not None
    await bot.deliver(event)
    [thanks] = bot.networks["x"].sent
    assert thanks.text.startswith("Thank you for your review of The Salt Orchard on Ink Drops, Ines!")
    assert thanks.conversation.id == "t-77" and thanks.in_reply_to == asked.event.post_id  # summoned: allowed on X


async def test_forgetting_a_reviewer_erases_their_request_copy_and_review(
    world: tuple[BotHarness, BlogsNetwork], blogs: FakeBlogs
) -> None:
    """The blog's own person (named by the byline) is another follower: it stays."""
    bot, feeds = world
    await bot.receive("direct", "Could I get a review copy?", author="zoltana", name="Zoltana", network="telegram")
    await bot.receive("command", "/reviewcopy sent telegram:zoltana saltandpages.example", author="staff",
                      network="console", conversation="staff")
    await bot.advance(3600)
    blogs.publish("salt/feed", review_item(bot.clock, "https://saltandpages.example/zq", author="Zoltana Quixby"))
    await poll(bot, feeds)
    records = StoreRecords(bot.bot.store, NAMESPACE)
    assert len(await records.items()) == 3  # the request, the copy, the review
    zoltana = await bot.follower("zoltana", "telegram")
    assert await bot.bot.people.forget(zoltana.id, by="test")
    await bot.bot.store.flush()
    assert await records.items() == []


def test_the_replays_review_line_is_what_the_feed_watcher_makes() -> None:
    """examples/tour_day.jsonl's blog review has the shape entry_event gives the same entry."""
    root = Path(__file__).resolve().parents[1]
    line = next(raw for raw in (root / "examples" / "tour_day.jsonl").read_text().splitlines() if '"blogs"' in raw)
    replayed = parse_event(line, 1)
    data = dict(replayed.data)
    entry = FeedEntry(data["feed"], data["blog"], data["blog_title"], data["link"], data["link"], data["title"],
                      data["author"], data["excerpt"], published=replayed.time)
    made = entry_event(entry, Watch(tuple(BRAND.values())), replayed.time)
    assert made is not None
    assert (made.kind, made.author.id, made.author.name, made.conversation.id, made.post_id, dict(made.data)) == (
        replayed.kind, replayed.author.id, replayed.author.name, replayed.conversation.id, replayed.post_id, data)
    assert made.text == replayed.text and not replayed.addressed
