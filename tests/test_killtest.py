"""Crash safety: what survives a SIGKILL, shown two ways.

- Deterministic crash images: a copy of the database taken at the worst moment (while a
  plugin awaits something, or just as a reply is handed to the network) is what a
  restarted bot would find after a kill at that moment. The bot restarted on that copy
  must neither count the event twice nor answer it twice.
- The short form of ``benchmarks/killtest.py``: a real ``brandbot run`` process killed
  with SIGKILL at random (seeded) moments under load, then checked end to end.
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import sqlite3
import sys
from pathlib import Path

from brandbot.clocks import ManualClock
from brandbot.core.config import load_config
from brandbot.core.events import Conversation, Event, Kind, Outgoing, Person
from brandbot.core.plugin import LoadedPlugin, Plugin
from brandbot.networks.base import Sent
from brandbot.networks.memory import MemoryNetwork
from brandbot.runtime.bot import Bot
from brandbot.runtime.context import Context
from brandbot.runtime.loader import validate_settings
from brandbot.testing import write_config

ROOT = Path(__file__).resolve().parents[1]
RULES = [{"name": "hello", "kinds": ["direct"], "match": {"any": ["hello"]}, "reply": "Hi {{ name }}!"}]


def load_killtest():  # benchmarks/ is not a package
    spec = importlib.util.spec_from_file_location("killtest", ROOT / "benchmarks" / "killtest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["killtest"] = module
    spec.loader.exec_module(module)
    return module


def crash_image(db: Path, image: Path) -> None:
    """What a process killed right now leaves on disk: the committed state only."""
    image.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(db) as src, sqlite3.connect(image) as dst:
        src.backup(dst)


def make_config(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return write_config(folder, {"storage": {"path": "bot.sqlite3"}}, RULES)


def hello_from_ana() -> Event:
    return Event(kind=Kind.DIRECT, network="memory", id="evt-1", author=Person("memory", "ana", "ana", "Ana"),
                 conversation=Conversation("memory", "dm:ana", private=True), text="hello", addressed=True)


def in_rows(db: Path, event_id: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM interactions WHERE direction = 'in' AND event_id = ?",
                            (event_id,)).fetchone()[0]


def bot_on(config: Path, network: MemoryNetwork, plugins: list[Plugin] = ()) -> Bot:  # type: ignore[assignment]
    cfg = load_config(config)
    loaded = [LoadedPlugin(p, validate_settings(p, {}, cfg.doc, ("plugins", p.name)), "test") for p in plugins]
    return Bot(cfg, networks={"memory": network}, plugins=loaded, clock=ManualClock())


async def test_a_crash_while_a_plugin_awaits_does_not_count_the_event_twice(tmp_path: Path) -> None:
    """The event's IN interaction and its processed mark must reach the database together."""
    live, crashed = tmp_path / "live", tmp_path / "crashed"
    lookup = Plugin("lookup")

    @lookup.watch()
    async def remote_lookup(ctx: Context) -> None:
        await asyncio.sleep(0.15)  # a CRM call; longer than the store's 50 ms commit delay
        crash_image(live / "bot.sqlite3", crashed / "bot.sqlite3")  # SIGKILL now

    bot = bot_on(make_config(live), MemoryNetwork(), [lookup])
    await bot.start()
    await bot.handle(hello_from_ana())
    await bot.stop()
    assert in_rows(live / "bot.sqlite3", "evt-1") == 1

    # The network replays the event after the restart (its cursor was not advanced).
    restarted = bot_on(make_config(crashed), MemoryNetwork())
    await restarted.start()
    await restarted.handle(hello_from_ana())
    await restarted.stop()
    assert in_rows(crashed / "bot.sqlite3", "evt-1") == 1, (
        "the crash image held the event's IN interaction but not its processed mark, "
        "so the replay counted (and scored) the event a second time")


def tally(db: Path) -> int | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT value FROM plugin_data WHERE namespace = 'plugin:tally' AND key = 'seen'").fetchone()
    return None if row is None else int(row[0])


