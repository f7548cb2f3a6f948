"""People across networks: linking, opt-out everywhere, handoff, admins, GDPR, milestones."""

import sqlite3
from datetime import UTC

import pytest

from brandbot import Context, Plugin
from brandbot.core.records import OutboxStatus

NETS = ("telegram", "discord", "x")


async def link_accounts(bot, a_net: str, a_user: str, b_net: str, b_user: str) -> None:
    await bot.receive("command", "/link", author=a_user, network=a_net, private=True)
    code = bot.take_sent()[-1].split("code is ")[1].split(".")[0]
    await bot.receive("command", f"/link {code}", author=b_user, network=b_net, private=True)


async def test_two_identities_linked_by_code_share_history_and_points(make_bot, bundled) -> None:
    bot = await make_bot(networks=NETS, plugins=["link", "loyalty"], config=bundled)
    for _ in range(3):
        await bot.receive("direct", "hello", author="ana_tg", network="telegram")
    await bot.receive("direct", "hi", author="ana_dc", network="discord")
    before_tg = await bot.follower("ana_tg", "telegram")
    before_dc = await bot.follower("ana_dc", "discord")
    await link_accounts(bot, "telegram", "ana_tg", "discord", "ana_dc")
    assert "Linked!" in bot.take_sent()[-1]
    tg = await bot.follower("ana_tg", "telegram")
    dc = await bot.follower("ana_dc", "discord")
    assert tg.id == dc.id == before_tg.id
    # every interaction counted once: 3 + 1 messages, /link twice (once per side)
    assert tg.interactions == before_tg.interactions + before_dc.interactions + 1 + 1
    history = await bot.bot.store.all_interactions(tg.id)
    assert {h.network for h in history if h.direction == "in" and h.network} == {"telegram", "discord"}
    assert tg.points == sum(h.points for h in history if h.direction == "in")


async def test_link_codes_are_one_time_and_expire(make_bot, bundled) -> None:
    bot = await make_bot(networks=NETS, plugins=["link"], config=bundled)
    await bot.receive("command", "/link", author="a", network="telegram", private=True)
    code = bot.take_sent()[-1].split("code is ")[1].split(".")[0]
    await bot.advance(11 * 60)
    await bot.receive("command", f"/link {code}", author="b", network="discord", private=True)
    assert "expired" in bot.take_sent()[-1]
    await bot.receive("command", "/link", author="a", network="telegram", conversation="group", private=False)
    assert "private message" in bot.take_sent()[-1]


async def test_unlink_detaches_one_identity(make_bot, bundled) -> None:
    bot = await make_bot(networks=NETS, plugins=["link"], config=bundled)
    await link_accounts(bot, "telegram", "a", "discord", "b")
    await bot.receive("command", "/unlink", author="b", network="discord", private=True)
    assert "on its own again" in bot.take_sent()[-1]
    assert (await bot.follower("a", "telegram")).id != (await bot.follower("b", "discord")).id


async def test_stop_on_telegram_silences_the_same_person_on_discord(make_bot, bundled) -> None:
    rules = [{"name": "echo", "kinds": ["direct", "mention"], "priority": -1, "reply": "bot says hi"}]
    bot = await make_bot(networks=NETS, plugins=["link", "optout"], rules=rules, config=bundled)
    await link_accounts(bot, "telegram", "ana", "discord", "ana#1")
    bot.take_sent()
    await bot.receive("direct", "STOP", author="ana", network="telegram")
    assert bot.take_sent() == ["Done, Ana: you won't hear from Test Brand's bot again, on any network. Write 'start' if you change your mind."]
    await bot.receive("direct", "stop", author="ana", network="telegram")  # confirmed once only
    await bot.receive("direct", "hello", author="ana#1", network="discord")
    assert bot.take_sent() == []
    assert any(r.startswith("opted_out") for r in bot.refusals())
    await bot.receive("direct", "start", author="ana#1", network="discord")
    await bot.receive("direct", "hello", author="ana", network="telegram")
    assert bot.take_sent()[-1] == "bot says hi"


