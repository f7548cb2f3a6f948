"""Test a brandbot plugin or rule file the way it is used.

Registered as the ``brandbot`` pytest plugin, so these fixtures exist in any project
that installs brandbot::

    async def test_thanks(make_bot):
        bot = await make_bot(plugins=[amplify.plugin])
        await bot.receive("repost", author="ana")
        assert bot.sent == ["Thank you Ana for spreading the word!"]

The harness runs the real Bot (router, rules, policy, outbox, SQLite store in memory)
on in-memory networks and a manual clock, so nothing leaves the process and time moves
only when the test says so.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from brandbot.clocks import ManualClock
from brandbot.core.config import load_config
from brandbot.core.events import Conversation, Event, Kind, Person, Reply
from brandbot.core.plugin import LoadedPlugin, Plugin
from brandbot.core.records import FollowerRecord
from brandbot.networks.base import RateLimits
from brandbot.networks.memory import MemoryNetwork
from brandbot.runtime.bot import Bot, Handled
from brandbot.runtime.loader import configure, load_plugins
from brandbot.store.base import Store
from brandbot.store.sqlite import SqliteStore


@dataclass(frozen=True)
class Sent:
    network: str
    conversation: str
    text: str


class BotHarness:
    """A running Bot on in-memory networks, driven by ``receive`` and inspected by ``sent``."""

    def __init__(self, bot: Bot, networks: Mapping[str, MemoryNetwork], clock: ManualClock, id_prefix: str = "t") -> None:
        self.bot = bot
        self.networks = dict(networks)
        self.clock = clock
        self.handled: list[Handled] = []
        self._ids = itertools.count(1)
        self._prefix = id_prefix
        self._seen: set[int] = set()

    # -- driving ------------------------------------------------------------------------
    async def receive(
        self,
        kind: str | Kind,
        text: str = "",
        *,
        author: str = "ana",
        name: str | None = None,
        network: str | None = None,
        conversation: str | None = None,
        private: bool | None = None,
        refers_to: str | None = None,
        addressed: bool | None = None,
        data: Mapping[str, str] | None = None,
        event_id: str | None = None,
    ) -> Handled:
        """Deliver one event as if ``author`` did it on ``network``, and send any reply."""
        kind = kind if isinstance(kind, Kind) else Kind.parse(kind)
        network = network or next(iter(self.networks))
        n = next(self._ids)
        if private is None:
            private = kind is Kind.DIRECT or (kind is Kind.COMMAND and conversation is None)
        conv_id = conversation or (f"dm:{author}" if private else "public")
        command: str | None = None
        args: tuple[str, ...] = ()
        if kind is Kind.COMMAND:
            head, *rest = text.lstrip("/").split()
            command, args = head.lower(), tuple(rest)
        if addressed is None:
            addressed = kind in (Kind.DIRECT, Kind.MENTION, Kind.REPLY, Kind.QUOTE, Kind.COMMAND)
        event = Event(
            kind=kind, network=network, id=event_id or f"{self._prefix}{n}",
            author=Person(network, author, handle=author, name=name if name is not None else author.capitalize()),
            conversation=Conversation(network, conv_id, private=private),
            text=text, time=self.clock.now(), post_id=f"p{n}",
            refers_to=refers_to if refers_to is not None else ("brand-post" if kind in (Kind.REPOST, Kind.QUOTE, Kind.REPLY, Kind.REACTION) else None),
            addressed=addressed, command=command, args=args, data=tuple((data or {}).items()),
        )
        return await self.deliver(event)

    async def deliver(self, event: Event) -> Handled:
        """Deliver a ready-made Event (for network-specific shapes)."""
        result = await self.bot.handle(event)
        self.handled.append(result)
        await self.settle()
        return result

    async def settle(self) -> None:
        """Let the outbox send everything that is due now."""
        await self.bot.drain()

    async def advance(self, seconds: float) -> None:
        """Move the manual clock forward and let due work (deferred replies, jobs) run."""
        self.clock.advance(seconds)
        await self.bot.run_due_jobs()
        await self.settle()

    # -- inspecting ---------------------------------------------------------------------
    @property
    def replies(self) -> list[Reply]:
        return [r for net in self.networks.values() for r in net.sent]

    @property
    def sent(self) -> list[str]:
        """Texts of every message delivered so far, in order, across networks."""
        order = sorted((o.outbox_id, o.reply.text) for net in self.networks.values() for o in net.outgoing)
        return [text for _, text in order]

    def sent_to(self, network: str) -> list[str]:
        return [r.text for r in self.networks[network].sent]

    def take_sent(self) -> list[str]:
        """The messages sent since the last call (handy for step-by-step tests)."""
        fresh = [(o.outbox_id, o.reply.text) for net in self.networks.values() for o in net.outgoing
                 if o.outbox_id not in self._seen]
        self._seen.update(i for i, _ in fresh)
        return [t for _, t in sorted(fresh)]

    @property
    def notes(self) -> list[Any]:
        return [n for h in self.handled for n in h.notes]

    def refusals(self) -> list[str]:
        return [n.detail for n in self.notes if n.action == "refuse"]

    async def follower(self, handle: str, network: str | None = None) -> FollowerRecord:
        network = network or next(iter(self.networks))
        found = await self.bot.store.find_follower(network, handle)
        if found is None:
            raise LookupError(f"no follower {handle!r} on {network}")
        return found

    async def close(self) -> None:
        await self.bot.stop()


def write_config(folder: Path, config: Mapping[str, Any] | None, rules: Any) -> Path:
    """Write brandbot.yaml (and rules.yaml) for a test bot into ``folder``."""
    data: dict[str, Any] = {"brand": {"name": "Test Brand", "url": "https://brand.test"},
                            "storage": {"path": ":memory:"}, "networks": {"memory": {}}, "plugin_dirs": []}
    data.update(dict(config or {}))
    if rules is not None:
        rules_path = folder / "rules.yaml"
        rules_path.write_text(rules if isinstance(rules, str) else yaml.safe_dump({"rules": list(rules)}, sort_keys=False))
        data["rules"] = [*data.get("rules", []), "rules.yaml"]
    path = folder / "brandbot.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path


async def build_harness(
    folder: Path,
    *,
    config: Mapping[str, Any] | Path | None = None,
    rules: Any = None,
    plugins: Sequence[Plugin | str] = (),
    networks: Iterable[str] = ("memory",),
    start: datetime | None = None,
    limits: Mapping[str, RateLimits] | None = None,
    seed: int = 7,
    store_path: str | Path | None = None,
    store: Store | None = None,
) -> BotHarness:
    import random

    path = config if isinstance(config, Path) else write_config(folder, config, rules)
    cfg = load_config(path)
    clock = ManualClock(start)
    from brandbot.ops.simulate import SimulatedNetwork

    # In-memory networks that keep each platform's rules (X: summons only, 280 weighted
    # characters, cost per post), so plugin tests meet the same refusals as production.
    nets = {name: SimulatedNetwork(name, clock=clock, limits=(limits or {}).get(name)) for name in networks}
    settings = {s.name: s for s in cfg.plugins}
    loaded: list[LoadedPlugin] = []
    names = [p for p in plugins if isinstance(p, str)]
    if names:
        from brandbot.core.config import PluginSection

        sections = [settings.get(n) or PluginSection(n, {}, True, str(path), ("plugins", n)) for n in names]
        loaded += load_plugins(sections, cfg.plugin_dirs, cfg.doc)
    for p in plugins:
        if isinstance(p, Plugin):
            loaded.append(configure(p, cfg, "test"))
    if not plugins:
        loaded = load_plugins(cfg.plugins, cfg.plugin_dirs, cfg.doc)
    store = store or SqliteStore(store_path or ":memory:")
    bot = Bot(cfg, store=store, networks=nets, clock=clock, plugins=loaded, rng=random.Random(seed))
    await bot.start()
    # A file store may already hold events of an earlier harness: give this one fresh ids.
    prefix = f"t{time.time_ns():x}-" if store_path else "t"
    return BotHarness(bot, nets, clock, prefix)


MakeBot = Callable[..., Awaitable[BotHarness]]


@pytest.fixture
async def make_bot() -> AsyncIterator[MakeBot]:
    """Factory: ``await make_bot(rules=[...], plugins=[plugin], config={...}, networks=[...])``.

    ``store_path=`` puts the store in a file, so a second ``make_bot`` on the same path
    is the same bot after a restart.
    """
    made: list[BotHarness] = []
    with tempfile.TemporaryDirectory(prefix="brandbot-test-") as tmp:
        counter = itertools.count()

        async def factory(**kwargs: Any) -> BotHarness:
            folder = Path(tmp) / f"bot{next(counter)}"
            folder.mkdir()
            harness = await build_harness(folder, **kwargs)
            made.append(harness)
            return harness

        yield factory
        for harness in made:
            await harness.close()


@pytest.fixture
def brandbot_config() -> Path | None:
    """Override to point the ``bot`` fixture at your own brandbot.yaml."""
    return None


@pytest.fixture
async def bot(make_bot: MakeBot, brandbot_config: Path | None) -> BotHarness:
    """A bot on one in-memory network; with ``brandbot_config`` overridden, on your config."""
    return await make_bot(config=brandbot_config)
