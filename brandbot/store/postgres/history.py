"""Interaction history and processed event ids: buffered appends, reads that include them."""

from __future__ import annotations

from datetime import datetime

from brandbot.core.records import Interaction
from brandbot.store.postgres.connection import PgBase
from brandbot.store.postgres.rows import (
    _INTERACTION_COLUMNS,
    _aware,
    _interaction_from,
    _interaction_row,
)


class PgHistoryMixin(PgBase):
    """The History role: what each follower said and was told."""

    def add_interaction(self, interaction: Interaction) -> None:
        """Buffered: append one history row (its id is taken from the reserved block if 0)."""
        follower_id = interaction.follower_id
        if follower_id in self._gone:
            follower_id = self._gone[follower_id]
            if not follower_id:
                return
        interaction_id = interaction.id or self._interaction_ids.take()
        row = _interaction_row(self._brand, interaction_id, follower_id, interaction)
        self._note_write()
        self._interactions.add(follower_id, interaction_id, interaction, row)

    async def recent_interactions(self, follower_id: int, limit: int = 20) -> list[Interaction]:
        """Newest first, buffered rows included."""
        buffered = self._interactions.of(follower_id)
        rows = await self._fetch(
            f"SELECT {_INTERACTION_COLUMNS} FROM interactions WHERE brand = $1 "
            "AND follower_id = $2 ORDER BY id DESC LIMIT $3",
            self._brand, follower_id, limit,
        )  # fmt: skip
        found = {row[0]: _interaction_from(row) for row in rows}
        found.update(buffered)
        return sorted(found.values(), key=lambda i: i.id, reverse=True)[:limit]

    async def all_interactions(self, follower_id: int) -> list[Interaction]:
        """Oldest first, buffered rows included."""
        buffered = self._interactions.of(follower_id)
        rows = await self._fetch(
            f"SELECT {_INTERACTION_COLUMNS} FROM interactions WHERE brand = $1 "
            "AND follower_id = $2 ORDER BY id",
            self._brand, follower_id,
        )  # fmt: skip
        found = {row[0]: _interaction_from(row) for row in rows}
        found.update(buffered)
        return sorted(found.values(), key=lambda i: i.id)

    async def prune_text(self, older_than: datetime) -> int:
        """Blank the text of interactions older than ``older_than``; returns rows changed."""
        return await self._maintain(
            "UPDATE interactions SET text = '' WHERE brand = $1 AND time < $2 AND text != ''",
            _aware(older_than),
        )

    # --- the Dedupe role --------------------------------------------------------------------

    async def is_processed(self, network: str, event_id: str) -> bool:
        key = (network, event_id)
        if key in self._processed:
            return True
        return bool(
            await self._fetch(
                "SELECT 1 FROM processed WHERE brand = $1 AND network = $2 AND event_id = $3",
                self._brand, network, event_id,
            )
        )

    def mark_processed(self, network: str, event_id: str, at: datetime) -> None:
        """Buffered."""
        row = (self._brand, network, event_id, _aware(at))
        self._note_write()
        self._processed.put((network, event_id), "", row)

    async def prune_processed(self, older_than: datetime) -> int:
        return await self._maintain(
            "DELETE FROM processed WHERE brand = $1 AND at < $2", _aware(older_than)
        )
