"""Waiting on background tasks in tests: a real-time ``until`` and a clock that records its naps."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from brandbot.clocks import ManualClock


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait in real time for something a background task does (fails after ``timeout``)."""

    async def check() -> None:
        while not condition():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(check(), timeout)


class NappingClock(ManualClock):
    """A ManualClock that records every sleep, so a test can see a poll loop's pauses."""

    def __init__(self) -> None:
        super().__init__()
        self.naps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.naps.append(seconds)
        await super().sleep(seconds)
