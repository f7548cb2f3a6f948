"""brandbot_handler_seconds has one series per plugin handler and rule, as docs/operations.md says."""

from __future__ import annotations

from test_metrics import value

from brandbot import Context, Plugin

RULES = [
    {"name": "hello", "kinds": ["direct"], "match": {"any": ["hi"]}, "reply": "Hi {{ name }}!"},
    {"name": "fallback", "kinds": ["direct"], "priority": -100, "reply": "Sorry?"},
]


def counting_plugin() -> Plugin:
    plugin = Plugin("counter")

    @plugin.watch("direct")
    async def count(ctx: Context) -> None:
        await ctx.data.get("n", 0)

    @plugin.on("direct", match={"any": ["help"]}, priority=10)
    async def helper(ctx: Context) -> None:
        await ctx.reply("Here to help.")

    return plugin


async def test_each_plugin_handler_and_rule_has_its_own_latency_series(make_bot) -> None:
    bot = await make_bot(rules=RULES, plugins=[counting_plugin()])
    await bot.receive("direct", "hi", author="ana")
    await bot.receive("direct", "hi again", author="ben")
    await bot.receive("direct", "help", author="cy")
    await bot.receive("direct", "what?", author="dan")
    m = bot.bot.metrics
    count = "brandbot_handler_seconds_count"
    assert value(m, count, handler="plugin:counter.count") == 4  # a watcher runs on every event
    assert value(m, count, handler="plugin:counter.helper") == 1
    assert value(m, count, handler="rule:hello") == 2
    assert value(m, count, handler="rule:fallback") == 1
    assert value(m, count, handler="event") is None
