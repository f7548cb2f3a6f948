"""The store protocols: everything above the store talks to these, so SQLite can be swapped out.

Writes are write-behind: methods marked "buffered" return at once and their rows reach
the database in the next batch, at most ``commit_delay`` seconds later, in the order
they were made. ``flush()`` forces the batch out and returns once it is committed.
Reads see buffered writes (the store keeps them in memory until committed).

One protocol per role, so that a part of the runtime (or a test fake) can say which
tables it touches and implement no more; ``Store`` is their union, what a backend provides.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from brandbot.core.errors import BrandbotError
from brandbot.core.events import Person
from brandbot.core.records import (
    FollowerExport,
    FollowerQuery,
    FollowerRecord,
    Identity,
    Interaction,
    Job,
    OutboxEntry,
)


class Lifecycle(Protocol):
    """Opening, closing and copying the database: what the process does once, not per event."""

    async def open(self) -> None:
        """Open (creating if needed) and migrate to the latest schema version."""

    async def close(self) -> None:
        """Flush and close. Safe to call twice."""

    def schema_version(self) -> int: ...

    async def backup(self, target: str) -> None:
        """Write a consistent copy of everything to ``target`` while running."""


class Durability(Protocol):
    """When buffered writes become durable: a reply waits for its row before it is sent."""

    async def flush(self) -> None:
        """Commit everything buffered so far; return once it is durable."""

    def backlog(self) -> int:
        """Buffered writes not yet taken by a commit."""

    def write_seq(self) -> int:
        """The number of the latest buffered write."""

    async def ensure_committed(self, seq: int) -> None:
        """Return once every write numbered up to ``seq`` is durable."""

    def request_commit(self) -> None:
        """Commit what is buffered soon (a reply is waiting for it), without waiting."""


class Followers(Protocol):
    """People and their identities per network: one follower may be known on several."""

    async def resolve(self, person: Person, now: datetime) -> tuple[FollowerRecord, bool]:
        """The follower behind ``person``; created (with its identity) if new.

        Returns (follower, created). Updates the identity's handle/name when they changed.
        Hot path: served from a cache after the first lookup.
        """

    async def prefetch_people(self, people: Iterable[Person]) -> int:
        """Read the known people among ``people`` ahead of their events, in as few reads as
        the store can, so that ``resolve`` finds them in memory; returns how many were read.

        Called by the intake with the authors of the events it has queued. Reads only:
        nothing changes if the people never come, or were changed meanwhile.
        """

    async def get_follower(self, follower_id: int) -> FollowerRecord | None: ...

    async def find_follower(self, network: str, user_id_or_handle: str) -> FollowerRecord | None:
        """Look a follower up by network identity id, or by handle (case-insensitive)."""

    def put_follower(self, follower: FollowerRecord) -> None:
        """Buffered: replace the follower's row (counters, points, tags, flags)."""

    async def identities(self, follower_id: int) -> list[Identity]: ...

    async def merge_followers(self, keep_id: int, merge_id: int, merged: FollowerRecord) -> None:
        """Move every identity, interaction, outbox row and plugin datum of ``merge_id`` to
        ``keep_id``, store ``merged`` as the surviving row, delete ``merge_id`` and record
        the merge. Committed before returning."""

    async def unlink_identity(self, network: str, user_id: str, now: datetime) -> FollowerRecord:
        """Detach one identity into a new follower of its own (history stays with the old)."""

    async def list_followers(self, query: FollowerQuery) -> list[FollowerRecord]: ...

    async def count_followers(self) -> int: ...


class History(Protocol):
    """What each follower said and was told: replies are personal because of it."""

    def add_interaction(self, interaction: Interaction) -> None:
        """Buffered: append one history row."""

    async def recent_interactions(self, follower_id: int, limit: int = 20) -> list[Interaction]:
        """Newest first."""

    async def all_interactions(self, follower_id: int) -> list[Interaction]:
        """Oldest first; used to recompute loyalty from history."""

    async def prune_text(self, older_than: datetime) -> int:
        """Blank the text of interactions older than ``older_than``; returns rows changed."""


