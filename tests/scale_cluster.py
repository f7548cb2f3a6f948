"""A scaled-out brandbot for the end-to-end tests: a gateway and N workers as processes.

The test process serves the fakes of Telegram and Discord (which record when each send
arrived), Redis and PostgreSQL are real servers, and the gateway and workers are separate
Python processes (``tests/scale_role.py``) that may be SIGKILLed and started again.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from redis.asyncio import Redis

from brandbot.core import loyalty
from brandbot.core.config import load_config
from brandbot.core.records import FollowerQuery
from brandbot.networks.discord import DiscordNetwork
from brandbot.networks.telegram import TelegramNetwork
from brandbot.scale.streams import Keys
from brandbot.store.postgres import PostgresStore
from tests.fake_discord import FakeDiscord, FakeUser
from tests.fake_telegram import FakeTelegram

ROOT = Path(__file__).resolve().parents[1]
RULES = {"rules": [{"name": "echo", "kinds": ["direct"], "reply": "got {{ event.text }}"}]}


class TimedTelegram(FakeTelegram):
    """The fake Bot API, noting when each sendMessage arrived (for the rate-limit check)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[float, str]] = []

    async def _api_sendmessage(self, params: dict[str, Any]) -> Any:
        self.arrivals.append((time.monotonic(), str(params.get("chat_id"))))
        return await super()._api_sendmessage(params)


class TimedDiscord(FakeDiscord):
    """The fake Discord, noting when each message create arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[float, str]] = []

    def _create_message(self, channel_id: int, body: dict[str, Any]) -> Any:
        self.arrivals.append((time.monotonic(), str(channel_id)))
        return super()._create_message(channel_id, body)


@dataclass
class Person:
    network: str
    key: int  # our number for them: the text of their events carries it
    user: Any  # Telegram user dict or FakeUser


@dataclass
class Cluster:
    folder: Path
    pg_url: str
    redis_url: str
    telegram: TimedTelegram
    discord: TimedDiscord
    brand: str = "acme"
    workers: int = 2
    partitions: int = 8
    lease: float = 4.0  # short, for quick takeovers; long enough for a process starved of CPU for a while
    rate_margin: float = 0.0
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    starts: Counter[str] = field(default_factory=Counter)
    config: Path = field(init=False)
    ca: Path = field(init=False)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ca = self.folder / "discord-ca.pem"
        self.discord.server.tls.ca.cert_pem.write_to_path(str(self.ca))
        (self.folder / "rules.yaml").write_text(yaml.safe_dump(RULES))
        config = {
            "brand": {"name": "Acme"},
            "storage": {"url": self.pg_url, "brand_id": self.brand, "path": str(self.folder / "unused.sqlite3")},
            "networks": {
                "telegram": {"token": self.telegram.token, "api_url": self.telegram.api_url,
                             "file_url": self.telegram.file_url, "poll_timeout": 1},
                "discord": {"token": self.discord.token, "announcement_channels": [self.discord.announcements_id]},
            },
            "rules": ["rules.yaml"],
            "plugin_dirs": [],
            "redis": {"url": self.redis_url, "partitions": self.partitions, "lease": self.lease,
                      "rate_margin": self.rate_margin},
            "runtime": {"watch_config": False, "shutdown_grace": 5},
        }
        self.config = self.folder / "brandbot.yaml"
        self.config.write_text(yaml.safe_dump(config))

    # -- processes -------------------------------------------------------------------------
    def start(self, name: str) -> None:
        role = "gateway" if name == "gateway" else "worker"
        args = [sys.executable, "-m", "tests.scale_role", role, str(self.config)]
        if role == "gateway":
            args += ["--discord-port", str(self.discord.server.port), "--discord-ca", str(self.ca)]
        self.starts[name] += 1
        log = open(self.folder / f"{name}.{self.starts[name]}.log", "wb")  # noqa: SIM115 - the process owns it
        self.procs[name] = subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        log.close()

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    async def stop_all(self) -> dict[str, int | None]:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        for name, proc in self.procs.items():
            for _ in range(300):
                if proc.poll() is not None:
                    break
                await asyncio.sleep(0.05)
            if proc.poll() is None:
                proc.send_signal(signal.SIGUSR2)  # its tasks' stacks go to its log, to say where it hung
                await asyncio.sleep(0.5)
                proc.send_signal(signal.SIGUSR1)  # and its threads' stacks
                await asyncio.sleep(0.5)
                proc.kill()
            codes[name] = proc.wait(10)
        return codes

    def logs(self) -> str:
        out = []
        for path in sorted(self.folder.glob("*.log")):
            lines = [line for line in path.read_text(errors="replace").splitlines() if " httpx " not in line]
            out.append(f"--- {path.name} (last 15 of {len(lines)} lines)\n" + "\n".join(lines[-15:]))
        return "\n".join(out)

    @property
    def keys(self) -> Keys:
        return Keys(self.brand, self.partitions)

    def pause(self, *names: str) -> None:
        for name in names:
            self.procs[name].send_signal(signal.SIGSTOP)

    def resume(self, *names: str) -> None:
        for name in names:
            self.procs[name].send_signal(signal.SIGCONT)

    async def wait_appended(self, redis: Redis, stream: Callable[[int], str], count: int, streams: int = 0,
                            timeout: float = 60.0) -> None:
        """Until ``streams`` streams (``stream(0..)``; all partitions by default) hold ``count`` entries."""
        deadline = time.monotonic() + timeout
        names = {stream(p) for p in range(streams or self.partitions)}
        while sum([await redis.xlen(name) for name in names]) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"fewer than {count} entries appended after {timeout:.0f}s\n{self.logs()}")
            await asyncio.sleep(0.05)

    async def wait_reading(self, name: str, redis: Redis, timeout: float = 60.0) -> None:
        """Until process ``name`` (a worker) holds at least one partition's lease."""
        keys = Keys(self.brand, self.partitions)
        me = f"worker-{socket.gethostname()}-{self.procs[name].pid}".encode()
        deadline = time.monotonic() + timeout
        while me not in await redis.mget([keys.lease(p) for p in range(self.partitions)]):
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} held no partition after {timeout:.0f}s\n{self.logs()}")
            await asyncio.sleep(0.05)

    async def wait_ready(self, redis: Redis, timeout: float = 60.0) -> None:
        """The gateway polls Telegram and is identified on Discord; every worker holds leases."""
        keys = Keys(self.brand, self.partitions)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise AssertionError(f"{name} exited with {proc.returncode}\n{self.logs()}")
            workers = await redis.zcard(keys.workers)
            if self.discord.identifies and self.telegram.calls_of("getUpdates") and workers >= self.workers:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"the cluster did not get ready in {timeout:.0f}s\n{self.logs()}")


