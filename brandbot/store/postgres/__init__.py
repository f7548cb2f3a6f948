"""The Store on PostgreSQL (asyncpg): for several processes sharing one database.

The same role protocols and write-behind as the SQLite store (one transaction per batch,
reads that see buffered writes, versioned migrations), shaped for sharing:

- every key starts with a brand (``brand=``, default ``"default"``), so several brands
  can share a database; a store reads and writes its own brand only;
- ids come from sequences in reserved blocks (``ids``), unique across processes and
  allocated without a round-trip;
- nothing is cached beyond the buffered writes (another process may have written since),
  and no Bloom filters answer "new" (another process may have added the key): a read
  that misses the buffers asks the database, one indexed query;
- due jobs and, for several senders, outbox rows are *claimed* with ``SELECT ... FOR
  UPDATE SKIP LOCKED`` and a lease (``due_jobs``, ``claim_outbox``), so two processes
  never run the same job or send the same reply;
- PostgreSQL restarting makes the store wait and retry (``reconnect_timeout``): a failed
  commit keeps its batch, reads try again, nothing buffered is lost;
- a merge or forget by one process wins over what others still hold in their buffers
  (``gone``: checked in every batch's transaction).

One person's events must be handled by one process at a time (the scale-out roles
partition events by person): follower rows are written whole, as SQLite's are.

The modules, one concern each: ``schema`` (migrations), ``rows`` (records to rows),
``ids`` (id blocks), ``batch`` (the SQL of a commit), ``gone`` (merged and forgotten
followers across processes), ``writer`` (write-behind),
``connection`` (open, close, reads), then the roles: ``followers``, ``history`` (and
dedupe), ``outbox`` (and claims), ``keyed`` (cursors, once-keys, plugin data, jobs),
``privacy``.
"""

from __future__ import annotations

from brandbot.store.postgres.history import PgHistoryMixin
from brandbot.store.postgres.keyed import PgKeyedMixin
from brandbot.store.postgres.outbox import PgOutboxMixin
from brandbot.store.postgres.privacy import TABLES_WITHOUT_PERSON, PgPrivacyMixin
from brandbot.store.postgres.schema import LATEST_VERSION, MIGRATIONS

__all__ = ["LATEST_VERSION", "MIGRATIONS", "TABLES_WITHOUT_PERSON", "PostgresStore"]


class PostgresStore(PgPrivacyMixin, PgHistoryMixin, PgOutboxMixin, PgKeyedMixin):
    """The Store protocol on PostgreSQL (see ``brandbot.store.base.Store`` for each method).

    ``PostgresStore(url, brand="default", owner="", claim_new_outbox=False, ...)``;
    ``owner`` names this process in claims (default: host:pid:random).
    """
