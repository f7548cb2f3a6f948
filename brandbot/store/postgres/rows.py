"""Records to PostgreSQL rows and back: native types (timestamptz, boolean, jsonb).

Every row starts with the brand, the first column of every key. Column lists are the
SQLite store's (``brandbot.store.sqlite.rows``), so both stores read and write the same
fields in the same order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
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
from brandbot.store.sqlite.rows import (
    _FOLLOWER_COLUMNS,
    _FOLLOWER_NAMES,
    _IDENTITY_COLUMNS,
    _INTERACTION_COLUMNS,
    _OUTBOX_COLUMNS,
    _handle_key,
    _set_text,
    _text_set,
)

__all__ = [
    "_FOLLOWER_COLUMNS",
    "_FOLLOWER_NAMES",
    "_IDENTITY_COLUMNS",
    "_INTERACTION_COLUMNS",
    "_OUTBOX_COLUMNS",
    "_aware",
    "_follower_from",
    "_follower_row",
    "_identity_from",
    "_identity_row",
    "_interaction_from",
    "_interaction_row",
    "_job_from",
    "_job_row",
    "_outbox_from",
    "_outbox_row",
]


def _aware(value: datetime) -> datetime:
    """The datetime itself, refused when naive (PostgreSQL would guess its zone)."""
    if value.utcoffset() is None:
        raise ValueError(
            f"naive datetime {value!r}: brandbot stores timezone-aware times only "
            "(use datetime.now(timezone.utc) or the Clock)"
        )
    return value


def _follower_row(brand: str, f: FollowerRecord) -> tuple[Any, ...]:
    return (
        brand, f.id, f.name, _aware(f.first_seen), _aware(f.last_seen), f.interactions,
        f.mentions, f.replies, f.reposts, f.quotes, f.points, f.tier, f.streak, f.streak_day,
        f.points_day, f.points_today, _set_text(f.tags), f.notes, bool(f.opted_out),
        _set_text(f.unreachable),
    )  # fmt: skip


def _follower_from(row: Sequence[Any]) -> FollowerRecord:
    return FollowerRecord(
        id=row[0], name=row[1], first_seen=row[2], last_seen=row[3], interactions=row[4],
        mentions=row[5], replies=row[6], reposts=row[7], quotes=row[8], points=row[9],
        tier=row[10], streak=row[11], streak_day=row[12], points_day=row[13],
        points_today=row[14], tags=_text_set(row[15]), notes=row[16], opted_out=row[17],
        unreachable=_text_set(row[18]),
    )  # fmt: skip


def _identity_row(brand: str, i: Identity) -> tuple[Any, ...]:
    return (brand, i.network, i.user_id, i.follower_id, i.handle, _handle_key(i.handle), i.name)


def _identity_from(row: Sequence[Any]) -> Identity:
    return Identity(follower_id=row[0], network=row[1], user_id=row[2], handle=row[3], name=row[4])


def _interaction_row(
    brand: str, interaction_id: int, follower_id: int, i: Interaction
) -> tuple[Any, ...]:
    return (
        brand, interaction_id, follower_id, _aware(i.time), Direction(i.direction).value,
        i.kind, i.network, i.conversation_id, i.event_id, i.text, i.source, i.points,
    )  # fmt: skip


def _interaction_from(row: Sequence[Any]) -> Interaction:
    return Interaction(
        id=row[0], follower_id=row[1], time=row[2], direction=Direction(row[3]), kind=row[4],
        network=row[5], conversation_id=row[6], event_id=row[7], text=row[8], source=row[9],
        points=row[10],
    )  # fmt: skip


def _outbox_row(brand: str, e: OutboxEntry) -> tuple[Any, ...]:
    return (
        brand, e.id, e.network, e.conversation_id, bool(e.conversation_private), e.text,
        _aware(e.created), _aware(e.next_try), OutboxStatus(e.status).value, e.in_reply_to,
        e.recipient_id, e.follower_id, e.event_id, e.source, e.attempts, e.reason,
        json.dumps(list(e.post_ids)),
    )  # fmt: skip


def _outbox_from(row: Sequence[Any]) -> OutboxEntry:
    post_ids = json.loads(row[15]) if row[15] else []
    return OutboxEntry(
        id=row[0], network=row[1], conversation_id=row[2], conversation_private=row[3],
        text=row[4], created=row[5], next_try=row[6], status=OutboxStatus(row[7]),
        in_reply_to=row[8], recipient_id=row[9], follower_id=row[10], event_id=row[11],
        source=row[12], attempts=row[13], reason=row[14], post_ids=tuple(post_ids),
    )  # fmt: skip


def _job_row(brand: str, j: Job) -> tuple[Any, ...]:
    return (brand, j.name, _aware(j.due), j.owner, j.payload)


def _job_from(row: Sequence[Any]) -> Job:
    return Job(name=row[0], due=row[1], owner=row[2], payload=row[3])
