"""Privacy: exporting everything held on a person, and forgetting them for good.

Which tables hold people is read from the schema itself (``sqlite_master`` and ``PRAGMA
table_info``), so a table added by a later migration cannot be left out:

- a column named ``follower_id`` ties a row to a person, in any table; the few other
  ties are declared in :data:`PERSON_COLUMNS` (ids) and :data:`SEGMENT_COLUMNS` (keys
  and job names with the person's ``:f<id>:`` segment);
- a table with none of those must be listed in :data:`TABLES_WITHOUT_PERSON`, saying why.
  Forget refuses to run (and ``tests/test_erasure.py`` fails) while a table is neither.

A forget deletes every row tied to the person (and to the ids merged into them), then
sweeps every text column of every table for what still *mentions* them: their display
names, handles and user ids. A message the bot sent that is tied to nobody (a staff
notice, a public announcement) is deleted, since it may quote them; elsewhere (the
staff's own messages in the staff channel, the audit) the mention is replaced by
``[forgotten]``. Plugin data is never rewritten by content: a plugin ties what it stores
about a person with ``follower_id`` (or a ``:f<id>:`` key segment) when it writes it
(docs/plugins.md). Freed pages are zeroed and the WAL is checkpointed and emptied, so
deleted rows leave the files too. Late writes naming a forgotten follower are dropped,
so a forgotten person cannot come back.

An export holds the same rows: the person's own rows of every table, and the untied
messages that mention them.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import aiosqlite

from brandbot.core.errors import StoreError
from brandbot.core.records import FollowerExport
from brandbot.store.sqlite.batch import _Batch
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

#: Columns other than ``follower_id`` that hold a follower id, per table.
PERSON_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "followers": ("id",),
    "merges": ("kept_id", "merged_id"),
}
#: Columns whose keys or names carry the person's ``:f<id>:`` segment, per table.
SEGMENT_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "once_keys": ("key",),
    "plugin_data": ("key",),
    "jobs": ("name",),
}
#: Tables that hold nothing tied to a person, and why. Every other table must have a
#: person column; a new table must be added to one or the other.
TABLES_WITHOUT_PERSON: Mapping[str, str] = {
    "processed": "network and event ids of handled events (no person), pruned after days",
    "cursors": "how far each network's feed was read",
    "audit": "anonymous lines ('forgot a follower'); mentions are still swept",
    "schema_version": "the migrations applied",
    "sqlite_sequence": "SQLite's AUTOINCREMENT counters",
    "sqlite_stat1": "SQLite's index statistics (PRAGMA optimize), counts only",
    "sqlite_stat4": "SQLite's index samples (only with SQLITE_ENABLE_STAT4)",
}
#: Tables whose rows tied to nobody are deleted, not rewritten, when they mention the
#: person: a staff notice or public post about them may also quote their words.
DELETE_UNTIED_MENTIONS: Mapping[str, str] = {"outbox": "follower_id"}
#: Tables whose text is never rewritten by the mentions sweep: other people's own records
#: (another "Ana" keeps her name) and structured data kept by its ties (a display name
#: like "open" must not rewrite a plugin's state or a job's payload).
NOT_SWEPT: frozenset[str] = frozenset({
    "followers", "identities", "merges", "plugin_data", "jobs",
    "schema_version", "sqlite_sequence", "sqlite_stat1", "sqlite_stat4",
})

#: Seconds during which rows written after a forget are checked for mentions too: the
#: admin's own "/forget telegram:123" is committed with the event, after the forget.
LATE_WRITES_SECONDS = 60.0
#: Tables whose buffered rows are checked in that time (free text about people).
_LATE_TABLES = frozenset({"interactions", "outbox"})

_FORGOTTEN = "[forgotten]"
#: Mentions shorter than this are not swept (a one-letter name would match everywhere).
_MIN_MENTION = 3


async def person_tables(conn: aiosqlite.Connection) -> dict[str, tuple[str, ...]]:
    """Every table of the database and the columns that tie its rows to a person."""
    tables: dict[str, tuple[str, ...]] = {}
    for (table,) in await conn.execute_fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
    ):
        columns = [row[1] for row in await conn.execute_fetchall(f'PRAGMA table_info("{table}")')]
        ties = [c for c in columns if c == "follower_id"]
        ties += [c for c in (*PERSON_COLUMNS.get(table, ()), *SEGMENT_COLUMNS.get(table, ())) if c in columns]
        tables[table] = tuple(dict.fromkeys(ties))
    return tables


def _undeclared(tables: Mapping[str, tuple[str, ...]]) -> list[str]:
    return sorted(t for t, ties in tables.items() if not ties and t not in TABLES_WITHOUT_PERSON)


async def _checked_tables(conn: aiosqlite.Connection) -> dict[str, tuple[str, ...]]:
    tables = await person_tables(conn)
    undeclared = _undeclared(tables)
    if undeclared:
        raise StoreError(
            f"table(s) {', '.join(undeclared)} have no person column and are not declared in "
            "TABLES_WITHOUT_PERSON (brandbot/store/sqlite/privacy.py): forget and export cannot "
            "know whether they hold people; declare them, or give them a follower_id column"
        )
    return tables


class _Mentions:
    """What names a person in free text: display names, handles and user ids, as words."""

    def __init__(self, words: Iterable[str]) -> None:
        forms = {w.strip() for w in words}
        forms |= {f.lstrip("@") for f in forms}
        self.words = sorted((f for f in forms if len(f) >= _MIN_MENTION), key=len, reverse=True)
        self._pattern = (
            re.compile(
                r"(?<![\w@])@?(?:" + "|".join(map(re.escape, self.words)) + r")(?!\w)",
                re.IGNORECASE,
            )
            if self.words
            else None
        )

    def like_clauses(self, column: str) -> tuple[str, list[str]]:
        """A cheap SQL prefilter (LIKE folds ASCII case only; Python checks precisely)."""
        variants = dict.fromkeys(v for w in self.words for v in (w, w.lower(), w.upper(), w.casefold()))
        escaped = [w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for w in variants]
        clause = " OR ".join(f'"{column}" LIKE ? ESCAPE \'\\\'' for _ in escaped)
        return clause, [f"%{w}%" for w in escaped]

    def found(self, text: Any) -> bool:
        return isinstance(text, str) and self._pattern is not None and bool(self._pattern.search(text))

    def redact(self, text: str) -> str:
        return self._pattern.sub(_FORGOTTEN, text) if self._pattern is not None else text


def _is_text(declared: str) -> bool:
    """A column SQLite gives text affinity (or none declared, which may hold text)."""
    upper = declared.upper()
    return not upper or any(t in upper for t in ("CHAR", "CLOB", "TEXT"))


def _redacted_row(row: tuple[Any, ...], mentions: list[_Mentions]) -> tuple[Any, ...]:
    values = list(row)
    for i, value in enumerate(values):
        for mention in mentions:
            if mention.found(value):
                values[i] = value = mention.redact(value)
    return tuple(values)


async def _sweep_mentions(
    conn: aiosqlite.Connection, tables: Mapping[str, tuple[str, ...]], mentions: _Mentions
) -> None:
    """Delete or rewrite what still mentions the person after their rows are gone.

    Rows of :data:`DELETE_UNTIED_MENTIONS` tied to nobody are deleted; a match in a key
    column deletes the row; elsewhere each mention in a text column becomes ``[forgotten]``.
    """
    if not mentions.words:
        return
    for table in tables:
        if table in NOT_SWEPT:
            continue
        info = list(await conn.execute_fetchall(f'PRAGMA table_info("{table}")'))
        text_columns = [row[1] for row in info if _is_text(row[2])]
        keys = [row[1] for row in info if row[5]]
        (definition,) = next(iter(await conn.execute_fetchall(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))))
        without_rowid = "WITHOUT ROWID" in (definition or "").upper()
        locator = keys if without_rowid else ["rowid"]
        select = ", ".join("rowid" if c == "rowid" else f'"{c}"' for c in locator)
        for column in text_columns:
            clause, params = mentions.like_clauses(column)
            untied = DELETE_UNTIED_MENTIONS.get(table)
            extra = f', "{untied}"' if untied else ""
            found = await conn.execute_fetchall(
                f'SELECT {select}, "{column}"{extra} FROM "{table}" WHERE {clause}', params
            )
            for row in found:
                where_values = row[: len(locator)]
                text = row[len(locator)]
                if not mentions.found(text):
                    continue
                where = " AND ".join(f'"{c}" = ?' if c != "rowid" else "rowid = ?" for c in locator)
                if column in keys or (untied and not row[len(locator) + 1]):
                    await conn.execute(f'DELETE FROM "{table}" WHERE {where}', where_values)
                else:
                    await conn.execute(
                        f'UPDATE "{table}" SET "{column}" = ? WHERE {where}',
                        (mentions.redact(text), *where_values),
                    )


class PrivacyMixin(FollowersMixin):
    """The Privacy role; built on followers, since an export reads the person and their identities."""

    #: Mentions of people forgotten in the last :data:`LATE_WRITES_SECONDS` (in memory only).
    _late_mentions: list[tuple[float, _Mentions]]

    def _take_batch(self) -> _Batch:
        """The buffered batch, with mentions of just-forgotten people replaced in its free text."""
        batch = super()._take_batch()
        late = getattr(self, "_late_mentions", None)
        if late:
            now = time.monotonic()
            late[:] = [(until, m) for until, m in late if until > now]
            for table, _sql, rows in batch.statements:
                if table in _LATE_TABLES:
                    for i, row in enumerate(rows):
                        rows[i] = _redacted_row(row, [m for _, m in late])
        return batch

    async def export_follower(self, follower_id: int) -> FollowerExport | None:
        """Everything held on one person, for a GDPR export: their rows in every table, and
        the messages tied to nobody that mention them (staff notices, public posts)."""
        await self.flush()
        follower = await self.get_follower(follower_id)
        if follower is None:
            return None
        conn = self._connection()
        tables = await _checked_tables(conn)
        identities = tuple(await self.identities(follower_id))
        mentions = _Mentions(
            [follower.name, *(i.name for i in identities), *(i.handle for i in identities),
             *(i.user_id for i in identities)]
        )
        interactions = await self._fetch(
            f"SELECT {_INTERACTION_COLUMNS} FROM interactions WHERE follower_id = ? ORDER BY id",
            (follower_id,),
        )
        outbox = await self._fetch(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE follower_id = ? ORDER BY id",
            (follower_id,),
        )
        untied = await self._fetch(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE follower_id = 0 AND "
            f"({mentions.like_clauses('text')[0] or '0'}) ORDER BY id",
            mentions.like_clauses("text")[1],
        )
        outbox += [row for row in untied if mentions.found(_outbox_from(row).text)]
        segment = f":{person_segment(follower_id)}:"
        plugin_data = await self._fetch(
            "SELECT namespace, key, value FROM plugin_data WHERE (follower_id = ? AND follower_id != 0) "
            "OR instr(':' || key || ':', ?) > 0 ORDER BY namespace, key",
            (follower_id, segment),
        )
        return FollowerExport(
            follower=follower,
            identities=identities,
            interactions=tuple(map(_interaction_from, interactions)),
            outbox=tuple(map(_outbox_from, sorted(outbox, key=lambda r: r[0]))),
            plugin_data=tuple((ns, key, value) for ns, key, value in plugin_data),
            other_rows=tuple(await self._other_rows(conn, tables, follower_id, segment)),
        )

    async def _other_rows(
        self, conn: aiosqlite.Connection, tables: Mapping[str, tuple[str, ...]], follower_id: int,
        segment: str,
    ) -> list[tuple[str, dict[str, Any]]]:
        """The person's rows of the tables the export does not show in its own sections."""
        shown = {"followers", "identities", "interactions", "outbox", "plugin_data"}
        rows: list[tuple[str, dict[str, Any]]] = []
        for table, ties in tables.items():
            if table in shown or not ties:
                continue
            segments = SEGMENT_COLUMNS.get(table, ())
            where = " OR ".join(
                f"instr(':' || \"{c}\" || ':', ?) > 0" if c in segments else f'"{c}" = ?' for c in ties
            )
            params = [segment if c in segments else follower_id for c in ties]
            cursor = await conn.execute(f'SELECT * FROM "{table}" WHERE {where}', params)
            names = [d[0] for d in cursor.description]
            for row in await cursor.fetchall():
                rows.append((table, dict(zip(names, row))))
            await cursor.close()
        return rows

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
        tables = await _checked_tables(conn)  # before deleting anything: all or nothing
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
        marks = ",".join("?" * len(ids))
        known = list(
            await conn.execute_fetchall(
                f"SELECT network, user_id, handle, name FROM identities WHERE follower_id IN ({marks})",
                tuple(ids),
            )
        )
        names = [row[0] for row in await conn.execute_fetchall(
            f"SELECT name FROM followers WHERE id IN ({marks})", tuple(ids))]
        identities = [(row[0], row[1]) for row in known]
        for network, user_id in identities:
            await conn.execute(
                "DELETE FROM outbox WHERE network = ? AND (recipient_id = ? OR "
                "(conversation_private = 1 AND conversation_id = ?))",
                (network, user_id, user_id),
            )
        for table, ties in tables.items():
            segments = SEGMENT_COLUMNS.get(table, ())
            for column in ties:
                for gone_id in ids:
                    if column in segments:
                        await conn.execute(
                            f'DELETE FROM "{table}" WHERE instr(\':\' || "{column}" || \':\', ?) > 0',
                            (f":{person_segment(gone_id)}:",),
                        )
                    else:
                        await conn.execute(f'DELETE FROM "{table}" WHERE "{column}" = ?', (gone_id,))
        mentions = _Mentions([*names, *(r[3] for r in known), *(r[2] for r in known), *(r[1] for r in known)])
        await _sweep_mentions(conn, tables, mentions)
        if not hasattr(self, "_late_mentions"):
            self._late_mentions = []
        self._late_mentions.append((time.monotonic() + LATE_WRITES_SECONDS, mentions))
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
