"""The networks' side of the bot: each adapter's host view, and their supervised start and stop."""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Mapping
from typing import TYPE_CHECKING

from brandbot.clocks import Clock
from brandbot.core.events import Event
from brandbot.networks.base import CommandSpec, Network, NetworkState
from brandbot.runtime.supervisor import NetworkSupervisor

if TYPE_CHECKING:
    from brandbot.runtime.bot import Bot


class HostView:
    """What a network adapter may ask of the bot: submit events, keep cursors, report state."""

    def __init__(self, bot: Bot, network: str) -> None:
        self._bot = bot
        self._network = network
        self.log = logging.getLogger(f"brandbot.network.{network}")
        self.supervisor: NetworkSupervisor | None = None

    async def submit(self, event: Event) -> None:
        await self._bot.submit(event)

    async def settled(self) -> None:
        await self._bot.settled()

    async def load_cursor(self, key: str) -> str | None:
        return await self._bot.store.get_cursor(key)

    async def save_cursor(self, key: str, value: str) -> None:
        self._bot.store.set_cursor(key, value)

    def report_state(self, state: NetworkState, detail: str = "") -> None:
        self._bot.set_health(self._network, state, detail)
        if state is NetworkState.FAILED and self.supervisor is not None:
            self.supervisor.failed.set()

    def commands(self) -> list[CommandSpec]:
        return self._bot.commands()

    def request_stop(self, reason: str = "") -> None:
        self._bot.request_stop(reason)

    async def mark_unreachable(self, network: str, user_id: str) -> None:
        await self._bot.people.mark_unreachable(network, user_id)


class NetworkRunner:
    """Starts every network under a supervisor (restarts with backoff) and stops them all."""

    def __init__(self, bot: Bot, networks: Mapping[str, Network], clock: Clock, rng: random.Random) -> None:
        self._bot = bot
        self._networks = networks
        self._clock = clock
        self._rng = rng
        self.supervisors: dict[str, NetworkSupervisor] = {}
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, start_timeout: float) -> None:
        for name, network in self._networks.items():
            view = HostView(self._bot, name)
            supervisor = NetworkSupervisor(network, view, self._clock, rng=self._rng,
                                           report=functools.partial(self._bot.set_health, name))
            view.supervisor = supervisor
            self.supervisors[name] = supervisor
            self._tasks.append(asyncio.create_task(supervisor.run(), name=f"network:{name}"))
        if self.supervisors:  # each network's first attempt, bounded: a failing one can't hold up the rest
            await asyncio.wait([asyncio.ensure_future(s.first_attempt.wait()) for s in self.supervisors.values()],
                               timeout=start_timeout)

    async def stop_intake(self) -> None:
        """Ask networks that can to stop taking new events (the rest stop with ``stop``)."""
        for network in self._networks.values():
            if hasattr(network, "stop_intake"):
                await network.stop_intake()

    async def stop(self) -> None:
        for supervisor in self.supervisors.values():
            supervisor.stop()
        for network in self._networks.values():
            try:
                await network.stop()
            except Exception:
                logging.getLogger("brandbot").exception("network %s did not stop cleanly", network.name)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
