"""The default Store: SQLite in WAL mode, with a write-behind batch.

Why it is shaped this way:

- Every incoming event causes several small writes (processed id, follower counters,
  history row, outbox row). Committing each one would cap the bot at a few hundred
  events a second, so buffered writes go into an in-memory batch and a background
  flusher commits the whole batch in ONE transaction, at most ``commit_delay`` seconds
  after the first write of the batch (sooner when a reply waits for it, see
  ``ensure_committed``, or when ``max_batch`` writes are waiting).
- Commits and point reads run synchronously on a connection owned by the event loop's
  thread. Profiling showed the C work of a batch is tens of microseconds, while handing
  each statement to aiosqlite's thread cost a thread hop, and under load that thread
  waited milliseconds for the GIL: commits fell seconds behind. Work that may take long
  (migrations, scans, exports, merges and forgets, WAL checkpoints that may fsync)
  still runs off the loop, on the aiosqlite connection or a worker thread.
- Reads must see buffered writes, so every buffered table keeps its not-yet-committed
  rows in memory (``_Buffer``: "pending" until the flusher takes them, "inflight" while
  they are being committed) and reads look there before the database.
- Memory stays flat however many people and events pass: followers, identities and
  plugin data are cached in bounded LRU maps, and whether a person, processed id or
  once-key may exist is answered by Bloom filters (about 1.3 bytes a key), so a new
  event or a new person needs no read at all and a known one at most one indexed read.
- Ids (followers, interactions, outbox) are allocated from in-memory counters started
  from the database at open, so creating a row never waits for the flusher.
- A commit that fails is logged and its batch kept for a retry, with backoff; nothing
  is lost. A row that can never be stored (its data breaks a constraint) is logged and
  dropped so that it does not block every later write.
- merge, unlink, forget and the prunes flush first and then commit their own
  transaction before returning; late writes naming a merged or forgotten follower are
  redirected to the survivor or dropped, so a forgotten person cannot come back.

Person-naming keys: the core writes once-keys about a person as ``...:f<follower_id>:...``
(a colon-separated segment ``f<id>``). ``forget_follower`` deletes every once-key,
plugin-data key and job name that has such a segment for the person, as well as
plugin-data rows written with their ``follower_id``.

One process owns a database file while it runs: the caches assume nobody else writes,
so merges and forgets made by another process while the bot runs may be undone by it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, TypeVar

import aiosqlite

from brandbot.core.errors import StoreError
from brandbot.core.events import Person
from brandbot.core.lru import MISSING as _MISSING
from brandbot.core.lru import Lru
from brandbot.store import migrations
from brandbot.store.bloom import BloomFilter
from brandbot.core.records import (
    Direction,
    FollowerExport,
    FollowerQuery,
    FollowerRecord,
    Identity,
    Interaction,
    Job,
    OutboxEntry,
    OutboxStatus,
)

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
R = TypeVar("R")


#: The columns ``list_followers`` may order by.
ORDER_COLUMNS = ("points", "last_seen", "first_seen", "interactions", "name")

# Errors caused by the data of a row rather than by the database: retrying the same row
# can never succeed, so a batch failing with one of these is written row by row and the
# offending rows are logged and dropped instead of blocking every later write.
_DATA_ERRORS = (
    sqlite3.IntegrityError,
    sqlite3.ProgrammingError,
    sqlite3.InterfaceError,
    sqlite3.DataError,
    OverflowError,
)

_RETRY_MAX_SECONDS = 5.0
#: Bloom filters start with room for this many keys (about 1.3 MB each at 1% errors).
_MIN_FILTER_CAPACITY = 1_000_000
#: Committed rows after which the WAL is checkpointed (off the event loop's thread).
_CHECKPOINT_ROWS = 50_000
#: SQLite page cache of the event-loop connection, in KiB (the OS caches the rest).
_PAGE_CACHE_KIB = 4096


# --- value codecs ----------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _ts(value: datetime) -> str:
    """A datetime as fixed-width ISO-8601 UTC text, so text order is time order.

    Memoized: the rows written for one event mostly share the same ``now``.
    """
    offset = value.utcoffset()
    if offset is None:
        raise ValueError(
            f"naive datetime {value!r}: brandbot stores timezone-aware times only "
            "(use datetime.now(timezone.utc) or the Clock)"
        )
    if offset:
        value = value.astimezone(timezone.utc)
    return value.isoformat(timespec="microseconds")


def _dt(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _set_text(values: frozenset[str]) -> str:
    return json.dumps(sorted(values)) if values else "[]"


def _text_set(text: str) -> frozenset[str]:
    return frozenset(json.loads(text)) if text and text != "[]" else frozenset()


def _handle_key(handle: str) -> str:
    return handle.lstrip("@").lower()


def person_segment(follower_id: int) -> str:
    """The colon-separated key segment that names a follower: ``f<id>``."""
    return f"f{follower_id}"


def _names_person(key: str, segments: Iterable[str]) -> bool:
    parts = key.split(":")
    return any(segment in parts for segment in segments)


_FOLLOWER_COLUMNS = (
    "id, name, first_seen, last_seen, interactions, mentions, replies, reposts, quotes, "
    "points, tier, streak, streak_day, points_day, points_today, tags, notes, opted_out, "
    "unreachable"
)


def _follower_row(f: FollowerRecord) -> tuple[Any, ...]:
    return (
        f.id, f.name, _ts(f.first_seen), _ts(f.last_seen), f.interactions, f.mentions,
        f.replies, f.reposts, f.quotes, f.points, f.tier, f.streak, f.streak_day,
        f.points_day, f.points_today, _set_text(f.tags), f.notes, 1 if f.opted_out else 0, _set_text(f.unreachable),
    )  # fmt: skip


def _follower_from(row: Sequence[Any]) -> FollowerRecord:
    return FollowerRecord(
        id=row[0],
        name=row[1],
        first_seen=_dt(row[2]),
        last_seen=_dt(row[3]),
        interactions=row[4],
        mentions=row[5],
        replies=row[6],
        reposts=row[7],
        quotes=row[8],
        points=row[9],
        tier=row[10],
        streak=row[11],
        streak_day=row[12],
        points_day=row[13],
        points_today=row[14],
        tags=_text_set(row[15]),
        notes=row[16],
        opted_out=bool(row[17]),
        unreachable=_text_set(row[18]),
    )


_IDENTITY_COLUMNS = "follower_id, network, user_id, handle, name"


def _identity_row(i: Identity) -> tuple[Any, ...]:
    return (i.network, i.user_id, i.follower_id, i.handle, _handle_key(i.handle), i.name)


def _identity_from(row: Sequence[Any]) -> Identity:
    return Identity(follower_id=row[0], network=row[1], user_id=row[2], handle=row[3], name=row[4])


_INTERACTION_COLUMNS = (
    "id, follower_id, time, direction, kind, network, conversation_id, event_id, text, "
    "source, points"
)


def _interaction_from(row: Sequence[Any]) -> Interaction:
    return Interaction(
        id=row[0],
        follower_id=row[1],
        time=_dt(row[2]),
        direction=Direction(row[3]),
        kind=row[4],
        network=row[5],
        conversation_id=row[6],
        event_id=row[7],
        text=row[8],
        source=row[9],
        points=row[10],
    )


_OUTBOX_COLUMNS = (
    "id, network, conversation_id, conversation_private, text, created, next_try, status, "
    "in_reply_to, recipient_id, follower_id, event_id, source, attempts, reason, post_ids"
)


def _outbox_row(e: OutboxEntry) -> tuple[Any, ...]:
    return (
        e.id, e.network, e.conversation_id, 1 if e.conversation_private else 0, e.text,
        _ts(e.created), _ts(e.next_try), OutboxStatus(e.status).value, e.in_reply_to,
        e.recipient_id, e.follower_id, e.event_id, e.source, e.attempts, e.reason,
        json.dumps(list(e.post_ids)) if e.post_ids else "[]",
    )  # fmt: skip


def _outbox_from(row: Sequence[Any]) -> OutboxEntry:
    return OutboxEntry(
        id=row[0],
        network=row[1],
        conversation_id=row[2],
        conversation_private=bool(row[3]),
        text=row[4],
        created=_dt(row[5]),
        next_try=_dt(row[6]),
        status=OutboxStatus(row[7]),
        in_reply_to=row[8],
        recipient_id=row[9],
        follower_id=row[10],
        event_id=row[11],
        source=row[12],
        attempts=row[13],
        reason=row[14],
        post_ids=tuple(json.loads(row[15])) if row[15] and row[15] != "[]" else (),
    )


def _job_row(j: Job) -> tuple[Any, ...]:
    return (j.name, _ts(j.due), j.owner, j.payload)


def _job_from(row: Sequence[Any]) -> Job:
    return Job(name=row[0], due=_dt(row[1]), owner=row[2], payload=row[3])


# --- SQL of the batch, in the order it is written ---------------------------------------

_FOLLOWER_NAMES = tuple(column.strip() for column in _FOLLOWER_COLUMNS.split(","))
_CONNECTION_PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 5000",
    "PRAGMA temp_store = MEMORY",
    # Zero the old bytes of changed and deleted rows inside pages at no extra I/O,
    # so a forgotten person's earlier row versions do not linger in the file.
    "PRAGMA secure_delete = FAST",
)

_SQL_UPSERT_FOLLOWER = (
    f"INSERT INTO followers ({_FOLLOWER_COLUMNS}) "
    f"VALUES ({', '.join('?' * len(_FOLLOWER_NAMES))}) ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{column} = excluded.{column}" for column in _FOLLOWER_NAMES[1:])
)
_SQL_UPSERT_IDENTITY = (
    "INSERT INTO identities (network, user_id, follower_id, handle, handle_key, name) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (network, user_id) DO UPDATE SET "
    "follower_id = excluded.follower_id, handle = excluded.handle, "
    "handle_key = excluded.handle_key, name = excluded.name"
)
# Every batch statement is idempotent, so replaying a batch whose COMMIT outcome was
# unknown (cancellation at the wrong moment) cannot fail or duplicate rows.
_SQL_PUT_INTERACTION = (
    f"INSERT OR REPLACE INTO interactions ({_INTERACTION_COLUMNS}) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SQL_MARK_PROCESSED = "INSERT OR IGNORE INTO processed (network, event_id, at) VALUES (?, ?, ?)"
_SQL_PUT_OUTBOX = (
    f"INSERT OR REPLACE INTO outbox ({_OUTBOX_COLUMNS}) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SQL_SET_CURSOR = "INSERT OR REPLACE INTO cursors (key, value) VALUES (?, ?)"
_SQL_MARK_ONCE = "INSERT OR IGNORE INTO once_keys (key, at) VALUES (?, ?)"
_SQL_KV_SET = (
    "INSERT OR REPLACE INTO plugin_data (namespace, key, value, follower_id) VALUES (?, ?, ?, ?)"
)
_SQL_KV_DELETE = "DELETE FROM plugin_data WHERE namespace = ? AND key = ?"
_SQL_PUT_JOB = "INSERT OR REPLACE INTO jobs (name, due, owner, payload) VALUES (?, ?, ?, ?)"
_SQL_DELETE_JOB = "DELETE FROM jobs WHERE name = ?"


# --- in-memory structures --------------------------------------------------------------


class _Buffer(Generic[K, V]):
    """Buffered writes of one keyed table: the newest value per key wins.

    Each entry is (value for reads, encoded row for the database). ``take`` hands the
    pending entries to a commit while keeping them readable as "inflight"; ``settle``
    forgets them after the commit, ``restore`` puts them back after a failure.
    """

    __slots__ = ("pending", "inflight")

    def __init__(self) -> None:
        self.pending: dict[K, tuple[V, tuple[Any, ...]]] = {}
        self.inflight: dict[K, tuple[V, tuple[Any, ...]]] = {}

    def put(self, key: K, value: V, row: tuple[Any, ...]) -> None:
        self.pending[key] = (value, row)

    def get(self, key: K) -> Any:
        """The newest buffered value, or ``_MISSING``."""
        hit = self.pending.get(key) or self.inflight.get(key)
        return _MISSING if hit is None else hit[0]

    def __contains__(self, key: K) -> bool:
        return key in self.pending or key in self.inflight

    def snapshot(self) -> dict[K, V]:
        """Every buffered value, newest winning."""
        merged = {k: v for k, (v, _) in self.inflight.items()}
        merged.update((k, v) for k, (v, _) in self.pending.items())
        return merged

    def take(self) -> dict[K, tuple[V, tuple[Any, ...]]]:
        self.inflight = self.pending
        self.pending = {}
        return self.inflight

    def settle(self) -> dict[K, tuple[V, tuple[Any, ...]]]:
        done, self.inflight = self.inflight, {}
        return done

    def restore(self) -> None:
        merged = self.inflight
        merged.update(self.pending)
        self.pending, self.inflight = merged, {}

    def drop_where(self, predicate: Callable[[K, V], bool]) -> None:
        for entries in (self.pending, self.inflight):
            for key in [k for k, (v, _) in entries.items() if predicate(k, v)]:
                del entries[key]


class _InteractionBuffer:
    """Buffered history rows: an ordered list for the database, and per follower for reads.

    Reads get records with their allocated ids; building those copies is left to the
    (rare) read so that appending stays cheap.
    """

    __slots__ = ("rows", "by_follower", "inflight_rows", "inflight_by_follower")

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []
        self.by_follower: dict[int, list[tuple[int, Interaction]]] = {}
        self.inflight_rows: list[tuple[Any, ...]] = []
        self.inflight_by_follower: dict[int, list[tuple[int, Interaction]]] = {}

    def add(
        self, follower_id: int, interaction_id: int, interaction: Interaction, row: tuple[Any, ...]
    ) -> None:
        self.rows.append(row)
        bucket = self.by_follower.get(follower_id)
        if bucket is None:
            self.by_follower[follower_id] = [(interaction_id, interaction)]
        else:
            bucket.append((interaction_id, interaction))

    def of(self, follower_id: int) -> dict[int, Interaction]:
        found: dict[int, Interaction] = {}
        for source in (self.inflight_by_follower, self.by_follower):
            for interaction_id, item in source.get(follower_id, ()):
                if item.id != interaction_id or item.follower_id != follower_id:
                    item = replace(item, id=interaction_id, follower_id=follower_id)
                found[interaction_id] = item
        return found

    def take(self) -> list[tuple[Any, ...]]:
        self.inflight_rows, self.inflight_by_follower = self.rows, self.by_follower
        self.rows, self.by_follower = [], {}
        return self.inflight_rows

    def settle(self) -> None:
        self.inflight_rows, self.inflight_by_follower = [], {}

    def restore(self) -> None:
        rows = self.inflight_rows + self.rows
        by_follower = self.inflight_by_follower
        for follower_id, items in self.by_follower.items():
            by_follower.setdefault(follower_id, []).extend(items)
        self.rows, self.by_follower = rows, by_follower
        self.inflight_rows, self.inflight_by_follower = [], {}


@dataclass(slots=True)
class _Batch:
    """What one commit writes: (table, sql, rows) in order, and how many writes it holds."""

    statements: list[tuple[str, str, list[tuple[Any, ...]]]]
    writes: int


# --- the store -------------------------------------------------------------------------


def _rollback(db: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error):
        if db.in_transaction:
            db.execute("ROLLBACK")


def _checkpoint_file(path: str) -> None:
    """PASSIVE: copies what it can without waiting for or blocking the writer.

    Twice: the second pass copies what was committed during the first, so that the
    pass left for the event loop's thread (see ``SqliteStore._checkpoint``) is short.
    """
    db = sqlite3.connect(path, isolation_level=None)
    try:
        for _ in range(2):
            db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    finally:
        db.close()


class SqliteStore:
    """The Store protocol on SQLite (see ``brandbot.store.base.Store`` for each method)."""

    def __init__(
        self,
        path: str | Path,
        *,
        commit_delay: float = 0.05,
        max_batch: int = 5000,
        cache_size: int = 10_000,
    ) -> None:
        if commit_delay < 0:
            raise ValueError(f"commit_delay must be >= 0 seconds, not {commit_delay}")
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, not {max_batch}")
        if cache_size < 1:
            raise ValueError(f"cache_size must be at least 1, not {cache_size}")
        self._path = str(path)
        self._temp_dir: str | None = None  # ":memory:" lives in a temporary file (two connections)
        self._commit_delay = float(commit_delay)
        self._max_batch = max_batch
        self._cache_size = cache_size
        #: Called with (seconds, rows) after each committed batch (metrics).
        self.on_flush: Callable[[float, int], None] | None = None

        # Two connections to one WAL database. ``_db`` lives on the event loop's thread:
        # commits and point reads run on it synchronously (microseconds of C each, no
        # thread hop, no GIL hand-off). ``_conn`` (aiosqlite, its own thread) runs what may
        # take long: migrations, scans, maintenance transactions, checkpoints.
        self._db: sqlite3.Connection | None = None
        self._conn: aiosqlite.Connection | None = None
        self._version = 0
        self._closed = False
        self._lock = asyncio.Lock()  # one commit or maintenance transaction at a time
        self._kick = asyncio.Event()  # the first write of a batch arrived
        self._full = asyncio.Event()  # max_batch writes are waiting
        self._flusher: asyncio.Task[None] | None = None
        self._checkpointer: asyncio.Task[None] | None = None
        self._commit_soon = False  # a commit is scheduled for the next loop turn
        self._failing = False  # the last commit failed: only the flusher retries
        self._rows_since_checkpoint = 0
        self._finish_checkpoint = False  # a background checkpoint ran: finish it before the next commit
        self._count = 0  # buffered writes not yet taken by a commit
        self._seq = 0  # writes ever buffered; a write's number is _seq after it
        self._committed_seq = 0  # every write numbered up to this is durable
        self._committed = asyncio.Event()  # set after every commit
        self._first_write = 0.0  # time.monotonic() of the first write of the batch

        self._last_follower_id = 0
        self._last_interaction_id = 0
        self._last_outbox_id = 0
        # Ids merged away (-> the id they live on as) or forgotten (-> 0): late writes
        # naming them are redirected or dropped instead of resurrecting the person.
        self._gone: dict[int, int] = {}

        self._followers: _Buffer[int, FollowerRecord] = _Buffer()
        self._follower_cache: Lru[int, FollowerRecord] = Lru(cache_size)
        self._identities: _Buffer[tuple[str, str], Identity] = _Buffer()
        self._identity_cache: Lru[tuple[str, str], Identity] = Lru(cache_size)
        self._interactions = _InteractionBuffer()
        self._processed: _Buffer[tuple[str, str], str] = _Buffer()
        self._outbox: _Buffer[int, OutboxEntry] = _Buffer()
        self._cursor_buf: _Buffer[str, str] = _Buffer()
        self._cursors: dict[str, str] = {}
        self._once: _Buffer[str, str] = _Buffer()
        self._kv: _Buffer[tuple[str, str], tuple[str, int] | None] = _Buffer()
        self._kv_cache: Lru[tuple[str, str], str | None] = Lru(cache_size)
        self._job_buf: _Buffer[str, Job | None] = _Buffer()
        self._jobs: dict[str, Job] = {}
        # Keys that may exist (identities, processed ids, once-keys): a miss means "new"
        # without a read; a hit is settled by one indexed read. Built at open.
        self._identity_seen = BloomFilter(_MIN_FILTER_CAPACITY)
        self._processed_seen = BloomFilter(_MIN_FILTER_CAPACITY)
        self._once_seen = BloomFilter(_MIN_FILTER_CAPACITY)

    # --- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> SqliteStore:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Open (creating if needed), migrate, load the counters and the key filters."""
        if self._conn is not None:
            return
        if self._closed:
            raise StoreError("this store was closed; create a new SqliteStore to reopen")
        if self._path == ":memory:":
            self._temp_dir = tempfile.mkdtemp(prefix="brandbot-store-")
            self._path = str(Path(self._temp_dir) / "memory.sqlite3")
        else:
            parent = Path(self._path).expanduser().parent
            if not parent.is_dir():
                raise StoreError(
                    f"cannot open database {self._path}: folder {parent} does not exist"
                )
        try:
            conn = await aiosqlite.connect(self._path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {self._path}: {exc}") from exc
        try:
            for pragma in _CONNECTION_PRAGMAS:
                await conn.execute_fetchall(pragma)
            self._version = await migrations.migrate(conn)
            self._db = self._open_loop_connection()
            self._conn = conn
            await self._load()
        except BaseException as exc:
            self._conn = None
            if self._db is not None:
                self._db.close()
                self._db = None
            await conn.close()
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"cannot open database {self._path}: {exc}") from exc
            raise
        self._flusher = asyncio.get_running_loop().create_task(
            self._flush_loop(), name=f"brandbot-store-flusher:{self._path}"
        )

    def _open_loop_connection(self) -> sqlite3.Connection:
        db = sqlite3.connect(self._path, isolation_level=None)
        for pragma in _CONNECTION_PRAGMAS:
            db.execute(pragma).fetchall()
        # Checkpoints copy the WAL into the database and may fsync: they run on the
        # aiosqlite thread (see _checkpoint), never inside a commit on the event loop.
        db.execute("PRAGMA wal_autocheckpoint = 0").fetchall()
        db.execute(f"PRAGMA cache_size = -{_PAGE_CACHE_KIB}").fetchall()
        return db

    async def _load(self) -> None:
        """Counters from the database, the small tables, and the key filters."""
        seq = dict(await self._fetch("SELECT name, seq FROM sqlite_sequence"))
        for table, attr in (
            ("followers", "_last_follower_id"),
            ("interactions", "_last_interaction_id"),
            ("outbox", "_last_outbox_id"),
        ):
            rows = await self._fetch(f"SELECT MAX(id) FROM {table}")
            setattr(self, attr, max(int(seq.get(table) or 0), int(rows[0][0] or 0)))
        self._cursors = dict(await self._fetch("SELECT key, value FROM cursors"))
        self._jobs = {
            job.name: job
            for job in map(
                _job_from, await self._fetch("SELECT name, due, owner, payload FROM jobs")
            )
        }
        self._identity_seen = await self._build_filter("SELECT network, user_id FROM identities")
        self._processed_seen = await self._build_filter("SELECT network, event_id FROM processed")
        self._once_seen = await self._build_filter("SELECT key FROM once_keys", single=True)

    async def _build_filter(self, sql: str, *, single: bool = False) -> BloomFilter:
        """A filter of every key the query returns, with room to double."""
        count_sql = f"SELECT COUNT(*) FROM ({sql})"
        total = int((await self._fetch(count_sql))[0][0])
        built = BloomFilter(max(_MIN_FILTER_CAPACITY, 2 * total))
        add = built.add
        cursor = await self._connection().execute(sql)
        try:
            while rows := await cursor.fetchmany(50_000):
                if single:
                    for (key,) in rows:
                        add(key)
                else:
                    for row in rows:
                        add(tuple(row))
        finally:
            await cursor.close()
        return built

    async def backup(self, target: str | Path) -> None:
        """Write a consistent copy of the database to ``target`` while running (VACUUM INTO)."""
        await self.flush()
        conn = self._conn
        if conn is None:
            raise StoreError("the store is not open")
        target = Path(target)
        if target.exists():
            raise StoreError(f"backup target {target} exists; choose a new file name")
        await conn.execute("VACUUM INTO ?", (str(target),))

    async def close(self) -> None:
        """Stop the flusher, commit what is buffered, close. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        flusher, self._flusher = self._flusher, None
        if flusher is not None:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
        if self._checkpointer is not None:  # let a running checkpoint finish
            await asyncio.shield(self._checkpointer)
        conn, db = self._conn, self._db
        if conn is None:
            return
        try:
            async with self._lock:
                self._commit_pending()
                with contextlib.suppress(sqlite3.Error):
                    await conn.execute_fetchall("PRAGMA optimize")  # keeps the planner's statistics fresh
        finally:
            self._conn = self._db = None
            if db is not None:
                db.close()
            await conn.close()
            if self._temp_dir is not None:
                shutil.rmtree(self._temp_dir, ignore_errors=True)

    async def flush(self) -> None:
        """Commit everything buffered so far; return once it is durable."""
        if self._conn is None:
            if self._closed:
                return
            raise StoreError("the store is not open; call open() first")
        async with self._lock:
            self._commit_pending()

    def backlog(self) -> int:
        """Buffered writes not yet taken by a commit."""
        return self._count

    def write_seq(self) -> int:
        """The number of the latest buffered write (see ``ensure_committed``)."""
        return self._seq

    async def ensure_committed(self, seq: int) -> None:
        """Return once every write numbered up to ``seq`` is durable (commit now if needed).

        The outbox calls this before handing a reply to a network, so a reply is never
        sent while its row (and its event's processed mark) exist only in memory.
        """
        if self._committed_seq >= seq:
            return
        self.request_commit()
        while self._committed_seq < seq and self._conn is not None:
            self._committed.clear()
            await self._committed.wait()

    def request_commit(self) -> None:
        """Commit what is buffered at the next turn of the event loop.

        Every reply waits for its row's commit: one commit per loop turn serves all the
        replies of that turn, so the wait is one turn, not ``commit_delay``.
        """
        if not self._commit_soon and self._db is not None:
            self._commit_soon = True
            asyncio.get_running_loop().call_soon(self._commit_now)

    def _commit_now(self) -> None:
        self._commit_soon = False
        if self._db is None:
            return
        if self._lock.locked() or self._failing:
            # A maintenance transaction runs, or commits fail: the flusher commits after
            # it, or retries with backoff instead of every loop turn.
            self._full.set()
            return
        if not self._try_commit():
            self._kick.set()

    def schema_version(self) -> int:
        return self._version

    # --- the write-behind machinery -------------------------------------------------------

    def _note_write(self) -> None:
        if self._closed:
            raise StoreError("the store is closed; no more writes are accepted")
        self._count += 1
        self._seq += 1
        if self._count == 1:
            self._first_write = time.monotonic()
            self._kick.set()
        elif self._count >= self._max_batch:
            self._full.set()

    async def _flush_loop(self) -> None:
        """Commit each batch at most ``commit_delay`` after its first write (sooner when a
        reply waits for it or ``max_batch`` writes are waiting); retry failures."""
        backoff = max(self._commit_delay, 0.05)
        while True:
            await self._kick.wait()
            remaining = self._first_write + self._commit_delay - time.monotonic()
            if self._count < self._max_batch and remaining > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), remaining)
            self._kick.clear()
            self._full.clear()
            if await self._locked_commit():
                backoff = max(self._commit_delay, 0.05)
            else:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _RETRY_MAX_SECONDS)
            if self._count:
                self._kick.set()

    async def _locked_commit(self) -> bool:
        """One background commit; failures are logged and the batch kept for a retry."""
        async with self._lock:
            return self._try_commit()

    def _try_commit(self) -> bool:
        """Commit now; on failure log, keep the batch for a retry and return False."""
        try:
            self._commit_pending()
        except Exception:
            self._failing = True
            logger.error(
                "store: committing buffered writes failed; keeping %d writes to retry",
                self._count,
                exc_info=True,
            )
            return False
        self._failing = False
        return True

    def _take_batch(self) -> _Batch:
        followers = self._followers.take()
        identities = self._identities.take()
        interactions = self._interactions.take()
        processed = self._processed.take()
        outbox = self._outbox.take()
        cursors = self._cursor_buf.take()
        once = self._once.take()
        kv = self._kv.take()
        jobs = self._job_buf.take()
        statements: list[tuple[str, str, list[tuple[Any, ...]]]] = [
            # followers before identities: identities reference followers.
            ("followers", _SQL_UPSERT_FOLLOWER, [row for _, row in followers.values()]),
            ("identities", _SQL_UPSERT_IDENTITY, [row for _, row in identities.values()]),
            ("interactions", _SQL_PUT_INTERACTION, interactions),
            ("processed", _SQL_MARK_PROCESSED, [row for _, row in processed.values()]),
            ("outbox", _SQL_PUT_OUTBOX, [row for _, row in outbox.values()]),
            ("cursors", _SQL_SET_CURSOR, [row for _, row in cursors.values()]),
            ("once_keys", _SQL_MARK_ONCE, [row for _, row in once.values()]),
            ("plugin_data", _SQL_KV_SET, [row for v, row in kv.values() if v is not None]),
            ("plugin_data", _SQL_KV_DELETE, [row for v, row in kv.values() if v is None]),
            ("jobs", _SQL_PUT_JOB, [row for v, row in jobs.values() if v is not None]),
            ("jobs", _SQL_DELETE_JOB, [row for v, row in jobs.values() if v is None]),
        ]
        batch = _Batch([s for s in statements if s[2]], self._count)
        self._count = 0
        return batch

    def _buffers(self) -> tuple[Any, ...]:
        return (
            self._followers, self._identities, self._interactions, self._processed,
            self._outbox, self._cursor_buf, self._once, self._kv, self._job_buf,
        )  # fmt: skip

    def _restore_batch(self, batch: _Batch) -> None:
        for buffer in self._buffers():
            buffer.restore()
        self._count += batch.writes
        if self._count:
            self._kick.set()

    def _settle_batch(self) -> None:
        for follower_id, (follower, _) in self._followers.settle().items():
            self._follower_cache.put(follower_id, follower)
        for identity_key, (identity, _) in self._identities.settle().items():
            self._identity_cache.put(identity_key, identity)
        for kv_key, (value, _) in self._kv.settle().items():
            self._kv_cache.put(kv_key, None if value is None else value[0])
        for buffer in (
            self._interactions, self._processed, self._outbox, self._cursor_buf,
            self._once, self._job_buf,
        ):  # fmt: skip
            buffer.settle()

    def _commit_pending(self) -> None:
        """Write the buffered batch in one transaction, now. Caller holds ``_lock``.

        Synchronous on purpose: the batch is a few executemany calls of C work (tens of
        microseconds for a typical batch), cheaper than handing it to another thread and
        waiting for that thread to get the GIL back.
        """
        if self._count == 0:
            return
        db = self._loop_connection()
        if self._finish_checkpoint:
            self._finish_checkpoint = False
            with contextlib.suppress(sqlite3.Error):  # a busy reader: the next round retries
                db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        batch = self._take_batch()
        batch_seq = self._seq
        started = time.perf_counter()
        try:
            try:
                self._write_batch(db, batch)
            except _DATA_ERRORS as exc:
                logger.error(
                    "store: a buffered row cannot be written (%s); writing the batch row by "
                    "row to keep the rest",
                    exc,
                )
                self._salvage_batch(db, batch)
        except BaseException as exc:
            self._restore_batch(batch)
            if isinstance(exc, Exception):
                raise StoreError(
                    f"could not commit {batch.writes} buffered writes to {self._path}: {exc}"
                ) from exc
            raise
        self._settle_batch()
        self._committed_seq = max(self._committed_seq, batch_seq)
        self._committed.set()
        self._rows_since_checkpoint += batch.writes
        if self._rows_since_checkpoint >= _CHECKPOINT_ROWS and self._checkpointer is None:
            self._rows_since_checkpoint = 0
            self._checkpointer = asyncio.get_running_loop().create_task(
                self._checkpoint(), name=f"brandbot-store-checkpoint:{self._path}"
            )
        if self.on_flush is not None:
            self.on_flush(time.perf_counter() - started, batch.writes)

    @staticmethod
    def _write_batch(db: sqlite3.Connection, batch: _Batch) -> None:
        try:
            db.execute("BEGIN IMMEDIATE")
            for _, sql, rows in batch.statements:
                db.executemany(sql, rows)
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise

    @staticmethod
    def _salvage_batch(db: sqlite3.Connection, batch: _Batch) -> None:
        """One statement per row; rows that can never be written are logged and dropped."""
        try:
            db.execute("BEGIN IMMEDIATE")
            for table, sql, rows in batch.statements:
                for row in rows:
                    try:
                        db.execute(sql, row)
                    except _DATA_ERRORS as exc:
                        logger.error(
                            "store: dropped a %s row that cannot be stored (%s); first column %r",
                            table,
                            exc,
                            row[0],
                        )
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise

    async def _checkpoint(self) -> None:
        """Copy the WAL into the database on a worker thread (it may wait for the disk).

        Commits go on meanwhile, so this copy never quite catches up, and SQLite only
        starts the WAL file over once a checkpoint has copied every frame. The next
        commit therefore first copies the few frames written since (see
        ``_finish_checkpoint``); without that the WAL grows without end.
        """
        try:
            await asyncio.to_thread(_checkpoint_file, self._path)
            self._finish_checkpoint = True
        except (sqlite3.Error, OSError) as exc:
            logger.warning("store: WAL checkpoint failed (%s); will try again later", exc)
        finally:
            self._checkpointer = None

    @staticmethod
    async def _rollback(conn: aiosqlite.Connection) -> None:
        with contextlib.suppress(sqlite3.Error, ValueError):
            await conn.execute("ROLLBACK")

    # --- small helpers --------------------------------------------------------------------

    def _loop_connection(self) -> sqlite3.Connection:
        if self._db is None:
            if self._closed:
                raise StoreError("the store is closed")
            raise StoreError("the store is not open; call open() first")
        return self._db

    def _read_now(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """A point read on the event loop's connection: an indexed lookup, no thread hop."""
        try:
            return self._loop_connection().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"database read failed ({exc}): {sql.split(' WHERE')[0]}") from exc

    def _connection(self) -> aiosqlite.Connection:
        if self._conn is None:
            if self._closed:
                raise StoreError("the store is closed")
            raise StoreError("the store is not open; call open() first")
        return self._conn

    async def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            return list(await self._connection().execute_fetchall(sql, params))
        except sqlite3.Error as exc:
            raise StoreError(f"database read failed ({exc}): {sql.split(' WHERE')[0]}") from exc

    async def _count_rows(self, table: str) -> int:
        rows = await self._fetch(f"SELECT COUNT(*) FROM {table}")
        return int(rows[0][0])

    async def _transaction(
        self, work: Callable[[aiosqlite.Connection], Awaitable[R]], *, erase: bool = False
    ) -> R:
        """Flush, then run ``work`` in one transaction. Caller holds ``_lock``.

        ``erase`` also zeroes pages freed by the work (secure_delete ON rather than the
        usual FAST), for work that removes personal data.
        """
        self._commit_pending()
        conn = self._connection()
        try:
            if erase:
                await conn.execute_fetchall("PRAGMA secure_delete = ON")
            try:
                try:
                    await conn.execute("BEGIN IMMEDIATE")
                    result = await work(conn)
                    await conn.execute("COMMIT")
                except BaseException:
                    await self._rollback(conn)
                    raise
            finally:
                if erase:
                    await conn.execute_fetchall("PRAGMA secure_delete = FAST")
        except sqlite3.Error as exc:
            raise StoreError(f"database transaction failed: {exc}") from exc
        return result

    def _redirect(self, follower_id: int) -> int:
        """Where writes naming ``follower_id`` go now: itself, its merge target, or 0 (gone)."""
        return self._gone.get(follower_id, follower_id) if follower_id else follower_id

    # --- followers and identities ---------------------------------------------------------

    async def resolve(self, person: Person, now: datetime) -> tuple[FollowerRecord, bool]:
        """The follower behind ``person``; created with its identity if new."""
        key = (person.network, person.id)
        identity = self._cached_identity(key)
        if identity is None and key in self._identity_seen:
            rows = self._read_now(
                f"SELECT {_IDENTITY_COLUMNS} FROM identities WHERE network = ? AND user_id = ?",
                key,
            )
            if rows:
                identity = _identity_from(rows[0])
                self._identity_cache.put(key, identity)
        if identity is not None:
            follower_id = self._redirect(identity.follower_id)
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
        hit: Identity | None = self._identities.get(key)
        if hit is _MISSING:
            hit = self._identity_cache.get(key, None)
        return hit

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
        hit: FollowerRecord | None = self._followers.get(follower_id)
        if hit is _MISSING:
            hit = self._follower_cache.get(follower_id, None)
        return hit

    async def get_follower(self, follower_id: int) -> FollowerRecord | None:
        follower = self._cached_follower(follower_id)
        if follower is not None:
            return follower
        if self._gone.get(follower_id, follower_id) != follower_id:
            return None
        rows = self._read_now(f"SELECT {_FOLLOWER_COLUMNS} FROM followers WHERE id = ?", (follower_id,))
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
        row = _follower_row(follower)
        self._note_write()
        if follower.id > self._last_follower_id:
            self._last_follower_id = follower.id
        self._followers.put(follower.id, follower, row)

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
            identity = self._identity_cache.get(key, None)
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
        now = _ts(datetime.now(timezone.utc))
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

    # --- history ----------------------------------------------------------------------------

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

    # --- dedupe -------------------------------------------------------------------------------

    async def is_processed(self, network: str, event_id: str) -> bool:
        key = (network, event_id)
        if key in self._processed:
            return True
        if key not in self._processed_seen:
            return False
        return bool(self._read_now("SELECT 1 FROM processed WHERE network = ? AND event_id = ?", key))

    def mark_processed(self, network: str, event_id: str, at: datetime) -> None:
        """Buffered."""
        key = (network, event_id)
        at_text = _ts(at)
        self._note_write()
        self._processed.put(key, at_text, (network, event_id, at_text))
        self._processed_seen.add(key)

    async def prune_processed(self, older_than: datetime) -> int:
        cutoff = _ts(older_than)

        async def work(conn: aiosqlite.Connection) -> int:
            cursor = await conn.execute("DELETE FROM processed WHERE at < ?", (cutoff,))
            return cursor.rowcount

        async with self._lock:
            deleted = await self._transaction(work)
            if self._processed_seen.full:  # pruned keys linger in the filter: start afresh
                self._processed_seen = await self._build_filter(
                    "SELECT network, event_id FROM processed"
                )
                for key in self._processed.snapshot():
                    self._processed_seen.add(key)
        return deleted

    # --- outbox ---------------------------------------------------------------------------------

    def next_outbox_id(self) -> int:
        """Allocate an outbox id without a round-trip (ids are never reused)."""
        self._connection()  # the counter is only meaningful once loaded
        self._last_outbox_id += 1
        return self._last_outbox_id

    def put_outbox(self, entry: OutboxEntry) -> None:
        """Buffered: insert or replace an outbox row."""
        if entry.follower_id in self._gone:
            follower_id = self._gone[entry.follower_id]
            if not follower_id:
                return
            entry = replace(entry, follower_id=follower_id)
        row = _outbox_row(entry)
        self._note_write()
        if entry.id > self._last_outbox_id:
            self._last_outbox_id = entry.id
        self._outbox.put(entry.id, entry, row)

    async def pending_outbox(
        self, limit: int = 1000, *, network: str | None = None, after_id: int = 0
    ) -> list[OutboxEntry]:
        """Rows still PENDING with an id above ``after_id`` (of one network if given),
        oldest (lowest id) first, buffered ones included."""
        buffered = self._outbox.snapshot()
        where = "status = ? AND id > ?" + (" AND network = ?" if network is not None else "")
        params: list[Any] = [OutboxStatus.PENDING.value, after_id]
        if network is not None:
            params.append(network)
        rows = await self._fetch(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE {where} ORDER BY id LIMIT ?",
            (*params, limit + len(buffered)),
        )
        found = {row[0]: _outbox_from(row) for row in rows}
        for entry_id, entry in buffered.items():
            wanted = (
                entry.status == OutboxStatus.PENDING
                and entry_id > after_id
                and (network is None or entry.network == network)
            )
            if wanted:
                found[entry_id] = entry
            else:
                found.pop(entry_id, None)
        return sorted(found.values(), key=lambda e: e.id)[:limit]

    async def outbox_for(self, follower_id: int, limit: int = 50) -> list[OutboxEntry]:
        """The follower's outbox rows, newest first, buffered ones included."""
        buffered = self._outbox.snapshot()
        rows = await self._fetch(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE follower_id = ? ORDER BY id DESC LIMIT ?",
            (follower_id, limit + len(buffered)),
        )
        found = {row[0]: _outbox_from(row) for row in rows}
        for entry_id, entry in buffered.items():
            if entry.follower_id == follower_id:
                found[entry_id] = entry
            else:
                found.pop(entry_id, None)
        return sorted(found.values(), key=lambda e: e.id, reverse=True)[:limit]

    async def outbox_counts(self) -> dict[str, int]:
        """Rows per status (every status present, zero included)."""
        await self.flush()
        rows = await self._fetch("SELECT status, COUNT(*) FROM outbox GROUP BY status")
        counts = {status.value: 0 for status in OutboxStatus}
        counts.update({status: count for status, count in rows})
        return counts

    # --- cursors, once-keys, plugin data, jobs --------------------------------------------

    async def get_cursor(self, key: str) -> str | None:
        return self._cursors.get(key)

    def set_cursor(self, key: str, value: str) -> None:
        """Buffered."""
        self._note_write()
        self._cursors[key] = value
        self._cursor_buf.put(key, value, (key, value))

    async def once_used(self, key: str) -> bool:
        if key in self._once:
            return True
        if key not in self._once_seen:
            return False
        return bool(self._read_now("SELECT 1 FROM once_keys WHERE key = ?", (key,)))

    def mark_once(self, key: str, at: datetime) -> None:
        """Buffered."""
        at_text = _ts(at)
        self._note_write()
        if key not in self._once:
            self._once.put(key, at_text, (key, at_text))
        self._once_seen.add(key)

    async def kv_get(self, namespace: str, key: str) -> str | None:
        k = (namespace, key)
        hit = self._kv.get(k)
        if hit is not _MISSING:
            return None if hit is None else hit[0]
        cached: str | None = self._kv_cache.get(k)
        if cached is not _MISSING:
            return cached
        rows = self._read_now("SELECT value FROM plugin_data WHERE namespace = ? AND key = ?", k)
        value = rows[0][0] if rows else None
        self._kv_cache.put(k, value)
        return value

    def kv_set(self, namespace: str, key: str, value: str, follower_id: int = 0) -> None:
        """Buffered. ``follower_id`` ties the datum to a person so ``forget`` removes it."""
        if follower_id in self._gone:
            follower_id = self._gone[follower_id]
            if not follower_id:
                return
        if not isinstance(value, str):
            raise TypeError(
                f"plugin data values are text; got {type(value).__name__} (use json.dumps)"
            )
        self._note_write()
        self._kv.put((namespace, key), (value, follower_id), (namespace, key, value, follower_id))

    def kv_delete(self, namespace: str, key: str) -> None:
        """Buffered."""
        self._note_write()
        self._kv.put((namespace, key), None, (namespace, key))

    async def kv_items(self, namespace: str, prefix: str = "") -> list[tuple[str, str]]:
        """(key, value) pairs of the namespace whose key starts with ``prefix``, in key order."""
        buffered = self._kv.snapshot()
        rows = await self._fetch(
            "SELECT key, value FROM plugin_data WHERE namespace = ? AND key >= ? "
            "AND substr(key, 1, ?) = ? ORDER BY key",
            (namespace, prefix, len(prefix), prefix),
        )
        found = dict(rows)
        for (ns, key), value in buffered.items():
            if ns != namespace or not key.startswith(prefix):
                continue
            if value is None:
                found.pop(key, None)
            else:
                found[key] = value[0]
        return sorted(found.items())

    def put_job(self, job: Job) -> None:
        """Buffered: insert or replace by name."""
        row = _job_row(job)
        self._note_write()
        self._jobs[job.name] = job
        self._job_buf.put(job.name, job, row)

    def delete_job(self, name: str) -> None:
        """Buffered."""
        self._note_write()
        self._jobs.pop(name, None)
        self._job_buf.put(name, None, (name,))

    async def due_jobs(self, now: datetime) -> list[Job]:
        """Jobs due at or before ``now``, soonest first."""
        return sorted(
            (job for job in self._jobs.values() if job.due <= now),
            key=lambda job: (job.due, job.name),
        )

    async def all_jobs(self) -> list[Job]:
        """Every scheduled job, soonest first."""
        return sorted(self._jobs.values(), key=lambda job: (job.due, job.name))

    # --- privacy --------------------------------------------------------------------------

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