async def test_a_crash_while_a_plugin_awaits_does_not_apply_its_data_twice(tmp_path: Path) -> None:
    """What a handler writes to its plugin data belongs to the event like its history row:
    a plugin that counts events must not count one twice because the bot crashed."""
    live, crashed = tmp_path / "live", tmp_path / "crashed"
    counter = Plugin("tally")

    @counter.watch()
    async def count(ctx: Context) -> None:
        ctx.data.set("seen", await ctx.data.get("seen", 0) + 1)
        if not (crashed / "bot.sqlite3").exists():
            await asyncio.sleep(0.15)  # a remote call; the store commits meanwhile
            crash_image(live / "bot.sqlite3", crashed / "bot.sqlite3")  # SIGKILL now

    bot = bot_on(make_config(live), MemoryNetwork(), [counter])
    await bot.start()
    await bot.handle(hello_from_ana())
    await bot.stop()
    assert tally(live / "bot.sqlite3") == 1

    restarted = bot_on(make_config(crashed), MemoryNetwork(), [counter])
    await restarted.start()
    await restarted.handle(hello_from_ana())  # replayed: the crash image has no processed mark
    await restarted.stop()
    assert tally(crashed / "bot.sqlite3") == 1, (
        "the plugin's data reached the database before its event did, so the replay applied it again")


async def test_plugin_data_written_by_concurrent_events_is_not_lost(tmp_path: Path) -> None:
    """A handler that reads and writes a shared key with no await in between is atomic in
    asyncio. Making an event's writes crash-safe must keep it so: a write held back until
    the event ends is invisible to the other people's events running meanwhile, and their
    updates overwrite each other."""
    shared = Plugin("shared")

    @shared.watch()
    async def count(ctx: Context) -> None:
        ctx.data.set("total", await ctx.data.get("total", 0) + 1)
        await asyncio.sleep(0.05)  # the rest of the handler: a remote call

    bot = bot_on(make_config(tmp_path), MemoryNetwork(), [shared])
    await bot.start()
    bot.store.kv_set("plugin:shared", "total", "0")  # known to the store: reading it never waits
    for who in ("ana", "ben", "cy"):
        await bot.submit(Event(kind=Kind.DIRECT, network="memory", id=f"evt-{who}",
                               author=Person("memory", who, who, who.title()),
                               conversation=Conversation("memory", f"dm:{who}", private=True), text="hi"))
    await bot.settled()
    total = await bot.store.kv_get("plugin:shared", "total")
    await bot.stop()
    assert total == "3", f"three events counted {total}: updates of concurrent events were lost"


async def test_a_cancelled_store_transaction_does_not_break_later_commits(tmp_path: Path) -> None:
    """Stopping the bot cancels its background work, e.g. the maintenance pass pruning old
    event ids. Cancelled at any point, it must not leave the connection inside a
    transaction: every later commit (the final one on close included) would fail."""
    from datetime import UTC, datetime

    from brandbot.store.sqlite import SqliteStore

    failures = []
    for steps in range(12):  # cancel after 0, 1, 2 ... event-loop turns
        store = SqliteStore(tmp_path / f"s{steps}.sqlite3")
        await store.open()
        store.set_cursor("before", "1")
        task = asyncio.create_task(store.prune_processed(datetime.now(UTC)))
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        store.set_cursor("after", "1")
        try:
            await store.flush()
        except Exception as exc:  # noqa: BLE001 - collected and reported below
            failures.append(f"cancelled after {steps} turns: {exc}")
        finally:
            await asyncio.gather(store.close(), return_exceptions=True)
    assert failures == []


class SnapshotOnSend(MemoryNetwork):
    """A network that, at the moment it is handed a reply, notes what is committed and
    takes a crash image (a SIGKILL right after the network accepted the message)."""

    def __init__(self, db: Path, image: Path | None = None) -> None:
        super().__init__()
        self.db, self.image = db, image
        self.committed_at_send: list[bool] = []

    async def send(self, message: Outgoing) -> Sent:
        with sqlite3.connect(self.db) as conn:
            row = conn.execute("SELECT event_id FROM outbox WHERE id = ?", (message.outbox_id,)).fetchone()
        self.committed_at_send.append(row is not None)
        if self.image is not None and not self.image.exists():
            crash_image(self.db, self.image)
        return await super().send(message)


async def test_a_reply_is_committed_before_it_is_handed_to_the_network(tmp_path: Path) -> None:
    net = SnapshotOnSend(tmp_path / "bot.sqlite3")
    bot = bot_on(make_config(tmp_path), net)
    await bot.start()
    await bot.handle(hello_from_ana())
    await bot.outbox.drain()
    await bot.stop()
    assert [r.text for r in net.sent] == ["Hi Ana!"]
    assert net.committed_at_send == [True], "the reply was sent while its outbox row existed only in memory"


