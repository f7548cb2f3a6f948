"""DiscordNetwork end to end: real discord.py against the loopback fake of Discord."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml

from brandbot.clocks import Clock, FakeClock
from brandbot.core.config import load_config
from brandbot.core.errors import (
    ConfigError,
    PermanentSendError,
    RateLimitedError,
    TransientSendError,
)
from brandbot.core.events import Conversation, Event, Kind, Outgoing, Person, Reply
from brandbot.networks.base import CommandSpec, NetworkState
from brandbot.networks.discord import DiscordConfig, DiscordNetwork
from brandbot.networks.registry import build_network
from brandbot.runtime.bot import Bot
from brandbot.store.sqlite import SqliteStore
from tests.fake_discord import (
    DIRECT_MESSAGE_REACTIONS,
    DIRECT_MESSAGES,
    GUILD_MEMBERS,
    GUILD_MESSAGE_REACTIONS,
    GUILD_MESSAGES,
    GUILDS,
    MESSAGE_CONTENT,
    FakeDiscord,
)
from tests.support.host import RecordingHost

Connect = Callable[..., Awaitable[tuple[DiscordNetwork, RecordingHost]]]


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = await FakeDiscord().start()
    yield server
    await server.stop()


@pytest.fixture
async def connect(fake: FakeDiscord) -> AsyncIterator[Connect]:
    """Start a DiscordNetwork against the fake; every one started is stopped afterwards."""
    started: list[DiscordNetwork] = []

    async def _connect(
        host: RecordingHost | None = None, clock: Clock | None = None, **settings: Any
    ) -> tuple[DiscordNetwork, RecordingHost]:
        settings.setdefault("token", fake.token)
        settings.setdefault("announcement_channels", [fake.announcements_id])
        network = DiscordNetwork(
            DiscordConfig.model_validate(settings),
            clock=clock,
            connector=fake.connector(),
            guild_ready_timeout=0.05,
        )
        started.append(network)
        host = host or RecordingHost()
        await network.start(host)
        return network, host

    yield _connect
    for network in started:
        await network.stop()


async def only_events(fake: FakeDiscord, host: RecordingHost) -> list[Event]:
    """All events up to a sentinel DM sent last: proves nothing else arrived in between."""
    await fake.dispatch("MESSAGE_CREATE", fake.message(fake.bob, "sentinel", dm=True))
    events = await host.wait_for(1)
    while events[-1].text != "sentinel":
        events = await host.wait_for(len(events) + 1)
    return events[:-1]


async def wait_for_backlog(network: DiscordNetwork, size: int) -> None:
    for _ in range(500):
        if network.backlog == size:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"backlog stayed at {network.backlog}, expected {size}")


def outgoing(event: Event, text: str, outbox_id: int = 1, **changes: Any) -> Outgoing:
    reply = Reply(
        network="discord",
        conversation=event.conversation,
        text=text,
        in_reply_to=event.post_id,
        recipient=event.author,
        event_id=event.id,
    )
    return Outgoing(outbox_id=outbox_id, reply=Reply(**{**_fields(reply), **changes}))


def _fields(reply: Reply) -> dict[str, Any]:
    return {name: getattr(reply, name) for name in Reply.__dataclass_fields__}


def posted(fake: FakeDiscord, channel_id: int | None = None) -> list[dict[str, Any]]:
    return [m["request"] for m in fake.channel_messages(channel_id)]


# ---------------------------------------------------------------- connecting


async def test_ready_identifies_with_default_intents_and_reports_health(
    fake: FakeDiscord, connect: Connect
) -> None:
    network, host = await connect()
    assert [s for s, _ in host.states] == [NetworkState.CONNECTING, NetworkState.READY]
    default = (
        GUILDS
        | GUILD_MESSAGES
        | GUILD_MESSAGE_REACTIONS
        | DIRECT_MESSAGES
        | DIRECT_MESSAGE_REACTIONS
    )
    assert fake.identifies[-1]["intents"] == default
    assert fake.gateway_queries[0]["v"] == "10"
    await network.stop()
    await network.stop()
    assert [s for s, _ in host.states].count(NetworkState.CLOSED) == 1


async def test_the_token_never_reaches_the_logs(
    fake: FakeDiscord, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    network, host = await connect(message_content=True, members=True)
    await fake.dispatch("MESSAGE_CREATE", fake.message(fake.alice, "hi", dm=True))
    [event] = await host.wait_for(1)
    await network.send(outgoing(event, "hello"))
    await network.stop()
    assert caplog.records and fake.token not in caplog.text


async def test_privileged_intents_only_when_configured(fake: FakeDiscord, connect: Connect) -> None:
    await connect(message_content=True, members=True)
    intents = fake.identifies[-1]["intents"]
    assert intents & MESSAGE_CONTENT and intents & GUILD_MEMBERS


async def test_privileged_intent_not_enabled_in_portal_is_a_config_error(
    connect: Connect, fake: FakeDiscord
) -> None:
    fake.portal_intents = frozenset()
    host = RecordingHost()
    with pytest.raises(ConfigError, match=r"Message Content Intent.*Developer Portal"):
        await connect(host, message_content=True)
    assert host.states[-1][0] is NetworkState.FAILED


async def test_bad_token_is_a_config_error_without_the_token(connect: Connect) -> None:
    with pytest.raises(ConfigError, match="rejected the bot token") as caught:
        await connect(token="wrong-secret-token")
    assert "wrong-secret-token" not in str(caught.value)


async def test_sharded_client_identifies_its_shard(fake: FakeDiscord, connect: Connect) -> None:
    _, host = await connect(shard_count=2, shard_ids=[1])
    assert fake.identifies[-1]["shard"] == [1, 2]
    assert host.states[-1][0] is NetworkState.READY


def test_config_is_strict_and_hides_the_token() -> None:
    config = DiscordConfig.model_validate({"token": "super-secret"})
    assert "super-secret" not in repr(config)
    with pytest.raises(pydantic.ValidationError, match="shard_count"):
        DiscordConfig.model_validate({"token": "t", "shard_ids": [0]})
    with pytest.raises(pydantic.ValidationError, match="outside"):
        DiscordConfig.model_validate({"token": "t", "shard_count": 2, "shard_ids": [2]})
    with pytest.raises(pydantic.ValidationError):
        DiscordConfig.model_validate({"token": "t", "max_rate_limit_wait": 10})
    with pytest.raises(pydantic.ValidationError):
        DiscordConfig.model_validate({"token": "t", "intents_everything": True})


# ---------------------------------------------------------------- incoming events


async def test_dm_is_direct(fake: FakeDiscord, connect: Connect) -> None:
    _, host = await connect()
    data = fake.message(fake.alice, "hi there", dm=True)
    await fake.dispatch("MESSAGE_CREATE", data)
    [event] = await host.wait_for(1)
    assert event.kind is Kind.DIRECT and event.addressed
    assert event.id == event.post_id == data["id"]
    assert event.conversation == Conversation(
        "discord", data["channel_id"], private=True, title="direct message"
    )
    assert event.author == Person("discord", str(fake.alice.id), handle="alice", name="Alice")
    assert event.text == "hi there"


async def test_mention_of_the_bot_or_its_role_is_a_mention_but_everyone_is_not(
    fake: FakeDiscord, connect: Connect
) -> None:
    _, host = await connect(message_content=True)
    await fake.dispatch(
        "MESSAGE_CREATE", fake.message(fake.alice, f"<@{fake.bot.id}> hello", mentions=[fake.bot])
    )
    await fake.dispatch(
        "MESSAGE_CREATE",
        fake.message(fake.bob, f"<@&{fake.bot_role_id}> hey", mention_roles=[fake.bot_role_id]),
    )
    await fake.dispatch(
        "MESSAGE_CREATE",
        fake.message(
            fake.bob,
            f"<@&{fake.fans_role_id}> @everyone",
            mention_roles=[fake.fans_role_id],
            mention_everyone=True,
        ),
    )
    user_mention, role_mention, everyone = await only_events(fake, host)
    assert (user_mention.kind, role_mention.kind, everyone.kind) == (
        Kind.MENTION,
        Kind.MENTION,
        Kind.MESSAGE,
    )
    assert user_mention.addressed and not everyone.addressed
    assert user_mention.text == "@BrandBot hello"
    assert user_mention.conversation.title == "Brand Community #general"


async def test_mention_arrives_with_text_even_without_message_content(
    fake: FakeDiscord, connect: Connect
) -> None:
    _, host = await connect()
    await fake.dispatch(
        "MESSAGE_CREATE", fake.message(fake.alice, f"<@{fake.bot.id}> hello", mentions=[fake.bot])
    )
    [event] = await host.wait_for(1)
    assert event.kind is Kind.MENTION and event.text == "@BrandBot hello"


async def test_reply_to_a_bot_message_is_a_reply(fake: FakeDiscord, connect: Connect) -> None:
    _, host = await connect()
    bot_message = fake.posted_message(fake.general_id, "Welcome!")
    await fake.dispatch(
        "MESSAGE_CREATE",
        fake.message(fake.alice, "thanks!", reply_to=bot_message, mentions=[fake.bot]),
    )
    [event] = await host.wait_for(1)
    assert event.kind is Kind.REPLY and event.addressed
    assert event.refers_to == bot_message["id"]


async def test_plain_guild_message_has_text_only_with_message_content(
    fake: FakeDiscord, connect: Connect
) -> None:
    _, host = await connect(message_content=True)
    await fake.dispatch("MESSAGE_CREATE", fake.message(fake.alice, "nice weather"))
    [event] = await host.wait_for(1)
    assert event.kind is Kind.MESSAGE and not event.addressed
    assert event.text == "nice weather"
    assert event.conversation.id == str(fake.general_id) and not event.conversation.private
    assert event.extra("guild_id") == str(fake.guild_id)


async def test_without_message_content_plain_messages_arrive_empty(
    fake: FakeDiscord, connect: Connect
) -> None:
    _, host = await connect()
    await fake.dispatch("MESSAGE_CREATE", fake.message(fake.alice, "nice weather"))
    [event] = await host.wait_for(1)
    assert event.kind is Kind.MESSAGE and event.text == ""


async def test_member_join_is_join_in_the_welcome_channel(
    fake: FakeDiscord, connect: Connect
) -> None:
    _, host = await connect(members=True)
    await fake.dispatch("GUILD_MEMBER_ADD", fake.member_add(fake.carol))
    [event] = await host.wait_for(1)
    assert event.kind is Kind.JOIN and not event.addressed
    assert event.author == Person("discord", str(fake.carol.id), handle="carol", name="Carol")
    assert event.conversation.id == str(fake.welcome_id)
    assert event.id.startswith(f"join:{fake.guild_id}:{fake.carol.id}:")


async def test_reaction_on_a_bot_or_announcement_message_is_a_reaction(
    fake: FakeDiscord, connect: Connect
) -> None:
    _, host = await connect()
    bot_message = fake.posted_message(fake.general_id, "Vote with an emoji")
    someone_elses = fake.posted_message(fake.general_id, "mine", author=fake.alice)
    announcement = fake.posted_message(fake.announcements_id, "Launch!", author=fake.alice)
    await fake.dispatch("MESSAGE_REACTION_ADD", fake.reaction_add(fake.alice, bot_message, "🔥"))
    await fake.dispatch("MESSAGE_REACTION_ADD", fake.reaction_add(fake.bob, someone_elses))
    await fake.dispatch("MESSAGE_REACTION_ADD", fake.reaction_add(fake.bob, announcement, "🎉"))
    on_bot, on_announcement = await only_events(fake, host)
    assert on_bot.kind is Kind.REACTION and on_bot.refers_to == bot_message["id"]
    assert on_bot.extra("emoji") == "🔥" and on_bot.author.name == "Alice"
    assert on_announcement.refers_to == announcement["id"]
    assert on_bot.id != on_announcement.id


async def test_link_or_reply_to_an_announcement_is_a_quote_and_a_forward_a_repost(
    fake: FakeDiscord, connect: Connect
) -> None:
    _, host = await connect(message_content=True)
    announcement = fake.posted_message(fake.announcements_id, "Big launch today")
    link = (
        f"https://discord.com/channels/{fake.guild_id}/{fake.announcements_id}/{announcement['id']}"
    )
    await fake.dispatch("MESSAGE_CREATE", fake.message(fake.alice, f"look at this {link} wow"))
    await fake.dispatch("MESSAGE_CREATE", fake.message(fake.bob, "so cool", reply_to=announcement))
    await fake.dispatch("MESSAGE_CREATE", fake.message(fake.bob, "", forward_of=announcement))
    by_link, by_reply, forward = await host.wait_for(3)
    assert (by_link.kind, by_reply.kind, forward.kind) == (Kind.QUOTE, Kind.QUOTE, Kind.REPOST)
    assert by_link.refers_to == by_reply.refers_to == forward.refers_to == announcement["id"]
    assert by_link.addressed and by_reply.addressed and not forward.addressed


async def test_own_messages_and_other_bots_are_ignored(fake: FakeDiscord, connect: Connect) -> None:
    _, host = await connect(message_content=True)
    await fake.dispatch("MESSAGE_CREATE", fake.message(fake.bot, "I said this"))
    await fake.dispatch(
        "MESSAGE_CREATE", fake.message(fake.other_bot, f"<@{fake.bot.id}>", mentions=[fake.bot])
    )
    assert await only_events(fake, host) == []


async def test_only_configured_channels_are_engaged(fake: FakeDiscord, connect: Connect) -> None:
    _, host = await connect(message_content=True, channels=[fake.general_id])
    await fake.dispatch(
        "MESSAGE_CREATE", fake.message(fake.alice, "elsewhere", channel_id=fake.welcome_id)
    )
    await fake.dispatch("MESSAGE_CREATE", fake.message(fake.alice, "here"))
    [event] = await only_events(fake, host)
    assert event.text == "here"


# ---------------------------------------------------------------- slash commands


async def test_commands_are_registered_in_each_guild(fake: FakeDiscord, connect: Connect) -> None:
    host = RecordingHost(
        [CommandSpec("help", "What I can do"), CommandSpec("ban", "Ban", admin_only=True)]
    )
    await connect(host)
    await fake.wait_until(lambda: bool(fake.command_registrations))
    [(guild_id, commands)] = fake.command_registrations
    assert guild_id == fake.guild_id
    by_name = {c["name"]: c for c in commands}
    assert by_name["help"]["description"] == "What I can do"
    assert by_name["help"]["options"] == [
        {"type": 3, "name": "text", "description": "Anything you want to add", "required": False}
    ]
    assert by_name["help"]["default_member_permissions"] is None
    assert by_name["ban"]["default_member_permissions"] is not None


class GatedHost(RecordingHost):
    """A host whose submit blocks until released: back-pressure from a busy core."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.callbacks_seen_at_submit: int | None = None
        self.fake: FakeDiscord | None = None

    async def submit(self, event: Event) -> None:
        if self.fake is not None and self.callbacks_seen_at_submit is None:
            self.callbacks_seen_at_submit = len(self.fake.interaction_callbacks)
        await self.gate.wait()
        await super().submit(event)


