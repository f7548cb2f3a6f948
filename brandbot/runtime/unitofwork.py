"""What events in flight hold before their effects are committed: read-your-writes.

Follower records being changed by an event in flight live in :class:`Inflight`, and
plugin data they wrote in :class:`SharedData`, so handlers and concurrent events see
the latest version before it reaches the store with the event's effects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from brandbot.core.effects import DataWrite
from brandbot.core.records import FollowerRecord, Interaction


@dataclass
class _Entry:
    record: FollowerRecord
    refs: int = 0
    interactions: list[Interaction] = field(default_factory=list)


class Inflight:
    """Follower records (and their new history rows) held while events are being handled."""

    def __init__(self) -> None:
        self._entries: dict[int, _Entry] = {}

    def begin(self, record: FollowerRecord) -> FollowerRecord:
        """Hold ``record`` for an event; returns the freshest version (another event may hold it)."""
        entry = self._entries.get(record.id)
        if entry is None:
            entry = self._entries[record.id] = _Entry(record)
        entry.refs += 1
        return entry.record

    def latest(self, follower_id: int) -> FollowerRecord | None:
        entry = self._entries.get(follower_id)
        return entry.record if entry is not None else None

    def update(self, record: FollowerRecord) -> bool:
        """Replace a held record; False if it is not held (write it to the store directly)."""
        entry = self._entries.get(record.id)
        if entry is None:
            return False
        entry.record = record
        return True

    def add_interaction(self, interaction: Interaction) -> bool:
        entry = self._entries.get(interaction.follower_id)
        if entry is None:
            return False
        entry.interactions.append(interaction)
        return True

    def take(self, follower_id: int) -> tuple[FollowerRecord, list[Interaction]] | None:
        """What is held for the person now (rows emptied), keeping the hold."""
        entry = self._entries.get(follower_id)
        if entry is None:
            return None
        rows, entry.interactions = entry.interactions, []
        return entry.record, rows

    def end(self, follower_id: int) -> tuple[FollowerRecord, list[Interaction]] | None:
        """Release one hold; returns what to write (the record and its rows), emptied after."""
        entry = self._entries.get(follower_id)
        if entry is None:
            return None
        entry.refs -= 1
        rows, entry.interactions = entry.interactions, []
        if entry.refs <= 0:
            del self._entries[follower_id]
        return entry.record, rows

    def drop(self, follower_id: int) -> None:
        """Release a hold without writing (the event was cancelled and will be replayed)."""
        entry = self._entries.get(follower_id)
        if entry is not None:
            entry.refs -= 1
            if entry.refs <= 0:
                del self._entries[follower_id]


class SharedData:
    """Plugin data written by events still in flight, visible to every event at once.

    A write becomes visible immediately (so two events updating one shared key never
    lose an update) and reaches the store with the effects of the last event in flight
    that wrote it. Data about one person is therefore exactly-once (one event per person
    runs at a time); data shared between people is at-least-once across a crash.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], list[Any]] = {}  # key -> [value|None, follower_id, writers]
        self._written: dict[int, set[tuple[str, str]]] = {}  # writer (id of its Effects) -> keys

    def get(self, key: tuple[str, str]) -> tuple[bool, str | None]:
        entry = self._entries.get(key)
        return (False, None) if entry is None else (True, entry[0])

    def set(self, writer: object, key: tuple[str, str], value: str | None, follower_id: int) -> None:
        entry = self._entries.get(key)
        if entry is None:
            self._entries[key] = [value, follower_id, {id(writer)}]
        else:
            entry[0], entry[1] = value, follower_id or entry[1]
            entry[2].add(id(writer))
        self._written.setdefault(id(writer), set()).add(key)

    def pending(self, namespace: str, prefix: str) -> list[tuple[str, str | None]]:
        return [(k, e[0]) for (ns, k), e in self._entries.items() if ns == namespace and k.startswith(prefix)]

    def release(self, writer: object) -> list[DataWrite]:
        """The writer is done: the latest values of the keys it wrote, to commit with it."""
        out = []
        for key in self._written.pop(id(writer), ()):
            entry = self._entries.get(key)
            if entry is None:
                continue
            out.append(DataWrite(key[0], key[1], entry[0], entry[1]))
            entry[2].discard(id(writer))
            if not entry[2]:
                del self._entries[key]
        return out
