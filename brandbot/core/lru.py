"""A bounded least-recently-used map: the caches that keep a long-running bot's memory flat."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

MISSING: Any = object()  # what get() returns for an absent key when no default is given


class Lru(Generic[K, V]):
    """A bounded least-recently-used map."""

    __slots__ = ("_data", "_offered", "_size")

    def __init__(self, size: int) -> None:
        self._data: OrderedDict[K, V] = OrderedDict()
        self._size = max(1, size)
        self._offered: set[int] = set()  # hashes of keys offered once to admit()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: K, default: Any = MISSING) -> Any:
        value = self._data.get(key, MISSING)
        if value is MISSING:
            return default
        self._data.move_to_end(key)
        return value

    def peek(self, key: K, default: Any = MISSING) -> Any:
        """Like :meth:`get`, but the key keeps its place (reading does not make it recent)."""
        value = self._data.get(key, MISSING)
        return default if value is MISSING else value

    def put(self, key: K, value: V) -> None:
        data = self._data
        data[key] = value
        data.move_to_end(key)
        if len(data) > self._size:
            data.popitem(last=False)

    def admit(self, key: K, value: V) -> None:
        """Put ``key`` if it is cached already or was offered before, else only note it.

        For a read-through cache whose keys are mostly read once (a person's datum, read
        as they pass by): those would fill it and push out the keys read again and again.
        Keys offered once are remembered by hash only, a quarter of the size at most, and
        forgotten all at once when that is full (a hash shared by chance only admits a
        key one offer early).
        """
        if key in self._data:
            self.put(key, value)
            return
        offered, mark = self._offered, hash(key)
        if mark in offered:
            offered.discard(mark)
            self.put(key, value)
            return
        if len(offered) >= max(1, self._size // 4):
            offered.clear()
        offered.add(mark)

    def discard(self, key: K) -> None:
        self._data.pop(key, None)

    def clear(self) -> None:
        self._data.clear()
        self._offered.clear()


class RecentMap(Generic[K, V]):
    """A bounded map of recently used keys in two plain dicts: at most ``size`` keys, and
    always the ``size // 2`` most recently used (approximately least-recently-used).

    Keys used or put go into the newer dict; once it holds half the size, it becomes the
    older one and the older one is dropped whole; a key found in the older dict moves
    back. An :class:`Lru` entry (OrderedDict) costs about 117 bytes beside its key and
    value, an entry here about 30; lookups skip the relinking too. For memories whose
    exact order does not matter, only that the recent keys are there.
    """

    __slots__ = ("_half", "_new", "_old")

    def __init__(self, size: int) -> None:
        size = max(1, size)
        self._half = max(1, size // 2)
        self._new: dict[K, V] = {}
        self._old: dict[K, V] | None = {} if size > 1 else None  # size 1: the newer dict only

    def __len__(self) -> int:
        return len(self._new) + (len(self._old) if self._old is not None else 0)

    def get(self, key: K, default: Any = MISSING) -> Any:
        value = self._new.get(key, MISSING)
        if value is MISSING:
            old = self._old
            value = old.pop(key, MISSING) if old else MISSING
            if value is MISSING:
                return default
            self._insert(key, value)
        return value

    def peek(self, key: K, default: Any = MISSING) -> Any:
        """Like :meth:`get`, but the key keeps its place (reading does not make it recent)."""
        value = self._new.get(key, MISSING)
        if value is MISSING and self._old:
            value = self._old.get(key, MISSING)
        return default if value is MISSING else value

    def put(self, key: K, value: V) -> None:
        new = self._new
        if key in new:
            new[key] = value
            return
        old = self._old
        if old and key in old:
            del old[key]
        self._insert(key, value)

    def _insert(self, key: K, value: V) -> None:
        if len(self._new) >= self._half:
            if self._old is not None:
                self._old = self._new
            self._new = {}
        self._new[key] = value

    def discard(self, key: K) -> None:
        self._new.pop(key, None)
        if self._old:
            self._old.pop(key, None)

    def clear(self) -> None:
        self._new.clear()
        if self._old:
            self._old.clear()
