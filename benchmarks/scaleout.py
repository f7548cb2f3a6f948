"""Scale-out throughput: 1 and 2 ``brandbot worker`` processes draining the event streams.

    python benchmarks/scaleout.py [--events 6000] [--people 1500] [--workers 1,2] [--json out.json]

Real PostgreSQL and Redis servers are started in temporary folders (as the tests do).
For each worker count, a fresh database and Redis get ``--events`` events (direct
messages and mentions from ``--people`` people; a rule answers about a third) appended
to the brand's partitions exactly as the gateway appends them; then the workers are
started as separate processes (``python -m brandbot.ops.cli worker``) and timed from the
moment they all hold leases until every entry is acknowledged (committed in PostgreSQL).

Networks are left out on purpose: a platform's rate limits (Telegram 30 messages/s,
Discord 50/s) cap sending far below what the workers can decide, so a figure with them
in would measure the limits. What the workers do is the part that needs many processes.

Reported per run: events/s; PostgreSQL transactions/s (every read is one; pg_stat_database)
and rows written/s;
Redis commands/s and CPU (INFO); CPU seconds per 1000 events of each worker, of
PostgreSQL (all its processes) and of Redis. From those: where N workers would saturate
(see the printed projection and docs/scaling.md). On this 2-core machine the workers,
PostgreSQL, Redis and this script share two cores, so 2 workers cannot show a doubling:
the projection from per-event costs is the honest figure for bigger machines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import yaml  # noqa: E402

from brandbot.core.events import Conversation, Event, Kind, Person  # noqa: E402
from brandbot.scale.connection import connect  # noqa: E402
from brandbot.scale.streams import WORKERS_GROUP, Keys, encode_event, partition_of  # noqa: E402
from tests.servers.postgres import PostgresServer  # noqa: E402
from tests.servers.redis import RedisServer  # noqa: E402

BRAND = "bench"
PARTITIONS = 16
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    workers: int
    events: int
    seconds: float = 0.0
    events_per_s: float = 0.0
    pg_commits: int = 0  # transactions, the workers' reads (one per query) included
    pg_commits_per_s: float = 0.0
    pg_rows_written: int = 0
    pg_rows_per_s: float = 0.0
    redis_commands: int = 0
    redis_commands_per_s: float = 0.0
    cpu_per_1000: dict[str, float] = field(default_factory=dict)  # process -> CPU seconds per 1000 events
    cpu_share: dict[str, float] = field(default_factory=dict)  # process -> fraction of one core while draining


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def postgres_pids(data_dir: Path) -> list[int]:
    """The postmaster and its children (backends, writer, checkpointer, ...)."""
    master = int((data_dir / "postmaster.pid").read_text().split()[0])
    pids = [master]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == master:
                pids.append(int(entry.name))
    return pids


def events(count: int, people: int, seed: int) -> list[Event]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        who = str(rng.randrange(people))
        person = Person("telegram", who, f"p{who}", f"P{who}")
        if rng.random() < 0.6:
            conv, kind = Conversation("telegram", who, private=True), Kind.DIRECT
        else:
            conv, kind = Conversation("telegram", f"-100{rng.randrange(50)}"), Kind.MENTION
        text = "hello, what is the price?" if rng.random() < 0.33 else "nice book, reading it now"
        out.append(Event(kind=kind, network="telegram", id=f"e{i}", author=person, conversation=conv, text=text,
                         addressed=True))
    return out


def write_config(folder: Path, pg_url: str, redis_url: str) -> Path:
    (folder / "rules.yaml").write_text(yaml.safe_dump({"rules": [
        {"name": "price", "kinds": ["direct", "mention"], "match": {"any": ["price"]},
         "reply": "It is 12 euros, {{ name }}."}]}))
    config = {
        "brand": {"name": "Bench"},
        "storage": {"url": pg_url, "brand_id": BRAND},
        "networks": {"memory": {}},
        "rules": ["rules.yaml"],
        "plugin_dirs": [],
        "redis": {"url": redis_url, "partitions": PARTITIONS, "lease": 5, "batch": 200},
        "runtime": {"watch_config": False},
        "logging": {"level": "WARNING"},
    }
    path = folder / "brandbot.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


async def fill(redis_url: str, batch: list[Event]) -> None:
    """Append the events as the gateway does (the same encoding and partitions)."""
    keys = Keys(BRAND, PARTITIONS)
    redis = connect(redis_url)
    for p in range(PARTITIONS):
        await redis.xgroup_create(keys.events(p), WORKERS_GROUP, id="0", mkstream=True)
    async with redis.pipeline(transaction=False) as pipe:
        for event in batch:
            pipe.xadd(keys.events(partition_of(event.network, event.author.id, PARTITIONS)), encode_event(event))
        await pipe.execute()
    await redis.aclose()


async def lease_owners(redis: Any, keys: Keys) -> set[bytes]:
    """The workers holding partitions, once every partition is held."""
    owners = await redis.mget([keys.lease(p) for p in range(PARTITIONS)])
    return set(owners) if all(owners) else set()


async def remaining(redis: Any, keys: Keys) -> int:
    """Entries not yet acknowledged (not delivered, or pending), over every partition."""
    left = 0
    for p in range(PARTITIONS):
        for group in await redis.xinfo_groups(keys.events(p)):
            left += int(group.get("lag") or 0) + int(group.get("pending") or 0)
    return left


async def pg_counts(pg_url: str) -> tuple[int, int]:
    """(transactions committed, reads included; rows inserted or updated) of the database."""
    conn = await asyncpg.connect(pg_url)
    try:
        row = await conn.fetchrow("SELECT xact_commit, tup_inserted + tup_updated AS written FROM pg_stat_database "
                                  "WHERE datname = current_database()")
        return int(row["xact_commit"]), int(row["written"])
    finally:
        await conn.close()


def start_workers(config: Path, count: int, folder: Path) -> list[subprocess.Popen[bytes]]:
    """``brandbot worker`` processes, as an operator starts them; their logs in ``folder``."""
    procs = []
    for n in range(count):
        with open(folder / f"worker-{count}-{n}.log", "wb") as log:
            procs.append(subprocess.Popen([sys.executable, "-m", "brandbot.ops.cli", "-c", str(config), "worker"],
                                          cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log))
    return procs


async def measure(workers: int, batch: list[Event], pg: PostgresServer, folder: Path) -> Run:
    run = Run(workers, len(batch))
    redis_server = RedisServer(folder / f"redis-{workers}").start()
    try:
        pg_url = await pg.create_database()
        config = write_config(folder, pg_url, redis_server.url)
        await fill(redis_server.url, batch)
        keys = Keys(BRAND, PARTITIONS)
        redis = connect(redis_server.url)
        procs = start_workers(config, workers, folder)
        # Timed from the moment every worker holds leases (start-up and migrations excluded).
        while len(await lease_owners(redis, keys)) < workers:  # every worker reads its share
            await asyncio.sleep(0.01)
        before_cpu = {f"worker{n}": cpu_seconds(p.pid) for n, p in enumerate(procs)}
        pg_pids = postgres_pids(pg.data)
        before_cpu["postgres"] = sum(cpu_seconds(p) for p in pg_pids if Path(f"/proc/{p}").exists())
        info = await redis.info()
        before_cpu["redis"] = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
        before_cmds = int(info["total_commands_processed"])
        before_commits, before_rows = await pg_counts(pg_url)
        started = time.perf_counter()
        while await remaining(redis, keys):
            await asyncio.sleep(0.02)
        run.seconds = time.perf_counter() - started
        after = {f"worker{n}": cpu_seconds(p.pid) for n, p in enumerate(procs)}
        after["postgres"] = sum(cpu_seconds(p) for p in postgres_pids(pg.data) if Path(f"/proc/{p}").exists())
        info = await redis.info()
        after["redis"] = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
        run.redis_commands = int(info["total_commands_processed"]) - before_cmds
        commits, rows = await pg_counts(pg_url)
        run.pg_commits, run.pg_rows_written = commits - before_commits, rows - before_rows
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)
        await redis.aclose()
    finally:
        redis_server.stop()
    run.events_per_s = run.events / run.seconds
    run.pg_commits_per_s = run.pg_commits / run.seconds
    run.pg_rows_per_s = run.pg_rows_written / run.seconds
    run.redis_commands_per_s = run.redis_commands / run.seconds
    for name, value in after.items():
        used = value - before_cpu[name]
        run.cpu_per_1000[name] = round(used / run.events * 1000, 3)
        run.cpu_share[name] = round(used / run.seconds, 2)
    return run


def projection(run: Run) -> list[str]:
    """Where N workers would saturate, from one run's costs per 1000 events."""
    worker_cost = sum(v for k, v in run.cpu_per_1000.items() if k.startswith("worker")) / run.workers
    pg_cost = run.cpu_per_1000["postgres"]
    redis_cost = run.cpu_per_1000["redis"]
    per_worker = 1000 / worker_cost if worker_cost else float("inf")  # events/s one busy core of a worker gives
    return [
        f"a worker spends {worker_cost:.2f} CPU-s per 1000 events: one fully busy worker core decides ~{per_worker:.0f} events/s",
        f"PostgreSQL spends {pg_cost:.2f} CPU-s per 1000 events: each PostgreSQL core carries ~{1000 / pg_cost:.0f} events/s "
        f"({run.pg_commits / run.events:.1f} transactions and {run.pg_rows_written / run.events:.1f} rows written "
        f"per event)" if pg_cost else "",
        f"Redis spends {redis_cost:.2f} CPU-s per 1000 events (single-threaded): it saturates at ~{1000 / redis_cost:.0f} "
        f"events/s" if redis_cost else "",
        f"so N workers scale until N x {per_worker:.0f} events/s reaches the PostgreSQL or Redis figure above",
    ]


