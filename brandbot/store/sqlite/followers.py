"""Followers and their identities: resolving a person, merges, unlinks and listings.

Followers and identities are cached in bounded LRU maps, and whether an identity may
exist is answered by a Bloom filter, so a new person needs no read at all and a known
one at most one indexed read. Ids are allocated from an in-memory counter started from
the database at open, so creating a follower never waits for the flusher.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import aiosqlite

from brandbot.core.errors import StoreError
from brandbot.core.events import Person
from brandbot.core.records import FollowerQuery, FollowerRecord, Identity
from brandbot.store.sqlite.batch import _SQL_UPSERT_FOLLOWER
from brandbot.store.sqlite.buffers import _MISSING
from brandbot.store.sqlite.connection import SqliteBase
from brandbot.store.sqlite.rows import (
    _FOLLOWER_COLUMNS,
    _FOLLOWER_NAMES,
    _IDENTITY_COLUMNS,
    _follower_from,
    _follower_row,
    _handle_key,
    _identity_from,
    _identity_row,
    _require_aware,
    _ts,
)

#: The row a buffered follower carries until its batch is taken (see ``put_follower``).
_ENCODED_AT_COMMIT: tuple[()] = ()

#: The columns ``list_followers`` may order by.
ORDER_COLUMNS = ("points", "last_seen", "first_seen", "interactions", "name")

#: A known person's identity and follower row in one read (the follower part is NULL
#: when the identity points at nobody).
_IDENTITY_NAMES = tuple(column.strip() for column in _IDENTITY_COLUMNS.split(","))
_SQL_PEOPLE_FROM = (
    "SELECT " + ", ".join(f"i.{c}" for c in _IDENTITY_NAMES)
    + ", " + ", ".join(f"f.{c}" for c in _FOLLOWER_NAMES)
    + " FROM identities AS i LEFT JOIN followers AS f ON f.id = i.follower_id"
)
_SQL_RESOLVE = _SQL_PEOPLE_FROM + " WHERE i.network = ? AND i.user_id = ?"


class FollowersMixin(SqliteBase):
    """The Followers role: people, their identities per network, merges and unlinks."""

    async def resolve(self, person: Person, now: datetime) -> tuple[FollowerRecord, bool]:
        """The follower behind ``person``; created with its identity if new."""
        key = (person.network, person.id)
        identity = self._cached_identity(key)
        stored: FollowerRecord | None = None  # the follower row read with the identity
        if identity is None and key in self._identity_seen:
            rows = self._read_now(_SQL_RESOLVE, key)
            if rows:
                row = rows[0]
                # The key's own strings, not the row's equal copies: the cached
                # identity and its key then hold one network and one user id.
                identity = Identity(
                    follower_id=row[0], network=key[0], user_id=key[1], handle=row[3], name=row[4]
                )
                self._identity_cache.put(key, identity)
                follower_part = rows[0][len(_IDENTITY_NAMES):]
                if follower_part[0] is not None:
                    stored = _follower_from(follower_part)
        if identity is not None:
            follower_id = self._redirect(identity.follower_id)
            follower = self._cached_follower(follower_id) if follower_id else None
            if follower is None and stored is not None and stored.id == follower_id:
                # Not buffered nor cached, so the row just read is the newest there is.
                follower = stored
                self._follower_cache.put(follower_id, follower)
            elif follower is None and follower_id:
                follower = await self.get_follower(follower_id)
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
            # The identity points at nobody: the person is new to us again, and the
            # identity row is re-pointed at the new follower below.
        self._last_follower_id += 1
        follower = FollowerRecord(
            id=self._last_follower_id, name=person.display, first_seen=now, last_seen=now
        )
        self.put_follower(follower)
        self._put_identity(
            Identity(
                follower_id=follower.id,
                network=person.network,
                user_id=person.id,
                handle=person.handle,
                name=person.name,
            )
        )
        return follower, True

    def _cached_identity(self, key: tuple[str, str]) -> Identity | None:
        buffered = self._identities.get(key)
        if buffered is not _MISSING:
            return buffered
        cached: Identity | None = self._identity_cache.get(key, None)
        return cached

    def _put_identity(self, identity: Identity) -> None:
        if identity.follower_id in self._gone:
            follower_id = self._gone[identity.follower_id]
            if not follower_id:
                return
            identity = replace(identity, follower_id=follower_id)
        row = _identity_row(identity)
        self._note_write()
        key = (identity.network, identity.user_id)
        self._identities.put(key, identity, row)
        self._identity_seen.add(key)

    def _cached_follower(self, follower_id: int) -> FollowerRecord | None:
        buffered = self._followers.get(follower_id)
        if buffered is not _MISSING:
            return buffered
        cached: FollowerRecord | None = self._follower_cache.get(follower_id, None)
        return cached

    async def get_follower(self, follower_id: int) -> FollowerRecord | None:
        follower = self._cached_follower(follower_id)
        if follower is not None:
            return follower
        if self._gone.get(follower_id, follower_id) != follower_id:
            return None
        rows = self._read_now(
            f"SELECT {_FOLLOWER_COLUMNS} FROM followers WHERE id = ?", (follower_id,)
        )
        if not rows:
            return None
        follower = _follower_from(rows[0])
        self._follower_cache.put(follower_id, follower)
        return follower

    async def find_follower(self, network: str, user_id_or_handle: str) -> FollowerRecord | None:
        """By network user id first, then by handle (case-insensitive, '@' optional)."""
        identity = self._cached_identity((network, user_id_or_handle))
        if identity is not None:
            return await self.get_follower(identity.follower_id)
        await self.flush()
        rows = await self._fetch(
            "SELECT follower_id FROM identities WHERE network = ? AND user_id = ?",
            (network, user_id_or_handle),
        )
        if not rows:
            handle_key = _handle_key(user_id_or_handle)
            if not handle_key:
                return None
            rows = await self._fetch(
                "SELECT follower_id FROM identities INDEXED BY identities_by_handle "
                "WHERE network = ? AND handle_key = ? "
                "ORDER BY follower_id LIMIT 1",
                (network, handle_key),
            )
        return await self.get_follower(rows[0][0]) if rows else None

    def put_follower(self, follower: FollowerRecord) -> None:
        """Buffered: replace the follower's row."""
        target = self._redirect(follower.id)
        if target != follower.id:
            # Merged away or forgotten: the surviving row already holds the merged state,
            # and a forgotten person must not come back through a late write.
            return
        # The row is encoded once, when its batch is taken (``_take_batch``): a person
        # written by several events of one batch (a newcomer: at resolve and after the
        # event) is encoded once, straight into the batch's parameters.
        _require_aware(follower.first_seen, follower.last_seen)
        self._note_write()
        if follower.id > self._last_follower_id:
            self._last_follower_id = follower.id
        self._followers.put(follower.id, follower, _ENCODED_AT_COMMIT)

    async def identities(self, follower_id: int) -> list[Identity]:
        buffered = self._identities.snapshot()
        rows = await self._fetch(
            f"SELECT {_IDENTITY_COLUMNS} FROM identities WHERE follower_id = ?", (follower_id,)
        )
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
        merged_row = _follower_row(merged)
        async with self._lock:
            # Writes naming merge_id from now on land on keep_id.
            previous = self._gone.get(merge_id)
            self._gone[merge_id] = keep_id
            try:
                moved_keys = await self._transaction(
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
        self._follower_cache.discard(merge_id)
        self._follower_cache.put(keep_id, merged)
        for key in moved_keys:
            identity: Identity | None = self._identity_cache.get(key, None)
            if identity is not None:
                self._identity_cache.put(key, replace(identity, follower_id=keep_id))

    async def _merge_in_db(
        self, conn: aiosqlite.Connection, keep_id: int, merge_id: int, merged_row: tuple[Any, ...]
    ) -> list[tuple[str, str]]:
        found = list(
            await conn.execute_fetchall(
                "SELECT id FROM followers WHERE id IN (?, ?)", (keep_id, merge_id)
            )
        )
        missing = {keep_id, merge_id} - {row[0] for row in found}
        if missing:
            raise StoreError(f"cannot merge: no follower with id {min(missing)}")
        moved = [
            (row[0], row[1])
            for row in await conn.execute_fetchall(
                "SELECT network, user_id FROM identities WHERE follower_id = ?", (merge_id,)
            )
        ]
        await conn.execute(_SQL_UPSERT_FOLLOWER, merged_row)
        for table in ("identities", "interactions", "outbox", "plugin_data"):
            # "!= 0" lets SQLite use plugin_data's partial index; ids are never 0.
            await conn.execute(
                f"UPDATE {table} SET follower_id = ? WHERE follower_id = ? AND follower_id != 0",
                (keep_id, merge_id),
            )
        await conn.execute("DELETE FROM followers WHERE id = ?", (merge_id,))
        now = _ts(datetime.now(UTC))
        await conn.execute(
            "INSERT INTO merges (time, kept_id, merged_id) VALUES (?, ?, ?)",
            (now, keep_id, merge_id),
        )
        await conn.execute(
            "INSERT INTO audit (time, text) VALUES (?, ?)", (now, "merged two followers")
        )
        return moved

    async def unlink_identity(self, network: str, user_id: str, now: datetime) -> FollowerRecord:
        """Detach one identity into a new follower of its own (history stays with the old)."""
        now_text = _ts(now)
        async with self._lock:
            new_id = self._last_follower_id + 1
            self._last_follower_id = new_id

            async def work(conn: aiosqlite.Connection) -> tuple[FollowerRecord, Identity]:
                rows = list(
                    await conn.execute_fetchall(
                        f"SELECT {_IDENTITY_COLUMNS} FROM identities "
                        "WHERE network = ? AND user_id = ?",
                        (network, user_id),
                    )
                )
                if not rows:
                    raise StoreError(f"no identity {network}:{user_id} to unlink")
                identity = _identity_from(rows[0])
                siblings = list(
                    await conn.execute_fetchall(
                        "SELECT COUNT(*) FROM identities WHERE follower_id = ?",
                        (identity.follower_id,),
                    )
                )
                if siblings[0][0] < 2:
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
                await conn.execute(_SQL_UPSERT_FOLLOWER, _follower_row(follower))
                await conn.execute(
                    "UPDATE identities SET follower_id = ? WHERE network = ? AND user_id = ?",
                    (new_id, network, user_id),
                )
                await conn.execute(
                    "INSERT INTO audit (time, text) VALUES (?, ?)",
                    (now_text, "unlinked an identity"),
                )
                return follower, replace(identity, follower_id=new_id)

            follower, identity = await self._transaction(work)
        self._follower_cache.put(follower.id, follower)
        self._identity_cache.put((network, user_id), identity)
        self._identity_seen.add((network, user_id))
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
        where: list[str] = []
        params: list[Any] = []
        if query.tier is not None:
            where.append("f.tier = ?")
            params.append(query.tier)
        if query.network is not None:
            where.append(
                "EXISTS (SELECT 1 FROM identities i WHERE i.follower_id = f.id AND i.network = ?)"
            )
            params.append(query.network)
        if query.tag is not None:
            where.append("EXISTS (SELECT 1 FROM json_each(f.tags) t WHERE t.value = ?)")
            params.append(query.tag)
        if query.seen_since is not None:
            where.append("f.last_seen >= ?")
            params.append(_ts(query.seen_since))
        direction = "DESC" if query.descending else "ASC"
        order = f"f.{query.order_by}" + (" COLLATE NOCASE" if query.order_by == "name" else "")
        sql = (
            f"SELECT {', '.join('f.' + column for column in _FOLLOWER_NAMES)} "
            f"FROM followers f {'WHERE ' + ' AND '.join(where) if where else ''} "
            f"ORDER BY {order} {direction}, f.id {direction} LIMIT ? OFFSET ?"
        )
        await self.flush()
        rows = await self._fetch(sql, [*params, query.limit, query.offset])
        return [_follower_from(row) for row in rows]

    async def count_followers(self) -> int:
        await self.flush()
        return await self._count_rows("followers")
