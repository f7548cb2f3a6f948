"""welcome: first-contact greeting, and in-channel welcomes on joins (never a DM)."""


async def test_joins_are_welcomed_in_the_group_not_by_dm(make_bot, bundled) -> None:
    bot = await make_bot(networks=("telegram", "discord"), plugins=["welcome"], config=bundled)
    await bot.receive("join", author="ana", network="telegram", conversation="readers-group")
    [reply] = bot.replies
    assert reply.conversation.id == "readers-group" and not reply.conversation.private
    assert reply.text == "Welcome to the group, Ana! Say hi any time."
    await bot.receive("join", author="ben", network="discord", conversation="dm:ben", private=True)
    assert len(bot.replies) == 1  # a join seen privately gets no unsolicited message


async def test_first_contact_is_greeted_once(make_bot, bundled) -> None:
    bot = await make_bot(networks=("telegram", "x"), plugins=["welcome"], config=bundled)
    await bot.receive("direct", "hello", author="cy", network="telegram")
    await bot.receive("direct", "hello again", author="cy", network="telegram")
    assert bot.sent == ["Welcome, Cy! I'm the Test Brand bot; /help shows what I can do."]


async def test_joins_on_x_are_refused_by_the_policy(make_bot, bundled) -> None:
    bot = await make_bot(networks=("x",), plugins=["welcome"], config=bundled)
    await bot.receive("join", author="dee", network="x", conversation="public")
    assert bot.sent == []
    assert bot.refusals()[0].startswith("not_summoned")
