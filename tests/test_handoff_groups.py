"""Handoffs in groups concern the person who asked; in private chats, the whole chat."""

from __future__ import annotations

from pathlib import Path

RULES = [{"name": "hello", "kinds": ["mention", "direct"], "priority": -1, "reply": "hi {{ name }}"}]


def settings(bundled: dict) -> dict:
    return {**bundled, "staff": {"network": "memory", "conversation": "staff"}, "admins": {"memory": ["boss"]}}


def staff_notices(bot) -> list[str]:
    return [r.text for r in bot.replies if r.conversation.id == "staff"]


async def group(bot, text: str, author: str) -> list[str]:
    await bot.receive("mention", f"@brand {text}", author=author, conversation="group")
    return [t for t in bot.take_sent() if not t.startswith("Handoff:")]


async def test_one_member_asking_for_a_person_does_not_silence_the_group(make_bot, bundled) -> None:
    bot = await make_bot(plugins=["handoff"], rules=RULES, config=settings(bundled))
    assert (await group(bot, "human please", "mallory"))[0].startswith("Of course, Mallory.")
    assert await group(bot, "hello", "ana") == ["hi Ana"]  # the group still gets answers
    assert await group(bot, "hello?", "mallory") == []  # the person who asked waits for the team
    for _ in range(5):  # asking again and again notifies the staff once
        assert await group(bot, "human", "mallory") == []
    notices = staff_notices(bot)
    assert len(notices) == 1, notices
    mallory = await bot.follower("mallory")
    assert f"/release memory:group@{mallory.id}" in notices[0]
    assert await group(bot, "and now?", "ana") == ["hi Ana"]


async def test_release_and_listing_of_a_person_handed_off_in_a_group(make_bot, bundled) -> None:
    bot = await make_bot(plugins=["handoff"], rules=RULES, config=settings(bundled))
    await group(bot, "agent", "mallory")
    mallory = await bot.follower("mallory")
    await bot.receive("command", "/handoffs", author="boss", conversation="staff", private=False)
    assert bot.take_sent()[0].startswith(f"memory:group@{mallory.id} until ")
    await bot.receive("command", f"/release memory:group@{mallory.id}", author="boss", conversation="staff",
                      private=False)
    assert bot.take_sent() == [f"Released memory:group@{mallory.id}: the bot answers there again."]
    assert await group(bot, "hello", "mallory") == ["hi Mallory"]
    # Releasing the group releases everyone handed off in it.
    await group(bot, "human", "mallory")
    await group(bot, "human", "ana")
    await bot.receive("command", "/release memory:group", author="boss", conversation="staff", private=False)
    assert bot.take_sent() == ["Released memory:group: the bot answers there again."]
    assert await group(bot, "hi", "mallory") == ["hi Mallory"]
    assert await group(bot, "hi", "ana") == ["hi Ana"]


async def test_a_person_handoff_survives_a_restart_and_times_out(make_bot, bundled, tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    bot = await make_bot(plugins=["handoff"], rules=RULES, config=settings(bundled), store_path=db)
    await group(bot, "human", "mallory")
    await bot.close()
    again = await make_bot(plugins=["handoff"], rules=RULES, config=settings(bundled), store_path=db)
    assert await group(again, "hello", "mallory") == []
    assert await group(again, "hello", "ana") == ["hi Ana"]
    await again.advance(2 * 3600 + 1)  # handoff.timeout: 2h
    assert await group(again, "hello", "mallory") == ["hi Mallory"]


async def test_a_private_handoff_still_hands_off_the_whole_chat(make_bot, bundled) -> None:
    bot = await make_bot(plugins=["handoff"], rules=RULES, config=settings(bundled))
    await bot.receive("direct", "human please", author="ana")
    assert bot.take_sent()[0].startswith("Of course, Ana.")
    await bot.receive("direct", "hello?", author="ana")
    await bot.receive("direct", "human", author="ana")  # again: no second notice
    assert bot.take_sent() == []
    assert len(staff_notices(bot)) == 1
    assert "/release memory:dm:ana " in staff_notices(bot)[0]
