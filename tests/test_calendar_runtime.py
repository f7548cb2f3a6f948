"""The calendar at run time, on a manual clock: on time, once per occurrence across restarts,
the late rule after downtime, budgets and network limits, tour stops and giveaway openings."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from brandbot.core.errors import ConfigError
from brandbot.runtime.calendar import RECORDS, SENT, job_name
from brandbot.testing import BotHarness, MakeBot

ROOT = Path(__file__).resolve().parents[1]
#: Sunday 14 March 2027, 08:00 UTC (09:00 in Stockholm).
START = datetime(2027, 3, 14, 8, 0, tzinfo=UTC)
HOUR = 3600.0

POSTS = """\
timezone: Europe/Stockholm
posts:
  - id: noon
    at: 2027-03-14 12:00          # 11:00 UTC
    networks: [memory:news, x]
    text: "Noon news from {{ brand.name }}"
"""


def config_in(folder: Path, posts: str, **extra: Any) -> Path:
    """brandbot.yaml + posts.yaml in ``folder``; the same folder twice is the same bot's files."""
    folder.mkdir(exist_ok=True)
    (folder / "posts.yaml").write_text(posts)
    data: dict[str, Any] = {"brand": {"name": "Inkwell", "url": "https://inkwell.test"},
                            "storage": {"path": ":memory:"}, "networks": {"memory": {}, "x": {}},
                            "plugin_dirs": [], "posts": "posts.yaml", **extra}
    path = folder / "brandbot.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


async def start_bot(make_bot: MakeBot, folder: Path, posts: str = POSTS, *, at: datetime = START,
                    store: Path | None = None, load: Any = (), **extra: Any) -> BotHarness:
    """A bot on ``folder``'s config; ``load`` names bundled plugins to load (none by default)."""
    kwargs: dict[str, Any] = {"config": config_in(folder, posts, **extra), "networks": ("memory", "x"),
                              "start": at, "plugins": load}
    if store is not None:
        kwargs["store_path"] = store
    harness = await make_bot(**kwargs)
    await harness.settle()
    return harness


async def records(harness: BotHarness) -> list[dict[str, Any]]:
    return [json.loads(v) for _, v in await harness.bot.store.kv_items(RECORDS)]


async def test_a_post_goes_out_on_time_on_every_network_through_the_gate(make_bot: MakeBot, tmp_path: Path) -> None:
    bot = await start_bot(make_bot, tmp_path / "a")
    assert [j.due for j in await bot.bot.store.all_jobs() if j.name == job_name("noon")] == [
        datetime(2027, 3, 14, 11, 0, tzinfo=UTC)]
    await bot.advance(3 * HOUR - 1)
    assert bot.sent == []
    await bot.advance(1)
    assert bot.sent_to("memory") == ["Noon news from Inkwell"]
    assert bot.sent_to("x") == ["Noon news from Inkwell"]  # a brand post is no reply: X's summons rule is not it
    assert bot.networks["memory"].sent[0].conversation.id == "news"
    rows = await records(bot)
    assert {(r["target"], r["action"]) for r in rows} == {("memory:news", "send"), ("x", "send")}
    sent = dict(await bot.bot.store.kv_items(SENT))
    assert sorted(json.loads(v)["status"] for v in sent.values()) == ["sent", "sent"]
    assert not [j for j in await bot.bot.store.all_jobs() if j.name == job_name("noon")]  # a one-off is done
    await bot.advance(24 * HOUR)
    assert len(bot.sent) == 2