async def test_human_takeover_silences_until_released(make_bot, bundled) -> None:
    rules = [{"name": "echo", "kinds": ["direct"], "priority": -1, "reply": "bot answer"}]
    config = {**bundled, "admins": {"memory": ["staff"]}, "staff": {"network": "memory", "conversation": "staff-room"}}
    bot = await make_bot(plugins=["handoff"], rules=rules, config=config)
    await bot.receive("direct", "I want a human please", author="cy")
    sent = bot.take_sent()
    assert "A person from Test Brand will answer" in sent[0]
    assert any(s.startswith("Handoff: Cy") for s in sent)
    assert any(r.conversation.id == "staff-room" and r.text.startswith("Handoff:") for r in bot.networks["memory"].sent)
    await bot.receive("direct", "hello?", author="cy")
    assert bot.take_sent() == []
    assert any(r.startswith("handed_off") for r in bot.refusals())
    await bot.receive("command", "/release memory:dm:cy", author="cy")  # not an admin: refused, and silent here
    assert bot.take_sent() == []
    await bot.receive("command", "/release memory:dm:cy", author="staff")
    assert "Released" in bot.take_sent()[-1]
    await bot.receive("direct", "hello again", author="cy")
    assert bot.take_sent() == ["bot answer"]


async def test_handoff_times_out(make_bot, bundled) -> None:
    rules = [{"name": "echo", "kinds": ["direct"], "priority": -1, "reply": "bot answer"}]
    bot = await make_bot(plugins=["handoff"], rules=rules, config={**bundled, "handoff": {"timeout": "1h"},
                                                                   "staff": {"network": "memory"}})
    await bot.receive("direct", "agent", author="cy")
    bot.take_sent()
    await bot.advance(3601)
    await bot.receive("direct", "anyone?", author="cy")
    assert bot.take_sent() == ["bot answer"]


async def test_points_respect_the_daily_cap(make_bot) -> None:
    bot = await make_bot(config={"loyalty": {"daily_cap": 10, "points": {"direct": 3}}})
    for _ in range(8):
        await bot.receive("direct", "hi")
    assert (await bot.follower("ana")).points == 10
    await bot.advance(86400)
    await bot.receive("direct", "hi")
    assert (await bot.follower("ana")).points == 13


GOLD_RULES = [
    {"name": "gold", "kinds": ["milestone"], "match": {"all": ["tier", "gold"]}, "priority": 10,
     "reply": "Thank you for your {{ follower.interactions | ordinal }} message, {{ name }}, you are now a {{ follower.tier }} reader"},
]
GOLD_AT_30 = {"points": {"direct": 10}, "daily_cap": 1000,
              "tiers": [{"name": "Reader", "min_points": 0}, {"name": "Gold", "min_points": 30}]}


@pytest.mark.parametrize(("chat_priority", "third_reply"), [
    (-100, "Thank you for your 3rd message, Ana, you are now a Gold reader"),  # a fallback: the milestone answers
    (0, "ok"),  # a real answer: the milestone never replaces it
], ids=["fallback", "real-answer"])
async def test_a_tier_change_emits_a_milestone_a_yaml_rule_answers_in_place_of_a_fallback(
        make_bot, chat_priority: int, third_reply: str) -> None:
    rules = [*GOLD_RULES, {"name": "chat", "kinds": ["direct"], "priority": chat_priority, "reply": "ok"}]
    bot = await make_bot(rules=rules, config={"loyalty": GOLD_AT_30})
    for _ in range(3):
        await bot.receive("direct", "hi")
    assert bot.sent == ["ok", "ok", third_reply]
    assert (await bot.follower("ana")).tier == "Gold"  # the milestone was reached either way


FALLBACK = [{"name": "fallback", "kinds": ["direct"], "priority": -100, "reply": "I'm only a bot, {{ name }}."}]
STOPPED = "Done, Ana: you won't hear from Test Brand's bot again, on any network. Write 'start' if you change your mind."


async def tenth_message(make_bot, bundled, text: str):
    """A bot where ana's message ``text`` is her 10th interaction (a milestone); earlier replies taken."""
    bot = await make_bot(plugins=["optout", "loyalty"], rules=FALLBACK, config=bundled)
    for _ in range(9):
        await bot.receive("direct", "hi")
    bot.take_sent()
    await bot.receive("direct", text)
    return bot


def milestone_thanks_tried(bot) -> list[str]:
    """Every milestone thanks the loyalty plugin tried to send, sent or refused."""
    return [n.text for n in bot.notes if n.source.startswith("plugin:loyalty") and n.text]


async def test_the_10th_interaction_is_thanked_in_place_of_the_fallback(make_bot, bundled) -> None:
    bot = await tenth_message(make_bot, bundled, "hi")
    sent = bot.take_sent()
    assert len(sent) == 1 and sent[0].startswith("Thank you for your 10th interaction, Ana!")


async def test_stop_as_the_10th_interaction_is_honoured(make_bot, bundled) -> None:
    bot = await tenth_message(make_bot, bundled, "stop")
    assert bot.take_sent() == [STOPPED]
    ana = await bot.follower("ana")
    assert ana.opted_out and ana.interactions == 10
    assert milestone_thanks_tried(bot) == []


