"""The feed network: JSON-lines events in, JSON-lines replies out, a durable cursor."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from brandbot.core.config import load_config
from brandbot.core.errors import ConfigError
from brandbot.core.events import Conversation, Kind, Outgoing, Reply
from brandbot.networks.feed import FeedConfig, FeedCursor, FeedNetwork, parse_line
from brandbot.networks.registry import build_network
from brandbot.runtime.bot import Bot
from tests.support.host import RecordingHost


class StoppableHost(RecordingHost):
    """A RecordingHost that also offers request_stop and counts settle calls."""

    def __init__(self) -> None:
        super().__init__()
        self.stop_reasons: list[str] = []
        self.settles = 0
        self.saves: list[tuple[int, str]] = []  # (events submitted so far, cursor)

    async def settled(self) -> None:
        self.settles += 1

    async def save_cursor(self, key: str, value: str) -> None:
        self.saves.append((len(self.events), value))
        await super().save_cursor(key, value)

    def request_stop(self, reason: str = "") -> None:
        self.stop_reasons.append(reason)


def write_lines(path: Path, *objects: object) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.writelines((obj if isinstance(obj, str) else json.dumps(obj)) + "\n" for obj in objects)


def append_text(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)


def feed(tmp_path: Path, **settings: object) -> FeedNetwork:
    defaults: dict[str, object] = {"input": str(tmp_path / "in.jsonl"), "output": str(tmp_path / "out.jsonl")}
    return FeedNetwork(FeedConfig.model_validate({**defaults, **settings}))


async def run_to_end(net: FeedNetwork, host: RecordingHost) -> None:
    await net.start(host)
    await asyncio.wait_for(net.finished.wait(), 5)
    await net.stop()


# -- parsing (pure) -------------------------------------------------------------------------
def test_a_line_becomes_an_event_of_this_feed_with_a_stable_id(tmp_path: Path) -> None:
    path = tmp_path / "import.jsonl"
    event = parse_line(b'{"kind": "mention", "author": "ana", "text": "hi", "network": "x"}\n', 7, path, "feed")
    assert event is not None
    assert (event.kind, event.id, event.network, event.author.network, event.conversation.network) == (
        Kind.MENTION, "import.jsonl:7", "feed", "feed", "feed")
    again = parse_line(b'{"kind": "mention", "author": "ana", "text": "hi"}', 7, path, "feed")
    assert again is not None and again.id == event.id  # the same after a restart
    other = parse_line(b'{"kind": "mention", "author": "ana"}', 7, tmp_path / "other.jsonl", "feed")
    assert other is not None and other.id != event.id  # and different between files


def test_an_explicit_id_and_network_can_be_kept(tmp_path: Path) -> None:
    line = b'{"kind": "direct", "author": "ana", "id": "tg-991", "network": "telegram"}'
    event = parse_line(line, 3, tmp_path / "f.jsonl", "feed", keep_network=True)
    assert event is not None and (event.id, event.network, event.conversation.id) == ("tg-991", "telegram", "dm:ana")


@pytest.mark.parametrize("raw, problem", [
    (b"not json", "not valid JSON"),
    (b'["a list"]', "JSON object"),
    (b'{"kind": "mention"}', "missing 'author'"),
    (b'{"kind": "shout", "author": "ana"}', "unknown event kind"),
    (b'{"author": "ana", "text": "\xff\xfe"}', "not UTF-8"),
    (b'{"author": "ana", "id": null}', "'id' must be text or a number, not null"),
    (b'{"author": "  "}', "'author' must not be empty"),
    (b'{"author": "ana", "name": null}', "'name' must be text"),
    (b'{"author": "ana", "time": true}', "'time' must be text"),
    (b'{"author": "ana", "time": "yesterday"}', "'time' must be an ISO 8601 date-time"),
    (b'{"author": "ana", "refers_to": []}', "'refers_to' must be text or a number"),
    (b'{"author": "ana", "private": "yes"}', "'private' must be true or false"),
])
def test_a_bad_line_is_an_error_naming_file_and_line(tmp_path: Path, raw: bytes, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_line(raw, 12, tmp_path / "in.jsonl", "feed")
    assert "in.jsonl:12" in str(caught.value) and problem in str(caught.value)


def test_blank_lines_are_not_events(tmp_path: Path) -> None:
    assert parse_line(b"   \n", 1, tmp_path / "in.jsonl", "feed") is None


def test_cursor_round_trips_and_garbage_means_start(tmp_path: Path) -> None:
    assert FeedCursor.load(FeedCursor(120, 4).dump()) == FeedCursor(120, 4)
    for text in (None, "", "{", '{"offset": -5, "line": 1}', '{"line": 2}', "[1, 2]"):
        assert FeedCursor.load(text) == FeedCursor()


# -- configuration --------------------------------------------------------------------------
def test_a_missing_input_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        build_network("feed", {"input": str(tmp_path / "nope.jsonl")})
    assert "does not exist" in str(caught.value)
    # following a file that does not exist yet is fine
    net = build_network("feed", {"input": str(tmp_path / "later.jsonl"), "follow": True})
    assert isinstance(net, FeedNetwork)


def test_unknown_settings_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").touch()
    with pytest.raises(ConfigError) as caught:
        build_network("feed", {"input": str(tmp_path / "in.jsonl"), "folow": True})
    assert "folow" in str(caught.value)


# -- reading --------------------------------------------------------------------------------
async def test_reads_every_event_skips_bad_lines_saves_the_cursor_and_asks_to_stop(tmp_path: Path) -> None:
    write_lines(tmp_path / "in.jsonl", {"author": "ana", "text": "hi"}, "garbage", "",
                {"kind": "mention", "author": "ben", "conversation": "lobby", "private": False})
    net, host = feed(tmp_path), StoppableHost()
    await run_to_end(net, host)
    assert [(e.id, e.kind) for e in host.events] == [("in.jsonl:1", Kind.DIRECT), ("in.jsonl:4", Kind.MENTION)]
    assert (net.submitted, net.skipped) == (2, 1)
    size = (tmp_path / "in.jsonl").stat().st_size
    assert FeedCursor.load(host.cursors[net.cursor_key]) == FeedCursor(size, 4)
    assert host.settles >= 1 and host.stop_reasons == ["end of feed input"]


async def test_a_restart_resumes_after_the_saved_cursor(tmp_path: Path) -> None:
    write_lines(tmp_path / "in.jsonl", *({"author": f"u{i}", "id": f"e{i}"} for i in range(5)))
    host = StoppableHost()
    await run_to_end(feed(tmp_path), host)
    write_lines(tmp_path / "in.jsonl", {"author": "late", "id": "e5"})
    await run_to_end(feed(tmp_path), host)
    assert [e.id for e in host.events] == [f"e{i}" for i in range(6)]


async def test_the_cursor_is_saved_every_batch_and_only_after_settling(tmp_path: Path) -> None:
    write_lines(tmp_path / "in.jsonl", *({"author": f"u{i}"} for i in range(10)))
    host = StoppableHost()
    await run_to_end(feed(tmp_path, batch=4), host)
    lines = [(n, FeedCursor.load(v).line) for n, v in host.saves]
    assert lines == [(4, 4), (8, 8), (10, 10)]  # never ahead of what was submitted
    assert host.settles >= len(lines)


async def test_the_cursor_waits_for_the_host_to_settle(tmp_path: Path) -> None:
    write_lines(tmp_path / "in.jsonl", {"author": "ana"})
    release = asyncio.Event()

    class SlowHost(StoppableHost):
        async def settled(self) -> None:
            await release.wait()

    host = SlowHost()
    net = feed(tmp_path)
    await net.start(host)
    await host.wait_for(1)
    await asyncio.sleep(0.05)
    assert host.cursors == {}  # the event was handed over, but is not settled yet
    release.set()
    await asyncio.wait_for(net.finished.wait(), 5)
    assert net.cursor_key in host.cursors
    await net.stop()


async def test_follow_reads_lines_as_they_are_completed(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    net, host = feed(tmp_path, input=str(path), follow=True, poll=0.01), StoppableHost()
    await net.start(host)  # the file does not exist yet
    await asyncio.sleep(0.03)
    write_lines(path, {"author": "ana", "id": "a"})
    append_text(path, '{"author": "ben", "id": "b"')  # half a line: a writer is still busy
    await host.wait_for(1)
    await asyncio.sleep(0.05)
    assert [e.id for e in host.events] == ["a"]
    append_text(path, "}\n")
    await host.wait_for(2)
    assert [e.id for e in host.events] == ["a", "b"] and host.stop_reasons == []
    await net.stop()
    assert FeedCursor.load(host.cursors[net.cursor_key]).line == 2


async def test_follow_starts_over_when_the_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    write_lines(path, {"author": "ana", "id": "a"})
    net, host = feed(tmp_path, follow=True, poll=0.01), StoppableHost()
    await net.start(host)
    await host.wait_for(1)
    rotated = tmp_path / "new.jsonl"
    write_lines(rotated, {"author": "ben", "id": "b"}, {"author": "cy", "id": "c"})  # longer than the old file
    rotated.replace(path)
    await host.wait_for(3)
    assert [e.id for e in host.events] == ["a", "b", "c"]
    await net.stop()


async def test_follow_starts_over_when_the_file_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    write_lines(path, {"author": "ana", "id": "a"}, {"author": "ana", "id": "b"})
    net, host = feed(tmp_path, follow=True, poll=0.01), StoppableHost()
    await net.start(host)
    await host.wait_for(2)
    path.write_text(json.dumps({"author": "cy", "id": "c"}) + "\n")
    await host.wait_for(3)
    assert [e.id for e in host.events] == ["a", "b", "c"]
    await net.stop()


# -- writing --------------------------------------------------------------------------------
def outgoing(outbox_id: int, text: str, event_id: str = "e1") -> Outgoing:
    conv = Conversation("feed", "dm:ana", private=True)
    return Outgoing(outbox_id, Reply("feed", conv, text, event_id=event_id, source="rule:x"))


@pytest.mark.parametrize("fsync", [False, True])
async def test_replies_are_whole_json_lines(tmp_path: Path, fsync: bool) -> None:
    (tmp_path / "in.jsonl").touch()
    net = feed(tmp_path, fsync=fsync)
    sent = await net.send(outgoing(1, "Hi Ana 👋\nsecond line"))
    await net.send(outgoing(2, "again", "e2"))
    await net.stop()
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["outbox_id"], r["event_id"], r["conversation"], r["text"]) for r in records] == [
        (1, "e1", "dm:ana", "Hi Ana 👋\nsecond line"), (2, "e2", "dm:ana", "again")]
    assert set(records[0]) == {"outbox_id", "event_id", "network", "conversation", "text", "time"}
    assert sent.post_ids == ("feed-1",)


async def test_a_line_torn_by_a_crash_does_not_swallow_the_next_reply(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").touch()
    (tmp_path / "out.jsonl").write_text('{"outbox_id": 1, "event_id": "e1", "te')
    net = feed(tmp_path)
    await net.send(outgoing(1, "whole"))
    await net.stop()
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["text"] == "whole"


async def test_replies_go_to_stdout_without_an_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "in.jsonl").touch()
    net = FeedNetwork(FeedConfig(input=str(tmp_path / "in.jsonl")))
    await net.send(outgoing(5, "to stdout"))
    assert json.loads(capsys.readouterr().out)["text"] == "to stdout"


# -- the whole bot ----------------------------------------------------------------------------
async def test_a_bot_on_a_feed_answers_records_and_stops_at_the_end(tmp_path: Path, bundled: dict) -> None:
    write_lines(tmp_path / "in.jsonl",
                {"kind": "direct", "author": "ana", "text": "hello there"},
                {"kind": "direct", "author": "ana", "text": "just saying"},
                {"kind": "mention", "author": "ben", "text": "hello @brand", "conversation": "lobby"})
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - name: hello\n    kinds: [direct, mention]\n    match: {any: [hello]}\n"
        "    reply: 'Hi {{ name }}!'\n")
    (tmp_path / "bot.yaml").write_text(json.dumps({
        "brand": {"name": "Feed Brand"}, "storage": {"path": "bot.sqlite3"},
        "networks": {"feed": {"input": str(tmp_path / "in.jsonl"), "output": str(tmp_path / "out.jsonl")}},
        "rules": ["rules.yaml"], "plugin_dirs": bundled["plugin_dirs"], "plugins": {"loyalty": {}},
    }))
    bot = Bot(load_config(tmp_path / "bot.yaml"))
    assert await asyncio.wait_for(bot.run(), 10) == 0
    replies = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert sorted((r["event_id"], r["text"]) for r in replies) == [("in.jsonl:1", "Hi Ana!"), ("in.jsonl:3", "Hi Ben!")]
    # a second run over the same input reads nothing again
    again = Bot(load_config(tmp_path / "bot.yaml"))
    assert await asyncio.wait_for(again.run(), 10) == 0
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 2
