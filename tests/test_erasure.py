"""Erasure is complete: after a forget, nothing in the database or its WAL names the person.

A realistic session (direct messages, a handoff, the staff notice naming the person, a
Q&A question, a giveaway entry) is followed by ``/forgetme confirm``, the admin's
``/forget`` or ``brandbot followers forget``; then every table, and the raw bytes of the
database and of its WAL after a ``VACUUM``, are scanned for the person's name, handle,
user id and a phrase only they wrote. ``followers export`` holds those same rows.

Forget and export find the tables from the schema itself: a table must either have a
person column or be declared as holding no person (one list in the store); a test fails
when a new table is neither.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from test_plugin_events import TOUR, to_qa_start

from brandbot.core.events import Conversation, Event, Kind, Person
from brandbot.ops import cli
from brandbot.ops.export import export_json
from brandbot.store.sqlite import SqliteStore
from brandbot.store.sqlite.privacy import PERSON_COLUMNS, TABLES_WITHOUT_PERSON, person_tables

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

NAME = "Zorbelina Quaxley"
HANDLE = "zorbq_77"
USER_ID = "7700123456"
PHRASE = "purple-walrus-4417"
NEEDLES = (NAME, "Zorbelina", "Quaxley", HANDLE, USER_ID, PHRASE)


class Session:
    """Drives the harness as one person on Telegram with a distinct id, handle and name."""

    def __init__(self, bot: Any) -> None:
        self.bot = bot
        self.n = 0

    async def send(self, kind: str, text: str, *, conversation: str | None = None) -> None:
        self.n += 1
        private = conversation is None
        command = args = None
        if kind == "command":
            head, *rest = text.lstrip("/").split()
            command, args = head.lower(), tuple(rest)
        event = Event(
            kind=Kind.parse(kind), network="telegram", id=f"zq-{self.n}",
            author=Person("telegram", USER_ID, handle=HANDLE, name=NAME),
            conversation=Conversation("telegram", conversation or f"dm-{USER_ID}", private=private),
            text=text, time=self.bot.clock.now(), post_id=f"zq-post-{self.n}",
            addressed=True, command=command, args=args or (),
        )
        await self.bot.deliver(event)


async def realistic_session(make_bot: Any, folder: Path) -> Any:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tour.yaml").write_text(TOUR)
    config = {
        "plugin_dirs": [str(ROOT / "plugins")],
        "admins": {"telegram": ["900001"], "discord": ["900002"]},
        "staff": {"network": "telegram", "conversation": "staff"},
        "storage": {"path": str(folder / "brandbot.sqlite3")},
        "plugins": {"events": {"tour_file": str(folder / "tour.yaml")}, "giveaway": {}},
    }
    from brandbot.testing import write_config

    rules = [{"name": "echo", "kinds": ["direct"], "reply": "Thanks {{ name }}, you said: {{ event.text }}",
              "priority": -10}]
    path = write_config(folder, config, rules)
    bot = await make_bot(config=path, plugins=["optout", "handoff", "events", "giveaway", "loyalty"],
                         networks=("telegram", "discord"), start=START,
                         store_path=folder / "brandbot.sqlite3")
    me = Session(bot)
    for i in range(3):
        await me.send("direct", f"hello, my code word is {PHRASE} ({i})")
    await me.send("mention", f"@brand {PHRASE} in the group", conversation="group-1")
    # a giveaway, entered by the person in the group
    await bot.receive("command", '/giveaway open prize="Signed copy" enter=#saltorchard closes=2h',
                      author="900001", network="telegram", conversation="group-1")
    await me.send("mention", f"I'd love it #SaltOrchard {PHRASE}", conversation="group-1")
    # the Q&A: a question with their words
    await to_qa_start(bot)
    await me.send("command", f"/ask why is the {PHRASE} so salty?", conversation="group-1")
    await bot.receive("command", "/qa close", author="900001", network="telegram", conversation="staff")
    # a handoff: the staff are told, naming them
    await me.send("direct", f"I need a human please, {PHRASE}")
    staff = [r.text for r in bot.networks["telegram"].sent if r.conversation.id == "staff"]
    assert any(NAME in t for t in staff), staff
    await bot.bot.store.flush()
    return bot


def leaks_in_tables(db_file: Path) -> list[tuple[str, tuple[Any, ...]]]:
    db = sqlite3.connect(db_file)
    found = []
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):
                text = " ".join(str(v) for v in row).lower()
                if any(n.lower() in text for n in NEEDLES):
                    found.append((table, row))
    finally:
        db.close()
    return found


def leaks_in_bytes(*files: Path) -> list[tuple[str, str]]:
    found = []
    for file in files:
        if not file.exists():
            continue
        raw = file.read_bytes()
        for needle in NEEDLES:
            for form in (needle, needle.lower()):
                if form.encode() in raw:
                    found.append((file.name, needle))
    return found


async def assert_forgotten(bot: Any, folder: Path) -> None:
    store = bot.bot.store
    await store.flush()
    db_file = folder / "brandbot.sqlite3"
    wal = folder / "brandbot.sqlite3-wal"
    # before VACUUM: no row names them
    assert leaks_in_tables(db_file) == []
    await store._connection().execute("VACUUM")
    assert leaks_in_tables(db_file) == []
    assert leaks_in_bytes(db_file, wal) == []
    # files the plugins keep next to the database (the giveaway's draw record)
    state = [f for f in folder.rglob("*") if f.is_file() and "sqlite3" not in f.name and f.suffix != ".yaml"]
    assert leaks_in_bytes(*state) == []


async def test_forgetme_leaves_nothing_naming_the_person(make_bot, tmp_path: Path) -> None:
    bot = await realistic_session(make_bot, tmp_path / "one")
    me = Session(bot)
    me.n = 100
    await me.send("command", "/forgetme")
    await me.send("command", "/forgetme confirm")
    assert any(t.startswith("Done,") for t in bot.take_sent())
    await assert_forgotten(bot, tmp_path / "one")


async def test_admin_forget_leaves_nothing_naming_the_person(make_bot, tmp_path: Path) -> None:
    bot = await realistic_session(make_bot, tmp_path / "two")
    await bot.receive("command", f"/forget telegram:{USER_ID}", author="900001", network="telegram",
                      conversation="staff")
    assert any(t.startswith("Forgotten: follower") for t in bot.take_sent())
    await assert_forgotten(bot, tmp_path / "two")


async def test_cli_forget_leaves_nothing_naming_the_person(
    make_bot, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "three"
    bot = await realistic_session(make_bot, folder)
    await bot.close()
    code = await asyncio.to_thread(
        cli.main, ["-c", str(folder / "brandbot.yaml"), "followers", "forget", f"telegram:{USER_ID}"]
    )
    assert code == 0, capsys.readouterr()
    store = SqliteStore(str(folder / "brandbot.sqlite3"))
    await store.open()
    try:
        conn = store._connection()
        await conn.execute("VACUUM")
        await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert leaks_in_tables(folder / "brandbot.sqlite3") == []
        assert leaks_in_bytes(folder / "brandbot.sqlite3", folder / "brandbot.sqlite3-wal") == []
    finally:
        await store.close()


async def test_export_holds_every_row_about_the_person(make_bot, tmp_path: Path) -> None:
    bot = await realistic_session(make_bot, tmp_path / "four")
    store = bot.bot.store
    follower = await store.find_follower("telegram", USER_ID)
    assert follower is not None
    exported = export_json(await store.export_follower(follower.id))
    data = json.loads(exported)
    # every row naming them, in every table, is in the export
    rows = leaks_in_tables(tmp_path / "four" / "brandbot.sqlite3")
    assert {table for table, _ in rows} >= {"interactions", "outbox", "plugin_data"}
    for table, row in rows:
        naming = [v for v in row if isinstance(v, str) and any(n.lower() in v.lower() for n in NEEDLES)]
        assert all(json.dumps(v, ensure_ascii=False)[1:-1] in exported for v in naming), (table, row)
    # the staff notice about them, their Q&A question and their giveaway entry
    assert any("Handoff" in r["text"] and NAME in r["text"] for r in data["outbox"]), data["outbox"]
    assert any(PHRASE in json.dumps(item) for item in data["plugin_data"] if item[0] == "plugin:events")
    assert any(item[0] == "plugin:giveaway" for item in data["plugin_data"])


async def test_every_table_has_a_person_column_or_is_declared_without_one(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "schema.sqlite3"))
    await store.open()
    try:
        tables = await person_tables(store._connection())
    finally:
        await store.close()
    undeclared = {t for t, columns in tables.items() if not columns and t not in TABLES_WITHOUT_PERSON}
    assert undeclared == set(), (
        f"table(s) {sorted(undeclared)} neither have a person column ({sorted(set().union(*PERSON_COLUMNS.values()))}) "
        "nor are declared in TABLES_WITHOUT_PERSON (brandbot/store/sqlite/privacy.py)"
    )
    # the declared ones really exist, and do not also carry a person column
    assert all(not tables[t] for t in TABLES_WITHOUT_PERSON if t in tables)
    assert {"processed", "cursors", "audit"} <= set(tables)


async def test_forget_refuses_to_run_with_an_undeclared_table(tmp_path: Path) -> None:
    from brandbot.core.errors import StoreError

    store = SqliteStore(str(tmp_path / "new.sqlite3"))
    await store.open()
    try:
        await store._connection().execute("CREATE TABLE notes_about_people (body TEXT)")
        follower, _new = await store.resolve(Person("telegram", "1", "a", "A"), START)
        await store.flush()
        with pytest.raises(StoreError, match="notes_about_people"):
            await store.forget_follower(follower.id, START)
        assert await store.get_follower(follower.id) is not None  # nothing was half-forgotten
    finally:
        await store.close()