async def main(args: argparse.Namespace) -> dict[str, Any]:
    batch = events(args.events, args.people, args.seed)
    folder = Path(tempfile.mkdtemp(prefix="brandbot-scaleout-"))
    pg = PostgresServer()
    pg.start()
    runs = []
    try:
        for workers in args.workers:
            run = await measure(workers, batch, pg, folder)
            runs.append(run)
            print(f"{workers} worker(s): {run.events_per_s:.0f} events/s ({run.events} in {run.seconds:.1f} s); "
                  f"PostgreSQL {run.pg_commits_per_s:.0f} transactions/s (reads included), "
                  f"{run.pg_rows_per_s:.0f} rows written/s; "
                  f"Redis {run.redis_commands_per_s:.0f} commands/s; CPU share {run.cpu_share}; "
                  f"CPU-s per 1000 events {run.cpu_per_1000}", flush=True)
    finally:
        pg.remove()
    print("\nwhere N workers would saturate (from the 1-worker run):")
    for line in projection(runs[0]):
        if line:
            print("  " + line)
    return {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "load_at_start": os.getloadavg()},
            "runs": [asdict(r) for r in runs], "projection": [x for x in projection(runs[0]) if x]}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--people", type=int, default=1500)
    parser.add_argument("--workers", type=lambda v: [int(x) for x in v.split(",")], default=[1, 2])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", default="")
    options = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}", flush=True)
    summary = asyncio.run(main(options))
    if options.json:
        Path(options.json).write_text(json.dumps(summary, indent=2))
