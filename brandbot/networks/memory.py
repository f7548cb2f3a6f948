"""An in-memory network: events pushed by code, replies collected in a list.

Used by the test harness, the benchmark and ``simulate``. It is a complete network
(it honours the same contract as Telegram or Discord), only without a wire.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from brandbot.clocks import Clock
from brandbot.core.events import Outgoing, Reply
from brandbot.networks.base import Network, NetworkHost, NetworkState, RateLimits, Sent


class MemoryConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    requires_summons: bool = Field(False, description="Act like X: reply only to people who summoned the bot")
    max_text: int = Field(4096, ge=1)


@dataclass
class _Failure:
    error: Exception
    times: int


class MemoryNetwork(Network):
    Config = MemoryConfig
    send_concurrency = 64  # a send returns at once

    def __init__(self, config: MemoryConfig | None = None, *, clock: Clock | None = None, name: str = "memory",
                 limits: RateLimits | None = None) -> None:
        config = config or MemoryConfig()
        self.name = name
        self.requires_summons = config.requires_summons
        self.limits = limits or RateLimits(max_text=config.max_text)
        self.host: NetworkHost | None = None
        self.sent: list[Reply] = []
        self.outgoing: list[Outgoing] = []
        self._failures: list[_Failure] = []
        self._ids = itertools.count(1)
        self.started = False

    async def start(self, host: NetworkHost) -> None:
        self.host = host
        self.started = True
        host.report_state(NetworkState.READY)

    async def stop(self) -> None:
        if self.host is not None and self.started:
            self.host.report_state(NetworkState.CLOSED)
        self.started = False

    def fail_next(self, error: Exception, times: int = 1) -> None:
        """Make the next ``times`` sends raise ``error`` (e.g. RateLimitedError("429", 3))."""
        self._failures.append(_Failure(error, times))

    async def send(self, message: Outgoing) -> Sent:
        if self._failures:
            failure = self._failures[0]
            failure.times -= 1
            if failure.times <= 0:
                self._failures.pop(0)
            raise failure.error
        self.sent.append(message.reply)
        self.outgoing.append(message)
        return Sent((f"{self.name}-{next(self._ids)}",))

