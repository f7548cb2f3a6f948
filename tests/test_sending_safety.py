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
