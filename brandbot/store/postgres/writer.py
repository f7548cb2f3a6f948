"""The write-behind machinery on PostgreSQL: buffered writes, one transaction per batch.

Like the SQLite store, every buffered write goes into an in-memory batch that a background
flusher commits in ONE transaction (``executemany`` per table), at most ``commit_delay``
after the batch's first write, sooner when a reply waits for it. Reads look at the
buffers first, so they see buffered writes. A commit that fails (PostgreSQL restarting,
the connection dropped) keeps its batch and is retried with backoff, for as long as it
takes: nothing buffered is lost, and the process does not crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from typing import Any

import asyncpg

from brandbot.core.errors import StoreError
from brandbot.core.records import FollowerRecord, Identity, Job, OutboxEntry
from brandbot.store.postgres.batch import (
    DATA_ERRORS,
    SQL_DELETE_JOB,
    SQL_KV_DELETE,
    SQL_KV_SET,
    SQL_MARK_ONCE,
    SQL_MARK_PROCESSED,
    SQL_PUT_INTERACTION,
    SQL_PUT_JOB,
    SQL_PUT_OUTBOX,
    SQL_SET_CURSOR,
    SQL_UPSERT_FOLLOWER,
    SQL_UPSERT_IDENTITY,
    Batch,
    salvage_batch,
    write_batch,
)
from brandbot.store.postgres.ids import IdBlocks
from brandbot.store.sqlite.buffers import _Buffer, _InteractionBuffer

logger = logging.getLogger("brandbot.store.postgres")

_RETRY_MAX_SECONDS = 5.0


class _Checkout:
    """``async with`` one pooled connection; one out of step with the server is closed.

    When the server ends a session (shutdown, ``pg_terminate_backend``) it sends a FATAL
    message, then closes. A connection idle in the pool reads that message between two
    uses, and asyncpg's protocol stays "busy" until the close is read, one event-loop turn
    or more later; the pool still hands it out meanwhile, and its next query raises
    ``InternalClientError`` ("another operation is in progress"). Closing it here makes
    the caller's retry (``TRANSIENT_ERRORS``) get a fresh connection instead of this one.
    """

    __slots__ = ("_conn", "_pool")

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._conn: Any = None

    async def __aenter__(self) -> Any:
        self._conn = await self._pool.acquire()
        return self._conn

    async def __aexit__(self, *exc_info: object) -> None:
        conn, self._conn = self._conn, None
        if isinstance(exc_info[1], asyncpg.InternalClientError):
            conn.terminate()  # the pool forgets it and connects anew on a later acquire
        await self._pool.release(conn)


class PgWriteBehind:
    """The store's state, and the batch that carries its buffered writes to the database."""

    def __init__(
        self,
        url: str,
        *,
        brand: str = "default",
        commit_delay: float = 0.05,
        max_batch: int = 5000,
        reconnect_timeout: float = 300.0,
        owner: str = "",
        claim_new_outbox: bool = False,
        claim_lease: float = 60.0,
        pool_size: int = 4,
    ) -> None:
        if not url.startswith(("postgresql://", "postgres://")):
            raise ValueError(f"a PostgreSQL store needs a postgresql:// URL, not {url!r}")
        if commit_delay < 0:
            raise ValueError(f"commit_delay must be >= 0 seconds, not {commit_delay}")
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, not {max_batch}")
        if not brand:
            raise ValueError("brand must not be empty (it keys every row of the brand)")
        if claim_lease <= 0:
            raise ValueError(f"claim_lease must be > 0 seconds, not {claim_lease}")
        self._url = url
        self._brand = brand
        self._commit_delay = float(commit_delay)
        self._max_batch = max_batch
        self._reconnect_timeout = float(reconnect_timeout)
        self._pool_size = max(2, pool_size)
        #: The name this process claims outbox rows and jobs under (see ``claim_outbox``).
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        #: New outbox rows are written claimed by ``owner`` (it sends what it decided).
        self.claim_new_outbox = claim_new_outbox
        self.claim_lease = float(claim_lease)
        #: Called with (seconds, rows) after each committed batch (metrics).
        self.on_flush: Callable[[float, int], None] | None = None

        self._pool: asyncpg.Pool | None = None
        self._version = 0
        self._closed = False
        self._lock = asyncio.Lock()  # one commit or maintenance transaction at a time
        self._kick = asyncio.Event()  # the first write of a batch arrived
        self._full = asyncio.Event()  # max_batch writes are waiting, or a reply waits
        self._flusher: asyncio.Task[None] | None = None
        self._count = 0  # buffered writes not yet taken by a commit
        self._seq = 0  # writes ever buffered; a write's number is _seq after it
        self._committed_seq = 0
        self._committed = asyncio.Event()
        self._first_write = 0.0

        self._follower_ids = IdBlocks("follower_ids")
        self._interaction_ids = IdBlocks("interaction_ids")
        self._outbox_ids = IdBlocks("outbox_ids")
        self._refilling: asyncio.Task[None] | None = None
        self._resolving: dict[tuple[str, str], asyncio.Future[None]] = {}
        # Ids merged away (-> the id they live on as) or forgotten (-> 0) by this process.
        self._gone: dict[int, int] = {}

        self._followers: _Buffer[int, FollowerRecord] = _Buffer()
        self._identities: _Buffer[tuple[str, str], Identity] = _Buffer()
        self._interactions = _InteractionBuffer()
        self._processed: _Buffer[tuple[str, str], str] = _Buffer()
        self._outbox: _Buffer[int, OutboxEntry] = _Buffer()
        self._cursor_buf: _Buffer[str, str] = _Buffer()
        self._once: _Buffer[str, str] = _Buffer()
        self._kv: _Buffer[tuple[str, str], tuple[str, int] | None] = _Buffer()
        self._job_buf: _Buffer[str, Job | None] = _Buffer()

    # --- durability ----------------------------------------------------------------------

    async def flush(self) -> None:
        """Commit everything buffered so far; return once it is durable.

        While the database is unreachable this waits and retries (up to
        ``reconnect_timeout``), then raises ``StoreError`` with the batch kept.
        """
        if self._pool is None:
            if self._closed:
                return
            raise StoreError("the store is not open; call open() first")
        async with self._lock:
            await self._commit_waiting()

    async def _commit_waiting(self) -> None:
        """Commit, waiting out an unreachable database up to ``reconnect_timeout``.
        Caller holds ``_lock``."""
        deadline = time.monotonic() + self._reconnect_timeout
        delay = 0.05
        while True:
            try:
                await self._commit_pending()
                return
            except StoreError:
                if time.monotonic() >= deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX_SECONDS)

    def backlog(self) -> int:
        return self._count

    def write_seq(self) -> int:
        return self._seq

    async def ensure_committed(self, seq: int) -> None:
        """Return once every write numbered up to ``seq`` is durable (commit now if needed)."""
        if self._committed_seq >= seq:
            return
        self.request_commit()
        while self._committed_seq < seq and self._pool is not None:
            self._committed.clear()
            await self._committed.wait()

    def request_commit(self) -> None:
        """Commit what is buffered now, without waiting for ``commit_delay``."""
        if self._count:
            self._kick.set()
            self._full.set()

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
        backoff = max(self._commit_delay, 0.05)
        while True:
            await self._kick.wait()
            remaining = self._first_write + self._commit_delay - time.monotonic()
            if self._count < self._max_batch and remaining > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), remaining)
            self._kick.clear()
            self._full.clear()
            try:
                async with self._lock:
                    await self._commit_pending()
                backoff = max(self._commit_delay, 0.05)
            except StoreError as exc:
                logger.warning("store: %s; retrying in %.2f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _RETRY_MAX_SECONDS)
            except Exception:  # a bug must not stop the flusher: every later write would wait
                logger.exception("store: the flusher failed; retrying in %.2f s", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _RETRY_MAX_SECONDS)
            if self._count:
                self._kick.set()

    def _take_batch(self) -> Batch:
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
            ("followers", SQL_UPSERT_FOLLOWER, [row for _, row in followers.values()]),
            ("identities", SQL_UPSERT_IDENTITY, [row for _, row in identities.values()]),
            ("interactions", SQL_PUT_INTERACTION, interactions),
            ("processed", SQL_MARK_PROCESSED, [row for _, row in processed.values()]),
            ("outbox", SQL_PUT_OUTBOX, [row for _, row in outbox.values()]),
            ("cursors", SQL_SET_CURSOR, [row for _, row in cursors.values()]),
            ("once_keys", SQL_MARK_ONCE, [row for _, row in once.values()]),
            ("plugin_data", SQL_KV_SET, [row for v, row in kv.values() if v is not None]),
            ("plugin_data", SQL_KV_DELETE, [row for v, row in kv.values() if v is None]),
            ("jobs", SQL_PUT_JOB, [row for v, row in jobs.values() if v is not None]),
            ("jobs", SQL_DELETE_JOB, [row for v, row in jobs.values() if v is None]),
        ]
        named = set(followers)
        named.update(identity.follower_id for identity, _ in identities.values())
        named.update(row[2] for row in interactions)
        named.update(entry.follower_id for entry, _ in outbox.values())
        named.update(value[1] for value, _ in kv.values() if value is not None)
        named.discard(0)
        batch = Batch([s for s in statements if s[2]], self._count, sorted(named))
        self._count = 0
        return batch

    def _buffers(self) -> tuple[_Buffer[Any, Any] | _InteractionBuffer, ...]:
        return (
            self._followers, self._identities, self._interactions, self._processed,
            self._outbox, self._cursor_buf, self._once, self._kv, self._job_buf,
        )  # fmt: skip

    async def _commit_pending(self) -> None:
        """Write the buffered batch in one transaction. Caller holds ``_lock``.

        On failure the batch goes back in front of what was buffered since, and
        ``StoreError`` is raised; a batch whose rows cannot be stored is written row by row.
        """
        if self._count == 0:
            return
        batch = self._take_batch()
        batch_seq = self._seq
        started = time.perf_counter()
        try:
            async with self._acquire() as conn:
                try:
                    gone = await write_batch(conn, batch, self._brand)
                except DATA_ERRORS as exc:
                    logger.error(
                        "store: a buffered row cannot be written (%s); writing the batch row "
                        "by row to keep the rest",
                        exc,
                    )
                    gone = await salvage_batch(conn, batch, self._brand)
        except BaseException as exc:
            for buffer in self._buffers():
                buffer.restore()
            self._count += batch.writes
            if self._count:
                self._kick.set()
            if isinstance(exc, Exception):
                raise StoreError(
                    f"could not commit {batch.writes} buffered writes to PostgreSQL: {exc}"
                ) from exc
            raise
        for buffer in self._buffers():
            buffer.settle()
        if gone:  # another process merged or forgot them: later writes follow suit
            logger.info("store: %d followers were merged or forgotten elsewhere", len(gone))
            self._gone.update(gone)
            for old, new in list(self._gone.items()):
                if new in gone:
                    self._gone[old] = gone[new]
        self._committed_seq = max(self._committed_seq, batch_seq)
        self._committed.set()
        if self.on_flush is not None:
            self.on_flush(time.perf_counter() - started, batch.writes)
        self._schedule_refill()

    # --- connections and ids --------------------------------------------------------------

    def _acquire(self) -> _Checkout:
        """A pooled connection (``async with``); StoreError when the store is not open."""
        if self._pool is None:
            if self._closed:
                raise StoreError("the store is closed")
            raise StoreError("the store is not open; call open() first")
        return _Checkout(self._pool)

    def _schedule_refill(self) -> None:
        """Reserve more id blocks in the background when a sequence runs low."""
        if self._refilling is not None or self._pool is None:
            return
        if not any(ids.wanted() for ids in self._id_blocks()):
            return
        self._refilling = asyncio.get_running_loop().create_task(
            self._refill_quietly(), name="brandbot-store-ids"
        )

    async def _refill_quietly(self) -> None:
        try:
            async with self._acquire() as conn:
                await self._refill_ids(conn)
        except Exception as exc:  # noqa: BLE001 - the next commit tries again
            logger.warning("store: could not reserve ids (%s); will retry", exc)
        finally:
            self._refilling = None

    async def _refill_ids(self, conn: asyncpg.Connection) -> None:
        for ids in self._id_blocks():
            wanted = ids.wanted()
            if wanted:
                rows = await conn.fetch(
                    f"SELECT nextval('{ids.sequence}') FROM generate_series(1, $1)", wanted
                )
                ids.add([row[0] for row in rows])

    def _id_blocks(self) -> tuple[IdBlocks, ...]:
        return (self._follower_ids, self._interaction_ids, self._outbox_ids)

    def _redirect(self, follower_id: int) -> int:
        """Where writes naming ``follower_id`` go now: itself, its merge target, or 0 (gone)."""
        return self._gone.get(follower_id, follower_id) if follower_id else follower_id