# -- the load -------------------------------------------------------------------------------
def make_people(telegram: TimedTelegram, discord: TimedDiscord, on_telegram: int, on_discord: int) -> list[Person]:
    people = []
    keys = itertools.count(1)
    for i in range(on_telegram):
        key = next(keys)
        people.append(Person("telegram", key, telegram.updates.user(700_000 + i, f"T{key}", f"t{key}")))
    for _ in range(on_discord):
        key = next(keys)
        user = FakeUser(discord.ids.next(), f"d{key}", global_name=f"D{key}")
        discord.dm_channels[user.id] = discord.ids.next()
        people.append(Person("discord", key, user))
    return people


def text_of(person: Person, seq: int) -> str:
    return f"m{person.key}s{seq}"


async def push(cluster: Cluster, person: Person, seq: int) -> None:
    text = text_of(person, seq)
    if person.network == "telegram":
        cluster.telegram.push(cluster.telegram.updates.private_message(person.user, text))
    else:
        await cluster.discord.dispatch("MESSAGE_CREATE", cluster.discord.message(person.user, text, dm=True))


def replies(cluster: Cluster) -> list[tuple[str, str]]:
    """(chat, text) of every reply delivered, in arrival order per network."""
    out = [(str(m.chat_id), m.text) for m in cluster.telegram.sent]
    out += [(str(m["channel_id"]), m["content"]) for m in cluster.discord.channel_messages()]
    return out


async def wait_for_replies(cluster: Cluster, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(replies(cluster)) < count:
        for name, proc in cluster.procs.items():
            if proc.poll() is not None and name == "gateway":
                raise AssertionError(f"the gateway exited with {proc.returncode}\n{cluster.logs()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(replies(cluster))} of {count} replies after {timeout:.0f}s\n{cluster.logs()}")
        await asyncio.sleep(0.1)


# -- the checks -----------------------------------------------------------------------------
def window_violations(arrivals: list[tuple[float, str]], count: int, seconds: float, per_chat: bool) -> list[str]:
    """Sends that made more than ``count`` arrive within ``seconds`` (per chat or overall)."""
    groups: dict[str, list[float]] = defaultdict(list)
    for t, chat in arrivals:
        groups[chat if per_chat else "all"].append(t)
    bad = []
    for chat, times in groups.items():
        times.sort()
        for i in range(len(times) - count):
            if times[i + count] - times[i] < seconds:
                bad.append(f"{chat}: {count + 1} sends within {times[i + count] - times[i]:.3f}s")
    return bad


def limit_violations(cluster: Cluster) -> list[str]:
    """Every platform window the adapters declare, checked on the fakes' arrival times."""
    bad = []
    for arrivals, limits in ((cluster.telegram.arrivals, TelegramNetwork.limits),
                             (cluster.discord.arrivals, DiscordNetwork.limits)):
        for count, seconds in limits.overall:
            bad += window_violations(arrivals, count, seconds, per_chat=False)
        for count, seconds in limits.per_conversation:
            bad += window_violations(arrivals, count, seconds, per_chat=True)
    return bad


async def pending_texts(cluster: Cluster) -> set[str]:
    """The texts of the replies whose row is PENDING in the store now (not marked sent)."""
    store = PostgresStore(cluster.pg_url, brand=cluster.brand)
    await store.open()
    try:
        return {entry.text for entry in await store.pending_outbox(limit=100_000)}
    finally:
        await store.close()


async def loyalty_mismatches(cluster: Cluster) -> tuple[int, list[str], Counter[int]]:
    """(followers, stored totals that differ from a recomputation, IN rows per follower)."""
    config = load_config(cluster.config).top.loyalty
    store = PostgresStore(cluster.pg_url, brand=cluster.brand)
    await store.open()
    try:
        followers = await store.list_followers(FollowerQuery(limit=100_000))
        bad = []
        incoming: Counter[int] = Counter()
        for f in followers:
            rows = await store.all_interactions(f.id)
            incoming[f.id] = sum(1 for r in rows if r.direction == "in")
            fresh = loyalty.rescore(f, rows, config)
            fields = ("points", "tier", "interactions", "mentions", "replies", "reposts", "quotes")
            diff = {k: (getattr(f, k), getattr(fresh, k)) for k in fields if getattr(f, k) != getattr(fresh, k)}
            if diff:
                bad.append(f"follower {f.id}: stored vs history {diff}")
        return len(followers), bad, incoming
    finally:
        await store.close()
