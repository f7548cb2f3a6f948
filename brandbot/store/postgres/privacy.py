"""Privacy on PostgreSQL: exporting everything held on a person, and forgetting them.

The same rules as the SQLite store (``brandbot.store.sqlite.privacy``), read from this
database's own catalog: a ``follower_id`` column (or one declared in ``PERSON_COLUMNS`` /
``SEGMENT_COLUMNS``) ties a row to a person, and every other table must be declared in
:data:`TABLES_WITHOUT_PERSON`. A forget deletes the person's rows of this brand, then
rewrites or deletes what still mentions them in free text.

What PostgreSQL does not give: SQLite's zeroing of freed pages. Deleted rows are dead
tuples until VACUUM reuses their space, and WAL segments keep them until recycled;
docs/scaling.md says so (encrypt the volume, keep WAL archives short).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg

from brandbot.core.errors import StoreError
from brandbot.core.records import FollowerExport
from brandbot.store.postgres import gone
from brandbot.store.postgres.batch import Batch
from brandbot.store.postgres.followers import PgFollowersMixin
from brandbot.store.postgres.rows import (
    _INTERACTION_COLUMNS,
    _OUTBOX_COLUMNS,
    _aware,
    _interaction_from,
    _outbox_from,
)
from brandbot.store.sqlite.privacy import (
    _LATE_TABLES,
    DELETE_UNTIED_MENTIONS,
    LATE_WRITES_SECONDS,
    NOT_SWEPT,
    PERSON_COLUMNS,
    SEGMENT_COLUMNS,
    _Mentions,
    _redacted_row,
)
from brandbot.store.sqlite.rows import person_segment

#: Tables that hold nothing tied to a person, and why (see the SQLite store's list).
TABLES_WITHOUT_PERSON: Mapping[str, str] = {
    "processed": "network and event ids of handled events (no person), pruned after days",
    "cursors": "how far each network's feed was read",
    "audit": "anonymous lines ('forgot a follower'); mentions are still swept",
    "schema_version": "the migrations applied",
    "gone_followers": "bare ids of followers merged away or forgotten, so that late writes of "
    "other processes cannot bring them back (numbers only)",
}
_TEXT_TYPES = frozenset({"text", "character varying", "character"})


async def _catalog(conn: asyncpg.Connection) -> dict[str, list[tuple[str, str]]]:
    """Every table of the schema: its (column, type) pairs in order."""
    rows = await conn.fetch(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
    )
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        tables.setdefault(table, []).append((column, data_type))
    return tables


def person_ties(catalog: Mapping[str, list[tuple[str, str]]]) -> dict[str, tuple[str, ...]]:
    """Each table and the columns that tie its rows to a person."""
    tables: dict[str, tuple[str, ...]] = {}
    for table, columns in catalog.items():
        names = [c for c, _ in columns]
        ties = [c for c in names if c == "follower_id"]
        declared = (*PERSON_COLUMNS.get(table, ()), *SEGMENT_COLUMNS.get(table, ()))
        ties += [c for c in declared if c in names]
        tables[table] = tuple(dict.fromkeys(ties))
    return tables


async def _checked_ties(conn: asyncpg.Connection) -> tuple[dict[str, tuple[str, ...]], dict[str, list[tuple[str, str]]]]:
    catalog = await _catalog(conn)
    ties = person_ties(catalog)
    undeclared = sorted(t for t, c in ties.items() if not c and t not in TABLES_WITHOUT_PERSON)
    if undeclared:
        raise StoreError(
            f"table(s) {', '.join(undeclared)} have no person column and are not declared in "
            "TABLES_WITHOUT_PERSON (brandbot/store/postgres/privacy.py): forget and export "
            "cannot know whether they hold people; declare them, or give them a follower_id"
        )
    return ties, catalog


def _ties_clause(
    table: str, ties: tuple[str, ...], ids: list[int], segments: list[str]
) -> tuple[str, list[Any]]:
    """The rows of ``table`` tied to ``ids``: an id column holds one, or a key column has
    one's ``:f<id>:`` segment. Parameters start at ``$2`` (``$1`` is the brand)."""
    keyed = SEGMENT_COLUMNS.get(table, ())
    params: list[Any] = []
    parts = []
    for c in ties:
        if c in keyed:
            params.append(segments)
            parts.append(
                f"""EXISTS (SELECT 1 FROM unnest(${len(params) + 1}::text[]) s """
                f"""WHERE strpos(':' || "{c}" || ':', s) > 0)"""
            )
        else:
            params.append(ids)
            parts.append(f'"{c}" = ANY(${len(params) + 1}::bigint[])')
    return "(" + " OR ".join(parts) + ")", params


