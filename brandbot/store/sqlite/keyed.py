"""The small keyed tables: network cursors, once-keys, plugin data and scheduled jobs.

Cursors and jobs are few and wholly held in memory; once-keys are answered by a Bloom
filter first, plugin data by a bounded cache of the keys read more than once.
"""

from __future__ import annotations

from datetime import datetime

from brandbot.core.records import Job
from brandbot.store.sqlite.buffers import _MISSING, _Missing
from brandbot.store.sqlite.connection import SqliteBase
from brandbot.store.sqlite.rows import _job_row, _ts


class CursorsMixin(SqliteBase):
    """The Cursors role: where each network's feed was read up to."""

    async def get_cursor(self, key: str) -> str | None:
        return self._cursors.get(key)

    def set_cursor(self, key: str, value: str) -> None:
        """Buffered."""
        self._note_write()
        self._cursors[key] = value
        self._cursor_buf.put(key, value, (key, value))


class OnceKeysMixin(SqliteBase):
    """The OnceKeys role: things done at most once, such as one reply per (rule, person, post)."""

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


class KeyValueMixin(SqliteBase):
    """The KeyValue role: each plugin's own data, as text."""

    async def kv_get(self, namespace: str, key: str) -> str | None:
        k = (namespace, key)
        hit = self._kv.get(k)
        if hit is not _MISSING:
            return None if hit is None else hit[0]
        cached: str | _Missing | None = self._kv_cache.get(k, _MISSING)
        if cached is not _MISSING:
            return cached
        rows = self._read_now("SELECT value FROM plugin_data WHERE namespace = ? AND key = ?", k)
        value = rows[0][0] if rows else None
        # Cached from its second read on: most keys read here are read once (a person's
        # last reply variant, read when they come back, is then held by the rule state).
        # Every read cached, the cache held 10,000 of them (2.8 MB) in the soak and
        # answered 2.4% of the reads.
        self._kv_cache.admit(k, value)
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


class JobsMixin(SqliteBase):
    """The Jobs role: scheduled work, by name."""

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
