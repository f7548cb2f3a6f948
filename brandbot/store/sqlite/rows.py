"""Records to rows and back: the value codecs and the column lists of each table.

Kept apart from the store so that every concern (and the benchmarks) encodes a row the
same way, and so that a time always becomes the same sortable text.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from sys import intern
from typing import Any

from brandbot.core.records import (
    Direction,
    FollowerRecord,
    Identity,
    Interaction,
    Job,
    OutboxEntry,
    OutboxStatus,
)


@functools.lru_cache(maxsize=1024)
def _ts(value: datetime) -> str:
    """A datetime as fixed-width ISO-8601 UTC text, so text order is time order.

    Memoized: the rows written for one event mostly share the same ``now``, written
    within a few events of each other (4,096 entries were about 1 MB, for 56% hits in
    the soak).
    """
    offset = value.utcoffset()
    if offset is None:
        raise _naive(value)
    if offset:
        value = value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")


def _naive(value: datetime) -> ValueError:
    return ValueError(
        f"naive datetime {value!r}: brandbot stores timezone-aware times only "
        "(use datetime.now(timezone.utc) or the Clock)"
    )


def _require_aware(*values: datetime) -> None:
    """What ``_ts`` would refuse, refused now: for rows encoded later, at the commit."""
    for value in values:
        if value.tzinfo is None or value.utcoffset() is None:
            raise _naive(value)


def _dt(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _set_text(values: frozenset[str]) -> str:
    return json.dumps(sorted(values)) if values else "[]"


@functools.lru_cache(maxsize=1024)
def _text_set(text: str) -> frozenset[str]:
    """Memoized: records read back share their sets (an empty frozenset alone is a new
    216-byte object each time one is built, and a cached follower holds two)."""
    return frozenset(json.loads(text)) if text and text != "[]" else frozenset()


def _handle_key(handle: str) -> str:
    return handle.lstrip("@").lower()


def person_segment(follower_id: int) -> str:
    """The colon-separated key segment that names a follower: ``f<id>``."""
    return f"f{follower_id}"


def _names_person(key: str, segments: Iterable[str]) -> bool:
    parts = key.split(":")
    return any(segment in parts for segment in segments)


_FOLLOWER_COLUMNS = (
    "id, name, first_seen, last_seen, interactions, mentions, replies, reposts, quotes, "
    "points, tier, streak, streak_day, points_day, points_today, tags, notes, opted_out, "
    "unreachable"
)
_FOLLOWER_NAMES = tuple(column.strip() for column in _FOLLOWER_COLUMNS.split(","))


def _follower_row(f: FollowerRecord) -> tuple[Any, ...]:
    return (
        f.id, f.name, _ts(f.first_seen), _ts(f.last_seen), f.interactions, f.mentions,
        f.replies, f.reposts, f.quotes, f.points, f.tier, f.streak, f.streak_day,
        f.points_day, f.points_today, _set_text(f.tags), f.notes, 1 if f.opted_out else 0, _set_text(f.unreachable),
    )  # fmt: skip


def _follower_from(row: Sequence[Any]) -> FollowerRecord:
    return FollowerRecord(
        id=row[0],
        name=row[1],
        first_seen=_dt(row[2]),
        last_seen=_dt(row[3]),
        interactions=row[4],
        mentions=row[5],
        replies=row[6],
        reposts=row[7],
        quotes=row[8],
        points=row[9],
        tier=intern(row[10]),
        streak=row[11],
        streak_day=intern(row[12]),
        points_day=intern(row[13]),
        points_today=row[14],
        tags=_text_set(row[15]),
        notes=row[16],
        opted_out=bool(row[17]),
        unreachable=_text_set(row[18]),
    )


_IDENTITY_COLUMNS = "follower_id, network, user_id, handle, name"


def _identity_row(i: Identity) -> tuple[Any, ...]:
    return (i.network, i.user_id, i.follower_id, i.handle, _handle_key(i.handle), i.name)


def _identity_from(row: Sequence[Any]) -> Identity:
    return Identity(
        follower_id=row[0], network=intern(row[1]), user_id=row[2], handle=row[3], name=row[4]
    )


_INTERACTION_COLUMNS = (
    "id, follower_id, time, direction, kind, network, conversation_id, event_id, text, "
    "source, points"
)


def _interaction_from(row: Sequence[Any]) -> Interaction:
    return Interaction(
        id=row[0],
        follower_id=row[1],
        time=_dt(row[2]),
        direction=Direction(row[3]),
        kind=row[4],
        network=row[5],
        conversation_id=row[6],
        event_id=row[7],
        text=row[8],
        source=row[9],
        points=row[10],
    )


_OUTBOX_COLUMNS = (
    "id, network, conversation_id, conversation_private, text, created, next_try, status, "
    "in_reply_to, recipient_id, follower_id, event_id, source, attempts, reason, post_ids"
)


def _outbox_row(e: OutboxEntry) -> tuple[Any, ...]:
    return (
        e.id, e.network, e.conversation_id, 1 if e.conversation_private else 0, e.text,
        _ts(e.created), _ts(e.next_try), OutboxStatus(e.status).value, e.in_reply_to,
        e.recipient_id, e.follower_id, e.event_id, e.source, e.attempts, e.reason,
        json.dumps(list(e.post_ids)) if e.post_ids else "[]",
    )  # fmt: skip


def _outbox_from(row: Sequence[Any]) -> OutboxEntry:
    return OutboxEntry(
        id=row[0],
        network=row[1],
        conversation_id=row[2],
        conversation_private=bool(row[3]),
        text=row[4],
        created=_dt(row[5]),
        next_try=_dt(row[6]),
        status=OutboxStatus(row[7]),
        in_reply_to=row[8],
        recipient_id=row[9],
        follower_id=row[10],
        event_id=row[11],
        source=row[12],
        attempts=row[13],
        reason=row[14],
        post_ids=tuple(json.loads(row[15])) if row[15] and row[15] != "[]" else (),
    )


def _job_row(j: Job) -> tuple[Any, ...]:
    return (j.name, _ts(j.due), j.owner, j.payload)


def _job_from(row: Sequence[Any]) -> Job:
    return Job(name=row[0], due=_dt(row[1]), owner=row[2], payload=row[3])