class Dedupe(Protocol):
    """Processed event ids: networks redeliver, and an event must be handled once."""

    async def is_processed(self, network: str, event_id: str) -> bool: ...

    def mark_processed(self, network: str, event_id: str, at: datetime) -> None:
        """Buffered."""

    async def prune_processed(self, older_than: datetime) -> int: ...


class OutboxRows(Protocol):
    """Persisted replies: a reply survives a restart between its decision and its send."""

    def next_outbox_id(self) -> int:
        """Allocate an outbox id without a round-trip (ids are never reused)."""

    def put_outbox(self, entry: OutboxEntry) -> None:
        """Buffered: insert or replace an outbox row."""

    async def pending_outbox(
        self, limit: int = 1000, *, network: str | None = None, after_id: int = 0
    ) -> list[OutboxEntry]:
        """Rows still PENDING with an id above ``after_id`` (of one network if given),
        oldest first, buffered ones included."""

    async def outbox_for(self, follower_id: int, limit: int = 50) -> list[OutboxEntry]: ...

    async def outbox_counts(self) -> dict[str, int]:
        """Rows per status, for health and metrics."""

    async def prune_outbox_text(self, older_than: datetime) -> int:
        """Blank the text of rows no longer pending (sent, failed, refused) created before
        ``older_than``; returns rows changed. Text retention covers replies: they quote people."""


class Cursors(Protocol):
    """Where each network's feed was read up to, so a restart resumes instead of replaying."""

    async def get_cursor(self, key: str) -> str | None: ...

    def set_cursor(self, key: str, value: str) -> None:
        """Buffered; committed in the same batch order as everything before it."""


class OnceKeys(Protocol):
    """Things done at most once (one reply per rule, person and post), across restarts."""

    async def once_used(self, key: str) -> bool: ...

    def mark_once(self, key: str, at: datetime) -> None:
        """Buffered."""


class KeyValue(Protocol):
    """Each plugin's own data, as text in a namespace: plugins never see the tables."""

    async def kv_get(self, namespace: str, key: str) -> str | None: ...

    def kv_set(self, namespace: str, key: str, value: str, follower_id: int = 0) -> None:
        """Buffered. ``follower_id`` ties the datum to a person so ``forget`` removes it."""

    def kv_delete(self, namespace: str, key: str) -> None:
        """Buffered."""

    async def kv_items(self, namespace: str, prefix: str = "") -> list[tuple[str, str]]:
        """(key, value) pairs in the namespace whose key starts with ``prefix``, key order."""


class Jobs(Protocol):
    """Scheduled work, by name: it must outlive the process that scheduled it."""

    def put_job(self, job: Job) -> None:
        """Buffered: insert or replace by name."""

    def delete_job(self, name: str) -> None:
        """Buffered."""

    async def due_jobs(self, now: datetime) -> list[Job]: ...

    async def all_jobs(self) -> list[Job]: ...


class Privacy(Protocol):
    """A person's right to see and erase what is held on them (GDPR export and forget)."""

    async def export_follower(self, follower_id: int) -> FollowerExport | None: ...

    async def forget_follower(self, follower_id: int, now: datetime) -> bool:
        """Delete every row naming the person in every table; keep one anonymous audit row
        (time, "forgot a follower"). Committed before returning. False if unknown."""

    async def audit(self, limit: int = 100) -> list[tuple[datetime, str]]: ...


class Store(
    Lifecycle,
    Durability,
    Followers,
    History,
    Dedupe,
    OutboxRows,
    Cursors,
    OnceKeys,
    KeyValue,
    Jobs,
    Privacy,
    Protocol,
):
    """Every role at once: what a store backend provides and what the Bot is given."""


async def find_person(
    store: Followers, ref: str, default_network: str = ""
) -> FollowerRecord | None:
    """A follower by id ("12"), "network:handle", or a bare handle on ``default_network``.

    Shared by the CLI and admin commands so both read a reference the same way.
    Without a network (no "network:" and no default) the reference is an error.
    """
    ref = ref.strip()
    if ref.isdigit():
        return await store.get_follower(int(ref))
    network, sep, who = ref.partition(":")
    if not sep:
        if not default_network:
            raise BrandbotError(
                f"follower {ref!r}: give a numeric id or network:handle (e.g. console:ana)"
            )
        network, who = default_network, ref
    who = who.lstrip("@")
    return await store.find_follower(network.lower(), who) if who else None
