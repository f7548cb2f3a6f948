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
