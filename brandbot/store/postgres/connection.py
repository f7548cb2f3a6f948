"""Opening, closing and reading: a small asyncpg pool, and reads that outlive a restart.

Every read and maintenance transaction goes through ``_with_conn``: when PostgreSQL is
restarting or the connection dropped, it waits and tries again (with backoff, up to
``reconnect_timeout``) instead of failing the event that asked. Errors that waiting
cannot fix (bad SQL, bad data) are raised at once as ``StoreError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import logging
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import asyncpg

from brandbot.core.errors import StoreError
from brandbot.store.postgres import schema
from brandbot.store.postgres.batch import TRANSIENT_ERRORS
from brandbot.store.postgres.writer import _RETRY_MAX_SECONDS, PgWriteBehind

R = TypeVar("R")

logger = logging.getLogger("brandbot.store.postgres")

#: Seconds one connection attempt may take (asyncpg's default is 60).
_CONNECT_TIMEOUT = 10.0


def _pg_dump() -> str | None:
    found = shutil.which("pg_dump")
    if found:
        return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"))
    return candidates[-1] if candidates else None


class _Connection(asyncpg.Connection):
    """A pooled connection released without asyncpg's reset query.

    The pool sends ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`` after
    every use: one more round-trip and four statements per read, doubling the cost of
    the store's point reads. The store leaves no session state behind (no SET, LISTEN,
    cursors or session advisory locks; migrations take transaction-scoped locks), so
    there is nothing to reset. An open transaction is still always rolled back.
    """

    def get_reset_query(self) -> str:
        return ""


class PgBase(PgWriteBehind):
    """The opened database: lifecycle, and the read helpers the concern classes share."""

    async def __aenter__(self) -> Self:
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
        """Connect (waiting for the server up to ``reconnect_timeout``), migrate, reserve ids."""
        if self._pool is not None:
            return
        if self._closed:
            raise StoreError("this store was closed; create a new PostgresStore to reopen")
        pool = await self._retrying("connect", self._create_pool)
        try:
            async with pool.acquire() as conn:
                self._version = await schema.migrate(conn)
                await self._refill_ids(conn)
        except BaseException as exc:
            await pool.close()
            if isinstance(exc, asyncpg.PostgresError | OSError):
                raise StoreError(f"cannot open the PostgreSQL store: {exc}") from exc
            raise
        self._pool = pool
        self._flusher = asyncio.get_running_loop().create_task(
            self._flush_loop(), name=f"brandbot-store-flusher:{self._brand}"
        )

    async def _create_pool(self) -> asyncpg.Pool:
        return await asyncpg.create_pool(
            self._url,
            min_size=1,
            max_size=self._pool_size,
            server_settings={"application_name": f"brandbot:{self._brand}"},
            connection_class=_Connection,
            timeout=_CONNECT_TIMEOUT,  # a host that does not answer is retried, not awaited for a minute
        )

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
        if self._refilling is not None:
            with contextlib.suppress(Exception):
                await self._refilling
        pool = self._pool
        if pool is None:
            return
        try:
            async with self._lock:
                await self._commit_waiting()
        except StoreError:
            logger.error("store: closing with %d writes that could not be committed", self._count)
            raise
        finally:
            self._pool = None
            self._committed.set()  # waiters see the store is gone
            await pool.close()

    def schema_version(self) -> int:
        return self._version

    async def backup(self, target: str | Path) -> None:
        """Write a consistent copy of the database to ``target`` with pg_dump (custom format)."""
        await self.flush()
        target = Path(target)
        if target.exists():
            raise StoreError(f"backup target {target} exists; choose a new file name")
        dump = _pg_dump()
        if dump is None:
            raise StoreError(
                "backing up PostgreSQL needs pg_dump: install the PostgreSQL client package"
            )
        process = await asyncio.create_subprocess_exec(
            dump, "--format=custom", f"--file={target}", f"--dbname={self._url}",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await process.communicate()
        if process.returncode != 0:
            raise StoreError(f"pg_dump failed: {err.decode(errors='replace').strip()}")

    # --- reads that wait out a restart -----------------------------------------------------

    async def _retrying(self, what: str, work: Callable[[], Awaitable[R]]) -> R:
        deadline = time.monotonic() + self._reconnect_timeout
        delay = 0.05
        warned = False
        while True:
            try:
                return await work()
            except TRANSIENT_ERRORS as exc:
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"PostgreSQL unreachable for {self._reconnect_timeout:.0f} s ({what}): "
                        f"{exc}; check that the server is running and the storage url"
                    ) from exc
                if not warned:
                    logger.warning("store: PostgreSQL unreachable (%s: %s); retrying", what, exc)
                    warned = True
            except asyncpg.PostgresError as exc:
                raise StoreError(f"database {what} failed: {exc}") from exc
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX_SECONDS)

    async def _with_conn(self, what: str, work: Callable[[asyncpg.Connection], Awaitable[R]]) -> R:
        async def attempt() -> R:
            async with self._acquire() as conn:
                return await work(conn)

        return await self._retrying(what, attempt)

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        return await self._with_conn(_what(sql), lambda c: c.fetch(sql, *args))

    async def _fetchval(self, sql: str, *args: Any) -> Any:
        return await self._with_conn(_what(sql), lambda c: c.fetchval(sql, *args))

    async def _transaction(self, work: Callable[[asyncpg.Connection], Awaitable[R]]) -> R:
        """Commit what is buffered, then run ``work`` in one transaction. Caller holds ``_lock``."""
        await self._commit_waiting()

        async def run(conn: asyncpg.Connection) -> R:
            async with conn.transaction():
                return await work(conn)

        return await self._with_conn("transaction", run)

    async def _maintain(self, sql: str, *args: Any) -> int:
        """One maintenance statement (``$1`` is the brand) after a commit; rows changed."""

        async def work(conn: asyncpg.Connection) -> int:
            status: str = await conn.execute(sql, self._brand, *args)
            return int(status.rsplit(" ", 1)[-1])

        async with self._lock:
            return await self._transaction(work)


def _what(sql: str) -> str:
    return "read: " + sql.split(" WHERE")[0][:80]
