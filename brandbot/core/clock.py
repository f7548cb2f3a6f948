"""What the core knows of time: a clock it can ask, never one it waits on.

The implementations (real, fake, manual) live in :mod:`brandbot.clocks`, because
waiting needs an event loop and the core has none.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware wall-clock time."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards; for rate windows and timeouts."""

    def sleep(self, seconds: float) -> Awaitable[None]:
        """Wait ``seconds`` (an ``async def`` in every implementation)."""
