"""Rows the store keeps, as frozen dataclasses: the vocabulary shared by core and store."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from brandbot.core.fastinit import fast_init


@fast_init
@dataclass(frozen=True, slots=True)
class FollowerRecord:
    """One human, across all their linked network identities, and what we know of them."""

    id: int
    name: str
    first_seen: datetime
    last_seen: datetime
    interactions: int = 0  # incoming interactions, all kinds
    mentions: int = 0
    replies: int = 0
    reposts: int = 0
    quotes: int = 0
    points: int = 0
    tier: str = ""
    streak: int = 0  # days in a row with an interaction
    streak_day: str = ""  # ISO date (UTC) of the last day counted in the streak
    points_day: str = ""  # ISO date (UTC) that points_today counts
    points_today: int = 0  # for the daily cap
    tags: frozenset[str] = frozenset()
    notes: str = ""
    opted_out: bool = False
    unreachable: frozenset[str] = frozenset()  # networks where the person blocked the bot

    def days_known(self, now: datetime) -> int:
        """Whole days since first contact."""
        return max(0, (now - self.first_seen).days)


@fast_init
@dataclass(frozen=True, slots=True)
class Identity:
    """A follower's account on one network."""

    follower_id: int
    network: str
    user_id: str
    handle: str = ""
    name: str = ""


class Direction(enum.StrEnum):
    IN = "in"
    OUT = "out"


@fast_init
@dataclass(frozen=True, slots=True)
class Interaction:
    """One entry of a follower's history: something they did, or something we sent them.

    ``text`` is kept for the configured retention and then blanked by ``prune``; the
    counts derived from the row are kept forever.
    """

    follower_id: int
    time: datetime
    direction: Direction
    kind: str  # an events.Kind value, or "reply"/"refused" for outgoing rows
    network: str
    conversation_id: str
    event_id: str = ""
    text: str = ""
    source: str = ""  # rule or plugin that answered / caused it
    points: int = 0
    id: int = 0  # assigned by the store; 0 before it is written


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"  # recorded, not yet delivered (or waiting for a retry time)
    SENT = "sent"
    REFUSED = "refused"  # the policy said no; ``reason`` says why
    FAILED = "failed"  # the network said no for good, or retries ran out


@fast_init
@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A reply on its way out. Written before sending, updated after."""

    id: int
    network: str
    conversation_id: str
    conversation_private: bool
    text: str
    created: datetime
    next_try: datetime
    status: OutboxStatus = OutboxStatus.PENDING
    in_reply_to: str = ""
    recipient_id: str = ""
    follower_id: int = 0
    event_id: str = ""
    source: str = ""
    attempts: int = 0
    reason: str = ""
    post_ids: tuple[str, ...] = ()


@fast_init
@dataclass(frozen=True, slots=True)
class Job:
    """A scheduled piece of work that must survive restarts (reminders, giveaway closings)."""

    name: str  # unique, e.g. "giveaway:close:7"
    due: datetime
    owner: str  # plugin name that runs it
    payload: str = "{}"  # JSON text


@dataclass(frozen=True, slots=True)
class FollowerQuery:
    """Filters and order for listing followers (CLI, leaderboards)."""

    tier: str | None = None
    network: str | None = None
    tag: str | None = None
    seen_since: datetime | None = None
    order_by: str = "points"  # points | last_seen | first_seen | interactions | name
    descending: bool = True
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True)
class FollowerExport:
    """Everything held on one person, for a GDPR export."""

    follower: FollowerRecord
    identities: tuple[Identity, ...]
    interactions: tuple[Interaction, ...]
    outbox: tuple[OutboxEntry, ...]
    plugin_data: tuple[tuple[str, str, str], ...] = field(default=())  # (namespace, key, value)
    #: The person's rows of every other table that holds people: (table, {column: value}).
    other_rows: tuple[tuple[str, dict[str, Any]], ...] = field(default=())
