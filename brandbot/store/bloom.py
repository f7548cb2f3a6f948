"""A Bloom filter: "certainly new" answers for keys that would otherwise cost a read.

Every event asks whether its id was processed and whether its author is known. Keeping
every id in a Python set costs about 100 bytes a key (the soak's million events alone
would need ~100 MB); a Bloom filter answers "certainly not there" in about 1.3 bytes a
key at a 1% error rate. A "maybe there" is then settled by one indexed read, so answers
stay exact. Keys can't be removed: stale keys only raise the error rate, and the store
rebuilds a filter from the database when it grows past its capacity.

Python's own string/tuple hash is the hash: it is computed in C and cached on strings,
and the filter lives only as long as the process, so its per-process salt is harmless.
"""

from __future__ import annotations

import math
from collections.abc import Hashable

_LOW32 = 0xFFFFFFFF
_HASHES = 4


class BloomFilter:
    """Fixed-size set membership with false positives but no false negatives."""

    __slots__ = ("_bits", "_hashes", "_size", "capacity", "count")

    def __init__(self, capacity: int, error_rate: float = 0.01) -> None:
        if capacity < 1:
            raise ValueError(f"a Bloom filter needs a capacity of at least 1, not {capacity}")
        if not 0 < error_rate < 1:
            raise ValueError(f"error_rate must be between 0 and 1, not {error_rate}")
        # Few hashes (each costs interpreted work on every lookup), and the bits that
        # reach the error rate with that many: about 10.5 bits a key for 1% with 4.
        hashes = _HASHES
        size = max(64, math.ceil(-hashes * capacity / math.log(1 - error_rate ** (1 / hashes))))
        self._size = size
        self._hashes = hashes
        self._bits = bytearray((size + 7) // 8)
        self.capacity = capacity
        self.count = 0  # keys added (duplicates included): an upper bound of distinct keys

    @property
    def nbytes(self) -> int:
        return len(self._bits)

    @property
    def full(self) -> bool:
        """Past capacity: the error rate is above what it was sized for."""
        return self.count > self.capacity

    def add(self, key: Hashable) -> None:
        self._probe(key, True)
        self.count += 1

    def __contains__(self, key: Hashable) -> bool:
        return self._probe(key, False)

    def _probe(self, key: Hashable, setting: bool) -> bool:
        """Visit the key's bit positions (double hashing of one 64-bit hash): set them, or
        stop at the first clear one."""
        h = hash(key)
        step = ((h >> 32) & _LOW32) | 1
        at = h & _LOW32
        size, bits = self._size, self._bits
        for _ in range(self._hashes):
            i = at % size
            mask = 1 << (i & 7)
            if setting:
                bits[i >> 3] |= mask
            elif not bits[i >> 3] & mask:
                return False
            at += step
        return True
