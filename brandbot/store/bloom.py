"""Key filters: "certainly new" answers for keys that would otherwise cost a read.

Every event asks whether its id was processed and whether its author is known. Keeping
every id in a Python set costs about 100 bytes a key (the soak's million events alone
would need ~100 MB); a Bloom filter answers "certainly not there" in about 1.2 bytes a
key at a 1% error rate. A "maybe there" is then settled by one indexed read, so answers
stay exact.

The filter is rbloom's (compiled; about 0.1 us a lookup, ten times the pure-Python one
it replaced). Python's own hash is the hash: computed in C, cached on strings; the
filter lives only as long as the process, so the per-process salt is harmless.

A filter is **filled in the background**, not at open: until the database's keys are all
in, every lookup answers "maybe" (the store reads, as it would without a filter), so
start-up does not scan millions of rows first. Keys added meanwhile go into the filter
being filled, so nothing is missed whichever comes first.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

from rbloom import Bloom

ERROR_RATE = 0.01


class KeyFilter:
    """Set membership with false positives but no false negatives, filled while in use."""

    __slots__ = ("_filling", "_filling_capacity", "_live", "_pending", "capacity", "count")

    def __init__(self) -> None:
        self._live: Bloom | None = None  # answers lookups once filled
        self._filling: Bloom | None = None  # receives the database's keys and every add
        self._filling_capacity = 0
        self._pending: list[Hashable] = []  # adds before filling started
        self.capacity = 0  # keys the live filter was sized for
        self.count = 0  # keys added (duplicates included): an upper bound of distinct keys

    @property
    def ready(self) -> bool:
        """Filled: a miss now means the key is certainly absent."""
        return self._live is not None

    @property
    def full(self) -> bool:
        """Past capacity: the error rate is above what it was sized for (refill it)."""
        return self._live is not None and self._filling is None and self.count > self.capacity

    @property
    def nbytes(self) -> int:
        live = self._live
        return 0 if live is None else live.size_in_bits // 8

    def __contains__(self, key: Hashable) -> bool:
        live = self._live
        return True if live is None else key in live

    def add(self, key: Hashable) -> None:
        live = self._live
        if live is not None:
            live.add(key)
        filling = self._filling
        if filling is not None:
            filling.add(key)
        elif live is None:
            self._pending.append(key)
        self.count += 1

    def start_fill(self, capacity: int) -> None:
        """Begin a (re)fill sized for ``capacity`` keys; lookups keep their current answers."""
        if capacity < 1:
            raise ValueError(f"a key filter needs a capacity of at least 1, not {capacity}")
        filling = Bloom(capacity, ERROR_RATE)
        self.count = len(self._pending)  # from here on: keys added since the fill started
        if self._pending:
            filling.update(self._pending)
            self._pending = []
        self._filling = filling
        self._filling_capacity = capacity

    def fill(self, keys: Iterable[Hashable]) -> None:
        """Add keys read from the database (between ``start_fill`` and ``finish_fill``)."""
        if self._filling is None:
            raise RuntimeError("fill() before start_fill()")
        self._filling.update(keys)

    def finish_fill(self, total: int) -> None:
        """The database's ``total`` keys are in: answer lookups from the filled filter."""
        if self._filling is None:
            raise RuntimeError("finish_fill() before start_fill()")
        self._live, self._filling = self._filling, None
        self.capacity = self._filling_capacity
        self.count += total
