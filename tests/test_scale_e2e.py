"""Scale-out end to end: a gateway and 2 workers (separate processes) on the fake Telegram and
fake Discord, real Redis and PostgreSQL.

2,000 direct messages from 500 people (190 on Telegram, 310 on Discord, 4 each) must each
be answered exactly once, each person's answers in the order they wrote, with loyalty
counts equal to a recomputation from history and no platform rate window exceeded
(checked where the sends arrive: at the fakes). Then the same with a worker SIGKILLed 5
times during the run (and started again each time): nothing lost, nothing answered twice
(the gateway sends, so a worker killed mid-batch has no send in flight).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from brandbot.scale.connection import connect
from tests.scale_cluster import (
    Cluster,
    TimedDiscord,
    TimedTelegram,
    limit_violations,
    loyalty_mismatches,
    make_people,
    push,
    replies,
    text_of,
    wait_for_replies,
)
from tests.servers.postgres import pg_url, postgres_server  # noqa: F401 - fixtures
from tests.servers.redis import RedisServer, redis_server  # noqa: F401 - fixtures

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

ON_TELEGRAM, ON_DISCORD, PER_PERSON = 190, 310, 4


@pytest.fixture
async def cluster(tmp_path: Path, pg_url: str, redis_server: RedisServer) -> AsyncIterator[Cluster]:  # noqa: F811
    telegram = await TimedTelegram().start()
    discord = await TimedDiscord().start()
    made = Cluster(tmp_path / "cluster", pg_url, redis_server.url, telegram, discord)
    try:
        yield made
    finally:
        await made.stop_all()
        await discord.stop()
        await telegram.stop()


async def run_load(cluster: Cluster, kills: int = 0) -> list:
    """Start the cluster, push every event (killing a worker ``kills`` times), wait for the answers."""
    redis = connect(cluster.redis_url)
    cluster.start("gateway")
    for n in range(cluster.workers):
        cluster.start(f"worker{n}")
    await cluster.wait_ready(redis)
    people = make_people(cluster.telegram, cluster.discord, ON_TELEGRAM, ON_DISCORD)
    total = len(people) * PER_PERSON

    async def killer() -> None:
        rng = random.Random(7)
        for k in range(kills):
            await asyncio.sleep(rng.uniform(2.0, 3.5))
            victim = f"worker{k % cluster.workers}"
            cluster.kill(victim)
            cluster.start(victim)

    killing = asyncio.create_task(killer())
    for seq in range(PER_PERSON):
        for person in people:
            await push(cluster, person, seq)
        await asyncio.sleep(1.0)  # the answers of a person's messages spread over the run
    await killing
    await wait_for_replies(cluster, total, timeout=180)
    await asyncio.sleep(1.5)  # a late duplicate would arrive now
    await cluster.stop_all()
    await redis.aclose()
    assert sum(cluster.starts.values()) == 1 + cluster.workers + kills
    return people


def check_answers(cluster: Cluster, people: list, in_order: bool) -> None:
    got = replies(cluster)
    counts = Counter(text for _chat, text in got)
    expected = {f"got {text_of(p, seq)}" for p in people for seq in range(PER_PERSON)}
    assert set(counts) == expected, f"missing {sorted(expected - set(counts))[:5]}, extra {sorted(set(counts) - expected)[:5]}"
    doubled = {t: n for t, n in counts.items() if n > 1}
    assert not doubled, f"answered more than once: {list(doubled.items())[:5]}"
    if in_order:
        by_chat: dict[str, list[int]] = defaultdict(list)
        for chat, text in got:
            by_chat[chat].append(int(text.rsplit("s", 1)[1]))
        unordered = {c: seqs for c, seqs in by_chat.items() if seqs != sorted(seqs)}
        assert not unordered, f"answers out of order: {list(unordered.items())[:5]}"
        assert len(by_chat) == len(people)


async def check_store(cluster: Cluster, people: list) -> None:
    followers, mismatches, incoming = await loyalty_mismatches(cluster)
    assert followers == len(people)
    assert not mismatches, mismatches[:5]
    assert set(incoming.values()) == {PER_PERSON}  # every event counted once, none twice


async def test_a_gateway_and_two_workers_answer_every_event_once_in_order(cluster: Cluster) -> None:
    people = await run_load(cluster)
    check_answers(cluster, people, in_order=True)
    assert limit_violations(cluster) == []
    await check_store(cluster, people)


async def test_a_worker_killed_five_times_loses_nothing(cluster: Cluster) -> None:
    people = await run_load(cluster, kills=5)
    check_answers(cluster, people, in_order=False)
    assert limit_violations(cluster) == []
    await check_store(cluster, people)
