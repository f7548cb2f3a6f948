"""Followers and their identities on PostgreSQL: resolving, merges, unlinks, listings.

Unlike the SQLite store there is no follower cache: several processes write the same
database, so a cached row could be stale. A known person costs one indexed read (identity
joined with follower); a buffered one none. Ids come from reserved sequence blocks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import asyncpg

from brandbot.core.errors import StoreError
from brandbot.core.events import Person
from brandbot.core.records import FollowerQuery, FollowerRecord, Identity
from brandbot.store.postgres import gone
from brandbot.store.postgres.batch import SQL_UPSERT_FOLLOWER
from brandbot.store.postgres.connection import PgBase
from brandbot.store.postgres.rows import (
    _FOLLOWER_NAMES,
    _IDENTITY_COLUMNS,
    _aware,
    _follower_from,
    _follower_row,
    _identity_from,
    _identity_row,
)
from brandbot.store.sqlite.buffers import _MISSING
from brandbot.store.sqlite.followers import ORDER_COLUMNS
from brandbot.store.sqlite.rows import _handle_key

_F_COLUMNS = ", ".join(f"f.{c}" for c in _FOLLOWER_NAMES)
_SQL_RESOLVE = (
    f"SELECT i.follower_id, i.handle, i.name, {_F_COLUMNS} FROM identities i "
    "LEFT JOIN followers f ON f.brand = i.brand AND f.id = i.follower_id "
    "WHERE i.brand = $1 AND i.network = $2 AND i.user_id = $3"
)
_SQL_FOLLOWER = f"SELECT {', '.join(_FOLLOWER_NAMES)} FROM followers WHERE brand = $1 AND id = $2"


class PgFollowersMixin(PgBase):
    """The Followers role: people, their identities per network, merges and unlinks."""

    #: Resolves reading the database, per (network, user id): a second one waits.
    _resolving: dict[tuple[str, str], asyncio.Future[None]]

    async def resolve(self, person: Person, now: datetime) -> tuple[FollowerRecord, bool]:
        """The follower behind ``person``; created with its identity if new.

        Two resolves of one person at once make one follower: the second waits for the
        first (which has buffered the new rows by then) instead of reading the database.
        """
        key = (person.network, person.id)
        while (running := self._resolving.get(key)) is not None:
            await asyncio.wait([running])
        if key in self._identities:
            return await self._resolve(person, now, key)
        task = asyncio.get_running_loop().create_future()
        self._resolving[key] = task
        try:
            return await self._resolve(person, now, key)
        finally:
            del self._resolving[key]
            task.set_result(None)

    async def _resolve(
        self, person: Person, now: datetime, key: tuple[str, str]
    ) -> tuple[FollowerRecord, bool]:
        buffered_identity = self._identities.get(key)
        identity: Identity | None = None
        follower: FollowerRecord | None = None
        if buffered_identity is not _MISSING:
            identity = buffered_identity
        else:
            row = await self._fetch(_SQL_RESOLVE, self._brand, *key)
            if row:
                r = row[0]
                identity = Identity(r[0], person.network, person.id, r[1], r[2])
                if r[3] is not None:
                    follower = _follower_from(r[3:])
        if identity is not None:
            follower_id = self._redirect(identity.follower_id)
            buffered = self._followers.get(follower_id) if follower_id else None
            if buffered is not None and buffered is not _MISSING:
                follower = buffered
            elif follower is None or follower.id != follower_id:
                follower = await self.get_follower(follower_id) if follower_id else None
            if follower is not None:
                handle = person.handle or identity.handle
                name = person.name or identity.name
                if (
                    handle != identity.handle
                    or name != identity.name
                    or follower_id != identity.follower_id
                ):
                    self._put_identity(
                        replace(identity, follower_id=follower_id, handle=handle, name=name)
                    )
                return follower, False
        follower = FollowerRecord(
            id=self._follower_ids.take(), name=person.display, first_seen=now, last_seen=now
        )
        self.put_follower(follower)
        self._put_identity(
            Identity(follower.id, person.network, person.id, person.handle, person.name)
        )
        return follower, True

    def _put_identity(self, identity: Identity) -> None:
        if identity.follower_id in self._gone:
            follower_id = self._gone[identity.follower_id]
            if not follower_id:
                return
            identity = replace(identity, follower_id=follower_id)
        row = _identity_row(self._brand, identity)
        self._note_write()
        self._identities.put((identity.network, identity.user_id), identity, row)

    async def prefetch_people(self, people: Iterable[Person]) -> int:
        """Reads nothing ahead, by design: returns 0.

        Workers share this database, and one follower known on two networks is in two
        partitions, so two workers may handle them at once. A row read before its event
        is handled could miss the other worker's commit in between; ``resolve`` reads it
        when the event is handled instead, one read per event, as before.
        """
        return 0

    async def get_follower(self, follower_id: int) -> FollowerRecord | None:
        buffered = self._followers.get(follower_id)
        if buffered is not _MISSING:
            return buffered
        if self._gone.get(follower_id, follower_id) != follower_id:
            return None
        rows = await self._fetch(_SQL_FOLLOWER, self._brand, follower_id)
        return _follower_from(rows[0]) if rows else None

    async def find_follower(self, network: str, user_id_or_handle: str) -> FollowerRecord | None:
        """By network user id first, then by handle (case-insensitive, '@' optional)."""
        identity = self._identities.get((network, user_id_or_handle))
        if identity is not _MISSING:
            return await self.get_follower(identity.follower_id)
        await self.flush()
        rows = await self._fetch(
            "SELECT follower_id FROM identities WHERE brand = $1 AND network = $2 AND user_id = $3",
            self._brand, network, user_id_or_handle,
        )  # fmt: skip
        if not rows:
            handle_key = _handle_key(user_id_or_handle)
            if not handle_key:
                return None
            rows = await self._fetch(
                "SELECT follower_id FROM identities WHERE brand = $1 AND network = $2 "
                "AND handle_key = $3 ORDER BY follower_id LIMIT 1",
                self._brand, network, handle_key,
            )  # fmt: skip
        return await self.get_follower(rows[0][0]) if rows else None

    def put_follower(self, follower: FollowerRecord) -> None:
        """Buffered: replace the follower's row."""
        if self._redirect(follower.id) != follower.id:
            return  # merged away or forgotten: a late write must not bring it back
        row = _follower_row(self._brand, follower)
        self._note_write()
        self._followers.put(follower.id, follower, row)

    async def identities(self, follower_id: int) -> list[Identity]:
        buffered = self._identities.snapshot()
        rows = await self._fetch(
            f"SELECT {_IDENTITY_COLUMNS} FROM identities WHERE brand = $1 AND follower_id = $2",
            self._brand, follower_id,
        )  # fmt: skip
        found = {(i.network, i.user_id): i for i in map(_identity_from, rows)}
        for key, identity in buffered.items():
            if identity.follower_id == follower_id:
                found[key] = identity
            else:
                found.pop(key, None)
        return sorted(found.values(), key=lambda i: (i.network, i.user_id))

    async def merge_followers(self, keep_id: int, merge_id: int, merged: FollowerRecord) -> None:
        """Move everything of ``merge_id`` to ``keep_id``, store ``merged``, delete ``merge_id``."""
        if keep_id == merge_id:
            raise ValueError(f"cannot merge follower {keep_id} with itself")
        if merged.id != keep_id:
            raise ValueError(
                f"the merged record must carry the surviving id {keep_id}, not {merged.id}"
            )
        merged_row = _follower_row(self._brand, merged)
        async with self._lock:
            previous = self._gone.get(merge_id)
            self._gone[merge_id] = keep_id  # writes naming merge_id from now on land on keep_id
            try:
                await self._transaction(
                    lambda conn: self._merge_in_db(conn, keep_id, merge_id, merged_row)
                )
            except BaseException:
                if previous is None:
                    self._gone.pop(merge_id, None)
                else:
                    self._gone[merge_id] = previous
                raise
        for old, new in list(self._gone.items()):
            if new == merge_id:
                self._gone[old] = keep_id

    async def _merge_in_db(
        self, conn: asyncpg.Connection, keep_id: int, merge_id: int, merged_row: tuple[Any, ...]
    ) -> None:
        b = self._brand
        await gone.lock_exclusive(conn, b)  # no batch of any process commits meanwhile
        found = await conn.fetch(
            "SELECT id FROM followers WHERE brand = $1 AND id = ANY($2::bigint[]) FOR UPDATE",
            b, [keep_id, merge_id],
        )  # fmt: skip
        missing = {keep_id, merge_id} - {row[0] for row in found}
        if missing:
            raise StoreError(f"cannot merge: no follower with id {min(missing)}")
        await conn.execute(SQL_UPSERT_FOLLOWER, *merged_row)
        for table in ("identities", "interactions", "outbox", "plugin_data"):
            await conn.execute(
                f"UPDATE {table} SET follower_id = $2 WHERE brand = $1 AND follower_id = $3",
                b, keep_id, merge_id,
            )  # fmt: skip
        await conn.execute("DELETE FROM followers WHERE brand = $1 AND id = $2", b, merge_id)
        now = datetime.now(UTC)
        await conn.execute(
            "INSERT INTO merges (brand, time, kept_id, merged_id) VALUES ($1, $2, $3, $4)",
            b, now, keep_id, merge_id,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO audit (brand, time, text) VALUES ($1, $2, $3)",
            b, now, "merged two followers",
        )  # fmt: skip
        await gone.record_merge(conn, b, keep_id, merge_id)

    async def unlink_identity(self, network: str, user_id: str, now: datetime) -> FollowerRecord:
        """Detach one identity into a new follower of its own (history stays with the old)."""
        _aware(now)
        b = self._brand
        async with self._lock:
            new_id = self._follower_ids.take()

            async def work(conn: asyncpg.Connection) -> tuple[FollowerRecord, Identity]:
                rows = await conn.fetch(
                    f"SELECT {_IDENTITY_COLUMNS} FROM identities "
                    "WHERE brand = $1 AND network = $2 AND user_id = $3 FOR UPDATE",
                    b, network, user_id,
                )  # fmt: skip
                if not rows:
                    raise StoreError(f"no identity {network}:{user_id} to unlink")
                identity = _identity_from(rows[0])
                siblings = await conn.fetchval(
                    "SELECT COUNT(*) FROM identities WHERE brand = $1 AND follower_id = $2",
                    b, identity.follower_id,
                )  # fmt: skip
                if siblings < 2:
                    raise StoreError(
                        f"{network}:{user_id} is the only identity of follower "
                        f"{identity.follower_id}; there is nothing to unlink it from"
                    )
                follower = FollowerRecord(
                    id=new_id,
                    name=identity.name or identity.handle or identity.user_id,
                    first_seen=now,
                    last_seen=now,
                )
                await conn.execute(SQL_UPSERT_FOLLOWER, *_follower_row(b, follower))
                await conn.execute(
                    "UPDATE identities SET follower_id = $4 "
                    "WHERE brand = $1 AND network = $2 AND user_id = $3",
                    b, network, user_id, new_id,
                )  # fmt: skip
                await conn.execute(
                    "INSERT INTO audit (brand, time, text) VALUES ($1, $2, $3)",
                    b, now, "unlinked an identity",
                )  # fmt: skip
                return follower, replace(identity, follower_id=new_id)

            follower, _ = await self._transaction(work)
        buffered = self._identities.get((network, user_id))
        if buffered is not _MISSING and buffered.follower_id != follower.id:
            # A handle update made while we worked must not point the identity back.
            self._put_identity(replace(buffered, follower_id=follower.id))
        return follower

    async def list_followers(self, query: FollowerQuery) -> list[FollowerRecord]:
        if query.order_by not in ORDER_COLUMNS:
            raise ValueError(
                f"cannot order followers by {query.order_by!r}; "
                f"choose one of: {', '.join(ORDER_COLUMNS)}"
            )
        if query.limit < 0 or query.offset < 0:
            raise ValueError("limit and offset must not be negative")
        params: list[Any] = [self._brand]
        where = ["f.brand = $1"]

        def param(value: Any) -> str:
            params.append(value)
            return f"${len(params)}"

        if query.tier is not None:
            where.append(f"f.tier = {param(query.tier)}")
        if query.network is not None:
            where.append(
                "EXISTS (SELECT 1 FROM identities i WHERE i.brand = f.brand "
                f"AND i.follower_id = f.id AND i.network = {param(query.network)})"
            )
        if query.tag is not None:
            where.append(f"f.tags ? {param(query.tag)}")
        if query.seen_since is not None:
            where.append(f"f.last_seen >= {param(_aware(query.seen_since))}")
        direction = "DESC" if query.descending else "ASC"
        order = "lower(f.name)" if query.order_by == "name" else f"f.{query.order_by}"
        sql = (
            f"SELECT {_F_COLUMNS} FROM followers f WHERE {' AND '.join(where)} "
            f"ORDER BY {order} {direction}, f.id {direction} "
            f"LIMIT {param(query.limit)} OFFSET {param(query.offset)}"
        )
        await self.flush()
        return [_follower_from(row) for row in await self._fetch(sql, *params)]

    async def count_followers(self) -> int:
        await self.flush()
        return int(
            await self._fetchval("SELECT COUNT(*) FROM followers WHERE brand = $1", self._brand)
        )
