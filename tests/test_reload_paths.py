"""Hot reload with a relative ``-c``: no false "network or storage settings changed" warning."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from brandbot.clocks import ManualClock
from brandbot.core.config import load_config
from brandbot.networks.memory import MemoryConfig, MemoryNetwork
from brandbot.runtime.bot import Bot
from brandbot.store.sqlite import SqliteStore


async def test_first_reload_with_a_relative_config_path_does_not_warn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "brandbot.yaml").write_text(
        "brand: {name: Reload Brand}\nstorage: {path: data.sqlite3}\nnetworks:\n  console: {prompt: false}\n"
    )
    monkeypatch.chdir(tmp_path)
    config = load_config(Path("config/brandbot.yaml"))  # as `brandbot -c config/brandbot.yaml run`
    clock = ManualClock()
    bot = Bot(config, store=SqliteStore(":memory:"), clock=clock,
              networks={"console": MemoryNetwork(MemoryConfig(), clock=clock, name="console")})
    await bot.open()
    try:
        with caplog.at_level(logging.WARNING):
            assert await bot.reload()
        assert "settings changed" not in caplog.text
        # a real change is still reported
        (folder / "brandbot.yaml").write_text(
            "brand: {name: Reload Brand}\nstorage: {path: other.sqlite3}\nnetworks:\n  console: {prompt: false}\n"
        )
        with caplog.at_level(logging.WARNING):
            assert await bot.reload()
        assert "network or storage settings changed" in caplog.text
    finally:
        await bot.stop()
