"""Outbox rows on PostgreSQL, and claims: one process sends a reply, never two.

``pending_outbox`` is the protocol's read (what a single process sends). When several
processes send, each takes rows with ``claim_outbox``: ``SELECT ... FOR UPDATE SKIP
LOCKED`` hands every pending row to one claimer, which holds it for ``claim_lease``
seconds (``renew_claims`` extends it, ``release_claims`` gives rows back). A claimer
that dies loses its rows when the lease ends, and another process sends them.
A store made with ``claim_new_outbox=True`` writes its new rows already claimed by itself
(it sends the replies it decided), so no other process takes them meanwhile.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from brandbot.core.records import OutboxEntry, OutboxStatus
from brandbot.store.overlay import overlay_outbox
from brandbot.store.postgres.connection import PgBase
from brandbot.store.postgres.rows import _OUTBOX_COLUMNS, _aware, _outbox_from, _outbox_row

_PENDING = OutboxStatus.PENDING.value
_O_COLUMNS = ", ".join(f"o.{c.strip()}" for c in _OUTBOX_COLUMNS.split(","))
_SQL_CLAIM = (
    "UPDATE outbox o SET claimed_by = $2, claimed_until = clock_timestamp() + $3 * interval '1 second' "
    "FROM (SELECT brand, id FROM outbox WHERE brand = $1 AND status = 'pending' "
    "AND ($5::text IS NULL OR network = $5) "
    "AND (claimed_until IS NULL OR claimed_until < clock_timestamp()) "
    "ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED) free "
    f"WHERE o.brand = free.brand AND o.id = free.id RETURNING {_O_COLUMNS}"
)


class PgOutboxMixin(PgBase):
    """The OutboxRows role, plus claims for several sending processes."""

    def next_outbox_id(self) -> int:
        """An outbox id from this process's reserved block (ids are never reused)."""
        self._acquire()  # raises unless open: ids are reserved at open
        return self._outbox_ids.take()

    def put_outbox(self, entry: OutboxEntry) -> None:
        """Buffered: insert or replace an outbox row (an update keeps the row's claim)."""
        if entry.follower_id in self._gone:
            follower_id = self._gone[entry.follower_id]
            if not follower_id:
                return
            entry = replace(entry, follower_id=follower_id)
        claim = self.owner if self.claim_new_outbox else ""
        row = (*_outbox_row(self._brand, entry), claim, self.claim_lease)
        self._note_write()
        self._outbox.put(entry.id, entry, row)

    async def pending_outbox(
        self, limit: int = 1000, *, network: str | None = None, after_id: int = 0
    ) -> list[OutboxEntry]:
        """Rows still PENDING with an id above ``after_id`` (of one network if given),
        oldest first, buffered ones included."""
        buffered = self._outbox.snapshot()
        rows = await self._fetch(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE brand = $1 AND status = 'pending' "
            "AND id > $2 AND ($3::text IS NULL OR network = $3) ORDER BY id LIMIT $4",
            self._brand, after_id, network, limit + len(buffered),
        )  # fmt: skip
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
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE brand = $1 AND follower_id = $2 "
            "ORDER BY id DESC LIMIT $3",
            self._brand, follower_id, limit + len(buffered),
        )  # fmt: skip
        return overlay_outbox(map(_outbox_from, rows), buffered,
                              lambda e: e.follower_id == follower_id, limit, newest_first=True)

    async def outbox_counts(self) -> dict[str, int]:
        """Rows per status (every status present, zero included)."""
        await self.flush()
        rows = await self._fetch(
            "SELECT status, COUNT(*) FROM outbox WHERE brand = $1 GROUP BY status", self._brand
        )
        counts = {status.value: 0 for status in OutboxStatus}
        counts.update({row[0]: int(row[1]) for row in rows})
        return counts

    async def prune_outbox_text(self, older_than: datetime) -> int:
        """Blank the text of sent, failed and refused rows created before ``older_than``."""
        return await self._maintain(
            "UPDATE outbox SET text = '' WHERE brand = $1 AND created < $2 AND status != $3 "
            "AND text != ''",
            _aware(older_than), _PENDING,
        )  # fmt: skip

    # --- claims (several sending processes) ----------------------------------------------

    async def claim_outbox(self, limit: int = 100, *, network: str | None = None) -> list[OutboxEntry]:
        """Take up to ``limit`` committed PENDING rows nobody holds, oldest first, for
        ``claim_lease`` seconds. Rows held by a live claimer are skipped, never waited for."""
        rows = await self._fetch(
            _SQL_CLAIM, self._brand, self.owner, self.claim_lease, limit, network
        )
        return sorted(map(_outbox_from, rows), key=lambda e: e.id)

    async def renew_claims(self) -> int:
        """Extend the lease of every pending row and job this process holds; returns rows."""
        renewed = 0
        for table, extra in (("outbox", " AND status = 'pending'"), ("jobs", "")):
            renewed += await self._maintain(
                f"UPDATE {table} SET claimed_until = clock_timestamp() + $3 * interval '1 second' "
                f"WHERE brand = $1 AND claimed_by = $2{extra}",
                self.owner, self.claim_lease,
            )  # fmt: skip
        return renewed

    async def release_claims(self) -> int:
        """Give back every pending row this process holds (on a clean stop): another
        process may send them at once instead of after the lease. Returns rows."""
        return await self._maintain(
            "UPDATE outbox SET claimed_by = '', claimed_until = NULL "
            "WHERE brand = $1 AND claimed_by = $2 AND status = 'pending'",
            self.owner,
        )
