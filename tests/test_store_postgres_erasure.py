"""Erasure on PostgreSQL: the realistic session of tests/test_erasure.py (DMs, a group
mention, a giveaway entry, a Q&A question, a handoff to the staff) on the PostgreSQL
store, then /forgetme or an admin's /forget: no row of any table names the person.

What PostgreSQL keeps in its files (dead tuples until VACUUM, WAL) is not checked here:
docs/scaling.md says what it does not zero and what to do about it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest

from brandbot.store.postgres import PostgresStore
from tests.test_erasure import NEEDLES, USER_ID, Session, leaks_in_bytes, realistic_session

pytestmark = pytest.mark.postgres


async def session_on_postgres(make_bot: Any, url: str, folder: Path) -> Any:
    async def on_postgres(**kwargs: Any) -> Any:
        kwargs.pop("store_path", None)
        return await make_bot(store=PostgresStore(url), **kwargs)

    return await realistic_session(on_postgres, folder)


async def leaks_in_tables(url: str) -> list[tuple[str, dict[str, Any]]]:
    conn = await asyncpg.connect(url)
    found = []
    try:
        tables = [r[0] for r in await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )]  # fmt: skip
        for table in tables:
            for row in await conn.fetch(f'SELECT * FROM "{table}"'):
                text = " ".join(str(v) for v in row.values()).lower()
                if any(n.lower() in text for n in NEEDLES):
                    found.append((table, dict(row)))
    finally:
        await conn.close()
    return found


async def test_forgetme_on_postgresql_leaves_no_row_naming_the_person(
    make_bot: Any, pg_url: str, tmp_path: Path
) -> None:
    bot = await session_on_postgres(make_bot, pg_url, tmp_path / "one")
    assert await leaks_in_tables(pg_url)  # the session did leave traces to erase
    me = Session(bot)
    me.n = 100
    await me.send("command", "/forgetme")
    await me.send("command", "/forgetme confirm")
    assert any(t.startswith("Done,") for t in bot.take_sent())
    await bot.bot.store.flush()
    assert await leaks_in_tables(pg_url) == []
    state = [f for f in (tmp_path / "one").rglob("*") if f.is_file() and f.suffix != ".yaml"]
    assert leaks_in_bytes(*state) == []


async def test_admin_forget_on_postgresql_leaves_no_row_naming_the_person(
    make_bot: Any, pg_url: str, tmp_path: Path
) -> None:
    bot = await session_on_postgres(make_bot, pg_url, tmp_path / "two")
    await bot.receive("command", f"/forget telegram:{USER_ID}", author="900001", network="telegram",
                      conversation="staff")
    await bot.bot.store.flush()
    assert await leaks_in_tables(pg_url) == []
