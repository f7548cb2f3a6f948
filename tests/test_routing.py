"""The Router: watchers all run, the highest-priority responder wins, failures are contained."""

import asyncio

from brandbot import Context, Kind, Plugin


def recorder() -> tuple[Plugin, list[str]]:
    calls: list[str] = []
    p = Plugin("probe")

    @p.watch("direct")
    async def watch_one(ctx: Context) -> None:
        calls.append("watch1")

    @p.watch("direct")
    async def watch_broken(ctx: Context) -> None:
        calls.append("watch2")
        raise RuntimeError("watcher bug")

    @p.watch("direct")
    async def watch_three(ctx: Context) -> None:
        calls.append("watch3")

    @p.on("direct", priority=10)
    async def high(ctx: Context) -> None:
        calls.append("high")
        await ctx.reply("high")

    @p.on("direct", priority=1)
    async def low(ctx: Context) -> None:
        calls.append("low")
        await ctx.reply("low")

    return p, calls


async def test_all_watchers_run_and_only_the_top_responder_replies(make_bot) -> None:
    p, calls = recorder()
    bot = await make_bot(plugins=[p])
    await bot.receive("direct", "hello")
    assert calls == ["watch1", "watch2", "watch3", "high"]
    assert bot.sent == ["high"]


async def test_fall_through_lets_the_next_responder_answer(make_bot) -> None:
    p = Plugin("ft")

    @p.on("direct", priority=5)
    async def maybe(ctx: Context) -> None:
        if "price" not in ctx.event.text:
            ctx.fall_through()
            return
        await ctx.reply("price list")

    @p.on("direct", priority=1)
    async def default(ctx: Context) -> None:
        await ctx.reply("default")

    bot = await make_bot(plugins=[p])
    await bot.receive("direct", "hello")
    await bot.receive("direct", "what's the price?")
    assert bot.sent == ["default", "price list"]


async def test_a_raising_responder_is_isolated_and_the_next_one_answers(make_bot, caplog) -> None:
    p = Plugin("crashy")

    @p.on("direct", priority=5)
    async def broken(ctx: Context) -> None:
        raise ValueError("bug in plugin")

    @p.on("direct", priority=1)
    async def fallback(ctx: Context) -> None:
        await ctx.reply("still here")

    bot = await make_bot(plugins=[p])
    handled = await bot.receive("direct", "hi", event_id="evt-42")
    assert bot.sent == ["still here"]
    assert handled.handled_by == "plugin:crashy.fallback"
    assert any("evt-42" in r.getMessage() and "crashy.broken" in r.getMessage() for r in caplog.records)
    assert not any("Traceback" in t or "ValueError" in t for t in bot.sent)


async def test_a_slow_handler_times_out_without_blocking_the_others(make_bot) -> None:
    p = Plugin("slow")

    @p.on("direct", priority=5)
    async def sleepy(ctx: Context) -> None:
        await asyncio.sleep(30)

    @p.on("direct", priority=1)
    async def quick(ctx: Context) -> None:
        await ctx.reply("quick answer")

    bot = await make_bot(plugins=[p], config={"runtime": {"handler_timeout": 0.05}})
    await bot.receive("direct", "hi")
    assert bot.sent == ["quick answer"]


async def test_rules_and_plugins_share_one_priority_order(make_bot) -> None:
    p = Plugin("mixed")

    @p.on("direct", priority=20)
    async def plugin_high(ctx: Context) -> None:
        if "plugin" in ctx.event.text:
            await ctx.reply("from plugin")
        else:
            ctx.fall_through()

    rules = [
        {"name": "rule-mid", "kinds": ["direct"], "priority": 10, "match": {"any": ["hello"]}, "reply": "from rule"},
        {"name": "rule-low", "kinds": ["direct"], "priority": 0, "reply": "fallback rule"},
    ]
    bot = await make_bot(plugins=[p], rules=rules)
    await bot.receive("direct", "plugin please")
    await bot.receive("direct", "hello")
    await bot.receive("direct", "something else")
    assert bot.sent == ["from plugin", "from rule", "fallback rule"]


async def test_commands_route_by_name_and_admin_only_is_refused_for_others(make_bot, caplog) -> None:
    p = Plugin("cmds")

    @p.command("ping")
    async def ping(ctx: Context) -> None:
        await ctx.reply("pong")

    @p.command("secret", admin=True)
    async def secret(ctx: Context) -> None:
        await ctx.reply("admin stuff")

    bot = await make_bot(plugins=[p], config={"admins": {"memory": ["boss"]}})
    await bot.receive("command", "/ping")
    await bot.receive("command", "/secret", author="mallory")
    await bot.receive("command", "/secret", author="boss")
    assert bot.sent == ["pong", "Sorry, /secret is only for the team.", "admin stuff"]
    assert any("refused admin command /secret" in r.getMessage() for r in caplog.records)


async def test_watchers_see_events_no_responder_wants(make_bot) -> None:
    seen: list[Kind] = []
    p = Plugin("analytics")

    @p.watch()
    async def count(ctx: Context) -> None:
        seen.append(ctx.event.kind)

    bot = await make_bot(plugins=[p])
    await bot.receive("repost")
    await bot.receive("join", conversation="group")
    assert seen == [Kind.REPOST, Kind.JOIN]
    assert bot.sent == []


async def test_a_plugin_handler_uses_the_same_match_language_as_a_yaml_rule(make_bot) -> None:
    import pytest

    from brandbot import Context, Plugin, PluginError

    p = Plugin("shipping")

    @p.on("direct", match={"any": ["ship", "delivery"], "not": ["refund"]})
    async def shipping(ctx: Context) -> None:
        await ctx.reply("We ship worldwide.")

    bot = await make_bot(plugins=[p], rules=[{"name": "same", "kinds": ["direct"], "priority": -1,
                                              "match": {"any": ["ship", "delivery"], "not": ["refund"]},
                                              "reply": "rule"}])
    await bot.receive("direct", "Do you SHIP to Canada?")
    await bot.receive("direct", "how long is delivery")
    await bot.receive("direct", "I want a refund for the delivery")
    await bot.receive("direct", "hello")
    assert bot.take_sent() == ["We ship worldwide.", "We ship worldwide."]
    with pytest.raises(PluginError, match="colour"):
        p.on("direct", match={"colour": ["x"]})
