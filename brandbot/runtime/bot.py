"""The Bot: builds the parts, starts them in order, stops them in order, swaps reloads.

The message path itself is in three files, read in this order: ``intake.py`` (lanes,
dedupe, the person, batching), ``routing.py`` (watchers and responders, rules folded
in) and ``sending.py`` (policy, outbox row, send). Start with :meth:`Bot.from_config`
and :meth:`Bot.run`; tests use ``brandbot.testing``, which builds the same Bot on
in-memory networks and a manual clock.
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from brandbot.clocks import Clock, SystemClock
from brandbot.core.config import BotConfig, load_config
from brandbot.core.errors import BrandbotError, ConfigError, PluginError, SendError, StartupError
from brandbot.core.events import Event
from brandbot.core.plugin import LoadedPlugin
from brandbot.core.records import OutboxEntry
from brandbot.networks.base import CommandSpec, Network, NetworkState
from brandbot.networks.registry import build_network
from brandbot.runtime.calendar import Calendar
from brandbot.runtime.capabilities import Files, Networks, Staff
from brandbot.runtime.context import JobContext, Services
from brandbot.runtime.host import NetworkRunner
from brandbot.runtime.intake import Handled, Intake
from brandbot.runtime.metrics import Metrics
from brandbot.runtime.outbox import Outbox
from brandbot.runtime.people import People
from brandbot.runtime.reload import (
    Generation,
    build_generation,
    reconfigure,
    stamp,
    watch,
    watched_files,
)
from brandbot.runtime.scheduler import Scheduler
from brandbot.runtime.sending import Sending
from brandbot.runtime.transaction import Transactions
from brandbot.runtime.unitofwork import Inflight, SharedData
from brandbot.store import store_for
from brandbot.store.base import Store

log = logging.getLogger("brandbot")


class Bot:
    """One running brand bot: its parts, their order of start and stop, and reloads."""

    def __init__(self, config: BotConfig, *, store: Store | None = None, networks: Mapping[str, Network] | None = None,
                 clock: Clock | None = None, plugins: Sequence[LoadedPlugin] | None = None, dry_run: bool = False,
                 rng: random.Random | None = None, metrics: Metrics | None = None) -> None:
        self.metrics = metrics or Metrics()
        self.clock: Clock = clock or SystemClock()
        self.store: Store = store or store_for(config.storage_path, config.top.storage)
        if getattr(self.store, "on_flush", "missing") is None:
            self.store.on_flush = self.metrics.store_flush  # type: ignore[attr-defined]
        self.dry_run = dry_run
        self.redactor: Any = None
        self.health_server: Any = None
        # Apps served beside /healthz and /metrics (the staff web UI: brandbot.web.install).
        self.http_mounts: list[Callable[[Any], None]] = []
        self._rng = rng or random.Random()
        self.networks: dict[str, Network] = dict(networks) if networks is not None else {
            s.name: build_network(s.name, dict(s.settings), doc=config.doc, loc=s.loc, where=s.where,
                                  clock=self.clock) for s in config.networks}
        self._own_plugins = plugins is None
        self.generation: Generation = build_generation(0, config, self.networks, self.store, plugins=plugins,
                                                       rng=self._rng, on_latency=self.metrics.handler_latency)
        self.outbox = Outbox(self.store, self.networks, self.clock, on_sent=self._on_sent, on_failed=self._on_failed,
                             rng=self._rng, metrics=self.metrics, commit_marks=self._commit_sent_marks)
        self.metrics.set_outbox_depth(self.outbox.depth)
        deliver = (lambda entry: None) if dry_run else self.outbox.enqueue
        self.transactions = Transactions(self.store, deliver)
        self.inflight = Inflight()
        self.people = People(self.store, self.inflight, self.clock, lambda: self.config)
        self.sending = Sending(store=self.store, networks=self.networks, clock=self.clock, metrics=self.metrics,
                               transactions=self.transactions, config=lambda: self.config,
                               policy=lambda: self.generation.policy)
        self.scheduler = Scheduler(self.store, self.clock, lambda: self.config, lambda: self.generation.plugins)
        self.calendar = Calendar(store=self.store, clock=self.clock, sending=self.sending, scheduler=self.scheduler,
                                 transactions=self.transactions, config=lambda: self.config,
                                 templates=lambda: self.generation.templates)
        self.services = Services(
            bot=self, store=self.store, clock=self.clock, people=self.people, sending=self.sending,
            scheduler=self.scheduler, shared_data=SharedData(), networks=Networks(self.networks),
            files=Files(lambda: self.config, writable=not dry_run),
            staff=Staff(lambda: self.config, lambda text, source: self.sending.notify_staff(text, source=source),
                        self.sending.handoffs.items, self.sending.release),
            config=lambda: self.config, templates=lambda: self.generation.templates, commands=self.commands,
            calendar=self.calendar)
        self.scheduler.context_for = self._job_context
        self.intake = Intake(store=self.store, clock=self.clock, metrics=self.metrics, services=self.services,
                             inflight=self.inflight, transactions=self.transactions, config=lambda: self.config,
                             router=lambda: self.generation.router)
        self.transactions.busy = lambda: self.intake.lanes.queued > 0  # more events to join a commit
        self.health: dict[str, tuple[NetworkState, str]] = {}
        self.network_runner = NetworkRunner(self, self.networks, self.clock, self._rng)
        self._stop_requested = asyncio.Event()
        self._stop_reason = ""
        self._started = False
        self._background: list[asyncio.Task[None]] = []

    @classmethod
    def from_config(cls, path: str | Path, **kwargs: Any) -> Bot:
        return cls(load_config(path), **kwargs)

    # -- the current generation and the parts, by name -----------------------------------
    @property
    def config(self) -> BotConfig:
        return self.generation.config

    @property
    def plugins(self) -> tuple[LoadedPlugin, ...]:
        return self.generation.plugins

    @property
    def stats(self) -> dict[str, int]:
        return {**self.intake.stats, **self.sending.stats}

    def commands(self) -> list[CommandSpec]:
        specs = {h.command: CommandSpec(h.command, h.description or h.command, h.admin_only)
                 for h in self.generation.router.commands() if h.command}
        return sorted(specs.values(), key=lambda c: c.name)

    # -- events in (the NetworkHost every adapter talks to, through HostView) -------------
    async def submit(self, event: Event) -> None:
        await self.intake.submit(event)

    async def handle(self, event: Event) -> Handled:
        """Handle one event start to finish, committed (used directly by simulate and tests)."""
        return await self.intake.handle(event)

    async def settled(self) -> None:
        """Every queued event handled and committed, and everything buffered durable."""
        await self.intake.settled()
        await self.store.flush()

    async def drain(self) -> None:
        """Everything handled and committed, and every reply due now sent (tests, simulate)."""
        await self.intake.settled()
        await self.outbox.drain()

    def request_stop(self, reason: str = "") -> None:
        self._stop_reason = reason or "stop requested"
        self._stop_requested.set()

    def set_health(self, network: str, state: NetworkState, detail: str = "") -> None:
        self.health[network] = (state, detail)
        log.info("network %s: %s %s", network, state.value, detail)

    # -- after a send ----------------------------------------------------------------------
    def _commit_sent_marks(self) -> None:
        """A reply's "sent" mark rides with the commit the transactions are gathering (it
        comes within their max_wait); with none coming it is committed at the next turn.
        At full speed that saved a small commit per loop turn with a send in it."""
        if not self.transactions.gathering():
            self.store.request_commit()

    def _on_sent(self, entry: OutboxEntry) -> None:
        self.sending.on_sent(entry)
        self.calendar.on_sent(entry)

    async def _on_failed(self, entry: OutboxEntry, exc: SendError | Exception) -> None:
        self.calendar.on_failed(entry, exc)
        user = self.sending.unreachable_recipient(entry, exc)
        if user is not None:
            await self.people.mark_unreachable(entry.network, user)

    # -- scheduled work --------------------------------------------------------------------
    def _job_context(self, lp: LoadedPlugin, payload: Mapping[str, Any]) -> JobContext[Any]:
        return JobContext(services=self.services, plugin_name=lp.plugin.name, config=lp.settings,
                          payload=dict(payload), log=log)

    async def run_due_jobs(self) -> int:
        return await self.scheduler.run_due_jobs()

    async def maintain(self) -> tuple[int, int]:
        return await self.scheduler.maintain()

    def schedule(self, plugin: str, job: str, at: Any, payload: Mapping[str, Any], *, key: str = "") -> str:
        return self.scheduler.schedule(plugin, job, at, payload, key=key)

    async def run_startup_hooks(self) -> None:
        """Every plugin's ``@plugin.on_start``, before any network starts (and in simulate).

        Work such as resuming an interrupted giveaway draw must finish before events flow,
        or a replayed event could do the same work a second time.
        """
        for lp in self.generation.plugins:
            for func in lp.plugin.startup:
                await self.scheduler.run(func, lp, {}, f"start-up hook of plugin {lp.plugin.name}")
        await self.calendar.sync(strict=True)  # after the hooks: the tour's stops are known by then
        await self.intake.settled()

    # -- reload ----------------------------------------------------------------------------
    async def reload(self) -> bool:
        """Reload config, rules and plugins; all or nothing (see ``reload.py``)."""
        current = self.generation
        try:
            config = load_config(current.config.path)
            plugins = None if self._own_plugins else reconfigure(current.plugins, config)
            new = build_generation(current.number + 1, config, self.networks, self.store, plugins=plugins,
                                   rng=self._rng, rule_state=current.rules.state,
                                   on_latency=self.metrics.handler_latency)
        except (ConfigError, PluginError) as exc:
            log.error("reload failed; still running the previous rules and plugins: %s", exc)
            return False
        if _restart_settings(config) != _restart_settings(current.config):
            log.warning("network or storage settings changed; they take effect after a restart")
        self.generation = new  # the switch: one assignment, no event sees half a reload
        await self.calendar.sync()
        if self._started:
            self.scheduler.start_periodic()
        log.info("reloaded: %d rules, %d plugins", len(new.rules.book), len(new.plugins))
        return True

    # -- lifecycle -------------------------------------------------------------------------
    async def open(self) -> None:
        """Open the store and restore state; no network is started (simulate stops here)."""
        await self.store.open()
        await self.sending.restore()

    async def start(self) -> None:
        """Store, start-up hooks, outbox rows read back, HTTP, networks, outbox senders,
        background work: in that order.

        Any failure stops what was started and raises, so ``run`` exits instead of hanging.
        """
        if self._started:
            return
        self._started = True
        try:
            await self.open()
            await self.run_startup_hooks()
            await self.outbox.restore()  # before events flow (see Outbox.restore)
            await self._start_http()
            await self.network_runner.start(self.config.top.runtime.start_timeout)
            await self.outbox.start()
        except BaseException as exc:
            await self.stop()
            if isinstance(exc, Exception) and not isinstance(exc, BrandbotError):
                raise StartupError(f"start-up failed, nothing is running: {type(exc).__name__}: {exc}") from exc
            raise
        self.scheduler.start_periodic()
        self._background.append(asyncio.create_task(
            self.scheduler.repeat("scheduler pass", 1.0, self.run_due_jobs), name="jobs"))
        self._background.append(asyncio.create_task(
            self.scheduler.repeat("maintenance pass", 3600.0, self.maintain), name="maintenance"))
        runtime = self.config.top.runtime
        if runtime.watch_config:
            before = stamp(watched_files(self.config))  # taken now, so no change slips in
            self._background.append(asyncio.create_task(
                watch(self.clock, runtime.watch_interval, lambda: self.config, self.reload, before),
                name="config-watch"))
        log.info("brandbot started: networks %s, %d rules, %d plugins", ", ".join(self.networks),
                 len(self.generation.rules.book), len(self.plugins))

    async def _start_http(self) -> None:
        http = self.config.top.http
        if http.enabled:
            from brandbot.runtime.health import HealthServer

            self.health_server = HealthServer(self, http.host, http.port, allow_remote=http.allow_remote,
                                              redact=self.redactor, mounts=self.http_mounts)
            await self.health_server.start()

    async def stop(self) -> None:
        """Stop intake, finish in-flight handlers (bounded), commit, drain due sends, close."""
        if not self._started:
            await self.store.close()
            return
        self._started = False
        grace = self.config.top.runtime.shutdown_grace
        await self.network_runner.stop_intake()
        try:
            await asyncio.wait_for(self.intake.lanes.join(), grace)
        except TimeoutError:
            log.warning("stopping with events still being handled; they will be replayed or lost per network")
            await self.intake.lanes.cancel()
        await self.transactions.close()
        background = self._background + self.scheduler.stop_periodic()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        self._background.clear()
        await self.outbox.stop(grace)
        await self.intake.lanes.close()
        await self.network_runner.stop()
        if self.health_server is not None:
            await self.health_server.stop()
            self.health_server = None
        await self.store.close()
        log.info("brandbot stopped (%s)", self._stop_reason or "stop")

    def _reload_soon(self) -> None:
        """SIGHUP: reload in the background (a signal handler cannot await)."""

        async def reload() -> None:
            await self.reload()

        self._background.append(asyncio.create_task(reload(), name="reload"))

    async def run(self) -> int:
        """Run until SIGINT/SIGTERM or until a network asks to stop (console at end of input)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.request_stop, sig.name)
            except (NotImplementedError, RuntimeError):
                pass
        try:
            loop.add_signal_handler(signal.SIGHUP, self._reload_soon)
        except (NotImplementedError, RuntimeError, AttributeError):
            pass
        await self.start()  # on failure it has stopped what it started, and raises
        try:
            await self._stop_requested.wait()
        finally:
            await self.stop()
        return 0


def _restart_settings(config: BotConfig) -> tuple[object, ...]:
    """What a reload cannot change: each network's settings and the database path.

    Only the values: a network section's ``where`` names the config file as it was given
    (``config/brandbot.yaml:5`` after a relative ``-c``, absolute after a reload), which
    is no change of settings.
    """
    return (tuple((n.name, dict(n.settings)) for n in config.networks), config.storage_path)


__all__ = ["Bot", "Handled"]
