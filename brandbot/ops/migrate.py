"""``brandbot migrate --to postgresql://...``: copy the SQLite database into PostgreSQL.

For the day a brand outgrows one process. The copy is all or nothing: one PostgreSQL
transaction, rows streamed with COPY in chunks (a progress bar per table on stderr), then
every table's row count in PostgreSQL is checked against SQLite's before the transaction
commits. The SQLite file is only read (in one read transaction: a consistent snapshot)
and stays as it was, so going back is switching ``storage.url`` off again.

Refused, with what to do: a source written by another brandbot version, a table this code
does not know how to copy, a target that already holds rows of the brand.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import asyncpg

from brandbot.core.errors import BrandbotError
from brandbot.store import migrations as sqlite_schema
from brandbot.store.postgres import PostgresStore
from brandbot.store.postgres import rows as pg
from brandbot.store.sqlite import rows as lite

#: Rows read from SQLite and sent with one COPY.
CHUNK = 5000
#: SQLite's own tables, which hold nothing to copy.
_INTERNAL = frozenset({"schema_version", "sqlite_sequence", "sqlite_stat1", "sqlite_stat4"})


@dataclass(frozen=True, slots=True)
class TableCopy:
    """How one table's rows go from SQLite to PostgreSQL (``brand`` is prepended)."""

    name: str
    select: str  # SQLite columns, in the order ``convert`` reads them
    columns: tuple[str, ...]  # PostgreSQL columns after brand, in the order ``convert`` gives
    convert: Callable[[str, Sequence[Any]], tuple[Any, ...]]  # (brand, sqlite row) -> pg row
    order: str = ""  # for tables whose PostgreSQL ids are new: keep the rows' order


def _names(columns: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in columns.split(","))


