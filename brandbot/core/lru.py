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

    __slots__ = ("_data", "_size")

    def __init__(self, size: int) -> None:
        self._data: OrderedDict[K, V] = OrderedDict()
        self._size = max(1, size)

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

    def discard(self, key: K) -> None:
        self._data.pop(key, None)

    def clear(self) -> None:
        self._data.clear()
