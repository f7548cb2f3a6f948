"""Per-person limits: one account cannot take all of the bot's answers, money or attention."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

RULES = [{"name": "hello", "kinds": ["direct", "mention"], "reply": "hello {{ name }}"}]
STAFF = {"staff": {"network": "memory", "conversation": "staff"}}
MIDNIGHT = datetime(2025, 3, 3, 0, 0, tzinfo=UTC)


def to(bot, name: str) -> list[str]:
    return [t for t in bot.take_sent() if t == f"hello {name}"]


async def test_one_person_gets_at_most_the_hourly_reply_budget_by_default(make_bot) -> None:
    """10,000 messages from one person got 10,000 replies."""
    bot = await make_bot(rules=RULES, start=MIDNIGHT)
    answered = 0
    for _ in range(100):  # one message every 10 s: not a flood, but more than 60 in the hour
        await bot.receive("direct", "hi", author="ana")
        answered += len(to(bot, "Ana"))
        await bot.advance(10)
    assert answered == 60  # policy.per_person.replies_per_hour
    assert any(r.startswith("person_budget:") and "this hour" in r for r in bot.refusals())
    await bot.receive("direct", "hi", author="bob")
    assert to(bot, "Bob") == ["hello Bob"]  # everyone else is still answered
    await bot.advance(3600)
    await bot.receive("direct", "hi", author="ana")
    assert to(bot, "Ana") == ["hello Ana"]  # a new hour


async def test_daily_and_per_network_budgets(make_bot) -> None:
    policy = {"per_person": {"replies_per_hour": 100, "replies_per_day": 5,
                             "networks": {"telegram": {"replies_per_day": 2}}}}
    bot = await make_bot(rules=RULES, start=MIDNIGHT, networks=("memory", "telegram"), config={"policy": policy})
    got = {"memory": 0, "telegram": 0}
    for _ in range(8):
        for network in got:
            await bot.receive("direct", "hi", author="ana", network=network)
            got[network] += len(to(bot, "Ana"))
        await bot.advance(600)
    assert got == {"memory": 5, "telegram": 2}
    assert any("today" in r for r in bot.refusals())
    await bot.advance(86400)  # the next UTC day
    await bot.receive("direct", "hi", author="ana")
    assert to(bot, "Ana") == ["hello Ana"]


async def test_x_has_tighter_default_budgets(make_bot) -> None:
    bot = await make_bot(rules=RULES, start=MIDNIGHT, networks=("x",))
    answered = 0
    for _ in range(25):
        await bot.receive("mention", "@brand hi", author="ana")
        answered += len(to(bot, "Ana"))
        await bot.advance(60)
    assert answered == 20


async def test_one_account_cannot_spend_the_whole_paid_budget(make_bot, tmp_path: Path) -> None:
    """25 X mentions from one account spent the whole daily X budget, for everyone."""
    unlimited = {"replies_per_hour": None, "replies_per_day": None}
    config = {"policy": {"daily_cost_budget": 1.0, "per_person": {**unlimited, "networks": {"x": unlimited}}}}
    db = tmp_path / "bot.sqlite3"
    bot = await make_bot(rules=RULES, start=MIDNIGHT, networks=("x",), config=config, store_path=db)
    answered = 0
    for _ in range(30):  # 0.015 a post: 13 posts are a fifth of the budget (policy.per_person.cost_share: 0.2)
        await bot.receive("mention", "@brand hi", author="mallory")
        answered += len(to(bot, "Mallory"))
        await bot.advance(30)
    assert answered == 13
    assert any(r.startswith("person_cost_budget:") for r in bot.refusals())
    await bot.receive("mention", "@brand hi", author="bob")
    assert to(bot, "Bob") == ["hello Bob"]
    await bot.close()
    again = await make_bot(rules=RULES, start=MIDNIGHT.replace(hour=1), networks=("x",), config=config, store_path=db)
    await again.receive("mention", "@brand hi", author="mallory")
    assert to(again, "Mallory") == []  # the person's spending today survived the restart
    await again.receive("mention", "@brand hi", author="bob")
    assert to(again, "Bob") == ["hello Bob"]
    await again.advance(86400)
    await again.receive("mention", "@brand hi", author="mallory")
    assert to(again, "Mallory") == ["hello Mallory"]


async def test_a_flooder_is_no_longer_answered_and_the_staff_are_told_once(make_bot, bundled) -> None:
    bot = await make_bot(rules=RULES, plugins=["optout"], start=MIDNIGHT, config={**bundled, **STAFF})
    answered = 0
    for _ in range(50):  # all at once
        await bot.receive("direct", "hi", author="ana")
        answered += len(to(bot, "Ana"))
    assert answered == 20  # policy.flood.messages within policy.flood.seconds
    notices = [r.text for r in bot.replies if r.conversation.id == "staff"]
    assert len(notices) == 1 and notices[0].startswith("Flood: Ana (follower "), notices
    assert any(r.startswith("flood:") for r in bot.refusals())
    await bot.receive("direct", "hi", author="bob")
    assert to(bot, "Bob") == ["hello Bob"]
    await bot.advance(30 * 60 + 60)  # policy.flood.mute: 30m
    await bot.receive("direct", "hi", author="ana")
    assert to(bot, "Ana") == ["hello Ana"]


async def test_essential_replies_pass_every_per_person_limit(make_bot, bundled) -> None:
    bot = await make_bot(rules=RULES, plugins=["optout"], start=MIDNIGHT, config={**bundled, **STAFF})
    for _ in range(40):
        await bot.receive("direct", "hi", author="ana")
    bot.take_sent()
    await bot.receive("direct", "stop", author="ana")
    assert bot.take_sent()[0].startswith("Done, Ana: you won't hear")
    await bot.receive("command", "/forgetme", author="ana")
    assert "cannot be undone" in bot.take_sent()[0]


async def test_no_state_is_kept_for_idle_people(make_bot) -> None:
    bot = await make_bot(rules=RULES, start=MIDNIGHT)
    for i in range(50):
        await bot.receive("direct", "hi", author=f"p{i}")
    meter = bot.bot.sending.people
    assert len(meter) == 50
    await bot.advance(86400 + 3600)
    await bot.receive("direct", "hi", author="late")
    assert len(meter) == 1