def _without_brand(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return row[1:]


TABLES: tuple[TableCopy, ...] = (
    TableCopy("followers", lite._FOLLOWER_COLUMNS, lite._FOLLOWER_NAMES,
              lambda b, r: _without_brand(pg._follower_row(b, lite._follower_from(r)))),
    TableCopy("identities", "network, user_id, follower_id, handle, handle_key, name",
              ("network", "user_id", "follower_id", "handle", "handle_key", "name"),
              lambda b, r: tuple(r)),
    TableCopy("interactions", lite._INTERACTION_COLUMNS, _names(lite._INTERACTION_COLUMNS),
              lambda b, r: _without_brand(pg._interaction_row(b, r[0], r[1], lite._interaction_from(r)))),
    TableCopy("processed", "network, event_id, at", ("network", "event_id", "at"),
              lambda b, r: (r[0], r[1], lite._dt(r[2]))),
    TableCopy("outbox", lite._OUTBOX_COLUMNS, _names(lite._OUTBOX_COLUMNS),
              lambda b, r: _without_brand(pg._outbox_row(b, lite._outbox_from(r)))),
    TableCopy("cursors", "key, value", ("key", "value"), lambda b, r: tuple(r)),
    TableCopy("once_keys", "key, at", ("key", "at"), lambda b, r: (r[0], lite._dt(r[1]))),
    TableCopy("plugin_data", "namespace, key, value, follower_id",
              ("namespace", "key", "value", "follower_id"), lambda b, r: tuple(r)),
    TableCopy("jobs", "name, due, owner, payload", ("name", "due", "owner", "payload"),
              lambda b, r: _without_brand(pg._job_row(b, lite._job_from(r)))),
    TableCopy("merges", "time, kept_id, merged_id", ("time", "kept_id", "merged_id"),
              lambda b, r: (lite._dt(r[0]), r[1], r[2]), " ORDER BY id"),
    TableCopy("audit", "time, text", ("time", "text"), lambda b, r: (lite._dt(r[0]), r[1]),
              " ORDER BY id"),
)  # fmt: skip
#: Sequences to move past the copied ids, so new ids never collide with them.
_SEQUENCES = {"followers": "follower_ids", "interactions": "interaction_ids", "outbox": "outbox_ids"}


def progress_bar(label: str, done: int, total: int, width: int = 30) -> str:
    """``followers    [##########----------]  50%  5,000/10,000``"""
    share = done / total if total else 1.0
    filled = round(share * width)
    return (
        f"{label:<13}[{'#' * filled}{'-' * (width - filled)}] {share:>4.0%}  "
        f"{done:,}/{total:,}"
    )


def redact_url(url: str) -> str:
    """The URL without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"


@dataclass(frozen=True, slots=True)
class Count:
    table: str
    sqlite: int
    postgres: int

    @property
    def ok(self) -> bool:
        return self.sqlite == self.postgres


def _open_source(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise BrandbotError(f"no SQLite database at {path} (storage.path): nothing to migrate")
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    version = source.execute(
        "SELECT MAX(version) FROM schema_version"
        if source.execute("SELECT 1 FROM sqlite_master WHERE name = 'schema_version'").fetchone()
        else "SELECT 0"
    ).fetchone()[0]
    if version != sqlite_schema.LATEST_VERSION:
        source.close()
        raise BrandbotError(
            f"{path} has schema version {version}, this brandbot writes version "
            f"{sqlite_schema.LATEST_VERSION}: run the bot (or any brandbot command) on it once "
            "with this version so it is migrated, then migrate it to PostgreSQL"
        )
    tables = {r[0] for r in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    unknown = sorted(tables - _INTERNAL - {t.name for t in TABLES})
    if unknown:
        source.close()
        raise BrandbotError(
            f"{path} has table(s) {', '.join(unknown)} that brandbot migrate does not know how "
            "to copy; upgrade brandbot (nothing was copied)"
        )
    return source


def _chunks(source: sqlite3.Connection, table: TableCopy) -> Iterator[list[Any]]:
    cursor = source.execute(f"SELECT {table.select} FROM {table.name}{table.order}")
    while rows := cursor.fetchmany(CHUNK):
        yield rows


async def copy_database(
    source_path: Path, url: str, brand: str = "default", *, out: TextIO | None = None
) -> list[Count]:
    """Copy every table of ``source_path`` into ``url`` under ``brand``; returns the counts.

    Raises ``BrandbotError`` (and commits nothing) when a count differs or the target
    already holds rows of the brand.
    """
    out = out or sys.stderr
    source = _open_source(source_path)
    try:
        source.execute("BEGIN")  # one snapshot for every table and count
        totals = {t.name: source.execute(f"SELECT COUNT(*) FROM {t.name}").fetchone()[0] for t in TABLES}
        # Creates or migrates the schema; a server that does not answer is reported soon.
        async with PostgresStore(url, brand=brand, reconnect_timeout=10) as store:
            version = store.schema_version()
        conn = await asyncpg.connect(url)
        try:
            async with conn.transaction():
                await _refuse_filled(conn, brand, url)
                for table in TABLES:
                    await _copy_table(conn, source, table, brand, totals[table.name], out)
                for table_name, sequence in _SEQUENCES.items():
                    await conn.execute(
                        f"SELECT setval('{sequence}', GREATEST((SELECT MAX(id) FROM {table_name}), "
                        f"(SELECT last_value FROM {sequence})))"
                    )
                counts = [
                    Count(t.name, totals[t.name], await conn.fetchval(
                        f"SELECT COUNT(*) FROM {t.name} WHERE brand = $1", brand))
                    for t in TABLES
                ]  # fmt: skip
                bad = [c for c in counts if not c.ok]
                if bad:
                    raise BrandbotError(
                        "row counts differ after the copy ("
                        + ", ".join(f"{c.table}: {c.sqlite} in SQLite, {c.postgres} in PostgreSQL" for c in bad)
                        + "); nothing was committed"
                    )
        finally:
            await conn.close()
    finally:
        source.close()
    print(f"schema version {version} at {redact_url(url)}, brand {brand!r}", file=out)
    return counts


async def _refuse_filled(conn: asyncpg.Connection, brand: str, url: str) -> None:
    filled = [
        t.name for t in TABLES
        if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {t.name} WHERE brand = $1)", brand)
    ]  # fmt: skip
    if filled:
        raise BrandbotError(
            f"{redact_url(url)} already holds rows of brand {brand!r} (in {', '.join(filled)}); "
            "migrate into an empty database, or give this brand another storage.brand_id"
        )


async def _copy_table(
    conn: asyncpg.Connection, source: sqlite3.Connection, table: TableCopy, brand: str,
    total: int, out: TextIO,
) -> None:
    done = 0
    live = out.isatty()  # a redrawn bar on a terminal, one line per table in a log
    if live:
        print(progress_bar(table.name, 0, total), end="\r", file=out, flush=True)
    for rows in _chunks(source, table):
        try:
            records = [(brand, *table.convert(brand, row)) for row in rows]
        except (ValueError, TypeError) as exc:
            raise BrandbotError(f"a {table.name} row cannot be read ({exc}); nothing was committed") from exc
        await conn.copy_records_to_table(table.name, records=records, columns=("brand", *table.columns))
        done += len(rows)
        if live:
            print(progress_bar(table.name, done, total), end="\r", file=out, flush=True)
        await asyncio.sleep(0)
    print(progress_bar(table.name, done, total), file=out, flush=True)


def format_counts(counts: Sequence[Count]) -> str:
    lines = [f"{'table':<13}{'SQLite':>10}{'PostgreSQL':>12}  check"]
    lines += [
        f"{c.table:<13}{c.sqlite:>10,}{c.postgres:>12,}  {'ok' if c.ok else 'DIFFERENT'}"
        for c in counts
    ]
    return "\n".join(lines)