async def test_an_opted_out_person_gets_no_milestone_thanks(make_bot, bundled) -> None:
    bot = await make_bot(plugins=["optout", "loyalty"], rules=FALLBACK, config=bundled)
    await bot.receive("direct", "stop")
    assert bot.take_sent() == [STOPPED]
    for _ in range(9):  # the 10th interaction: only the fallback would answer, and the person opted out
        await bot.receive("direct", "hi")
    assert bot.take_sent() == []
    assert (await bot.follower("ana")).interactions == 10
    assert milestone_thanks_tried(bot) == []
    assert any(r.startswith("opted_out") for r in bot.refusals())  # the fallback was asked, and refused


async def test_a_rule_answering_reposts_on_x_is_rejected_at_start(make_bot) -> None:
    from brandbot.core.errors import ConfigError

    rules = [{"name": "thanks", "kinds": ["repost", "mention"], "reply": "Thanks {{ name }}!"}]
    with pytest.raises(ConfigError) as err:
        await make_bot(networks=("x", "telegram"), rules=rules)
    assert "rules.yaml:" in str(err.value) and "x allows automated replies only" in str(err.value)


async def test_x_does_not_allow_replies_to_reposts_and_says_why(make_bot) -> None:
    p = Plugin("thanker")

    @p.on("repost", "mention")
    async def thanks(ctx: Context) -> None:
        await ctx.reply("Thanks {{ name }}!")

    bot = await make_bot(networks=("x", "telegram"), plugins=[p])
    await bot.receive("repost", author="ana", network="x")
    await bot.receive("repost", author="ana", network="telegram")
    await bot.receive("mention", "@brand hi", author="ana", network="x")
    assert bot.sent_to("x") == ["Thanks Ana!"]
    assert bot.sent_to("telegram") == ["Thanks Ana!"]
    assert any(r.startswith("not_summoned") for r in bot.refusals())


async def test_once_per_post_refuses_the_second_reply_with_a_reason(make_bot) -> None:
    rules = [{"name": "thanks", "kinds": ["repost"], "once_per_post": True, "reply": "Thanks!"}]
    bot = await make_bot(rules=rules)
    await bot.receive("repost", refers_to="post-1")
    await bot.receive("repost", refers_to="post-1")
    await bot.receive("repost", refers_to="post-2")
    assert bot.sent == ["Thanks!", "Thanks!"]
    assert any(r.startswith("already_answered") for r in bot.refusals())


