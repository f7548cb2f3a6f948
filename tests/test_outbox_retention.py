"""storage.text_retention_days covers every stored copy of a person's words, the outbox included."""

from __future__ import annotations

from datetime import timedelta

from brandbot.core.records import OutboxEntry, OutboxStatus
from brandbot.store.sqlite import SqliteStore

RETENTION = {"storage": {"path": ":memory:", "text_retention_days": 30}}
RULES = [{"name": "echo", "kinds": ["direct", "mention"], "reply": "You said: {{ event.text }}"}]


async def test_maintenance_blanks_the_text_of_old_replies_in_the_outbox(make_bot) -> None:
    bot = await make_bot(rules=RULES, config=RETENTION, networks=("memory", "x"))
    await bot.receive("direct", "my secret plan", author="ana")
    await bot.receive("mention", "@brand my other secret", author="ana", network="x", addressed=False)  # refused
    await bot.advance(31 * 86400)
    await bot.receive("direct", "fresh words", author="ana")
    await bot.bot.maintain()
    await bot.bot.store.flush()
    ana = await bot.follower("ana")
    rows = {r.id: r for r in await bot.bot.store.outbox_for(ana.id)}
    old = [r for r in rows.values() if "fresh" not in r.text]
    assert [r.status for r in old] == [OutboxStatus.SENT]
    assert all(r.text == "" for r in old), [r.text for r in old]
    assert [r.text for r in rows.values() if r.text] == ["You said: fresh words"]
    x_ana = await bot.follower("ana", "x")
    refused = await bot.bot.store.outbox_for(x_ana.id)
    assert [(r.status, r.text) for r in refused] == [(OutboxStatus.REFUSED, "")]


async def test_prune_outbox_text_keeps_pending_rows_and_recent_ones(tmp_path) -> None:
    from datetime import UTC, datetime

    store = SqliteStore(str(tmp_path / "s.sqlite3"))
    await store.open()
    try:
        t0 = datetime(2024, 1, 1, tzinfo=UTC)

        def row(status: OutboxStatus, created: datetime, text: str) -> OutboxEntry:
            return OutboxEntry(id=store.next_outbox_id(), network="memory", conversation_id="c", conversation_private=False,
                               text=text,
                               created=created, next_try=created, status=status)

        old_sent = row(OutboxStatus.SENT, t0, "old sent")
        old_failed = row(OutboxStatus.FAILED, t0, "old failed")
        old_pending = row(OutboxStatus.PENDING, t0, "still to send")
        new_sent = row(OutboxStatus.SENT, t0 + timedelta(days=40), "new sent")
        for entry in (old_sent, old_failed, old_pending, new_sent):
            store.put_outbox(entry)
        assert await store.prune_outbox_text(t0 + timedelta(days=10)) == 2
        assert await store.prune_outbox_text(t0 + timedelta(days=10)) == 0
        texts = {e.id: e.text for e in await store.outbox_for(0)}
        assert texts == {old_sent.id: "", old_failed.id: "", old_pending.id: "still to send", new_sent.id: "new sent"}
    finally:
        await store.close()