async def test_slash_command_is_deferred_at_once_and_answered_by_followup(
    fake: FakeDiscord, connect: Connect
) -> None:
    host = GatedHost()
    network, _ = await connect(host)
    host.fake = fake
    await fake.dispatch(
        "INTERACTION_CREATE", fake.slash_command(fake.alice, "help", "with shipping")
    )
    await fake.wait_until(lambda: bool(fake.interaction_callbacks))
    assert fake.interaction_callbacks[0]["type"] == 5  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
    host.gate.set()
    [event] = await host.wait_for(1)
    assert host.callbacks_seen_at_submit == 1  # acknowledged before the core even saw it
    assert event.kind is Kind.COMMAND and event.command == "help" and event.addressed
    assert event.args == ("with", "shipping") and event.text == "/help with shipping"
    assert event.conversation.id == str(fake.general_id)

    sent = await network.send(outgoing(event, "Here is how shipping works"))
    [followup] = fake.followups()
    assert followup["content"] == "Here is how shipping works"
    assert sent.post_ids == (followup["id"],)
    assert followup["request"]["allowed_mentions"]["parse"] == []
    assert fake.channel_messages() == []


async def test_a_retried_followup_does_not_repeat_chunks_already_delivered(
    fake: FakeDiscord, connect: Connect
) -> None:
    network, host = await connect()
    await fake.dispatch("INTERACTION_CREATE", fake.slash_command(fake.alice, "help"))
    [event] = await host.wait_for(1)
    text = "a" * 1500 + "\n" + "b" * 1500
    # A 429 without Cloudflare's Via header: discord.py does not retry it, the outbox will.
    fake.fail_next(
        "POST",
        rf"/webhooks/{fake.app_id}/.+",
        429,
        body={"message": "You are being blocked", "retry_after": 5},
        headers={"Via": "", "Retry-After": "5"},
        skip=1,
    )
    with pytest.raises(RateLimitedError):
        await network.send(outgoing(event, text, outbox_id=9))
    sent = await network.send(outgoing(event, text, outbox_id=9))
    assert [m["content"][0] for m in fake.followups()] == ["a", "b"]
    assert sent.post_ids == tuple(m["id"] for m in fake.followups())


