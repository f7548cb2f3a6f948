"""The database, its WAL and the data folder are private to the bot's user, whatever the umask.

Outside systemd (whose unit sets UMask=0077) a default umask of 022 made them readable by
every local user: people's names, messages and ids.
"""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from brandbot.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[1]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


async def test_a_new_database_and_its_wal_are_readable_by_the_owner_only(tmp_path: Path, loose_umask: None) -> None:
    path = tmp_path / "brandbot.sqlite3"
    async with SqliteStore(str(path)) as store:
        store.set_cursor("console", "42")
        await store.flush()
        files = [p for p in tmp_path.iterdir() if p.name.startswith("brandbot.sqlite3")]
        assert {p.name for p in files} >= {"brandbot.sqlite3", "brandbot.sqlite3-wal", "brandbot.sqlite3-shm"}
        assert {p.name: oct(mode(p)) for p in files} == {p.name: "0o600" for p in files}


async def test_an_existing_database_readable_by_others_is_reported(
    tmp_path: Path, loose_umask: None, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "old.sqlite3"
    async with SqliteStore(str(path)):
        pass
    path.chmod(0o644)  # made by an earlier version
    with caplog.at_level(logging.WARNING):
        async with SqliteStore(str(path)):
            pass
    [warning] = [r.getMessage() for r in caplog.records if "readable by other users" in r.getMessage()]
    assert str(path) in warning and f"chmod 600 {path}" in warning
    assert mode(path) == 0o644  # the operator's file: reported, not changed behind their back


def test_brandbot_run_creates_a_private_data_folder(tmp_path: Path, loose_umask: None) -> None:
    config = tmp_path / "brandbot.yaml"
    config.write_text(
        "brand: {name: Private Brand}\n"
        "storage: {path: state/data/brandbot.sqlite3}\n"
        "networks:\n  console: {prompt: false}\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run(
        [sys.executable, "-m", "brandbot.ops.cli", "-c", str(config), "run"],
        input="@ana: hello\n", capture_output=True, text=True, timeout=60, env=env, check=False,
    )
    assert result.returncode == 0, result.stderr
    data = tmp_path / "state" / "data"
    assert oct(mode(data)) == "0o700"
    assert oct(mode(tmp_path / "state")) == "0o700"
    assert oct(mode(data / "brandbot.sqlite3")) == "0o600"
