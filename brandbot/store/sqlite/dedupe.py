"""Processed event ids: a Bloom filter answers "new" without a read; a hit is settled by one."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from brandbot.store.sqlite.connection import SqliteBase
from brandbot.store.sqlite.rows import _ts


class DedupeMixin(SqliteBase):
    """The Dedupe role: an event is handled once, even across restarts."""

    async def is_processed(self, network: str, event_id: str) -> bool:
        key = (network, event_id)
        if key in self._processed:
            return True
        if key not in self._processed_seen:
            return False
        return bool(
            self._read_now("SELECT 1 FROM processed WHERE network = ? AND event_id = ?", key)
        )

    def mark_processed(self, network: str, event_id: str, at: datetime) -> None:
        """Buffered."""
        key = (network, event_id)
        at_text = _ts(at)
        self._note_write()
        self._processed.put(key, at_text, (network, event_id, at_text))
        self._processed_seen.add(key)

    async def prune_processed(self, older_than: datetime) -> int:
        cutoff = _ts(older_than)

        async def work(conn: aiosqlite.Connection) -> int:
            cursor = await conn.execute("DELETE FROM processed WHERE at < ?", (cutoff,))
            return cursor.rowcount

        async with self._lock:
            deleted = await self._transaction(work)
            if self._processed_seen.full:  # pruned keys linger in the filter: refill it
                await self._fill_filter(self._processed_seen, "SELECT network, event_id FROM processed")
        return deleted
