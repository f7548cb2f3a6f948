"""Talking to Redis through outages: a restart of Redis makes a role wait, never exit.

Every call a role makes goes through :func:`retrying`: on a connection error it logs once,
waits (growing to ``max_wait``) and tries again until it succeeds or the role stops. A
crash loop would only add restarts to an outage; waiting keeps the process's state (the
gateway's unconfirmed events, a worker's leases) and resumes the moment Redis is back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger("brandbot.scale")

T = TypeVar("T")

#: Errors that mean "Redis is not there right now" (restarting, network blip), not a bug.
UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)


def connect(url: str) -> Redis:
    """A client for ``url`` (redis://host:port/db); it connects lazily, on first use."""
    return Redis.from_url(url, socket_connect_timeout=2.0, health_check_interval=10,
                          retry_on_timeout=False)


async def retrying(what: str, call: Callable[[], Awaitable[T]], *, max_wait: float = 2.0,
                   stopping: Callable[[], bool] = lambda: False) -> T:
    """``await call()`` until it does not fail for want of Redis; other errors propagate."""
    wait = 0.05
    warned = False
    while True:
        try:
            result = await call()
        except UNAVAILABLE as exc:
            if stopping():
                raise
            if not warned:
                log.warning("redis unavailable (%s: %s) during %s; waiting for it", type(exc).__name__, exc, what)
                warned = True
            await asyncio.sleep(wait)
            wait = min(max_wait, wait * 2)
            continue
        if warned:
            log.info("redis is back (%s)", what)
        return result


async def stop_tasks(tasks: list[asyncio.Task[None]], timeout: float = 5.0) -> None:
    """Cancel ``tasks`` and wait for them, at most ``timeout`` seconds.

    Bounded on purpose: a client library that turns a cancellation into its own
    connection error lets a loop that retries on connection errors go on; the loops here
    also check a stop flag, and a task still running after the bound is logged, not awaited.
    """
    for task in tasks:
        task.cancel()
    if not tasks:
        return
    _done, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        log.warning("task %s did not stop within %.0fs; left behind", task.get_name(), timeout)


__all__ = ["UNAVAILABLE", "connect", "retrying", "stop_tasks"]