async def _sweep_mentions(
    conn: asyncpg.Connection, brand: str, catalog: Mapping[str, list[tuple[str, str]]],
    mentions: _Mentions,
) -> None:
    """Delete or rewrite what still mentions the person after their rows are gone."""
    if not mentions.words:
        return
    patterns = [
        "%" + w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        for w in mentions.words
    ]
    for table, columns in catalog.items():
        if table in NOT_SWEPT or "brand" not in {c for c, _ in columns}:
            continue
        keys = set(await conn.fetch(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = $1::regclass AND i.indisprimary",
            table,
        ))  # fmt: skip
        key_names = {row[0] for row in keys}
        untied = DELETE_UNTIED_MENTIONS.get(table)
        extra = f', "{untied}"' if untied else ""
        for column, data_type in columns:
            if data_type not in _TEXT_TYPES or column == "brand":
                continue
            found = await conn.fetch(
                f'SELECT ctid, "{column}"{extra} FROM "{table}" '
                f'WHERE brand = $1 AND "{column}" ILIKE ANY($2::text[])',
                brand, patterns,
            )  # fmt: skip
            for row in found:
                if not mentions.found(row[1]):
                    continue
                if column in key_names or (untied and not row[2]):
                    await conn.execute(f'DELETE FROM "{table}" WHERE ctid = $1', row[0])
                else:
                    await conn.execute(
                        f'UPDATE "{table}" SET "{column}" = $1 WHERE ctid = $2',
                        mentions.redact(row[1]), row[0],
                    )  # fmt: skip


