"""Interaction history: buffered appends, reads that include the buffered rows, pruning."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from brandbot.core.records import Direction, Interaction
from brandbot.store.sqlite.connection import SqliteBase
from brandbot.store.sqlite.rows import _INTERACTION_COLUMNS, _interaction_from, _ts


class HistoryMixin(SqliteBase):
    """The History role: what each follower said and was told."""

    def add_interaction(self, interaction: Interaction) -> None:
        """Buffered: append one history row (its id is allocated here if it is 0)."""
        follower_id = interaction.follower_id
        if follower_id in self._gone:
            follower_id = self._gone[follower_id]
            if not follower_id:
                return
        interaction_id = interaction.id
        if not interaction_id:
            interaction_id = self._last_interaction_id + 1
        row = (
            interaction_id, follower_id, _ts(interaction.time),
            Direction(interaction.direction).value, interaction.kind, interaction.network,
            interaction.conversation_id, interaction.event_id, interaction.text,
            interaction.source, interaction.points,
        )  # fmt: skip
        self._note_write()
        if interaction_id > self._last_interaction_id:
            self._last_interaction_id = interaction_id
        self._interactions.add(follower_id, interaction_id, interaction, row)

    async def recent_interactions(self, follower_id: int, limit: int = 20) -> list[Interaction]:
        """Newest first, buffered rows included."""
        buffered = self._interactions.of(follower_id)
        rows = self._read_now(  # an index range of ``limit`` rows: fast enough to do inline
            f"SELECT {_INTERACTION_COLUMNS} FROM interactions WHERE follower_id = ? "
            "ORDER BY id DESC LIMIT ?",
            (follower_id, limit),
        )
        found = {row[0]: _interaction_from(row) for row in rows}
        found.update(buffered)
        return sorted(found.values(), key=lambda i: i.id, reverse=True)[:limit]

    async def all_interactions(self, follower_id: int) -> list[Interaction]:
        """Oldest first, buffered rows included."""
        buffered = self._interactions.of(follower_id)
        rows = await self._fetch(
            f"SELECT {_INTERACTION_COLUMNS} FROM interactions WHERE follower_id = ? ORDER BY id",
            (follower_id,),
        )
        found = {row[0]: _interaction_from(row) for row in rows}
        found.update(buffered)
        return sorted(found.values(), key=lambda i: i.id)

    async def prune_text(self, older_than: datetime) -> int:
        """Blank the text of interactions older than ``older_than``; returns rows changed."""
        cutoff = _ts(older_than)

        async def work(conn: aiosqlite.Connection) -> int:
            cursor = await conn.execute(
                "UPDATE interactions SET text = '' WHERE time < ? AND text != ''", (cutoff,)
            )
            return cursor.rowcount

        async with self._lock:
            return await self._transaction(work, erase=True)
