"""amplify: shares recorded and thanked once per post; X retweets go to a daily staff digest."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from brandbot.clocks import ManualClock
from brandbot.core.config import load_config
from brandbot.core.errors import ConfigError
from brandbot.networks.memory import MemoryNetwork
from brandbot.ops.simulate import SimulatedNetwork
from brandbot.ops.storeviews import StorePeople, StoreRecords
from brandbot.runtime.bot import Bot
from brandbot.runtime.loader import load_plugins
from brandbot.runtime.reports import (
    AMPLIFY_NAMESPACE,
    AdvocateRow,
    format_advocates,
    load_shares,
    share_totals,
    top_advocates,
)
from brandbot.store.sqlite import SqliteStore
from brandbot.testing import BotHarness, write_config

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)  # the digest goes out at 17:00 UTC
FIRST = "Thank you for sharing, Ana! Your first share of our news. Word of mouth is how Test Brand grows."


def recorded(bot: BotHarness) -> StoreRecords:
    """The shares amplify recorded, read from the store as ``brandbot report`` reads them."""
    return StoreRecords(bot.bot.store, AMPLIFY_NAMESPACE)


def staff_config(bundled: dict, **amplify: object) -> dict:
    return {**bundled, "staff": {"network": "telegram", "conversation": "staff-room"},
            "admins": {"telegram": ["boss"], "discord": ["boss"]}, "plugins": {"amplify": dict(amplify)}}


async def test_each_person_is_thanked_once_per_post_by_name_with_days_and_shares(make_bot, bundled) -> None:
    bot = await make_bot(networks=("telegram", "discord"), plugins=["amplify"], config=bundled, start=START)
    await bot.receive("repost", author="ana", network="telegram", refers_to="post-1")
    assert bot.take_sent() == [FIRST]
    await bot.advance(3 * 86400)
    await bot.receive("quote", "so good", author="ana", network="telegram", refers_to="post-2")
    assert bot.take_sent() == [
        "Thank you for sharing, Ana! That's 2 shares in the 3 days we've known you. Word of mouth is how Test Brand grows."
    ]
    await bot.receive("repost", author="ana", network="telegram", refers_to="post-2")  # again: no second thanks
    assert bot.take_sent() == []
    assert bot.refusals()[-1].startswith("already_answered")
    await bot.receive("repost", author="ben", network="discord", refers_to="post-1")
    assert bot.sent_to("discord") == ["Thank you for sharing, Ben! Your first share of our news. Word of mouth is how Test Brand grows."]
    # a repost of something that is not a brand post is neither counted nor thanked
    await bot.receive("repost", author="cy", network="discord", refers_to="")
    assert bot.take_sent() == [bot.sent_to("discord")[-1]]
    await bot.bot.store.flush()
    shares = await load_shares(recorded(bot))
    assert sorted((s.name, s.network, s.post) for s in shares) == [
        ("Ana", "telegram", "post-1"), ("Ana", "telegram", "post-2"), ("Ben", "discord", "post-1")]


async def test_shares_are_counted_per_person_post_network_and_day(make_bot, bundled) -> None:
    bot = await make_bot(networks=("telegram", "discord"), plugins=["amplify"], config=bundled, start=START)
    for post in ("p1", "p2", "p3"):
        await bot.receive("repost", author="ana", network="telegram", refers_to=post)
    await bot.receive("repost", author="ben", network="discord", refers_to="p1")
    await bot.advance(86400)
    await bot.receive("quote", "yes", author="ben", network="discord", refers_to="p2")
    await bot.receive("repost", author="cy", network="telegram", refers_to="p1")
    store, people = recorded(bot), StorePeople(bot.bot.store)
    totals = await share_totals(store)
    assert totals.total == 6
    assert totals.by_network == (("telegram", 4), ("discord", 2))
    assert totals.by_post[0] == ("p1", 3)
    assert totals.by_day == (("2026-01-01", 4), ("2026-01-02", 2))
    ana, ben = await bot.follower("ana", "telegram"), await bot.follower("ben", "discord")
    assert await top_advocates(store, people, None, None, 2) == [AdvocateRow(ana.id, "Ana", "telegram", 3),
                                                        AdvocateRow(ben.id, "Ben", "discord", 2)]
    since_today = START + timedelta(days=1)
    assert [r.name for r in await top_advocates(store, people, since_today, None, 10)] == ["Ben", "Cy"]
    assert [r.name for r in await top_advocates(store, people, None, "discord", 10)] == ["Ben"]
    table = format_advocates(await top_advocates(store, people, None, None, 10))
    assert table.splitlines()[0].split() == ["#", "name", "id", "network", "shares"]
    assert "Ana" in table.splitlines()[2] and table.splitlines()[2].rstrip().endswith("3")


async def test_linked_accounts_are_one_advocate(make_bot, bundled) -> None:
    bot = await make_bot(networks=("telegram", "discord"), plugins=["link", "amplify"], config=bundled, start=START)
    await bot.receive("repost", author="ana_tg", name="Ana", network="telegram", refers_to="p1")
    await bot.receive("repost", author="ana_dc", name="Ana", network="discord", refers_to="p2")
    await bot.receive("command", "/link", author="ana_tg", name="Ana", network="telegram", private=True)
    code = bot.take_sent()[-1].split("code is ")[1].split(".")[0]
    await bot.receive("command", f"/link {code}", author="ana_dc", name="Ana", network="discord", private=True)
    await bot.receive("repost", author="ana_dc", name="Ana", network="discord", refers_to="p3")
    assert "That's 3 shares" in bot.take_sent()[-1]
    rows = await top_advocates(recorded(bot), StorePeople(bot.bot.store), None, None, 10)
    assert [(r.name, r.network, r.shares) for r in rows] == [("Ana", "discord, telegram", 3)]


async def test_an_x_retweet_goes_to_the_daily_digest_instead_of_a_reply(make_bot, bundled) -> None:
    bot = await make_bot(networks=("x", "telegram"), plugins=["amplify"], config=staff_config(bundled), start=START)
    await bot.receive("repost", author="ana", network="x", refers_to="post-1")  # a retweet: not addressed
    assert bot.take_sent() == []
    assert any("added to the staff digest" in n.detail for n in bot.notes)
    await bot.receive("quote", "@brand lovely", author="ben", network="x", refers_to="post-1")  # a quote summons
    assert bot.take_sent() == ["Thank you for sharing, Ben! Your first share of our news. Word of mouth is how Test Brand grows."]
    await bot.receive("repost", author="ana", network="x", refers_to="post-1", event_id="again")  # listed once
    await bot.advance(4 * 3600 + 59 * 60)  # 16:59: not yet
    assert bot.take_sent() == []
    await bot.advance(60)  # 17:00
    digest = bot.take_sent()
    assert len(digest) == 1 and digest[0].startswith("Shares to thank by hand (1 person;")
    assert "- Ana (@ana on x): shared post-1 (1 share in all, known 0 days)" in digest[0]
    assert bot.networks["telegram"].sent[-1].conversation.id == "staff-room"
    assert bot.sent_to("x") == ["Thank you for sharing, Ben! Your first share of our news. Word of mouth is how Test Brand grows."]


async def test_the_digest_is_posted_once_per_day(make_bot, bundled) -> None:
    bot = await make_bot(networks=("x", "telegram"), plugins=["amplify"], config=staff_config(bundled), start=START)
    await bot.receive("repost", author="ana", network="x", refers_to="post-1")
    await bot.advance(5 * 3600)  # 17:00: Ana's digest
    assert len(bot.take_sent()) == 1
    await bot.receive("repost", author="ben", network="x", refers_to="post-1")
    # Another digest run the same day (a second job, an overlapping runner): nothing goes out.
    bot.bot.schedule("amplify", "digest", bot.clock.now(), {}, key="extra")
    await bot.advance(1)
    await bot.advance(6 * 3600)
    assert bot.take_sent() == []
    await bot.advance(18 * 3600)  # 17:00 next day: Ben, and only Ben
    digest = bot.take_sent()
    assert len(digest) == 1 and "Ben (@ben on x)" in digest[0] and "Ana" not in digest[0]
    await bot.advance(86400)  # nobody new: no empty digest
    assert bot.take_sent() == []


async def test_people_who_opted_out_are_not_listed_in_the_digest(make_bot, bundled) -> None:
    bot = await make_bot(networks=("x", "telegram"), plugins=["optout", "amplify"], config=staff_config(bundled),
                         start=START)
    await bot.receive("direct", "stop", author="cy", network="x")
    await bot.receive("repost", author="cy", network="x", refers_to="post-1")
    await bot.receive("repost", author="ana", network="x", refers_to="post-1")
    bot.take_sent()
    await bot.advance(5 * 3600)
    digest = bot.take_sent()
    assert len(digest) == 1 and "Ana (@ana on x)" in digest[0] and "Cy" not in digest[0]
    assert len(await load_shares(recorded(bot))) == 2  # still counted


async def test_no_digest_when_it_is_switched_off(make_bot, bundled) -> None:
    bot = await make_bot(networks=("x", "telegram"), plugins=["amplify"],
                         config=staff_config(bundled, digest=False), start=START)
    await bot.receive("repost", author="ana", network="x", refers_to="post-1")
    await bot.advance(86400)
    assert bot.sent == []
    assert any("digest is off" in n.detail for n in bot.notes)


async def start_file_bot(folder: Path, clock: ManualClock, config: dict) -> BotHarness:
    """A bot on a real SQLite file, so a test can stop it and start another on the same data."""
    folder.mkdir(exist_ok=True)
    path = write_config(folder, {**config, "storage": {"path": "bot.sqlite3"}}, None)
    cfg = load_config(path)
    nets: dict[str, MemoryNetwork] = {name: SimulatedNetwork(name, clock=clock) for name in ("x", "telegram")}
    bot = Bot(cfg, store=SqliteStore(cfg.storage_path), networks=nets, clock=clock,
              plugins=load_plugins(cfg.plugins, cfg.plugin_dirs, cfg.doc), rng=random.Random(1))
    await bot.start()
    return BotHarness(bot, nets, clock)


async def test_the_digest_survives_restarts_and_is_not_posted_twice(tmp_path: Path, bundled) -> None:
    clock = ManualClock(START)
    config = staff_config(bundled)
    first = await start_file_bot(tmp_path, clock, config)
    await first.receive("repost", author="ana", network="x", refers_to="post-1", event_id="e1")
    await first.close()
    clock.advance(6 * 3600)  # 18:00: the bot was down at 17:00
    second = await start_file_bot(tmp_path, clock, config)
    await second.advance(1)  # the missed digest runs on start-up
    digest = second.take_sent()
    assert len(digest) == 1 and "Ana (@ana on x)" in digest[0]
    await second.receive("repost", author="ben", network="x", refers_to="post-1", event_id="e2")
    await second.close()
    third = await start_file_bot(tmp_path, clock, config)
    third.bot.schedule("amplify", "digest", clock.now(), {}, key="again")  # a stray run the same day
    await third.advance(3600)
    assert third.take_sent() == []  # today's digest is already out
    await third.advance(23 * 3600)  # 17:00 the next day
    digest = third.take_sent()
    assert len(digest) == 1 and "Ben (@ben on x)" in digest[0] and "Ana" not in digest[0]
    await third.close()


async def test_advocates_is_for_admins_and_lists_the_top_sharers_per_network(make_bot, bundled) -> None:
    bot = await make_bot(networks=("telegram", "discord"), plugins=["amplify"], config=staff_config(bundled),
                         start=START)
    for post in ("p1", "p2"):
        await bot.receive("repost", author="ana", network="telegram", refers_to=post)
    await bot.receive("repost", author="ben", network="discord", refers_to="p1")
    bot.take_sent()
    await bot.receive("command", "/advocates", author="ana", network="telegram")
    assert bot.take_sent() == ["Sorry, /advocates is only for the team."]
    await bot.receive("command", "/advocates soon", author="boss", network="telegram")
    assert bot.take_sent() == ["Usage: /advocates [days|all], e.g. /advocates 7 (days from 1 to 3650)"]
    await bot.receive("command", "/advocates 0", author="boss", network="discord")
    assert bot.take_sent()[0].startswith("Usage")
    await bot.receive("command", "/advocates 7", author="boss", network="discord")
    report = bot.take_sent()[0]
    lines = report.splitlines()
    assert lines[0] == "Top advocates, the last 7 days:"
    assert lines.index("discord:") < lines.index("telegram:")
    assert [line.split()[1] for line in lines[5:7]] == ["Ana", "Ben"]  # all networks: Ana 2, Ben 1
    telegram = lines[lines.index("telegram:") + 3]
    assert telegram.split()[1:] == ["Ana", str((await bot.follower("ana", "telegram")).id), "telegram", "2"]
    await bot.advance(8 * 86400)
    await bot.receive("command", "/advocates 7", author="boss", network="discord")
    assert "No shares recorded." in bot.take_sent()[0]
    await bot.receive("command", "/shares all", author="boss", network="telegram")
    assert bot.take_sent() == [("Shares, all time:\n3 shares in all.\nPer network: telegram 2, discord 1\n"
                               "Most shared posts: p1 (2), p2 (1)\nPer day: 2026-01-01 3")]


async def test_thanks_can_be_limited_to_some_networks_leaving_the_rest_to_rules(make_bot, bundled) -> None:
    rules = [{"name": "thanks-for-repost", "kinds": ["repost"], "reply": "Rule thanks {{ name }}"}]
    bot = await make_bot(networks=("telegram", "discord"), plugins=["amplify"], rules=rules, start=START,
                         config={**bundled, "plugins": {"amplify": {"thank_networks": ["Telegram"],
                                                                    "thanks": "Merci {{ name }} ({{ shares }})"}}})
    await bot.receive("repost", author="ana", network="telegram")
    await bot.receive("repost", author="ben", network="discord")
    assert bot.sent == ["Merci Ana (1)", "Rule thanks Ben"]
    assert len(await load_shares(recorded(bot))) == 2  # counted everywhere all the same


async def test_a_broken_thanks_template_stops_the_start_with_file_and_line(make_bot, bundled) -> None:
    with pytest.raises(ConfigError) as err:
        await make_bot(plugins=["amplify"], config={**bundled, "plugins": {"amplify": {"thanks": "Hi {{ nme }}"}}})
    assert "brandbot.yaml:" in str(err.value) and "nme" in str(err.value)
    with pytest.raises(ConfigError) as err:
        await make_bot(plugins=["amplify"], config={**bundled, "plugins": {"amplify": {"digest_hour": 24}}})
    assert "digest_hour" in str(err.value)


async def test_forgetting_a_person_erases_their_shares_and_digest_entry(make_bot, bundled) -> None:
    bot = await make_bot(networks=("x", "telegram"), plugins=["amplify"], config=staff_config(bundled), start=START)
    await bot.receive("repost", author="ana", network="x", refers_to="post-1")
    await bot.receive("repost", author="ben", network="telegram", refers_to="post-1")
    ana = await bot.follower("ana", "x")
    assert await bot.bot.store.forget_follower(ana.id, bot.clock.now())
    items = await bot.bot.store.kv_items(AMPLIFY_NAMESPACE)
    assert items and not any(f":f{ana.id}:" in key for key, _ in items)
    await bot.advance(5 * 3600)
    assert not any("Shares to thank" in s for s in bot.take_sent())
