"""Privacy: exporting everything held on a person, and forgetting them for good.

A forget deletes every row naming the person, including once-keys, plugin-data keys and
job names that carry their ``f<id>`` segment, then checkpoints the WAL so that deleted
rows leave the files too. Late writes naming a forgotten follower are dropped, so a
forgotten person cannot come back.
"""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import datetime

import aiosqlite

from brandbot.core.records import FollowerExport
from brandbot.store.sqlite.followers import FollowersMixin
from brandbot.store.sqlite.rows import (
    _INTERACTION_COLUMNS,
    _OUTBOX_COLUMNS,
    _dt,
    _interaction_from,
    _names_person,
    _outbox_from,
    _ts,
    person_segment,
)


class PrivacyMixin(FollowersMixin):
    """The Privacy role; built on followers, since an export reads the person and their identities."""

    async def export_follower(self, follower_id: int) -> FollowerExport | None:
        """Everything held on one person, for a GDPR export."""
        await self.flush()
        follower = await self.get_follower(follower_id)
        if follower is None:
            return None
        interactions = await self._fetch(
            f"SELECT {_INTERACTION_COLUMNS} FROM interactions WHERE follower_id = ? ORDER BY id",
            (follower_id,),
        )
        outbox = await self._fetch(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE follower_id = ? ORDER BY id",
            (follower_id,),
        )
        plugin_data = await self._fetch(
            "SELECT namespace, key, value FROM plugin_data WHERE follower_id = ? "
            "AND follower_id != 0 ORDER BY namespace, key",
            (follower_id,),
        )
        return FollowerExport(
            follower=follower,
            identities=tuple(await self.identities(follower_id)),
            interactions=tuple(map(_interaction_from, interactions)),
            outbox=tuple(map(_outbox_from, outbox)),
            plugin_data=tuple((ns, key, value) for ns, key, value in plugin_data),
        )

    async def forget_follower(self, follower_id: int, now: datetime) -> bool:
        """Delete every row naming the person in every table; keep one anonymous audit row."""
        now_text = _ts(now)
        async with self._lock:
            previous = self._gone.get(follower_id)
            self._gone[follower_id] = 0  # writes arriving from now on are dropped
            try:
                result = await self._transaction(
                    lambda conn: self._forget_in_db(conn, follower_id, now_text), erase=True
                )
            except BaseException:
                self._restore_gone(follower_id, previous)
                raise
            if result is None:
                self._restore_gone(follower_id, previous)
                return False
            ids, identity_keys = result
            await self._scrub_files()
        for gone_id in ids:
            self._gone[gone_id] = 0
            self._follower_cache.discard(gone_id)
        for old, new in list(self._gone.items()):
            if new in ids:
                self._gone[old] = 0
        for key in identity_keys:
            self._identity_cache.discard(key)
        segments = {person_segment(i) for i in ids}
        for name in [n for n in self._jobs if _names_person(n, segments)]:
            del self._jobs[name]
        self._kv_cache.clear()  # cheaper than tracking which cached data named them
        return True

    def _restore_gone(self, follower_id: int, previous: int | None) -> None:
        if previous is None:
            self._gone.pop(follower_id, None)
        else:
            self._gone[follower_id] = previous

    async def _forget_in_db(
        self, conn: aiosqlite.Connection, follower_id: int, now_text: str
    ) -> tuple[set[int], list[tuple[str, str]]] | None:
        exists = list(
            await conn.execute_fetchall("SELECT 1 FROM followers WHERE id = ?", (follower_id,))
        )
        if not exists:
            return None
        # The person may have absorbed others by merges: their old ids name them too.
        ids = {follower_id}
        frontier = [follower_id]
        while frontier:
            current = frontier.pop()
            for (merged_id,) in await conn.execute_fetchall(
                "SELECT merged_id FROM merges WHERE kept_id = ?", (current,)
            ):
                if merged_id not in ids:
                    ids.add(merged_id)
                    frontier.append(merged_id)
        identities = [
            (row[0], row[1])
            for row in await conn.execute_fetchall(
                "SELECT network, user_id FROM identities WHERE follower_id = ?", (follower_id,)
            )
        ]
        for network, user_id in identities:
            await conn.execute(
                "DELETE FROM outbox WHERE network = ? AND (recipient_id = ? OR "
                "(conversation_private = 1 AND conversation_id = ?))",
                (network, user_id, user_id),
            )
        for gone_id in ids:
            segment = f":{person_segment(gone_id)}:"
            for sql in (
                "DELETE FROM interactions WHERE follower_id = ?",
                "DELETE FROM outbox WHERE follower_id = ?",
                "DELETE FROM plugin_data WHERE follower_id = ? AND follower_id != 0",
                "DELETE FROM identities WHERE follower_id = ?",
                "DELETE FROM merges WHERE kept_id = ?1 OR merged_id = ?1",
                "DELETE FROM followers WHERE id = ?",
            ):
                await conn.execute(sql, (gone_id,))
            for sql in (
                "DELETE FROM once_keys WHERE instr(':' || key || ':', ?) > 0",
                "DELETE FROM plugin_data WHERE instr(':' || key || ':', ?) > 0",
                "DELETE FROM jobs WHERE instr(':' || name || ':', ?) > 0",
            ):
                await conn.execute(sql, (segment,))
        await conn.execute(
            "INSERT INTO audit (time, text) VALUES (?, ?)", (now_text, "forgot a follower")
        )
        return ids, identities

    async def _scrub_files(self) -> None:
        """Move the WAL into the database and empty it, so deleted rows leave the WAL file."""
        if self._path == ":memory:":
            return
        with contextlib.suppress(sqlite3.Error):
            await self._connection().execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)")

    async def audit(self, limit: int = 100) -> list[tuple[datetime, str]]:
        """Newest first."""
        rows = await self._fetch("SELECT time, text FROM audit ORDER BY id DESC LIMIT ?", (limit,))
        return [(_dt(time), text) for time, text in rows]
