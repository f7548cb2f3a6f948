"""Per-conversation order, concurrency across conversations, back-pressure."""

import asyncio
from datetime import UTC

from brandbot.runtime.lanes import Lanes


async def test_one_conversation_is_handled_in_order_others_concurrently() -> None:
    seen: list[tuple[str, int]] = []
    running: set[str] = set()
    overlap = []

    async def handle(item: tuple[str, int]) -> None:
        key, n = item
        assert key not in running, "two events of one conversation ran at once"
        running.add(key)
        overlap.append(len(running))
        await asyncio.sleep(0.001 * (3 - n % 3))
        seen.append(item)
        running.discard(key)

    lanes: Lanes[tuple[str, int]] = Lanes(handle, max_concurrency=8)
    for n in range(30):
        for key in ("a", "b", "c"):
            await lanes.submit(key, (key, n))
    await lanes.join()
    for key in ("a", "b", "c"):
        assert [n for k, n in seen if k == key] == list(range(30))
    assert max(overlap) > 1


async def test_a_failing_event_does_not_stop_its_lane() -> None:
    done: list[int] = []

    async def handle(n: int) -> None:
        if n == 1:
            raise RuntimeError("boom")
        done.append(n)

    lanes: Lanes[int] = Lanes(handle)
    for n in range(3):
        await lanes.submit("k", n)
    await lanes.join()
    assert done == [0, 2]


async def test_submit_blocks_when_the_queue_is_full() -> None:
    gate = asyncio.Event()

    async def handle(n: int) -> None:
        await gate.wait()

    lanes: Lanes[int] = Lanes(handle, max_concurrency=1, max_queued=2)
    await lanes.submit("a", 1)
    await lanes.submit("b", 2)
    third = asyncio.create_task(lanes.submit("c", 3))
    await asyncio.sleep(0.01)
    assert not third.done(), "a full queue must slow the producer down"
    gate.set()
    await asyncio.wait_for(third, 1)
    await lanes.join()
    assert lanes.queued == 0


def test_follows_and_reposts_queue_per_person_and_messages_per_conversation() -> None:
    from datetime import datetime

    from brandbot.core.events import Conversation, Event, Kind, Person
    from brandbot.runtime.intake import lane_key

    def event(kind: Kind, who: str, conversation: str) -> Event:
        return Event(kind=kind, network="x", id=f"{kind}-{who}", author=Person("x", who),
                     conversation=Conversation("x", conversation), text="hi",
                     time=datetime(2026, 3, 1, tzinfo=UTC))

    # Thousands of people following the brand profile must not wait in one lane ...
    assert lane_key(event(Kind.FOLLOW, "ana", "profile")) != lane_key(event(Kind.FOLLOW, "ben", "profile"))
    assert lane_key(event(Kind.REPOST, "ana", "post-1")) == lane_key(event(Kind.REACTION, "ana", "post-2"))
    # ... while a thread is still answered in the order it was written.
    assert lane_key(event(Kind.MENTION, "ana", "thread")) == lane_key(event(Kind.REPLY, "ben", "thread"))


async def test_a_full_queue_lets_producers_go_on_once_it_is_down_to_three_quarters() -> None:
    """One wake-up admits a quarter of the queue, not one event (fewer wake-ups at full speed)."""
    gates = {n: asyncio.Event() for n in range(8)}

    async def handle(n: int) -> None:
        await gates[n].wait()

    lanes: Lanes[int] = Lanes(handle, max_concurrency=8, max_queued=8)
    for n in range(8):
        await lanes.submit(f"k{n}", n)
    gates[8] = asyncio.Event()
    blocked = asyncio.create_task(lanes.submit("k8", 8))
    await asyncio.sleep(0.01)
    assert not blocked.done(), "a full queue must slow the producer down"
    gates[0].set()
    await asyncio.sleep(0.01)
    assert lanes.queued == 7 and not blocked.done(), "one free place is not enough"
    gates[1].set()
    await asyncio.wait_for(blocked, 1)  # 6 of 8 queued: three quarters
    assert lanes.queued == 7
    for gate in gates.values():
        gate.set()
    await lanes.join()
    assert lanes.queued == 0
