"""What only the PostgreSQL store does: several processes on one database, brands,
migrations under concurrency, and a server restart under a running store.

"Several processes" are several store instances on one database, each with its own
connection pool, which is what separate processes have: nothing is shared in memory.
The contract the SQLite store also keeps is tested on both in test_store_postgres_contract.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from brandbot.core.config import load_config
from brandbot.core.errors import StoreError
from brandbot.core.events import Person
from brandbot.core.records import Direction, Interaction, Job, OutboxEntry, OutboxStatus
from brandbot.store import store_for
from brandbot.store.migrations import Migration
from brandbot.store.postgres import LATEST_VERSION, MIGRATIONS, PostgresStore
from brandbot.store.postgres.schema import migrate
from brandbot.store.sqlite import SqliteStore
from tests.servers.postgres import running_postgres

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def entry(store: PostgresStore, n: int = 0, **kw: Any) -> OutboxEntry:
    return OutboxEntry(
        id=store.next_outbox_id(), network=kw.pop("network", "telegram"),
        conversation_id=kw.pop("conversation_id", f"chat-{n}"), conversation_private=False,
        text=f"reply {n}", created=T0, next_try=T0, **kw,
    )  # fmt: skip


@pytest.fixture
async def two(pg_url: str) -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    """Two stores on one database, as two processes would have."""
    a = PostgresStore(pg_url, owner="a", commit_delay=0.01)
    b = PostgresStore(pg_url, owner="b", commit_delay=0.01)
    await asyncio.gather(a.open(), b.open())
    yield a, b
    await asyncio.gather(a.close(), b.close())


async def rows(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(url)
    try:
        return [tuple(r) for r in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


# --- migrations ------------------------------------------------------------------------------


async def test_open_migrates_once_even_when_processes_start_together(pg_url: str) -> None:
    stores = [PostgresStore(pg_url) for _ in range(4)]
    await asyncio.gather(*(s.open() for s in stores))
    assert [s.schema_version() for s in stores] == [LATEST_VERSION] * 4
    await asyncio.gather(*(s.close() for s in stores))
    assert await rows(pg_url, "SELECT version FROM schema_version") == [
        (m.version,) for m in MIGRATIONS
    ]
    async with PostgresStore(pg_url) as s:  # reopening runs nothing again
        assert s.schema_version() == LATEST_VERSION
    assert len(await rows(pg_url, "SELECT version FROM schema_version")) == len(MIGRATIONS)


async def test_a_new_migration_applies_once_and_a_failing_one_rolls_back(pg_url: str) -> None:
    async with PostgresStore(pg_url):
        pass
    extra = Migration(LATEST_VERSION + 1, "add a column", "ALTER TABLE audit ADD COLUMN note text")
    broken = Migration(LATEST_VERSION + 2, "broken", "ALTER TABLE audit ADD COLUMN x text; SELEC 1")
    conn = await asyncpg.connect(pg_url)
    try:
        assert await migrate(conn, (*MIGRATIONS, extra)) == extra.version
        with pytest.raises(StoreError, match="rolled back"):
            await migrate(conn, (*MIGRATIONS, extra, broken))
        columns = {r[0] for r in await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'audit'"
        )}  # fmt: skip
        assert "note" in columns and "x" not in columns
    finally:
        await conn.close()
    # The database is now newer than this code: opening it is refused, not risked.
    with pytest.raises(StoreError, match="newer brandbot"):
        await PostgresStore(pg_url).open()


# --- several processes -------------------------------------------------------------------------


async def test_two_processes_never_claim_the_same_outbox_row(
    two: tuple[PostgresStore, PostgresStore], pg_url: str
) -> None:
    a, b = two
    written = [entry(a, n) for n in range(300)]
    for e in written:
        a.put_outbox(e)
    await a.flush()

    async def drain(store: PostgresStore) -> list[int]:
        taken: list[int] = []
        while batch := await store.claim_outbox(limit=7):
            taken += [e.id for e in batch]
            await asyncio.sleep(0)  # let the other one in between
        return taken

    got_a, got_b = await asyncio.gather(drain(a), drain(b))
    assert not set(got_a) & set(got_b)  # nobody sends a reply the other sends
    assert sorted(got_a + got_b) == sorted(e.id for e in written)  # and nothing is left
    assert got_a and got_b  # both took part
    assert await rows(
        pg_url, "SELECT claimed_by, COUNT(*) FROM outbox GROUP BY claimed_by ORDER BY 1"
    ) == [("a", len(got_a)), ("b", len(got_b))]


async def test_a_claim_ends_with_its_lease_or_its_release_and_sent_rows_are_never_claimed(
    pg_url: str,
) -> None:
    async with (
        PostgresStore(pg_url, owner="dies", claim_lease=0.2) as dies,
        PostgresStore(pg_url, owner="lives", claim_lease=60) as lives,
    ):
        first, second, done = entry(dies, 1), entry(dies, 2), entry(dies, 3)
        for e in (first, second, done):
            dies.put_outbox(e)
        dies.put_outbox(dataclasses.replace(done, status=OutboxStatus.SENT))
        await dies.flush()
        assert [e.id for e in await dies.claim_outbox()] == [first.id, second.id]
        assert await lives.claim_outbox() == []  # held by a live claimer
        # The claimer stops renewing (it died): its rows are claimable once the lease ends.
        taken: list[OutboxEntry] = []
        for _ in range(500):
            taken = await lives.claim_outbox()
            if taken:
                break
            await asyncio.sleep(0.02)
        assert [e.id for e in taken] == [first.id, second.id]
        assert await lives.release_claims() == 2
        assert await dies.renew_claims() == 0  # nothing held any more
        assert [e.id for e in await dies.claim_outbox(network="telegram")] == [first.id, second.id]


async def test_rows_a_process_writes_for_itself_are_not_taken_by_another(
    pg_url: str,
) -> None:
    async with (
        PostgresStore(pg_url, owner="worker", claim_new_outbox=True) as worker,
        PostgresStore(pg_url, owner="sweeper") as sweeper,
    ):
        mine = entry(worker, 1)
        worker.put_outbox(mine)
        await worker.flush()
        assert await sweeper.claim_outbox() == []
        # Marking it sent keeps the claim (an update is not a new row) and ends its pending life.
        worker.put_outbox(dataclasses.replace(mine, status=OutboxStatus.SENT, attempts=1))
        await worker.flush()
        assert await rows(pg_url, "SELECT claimed_by, status FROM outbox") == [("worker", "sent")]
        assert await sweeper.pending_outbox() == []


async def test_two_schedulers_run_each_due_job_once(
    two: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = two
    for n in range(120):
        a.put_job(Job(f"remind:{n}", T0 + timedelta(seconds=n), "events"))
    b.put_job(Job("later", T0 + timedelta(days=9), "events"))
    await asyncio.gather(a.flush(), b.flush())

    async def run(store: PostgresStore) -> list[str]:
        ran: list[str] = []
        for step in range(0, 130, 10):  # scheduler passes as time goes by
            for job in await store.due_jobs(T0 + timedelta(seconds=step)):
                ran.append(job.name)
                store.delete_job(job.name)
            await asyncio.sleep(0)
        return ran

    ran_a, ran_b = await asyncio.gather(run(a), run(b))
    assert sorted(ran_a + ran_b) == sorted(f"remind:{n}" for n in range(120))
    assert not set(ran_a) & set(ran_b)
    await asyncio.gather(a.flush(), b.flush())
    assert [j.name for j in await b.all_jobs()] == ["later"]


async def test_ids_are_unique_across_processes(two: tuple[PostgresStore, PostgresStore]) -> None:
    a, b = two

    async def work(store: PostgresStore, tag: str) -> tuple[set[int], set[int], set[int]]:
        followers, outbox_ids = set(), set()
        for n in range(1500):
            follower, created = await store.resolve(Person("x", f"{tag}{n}"), T0)
            assert created
            followers.add(follower.id)
            store.add_interaction(Interaction(follower.id, T0, Direction.IN, "mention", "x", "c"))
            outbox_ids.add(store.next_outbox_id())
        await store.flush()
        interactions = set()
        for follower_id in list(followers)[:50]:
            interactions |= {i.id for i in await store.all_interactions(follower_id)}
        return followers, outbox_ids, interactions

    (fa, oa, ia), (fb, ob, ib) = await asyncio.gather(work(a, "a"), work(b, "b"))
    assert len(fa | fb) == 3000 and len(oa | ob) == 3000 and len(ia | ib) == 100
    assert await a.count_followers() == 3000


async def test_brands_share_a_database_without_seeing_each_other(pg_url: str) -> None:
    async with (
        PostgresStore(pg_url, brand="acme") as acme,
        PostgresStore(pg_url, brand="globex") as globex,
    ):
        ana = Person("telegram", "42", "ana", "Ana")
        at_acme, _ = await acme.resolve(ana, T0)
        at_globex, created = await globex.resolve(ana, T0)
        assert created and at_globex.id != at_acme.id
        for store in (acme, globex):
            store.set_cursor("telegram:offset", store._brand)
            store.kv_set("ns", "k", store._brand)
            store.mark_processed("telegram", "ev-1", T0)
            store.put_outbox(entry(store, 1))
            store.put_job(Job("job", T0, "p"))
        acme.mark_once("only-acme", T0)
        await asyncio.gather(acme.flush(), globex.flush())
        assert await globex.get_cursor("telegram:offset") == "globex"
        assert await globex.kv_get("ns", "k") == "globex"
        assert not await globex.once_used("only-acme")
        assert len(await globex.pending_outbox()) == 1
        assert [j.name for j in await globex.due_jobs(T0)] == ["job"]
        assert [j.name for j in await acme.due_jobs(T0)] == ["job"]  # each brand's own job

        assert await acme.forget_follower(at_acme.id, T0)
        assert await globex.get_follower(at_globex.id) == at_globex
        assert await globex.find_follower("telegram", "ana") == at_globex
        assert await globex.count_followers() == 1 and await acme.count_followers() == 0
        assert [t for _, t in await globex.audit()] == []


async def test_what_another_process_still_holds_of_a_forgotten_person_never_comes_back(
    two: tuple[PostgresStore, PostgresStore], pg_url: str
) -> None:
    worker, admin = two
    ana, _ = await worker.resolve(Person("telegram", "ana-1", "ana", "Ana"), T0)
    ben, _ = await worker.resolve(Person("telegram", "ben-1", "ben", "Ben"), T0)
    await worker.flush()
    # The worker is in the middle of Ana's event: its writes are buffered ...
    worker.put_follower(dataclasses.replace(ana, points=5))
    worker.add_interaction(Interaction(ana.id, T0, Direction.IN, "mention", "telegram", "c",
                                       text="Ana's words in flight"))
    worker.kv_set("loyalty", "badge", "gold", ana.id)
    worker.add_interaction(Interaction(ben.id, T0, Direction.IN, "mention", "telegram", "c",
                                       text="ben's words"))
    # ... when an admin's command, handled by another process, forgets her.
    assert await admin.forget_follower(ana.id, T0)
    await worker.flush()
    assert await rows(pg_url, f"SELECT COUNT(*) FROM followers WHERE id = {ana.id}") == [(0,)]
    assert await rows(pg_url, "SELECT text FROM interactions") == [("ben's words",)]
    assert await rows(pg_url, "SELECT COUNT(*) FROM plugin_data") == [(0,)]
    # The worker learnt it: its later writes about her are dropped at once.
    worker.put_follower(ana)
    await worker.flush()
    assert await rows(pg_url, "SELECT id FROM followers") == [(ben.id,)]


async def test_what_another_process_still_holds_of_a_merged_person_goes_to_the_survivor(
    two: tuple[PostgresStore, PostgresStore], pg_url: str
) -> None:
    worker, admin = two
    keep, _ = await worker.resolve(Person("telegram", "t1", "ana"), T0)
    merged, _ = await worker.resolve(Person("x", "x1", "ana_x"), T0)
    await worker.flush()
    worker.add_interaction(Interaction(merged.id, T0, Direction.IN, "mention", "x", "c", text="late"))
    worker.put_follower(dataclasses.replace(merged, points=9))
    await admin.merge_followers(keep.id, merged.id, dataclasses.replace(keep, points=30))
    await worker.flush()
    assert await rows(pg_url, "SELECT id, points FROM followers") == [(keep.id, 30)]
    assert await rows(pg_url, "SELECT follower_id, text FROM interactions") == [(keep.id, "late")]
    assert await worker.resolve(Person("x", "x1", "ana_x"), T0) == (
        dataclasses.replace(keep, points=30), False
    )


# --- one transaction per batch ----------------------------------------------------------------------


async def test_a_batch_is_one_transaction_however_many_writes_it_holds(pg_url: str) -> None:
    commits: list[int] = []
    async with PostgresStore(pg_url, commit_delay=3600) as s:
        s.on_flush = lambda _seconds, writes: commits.append(writes)
        for n in range(400):
            follower, _ = await s.resolve(Person("x", str(n)), T0)
            s.add_interaction(Interaction(follower.id, T0, Direction.IN, "mention", "x", "c"))
            s.mark_processed("x", str(n), T0)
        await s.flush()
        assert commits == [400 * 4]  # follower, identity, interaction, processed id
    assert await rows(pg_url, "SELECT COUNT(*) FROM interactions") == [(400,)]


# --- PostgreSQL restarting ---------------------------------------------------------------------------


async def test_a_server_restart_loses_nothing_and_crashes_nothing() -> None:
    """Stop the server while a store writes and reads, start it again: the store waits,
    keeps every buffered write, and commits them all once the server is back."""
    with running_postgres() as server:
        url = await server.create_database()
        async with PostgresStore(url, commit_delay=0.01, reconnect_timeout=120) as s:
            written: list[int] = []
            stop = asyncio.Event()

            async def events() -> None:
                n = 0
                while not stop.is_set():
                    follower, _ = await s.resolve(Person("x", str(n)), T0)  # a read each
                    s.add_interaction(
                        Interaction(follower.id, T0, Direction.IN, "mention", "x", "c", text=str(n))
                    )
                    s.mark_processed("x", str(n), T0)
                    written.append(n)
                    n += 1
                    await asyncio.sleep(0.002)

            writer = asyncio.create_task(events())
            while len(written) < 200:
                await asyncio.sleep(0.01)
            await asyncio.to_thread(server.stop)
            before = len(written)
            # While it is down, buffered writes keep coming in for the people already known.
            for n in range(50):
                s.set_cursor("during-outage", str(n))
            await asyncio.sleep(0.5)
            assert not writer.done()  # waiting, not crashed
            await asyncio.to_thread(server.start)
            while len(written) < before + 200:
                await asyncio.sleep(0.01)
            stop.set()
            await writer
            await s.flush()
            total = len(written)
            assert await s.is_processed("x", str(total - 1))
        assert await rows(url, "SELECT COUNT(*) FROM interactions") == [(total,)]
        assert await rows(url, "SELECT COUNT(*) FROM processed") == [(total,)]
        assert await rows(url, "SELECT COUNT(*) FROM followers") == [(total,)]
        assert await rows(url, "SELECT value FROM cursors WHERE key = 'during-outage'") == [("49",)]


async def test_a_server_that_never_comes_back_is_reported_not_waited_for_forever() -> None:
    with running_postgres() as server:
        url = await server.create_database()
        s = PostgresStore(url, commit_delay=3600, reconnect_timeout=0.5)
        await s.open()
        s.set_cursor("k", "v")
        await asyncio.to_thread(server.stop)
        with pytest.raises(StoreError, match="could not commit 1 buffered writes"):
            await s.flush()
        with pytest.raises(StoreError, match="PostgreSQL unreachable"):
            await s.get_cursor("other")
        assert await s.get_cursor("k") == "v"  # still buffered, not lost
        await asyncio.to_thread(server.start)
        await s.close()  # commits what was kept
        assert await rows(url, "SELECT value FROM cursors") == [("v",)]


async def test_backup_writes_a_dump_that_restores_into_an_empty_database(
    pg_url: str, postgres_server: Any, tmp_path: Path
) -> None:
    async with PostgresStore(pg_url) as s:
        s.set_cursor("k", "v")  # buffered: the backup commits it first
        await s.backup(tmp_path / "brandbot.dump")
        with pytest.raises(StoreError, match="exists"):
            await s.backup(tmp_path / "brandbot.dump")
    target = await postgres_server.create_database()
    restore = await asyncio.create_subprocess_exec(
        str(postgres_server.bin / "pg_restore"), f"--dbname={target}", str(tmp_path / "brandbot.dump")
    )
    assert await restore.wait() == 0
    async with PostgresStore(target) as restored:
        assert await restored.get_cursor("k") == "v"


async def test_the_store_benchmark_runs_at_a_tiny_size(pg_url: str) -> None:
    spec = importlib.util.spec_from_file_location(
        "bench_store_postgres", Path(__file__).resolve().parents[1] / "benchmarks" / "store_postgres.py"
    )
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    figures = await bench.measure(pg_url, events=30, batch=10)
    assert figures["batch"]["rows"] == 120
    assert figures["commits"]["commits"] == 30 and figures["reads"]["round_trips"] == 60
    assert figures["claims"] == {**figures["claims"], "rows": 30, "claimed_twice": 0}


# --- configuration --------------------------------------------------------------------------------------


def test_storage_url_selects_postgresql_and_sqlite_stays_the_default(tmp_path: Path) -> None:
    config = tmp_path / "brandbot.yaml"
    config.write_text("brand: {name: Acme}\n")
    default = load_config(config)
    assert isinstance(store_for(default.storage_path, default.top.storage), SqliteStore)
    config.write_text(
        "brand: {name: Acme}\n"
        "storage: {url: 'postgresql://bot@127.0.0.1:5432/brandbot', brand_id: acme}\n"
    )
    chosen = load_config(config)
    store = store_for(chosen.storage_path, chosen.top.storage)
    assert isinstance(store, PostgresStore) and store._brand == "acme"
    config.write_text("brand: {name: Acme}\nstorage: {url: 'mysql://x'}\n")
    with pytest.raises(Exception, match="postgresql://"):
        load_config(config)