async def test_expired_interaction_falls_back_to_a_channel_message(
    fake: FakeDiscord, connect: Connect
) -> None:
    network, host = await connect()
    await fake.dispatch("INTERACTION_CREATE", fake.slash_command(fake.alice, "help"))
    [event] = await host.wait_for(1)
    fake.fail_next(
        "POST", rf"/webhooks/{fake.app_id}/.+", 404, code=10015, message="Unknown Webhook"
    )
    await network.send(outgoing(event, "late answer"))
    assert fake.followups() == []
    [message] = fake.channel_messages(fake.general_id)
    assert message["content"] == "late answer"


async def test_an_interaction_older_than_its_token_is_answered_in_the_channel(
    fake: FakeDiscord, connect: Connect
) -> None:
    clock = FakeClock(start=datetime.now(UTC))
    network, host = await connect(clock=clock)
    await fake.dispatch("INTERACTION_CREATE", fake.slash_command(fake.alice, "help"))
    [event] = await host.wait_for(1)
    clock.advance(15 * 60)
    await network.send(outgoing(event, "sorry for the wait"))
    assert fake.requests_to("POST", r"/webhooks/.+") == []
    assert [m["content"] for m in fake.channel_messages(fake.general_id)] == ["sorry for the wait"]


async def test_a_command_outside_the_engaged_channels_gets_a_private_notice(
    fake: FakeDiscord, connect: Connect
) -> None:
    _, host = await connect(channels=[fake.welcome_id])
    await fake.dispatch("INTERACTION_CREATE", fake.slash_command(fake.alice, "help"))
    await fake.wait_until(lambda: bool(fake.interaction_callbacks))
    [callback] = fake.interaction_callbacks
    assert callback["type"] == 4 and callback["data"]["flags"] == 64  # ephemeral message
    assert await only_events(fake, host) == []