async def test_quiet_hours_defer_replies_until_morning(make_bot) -> None:
    from datetime import datetime

    rules = [{"name": "echo", "kinds": ["direct"], "reply": "good morning"}]
    policy = {"quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "UTC", "mode": "defer"}}
    bot = await make_bot(rules=rules, config={"policy": policy},
                         start=datetime(2026, 3, 1, 23, 0, tzinfo=UTC))
    await bot.receive("direct", "hello")
    assert bot.sent == []
    await bot.advance(7 * 3600)  # 06:00: still quiet
    assert bot.sent == []
    await bot.advance(3600 + 60)
    assert bot.sent == ["good morning"]


async def test_forget_leaves_no_row_naming_the_person(make_bot, bundled, tmp_path) -> None:
    rules = [{"name": "echo", "kinds": ["direct"], "reply": "hi {{ name }}", "actions": {"tag": ["vip"]}}]
    bot = await make_bot(networks=NETS, plugins=["link", "loyalty"], rules=rules, config=bundled)
    await bot.receive("direct", "hello from Zelda", author="zelda_tg", name="Zelda Quux", network="telegram")
    await link_accounts(bot, "telegram", "zelda_tg", "discord", "zelda_dc")
    await bot.receive("direct", "hi", author="zelda_dc", name="Zelda Quux", network="discord")
    await bot.receive("direct", "hi", author="other", network="telegram")
    follower = await bot.follower("zelda_tg", "telegram")
    store = bot.bot.store
    assert await store.forget_follower(follower.id, bot.clock.now())
    await store.flush()
    backup = tmp_path / "copy.sqlite3"
    await store.backup(backup)
    db = sqlite3.connect(backup)
    tables = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
    needles = ("zelda", "Zelda Quux")
    for table in tables:
        for row in db.execute(f'select * from "{table}"'):
            text = " ".join(str(v) for v in row).lower()
            assert not any(n.lower() in text for n in needles), (table, row)
    audit = await store.audit()
    assert any("forgot" in line for _, line in audit)
    assert (await bot.follower("other", "telegram")).interactions == 1


async def test_export_contains_everything_held(make_bot) -> None:
    from brandbot.ops.export import export_json

    rules = [{"name": "echo", "kinds": ["direct"], "reply": "hi {{ name }}"}]
    bot = await make_bot(rules=rules)
    await bot.receive("direct", "my secret question", author="ana")
    await bot.bot.store.flush()
    ana = await bot.follower("ana")
    text = export_json(await bot.bot.store.export_follower(ana.id))
    assert "my secret question" in text and "hi Ana" in text and '"network": "memory"' in text


async def test_blocked_send_marks_the_identity_unreachable(make_bot) -> None:
    from brandbot.core.errors import PermanentSendError

    rules = [{"name": "echo", "kinds": ["direct"], "reply": "hi"}]
    bot = await make_bot(rules=rules)
    bot.networks["memory"].fail_next(PermanentSendError("bot was blocked by the user", unreachable=True))
    await bot.receive("direct", "hello")
    ana = await bot.follower("ana")
    assert "memory" in ana.unreachable
    rows = await bot.bot.store.outbox_for(ana.id)
    assert rows[0].status is OutboxStatus.FAILED
    await bot.receive("direct", "hello again")
    assert any(r.startswith("unreachable") for r in bot.refusals())


async def test_admins_add_points_and_others_are_refused(make_bot, bundled) -> None:
    bot = await make_bot(networks=("telegram", "discord"), plugins=["loyalty"],
                         config={**bundled, "admins": {"discord": ["boss"]}})
    await bot.receive("direct", "hi", author="ana", network="telegram")
    await bot.receive("command", "/points add telegram:ana 25 great review", author="mallory", network="discord")
    assert bot.take_sent()[-1] == "Sorry, adding points is only for the team."
    await bot.receive("command", "/points add telegram:ana 25 great review", author="boss", network="discord")
    assert "Ana now has" in bot.take_sent()[-1]
    ana = await bot.follower("ana", "telegram")
    assert ana.points >= 25
    await bot.receive("command", "/points", author="ana", network="telegram")
    assert f"You have {ana.points} points" in bot.take_sent()[-1]


async def test_retention_blanks_old_text_but_keeps_counts(make_bot) -> None:
    bot = await make_bot(rules=[{"name": "hi", "kinds": ["direct"], "reply": "hello"}],
                         config={"storage": {"path": ":memory:", "text_retention_days": 30, "processed_retention_days": 14}})
    await bot.receive("direct", "my private words", event_id="old-1")
    await bot.advance(31 * 86400)
    await bot.receive("direct", "fresh words", event_id="new-1")
    await bot.bot.maintain()  # also runs hourly by itself
    assert not await bot.bot.store.is_processed("memory", "old-1")  # pruned after 14 days
    assert await bot.bot.store.is_processed("memory", "new-1")
    ana = await bot.follower("ana")
    history = await bot.bot.store.all_interactions(ana.id)
    texts = [h.text for h in history if h.direction == "in"]
    assert texts == ["", "fresh words"] and ana.interactions == 2


async def test_forget_me_and_admin_forget_while_running(make_bot, bundled) -> None:
    rules = [{"name": "hi", "kinds": ["direct"], "reply": "hello {{ name }} ({{ follower.interactions }})"}]
    bot = await make_bot(networks=("telegram",), plugins=["optout"], rules=rules,
                         config={**bundled, "admins": {"telegram": ["boss"]}})
    await bot.receive("direct", "hi", author="zed", network="telegram")
    await bot.receive("command", "/forgetme", author="zed", network="telegram")
    assert "cannot be undone" in bot.take_sent()[-1]
    await bot.receive("command", "/forgetme confirm", author="zed", network="telegram")
    assert bot.take_sent()[-1].startswith("Done, Zed: I have forgotten you")
    await bot.bot.store.flush()
    assert await bot.bot.store.find_follower("telegram", "zed") is None
    await bot.receive("direct", "hi again", author="zed", network="telegram")
    assert bot.take_sent()[-1] == "hello Zed (1)"  # a fresh start
    await bot.receive("command", "/forget telegram:zed", author="mallory", network="telegram")
    assert "only for the team" in bot.take_sent()[-1]
    await bot.receive("command", "/forget telegram:zed", author="boss", network="telegram")
    assert bot.take_sent()[-1].startswith("Forgotten: follower")
    await bot.bot.store.flush()
    assert await bot.bot.store.find_follower("telegram", "zed") is None
