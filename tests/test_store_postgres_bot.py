"""The whole Bot on the PostgreSQL store: people remembered, an event handled once across
a restart, and two bots sharing one database running a scheduled job once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from brandbot import Context, Plugin
from brandbot.store.postgres import PostgresStore

pytestmark = pytest.mark.postgres

GREETINGS = [
    {"name": "hello-new", "kinds": ["direct"], "priority": 10, "when": {"first_contact": True},
     "reply": "Welcome {{ name }}!"},
    {"name": "hello-again", "kinds": ["direct"], "priority": 5, "when": {"first_contact": False},
     "reply": "Welcome back {{ name }}, message {{ follower.interactions }}."},
]  # fmt: skip


async def test_a_bot_on_postgresql_remembers_people_and_handles_an_event_once(
    make_bot: Any, pg_url: str
) -> None:
    first = await make_bot(rules=GREETINGS, store=PostgresStore(pg_url))
    await first.receive("direct", "hi", author="ana", event_id="e1")
    await first.receive("direct", "hi", author="ana", event_id="e2")
    await first.receive("direct", "hi", author="ben", event_id="e3")
    assert first.sent == ["Welcome Ana!", "Welcome back Ana, message 2.", "Welcome Ben!"]
    ana = await first.follower("ana")
    assert ana.interactions == 2 and ana.points > 0
    await first.close()

    again = await make_bot(rules=GREETINGS, store=PostgresStore(pg_url))  # a restart
    replayed = await again.receive("direct", "hi", author="ana", event_id="e2")
    assert replayed.duplicate and again.sent == []
    await again.receive("direct", "hi", author="ana", event_id="e4")
    assert again.sent == ["Welcome back Ana, message 3."]
    assert (await again.follower("ana")).id == ana.id


async def test_two_bots_sharing_a_database_run_a_scheduled_job_once(
    make_bot: Any, pg_url: str
) -> None:
    ran: list[str] = []
    plugin = Plugin("reminders")

    @plugin.command("remind")
    async def remind(ctx: Context) -> None:
        ctx.schedule("ping", ctx.now + timedelta(minutes=1), {"who": ctx.event.author.id})
        await ctx.reply("I will remind you.")

    @plugin.job("ping")
    async def ping(ctx: Any) -> None:
        ran.append(ctx.payload["who"])

    one = await make_bot(plugins=[plugin], store=PostgresStore(pg_url, owner="one"))
    two = await make_bot(plugins=[plugin], store=PostgresStore(pg_url, owner="two"))
    await one.receive("command", "/remind", author="ana", event_id="c1")
    await two.receive("command", "/remind", author="ben", event_id="c2")
    assert one.sent == ["I will remind you."] and two.sent == ["I will remind you."]
    await asyncio.gather(one.advance(30), two.advance(30))
    assert ran == []
    for _ in range(3):  # both schedulers pass over the due jobs, several times
        await asyncio.gather(one.advance(60), two.advance(60))
    assert sorted(ran) == ["ana", "ben"]
    assert await one.bot.store.all_jobs() == []
