"""Buffered rows laid over rows read from the database: what both stores' outbox reads return.

A store reads committed rows, then its buffered (not yet committed) versions of the same
rows win: a buffered row that still matches replaces the read one, one that no longer
matches hides it. Pure, so the SQLite and PostgreSQL stores share it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from brandbot.core.records import OutboxEntry


def overlay_outbox(read: Iterable[OutboxEntry], buffered: Mapping[int, OutboxEntry],
                   wanted: Callable[[OutboxEntry], bool], limit: int, *,
                   newest_first: bool = False) -> list[OutboxEntry]:
    """``read`` with ``buffered`` laid over it, filtered by ``wanted``, sorted by id, cut to ``limit``."""
    found = {entry.id: entry for entry in read}
    for entry_id, entry in buffered.items():
        if wanted(entry):
            found[entry_id] = entry
        else:
            found.pop(entry_id, None)
    return sorted(found.values(), key=lambda e: e.id, reverse=newest_first)[:limit]


__all__ = ["overlay_outbox"]