# ---------------------------------------------------------------- reconnect


async def test_reconnect_resumes_without_losing_or_doubling_events(
    fake: FakeDiscord, connect: Connect
) -> None:
    _, host = await connect()
    session_id = fake.session.id
    await fake.dispatch("MESSAGE_CREATE", fake.message(fake.alice, "one", dm=True))
    await host.wait_for(1)
    seq_before = fake.session.seq
    await fake.request_reconnect()
    await fake.dispatch("MESSAGE_CREATE", fake.message(fake.alice, "two", dm=True))
    await fake.dispatch("MESSAGE_CREATE", fake.message(fake.bob, "three", dm=True))
    await fake.wait_until(lambda: bool(fake.resumes))
    await fake.dispatch("MESSAGE_CREATE", fake.message(fake.alice, "four", dm=True))
    events = await only_events(fake, host)  # a doubled replay would arrive before the sentinel
    assert [e.text for e in events] == ["one", "two", "three", "four"]
    assert len({e.id for e in events}) == 4
    [resume] = fake.resumes
    assert resume["session_id"] == session_id and resume["seq"] == seq_before
    assert len(fake.identifies) == 1
    states = [s for s, _ in host.states]
    assert states[-2:] == [NetworkState.DEGRADED, NetworkState.RESUMED]