async def test_a_restart_after_the_post_does_not_post_it_again(make_bot: MakeBot, tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    first = await start_bot(make_bot, tmp_path / "a", store=db)
    await first.advance(3 * HOUR)
    assert len(first.sent) == 2
    await first.close()
    # back 10 minutes later: the occurrence is within the grace and its job was gone, so
    # the calendar plans it again at start; its once-keys say it went out
    second = await start_bot(make_bot, tmp_path / "a", store=db, at=datetime(2027, 3, 14, 11, 10, tzinfo=UTC))
    await second.advance(60)
    assert second.sent == []
    assert len(await records(second)) == 2


async def test_downtime_over_the_post_time_posts_late_within_the_grace(make_bot: MakeBot, tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    first = await start_bot(make_bot, tmp_path / "a", store=db)
    await first.close()  # down at 08:00, back at 11:40: 40 minutes late, grace 1h
    second = await start_bot(make_bot, tmp_path / "a", store=db, at=datetime(2027, 3, 14, 11, 40, tzinfo=UTC))
    await second.advance(1)
    assert second.sent_to("memory") == ["Noon news from Inkwell"]
    assert all(r["reason"].startswith("late (due 11:00 UTC)") for r in await records(second))


async def test_late_skip_and_a_passed_grace_skip_and_say_so(make_bot: MakeBot, tmp_path: Path) -> None:
    skip = POSTS.replace("timezone: Europe/Stockholm\n", "timezone: Europe/Stockholm\nlate: skip\n")
    db = tmp_path / "bot.sqlite3"
    first = await start_bot(make_bot, tmp_path / "a", skip, store=db)
    await first.close()
    second = await start_bot(make_bot, tmp_path / "a", skip, store=db, at=datetime(2027, 3, 14, 11, 5, tzinfo=UTC))
    await second.advance(1)
    assert second.sent == []
    # the job outlived the downtime: it ran, found itself late and skipped, with the reason recorded
    rows = await records(second)
    assert {r["action"] for r in rows} == {"skip"} and "skip when late" in rows[0]["reason"]
    await second.close()
    third = await start_bot(make_bot, tmp_path / "a", skip, store=db, at=datetime(2027, 3, 14, 11, 6, tzinfo=UTC))
    await third.advance(HOUR)
    assert third.sent == [] and len(await records(third)) == 2  # skipped once, not again


async def test_a_daily_post_after_three_days_down_posts_only_the_latest(make_bot: MakeBot, tmp_path: Path) -> None:
    daily = POSTS.replace("    text:", "    repeat: daily\n    grace: 2h\n    text:")
    db = tmp_path / "bot.sqlite3"
    first = await start_bot(make_bot, tmp_path / "a", daily, store=db)
    await first.advance(3 * HOUR)
    assert len(first.sent) == 2
    await first.close()
    back = datetime(2027, 3, 17, 12, 30, tzinfo=UTC)  # the 15th and 16th were missed; the 17th is 1h30 late
    second = await start_bot(make_bot, tmp_path / "a", daily, store=db, at=back)
    await second.advance(1)
    assert second.sent == ["Noon news from Inkwell"] * 2  # one occurrence, on both networks
    jobs = [j for j in await second.bot.store.all_jobs() if j.name == job_name("noon")]
    assert [j.due for j in jobs] == [datetime(2027, 3, 18, 11, 0, tzinfo=UTC)]


async def test_the_cost_budget_refuses_what_it_cannot_pay_and_says_why(make_bot: MakeBot, tmp_path: Path) -> None:
    bot = await start_bot(make_bot, tmp_path / "a", policy={"daily_cost_budget": 0.001})
    await bot.advance(3 * HOUR)
    assert bot.sent_to("memory") == ["Noon news from Inkwell"]  # free there
    assert bot.sent_to("x") == []
    refused = [r for r in await records(bot) if r["target"] == "x"]
    assert refused[0]["action"] == "refuse" and refused[0]["reason"].startswith("cost_budget")


async def test_a_text_too_long_for_x_is_refused_there_and_sent_elsewhere(make_bot: MakeBot, tmp_path: Path) -> None:
    long_post = POSTS.replace('"Noon news from {{ brand.name }}"', '"{{ \'word \' * 80 }}"')
    bot = await start_bot(make_bot, tmp_path / "a", long_post)
    await bot.advance(3 * HOUR)
    assert len(bot.sent_to("memory")) == 1 and bot.sent_to("x") == []
    assert [r["reason"][:8] for r in await records(bot) if r["target"] == "x"] == ["too_long"]


async def test_quiet_hours_do_not_hold_a_post_whose_time_a_person_chose(make_bot: MakeBot, tmp_path: Path) -> None:
    quiet = {"quiet_hours": {"start": "10:00", "end": "14:00", "timezone": "UTC"}}
    bot = await start_bot(make_bot, tmp_path / "a", policy=quiet)
    await bot.advance(3 * HOUR)
    assert len(bot.sent) == 2


async def test_a_post_removed_from_the_file_is_not_posted(make_bot: MakeBot, tmp_path: Path) -> None:
    bot = await start_bot(make_bot, tmp_path / "a")
    (tmp_path / "a" / "posts.yaml").write_text("posts: []\n")
    assert await bot.bot.reload()
    await bot.advance(4 * HOUR)
    assert bot.sent == []
    assert not [j for j in await bot.bot.store.all_jobs() if j.name.startswith("calendar:")]


TOUR = """\
stops:
  - id: qa-live
    title: Live Q&A
    host: Maya
    kind: qa
    start: 2027-03-14 13:00
    timezone: Europe/Stockholm
    network: memory
    conversation: salon
"""


async def test_a_post_on_a_tour_stop_follows_the_stop(make_bot: MakeBot, tmp_path: Path) -> None:
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "tour.yaml").write_text(TOUR)
    posts = """\
posts:
  - id: qa-soon
    event: qa-live
    before: 1h
    networks: [memory:news]
    text: "In an hour: {{ stop.title }} with {{ stop.host }}"
"""
    bot = await start_bot(make_bot, folder, posts, load=["events"], plugin_dirs=[str(ROOT / "plugins")],
                          plugins={"events": {"tour_file": "tour.yaml"}})
    await bot.advance(2 * HOUR)  # the stop starts 12:00 UTC: the post is at 11:00
    assert bot.take_sent() == []
    await bot.advance(HOUR)
    assert "In an hour: Live Q&A with Maya" in bot.take_sent()


def giveaway_post(options: str) -> str:
    """posts.yaml with one post that opens a giveaway at 10:00 UTC in memory:news."""
    return ("posts:\n  - id: spring\n    at: 2027-03-14 10:00\n    timezone: UTC\n"
            f"    giveaway: {options}\n    networks: [memory:news]\n")


#: The giveaway plugin, with the staff room on the memory network.
GIVEAWAY = {"plugin_dirs": [str(ROOT / "plugins")], "plugins": {"giveaway": {}},
            "staff": {"network": "memory", "conversation": "staff"}}


async def test_a_giveaway_post_opens_the_giveaway_at_its_time_once(make_bot: MakeBot, tmp_path: Path) -> None:
    posts = giveaway_post('prize="Signed copy" enter=#spring closes=2h winners=1')
    db = tmp_path / "bot.sqlite3"
    extra = GIVEAWAY
    bot = await start_bot(make_bot, tmp_path / "a", posts, store=db, load=["giveaway"], **extra)
    await bot.advance(2 * HOUR)
    sent = bot.take_sent()
    assert any("Giveaway #1" in t and "SHA-256" in t for t in sent)  # the announcement with the commitment
    assert any(t.startswith("Giveaway #1 opened") for t in sent)  # the staff note
    await bot.close()
    again = await start_bot(make_bot, tmp_path / "a", posts, store=db, load=["giveaway"],
                            at=datetime(2027, 3, 14, 10, 30, tzinfo=UTC), **extra)
    await again.advance(60)
    assert not any("Giveaway #2" in t for t in again.take_sent())


async def test_a_broken_posts_file_stops_the_start_and_a_reload_keeps_the_calendar(
        make_bot: MakeBot, tmp_path: Path) -> None:
    broken = POSTS.replace("at: 2027-03-14 12:00", "at: 2027-03-14 25:00")
    with pytest.raises(ConfigError) as info:
        await start_bot(make_bot, tmp_path / "a", broken)
    assert f"{tmp_path / 'a' / 'posts.yaml'}:4" in str(info.value)
    bot = await start_bot(make_bot, tmp_path / "b")
    (tmp_path / "b" / "posts.yaml").write_text(broken)
    await bot.bot.reload()
    await bot.advance(3 * HOUR)
    assert len(bot.sent) == 2  # the typo did not drop the post that was planned


async def test_a_scheduled_giveaway_that_cannot_open_tells_the_staff(make_bot: MakeBot, tmp_path: Path) -> None:
    posts = giveaway_post('prize="Signed copy" enter=#spring networks=telegram')
    bot = await start_bot(make_bot, tmp_path / "a", posts, load=["giveaway"], **GIVEAWAY)
    await bot.advance(2 * HOUR)
    staff = [r.text for r in bot.networks["memory"].sent if r.conversation.id == "staff"]
    assert len(staff) == 1 and "Can't open the giveaway of post 'spring'" in staff[0] and "networks=: 'telegram' is not running" in staff[0]


async def test_a_budget_deferral_within_the_grace_waits_and_one_beyond_it_is_refused(
        make_bot: MakeBot, tmp_path: Path) -> None:
    # X costs 0.01 a post here; a budget of 0.015 pays for one post a UTC day
    posts = """\
timezone: UTC
posts:
  - id: first
    at: 2027-03-14 10:00
    networks: [x]
    text: "first"
  - id: late-evening
    at: 2027-03-14 23:30
    grace: 1h
    networks: [x]
    text: "deferred to midnight, within its grace"
  - id: noon
    at: 2027-03-15 12:00
    networks: [x]
    text: "deferred to the next midnight: beyond its grace"
"""
    bot = await start_bot(make_bot, tmp_path / "a", posts, policy={"daily_cost_budget": 0.015})
    await bot.advance(2 * HOUR)
    assert bot.take_sent() == ["first"]
    await bot.advance(13.5 * HOUR)  # 23:30: today's budget is spent, so it waits for 00:00
    assert bot.take_sent() == []
    await bot.advance(HOUR)
    assert bot.take_sent() == ["deferred to midnight, within its grace"]
    await bot.advance(11.5 * HOUR)  # 12:00 on the 15th: spent again, and midnight is 12h away
    assert bot.take_sent() == []
    noon = [r for r in await records(bot) if r["post"] == "noon"]
    assert noon[0]["action"] == "refuse" and "later than the post's late rule allows" in noon[0]["reason"]
    await bot.advance(13 * HOUR)
    assert bot.take_sent() == []


async def test_a_post_on_a_stop_that_is_not_in_the_tour_says_so_and_waits(
        make_bot: MakeBot, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "tour.yaml").write_text(TOUR)
    posts = "posts:\n  - id: soon\n    event: qa-typo\n    before: 1h\n    networks: [memory:news]\n    text: hi\n"
    bot = await start_bot(make_bot, folder, posts, load=["events"], plugin_dirs=[str(ROOT / "plugins")],
                          plugins={"events": {"tour_file": "tour.yaml"}})
    assert "post 'soon'" in caplog.text and "is on tour stop 'qa-typo', which is not in the tour" in caplog.text
    await bot.advance(6 * HOUR)
    assert "hi" not in bot.sent
