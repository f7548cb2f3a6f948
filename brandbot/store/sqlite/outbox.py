"""Outbox rows: replies are persisted before they are sent, and read back while pending."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import aiosqlite

from brandbot.core.records import OutboxEntry, OutboxStatus
from brandbot.store.overlay import overlay_outbox
from brandbot.store.sqlite.connection import SqliteBase
from brandbot.store.sqlite.rows import _OUTBOX_COLUMNS, _outbox_from, _outbox_row, _ts


class OutboxMixin(SqliteBase):
    """The OutboxRows role: ids without a round-trip, buffered rows, pending reads."""

    def next_outbox_id(self) -> int:
        """Allocate an outbox id without a round-trip (ids are never reused)."""
        self._connection()  # the counter is only meaningful once loaded
        self._last_outbox_id += 1
        return self._last_outbox_id

    def put_outbox(self, entry: OutboxEntry) -> None:
        """Buffered: insert or replace an outbox row."""
        if entry.follower_id in self._gone:
            follower_id = self._gone[entry.follower_id]
            if not follower_id:
                return
            entry = replace(entry, follower_id=follower_id)
        row = _outbox_row(entry)
        self._note_write()
        if entry.id > self._last_outbox_id:
            self._last_outbox_id = entry.id
        self._outbox.put(entry.id, entry, row)

    async def pending_outbox(
        self, limit: int = 1000, *, network: str | None = None, after_id: int = 0
    ) -> list[OutboxEntry]:
        """Rows still PENDING with an id above ``after_id`` (of one network if given),
        oldest (lowest id) first, buffered ones included."""
        buffered = self._outbox.snapshot()
        where = "status = ? AND id > ?" + (" AND network = ?" if network is not None else "")
        params: list[Any] = [OutboxStatus.PENDING.value, after_id]
        if network is not None:
            params.append(network)
        rows = await self._fetch(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE {where} ORDER BY id LIMIT ?",
            (*params, limit + len(buffered)),
        )
        return overlay_outbox(
            map(_outbox_from, rows), buffered,
            lambda e: e.status == OutboxStatus.PENDING and e.id > after_id
            and (network is None or e.network == network),
            limit,
        )

    async def outbox_for(self, follower_id: int, limit: int = 50) -> list[OutboxEntry]:
        """The follower's outbox rows, newest first, buffered ones included."""
        buffered = self._outbox.snapshot()
        rows = await self._fetch(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE follower_id = ? ORDER BY id DESC LIMIT ?",
            (follower_id, limit + len(buffered)),
        )
        return overlay_outbox(map(_outbox_from, rows), buffered,
                              lambda e: e.follower_id == follower_id, limit, newest_first=True)

    async def outbox_counts(self) -> dict[str, int]:
        """Rows per status (every status present, zero included)."""
        await self.flush()
        rows = await self._fetch("SELECT status, COUNT(*) FROM outbox GROUP BY status")
        counts = {status.value: 0 for status in OutboxStatus}
        counts.update(dict(rows))
        return counts

    async def prune_outbox_text(self, older_than: datetime) -> int:
        """Blank the text of sent, failed and refused rows created before ``older_than``
        (replies quote people); pending rows keep theirs until they are sent. Returns
        rows changed."""
        cutoff = _ts(older_than)

        async def work(conn: aiosqlite.Connection) -> int:
            cursor = await conn.execute(
                "UPDATE outbox SET text = '' WHERE created < ? AND status != ? AND text != ''",
                (cutoff, OutboxStatus.PENDING.value),
            )
            return cursor.rowcount

        async with self._lock:
            return await self._transaction(work, erase=True)
