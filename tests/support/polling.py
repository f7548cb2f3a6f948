"""A host for the tests of polling adapters (Mastodon, Bluesky) that records the order in which
an adapter submits events, waits for the store and saves its cursor."""

from __future__ import annotations

from typing import Any

from tests.support.host import RecordingHost


class OrderHost(RecordingHost):
    """Records when the adapter submits, waits for the store and saves its cursor."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[str] = []

    async def submit(self, event: Any) -> None:
        self.order.append("submit")
        await super().submit(event)

    async def settled(self) -> None:
        self.order.append("settled")

    async def save_cursor(self, key: str, value: str) -> None:
        self.order.append("save")
        await super().save_cursor(key, value)