async def test_a_crash_right_after_a_send_does_not_answer_the_event_twice(tmp_path: Path) -> None:
    live, crashed = tmp_path / "live", tmp_path / "crashed"
    first = SnapshotOnSend(live / "bot.sqlite3", crashed / "bot.sqlite3")
    bot = bot_on(make_config(live), first)
    await bot.start()
    await bot.handle(hello_from_ana())
    await bot.outbox.drain()
    await bot.stop()
    assert [r.text for r in first.sent] == ["Hi Ana!"]

    with sqlite3.connect(crashed / "bot.sqlite3") as conn:
        recorded = {row[0] for row in conn.execute("SELECT id FROM outbox")}

    second = MemoryNetwork()
    restarted = bot_on(make_config(crashed), second)
    await restarted.start()  # re-sends rows left PENDING: allowed, that is the same row again
    await restarted.handle(hello_from_ana())  # the network replays the event
    await restarted.outbox.drain()
    await restarted.stop()
    # Outbox ids are not proof: an id whose row never reached the disk is handed out again.
    new_answers = [o.reply.text for o in second.outgoing if o.outbox_id not in recorded]
    assert new_answers == [], (
        f"the event was answered a second time ({new_answers}): its first reply was sent "
        "before the reply and the processed mark were committed, so the restart replayed it")


async def test_a_crash_during_a_handoff_neither_loses_the_answer_nor_repeats_the_notice(tmp_path: Path) -> None:
    """A handoff writes state and notifies the staff while the event is being handled.
    If the notice can go out before the event is committed, a kill leaves the
    conversation handed off without the event: the replay's answer is then refused
    (the person never hears back) and the staff is notified a second time."""
    live, crashed = tmp_path / "live", tmp_path / "crashed"
    settings = {"storage": {"path": "bot.sqlite3"}, "plugin_dirs": [str(ROOT / "plugins")],
                "plugins": {"handoff": {}}, "staff": {"network": "memory", "conversation": "staff"}}
    for folder in (live, crashed):
        folder.mkdir()
        write_config(folder, settings, RULES)
    asking = Event(kind=Kind.DIRECT, network="memory", id="evt-h", author=Person("memory", "ana", "ana", "Ana"),
                   conversation=Conversation("memory", "dm:ana", private=True), text="human please", addressed=True)

    first = SnapshotOnSend(live / "bot.sqlite3", crashed / "bot.sqlite3")  # killed at the first send
    bot = Bot(load_config(live / "brandbot.yaml"), networks={"memory": first}, clock=ManualClock())
    await bot.start()
    await bot.handle(asking)
    await bot.outbox.drain()
    await bot.stop()
    first_sent = first.outgoing[:1]  # what left before the kill

    with sqlite3.connect(crashed / "bot.sqlite3") as conn:
        recorded = {row[0] for row in conn.execute("SELECT id FROM outbox")}

    second = MemoryNetwork()
    restarted = Bot(load_config(crashed / "brandbot.yaml"), networks={"memory": second}, clock=ManualClock())
    await restarted.start()
    await restarted.handle(asking)
    await restarted.outbox.drain()
    await restarted.stop()
    # A row recorded before the kill and sent again after it is an in-flight resend: allowed.
    resent = {o.outbox_id for o in first_sent} & recorded
    sent = [(o.reply.conversation.id, o.reply.text) for o in first_sent]
    sent += [(o.reply.conversation.id, o.reply.text) for o in second.outgoing if o.outbox_id not in resent]
    to_ana = [t for c, t in sent if c == "dm:ana"]
    to_staff = [t for c, t in sent if c == "staff"]
    assert to_ana and len(to_staff) == 1, f"to Ana: {to_ana}; to the staff: {to_staff}"


def test_killtest_short_form() -> None:
    """3 SIGKILLs under load, 600 events: nothing lost, nothing counted or answered twice."""
    killtest = load_killtest()
    out = io.StringIO()
    summary = killtest.run(killtest.Settings(kills=3, events=600, seed=11, min_up=0.7, max_up=1.5), out=out)
    report = summary.render()
    print(out.getvalue() + report)
    assert summary.kills == 3 and summary.final_exit == 0
    assert summary.processed == 600 and summary.followers > 0
    assert summary.violations() == [], report
