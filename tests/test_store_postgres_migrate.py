"""``brandbot migrate --to postgresql://...``: a SQLite database copied whole into PostgreSQL,
read back through the PostgreSQL store, with the counts checked and a second copy refused."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from brandbot.core.events import Person
from brandbot.core.records import Direction, Interaction, Job, OutboxEntry, OutboxStatus
from brandbot.ops.cli import main
from brandbot.ops.migrate import progress_bar, redact_url
from brandbot.store.postgres import PostgresStore
from brandbot.store.sqlite import SqliteStore
from tests.servers.postgres import PostgresServer

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PEOPLE = 1200  # more than one COPY chunk of interactions and processed ids


def write_config(folder: Path) -> Path:
    config = folder / "brandbot.yaml"
    config.write_text("brand: {name: Acme}\nstorage: {path: state/brandbot.sqlite3}\n")
    (folder / "state").mkdir()
    return config


async def fill_sqlite(path: Path) -> dict[str, object]:
    """A database with rows in every table; returns what the checks compare."""
    async with SqliteStore(path) as s:
        followers = []
        for n in range(PEOPLE):
            follower, _ = await s.resolve(Person("telegram", f"u{n}", f"user{n}", f"User {n}"), T0)
            follower = dataclasses.replace(
                follower, points=n, tier="gold" if n % 2 else "", tags=frozenset({"vip"}) if n < 3 else frozenset()
            )
            s.put_follower(follower)
            followers.append(follower)
            s.add_interaction(Interaction(follower.id, T0 + timedelta(seconds=n), Direction.IN,
                                          "mention", "telegram", "chat", f"e{n}", f"hello {n}", "", 1))
            s.mark_processed("telegram", f"e{n}", T0)
        sent = OutboxEntry(s.next_outbox_id(), "telegram", "chat", True, "thanks", T0, T0,
                           OutboxStatus.SENT, follower_id=followers[0].id, post_ids=("p1",))
        pending = OutboxEntry(s.next_outbox_id(), "telegram", "chat", False, "soon", T0, T0,
                              follower_id=followers[1].id)
        s.put_outbox(sent)
        s.put_outbox(pending)
        s.set_cursor("telegram:offset", "991")
        s.mark_once(f"welcome:f{followers[0].id}:", T0)
        s.kv_set("loyalty", "badge", "gold", followers[0].id)
        s.put_job(Job("giveaway:close:1", T0 + timedelta(days=1), "giveaway", '{"id": 1}'))
        await s.flush()
        keep, gone = followers[-2], followers[-1]
        await s.merge_followers(keep.id, gone.id, keep)
        return {"first": followers[0], "keep": keep, "gone": gone, "sent": sent, "pending": pending}


def test_migrate_copies_every_table_and_checks_the_counts(
    postgres_server: PostgresServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not postgres_server.running:
        postgres_server.start()
    config = write_config(tmp_path)
    source = tmp_path / "state" / "brandbot.sqlite3"
    made = asyncio.run(fill_sqlite(source))
    before = sqlite3.connect(source).execute("SELECT COUNT(*) FROM interactions").fetchone()
    url = asyncio.run(postgres_server.create_database())

    assert main(["migrate", "-c", str(config), "--to", url]) == 0

    out, err = capsys.readouterr()
    assert "DIFFERENT" not in out
    for table, count in (("followers", PEOPLE - 1), ("interactions", PEOPLE), ("merges", 1)):
        assert any(line.split()[:3] == [table, f"{count:,}", f"{count:,}"] for line in out.splitlines()), out
    assert "interactions " in err and "100%" in err  # the progress, one line per table here
    assert sqlite3.connect(source).execute("SELECT COUNT(*) FROM interactions").fetchone() == before

    async def check() -> None:
        async with PostgresStore(url) as s:
            first = made["first"]
            assert await s.get_follower(first.id) == first  # type: ignore[attr-defined]
            assert await s.find_follower("telegram", "user5") is not None
            assert await s.count_followers() == PEOPLE - 1
            (history,) = await s.all_interactions(first.id)  # type: ignore[attr-defined]
            assert (history.text, history.event_id, history.points) == ("hello 0", "e0", 1)
            assert await s.pending_outbox() == [made["pending"]]
            assert (await s.outbox_for(first.id)) == [made["sent"]]  # type: ignore[attr-defined]
            assert await s.get_cursor("telegram:offset") == "991"
            assert await s.once_used(f"welcome:f{first.id}:")  # type: ignore[attr-defined]
            assert await s.is_processed("telegram", f"e{PEOPLE - 1}")
            assert await s.kv_get("loyalty", "badge") == "gold"
            assert [j.name for j in await s.all_jobs()] == ["giveaway:close:1"]
            assert [t for _, t in await s.audit()] == ["merged two followers"]
            keep, gone = made["keep"], made["gone"]
            assert await s.get_follower(gone.id) is None  # type: ignore[attr-defined]
            assert len(await s.identities(keep.id)) == 2  # type: ignore[attr-defined]
            # New rows get ids past every copied one.
            newcomer, created = await s.resolve(Person("x", "new"), T0)
            assert created and newcomer.id > gone.id  # type: ignore[attr-defined]
            assert s.next_outbox_id() > made["pending"].id  # type: ignore[attr-defined]

    asyncio.run(check())

    # A second copy into the same brand would double everything: refused, nothing written.
    assert main(["migrate", "-c", str(config), "--to", url]) == 1
    assert "already holds rows of brand 'default'" in capsys.readouterr().err
    # Into another brand of the same database it is fine.
    assert main(["migrate", "-c", str(config), "--to", url, "--brand", "acme"]) == 0


def test_migrate_refuses_what_it_cannot_copy_whole(
    postgres_server: PostgresServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not postgres_server.running:
        postgres_server.start()
    config = write_config(tmp_path)
    url = asyncio.run(postgres_server.create_database())
    assert main(["migrate", "-c", str(config), "--to", url]) == 1
    assert "no SQLite database at" in capsys.readouterr().err

    source = tmp_path / "state" / "brandbot.sqlite3"

    async def create() -> None:
        async with SqliteStore(source):
            pass

    asyncio.run(create())
    db = sqlite3.connect(source)
    db.execute("CREATE TABLE surprises (x TEXT)")
    db.commit()
    db.close()
    assert main(["migrate", "-c", str(config), "--to", url]) == 1
    assert "surprises" in capsys.readouterr().err
    assert main(["migrate", "-c", str(config), "--to", "mysql://x"]) == 1
    assert "postgresql://" in capsys.readouterr().err


def test_the_progress_bar_and_the_url_in_messages() -> None:
    assert progress_bar("followers", 5, 10, width=10) == "followers    [#####-----]  50%  5/10"
    assert progress_bar("audit", 0, 0, width=4) == "audit        [####] 100%  0/0"
    assert redact_url("postgresql://bot:s3cret@db:5432/x") == "postgresql://bot:***@db:5432/x"
    assert redact_url("postgresql://bot@db/x") == "postgresql://bot@db/x"
