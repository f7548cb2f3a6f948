"""Scheduled work: persisted one-off jobs, periodic plugin functions, hourly maintenance.

Jobs are rows in the store (they survive restarts); a pass runs every due job once:
each is removed before any runs, so none can run twice even if passes overlap.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from brandbot.clocks import Clock
from brandbot.core.config import BotConfig
from brandbot.core.effects import Effects
from brandbot.core.plugin import LoadedPlugin, PeriodicSpec
from brandbot.core.records import Job
from brandbot.store.base import Store

if TYPE_CHECKING:
    from brandbot.runtime.context import JobContext

log = logging.getLogger("brandbot")

#: Builds the context a job runs with: (plugin, payload) -> JobContext.
ContextFactory = Callable[[LoadedPlugin, Mapping[str, Any]], "JobContext[Any]"]


class Scheduler:
    """Persisted jobs and periodic functions of the current plugins."""

    def __init__(self, store: Store, clock: Clock, config: Callable[[], BotConfig],
                 plugins: Callable[[], Sequence[LoadedPlugin]]) -> None:
        self._store = store
        self._clock = clock
        self._config = config
        self._plugins = plugins
        self._lock = asyncio.Lock()
        self._periodic: list[asyncio.Task[None]] = []
        self.context_for: ContextFactory | None = None  # set by the Bot once contexts can be built
        self._builtin: dict[str, Callable[[Mapping[str, Any]], Awaitable[object]]] = {}

    def register(self, owner: str, work: Callable[[Mapping[str, Any]], Awaitable[object]]) -> None:
        """Run the jobs named ``owner:...`` with ``work(payload)``: the runtime's own jobs (the
        calendar's posts) live in the same table and pass as the plugins' jobs do."""
        self._builtin[owner] = work

    # -- jobs --------------------------------------------------------------------------
    def schedule(self, plugin: str, job: str, at: datetime, payload: Mapping[str, Any], *, key: str = "",
                 effects: Effects | None = None) -> str:
        """Persist a job (with ``effects``: committed with that event); returns its name."""
        name = f"{plugin}:{job}:{key or self._store.next_outbox_id()}"
        record = Job(name=name, due=at, owner=plugin, payload=json.dumps(dict(payload), default=str))
        if effects is not None:
            effects.jobs[name] = record
        else:
            self._store.put_job(record)
        return name

    def cancel(self, name: str, *, effects: Effects | None = None) -> None:
        if effects is not None:
            effects.jobs[name] = None
        else:
            self._store.delete_job(name)

    async def run_due_jobs(self) -> int:
        """Run every persisted job that is due; returns how many ran."""
        async with self._lock:
            ran = 0
            handlers = {(j.plugin, j.name): (j, lp) for lp in self._plugins() for j in lp.plugin.jobs}
            due = await self._store.due_jobs(self._clock.now())
            for job in due:
                self._store.delete_job(job.name)
            for job in due:
                plugin, _, rest = job.name.partition(":")
                builtin = self._builtin.get(plugin)
                if builtin is not None:
                    await self._guarded(builtin(json.loads(job.payload)), f"job {job.name}")
                    ran += 1
                    continue
                found = handlers.get((plugin, rest.split(":", 1)[0]))
                if found is None:
                    log.error("job %s has no handler (plugin %s not enabled?); dropped", job.name, plugin)
                    continue
                spec, lp = found
                await self.run(spec.func, lp, json.loads(job.payload), f"job {job.name}")
                ran += 1
            return ran

    async def run(self, func: Callable[[Any], Awaitable[object]], lp: LoadedPlugin, payload: Mapping[str, Any],
                  what: str) -> None:
        """Run a plugin function under the handler timeout; a failure is logged, never fatal."""
        assert self.context_for is not None, "the Bot sets context_for before anything runs"
        await self._guarded(func(self.context_for(lp, payload)), what)

    async def run_job_now(self, plugin: str, job: str, payload: Mapping[str, Any]) -> bool:
        """Run a plugin's ``@plugin.job(job)`` handler now (a calendar post that opens a
        giveaway); False when no enabled plugin has it."""
        for lp in self._plugins():
            for spec in lp.plugin.jobs:
                if (lp.plugin.name, spec.name) == (plugin, job):
                    await self.run(spec.func, lp, payload, f"job {plugin}:{job}")
                    return True
        return False

    async def _guarded(self, work: Awaitable[object], what: str) -> None:
        try:
            async with asyncio.timeout(self._config().top.runtime.handler_timeout):
                await work
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed", what)

    # -- periodic work -----------------------------------------------------------------
    def start_periodic(self) -> None:
        """(Re)start the periodic functions of the current plugins."""
        self.stop_periodic()
        self._periodic = [
            asyncio.create_task(self._every(lp, spec), name=f"every:{lp.plugin.name}.{spec.name}")
            for lp in self._plugins() for spec in lp.plugin.periodic
        ]

    def stop_periodic(self) -> list[asyncio.Task[None]]:
        tasks, self._periodic = self._periodic, []
        for task in tasks:
            task.cancel()
        return tasks

    async def _every(self, lp: LoadedPlugin, spec: PeriodicSpec) -> None:
        while True:
            await self._clock.sleep(spec.interval)
            await self.run(spec.func, lp, {}, f"periodic {lp.plugin.name}.{spec.name}")

    async def repeat(self, what: str, seconds: float, work: Callable[[], Awaitable[object]]) -> None:
        """Run ``work`` now and then every ``seconds``; a failure is logged, never fatal."""
        while True:
            try:
                await work()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed", what)
            await self._clock.sleep(seconds)

    async def maintain(self) -> tuple[int, int]:
        """Forget what the retention settings say to forget: old message text, old event ids.

        Text retention covers every stored copy of a person's words: the history's and
        the outbox's (replies quote people; a pending reply keeps its text until sent).
        Returns (texts blanked, processed ids pruned). Counts, history and outbox rows stay.
        """
        storage = self._config().top.storage
        now = self._clock.now()
        text_cutoff = now - timedelta(days=storage.text_retention_days)
        in_history = await self._store.prune_text(text_cutoff)
        in_outbox = await self._store.prune_outbox_text(text_cutoff)
        pruned = await self._store.prune_processed(now - timedelta(days=storage.processed_retention_days))
        if in_history or in_outbox or pruned:
            log.info("maintenance: blanked the text of %d old interactions and %d old replies, pruned %d old "
                     "event ids", in_history, in_outbox, pruned)
        return in_history + in_outbox, pruned
