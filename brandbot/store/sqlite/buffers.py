"""Buffered writes, kept readable in memory until their batch is committed.

Reads must see buffered writes, so every buffered table keeps its not-yet-committed rows
here: "pending" until the flusher takes them, "inflight" while they are being committed.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Hashable
from dataclasses import replace
from typing import Any, Final, Generic, TypeVar

from brandbot.core.records import Interaction

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Missing(enum.Enum):
    """The type of ``_MISSING``: an enum member, so that ``x is _MISSING`` narrows a union."""

    MISSING = enum.auto()


#: What a read returns for a key it does not hold, where ``None`` is a value of its own
#: (a deleted plugin datum, a person known not to exist).
_MISSING: Final = _Missing.MISSING


class _Buffer(Generic[K, V]):
    """Buffered writes of one keyed table: the newest value per key wins.

    Each entry is (value for reads, encoded row for the database). ``take`` hands the
    pending entries to a commit while keeping them readable as "inflight"; ``settle``
    forgets them after the commit, ``restore`` puts them back after a failure.
    """

    __slots__ = ("inflight", "pending")

    def __init__(self) -> None:
        self.pending: dict[K, tuple[V, tuple[Any, ...]]] = {}
        self.inflight: dict[K, tuple[V, tuple[Any, ...]]] = {}

    def put(self, key: K, value: V, row: tuple[Any, ...]) -> None:
        self.pending[key] = (value, row)

    def get(self, key: K) -> V | _Missing:
        """The newest buffered value, or ``_MISSING``."""
        hit = self.pending.get(key) or self.inflight.get(key)
        return _MISSING if hit is None else hit[0]

    def __contains__(self, key: K) -> bool:
        return key in self.pending or key in self.inflight

    def snapshot(self) -> dict[K, V]:
        """Every buffered value, newest winning."""
        merged = {k: v for k, (v, _) in self.inflight.items()}
        merged.update((k, v) for k, (v, _) in self.pending.items())
        return merged

    def take(self) -> dict[K, tuple[V, tuple[Any, ...]]]:
        self.inflight = self.pending
        self.pending = {}
        return self.inflight

    def settle(self) -> dict[K, tuple[V, tuple[Any, ...]]]:
        done, self.inflight = self.inflight, {}
        return done

    def restore(self) -> None:
        merged = self.inflight
        merged.update(self.pending)
        self.pending, self.inflight = merged, {}

    def drop_where(self, predicate: Callable[[K, V], bool]) -> None:
        for entries in (self.pending, self.inflight):
            for key in [k for k, (v, _) in entries.items() if predicate(k, v)]:
                del entries[key]


class _InteractionBuffer:
    """Buffered history rows: an ordered list for the database, and per follower for reads.

    Reads get records with their allocated ids; building those copies is left to the
    (rare) read so that appending stays cheap.
    """

    __slots__ = ("by_follower", "inflight_by_follower", "inflight_rows", "rows")

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []
        self.by_follower: dict[int, list[tuple[int, Interaction]]] = {}
        self.inflight_rows: list[tuple[Any, ...]] = []
        self.inflight_by_follower: dict[int, list[tuple[int, Interaction]]] = {}

    def add(
        self, follower_id: int, interaction_id: int, interaction: Interaction, row: tuple[Any, ...]
    ) -> None:
        self.rows.append(row)
        bucket = self.by_follower.get(follower_id)
        if bucket is None:
            self.by_follower[follower_id] = [(interaction_id, interaction)]
        else:
            bucket.append((interaction_id, interaction))

    def of(self, follower_id: int) -> dict[int, Interaction]:
        found: dict[int, Interaction] = {}
        for source in (self.inflight_by_follower, self.by_follower):
            for interaction_id, item in source.get(follower_id, ()):
                if item.id != interaction_id or item.follower_id != follower_id:
                    item = replace(item, id=interaction_id, follower_id=follower_id)
                found[interaction_id] = item
        return found

    def take(self) -> list[tuple[Any, ...]]:
        self.inflight_rows, self.inflight_by_follower = self.rows, self.by_follower
        self.rows, self.by_follower = [], {}
        return self.inflight_rows

    def settle(self) -> None:
        self.inflight_rows, self.inflight_by_follower = [], {}

    def restore(self) -> None:
        rows = self.inflight_rows + self.rows
        by_follower = self.inflight_by_follower
        for follower_id, items in self.by_follower.items():
            by_follower.setdefault(follower_id, []).extend(items)
        self.rows, self.by_follower = rows, by_follower
        self.inflight_rows, self.inflight_by_follower = [], {}
