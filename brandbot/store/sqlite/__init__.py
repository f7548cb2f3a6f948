"""The default Store: SQLite in WAL mode, with a write-behind batch.

Why it is shaped this way:

- Every incoming event causes several small writes (processed id, follower counters,
  history row, outbox row). Committing each one would cap the bot at a few hundred
  events a second, so buffered writes go into an in-memory batch and a background
  flusher commits the whole batch in ONE transaction, at most ``commit_delay`` seconds
  after the first write of the batch (sooner when a reply waits for it, see
  ``ensure_committed``, or when ``max_batch`` writes are waiting).
- Point reads run synchronously on a read-only connection owned by the event loop's
  thread (an indexed lookup is microseconds of C, cheaper than a thread hop). Small
  batches are committed there too; large ones (under load) go to a writer thread as ONE
  statement whose parameters are the rows as JSON (``bulk.py``), so the GIL is released
  for the whole write and SQLite works beside the loop (``executemany`` on a thread
  would take the GIL back once per row). Work that may take long (migrations, scans,
  exports, merges and forgets, WAL checkpoints that may fsync) runs off the loop, on
  the aiosqlite connection or a worker thread.
- Reads must see buffered writes, so every buffered table keeps its not-yet-committed
  rows in memory (``_Buffer``: "pending" until the flusher takes them, "inflight" while
  they are being committed) and reads look there before the database.
- Memory stays flat however many people and events pass: followers, identities and
  plugin data are cached in bounded LRU maps, and whether a person, processed id or
  once-key may exist is answered by Bloom filters (about 1.3 bytes a key), so a new
  event or a new person needs no read at all and a known one at most one indexed read.
- Ids (followers, interactions, outbox) are allocated from in-memory counters started
  from the database at open, so creating a row never waits for the flusher.
- A commit that fails is logged and its batch kept for a retry, with backoff; nothing
  is lost. A row that can never be stored (its data breaks a constraint) is logged and
  dropped so that it does not block every later write.
- merge, unlink, forget and the prunes flush first and then commit their own
  transaction before returning; late writes naming a merged or forgotten follower are
  redirected to the survivor or dropped, so a forgotten person cannot come back.

Person-naming keys: the core writes once-keys about a person as ``...:f<follower_id>:...``
(a colon-separated segment ``f<id>``). ``forget_follower`` deletes every once-key,
plugin-data key and job name that has such a segment for the person, as well as
plugin-data rows written with their ``follower_id``.

One process owns a database file while it runs: the caches assume nobody else writes,
so merges and forgets made by another process while the bot runs may be undone by it.

The modules, one concern each: ``rows`` (records to rows and back), ``buffers`` (buffered
writes), ``batch`` (the SQL of one commit), ``writer`` (the write-behind machinery),
``connection`` (open, close, reads), then one per role of ``brandbot.store.base``:
``followers``, ``history``, ``dedupe``, ``outbox``, ``keyed`` and ``privacy``.
"""

from __future__ import annotations

from brandbot.store.sqlite.dedupe import DedupeMixin
from brandbot.store.sqlite.followers import ORDER_COLUMNS, FollowersMixin
from brandbot.store.sqlite.history import HistoryMixin
from brandbot.store.sqlite.keyed import CursorsMixin, JobsMixin, KeyValueMixin, OnceKeysMixin
from brandbot.store.sqlite.outbox import OutboxMixin
from brandbot.store.sqlite.prefetch import PrefetchMixin
from brandbot.store.sqlite.privacy import PrivacyMixin

# Row helpers the benchmarks read the database with (benchmarks/history.py, killtest.py).
from brandbot.store.sqlite.rows import (
    _FOLLOWER_COLUMNS,
    _INTERACTION_COLUMNS,
    _dt,
    _follower_from,
    person_segment,
)

__all__ = [
    "ORDER_COLUMNS",
    "_FOLLOWER_COLUMNS",
    "_INTERACTION_COLUMNS",
    "SqliteStore",
    "_dt",
    "_follower_from",
    "person_segment",
]


class SqliteStore(
    PrivacyMixin,  # before FollowersMixin, which it builds on
    FollowersMixin,
    PrefetchMixin,
    HistoryMixin,
    DedupeMixin,
    OutboxMixin,
    CursorsMixin,
    OnceKeysMixin,
    KeyValueMixin,
    JobsMixin,
):
    """The Store protocol on SQLite (see ``brandbot.store.base.Store`` for each method).

    One class per role, over one shared ``SqliteBase`` (state, write-behind, lifecycle):
    every role reads through the same buffers, caches and connections.
    """