# ---------------------------------------------------------------- sending


async def test_reply_references_the_message_and_pings_only_the_recipient(
    fake: FakeDiscord, connect: Connect
) -> None:
    network, host = await connect()
    await fake.dispatch(
        "MESSAGE_CREATE", fake.message(fake.alice, f"<@{fake.bot.id}> hi", mentions=[fake.bot])
    )
    [event] = await host.wait_for(1)
    sent = await network.send(outgoing(event, "Hello @everyone and <@&1234>!"))
    [payload] = posted(fake, fake.general_id)
    assert payload["allowed_mentions"] == {
        "parse": [],
        "users": [fake.alice.id],
        "replied_user": True,
    }
    assert payload["message_reference"]["message_id"] == int(event.post_id or 0)
    assert payload["message_reference"]["fail_if_not_exists"] is False
    assert sent.post_ids == (fake.channel_messages()[0]["id"],)


async def test_nonce_with_enforce_nonce_makes_a_resend_harmless(
    fake: FakeDiscord, connect: Connect
) -> None:
    network, host = await connect()
    await fake.dispatch("MESSAGE_CREATE", fake.message(fake.alice, "hi", dm=True))
    [event] = await host.wait_for(1)
    message = outgoing(event, "only once", outbox_id=42)
    first = await network.send(message)
    again = await network.send(Outgoing(outbox_id=42, reply=message.reply, attempt=2))
    requests = fake.requests_to("POST", r"/channels/\d+/messages")
    assert len(requests) == 2
    assert all(r.json["nonce"] == "42.0" and r.json["enforce_nonce"] is True for r in requests)
    assert len(fake.channel_messages()) == 1
    assert first == again


