"""Scale-out wire format, key names and partitioning (pure: no Redis needed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brandbot.core.events import Conversation, Event, Kind, Person
from brandbot.core.records import OutboxEntry, OutboxStatus
from brandbot.scale.streams import (
    Keys,
    WireFormatError,
    decode_event,
    decode_outbox,
    encode_event,
    encode_outbox,
    owner_of,
    partition_of,
)

text = st.text(max_size=40)


@st.composite
def events(draw: st.DrawFn) -> Event:
    network = draw(st.sampled_from(["telegram", "discord", "x"]))
    return Event(
        kind=draw(st.sampled_from(list(Kind))), network=network, id=draw(text),
        author=Person(network, draw(text), draw(text), draw(text)),
        conversation=Conversation(network, draw(text), draw(st.booleans()), draw(text)),
        text=draw(st.text(max_size=200)),
        time=draw(st.datetimes(timezones=st.just(UTC))),
        post_id=draw(st.none() | text), refers_to=draw(st.none() | text), addressed=draw(st.booleans()),
        command=draw(st.none() | text), args=tuple(draw(st.lists(text, max_size=3))),
        data=tuple(draw(st.lists(st.tuples(text, text), max_size=3))),
    )


@given(events())
def test_an_event_survives_the_stream(event: Event) -> None:
    fields = encode_event(event)
    assert decode_event(fields) == event
    as_bytes = {k.encode(): v.encode() for k, v in fields.items()}  # what redis-py returns
    assert decode_event(as_bytes) == event


def test_an_outbox_entry_survives_the_stream() -> None:
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    entry = OutboxEntry(id=42, network="telegram", conversation_id="-100", conversation_private=False,
                        text="Merci 🙂", created=now, next_try=now, status=OutboxStatus.PENDING,
                        in_reply_to="-100:7", recipient_id="5", follower_id=3, event_id="e1", source="rule:hi",
                        attempts=1)
    assert decode_outbox(encode_outbox(entry)) == entry


@pytest.mark.parametrize("fields", [{}, {"event": "{"}, {"event": '{"kind": "nonsense"}'}, {b"other": b"x"}])
def test_a_foreign_entry_is_a_clear_error(fields: dict) -> None:
    with pytest.raises(WireFormatError, match="event"):
        decode_event(fields)


def test_keys_carry_the_brand_and_one_hash_tag() -> None:
    keys = Keys("acme", 8)
    assert keys.events(3) == "brandbot:{acme}:events:3"
    assert {k.split("}")[0] for k in (keys.events(0), keys.lease(1), keys.workers, keys.outbox,
                                     keys.rate("telegram", "all:0"))} == {"brandbot:{acme"}
    assert Keys("other", 8).events(3) != keys.events(3)
    with pytest.raises(ValueError, match="brand id"):
        Keys("Bad Brand", 8)
    with pytest.raises(ValueError, match="partitions"):
        Keys("acme", 0)


@given(st.text(max_size=20), st.text(max_size=30), st.integers(1, 64))
def test_a_person_always_has_the_same_partition(network: str, author: str, partitions: int) -> None:
    p = partition_of(network, author, partitions)
    assert 0 <= p < partitions
    assert partition_of(network, author, partitions) == p


def test_people_spread_over_partitions() -> None:
    counts = [0] * 16
    for i in range(1600):
        counts[partition_of("telegram", str(1000 + i), 16)] += 1
    assert min(counts) > 60 and max(counts) < 140  # about 100 each


def test_owners_move_only_for_the_worker_that_came_or_went() -> None:
    two = ["w-a", "w-b"]
    three = ["w-a", "w-b", "w-c"]
    before = {p: owner_of(p, two) for p in range(64)}
    after = {p: owner_of(p, three) for p in range(64)}
    moved = {p for p in range(64) if before[p] != after[p]}
    assert moved and all(after[p] == "w-c" for p in moved)
    assert set(before.values()) == {"w-a", "w-b"}
    assert owner_of(0, []) is None
    assert owner_of(5, ["w-b", "w-a"]) == owner_of(5, ["w-a", "w-b"])  # order does not matter
