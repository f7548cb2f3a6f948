"""What the pages read from the database, on a read-only connection of its own.

The store's protocols serve the message path (one follower, one key); the staff's
pages ask across everyone (events per network per day, refusals by reason, search by
name). Those are read-only SQL over the SQLite file, opened with ``mode=ro``, so a page
can never write and never waits behind the bot's writer (WAL readers do not block).
Rows the bot buffered in the last ``commit_delay`` (at most 50 ms) show on the next load.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite


class NoDatabase(RuntimeError):
    """The bot keeps no database file (``storage.path: ':memory:'``): nothing to chart."""


@dataclass(frozen=True, slots=True)
class Found:
    """One search hit: enough for a result list."""

    id: int
    name: str
    points: int
    tier: str
    tags: tuple[str, ...]
    handles: str  # "telegram:ana, x:ana_b"


@dataclass(frozen=True, slots=True)
class ThreadLine:
    """One message of a conversation, the person's or the bot's."""

    time: str
    direction: str  # in | out
    kind: str
    text: str
    follower_id: int
    source: str
    event_id: str


class Queries:
    """Read-only questions across the whole database; one connection, opened on first use."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._conn: aiosqlite.Connection | None = None

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self._conn is None:
            if self._path == ":memory:":
                raise NoDatabase("storage.path is ':memory:', so there is no database to read; "
                                 "give the bot a database file to see the staff pages' figures")
            if "://" in self._path:
                raise NoDatabase(f"the staff pages read a SQLite database file; {self._path.split('://')[0]} "
                                 "storage is not supported by them yet")
            uri = Path(self._path).resolve().as_uri() + "?mode=ro"
            self._conn = await aiosqlite.connect(uri, uri=True)
        return [tuple(r) for r in await self._conn.execute_fetchall(sql, tuple(params))]

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    # -- overview ----------------------------------------------------------------------
    async def events_per_day(self, start: str, end: str) -> list[tuple[str, str, int]]:
        """(day, network, incoming events) in [start, end)."""
        return await self._rows(
            "SELECT substr(time, 1, 10), network, count(*) FROM interactions "
            "WHERE direction = 'in' AND network != '' AND time >= ? AND time < ? GROUP BY 1, 2", (start, end))

    async def replies_per_day(self, start: str, end: str) -> list[tuple[str, str, int]]:
        """(day, network, replies sent) in [start, end)."""
        return await self._rows(
            "SELECT substr(time, 1, 10), network, count(*) FROM interactions "
            "WHERE direction = 'out' AND kind = 'reply' AND time >= ? AND time < ? GROUP BY 1, 2", (start, end))

    async def reply_delays(self, start: str, end: str) -> list[tuple[str, str]]:
        """(event time, send time) of every reply sent in [start, end) to a recorded event."""
        return await self._rows(
            "SELECT i.time, o.time FROM interactions o JOIN interactions i "
            "ON i.event_id = o.event_id AND i.network = o.network AND i.direction = 'in' "
            "WHERE o.direction = 'out' AND o.kind = 'reply' AND o.event_id != '' AND o.time >= ? AND o.time < ?",
            (start, end))

    async def refusals(self, start: str, end: str) -> list[tuple[str, int]]:
        """(reason, count) of replies the policy refused in [start, end), most first."""
        rows = await self._rows(
            "SELECT CASE WHEN instr(reason, ':') > 0 THEN substr(reason, 1, instr(reason, ':') - 1) "
            "ELSE reason END, count(*) FROM outbox WHERE status = 'refused' AND created >= ? AND created < ? "
            "GROUP BY 1 ORDER BY 2 DESC, 1", (start, end))
        return [(str(r), int(n)) for r, n in rows]

    async def opted_out(self) -> int:
        return int((await self._rows("SELECT count(*) FROM followers WHERE opted_out = 1"))[0][0])

    async def followers(self) -> int:
        return int((await self._rows("SELECT count(*) FROM followers"))[0][0])

    async def tiers(self) -> list[tuple[str, int]]:
        rows = await self._rows("SELECT tier, count(*) FROM followers GROUP BY tier ORDER BY 2 DESC, 1")
        return [(str(t) or "(none)", int(n)) for t, n in rows]

    async def data(self, namespace: str, prefix: str = "") -> list[tuple[str, Any]]:
        """Decoded values of one namespace of plugin data (keys starting with ``prefix``)."""
        rows = await self._rows(
            "SELECT key, value FROM plugin_data WHERE namespace = ? AND substr(key, 1, ?) = ? ORDER BY key",
            (namespace, len(prefix), prefix))
        decoded: list[tuple[str, Any]] = []
        for key, raw in rows:
            try:
                decoded.append((str(key), json.loads(raw)))
            except ValueError:
                decoded.append((str(key), raw))  # plain text values (costs, handoff times)
        return decoded

    async def jobs(self, start: str) -> list[tuple[str, str, str]]:
        """(due, owner, name) of scheduled jobs due from ``start`` on, soonest first."""
        return await self._rows("SELECT due, owner, name FROM jobs WHERE due >= ? ORDER BY due LIMIT 200", (start,))

    # -- people ------------------------------------------------------------------------
    async def search(self, text: str, limit: int = 50) -> list[Found]:
        """People whose name, handle or tag contains ``text`` (a leading '#' searches tags only)."""
        text = text.strip()
        tag_only = text.startswith("#")
        needle = text.lstrip("#@").casefold()
        if not needle:
            rows = await self._rows("SELECT id, name, points, tier, tags FROM followers "
                                    "ORDER BY last_seen DESC LIMIT ?", (limit,))
        else:
            like = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            tag_like = '%"' + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + '%'
            clause = ("tags LIKE ? ESCAPE '\\'" if tag_only else
                      "lower(name) LIKE ? ESCAPE '\\' OR tags LIKE ? ESCAPE '\\' OR id IN "
                      "(SELECT follower_id FROM identities WHERE handle_key LIKE ? ESCAPE '\\' "
                      "OR lower(name) LIKE ? ESCAPE '\\' OR user_id = ?)")
            params: tuple[Any, ...] = (tag_like,) if tag_only else (like, tag_like, like, like, needle)
            rows = await self._rows(f"SELECT id, name, points, tier, tags FROM followers WHERE {clause} "
                                    "ORDER BY points DESC, id LIMIT ?", (*params, limit))
        found = []
        for fid, name, points, tier, tags in rows:
            handles = await self._rows("SELECT network, handle, user_id FROM identities WHERE follower_id = ? "
                                       "ORDER BY network", (fid,))
            found.append(Found(int(fid), str(name), int(points), str(tier), tuple(json.loads(tags or "[]")),
                               ", ".join(f"{n}:{h or u}" for n, h, u in handles)))
        return found

    # -- inbox -------------------------------------------------------------------------
    async def post_of(self, network: str, event_id: str) -> str:
        """The platform id of the message an event was (what a reply threads under), as the
        bot's own answer to that event recorded it; "" when the bot never answered it."""
        rows = await self._rows("SELECT in_reply_to FROM outbox WHERE network = ? AND event_id = ? "
                                "AND in_reply_to != '' ORDER BY id DESC LIMIT 1", (network, event_id))
        return str(rows[0][0]) if rows else ""

    async def thread(self, network: str, conversation: str, follower_id: int = 0,
                     limit: int = 50) -> list[ThreadLine]:
        """The latest messages of a conversation (of one person in it when ``follower_id``), oldest first."""
        who = " AND follower_id = ?" if follower_id else ""
        params: tuple[Any, ...] = (network, conversation, follower_id, limit) if follower_id else (
            network, conversation, limit)
        rows = await self._rows(
            "SELECT time, direction, kind, text, follower_id, source, event_id FROM interactions "
            f"WHERE network = ? AND conversation_id = ?{who} AND kind != 'refused' ORDER BY id DESC LIMIT ?", params)
        return [ThreadLine(str(t), str(d), str(k), str(x), int(f), str(s), str(e))
                for t, d, k, x, f, s, e in reversed(rows)]


__all__ = ["Found", "NoDatabase", "Queries", "ThreadLine"]
