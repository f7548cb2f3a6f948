"""The PostgreSQL store on its own: what one process gets from one PostgreSQL.

    python benchmarks/store_postgres.py                # a throw-away server, default sizes
    python benchmarks/store_postgres.py --url postgresql://...   # an existing (empty) database
    python benchmarks/store_postgres.py --events 500 --json out.json

Four figures, each on the real store and a real server:

- **batch**: events' writes (follower, identity, history row, processed id) buffered
  and committed in batches of ``--batch`` events: rows/s through ``executemany``;
- **commits**: one event's writes committed and waited for, one after another (a reply
  waits for its commit): commits/s, the latency floor of a lone event;
- **reads**: ``resolve`` + ``is_processed`` of known people, one after another: the
  per-event reads the runtime makes, in round-trips/s;
- **claims**: two stores claiming the same pending outbox rows 50 at a time: rows/s,
  and a check that no row was claimed twice.

Without ``--url`` the server is the tests' (``tests/servers/postgres.py``: fsync off, so
commits/s is the CPU and round-trip cost, not the disk's). Figures depend on the
machine and on its load: compare runs of one machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from brandbot.core.events import Person  # noqa: E402
from brandbot.core.records import Direction, Interaction, OutboxEntry  # noqa: E402
from brandbot.store.postgres import PostgresStore  # noqa: E402
from tests.servers.postgres import PostgresServer  # noqa: E402

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _write_event(store: PostgresStore, follower_id: int, n: int) -> None:
    store.add_interaction(
        Interaction(follower_id, T0, Direction.IN, "mention", "x", "c", f"e{n}", "hello")
    )
    store.mark_processed("x", f"e{n}", T0)


async def measure(url: str, events: int, batch: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with PostgresStore(url, commit_delay=3600, max_batch=10**9) as s:
        people = []
        started = time.perf_counter()
        for n in range(events):
            follower, _ = await s.resolve(Person("x", f"p{n}"), T0)
            people.append(follower)
            _write_event(s, follower.id, n)
            if (n + 1) % batch == 0:
                await s.flush()
        await s.flush()
        seconds = time.perf_counter() - started
        out["batch"] = {"events": events, "rows": events * 4, "seconds": round(seconds, 3),
                        "events_per_s": round(events / seconds), "rows_per_s": round(events * 4 / seconds)}

        count = min(events, 1000)
        started = time.perf_counter()
        for n in range(count):
            _write_event(s, people[n].id, events + n)
            await s.ensure_committed(s.write_seq())
        seconds = time.perf_counter() - started
        out["commits"] = {"commits": count, "seconds": round(seconds, 3),
                          "commits_per_s": round(count / seconds)}

        started = time.perf_counter()
        for n in range(count):
            await s.resolve(Person("x", f"p{n}"), T0)
            await s.is_processed("x", f"e{n}")
        seconds = time.perf_counter() - started
        out["reads"] = {"round_trips": 2 * count, "seconds": round(seconds, 3),
                        "round_trips_per_s": round(2 * count / seconds)}

        rows = [OutboxEntry(s.next_outbox_id(), "x", f"c{n}", False, "hi", T0, T0) for n in range(count)]
        for row in rows:
            s.put_outbox(row)
        await s.flush()
    async with PostgresStore(url, owner="a") as a, PostgresStore(url, owner="b") as b:

        async def drain(store: PostgresStore) -> list[int]:
            taken: list[int] = []
            while got := await store.claim_outbox(limit=50):
                taken += [e.id for e in got]
            return taken

        started = time.perf_counter()
        got_a, got_b = await asyncio.gather(drain(a), drain(b))
        seconds = time.perf_counter() - started
        overlap = len(set(got_a) & set(got_b))
        out["claims"] = {"rows": len(got_a) + len(got_b), "seconds": round(seconds, 3),
                         "rows_per_s": round((len(got_a) + len(got_b)) / seconds),
                         "claimed_twice": overlap}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an empty PostgreSQL database (default: start one)")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500, help="events per commit in 'batch'")
    parser.add_argument("--json", help="also write the summary to this file")
    args = parser.parse_args(argv)
    server = None
    url = args.url
    if url is None:
        server = PostgresServer()
        server.start()
        url = asyncio.run(server.create_database())
    try:
        figures = asyncio.run(measure(url, args.events, args.batch))
    finally:
        if server is not None:
            server.remove()
    summary = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "python": platform.python_version(), "load": os.getloadavg()},
        **figures,
    }
    text = json.dumps(summary, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 1 if figures["claims"]["claimed_twice"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
