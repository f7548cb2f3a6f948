"""Keeps one network running: restart with exponential backoff and jitter on failure.

A network that fails to start, or reports FAILED while running, is stopped and started
again after a growing, jittered delay; the other networks are not affected. After
``unhealthy_after`` failures in a row the network shows as FAILED in the health report
(with the last error) while the supervisor keeps trying at the capped delay.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

from brandbot.clocks import Clock
from brandbot.networks.base import Network, NetworkHost, NetworkState

log = logging.getLogger("brandbot.runtime.supervisor")


def restart_delay(failures: int, rng: random.Random, base: float = 1.0, cap: float = 300.0) -> float:
    """base * 2^(failures-1), capped, with +-25% jitter so many bots don't retry in step."""
    delay = min(cap, base * 2.0 ** max(0, failures - 1))
    return delay * rng.uniform(0.75, 1.25)


class NetworkSupervisor:
    def __init__(
        self,
        network: Network,
        host: NetworkHost,
        clock: Clock,
        *,
        report: Callable[[NetworkState, str], None],
        rng: random.Random | None = None,
        base_delay: float = 1.0,
        max_delay: float = 300.0,
        unhealthy_after: int = 5,
    ) -> None:
        self.network = network
        self._host = host
        self._clock = clock
        self._report = report
        self._rng = rng or random.Random()
        self._base = base_delay
        self._cap = max_delay
        self._unhealthy_after = unhealthy_after
        self.failures = 0
        self.restarts = 0
        self.failed = asyncio.Event()  # set by the host view when the adapter reports FAILED
        self.first_attempt = asyncio.Event()
        self._stopping = False
        self.running = False

    async def run(self) -> None:
        """Start the network and keep it running until ``stop``."""
        while not self._stopping:
            self.failed.clear()
            try:
                await self.network.start(self._host)
                self.running = True
                self.failures = 0
                self.first_attempt.set()
                await self.failed.wait()
                if self._stopping:
                    return
                self.failures += 1
                log.warning("network %s reported a failure; restarting", self.network.name)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a network must never take the bot down
                self.failures += 1
                state = NetworkState.FAILED if self.failures >= self._unhealthy_after else NetworkState.DEGRADED
                self._report(state, f"start failed ({self.failures}x): {type(exc).__name__}: {exc}")
                log.error("network %s failed to start (%d in a row): %s", self.network.name, self.failures, exc)
                self.first_attempt.set()
            self.running = False
            try:
                await self.network.stop()
            except Exception:  # logged; the restart goes on
                log.exception("network %s did not stop cleanly after a failure", self.network.name)
            if self._stopping:
                return
            delay = restart_delay(self.failures, self._rng, self._base, self._cap)
            log.info("network %s: next start in %.1fs", self.network.name, delay)
            await self._clock.sleep(delay)
            self.restarts += 1

    def stop(self) -> None:
        """Ask the loop to end; the caller stops the network itself."""
        self._stopping = True
        self.failed.set()