class PgPrivacyMixin(PgFollowersMixin):
    """The Privacy role; built on followers (an export reads the person and identities)."""

    _late_mentions: list[tuple[float, _Mentions]]

    def _take_batch(self) -> Batch:
        """The buffered batch, with mentions of just-forgotten people replaced in free text."""
        batch = super()._take_batch()
        late = getattr(self, "_late_mentions", None)
        if late:
            now = time.monotonic()
            late[:] = [(until, m) for until, m in late if until > now]
            for table, _sql, rows in batch.statements:
                if table in _LATE_TABLES:
                    for i, row in enumerate(rows):
                        rows[i] = (row[0], *_redacted_row(row[1:], [m for _, m in late]))
        return batch

    async def export_follower(self, follower_id: int) -> FollowerExport | None:
        """Everything held on one person: their rows in every table, and the messages tied
        to nobody that mention them."""
        await self.flush()
        follower = await self.get_follower(follower_id)
        if follower is None:
            return None
        identities = tuple(await self.identities(follower_id))
        mentions = _Mentions(
            [follower.name, *(i.name for i in identities), *(i.handle for i in identities),
             *(i.user_id for i in identities)]
        )  # fmt: skip
        segment = f":{person_segment(follower_id)}:"
        b = self._brand

        async def read(conn: asyncpg.Connection) -> FollowerExport:
            ties, _ = await _checked_ties(conn)
            interactions = await conn.fetch(
                f"SELECT {_INTERACTION_COLUMNS} FROM interactions WHERE brand = $1 "
                "AND follower_id = $2 ORDER BY id", b, follower_id,
            )  # fmt: skip
            outbox = list(await conn.fetch(
                f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE brand = $1 AND follower_id = $2 "
                "ORDER BY id", b, follower_id,
            ))  # fmt: skip
            untied = await conn.fetch(
                f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE brand = $1 AND follower_id = 0 "
                "ORDER BY id", b,
            )  # fmt: skip
            outbox += [row for row in untied if mentions.found(row[4])]
            plugin_data = await conn.fetch(
                "SELECT namespace, key, value FROM plugin_data WHERE brand = $1 AND "
                "((follower_id = $2 AND follower_id != 0) OR strpos(':' || key || ':', $3) > 0) "
                "ORDER BY namespace, key",
                b, follower_id, segment,
            )  # fmt: skip
            other: list[tuple[str, dict[str, Any]]] = []
            shown = {"followers", "identities", "interactions", "outbox", "plugin_data"}
            for table, columns in ties.items():
                if table in shown or not columns:
                    continue
                clause, params = _ties_clause(table, columns, [follower_id], [segment])
                for row in await conn.fetch(
                    f'SELECT * FROM "{table}" WHERE brand = $1 AND {clause}', b, *params
                ):
                    other.append((table, {k: v for k, v in dict(row).items() if k != "brand"}))
            return FollowerExport(
                follower=follower,
                identities=identities,
                interactions=tuple(map(_interaction_from, interactions)),
                outbox=tuple(map(_outbox_from, sorted(outbox, key=lambda r: r[0]))),
                plugin_data=tuple((r[0], r[1], r[2]) for r in plugin_data),
                other_rows=tuple(other),
            )

        return await self._with_conn("export", read)

    async def forget_follower(self, follower_id: int, now: datetime) -> bool:
        """Delete every row naming the person in every table; keep one anonymous audit row."""
        _aware(now)
        async with self._lock:
            previous = self._gone.get(follower_id)
            self._gone[follower_id] = 0  # writes arriving from now on are dropped
            try:
                ids = await self._transaction(
                    lambda conn: self._forget_in_db(conn, follower_id, now)
                )
            except BaseException:
                self._restore_gone(follower_id, previous)
                raise
            if ids is None:
                self._restore_gone(follower_id, previous)
                return False
        for gone_id in ids:
            self._gone[gone_id] = 0
        for old, new in list(self._gone.items()):
            if new in ids:
                self._gone[old] = 0
        return True

    def _restore_gone(self, follower_id: int, previous: int | None) -> None:
        if previous is None:
            self._gone.pop(follower_id, None)
        else:
            self._gone[follower_id] = previous

    async def _forget_in_db(
        self, conn: asyncpg.Connection, follower_id: int, now: datetime
    ) -> set[int] | None:
        b = self._brand
        await gone.lock_exclusive(conn, b)  # no batch of any process commits meanwhile
        if not await conn.fetchval(
            "SELECT 1 FROM followers WHERE brand = $1 AND id = $2 FOR UPDATE", b, follower_id
        ):
            return None
        ties, catalog = await _checked_ties(conn)  # before deleting anything: all or nothing
        # The person may have absorbed others by merges: their old ids name them too.
        merged = await conn.fetch(
            "WITH RECURSIVE absorbed(id) AS (SELECT $2::bigint UNION "
            "SELECT m.merged_id FROM merges m JOIN absorbed a ON m.kept_id = a.id "
            "WHERE m.brand = $1) SELECT id FROM absorbed",
            b, follower_id,
        )  # fmt: skip
        ids = {int(row[0]) for row in merged}
        id_list = sorted(ids)
        known = await conn.fetch(
            "SELECT network, user_id, handle, name FROM identities "
            "WHERE brand = $1 AND follower_id = ANY($2::bigint[])",
            b, id_list,
        )  # fmt: skip
        names = [r[0] for r in await conn.fetch(
            "SELECT name FROM followers WHERE brand = $1 AND id = ANY($2::bigint[])", b, id_list
        )]  # fmt: skip
        for network, user_id, _handle, _name in known:
            await conn.execute(
                "DELETE FROM outbox WHERE brand = $1 AND network = $2 AND (recipient_id = $3 "
                "OR (conversation_private AND conversation_id = $3))",
                b, network, user_id,
            )  # fmt: skip
        segments = [f":{person_segment(i)}:" for i in id_list]
        for table, columns in ties.items():
            if columns:
                clause, params = _ties_clause(table, columns, id_list, segments)
                await conn.execute(f'DELETE FROM "{table}" WHERE brand = $1 AND {clause}', b, *params)
        mentions = _Mentions(
            [*names, *(r[3] for r in known), *(r[2] for r in known), *(r[1] for r in known)]
        )
        await _sweep_mentions(conn, b, catalog, mentions)
        if not hasattr(self, "_late_mentions"):
            self._late_mentions = []
        self._late_mentions.append((time.monotonic() + LATE_WRITES_SECONDS, mentions))
        await conn.execute(
            "INSERT INTO audit (brand, time, text) VALUES ($1, $2, $3)",
            b, now, "forgot a follower",
        )  # fmt: skip
        await gone.record_forget(conn, b, id_list)
        return ids

    async def audit(self, limit: int = 100) -> list[tuple[datetime, str]]:
        """Newest first."""
        rows = await self._fetch(
            "SELECT time, text FROM audit WHERE brand = $1 ORDER BY id DESC LIMIT $2",
            self._brand, limit,
        )  # fmt: skip
        return [(row[0], row[1]) for row in rows]
