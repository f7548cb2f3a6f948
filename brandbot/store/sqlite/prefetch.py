"""The people of a batch of events loaded with one read, before their events are handled.

A known person who is in no cache costs ``resolve`` one indexed read. On the event
loop's connection each read starts its own read transaction, and after every commit
that transaction finds the database changed and reads its pages again: about 55 us a
read, measured at full speed, where the lookup itself is a few. The intake therefore
hands over the authors of the events it has queued, and they are read here with one
statement per network, which fills the same caches ``resolve`` reads first.
"""

from __future__ import annotations

from collections.abc import Iterable

from brandbot.core.events import Person
from brandbot.store.sqlite.buffers import _MISSING
from brandbot.store.sqlite.connection import SqliteBase
from brandbot.store.sqlite.followers import _IDENTITY_NAMES, _SQL_PEOPLE_FROM
from brandbot.store.sqlite.rows import _follower_from, _identity_from

_SQL_PEOPLE = _SQL_PEOPLE_FROM + " WHERE i.network = ? AND i.user_id IN ({marks})"

#: People read by one statement at most (SQLite allows 32,766 parameters).
PREFETCH_LIMIT = 512


class PrefetchMixin(SqliteBase):
    """``prefetch_people``: one read for the known people no cache holds."""

    async def prefetch_people(self, people: Iterable[Person]) -> int:
        """Load the identities and follower rows of ``people`` into the caches; returns
        how many were read. New people (the key filter has never seen them), people
        already cached or buffered, and the people beyond ``PREFETCH_LIMIT`` are skipped.
        """
        wanted: dict[str, list[str]] = {}
        seen: set[tuple[str, str]] = set()
        for person in people:
            key = (person.network, person.id)
            if key in seen or key not in self._identity_seen:
                continue
            if self._identities.get(key) is not _MISSING or self._identity_cache.peek(key, None) is not None:
                continue
            seen.add(key)
            wanted.setdefault(person.network, []).append(person.id)
            if len(seen) >= PREFETCH_LIMIT:
                break
        read = 0
        for network, user_ids in wanted.items():
            # As many marks as the next power of two, the last id repeated (a repeat in
            # IN changes nothing): one statement per count of people was prepared and
            # kept in the connection's statement cache, up to 128 of them (SQLite held
            # 3 MB more in the soak; 256 counts are 6.5 MB, ten powers of two 0.45 MB).
            marks = 1 << (len(user_ids) - 1).bit_length()
            user_ids += [user_ids[-1]] * (marks - len(user_ids))
            sql = _SQL_PEOPLE.format(marks=", ".join("?" * marks))
            for row in self._read_now(sql, (network, *user_ids)):
                read += 1
                identity = _identity_from(row)
                self._identity_cache.put((identity.network, identity.user_id), identity)
                follower_part = row[len(_IDENTITY_NAMES):]
                follower_id = follower_part[0]
                if follower_id is None or follower_id != self._redirect(identity.follower_id):
                    continue
                # Not buffered nor cached: the row just read is the newest there is.
                if self._followers.get(follower_id) is _MISSING and self._follower_cache.peek(follower_id, None) is None:
                    self._follower_cache.put(follower_id, _follower_from(follower_part))
        return read
