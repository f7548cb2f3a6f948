"""Followers merged away or forgotten stay gone, whichever process still holds them.

A process redirects or drops its own late writes naming a merged or forgotten follower
(``_gone``, as the SQLite store does). Other processes sharing the database may hold
such writes in their buffers too (an event of the person in flight while an admin's
command elsewhere forgets them), so the database keeps the ids: ``gone_followers``
(brand, id, survivor), survivor 0 for forgotten. Numbers only, no personal data.

Every batch commit takes the brand's advisory lock in shared mode and, after its writes,
checks the follower ids it wrote against ``gone_followers`` in the same transaction:
rows naming a forgotten id are deleted, rows naming a merged id moved to the survivor.
Merge and forget take the lock exclusively, so no batch commits while they run and every
batch after them sees their ids: nothing a forget deleted can come back.
"""

from __future__ import annotations

from typing import Any

import asyncpg

#: pg_advisory_xact_lock(class, hashtext(brand)): the two-key space, apart from the
#: migrations' one-key lock.
_LOCK_CLASS = 0x6272
#: Tables whose rows name a follower in ``follower_id``.
_TIED = ("identities", "interactions", "outbox", "plugin_data")


async def lock_shared(conn: asyncpg.Connection, brand: str) -> None:
    """In a batch's transaction: merges and forgets of the brand wait until it commits."""
    await conn.execute("SELECT pg_advisory_xact_lock_shared($1, hashtext($2))", _LOCK_CLASS, brand)


async def lock_exclusive(conn: asyncpg.Connection, brand: str) -> None:
    """In a merge's or forget's transaction: batches of the brand wait until it commits."""
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _LOCK_CLASS, brand)


async def record_merge(conn: asyncpg.Connection, brand: str, keep_id: int, merge_id: int) -> None:
    await conn.execute(
        "INSERT INTO gone_followers (brand, id, survivor) VALUES ($1, $2, $3) "
        "ON CONFLICT (brand, id) DO UPDATE SET survivor = EXCLUDED.survivor",
        brand, merge_id, keep_id,
    )  # fmt: skip
    await conn.execute(
        "UPDATE gone_followers SET survivor = $3 WHERE brand = $1 AND survivor = $2",
        brand, merge_id, keep_id,
    )  # fmt: skip


async def record_forget(conn: asyncpg.Connection, brand: str, ids: list[int]) -> None:
    await conn.executemany(
        "INSERT INTO gone_followers (brand, id, survivor) VALUES ($1, $2, 0) "
        "ON CONFLICT (brand, id) DO UPDATE SET survivor = 0",
        [(brand, i) for i in ids],
    )
    await conn.execute(
        "UPDATE gone_followers SET survivor = 0 WHERE brand = $1 AND survivor = ANY($2::bigint[])",
        brand, ids,
    )  # fmt: skip


async def settle_late_writes(
    conn: asyncpg.Connection, brand: str, follower_ids: list[int]
) -> dict[int, int]:
    """Undo, in the batch's transaction, what it wrote for followers gone meanwhile.

    Returns {gone id: survivor or 0} for the ids found, so the caller redirects its
    later writes too. One indexed query when nothing is gone (the usual case).
    """
    if not follower_ids:
        return {}
    found: dict[int, int] = {
        row[0]: row[1]
        for row in await conn.fetch(
            "SELECT id, survivor FROM gone_followers WHERE brand = $1 AND id = ANY($2::bigint[])",
            brand, follower_ids,
        )
    }
    if not found:
        return found
    forgotten = [i for i, survivor in found.items() if not survivor]
    moved: list[tuple[Any, ...]] = [(brand, i, s) for i, s in found.items() if s]
    await conn.execute(
        "DELETE FROM followers WHERE brand = $1 AND id = ANY($2::bigint[])", brand, list(found)
    )
    for table in _TIED:
        if forgotten:
            await conn.execute(
                f"DELETE FROM {table} WHERE brand = $1 AND follower_id = ANY($2::bigint[])",
                brand, forgotten,
            )  # fmt: skip
        if moved:
            await conn.executemany(
                f"UPDATE {table} SET follower_id = $3 WHERE brand = $1 AND follower_id = $2",
                moved,
            )
    return found
