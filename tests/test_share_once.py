"""One share of one post is counted and thanked once, by one component (issue 15)."""

from __future__ import annotations

from datetime import UTC, datetime

from brandbot.core import loyalty

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


async def test_the_same_post_reposted_again_is_counted_and_thanked_once(make_bot, bundled) -> None:
    config = {**bundled, "plugins": {"amplify": {}, "loyalty": {}},
              "loyalty": {"milestones": {"reposts": [1, 2, 3]}}}
    bot = await make_bot(networks=("telegram",), plugins=["amplify", "loyalty"], config=config, start=START)
    for _ in range(3):
        await bot.receive("repost", author="ana", network="telegram", refers_to="post-1")
    assert len(bot.take_sent()) == 1  # one thanks in all
    ana = await bot.follower("ana", "telegram")
    assert ana.reposts == 1
    assert ana.interactions == 1
    points_once = ana.points
    # another post is another share
    await bot.receive("repost", author="ana", network="telegram", refers_to="post-2")
    assert len(bot.take_sent()) == 1
    ana = await bot.follower("ana", "telegram")
    assert ana.reposts == 2 and ana.points > points_once
    # recompute from history agrees: the repeats are history, never counted
    await bot.bot.store.flush()
    rows = await bot.bot.store.all_interactions(ana.id)
    assert [r.kind for r in rows if r.direction == "in"].count("repost") == 4  # the repeats stay in the history
    fresh = loyalty.rescore(ana, rows, bot.bot.config.top.loyalty)
    assert (fresh.reposts, fresh.points) == (ana.reposts, ana.points)
