"""Effects: what handling one event (or one job) decided, as a value the runtime commits.

Handlers decide; the runtime does. While an event is handled, everything it wants
written (the person's new record, history rows, replies, once-keys, plugin data, jobs,
the processed mark) is recorded here instead of being written. The intake then hands
the effects of a whole batch of events to one transaction, and only after that commit
are the replies given to the outbox. A crash therefore leaves all of an event's effects
or none of them: a replay is either a duplicate or handled afresh, never counted or
answered twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from brandbot.core.fastinit import fast_init
from brandbot.core.records import FollowerRecord, Interaction, Job, OutboxEntry, OutboxStatus


@fast_init
@dataclass(frozen=True, slots=True)
class DataWrite:
    """One plugin datum: ``value`` None deletes it; ``follower_id`` ties it to a person."""

    namespace: str
    key: str
    value: str | None
    follower_id: int = 0


@fast_init
@dataclass(frozen=True, slots=True)
class Processed:
    """The event's id, marked so a replay of it is recognised as a duplicate."""

    network: str
    event_id: str
    at: datetime


@dataclass(slots=True)
class Effects:
    """The pending effects of one unit of work, in the order they were decided.

    Mutable while its handlers run (they append through the Context); read once by
    the transaction that commits it. ``follower`` is the person's final record, or None
    when the person was not touched (a job) or was forgotten while the event ran.
    """

    follower: FollowerRecord | None = None
    interactions: list[Interaction] = field(default_factory=list)
    outbox: list[OutboxEntry] = field(default_factory=list)
    once_keys: list[tuple[str, datetime]] = field(default_factory=list)
    data: list[DataWrite] = field(default_factory=list)
    jobs: dict[str, Job | None] = field(default_factory=dict)  # name -> job, None = cancel
    processed: Processed | None = None

    def replies(self) -> list[OutboxEntry]:
        """The rows the outbox must send once these effects are committed."""
        return [e for e in self.outbox if e.status is OutboxStatus.PENDING]

    def once_key_pending(self, key: str) -> bool:
        """Whether this unit already used ``key`` (read-your-writes for once-keys)."""
        return any(k == key for k, _ in self.once_keys)


__all__ = ["DataWrite", "Effects", "Processed"]
