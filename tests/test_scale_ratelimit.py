"""Shared rate limits in a real Redis: several processes together stay within a platform's limits."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from brandbot.networks.base import RateLimits
from brandbot.scale.connection import connect
from brandbot.scale.ratelimit import SharedRateLimiter, windows_for
from brandbot.scale.streams import Keys
from tests.servers.redis import RedisServer, redis_server  # noqa: F401 - the fixture

pytestmark = pytest.mark.redis

KEYS = Keys("acme", 4)
TELEGRAM = RateLimits(per_conversation=((1, 1.0),), per_group=((20, 60.0),), overall=((30, 1.0),))


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:  # noqa: F811
    client = connect(redis_server.url)
    yield client
    await client.aclose()


def test_windows_follow_the_platform_limits() -> None:
    private = windows_for(KEYS, "telegram", TELEGRAM, "42", True, 0.1)
    group = windows_for(KEYS, "telegram", TELEGRAM, "-100", False, 0.1)
    assert [(w.count, w.span_us) for w in private] == [(30, 1_100_000), (1, 1_100_000)]
    assert [(w.count, w.span_us) for w in group] == [(30, 1_100_000), (1, 1_100_000), (20, 60_100_000)]
    assert private[0].key == group[0].key  # the network-wide window is one for all chats
    assert windows_for(KEYS, "console", RateLimits(), "x", True, 0.1) == []


async def test_a_full_window_says_how_long_to_wait(redis: Redis) -> None:
    limiter = SharedRateLimiter(redis, KEYS, margin=0.0)
    limits = RateLimits(per_conversation=((2, 1.0),))
    for _ in range(2):
        wait, ticket = await limiter.try_take("telegram", limits, "7", True)
        assert wait == 0 and ticket is not None
        await limiter.done(ticket)
    wait, ticket = await limiter.try_take("telegram", limits, "7", True)
    assert 0 < wait <= 1.0 and ticket is None
    assert (await limiter.try_take("telegram", limits, "8", True))[0] == 0  # another chat has room
    await asyncio.sleep(wait)
    assert (await limiter.try_take("telegram", limits, "7", True))[0] == 0


async def test_a_send_counts_from_its_answer_not_its_grant(redis: Redis) -> None:
    """A send still in flight may arrive any moment: the next one waits for its answer, then
    a full window (arrivals a window apart however long the first one travelled)."""
    limiter = SharedRateLimiter(redis, KEYS, margin=0.0)
    limits = RateLimits(per_conversation=((1, 0.3),))
    first = await limiter.take("telegram", limits, "7", True)
    await asyncio.sleep(0.5)  # the first send is slow: longer than the window
    wait, _ = await limiter.try_take("telegram", limits, "7", True)
    assert wait > 0  # still in flight: not granted, whatever the grant time says
    answered = time.monotonic()  # before Redis records the answer: the wait below is at least the window
    await limiter.done(first)
    await limiter.take("telegram", limits, "7", True)
    assert time.monotonic() - answered >= 0.299  # clocks agree to far better than 1 ms


def _sender(url: str, count: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """One process sending ``count`` messages as fast as the shared limits allow."""

    async def main() -> list[float]:
        client = connect(url)
        limiter = SharedRateLimiter(client, KEYS, margin=0.0)
        limits = RateLimits(per_conversation=((3, 1.0),), overall=((10, 1.0),))
        granted = []
        for i in range(count):
            ticket = await limiter.take("telegram", limits, str(i % 2), True)
            t = await client.time()  # the "arrival": between the grant and the answer
            granted.append(t[0] + t[1] / 1e6)
            await limiter.done(ticket)
        await client.aclose()
        return granted

    out.put(asyncio.run(main()))


def test_three_processes_together_never_exceed_the_limits(redis_server: RedisServer) -> None:  # noqa: F811
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_sender, args=(redis_server.url, 12, out)) for _ in range(3)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    times = sorted(t for r in results for t in r)
    assert len(times) == 36
    # overall: at most 10 in any 1 s window (Redis's clock, as the limiter measures)
    for i in range(len(times) - 10):
        assert times[i + 10] - times[i] >= 1.0 - 1e-6, f"11 sends within {times[i + 10] - times[i]:.6f}s"
    assert times[-1] - times[0] >= 3.0  # 36 sends at 10/s cannot take less


async def test_the_limiter_waits_through_a_redis_restart(redis_server: RedisServer) -> None:  # noqa: F811
    from brandbot.core.errors import RateLimitedError
    from brandbot.core.events import Conversation, Outgoing, Reply
    from brandbot.networks.memory import MemoryNetwork
    from brandbot.scale.sendguard import GuardedNetwork

    client = connect(redis_server.url)
    inner = MemoryNetwork(name="telegram", limits=RateLimits(overall=((30, 1.0),)))
    guarded = GuardedNetwork(inner, SharedRateLimiter(client, KEYS))
    reply = Reply("telegram", Conversation("telegram", "5", private=True), "hi")
    assert (await guarded.send(Outgoing(1, reply))).post_ids
    assert (await guarded.send(Outgoing(1, reply))).post_ids  # the same outbox id: not sent again
    assert len(inner.sent) == 1 and guarded.duplicates_suppressed == 1
    redis_server.kill()
    with pytest.raises(RateLimitedError, match="redis is down"):  # the outbox retries it, never drops it
        await guarded.send(Outgoing(2, reply))
    redis_server.start()
    started = time.monotonic()
    while True:
        try:
            await guarded.send(Outgoing(2, reply))
            break
        except RateLimitedError:
            assert time.monotonic() - started < 30
            await asyncio.sleep(0.2)
    assert len(inner.sent) == 2
    await client.aclose()
