"""The Telegram adapter end to end: real python-telegram-bot against the loopback fake Bot API."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from brandbot.core.config import load_config
from brandbot.core.errors import (
    ConfigError,
    PermanentSendError,
    RateLimitedError,
    TransientSendError,
)
from brandbot.core.events import Conversation, Kind, Outgoing, Reply
from brandbot.networks.base import CommandSpec, NetworkState
from brandbot.networks.telegram import (
    CURSOR_KEY,
    TelegramConfig,
    TelegramNetwork,
    split_for_telegram,
)
from brandbot.runtime.bot import Bot
from brandbot.store.sqlite import SqliteStore
from tests.fake_telegram import BOT_ID, TOKEN, FakeTelegram, UpdateFactory, utf16_len
from tests.support.host import RecordingHost

make = UpdateFactory()
ANA = make.user(4001, "Ana", "ana_b", "Braga")
BEN = make.user(4002, "Ben")
GROUP = make.group(-1001000000001, "Brand fans")
OTHER_GROUP = make.group(-1001000000077, "Somewhere else")
BRAND = make.channel(-1002000000002, "Brand news", "brandnews")
STRANGER_CHANNEL = make.channel(-1003000000003, "Not ours", "notours")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = await FakeTelegram().start()
    yield server
    await server.stop()


def config_for(fake: FakeTelegram, **overrides: object) -> TelegramConfig:
    fields: dict[str, object] = {
        "token": fake.token,
        "api_url": fake.api_url,
        "file_url": fake.file_url,
        "poll_timeout": 5,
        "brand_channels": ["@brandnews"],
    }
    fields.update(overrides)
    return TelegramConfig.model_validate(fields)


@pytest.fixture
async def started(fake: FakeTelegram) -> AsyncIterator[tuple[TelegramNetwork, RecordingHost]]:
    host = RecordingHost()
    network = TelegramNetwork(config_for(fake), stop_grace=2.0)
    await network.start(host)
    yield network, host
    await network.stop()


def outgoing(
    text: str, chat: int | str, in_reply_to: str | None = None, outbox_id: int = 1
) -> Outgoing:
    conversation = Conversation("telegram", str(chat), private=isinstance(chat, int) and chat > 0)
    return Outgoing(outbox_id, Reply("telegram", conversation, text, in_reply_to=in_reply_to))


# ------------------------------------------------------------------------ receiving


async def test_every_kind_of_update_becomes_the_expected_event(
    fake: FakeTelegram, started: tuple[TelegramNetwork, RecordingHost]
) -> None:
    network, host = started
    bot_post = make.bot_message(GROUP, "Welcome!", message_id=77)
    pushed = [
        fake.push(make.private_message(ANA, "hi there")),
        fake.push(make.mention(GROUP, BEN, "hey @brand_bot where is the shop?")),
        fake.push(make.reply(GROUP, ANA, "thanks!", to=bot_post)),
        fake.push(make.command(GROUP, BEN, "/help@brand_bot shipping times")),
        fake.push(make.join(GROUP, ANA, invite_link_name="spring-campaign")),
        fake.push(make.forwarded_channel_post(GROUP, BEN, BRAND, 31, "New collection!")),
        fake.push(make.channel_quote(GROUP, ANA, BRAND, 32, "love this", quote="New")),
        fake.push(make.reaction(GROUP, BEN, 77, "❤")),
    ]
    events = await host.wait_for(len(pushed))

    assert [e.id for e in events] == [f"u{u}" for u in pushed]
    assert [e.kind for e in events] == [
        Kind.DIRECT, Kind.MENTION, Kind.REPLY, Kind.COMMAND,
        Kind.JOIN, Kind.REPOST, Kind.QUOTE, Kind.REACTION,
    ]  # fmt: skip
    direct, mention, reply, command, join, repost, quote, reaction = events

    assert direct.addressed and direct.conversation.private
    assert direct.conversation.id == str(ANA["id"])
    author = direct.author
    assert (author.id, author.handle, author.name) == ("4001", "ana_b", "Ana Braga")
    assert direct.text == "hi there"
    assert direct.post_id == f"{ANA['id']}:{direct.raw.message.message_id}"

    assert mention.addressed and not mention.conversation.private
    assert mention.conversation.id == str(GROUP["id"])
    assert mention.conversation.title == "Brand fans"

    assert reply.addressed and reply.refers_to == f"{GROUP['id']}:77"

    assert (command.command, command.args) == ("help", ("shipping", "times"))
    assert command.text == "/help@brand_bot shipping times" and command.addressed

    assert join.author.id == "4001" and join.extra("invite_link") == "spring-campaign"
    assert not join.addressed and join.post_id is None

    assert repost.refers_to == f"{BRAND['id']}:31" and not repost.addressed
    assert quote.refers_to == f"{BRAND['id']}:32" and quote.addressed
    assert quote.text == "love this" and quote.extra("quote") == "New"

    assert reaction.extra("emoji") == "❤" and reaction.refers_to == f"{GROUP['id']}:77"
    assert reaction.author.id == "4002" and not reaction.addressed
    assert network.identity is not None and network.identity.id == BOT_ID


async def test_plain_group_talk_is_a_message_and_noise_is_dropped(
    fake: FakeTelegram, started: tuple[TelegramNetwork, RecordingHost]
) -> None:
    _, host = started
    fake.push(make.service_message(GROUP, BEN))  # "Ben joined": no text
    fake.push(make.leave(GROUP, BEN))  # leaving is not a join
    fake.push(make.reaction(GROUP, BEN, 77, "👍", old=["👍"]))  # nothing added
    fake.push(make.forwarded_channel_post(GROUP, BEN, STRANGER_CHANNEL, 5, "elsewhere"))
    fake.push(make.command(GROUP, ANA, "/start@other_bot"))
    fake.push(make.blocked(BEN))  # no mark_unreachable on this host: just logged
    anonymous_admin = {"id": 1087968824, "is_bot": True, "first_name": "Group"}
    fake.push({"message": make.message(GROUP, anonymous_admin, "rules!", sender_chat=GROUP)})
    fake.push(make.group_message(GROUP, {**BEN, "is_bot": True}, "beep"))  # another bot
    last = fake.push(make.group_message(GROUP, ANA, "nice weather"))

    events = await host.wait_for(3)
    assert [e.kind for e in events] == [Kind.MESSAGE, Kind.MESSAGE, Kind.MESSAGE]
    assert [e.addressed for e in events] == [False, False, False]
    assert events[-1].id == f"u{last}" and events[-1].text == "nice weather"
    await fake.wait_until(lambda: fake.confirmed_offset > last)
    assert len(host.events) == 3


async def test_text_mention_and_a_reply_in_a_private_chat(
    fake: FakeTelegram, started: tuple[TelegramNetwork, RecordingHost]
) -> None:
    _, host = started
    fake.push(make.text_mention(GROUP, ANA, "Brand, is it open?", "Brand"))
    dm = make.private_chat(BEN)
    fake.push(make.reply(dm, BEN, "yes please", to=make.bot_message(dm, "Want news?", 12)))
    mention, direct = await host.wait_for(2)
    assert mention.kind == Kind.MENTION
    assert direct.kind == Kind.DIRECT and direct.refers_to == f"{BEN['id']}:12"


async def test_allowed_chats_limits_groups_but_not_private_chats(fake: FakeTelegram) -> None:
    host = RecordingHost()
    network = TelegramNetwork(config_for(fake, allowed_chats=[str(GROUP["id"])]), stop_grace=2.0)
    await network.start(host)
    try:
        fake.push(make.mention(OTHER_GROUP, ANA, "@brand_bot hello?"))
        fake.push(make.mention(GROUP, ANA, "@brand_bot hello!"))
        fake.push(make.private_message(BEN, "hi"))
        events = await host.wait_for(2)
    finally:
        await network.stop()
    assert [(e.kind, e.conversation.id) for e in events] == [
        (Kind.MENTION, str(GROUP["id"])),
        (Kind.DIRECT, str(BEN["id"])),
    ]


class UnreachableHost(RecordingHost):
    def __init__(self) -> None:
        super().__init__()
        self.unreachable: list[tuple[str, str]] = []

    async def mark_unreachable(self, network: str, user_id: str) -> None:
        self.unreachable.append((network, user_id))


async def test_a_user_blocking_the_bot_marks_them_unreachable(fake: FakeTelegram) -> None:
    host = UnreachableHost()
    network = TelegramNetwork(config_for(fake), stop_grace=2.0)
    await network.start(host)
    try:
        blocked = fake.push(make.blocked(ANA))
        await fake.wait_until(lambda: fake.confirmed_offset > blocked)
    finally:
        await network.stop()
    assert host.unreachable == [("telegram", str(ANA["id"]))]
    assert host.events == []


# -------------------------------------------------------------------------- sending


async def test_a_reply_is_threaded_under_the_message_it_answers(
    fake: FakeTelegram, started: tuple[TelegramNetwork, RecordingHost]
) -> None:
    network, _ = started
    text = "Hi Ana, <b>welcome</b> & enjoy"
    sent = await network.send(outgoing(text, GROUP["id"], f"{GROUP['id']}:42"))
    (message,) = fake.sent
    assert message.chat_id == GROUP["id"]
    assert message.text == text  # plain text, sent as written
    assert message.reply_parameters == {"message_id": 42, "allow_sending_without_reply": True}
    assert "parse_mode" not in message.params
    assert sent.post_ids == (f"{GROUP['id']}:{message.message_id}",)


async def test_long_text_is_split_and_only_the_first_part_is_threaded(
    fake: FakeTelegram, started: tuple[TelegramNetwork, RecordingHost]
) -> None:
    network, _ = started
    text = "\n".join(f"line {i} " + "x" * 90 for i in range(100))  # ~9,900 characters
    sent = await network.send(outgoing(text, ANA["id"], f"{ANA['id']}:7"))
    assert len(fake.sent) == 3 and len(sent.post_ids) == 3
    assert all(utf16_len(m.text) <= 4096 for m in fake.sent)
    assert "\n".join(m.text for m in fake.sent) == text
    assert fake.sent[0].reply_parameters is not None
    assert [m.reply_parameters for m in fake.sent[1:]] == [None, None]


def test_splitting_counts_utf16_units_like_telegram() -> None:
    text = "😀" * 3000  # 3,000 characters but 6,000 UTF-16 units
    chunks = split_for_telegram(text)
    assert "".join(chunks) == text
    assert len(chunks) == 2 and all(utf16_len(c) <= 4096 for c in chunks)


async def test_flood_control_raises_rate_limited_with_telegrams_delay(
    fake: FakeTelegram, started: tuple[TelegramNetwork, RecordingHost]
) -> None:
    network, _ = started
    fake.rate_limit_next("sendMessage", retry_after=3)
    with pytest.raises(RateLimitedError) as caught:
        await network.send(outgoing("hello", ANA["id"]))
    assert caught.value.retry_after == 3.0
    assert fake.sent == []
    await network.send(outgoing("hello", ANA["id"]))
    assert [m.text for m in fake.sent] == ["hello"]


async def test_a_retry_after_a_partial_send_does_not_repeat_delivered_parts(
    fake: FakeTelegram, started: tuple[TelegramNetwork, RecordingHost]
) -> None:
    network, _ = started
    message = outgoing("a" * 4000 + " " + "b" * 100, ANA["id"], outbox_id=9)
    fake.rate_limit_next("sendMessage", retry_after=1, after=1)  # the second part hits it
    with pytest.raises(RateLimitedError):
        await network.send(message)
    assert [m.text[0] for m in fake.sent] == ["a"]
    sent = await network.send(message)  # the outbox's retry of the same entry
    assert [m.text[0] for m in fake.sent] == ["a", "b"]
    assert sent.post_ids == tuple(f"{ANA['id']}:{m.message_id}" for m in fake.sent)


async def test_a_blocked_user_is_a_permanent_unreachable_failure(
    fake: FakeTelegram, started: tuple[TelegramNetwork, RecordingHost]
) -> None:
    network, _ = started
    fake.block_next()
    with pytest.raises(PermanentSendError) as caught:
        await network.send(outgoing("hello", ANA["id"]))
    assert caught.value.unreachable
    assert "blocked" in str(caught.value)


async def test_other_errors_map_to_permanent_or_transient(
    fake: FakeTelegram, started: tuple[TelegramNetwork, RecordingHost]
) -> None:
    network, _ = started
    fake.fail_next("sendMessage", 400, "Bad Request: chat not found")
    with pytest.raises(PermanentSendError) as gone:
        await network.send(outgoing("hello", -100555))
    assert gone.value.unreachable
    fake.fail_next("sendMessage", 400, "Bad Request: can't parse entities")
    with pytest.raises(PermanentSendError) as bad:
        await network.send(outgoing("hello", ANA["id"]))
    assert not bad.value.unreachable
    fake.fail_next("sendMessage", 502, "Bad Gateway")
    with pytest.raises(TransientSendError):
        await network.send(outgoing("hello", ANA["id"]))
    with pytest.raises(PermanentSendError, match="in_reply_to"):
        await network.send(outgoing("hello", ANA["id"], in_reply_to="not-a-post-id"))
    assert fake.sent == []
    assert network.check_text("  ") is not None and network.check_text("hi") is None


# ---------------------------------------------------------------------- durability


async def test_a_restart_resumes_from_the_stored_offset(fake: FakeTelegram) -> None:
    host = RecordingHost()
    first = TelegramNetwork(config_for(fake), stop_grace=2.0)
    await first.start(host)
    ids = [fake.push(make.private_message(ANA, f"message {i}")) for i in range(3)]
    await host.wait_for(3)
    await first.stop()
    assert host.cursors[CURSOR_KEY] == str(ids[-1] + 1)
    assert fake.confirmed_offset == ids[-1] + 1

    # A crash between storing and confirming: Telegram still holds the last batch.
    fake.forget_confirmations(ids[0])
    later = fake.push(make.private_message(ANA, "while we were away"))

    second = TelegramNetwork(config_for(fake), stop_grace=2.0)
    await second.start(host)
    try:
        events = await host.wait_for(4)
        await fake.wait_until(lambda: fake.confirmed_offset > later)
    finally:
        await second.stop()
    assert [e.id for e in events] == [f"u{i}" for i in [*ids, later]]
    assert host.cursors[CURSOR_KEY] == str(later + 1)
    assert host.states[-1][0] == NetworkState.CLOSED


class SlowToSettleHost(RecordingHost):
    """A host whose store takes until ``release`` is set to commit what was submitted."""

    def __init__(self) -> None:
        super().__init__()
        self.settling = asyncio.Event()
        self.release = asyncio.Event()

    async def settled(self) -> None:
        self.settling.set()
        await self.release.wait()


async def test_telegram_is_told_an_update_arrived_only_after_it_is_stored(
    fake: FakeTelegram,
) -> None:
    host = SlowToSettleHost()
    network = TelegramNetwork(config_for(fake), stop_grace=2.0)
    await network.start(host)
    try:
        update_id = fake.push(make.private_message(ANA, "remember me"))
        await host.wait_for(1)
        await asyncio.wait_for(host.settling.wait(), 5)
        # PTB wants to poll on (which would confirm the update); the store has not committed.
        assert fake.confirmed_offset <= update_id
        assert CURSOR_KEY not in host.cursors
        host.release.set()
        await fake.wait_until(lambda: fake.confirmed_offset == update_id + 1)
        assert host.cursors[CURSOR_KEY] == str(update_id + 1)
    finally:
        host.release.set()
        await network.stop()


# -------------------------------------------------------------- start, stop, config


async def test_start_registers_the_hosts_commands(fake: FakeTelegram) -> None:
    host = RecordingHost(
        commands=[
            CommandSpec("help", "What this bot can do"),
            CommandSpec("Points", "Your loyalty points"),
            CommandSpec("ban", "Remove someone", admin_only=True),
            CommandSpec("bad name!", "skipped"),
        ]
    )
    network = TelegramNetwork(config_for(fake), stop_grace=2.0)
    await network.start(host)
    await network.stop()
    assert fake.commands["default"] == [
        {"command": "help", "description": "What this bot can do"},
        {"command": "points", "description": "Your loyalty points"},
    ]
    admins = fake.commands["all_chat_administrators"]
    assert [c["command"] for c in admins] == ["help", "points", "ban"]
    assert [s for s, _ in host.states] == [
        NetworkState.CONNECTING, NetworkState.READY, NetworkState.CLOSED
    ]
    await network.stop()  # idempotent
    assert len(host.states) == 3


async def test_polling_asks_for_member_and_reaction_updates(
    fake: FakeTelegram, started: tuple[TelegramNetwork, RecordingHost]
) -> None:
    await fake.wait_until(lambda: bool(fake.calls_of("getUpdates")))
    allowed = fake.calls_of("getUpdates")[-1]["allowed_updates"]
    assert set(allowed) == {"message", "chat_member", "my_chat_member", "message_reaction"}
    assert fake.calls_of("deleteWebhook")  # polling makes sure no webhook is set


async def test_a_rejected_token_fails_start_with_a_config_error(
    fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "987654321:AAthisTokenIsNotKnownToTheFake_abcdef"
    host = RecordingHost()
    network = TelegramNetwork(config_for(fake, token=wrong), stop_grace=2.0)
    with pytest.raises(ConfigError) as caught:
        await network.start(host)
    assert host.states[-1][0] == NetworkState.FAILED
    assert wrong not in str(caught.value) and wrong not in host.states[-1][1]
    assert wrong not in caplog.text and wrong not in repr(network)


async def test_the_token_never_reaches_the_logs(
    fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    host = RecordingHost()
    network = TelegramNetwork(config_for(fake), stop_grace=2.0)
    await network.start(host)
    fake.push(make.private_message(ANA, "hi"))
    await host.wait_for(1)
    await network.send(outgoing("hello", ANA["id"]))
    await network.stop()
    assert "getMe" in caplog.text  # httpx did log the requests...
    assert TOKEN not in caplog.text  # ...without the token


def test_config_errors_say_what_to_fix_without_echoing_secrets() -> None:
    with pytest.raises(ValidationError) as bad_token:
        TelegramConfig.model_validate({"token": "supersecret-but-malformed"})
    assert "does not look like a Telegram bot token" in str(bad_token.value)
    assert "supersecret" not in str(bad_token.value)
    with pytest.raises(ValidationError, match="needs a 'webhook:' section"):
        TelegramConfig.model_validate({"token": TOKEN, "mode": "webhook"})
    with pytest.raises(ValidationError, match="not a chat reference"):
        TelegramConfig.model_validate({"token": TOKEN, "brand_channels": ["brandnews"]})
    with pytest.raises(ValidationError, match="extra"):
        TelegramConfig.model_validate({"token": TOKEN, "tokn": "x"})
    assert "AAH" not in repr(TelegramConfig.model_validate({"token": TOKEN}))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_webhook_mode_accepts_only_requests_with_the_secret(fake: FakeTelegram) -> None:
    pytest.importorskip("tornado", reason="webhook mode needs python-telegram-bot[webhooks]")
    port = free_port()
    webhook = {
        "listen": "127.0.0.1",
        "port": port,
        "url_path": "tg-hook",
        "public_url": f"http://127.0.0.1:{port}/tg-hook",
        "secret_token": "s3cret-Token_1",
    }
    host = RecordingHost()
    network = TelegramNetwork(config_for(fake, mode="webhook", webhook=webhook), stop_grace=2.0)
    await network.start(host)
    try:
        assert fake.webhook is not None
        assert fake.webhook["url"] == webhook["public_url"]
        assert fake.webhook["secret_token"] == "s3cret-Token_1"
        assert "message_reaction" in fake.webhook["allowed_updates"]
        assert await fake.post_to_webhook(make.private_message(ANA, "forged"), "wrong") == 403
        assert await fake.post_to_webhook(make.private_message(ANA, "forged"), None) == 403
        real = make.private_message(ANA, "real")
        assert await fake.post_to_webhook(real, "s3cret-Token_1") == 200
        (event,) = await host.wait_for(1)
    finally:
        await network.stop()
    assert event.kind == Kind.DIRECT and event.text == "real"
    assert len(host.events) == 1


# ------------------------------------------------------------------ with the real Bot


async def test_a_yaml_rule_answers_a_telegram_mention_through_the_bot(
    fake: FakeTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELEGRAM_TEST_TOKEN", fake.token)
    rules = {
        "rules": [
            {
                "name": "shipping",
                "kinds": ["mention"],
                "match": {"any": ["shipping"]},
                "reply": "Hi {{ name | first_name }}, shipping is free!",
            }
        ]
    }
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    settings = {
        "brand": {"name": "Test Brand", "url": "https://brand.test"},
        "storage": {"path": ":memory:"},
        "networks": {
            "telegram": {
                "enabled": True,
                "token": "${TELEGRAM_TEST_TOKEN}",
                "api_url": fake.api_url,
                "file_url": fake.file_url,
                "poll_timeout": 5,
            }
        },
        "rules": ["rules.yaml"],
        "plugin_dirs": [],
    }
    (tmp_path / "brandbot.yaml").write_text(yaml.safe_dump(settings))
    bot = Bot(load_config(tmp_path / "brandbot.yaml"), store=SqliteStore(":memory:"), plugins=[])
    await bot.start()
    try:
        mention = make.mention(GROUP, ANA, "@brand_bot is shipping free?")
        update_id = fake.push(mention)
        await fake.wait_until(lambda: bool(fake.sent))
        [sent] = fake.sent
        assert sent.text == "Hi Ana, shipping is free!"
        assert sent.chat_id == GROUP["id"]
        assert sent.reply_parameters is not None
        assert sent.reply_parameters["message_id"] == mention["message"]["message_id"]
        await fake.wait_until(lambda: fake.confirmed_offset > update_id)
        assert await bot.store.get_cursor(CURSOR_KEY) == str(update_id + 1)
        assert bot.health["telegram"][0] is NetworkState.READY
    finally:
        await bot.stop()
    assert bot.health["telegram"][0] is NetworkState.CLOSED
