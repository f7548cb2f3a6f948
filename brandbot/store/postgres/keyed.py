"""The small keyed tables on PostgreSQL: cursors, once-keys, plugin data and jobs.

Nothing is cached beyond the buffered writes: another process may have written since.
Due jobs are *claimed* (``SELECT ... FOR UPDATE SKIP LOCKED``, then a lease), so when
several processes run the scheduler, each due job is handed to exactly one of them.
"""

from __future__ import annotations

from datetime import datetime

from brandbot.core.records import Job
from brandbot.store.postgres.connection import PgBase
from brandbot.store.postgres.rows import _aware, _job_from, _job_row
from brandbot.store.sqlite.buffers import _MISSING

_SQL_CLAIM_JOBS = (
    "UPDATE jobs j SET claimed_by = $3, claimed_until = clock_timestamp() + $4 * interval '1 second' "
    "FROM (SELECT brand, name FROM jobs WHERE brand = $1 AND due <= $2 "
    "AND (claimed_until IS NULL OR claimed_until < clock_timestamp()) "
    "ORDER BY due, name FOR UPDATE SKIP LOCKED) due "
    "WHERE j.brand = due.brand AND j.name = due.name "
    "RETURNING j.name, j.due, j.owner, j.payload"
)


class PgKeyedMixin(PgBase):
    """The Cursors, OnceKeys, KeyValue and Jobs roles."""

    # --- cursors ----------------------------------------------------------------------------

    async def get_cursor(self, key: str) -> str | None:
        buffered = self._cursor_buf.get(key)
        if buffered is not _MISSING:
            return buffered
        value = await self._fetchval(
            "SELECT value FROM cursors WHERE brand = $1 AND key = $2", self._brand, key
        )
        return None if value is None else str(value)

    def set_cursor(self, key: str, value: str) -> None:
        """Buffered; committed in the same batch as everything before it."""
        self._note_write()
        self._cursor_buf.put(key, value, (self._brand, key, value))

    # --- once-keys --------------------------------------------------------------------------

    async def once_used(self, key: str) -> bool:
        if key in self._once:
            return True
        return bool(
            await self._fetch(
                "SELECT 1 FROM once_keys WHERE brand = $1 AND key = $2", self._brand, key
            )
        )

    def mark_once(self, key: str, at: datetime) -> None:
        """Buffered."""
        row = (self._brand, key, _aware(at))
        self._note_write()
        if key not in self._once:
            self._once.put(key, "", row)

    # --- plugin data ------------------------------------------------------------------------

    async def kv_get(self, namespace: str, key: str) -> str | None:
        hit = self._kv.get((namespace, key))
        if hit is not _MISSING:
            return None if hit is None else hit[0]
        value = await self._fetchval(
            "SELECT value FROM plugin_data WHERE brand = $1 AND namespace = $2 AND key = $3",
            self._brand, namespace, key,
        )  # fmt: skip
        return None if value is None else str(value)

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
        self._kv.put(
            (namespace, key), (value, follower_id), (self._brand, namespace, key, value, follower_id)
        )

    def kv_delete(self, namespace: str, key: str) -> None:
        """Buffered."""
        self._note_write()
        self._kv.put((namespace, key), None, (self._brand, namespace, key))

    async def kv_items(self, namespace: str, prefix: str = "") -> list[tuple[str, str]]:
        """(key, value) pairs of the namespace whose key starts with ``prefix``, in key order."""
        buffered = self._kv.snapshot()
        rows = await self._fetch(
            "SELECT key, value FROM plugin_data WHERE brand = $1 AND namespace = $2 "
            "AND starts_with(key, $3)",
            self._brand, namespace, prefix,
        )  # fmt: skip
        found: dict[str, str] = {row[0]: row[1] for row in rows}
        for (ns, key), value in buffered.items():
            if ns != namespace or not key.startswith(prefix):
                continue
            if value is None:
                found.pop(key, None)
            else:
                found[key] = value[0]
        return sorted(found.items())

    # --- jobs -------------------------------------------------------------------------------

    def put_job(self, job: Job) -> None:
        """Buffered: insert or replace by name (a replaced job may be claimed again)."""
        row = _job_row(self._brand, job)
        self._note_write()
        self._job_buf.put(job.name, job, row)

    def delete_job(self, name: str) -> None:
        """Buffered."""
        self._note_write()
        self._job_buf.put(name, None, (self._brand, name))

    async def due_jobs(self, now: datetime) -> list[Job]:
        """Jobs due at or before ``now``, soonest first, claimed for this process.

        Each due job is returned to one process only: it is claimed for ``claim_lease``
        seconds, long enough for the caller to delete or reschedule it. A process that
        dies meanwhile leaves it to be claimed again once the lease ends.
        """
        _aware(now)
        await self.flush()  # buffered jobs (new, moved, deleted) count
        rows = await self._fetch(
            _SQL_CLAIM_JOBS, self._brand, now, self.owner, self.claim_lease
        )
        return sorted(map(_job_from, rows), key=lambda job: (job.due, job.name))

    async def all_jobs(self) -> list[Job]:
        """Every scheduled job, soonest first, buffered changes included."""
        rows = await self._fetch(
            "SELECT name, due, owner, payload FROM jobs WHERE brand = $1", self._brand
        )
        jobs = {job.name: job for job in map(_job_from, rows)}
        for name, job in self._job_buf.snapshot().items():
            if job is None:
                jobs.pop(name, None)
            else:
                jobs[name] = job
        return sorted(jobs.values(), key=lambda job: (job.due, job.name))