async def test_long_text_is_split_at_2000_characters(fake: FakeDiscord, connect: Connect) -> None:
    network, host = await connect()
    await fake.dispatch("MESSAGE_CREATE", fake.message(fake.alice, "tell me everything", dm=True))
    [event] = await host.wait_for(1)
    text = " ".join(f"word{i}" for i in range(700))  # about 5,500 characters
    sent = await network.send(outgoing(event, text, outbox_id=7))
    payloads = posted(fake)
    assert len(payloads) == len(sent.post_ids) == 3
    assert all(len(p["content"]) <= 2000 for p in payloads)
    assert " ".join(p["content"] for p in payloads) == text
    assert [p["nonce"] for p in payloads] == ["7.0", "7.1", "7.2"]
    assert "message_reference" in payloads[0]
    assert all("message_reference" not in p for p in payloads[1:])


async def test_a_429_is_retried_by_discord_py_and_delivered_once(
    fake: FakeDiscord, connect: Connect
) -> None:
    network, host = await connect()
    await fake.dispatch("MESSAGE_CREATE", fake.message(fake.alice, "hi", dm=True))
    [event] = await host.wait_for(1)
    fake.rate_limit_next("POST", r"/channels/\d+/messages", retry_after=0.05)
    sent = await network.send(outgoing(event, "patience"))
    assert [r.status for r in fake.requests_to("POST", r"/channels/\d+/messages")] == [429, 200]
    assert len(fake.channel_messages()) == 1 and len(sent.post_ids) == 1


async def test_a_long_rate_limit_goes_back_to_the_outbox(
    fake: FakeDiscord, connect: Connect
) -> None:
    network, host = await connect()
    await fake.dispatch("MESSAGE_CREATE", fake.message(fake.alice, "hi", dm=True))
    [event] = await host.wait_for(1)
    fake.rate_limit_next("POST", r"/channels/\d+/messages", retry_after=120.0)
    with pytest.raises(RateLimitedError) as caught:
        await network.send(outgoing(event, "later"))
    assert caught.value.retry_after == pytest.approx(120.0)
    assert fake.channel_messages() == []


async def test_send_errors_tell_the_outbox_what_to_do(fake: FakeDiscord, connect: Connect) -> None:
    network, host = await connect()
    await fake.dispatch("MESSAGE_CREATE", fake.message(fake.alice, "hi", dm=True))
    [event] = await host.wait_for(1)
    path = r"/channels/\d+/messages"

    fake.fail_next("POST", path, 403, code=50007, message="Cannot send messages to this user")
    with pytest.raises(PermanentSendError) as blocked:
        await network.send(outgoing(event, "x"))
    assert blocked.value.unreachable

    fake.fail_next("POST", path, 403, code=50013, message="Missing Permissions")
    with pytest.raises(PermanentSendError) as forbidden:
        await network.send(outgoing(event, "x"))
    assert not forbidden.value.unreachable

    fake.fail_next("POST", path, 503, message="upstream unavailable")
    with pytest.raises(TransientSendError):
        await network.send(outgoing(event, "x"))

    gone = Conversation("discord", "123456789012345678")
    with pytest.raises(PermanentSendError, match="no longer exists"):
        await network.send(outgoing(event, "x", conversation=gone))

    assert network.check_text("   ") is not None and network.check_text("hi") is None


