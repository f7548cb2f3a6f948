"""Ids without a round-trip, unique across processes: blocks taken from a sequence.

``next_outbox_id()`` and ``add_interaction()`` are synchronous (they run inside one event's
synchronous write step), so an id cannot wait for the database. Each sequence advances by
``ID_BLOCK``: one ``nextval`` reserves a block of ids for this process alone. A process
keeps a few blocks in hand and tops them up in the background (and at every commit)
long before they run out.
"""

from __future__ import annotations

from collections import deque

from brandbot.core.errors import StoreError
from brandbot.store.postgres.schema import ID_BLOCK

#: Blocks kept in hand per sequence; a refill starts when fewer than half remain.
BLOCKS_IN_HAND = 8


class IdBlocks:
    """Ids of one sequence reserved by this process, handed out in increasing order."""

    __slots__ = ("_blocks", "_end", "_next", "highest", "sequence")

    def __init__(self, sequence: str) -> None:
        self.sequence = sequence
        self._blocks: deque[int] = deque()  # first ids of reserved, untouched blocks
        self._next = 0
        self._end = 0  # one past the last id of the block in use
        self.highest = 0  # the highest id handed out (or seen in a row written)

    def wanted(self) -> int:
        """Blocks to reserve now to be back at ``BLOCKS_IN_HAND`` (0 while enough remain)."""
        remaining = len(self._blocks) + (1 if self._next < self._end else 0)
        return BLOCKS_IN_HAND - remaining if remaining <= BLOCKS_IN_HAND // 2 else 0

    def add(self, starts: list[int]) -> None:
        self._blocks.extend(sorted(starts))

    def take(self) -> int:
        if self._next >= self._end:
            if not self._blocks:
                raise StoreError(
                    f"no {self.sequence} left in hand: the database has been unreachable "
                    f"for longer than {BLOCKS_IN_HAND * ID_BLOCK} new rows; wait for it"
                )
            self._next = self._blocks.popleft()
            self._end = self._next + ID_BLOCK
        value = self._next
        self._next += 1
        self.highest = max(self.highest, value)
        return value
