"""Poll loops for networks that have no push channel (Mastodon, Bluesky).

A loop calls its poll function every ``interval`` seconds. A failing poll backs off
exponentially (never beyond ``max_backoff``), or waits as long as the network named in
its rate-limit answer; the network shows DEGRADED until every loop succeeds again.
The loops keep no cursor of their own: each poll function saves its cursor after
``host.settled()``, so a loop cancelled mid-poll replays (deduped by id), never loses.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Awaitable, Callable

from brandbot.clocks import Clock
from brandbot.core.errors import ConfigError
from brandbot.networks.base import Network, NetworkHost, NetworkState

#: Tells, for a failed poll, how many seconds the network asked us to wait (None: it did not).
RetryAfter = Callable[[BaseException], float | None]
#: Tells how long to wait after a successful poll (e.g. longer when the quota is spent).
NextDelay = Callable[[float], float]


def backoff(failures: int, interval: float, max_backoff: float, retry_after: float | None = None) -> float:
    """Seconds before the next try after the ``failures``-th failure in a row.

    A rate-limit answer (``retry_after``) is waited out (plus a second, at most
    ``max_backoff`` + 60); anything else doubles the interval per failure up to ``max_backoff``.
    """
    if retry_after is not None:
        return min(max_backoff + 60.0, max(1.0, retry_after + 1.0))
    return min(max_backoff, interval * 2.0 ** min(failures, 16))


class PollLoops:
    """The background poll loops of one network, and the health they report."""

    def __init__(
        self, network: str, clock: Clock, retry_after: RetryAfter, describe: Callable[[BaseException], str],
        max_backoff: float,
    ) -> None:
        self._network = network
        self._clock = clock
        self._retry_after = retry_after
        self._describe = describe
        self._max_backoff = max_backoff
        self._tasks: list[asyncio.Task[None]] = []
        self.failing: set[str] = set()

    def spawn(
        self, host: NetworkHost, log: logging.Logger, name: str, interval: float,
        poll: Callable[[], Awaitable[int]], next_delay: NextDelay | None = None,
    ) -> None:
        task = asyncio.create_task(
            self._forever(host, log, name, interval, poll, next_delay), name=f"brandbot-{self._network}-{name}"
        )
        self._tasks.append(task)

    async def cancel(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _forever(
        self, host: NetworkHost, log: logging.Logger, name: str, interval: float,
        poll: Callable[[], Awaitable[int]], next_delay: NextDelay | None,
    ) -> None:
        failures = 0
        while True:
            try:
                await poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a poll loop must outlive any one bad response
                failures += 1
                delay = backoff(failures, interval, self._max_backoff, self._retry_after(exc))
                detail = self._describe(exc)
                log.warning("%s %s poll failed (%s); next try in %.0f s", self._network, name, detail, delay)
                self.failing.add(name)
                host.report_state(NetworkState.DEGRADED, f"{name}: {detail}")
            else:
                failures = 0
                delay = next_delay(interval) if next_delay is not None else interval
                if name in self.failing:
                    self.failing.discard(name)
                    if not self.failing:
                        host.report_state(NetworkState.READY)
            await self._clock.sleep(delay)




class PolledNetwork(Network):
    """The lifecycle of an adapter that polls one notifications endpoint (Mastodon, Bluesky).

    ``start`` opens the client and prepares (log in, learn the account, load the cursor);
    refused credentials stop the start with a ConfigError saying what to check, a service
    that does not answer starts DEGRADED and the poll loop finishes the preparation later.
    Subclasses give the client's open/close, the preparation and the poll.
    """

    #: How the service is named in messages ("Mastodon").
    label: str = ""
    #: Exceptions that mean the service did not answer (start DEGRADED, keep trying).
    unavailable: tuple[type[BaseException], ...] = ()

    def _init_polling(self, clock: Clock, poll_in_background: bool, interval: float, retry_after: RetryAfter,
                      describe: Callable[[BaseException], str], max_backoff: float) -> None:
        self._clock = clock
        self._poll_in_background = poll_in_background
        self._interval = interval
        self._describe = describe
        self._log = logging.getLogger(f"brandbot.networks.{self.name}")
        self._host: NetworkHost | None = None
        self._loops = PollLoops(self.name, clock, retry_after, describe, max_backoff)
        self._closed = False

    @abc.abstractmethod
    async def _open(self) -> None:
        """Create the library's client (no I/O)."""

    @abc.abstractmethod
    async def _close(self) -> None:
        """Close the client; safe when it is not open."""

    @abc.abstractmethod
    def _is_open(self) -> bool: ...

    @abc.abstractmethod
    async def _prepare(self) -> None:
        """Log in, learn the account and where to resume; a no-op once done."""

    @abc.abstractmethod
    def _refused(self, exc: BaseException) -> str | None:
        """What to fix when ``exc`` means the credentials were refused; None for other errors."""

    @abc.abstractmethod
    async def poll_once(self) -> int: ...

    def _after_poll(self, interval: float) -> float:
        """Seconds until the next poll after a good one (longer when the quota is spent)."""
        return interval

    async def start(self, host: NetworkHost) -> None:
        if self._is_open():
            raise RuntimeError(f"this {type(self).__name__} is already started")
        self._host = host
        self._log = host.log.getChild(self.name)
        self._closed = False
        host.report_state(NetworkState.CONNECTING)
        await self._open()
        try:
            await self._prepare()
        except self.unavailable as exc:
            fix = self._refused(exc)
            if fix is not None:
                await self._close()
                host.report_state(NetworkState.FAILED, self._describe(exc))
                raise ConfigError(f"{self.label} refused brandbot's credentials ({self._describe(exc)}): {fix}") from None
            self._log.warning("%s is not answering at start (%s); will keep trying", self.label, self._describe(exc))
            host.report_state(NetworkState.DEGRADED, f"start: {self._describe(exc)}")
            self._loops.failing.add("notifications")
        except BaseException:
            await self._close()
            raise
        else:
            host.report_state(NetworkState.READY)
        if self._poll_in_background:
            self._loops.spawn(host, self._log, "notifications", self._interval, self.poll_once, self._after_poll)

    async def stop_intake(self) -> None:
        """Stop polling but keep the client, so the Bot can drain its outbox before stop().

        A poll cut short has not saved its cursor: its events come again next start and are
        deduped by id."""
        await self._loops.cancel()

    async def stop(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.stop_intake()
        await self._close()
        if self._host is not None:
            self._host.report_state(NetworkState.CLOSED)

    def _running_host(self) -> NetworkHost:
        if self._host is None or not self._is_open():
            raise RuntimeError(f"the {self.label} network is not started")
        return self._host


__all__ = ["PollLoops", "PolledNetwork", "backoff"]
