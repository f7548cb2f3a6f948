"""Sending safety: what the policy gate refuses however a handler or rule asks for it."""

from __future__ import annotations

from brandbot import Context, Plugin

STAFF = {"staff": {"network": "memory", "conversation": "staff"}}


async def test_a_reply_that_renders_to_nothing_is_refused_not_sent_empty(make_bot) -> None:
    """A template that renders to "" (or only spaces) was sent as an empty message."""
    p = Plugin("blank")

    @p.on("direct")
    async def answer(ctx: Context) -> None:
        await ctx.reply("{{ greeting }}", variables={"greeting": " \n " if "spaces" in ctx.event.text else ""})

    bot = await make_bot(plugins=[p])
    await bot.receive("direct", "hello")
    await bot.receive("direct", "only spaces please")
    assert bot.sent == []
    refusals = bot.refusals()
    assert len(refusals) == 2 and all("empty" in r for r in refusals), refusals
    ana = await bot.follower("ana")
    rows = await bot.bot.store.outbox_for(ana.id)
    assert [r.status for r in rows] == ["refused", "refused"]
    assert all(r.reason.startswith("empty:") for r in rows)


async def test_a_rule_reply_that_renders_to_nothing_is_refused_with_a_note(make_bot) -> None:
    rules = [{"name": "maybe", "kinds": ["direct"], "reply": "{% if follower.points > 1000 %}VIP hello{% endif %}"}]
    bot = await make_bot(rules=rules)
    handled = await bot.receive("direct", "hi")
    assert bot.sent == []
    [note] = [n for n in handled.notes if n.action == "refuse"]
    assert note.source == "rule:maybe" and note.detail.startswith("empty: the reply is empty")


async def test_stop_and_forgetme_are_confirmed_during_a_handoff(make_bot, bundled) -> None:
    """Essential replies (opt-out, erasure) were refused as 'handed_off' during a handoff."""
    bot = await make_bot(plugins=["optout", "handoff"], config={**bundled, **STAFF})
    await bot.receive("direct", "human please")
    assert bot.take_sent()[0].startswith("Of course, Ana.")
    await bot.receive("direct", "how are you?")
    assert bot.take_sent() == []  # handed off: the bot stays quiet ...
    await bot.receive("direct", "stop")
    stopped = ("Done, Ana: you won't hear from Test Brand's bot again, on any network. "
               "Write 'start' if you change your mind.")
    assert bot.take_sent() == [stopped]  # ... but confirms what the person asked for
    await bot.receive("command", "/forgetme")
    assert "cannot be undone" in bot.take_sent()[0]
    await bot.receive("command", "/forgetme confirm")
    assert bot.take_sent() == ["Done, Ana: I have forgotten you. If you write again, we start afresh."]


async def test_a_handoff_still_holds_back_proactive_and_ordinary_replies(make_bot, bundled) -> None:
    p = Plugin("chatty")

    @p.on("direct", priority=-1)
    async def answer(ctx: Context) -> None:
        await ctx.reply("bot answer")

    @p.command("ping")
    async def ping(ctx: Context) -> None:  # an essential proactive message into the handed-off chat
        await ctx.send("memory", ctx.event.conversation, "proactive ping")
        ctx.stop()

    bot = await make_bot(plugins=["handoff", p], config={**bundled, **STAFF})
    await bot.receive("direct", "human")
    bot.take_sent()
    await bot.receive("direct", "hello?")
    await bot.receive("command", "/ping")
    assert bot.take_sent() == []
    assert any(r.startswith("handed_off") for r in bot.refusals())  # the ordinary reply
    assert bot.bot.sending.stats["refused"] == 2  # and the proactive message
