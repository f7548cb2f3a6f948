"""A NetworkHost that records what an adapter hands to the core, for adapter tests."""

from __future__ import annotations

import asyncio
import logging

from brandbot.core.events import Event
from brandbot.networks.base import CommandSpec, NetworkState


class RecordingHost:
    """Implements brandbot.networks.base.NetworkHost in memory."""

    def __init__(self, commands: list[CommandSpec] | None = None) -> None:
        self.log = logging.getLogger("brandbot.test.host")
        self.events: list[Event] = []
        self.cursors: dict[str, str] = {}
        self.states: list[tuple[NetworkState, str]] = []
        self._commands = commands or [
            CommandSpec("help", "What this bot can do"),
            CommandSpec("stop", "Stop all messages from this bot"),
        ]
        self._arrived = asyncio.Condition()

    async def submit(self, event: Event) -> None:
        async with self._arrived:
            self.events.append(event)
            self._arrived.notify_all()

    async def settled(self) -> None:
        return None

    async def load_cursor(self, key: str) -> str | None:
        return self.cursors.get(key)

    async def save_cursor(self, key: str, value: str) -> None:
        self.cursors[key] = value

    def report_state(self, state: NetworkState, detail: str = "") -> None:
        self.states.append((state, detail))

    def commands(self) -> list[CommandSpec]:
        return list(self._commands)

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[Event]:
        """Wait until at least ``count`` events arrived; returns them all."""
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: len(self.events) >= count), timeout
            )
        return list(self.events)
