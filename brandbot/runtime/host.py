"""The NetworkHost one adapter sees: the bot's intake and cursors, with the adapter's name attached."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from brandbot.core.events import Event
from brandbot.networks.base import CommandSpec, NetworkState
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
