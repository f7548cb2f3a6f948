"""Supervised networks, hot reload and graceful stop."""

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from brandbot.clocks import ManualClock
from brandbot.core.config import load_config
from brandbot.core.events import Outgoing
from brandbot.networks.base import Network, NetworkHost, NetworkState, Sent
from brandbot.networks.memory import MemoryNetwork
from brandbot.runtime.bot import Bot
from brandbot.runtime.supervisor import restart_delay
from brandbot.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[1]


class FlakyNetwork(Network):
    """Fails to start ``failures`` times, then runs; can be told to fail while running."""

    name = "flaky"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.starts = 0
        self.stops = 0
        self.host: NetworkHost | None = None

    async def start(self, host: NetworkHost) -> None:
        self.starts += 1
        self.host = host
        if self.starts <= self.failures:
            raise ConnectionError(f"gateway unreachable (attempt {self.starts})")
        host.report_state(NetworkState.READY)

    async def stop(self) -> None:
        self.stops += 1

    async def send(self, message: Outgoing) -> Sent:
        return Sent(("1",))


def write(folder: Path, rules: str) -> Path:
    (folder / "rules.yaml").write_text(rules)
    (folder / "brandbot.yaml").write_text(
        "brand: {name: T}\nstorage: {path: ':memory:'}\nnetworks: {memory: {}}\nrules: [rules.yaml]\n"
        "plugin_dirs: []\nruntime: {watch_interval: 1}\n"
    )
    return folder / "brandbot.yaml"


async def settle(clock: ManualClock, seconds: float, steps: int = 50) -> None:
    for _ in range(steps):
        clock.advance(seconds / steps)
        for _ in range(5):
            await asyncio.sleep(0)


def test_restart_delay_grows_and_is_capped() -> None:
    import random

    rng = random.Random(1)
    delays = [restart_delay(n, rng, base=1.0, cap=60.0) for n in range(1, 12)]
    assert delays[0] < 1.3 and delays[3] > 5 and max(delays) <= 75


async def test_a_failing_network_is_restarted_and_the_others_keep_working(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "rules:\n  - {name: hi, kinds: [direct], reply: hello}\n"))
    clock = ManualClock()
    flaky, memory = FlakyNetwork(failures=3), MemoryNetwork(name="memory")
    bot = Bot(config, store=SqliteStore(":memory:"), networks={"flaky": flaky, "memory": memory}, clock=clock)
    await bot.start()
    try:
        assert bot.health["flaky"][0] is NetworkState.DEGRADED
        assert bot.health["memory"][0] is NetworkState.READY
        await settle(clock, 20)
        assert flaky.starts == 4 and bot.health["flaky"][0] is NetworkState.READY
        # a failure reported while running restarts it too
        assert flaky.host is not None
        flaky.host.report_state(NetworkState.FAILED, "socket closed")
        await settle(clock, 5)
        assert flaky.starts == 5
    finally:
        await bot.stop()


async def test_repeated_failure_shows_as_unhealthy(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "rules: []\n"))
    clock = ManualClock()
    flaky = FlakyNetwork(failures=1000)
    bot = Bot(config, store=SqliteStore(":memory:"), networks={"flaky": flaky}, clock=clock)
    await bot.start()
    try:
        await settle(clock, 200, steps=200)
        state, detail = bot.health["flaky"]
        assert state is NetworkState.FAILED and "gateway unreachable" in detail
    finally:
        await bot.stop()


async def test_reload_swaps_rules_and_a_broken_reload_keeps_the_old_ones(make_bot, caplog) -> None:
    bot = await make_bot(rules=[{"name": "hi", "kinds": ["direct"], "reply": "version one"}])
    await bot.receive("direct", "hi")
    rules_file = bot.bot.config.rule_files[0]
    rules_file.write_text("rules:\n  - {name: hi, kinds: [direct], reply: version two}\n")
    assert await bot.bot.reload()
    await bot.receive("direct", "hi")
    rules_file.write_text("rules:\n  - {name: hi, kinds: [direct], reply: '{{ nmae }}'}\n")
    with caplog.at_level(logging.ERROR):
        assert not await bot.bot.reload()
    assert any("rules.yaml:2" in r.getMessage() and "reload failed" in r.getMessage() for r in caplog.records)
    await bot.receive("direct", "hi")
    assert bot.sent == ["version one", "version two", "version two"]


async def test_changed_files_are_reloaded_by_the_watcher(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "rules:\n  - {name: hi, kinds: [direct], reply: before}\n"))
    clock = ManualClock()
    memory = MemoryNetwork(name="memory")
    bot = Bot(config, store=SqliteStore(":memory:"), networks={"memory": memory}, clock=clock)
    await bot.start()
    try:
        rules_file = tmp_path / "rules.yaml"
        rules_file.write_text("rules:\n  - {name: hi, kinds: [direct], reply: after}\n")
        os.utime(rules_file, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
        await settle(clock, 3)
        for _ in range(50):
            if bot.generation.rules.book.get("hi").variants[0].source == "after":
                break
            await asyncio.sleep(0.01)
        assert bot.generation.rules.book.get("hi").variants[0].source == "after"
    finally:
        await bot.stop()


def test_sigterm_stops_intake_flushes_and_exits_zero(tmp_path: Path) -> None:
    """A real process: SIGTERM while running on the console exits 0 with history saved."""
    import sqlite3

    (tmp_path / "rules.yaml").write_text("rules:\n  - {name: hi, kinds: [direct], reply: 'hi {{ name }}'}\n")
    (tmp_path / "brandbot.yaml").write_text(
        "brand: {name: T}\nstorage: {path: bot.sqlite3}\nnetworks: {console: {}}\nrules: [rules.yaml]\nplugin_dirs: []\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "brandbot.ops.cli", "-c", str(tmp_path / "brandbot.yaml"), "run"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("@ana: hello\n")
    proc.stdin.flush()
    line = proc.stdout.readline()  # keep stdin open: the bot is still running
    assert line.strip() == "[bot -> ana] hi Ana"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    db = sqlite3.connect(tmp_path / "bot.sqlite3")
    assert db.execute("select count(*) from interactions where direction = 'in'").fetchone()[0] == 1


async def test_the_http_endpoint_serves_health_and_metrics_when_enabled(make_bot) -> None:
    import aiohttp

    bot = await make_bot(rules=[{"name": "hi", "kinds": ["direct"], "reply": "hello"}],
                         config={"http": {"enabled": True, "port": 0}})
    await bot.receive("direct", "hi")
    await bot.bot.store.flush()
    server = bot.bot.health_server
    assert server is not None
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{server.port}/healthz") as resp:
            assert resp.status == 200
            body = await resp.json()
            assert body["networks"]["memory"]["state"] == "ready"
        async with session.get(f"http://127.0.0.1:{server.port}/metrics") as resp:
            text = await resp.text()
    assert 'brandbot_events_total{kind="direct",network="memory"} 1.0' in text
    assert "brandbot_store_flush_seconds" in text


def test_secret_values_from_the_environment_are_known_to_the_redactor(tmp_path: Path) -> None:
    (tmp_path / "brandbot.yaml").write_text(
        "brand: {name: T}\nnetworks:\n  console: {}\n  telegram: {enabled: true, token: '${TG_TOKEN}'}\nplugin_dirs: []\n"
    )
    config = load_config(tmp_path / "brandbot.yaml", env={"TG_TOKEN": "123456:ABCDEFsecretvalue"})
    assert config.secrets() == ["123456:ABCDEFsecretvalue"]
