"""The write-behind machinery: buffered writes, committed in batches.

Every incoming event causes several small writes (processed id, follower counters,
history row, outbox row). Committing each one would cap the bot at a few hundred events
a second, so buffered writes go into an in-memory batch and a background flusher commits
the whole batch in ONE transaction, at most ``commit_delay`` seconds after the first
write of the batch (sooner when a reply waits for it, see ``ensure_committed``, or when
``max_batch`` writes are waiting). A commit that fails is logged and its batch kept for a
retry, with backoff; nothing is lost.

A small batch is committed at once on the event loop's thread (``executemany``); a large
one (under load) on the store's writer thread as one statement (see ``bulk.py``): the
loop only takes and encodes it and goes on handling events while SQLite writes. Buffered
rows stay readable (``_Buffer``'s inflight) until the loop settles them after the commit
is durable; point reads use a connection of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiosqlite

from brandbot.core.errors import StoreError
from brandbot.core.lru import Lru
from brandbot.core.records import FollowerRecord, Identity, Job, OutboxEntry
from brandbot.store.bloom import KeyFilter
from brandbot.store.sqlite.batch import (
    _SQL_DELETE_JOB,
    _SQL_KV_DELETE,
    _SQL_KV_SET,
    _SQL_MARK_ONCE,
    _SQL_MARK_PROCESSED,
    _SQL_PUT_INTERACTION,
    _SQL_PUT_JOB,
    _SQL_PUT_OUTBOX,
    _SQL_SET_CURSOR,
    _SQL_UPSERT_FOLLOWER,
    _SQL_UPSERT_IDENTITY,
    _Batch,
    commit_batch,
    finish_commit,
    write_rows,
)
from brandbot.store.sqlite.buffers import _MISSING, _Buffer, _InteractionBuffer
from brandbot.store.sqlite.bulk import BulkStatement, Unencodable
from brandbot.store.sqlite.rows import _follower_row

# One logger name for the whole package, as before it was split into modules.
logger = logging.getLogger("brandbot.store.sqlite")


_RETRY_MAX_SECONDS = 5.0
#: Bloom filters start with room for this many keys (about 1.3 MB each at 1% errors).
_MIN_FILTER_CAPACITY = 1_000_000
#: Committed rows after which the WAL is checkpointed (off the event loop's thread).
_CHECKPOINT_ROWS = 50_000
#: Writes from which a batch is committed on the writer thread rather than at once on the
#: loop's thread (see ``_commit_pending``). A thread commit costs more CPU in all (JSON in
#: and out: ~55-70 us of C per event on the thread and ~8 us of encoding on the loop,
#: against ~40-50 us of executemany and COMMIT on the loop) and adds the thread's wake-up
#: and two GIL hand-offs to the wait of the replies in the batch; it pays when the loop's
#: thread is the bottleneck. Measured with ``brandbot bench``-like runs (60k events, 30k
#: followers, 100 rules): at 2,000 events/s batches hold 11-55 writes (p90), so they stay
#: here; at the maximum rate they hold ~230 writes (31 events) when written here and
#: grow to ~2,800 (400 events) once on the thread. Tried at 160 (2,200 events/s,
#: ``benchmarks/stalls.py``): the 2-6 ms loop commits of 160-512 writes (after a stall)
#: went, but on a busy machine each thread commit let the next batch grow past the
#: threshold too, up to 2,000-4,000 writes, and event-to-send p50 rose to 0.2-0.7 s.
#: Below it the COMMIT stays on the loop's thread too (only a batch that finishes a WAL
#: checkpoint sends its COMMIT to the thread). Tried: the COMMIT of every smaller batch on
#: the thread (interleaved runs at 2,200 events/s, 30k followers, uvloop, 2 pairs) made the
#: commit a reply waits for p50 0.75-0.92 / p99 12-13 ms instead of 0.22 / 0.9 ms, and
#: event-to-send p50 0.6 -> 1.8-2.4 ms, p99 16-18 -> 45-93 ms (batches there hold 14-24
#: writes, p50). Only for batches of 128-511 writes: about 4.5% more at the maximum rate,
#: but a thread COMMIT after a stall let the next batch pass 512 and go to the thread
#: whole, and the next; quiet machine, uvloop, 2,700 events/s, 2 pairs: p99 event-to-send
#: 38.5 / 18.3 ms with it, 4.1 / 4.2 ms without; at 2,200 events/s, 3 pairs: medians 4.5
#: and 2.9 ms.
_THREAD_MIN_WRITES = 512


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


class WriteBehind:
    """The store's state, and the batch that carries its buffered writes to the database."""

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

        # Three connections to one WAL database. ``_db`` lives on the event loop's thread
        # and only reads: point reads run on it synchronously (microseconds of C each, no
        # thread hop; WAL readers never wait for the writer). ``_writer`` commits the
        # batches: on the loop's thread when small, else on the ``_write_thread`` (never
        # both at once: one commit at a time, under ``_lock``). ``_conn`` (aiosqlite, its own thread)
        # runs what may take long: migrations, scans, maintenance transactions.
        self._db: sqlite3.Connection | None = None
        self._writer: sqlite3.Connection | None = None
        self._write_thread: ThreadPoolExecutor | None = None
        #: The one-statement form of a batch, when this SQLite has what it needs.
        self._bulk: BulkStatement | None = None
        self._conn: aiosqlite.Connection | None = None
        self._version = 0
        self._closed = False
        self._lock = asyncio.Lock()  # one commit or maintenance transaction at a time
        self._kick = asyncio.Event()  # the first write of a batch arrived
        self._full = asyncio.Event()  # max_batch writes are waiting
        self._flusher: asyncio.Task[None] | None = None
        self._checkpointer: asyncio.Task[None] | None = None
        self._urgent = False  # a commit was requested: the flusher does not wait
        self._failing = False  # the last commit failed: only the flusher retries
        self._rows_since_checkpoint = 0
        # A background checkpoint ran: finish it before the next commit.
        self._finish_checkpoint = False
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
        # without a read; a hit is settled by one indexed read. Filled in the background
        # after open (until then every lookup reads).
        self._identity_seen = KeyFilter()
        self._processed_seen = KeyFilter()
        self._once_seen = KeyFilter()
        self._filler: asyncio.Task[None] | None = None

    # --- durability ----------------------------------------------------------------------

    async def flush(self) -> None:
        """Commit everything buffered so far; return once it is durable."""
        if self._conn is None:
            if self._closed:
                return
            raise StoreError("the store is not open; call open() first")
        async with self._lock:
            await self._commit_pending()

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
        """Start committing what is buffered at the next turn of the event loop.

        Every reply waits for its row's commit: one commit started at the next loop turn
        serves all the replies of that turn (and those of the turns it runs beside take
        the next one), so the wait is a commit or two, not ``commit_delay``. While a
        maintenance transaction runs the commit follows it; while commits fail they are
        retried with backoff, not every loop turn.
        """
        if self._db is not None and not self._urgent:
            self._urgent = True
            self._kick.set()
            self._full.set()  # the flusher may be waiting out commit_delay

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
            if not self._urgent and self._count < self._max_batch and remaining > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), remaining)
            self._kick.clear()
            self._full.clear()
            self._urgent = False
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
            return await self._try_commit()

    async def _try_commit(self) -> bool:
        """Commit now; on failure log, keep the batch for a retry and return False."""
        try:
            await self._commit_pending()
        except Exception:
            self._failing = True
            logger.exception(
                "store: committing buffered writes failed; keeping %d writes to retry",
                self._count,
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
            ("followers", _SQL_UPSERT_FOLLOWER, [_follower_row(f) for f, _ in followers.values()]),
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

    def _buffers(self) -> tuple[_Buffer[Any, Any] | _InteractionBuffer, ...]:
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
        # Written plugin data refreshes what is cached but is not added: in the soak the
        # cache then held the last 10,000 writes (3 MB) and answered none of the reads.
        kv_cache = self._kv_cache
        for kv_key, (value, _) in self._kv.settle().items():
            if kv_cache.peek(kv_key, _MISSING) is not _MISSING:
                kv_cache.put(kv_key, None if value is None else value[0])
        for buffer in (
            self._interactions, self._processed, self._outbox, self._cursor_buf,
            self._once, self._job_buf,
        ):  # fmt: skip
            buffer.settle()

    async def _commit_pending(self) -> None:
        """Write the buffered batch in one transaction and return once it is durable.
        Caller holds ``_lock``.

        A batch under ``_THREAD_MIN_WRITES`` is committed at once on the loop's thread,
        ``executemany`` per table (on another thread each row would wait for the GIL): the
        thread's hand-off would cost its replies more than the COMMIT. If it also finishes
        a WAL checkpoint, its COMMIT and the checkpoint's last pass (10-25 ms with their
        fsyncs, no GIL needed) go to the writer thread while the loop goes on. A large one (under load) is
        encoded here (``json.dumps``, C) and written on the writer thread as one statement
        with the GIL released for all of it, so the loop goes on handling events
        meanwhile. Either way the batch's rows stay readable until they are settled here,
        after the commit is durable. Cancelled while the thread writes, this still waits
        for it (it cannot be stopped), so that the batch is settled or restored, never both.
        """
        if self._count == 0:
            return
        db = self._writer_connection()
        batch = self._take_batch()
        batch_seq = self._seq
        finish_checkpoint, self._finish_checkpoint = self._finish_checkpoint, False
        started = time.perf_counter()
        # When a checkpoint is due, the rows still stay here: a whole batch on the thread
        # let the next batches pass _THREAD_MIN_WRITES and, on a busy machine, stay on the
        # thread at up to 2,000 writes, with p99 event-to-send worse (benchmarks/stalls.py).
        loop = asyncio.get_running_loop()
        if self._bulk is None or batch.writes < _THREAD_MIN_WRITES:
            here = not finish_checkpoint
            try:
                write_rows(db, batch)
                if here:
                    finish_commit(db, False)
            except Exception as exc:
                self._restore_batch(batch)
                raise self._commit_error(batch, exc) from exc
            except BaseException:
                self._restore_batch(batch)
                raise
            if here:
                self._settled(batch, batch_seq, started)
                return
            job = loop.run_in_executor(self._write_thread, finish_commit, db, finish_checkpoint)
        else:
            bulk = None
            try:
                bulk = (self._bulk.insert, self._bulk.parameters(batch.statements))
            except Unencodable as exc:
                logger.debug("store: writing a batch statement by statement (%s)", exc)
            job = loop.run_in_executor(
                self._write_thread, commit_batch, db, batch, bulk, finish_checkpoint
            )
        cancelled = await _wait_out(job)
        failure = job.exception()
        if failure is not None:
            self._restore_batch(batch)
            if cancelled:
                raise asyncio.CancelledError
            if isinstance(failure, Exception):
                raise self._commit_error(batch, failure) from failure
            raise failure
        self._settled(batch, batch_seq, started)
        if cancelled:
            raise asyncio.CancelledError

    def _commit_error(self, batch: _Batch, failure: Exception) -> StoreError:
        return StoreError(
            f"could not commit {batch.writes} buffered writes to {self._path}: {failure}"
        )

    def _settled(self, batch: _Batch, batch_seq: int, started: float) -> None:
        """The batch is durable: forget its buffered rows, wake who waits for it."""
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

    def _loop_connection(self) -> sqlite3.Connection:
        if self._db is None:
            if self._closed:
                raise StoreError("the store is closed")
            raise StoreError("the store is not open; call open() first")
        return self._db

    def _writer_connection(self) -> sqlite3.Connection:
        if self._writer is None or self._write_thread is None:
            if self._closed:
                raise StoreError("the store is closed")
            raise StoreError("the store is not open; call open() first")
        return self._writer


async def _wait_out(job: asyncio.Future[None]) -> bool:
    """Wait until ``job`` (on a thread, which cannot be stopped) is done, even through
    cancellation; True if the waiting task was cancelled meanwhile."""
    cancelled = False
    while not job.done():
        try:
            await asyncio.wait([job])
        except asyncio.CancelledError:
            cancelled = True
    return cancelled