async def test_reply_to_a_user_opens_a_dm(fake: FakeDiscord, connect: Connect) -> None:
    network, host = await connect(members=True, channels=[fake.general_id])
    await fake.dispatch("GUILD_MEMBER_ADD", fake.member_add(fake.carol))
    [join] = await host.wait_for(1)
    assert join.conversation.id == f"user:{fake.carol.id}"  # the welcome channel is not engaged
    await network.send(outgoing(join, "Welcome, Carol!"))
    assert len(fake.requests_to("POST", "/users/@me/channels")) == 1
    [message] = fake.channel_messages(fake.dm_channels[fake.carol.id])
    assert message["content"] == "Welcome, Carol!"


# ---------------------------------------------------------------- lifecycle details


async def test_stop_intake_hands_over_what_was_received(
    fake: FakeDiscord, connect: Connect
) -> None:
    host = GatedHost()
    network, _ = await connect(host)
    await fake.dispatch("MESSAGE_CREATE", fake.message(fake.alice, "one", dm=True))
    await fake.dispatch("MESSAGE_CREATE", fake.message(fake.alice, "two", dm=True))
    await wait_for_backlog(network, 1)  # "one" is in submit, "two" waits behind it
    draining = asyncio.create_task(network.stop_intake())
    await asyncio.sleep(0)
    assert not draining.done()  # the core is busy; stop_intake waits for it
    host.gate.set()
    await draining
    assert [e.text for e in host.events] == ["one", "two"]
    await fake.dispatch("MESSAGE_CREATE", fake.message(fake.alice, "after", dm=True))
    await asyncio.sleep(0.05)
    assert [e.text for e in host.events] == ["one", "two"]


async def test_sending_after_stop_is_transient(fake: FakeDiscord, connect: Connect) -> None:
    network, _ = await connect()
    await network.stop()
    with pytest.raises(TransientSendError):
        await network.send(outgoing(_dm_event(fake), "nobody home"))


def _dm_event(fake: FakeDiscord) -> Event:
    return Event(
        kind=Kind.DIRECT,
        network="discord",
        id="1",
        author=Person("discord", str(fake.alice.id)),
        conversation=Conversation("discord", str(fake.dm_channels[fake.alice.id]), private=True),
    )


# ---------------------------------------------------------------- with the real Bot


async def test_a_yaml_rule_answers_a_discord_mention_through_the_bot(
    fake: FakeDiscord, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_TEST_TOKEN", fake.token)
    rules = {
        "rules": [
            {
                "name": "shipping",
                "kinds": ["mention"],
                "match": {"any": ["shipping"]},
                "reply": "Hi {{ name }}, shipping is free!",
            }
        ]
    }
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    settings = {
        "brand": {"name": "Test Brand", "url": "https://brand.test"},
        "storage": {"path": ":memory:"},
        "networks": {"discord": {"token": "${DISCORD_TEST_TOKEN}", "enabled": True}},
        "rules": ["rules.yaml"],
        "plugin_dirs": [],
    }
    (tmp_path / "brandbot.yaml").write_text(yaml.safe_dump(settings))
    config = load_config(tmp_path / "brandbot.yaml")
    [section] = config.networks
    network = build_network(
        section.name, dict(section.settings), connector=fake.connector(), guild_ready_timeout=0.05
    )
    bot = Bot(config, store=SqliteStore(":memory:"), networks={"discord": network}, plugins=[])
    await bot.start()
    try:
        mention = fake.message(
            fake.alice, f"<@{fake.bot.id}> is shipping free?", mentions=[fake.bot]
        )
        await fake.dispatch("MESSAGE_CREATE", mention)
        await fake.wait_until(lambda: bool(fake.channel_messages()))
        [sent] = fake.channel_messages(fake.general_id)
        assert sent["content"] == "Hi Alice, shipping is free!"
        assert sent["request"]["message_reference"]["message_id"] == int(mention["id"])
        assert sent["request"]["allowed_mentions"]["users"] == [fake.alice.id]
        assert sent["request"]["enforce_nonce"] is True
        assert bot.health["discord"][0] is NetworkState.READY
    finally:
        await bot.stop()
    assert bot.health["discord"][0] is NetworkState.CLOSED
