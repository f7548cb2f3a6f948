"""Hostile input: whatever people write, and whatever a network hands us, nothing breaks.

Three layers, each with hypothesis:

- the whole pipeline (``brandbot.testing`` bot with realistic rules and the bundled
  plugins): any unicode, zero-width and right-to-left marks, template syntax and markup
  in display names and text. No crash, no template injection (names and text appear in
  replies literally), no secret in any reply or log line; 1 MB messages are truncated
  with a logged note;
- the networks' pure translation functions (X's ``mention_event``/``dm_event``/
  ``repost_event``, Telegram's ``UpdateTranslator``, Discord's message translation) fed
  generated payloads through the real libraries' parsers: the library rejects a payload
  or our function maps it (to a well-formed Event) or ignores it, and nothing else;
- the line parsers of the console and feed networks: an Event, None, or a ConfigError
  naming the line.

Example counts are kept small enough for the file to run in well under a minute; the
numbers are in ``docs/reliability.md``.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import discord
import pytest
import tweepy
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from telegram import Update

from brandbot.core.errors import ConfigError
from brandbot.core.events import Event, Kind
from brandbot.networks.console import ConsoleNetwork
from brandbot.networks.discord import DiscordConfig, DiscordNetwork
from brandbot.networks.feed import parse_line
from brandbot.networks.telegram import BotIdentity, ChatSet, UpdateTranslator
from brandbot.networks.x import dm_event, mention_event, repost_event
from brandbot.testing import BotHarness, MakeBot

SECRET = "sk-fuzz-3c9f1e7b2a6d4f8e9a0b1c2d3e4f5a6b"
NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
PIPELINE = settings(max_examples=250, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
PURE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- strategies ---------------------------------------------------------------------------------
#: Text of every unicode category hypothesis generates (all but lone surrogates), plus the
#: characters that break naive code: zero-width, bidi controls, NUL, newlines, emoji ZWJ.
TRICKY = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u202e", "\u202d", "\u2066", "\u061c",
          "\x00", "\r\n", "\u2028", "👩‍👩‍👧", "🏳️‍🌈", "e\u0301", "ﷺ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢"]
INJECTIONS = ["{{ config }}", "{{ brand.secret }}", "{{ brand }}", "{% for i in range(9) %}x{% endfor %}",
              "{{ ''.__class__.__mro__[1].__subclasses__() }}", "{{ name }}", "{#", "{%", "}}",
              "<b>bold</b>", "<script>alert(1)</script>", "*x*", "_y_", "[a](https://evil.example)",
              "@everyone", "<@123>", "${SECRET_TOKEN}", "%s%s%n", "\\x00"]
tricky_text = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(st.sampled_from(TRICKY + INJECTIONS), st.text(max_size=8)), max_size=12).map("".join),
)
display_names = st.one_of(st.sampled_from(INJECTIONS), tricky_text.filter(lambda s: s.strip() != ""))

RULES = [
    {"name": "greet", "kinds": ["direct", "mention"], "priority": 20, "when": {"first_contact": True},
     "reply": "Hello {{ name }}, welcome to {{ brand.name }}!"},
    {"name": "shipping", "kinds": ["direct", "mention", "reply"], "priority": 30,
     "match": {"any": ["shipping", "delivery", "price"]}, "reply": "{{ name | first_name }}, orders ship in 2 days."},
    {"name": "order", "kinds": ["direct", "mention", "reply"], "priority": 40,
     "match": {"regex": "order\\s*#?\\s*\\d{4,}"}, "reply": "Thanks {{ name }}, we passed your order on.",
     "actions": {"tag": ["order-question"]}},
    {"name": "quoted", "kinds": ["quote"], "reply": "Thanks for quoting us, {{ name }}: \"{{ event.text }}\""},
    {"name": "catch-all", "kinds": ["direct"], "priority": -10, "reply": "Thanks for your message, {{ name }}!"},
]
#: Rules whose reply must contain the display name exactly as the person wrote it.
NAMES_LITERALLY = {"rule:greet", "rule:order", "rule:catch-all", "rule:quoted"}


@pytest.fixture
async def fuzz_bot(make_bot: MakeBot, bundled: dict, monkeypatch: pytest.MonkeyPatch) -> BotHarness:
    monkeypatch.setenv("SECRET_TOKEN", SECRET)
    return await make_bot(
        rules=RULES,
        plugins=["optout", "handoff", "loyalty", "help", "link"],
        config={**bundled, "brand": {"name": "Fuzz Brand", "url": "https://brand.test", "secret": "${SECRET_TOKEN}"},
                "admins": {"memory": ["staff"]}},
        networks=["memory", "x"],
    )


def check_replies(bot: BotHarness, name: str, text: str, kind: str, caplog: pytest.LogCaptureFixture) -> None:
    handled = bot.handled[-1]
    sends = [n for n in handled.notes if n.action in ("send", "defer")]
    for note in sends:
        assert SECRET not in note.text, f"a secret leaked into a reply: {note}"
        if note.source in NAMES_LITERALLY:
            assert name in note.text, f"{note.source} did not show the name literally: {note.text!r}"
        if note.source == "rule:quoted":
            assert handled.event.text in note.text
    if kind == "direct":
        assert sends, "every direct message gets an answer (greeting, rule, plugin or catch-all)"
    assert SECRET not in caplog.text


# -- the whole pipeline ---------------------------------------------------------------------------
@PIPELINE
@given(name=display_names, text=tricky_text, kind=st.sampled_from(["direct", "mention", "reply", "quote", "message"]),
       returning=st.booleans())
async def test_any_name_and_text_goes_through_the_bot_safely(
    fuzz_bot: BotHarness, caplog: pytest.LogCaptureFixture, name: str, text: str, kind: str, returning: bool
) -> None:
    bot = fuzz_bot
    author = f"p{len(bot.handled)}"
    if returning:
        await bot.receive("direct", "hi", author=author, name=name)
    await bot.receive(kind, text, author=author, name=name, conversation=None if kind == "direct" else "lobby")
    check_replies(bot, name, text, kind, caplog)


@PIPELINE
@given(name=display_names, text=tricky_text, kind=st.sampled_from(["mention", "reply", "quote", "repost", "follow"]))
async def test_the_same_on_x_where_only_summoned_replies_are_allowed(
    fuzz_bot: BotHarness, caplog: pytest.LogCaptureFixture, name: str, text: str, kind: str
) -> None:
    bot = fuzz_bot
    handled = await bot.receive(kind, text, author=f"x{len(bot.handled)}", name=name, network="x")
    check_replies(bot, name, text, kind, caplog)
    if kind in ("repost", "follow"):
        assert not [n for n in handled.notes if n.action == "send"], "X forbids answering reposts and follows"


async def test_template_syntax_in_a_name_is_shown_not_run(fuzz_bot: BotHarness) -> None:
    for name in ("{{ config }}", "{{ brand.secret }}", "{% for i in range(3) %}x{% endfor %}"):
        await fuzz_bot.receive("direct", "hello", author=f"inj{len(name)}", name=name)
    assert fuzz_bot.sent == [
        "Hello {{ config }}, welcome to Fuzz Brand!",
        "Hello {{ brand.secret }}, welcome to Fuzz Brand!",
        "Hello {% for i in range(3) %}x{% endfor %}, welcome to Fuzz Brand!",
    ]


async def test_a_megabyte_message_is_truncated_with_a_note_in_the_log(
    fuzz_bot: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    huge = ("order #12345 " + "z" * 1_000_000)
    handled = await fuzz_bot.receive("direct", huge, author="big")
    limit = fuzz_bot.bot.config.top.runtime.max_text
    assert len(handled.event.text) == limit
    notes = [r.getMessage() for r in caplog.records if "truncated" in r.getMessage()]
    assert notes == [f"event memory:{handled.event.id} text truncated from {len(huge)} to {limit} characters"]
    assert SECRET not in caplog.text and "zzzz" not in caplog.text  # the log holds no text
    assert fuzz_bot.sent == ["Thanks Big, we passed your order on."]
    follower = await fuzz_bot.follower("big")
    history = await fuzz_bot.bot.store.recent_interactions(follower.id)
    assert max(len(i.text) for i in history) <= limit


async def test_a_megabyte_quote_is_echoed_only_up_to_the_limit(fuzz_bot: BotHarness) -> None:
    await fuzz_bot.receive("quote", "q" * 1_000_000, author="quoter", conversation="lobby")
    [reply] = fuzz_bot.sent
    assert reply.startswith("Thanks for quoting us, Quoter:") and len(reply) < 20_000


# -- X: tweepy objects built from generated API payloads ---------------------------------------
BRAND_ID = 4242
ids = st.one_of(st.integers(1, 2**63 - 1).map(str), st.integers(1, 2**63 - 1), st.sampled_from(["", "abc", "-1", "1e3"]))
timestamps = st.one_of(st.just("2025-05-01T10:00:00.000Z"), st.sampled_from(["", "yesterday", "2025-13-45T99:99:99Z"]))
user_payloads = st.fixed_dictionaries(
    {"id": st.one_of(st.just(str(BRAND_ID)), ids)},
    optional={"name": st.one_of(st.none(), display_names), "username": st.one_of(st.none(), tricky_text)},
)
reference_payloads = st.fixed_dictionaries(
    {"id": ids}, optional={"type": st.sampled_from(["replied_to", "quoted", "retweeted", "bogus"])})
tweet_payloads = st.fixed_dictionaries(
    {"id": ids, "edit_history_tweet_ids": st.just(["1"]), "text": tricky_text},
    optional={
        "author_id": st.one_of(st.just(str(BRAND_ID)), ids),
        "conversation_id": ids,
        "created_at": timestamps,
        "referenced_tweets": st.lists(reference_payloads, max_size=3),
    },
)
dm_payloads = st.fixed_dictionaries(
    {"id": ids, "event_type": st.sampled_from(["MessageCreate", "ParticipantsJoin", "ParticipantsLeave", ""])},
    optional={"text": st.one_of(tricky_text, st.none()), "sender_id": st.one_of(st.just(str(BRAND_ID)), ids),
              "created_at": timestamps, "dm_conversation_id": tricky_text},
)

#: What the libraries raise when a payload does not fit their model: a clean rejection.
LIBRARY_REJECTS = (KeyError, TypeError, ValueError, AttributeError)
counts: dict[str, int] = {}


def build(factory: Any, payload: Any) -> Any:
    try:
        return factory(payload)
    except LIBRARY_REJECTS:
        return None


def well_formed(event: Event, network: str) -> None:
    assert event.network == network and event.author.network == network
    assert isinstance(event.id, str) and event.id
    assert isinstance(event.author.id, str) and event.author.id
    assert isinstance(event.text, str), f"event text is {type(event.text).__name__}, not str"
    assert isinstance(event.conversation.id, str) and event.conversation.network == network
    assert event.time.tzinfo is not None
    assert event.refers_to is None or isinstance(event.refers_to, str)


@PURE
@given(tweet=tweet_payloads, users=st.lists(user_payloads, max_size=3),
       referenced=st.lists(tweet_payloads, max_size=3))
def test_x_mentions_map_or_are_ignored(tweet: dict, users: list, referenced: list) -> None:
    parsed = build(tweepy.Tweet, tweet)
    people = [u for u in (build(tweepy.User, u) for u in users) if u is not None]
    refs = [r for r in (build(tweepy.Tweet, r) for r in referenced) if r is not None]
    if parsed is None:
        counts["x rejected by tweepy"] = counts.get("x rejected by tweepy", 0) + 1
        return
    event = mention_event(parsed, {u.id: u for u in people}, {r.id: r for r in refs}, BRAND_ID, NOW)
    if event is None:
        return
    well_formed(event, "x")
    assert event.kind in (Kind.MENTION, Kind.REPLY, Kind.QUOTE) and event.addressed
    assert event.author.id != str(BRAND_ID)


def test_x_mention_without_text_still_maps_to_text() -> None:
    """A tweet whose text is null (deleted or withheld content) must not become an event
    with ``text=None``: the bot would fail on it later (len(None)) and drop it silently."""
    tweet = tweepy.Tweet({"id": "1790000000000000000", "text": None, "author_id": "77", "edit_history_tweet_ids": []})
    event = mention_event(tweet, {}, {}, BRAND_ID, NOW)
    assert event is not None and event.text == ""


@PURE
@given(message=dm_payloads, users=st.lists(user_payloads, max_size=3))
def test_x_direct_messages_map_or_are_ignored(message: dict, users: list) -> None:
    parsed = build(tweepy.DirectMessageEvent, message)
    people = [u for u in (build(tweepy.User, u) for u in users) if u is not None]
    if parsed is None:
        return
    event = dm_event(parsed, {u.id: u for u in people}, BRAND_ID, NOW)
    if event is None:
        return
    well_formed(event, "x")
    assert event.kind is Kind.DIRECT and event.conversation.private


@PURE
@given(post=tweet_payloads, user=user_payloads)
def test_x_reposts_map(post: dict, user: dict) -> None:
    parsed_post, parsed_user = build(tweepy.Tweet, post), build(tweepy.User, user)
    if parsed_post is None or parsed_user is None:
        return
    event = repost_event(parsed_post, parsed_user, NOW)
    assume(parsed_user.name is not None and parsed_user.username is not None)  # X always sends both
    well_formed(event, "x")
    assert event.kind is Kind.REPOST and not event.addressed


# -- Telegram: PTB's Update.de_json over generated Bot API payloads ------------------------------
tg_users = st.fixed_dictionaries(
    {"id": st.integers(-(2**40), 2**40), "is_bot": st.booleans(), "first_name": display_names},
    optional={"last_name": tricky_text, "username": tricky_text},
)
tg_chats = st.fixed_dictionaries(
    {"id": st.one_of(st.integers(-(2**52), 2**52), st.just(-100123)),
     "type": st.sampled_from(["private", "group", "supergroup", "channel", "weird"])},
    optional={"title": tricky_text, "username": st.one_of(st.just("brandnews"), tricky_text)},
)
tg_entities = st.lists(st.fixed_dictionaries({
    "type": st.sampled_from(["bot_command", "mention", "text_mention", "bold", "url", "unknown_kind"]),
    "offset": st.integers(-3, 300), "length": st.integers(-3, 300)},
    optional={"user": tg_users}), max_size=4)
tg_origin = st.fixed_dictionaries({"type": st.sampled_from(["channel", "user", "hidden_user", "chat"]),
                                   "date": st.integers(0, 2**31)},
                                  optional={"chat": tg_chats, "message_id": st.integers(0, 10**6),
                                            "sender_user": tg_users, "sender_user_name": tricky_text})


def tg_message(depth: int = 0) -> st.SearchStrategy[dict]:
    optional: dict[str, Any] = {
        "from": tg_users, "text": tricky_text, "caption": tricky_text, "entities": tg_entities,
        "caption_entities": tg_entities, "sender_chat": tg_chats, "forward_origin": tg_origin,
        "is_automatic_forward": st.booleans(), "quote": st.fixed_dictionaries({"text": tricky_text, "position": st.integers(0, 99)}),
        "external_reply": st.fixed_dictionaries({"origin": tg_origin}), "photo": st.just([]),
        "sticker": st.just({"file_id": "f", "file_unique_id": "u", "type": "regular", "width": 1, "height": 1,
                            "is_animated": False, "is_video": False}),
    }
    if depth == 0:
        optional["reply_to_message"] = tg_message(1)
    return st.fixed_dictionaries(
        {"message_id": st.integers(-5, 10**9), "date": st.integers(0, 2**31), "chat": tg_chats}, optional=optional
    ).map(_entities_need_their_text)


def _entities_need_their_text(message: dict) -> dict:
    """Telegram sends ``entities`` only with ``text`` and ``caption_entities`` only with a
    caption; offsets and lengths stay arbitrary (they may point past the end)."""
    for entities, text in (("entities", "text"), ("caption_entities", "caption")):
        if text not in message:
            message.pop(entities, None)
    return message


tg_member = st.fixed_dictionaries({"status": st.sampled_from(["member", "left", "kicked", "administrator", "creator", "restricted"]),
                                   "user": tg_users},
                                  optional={"until_date": st.integers(0, 2**31), "is_member": st.booleans()})
tg_updates = st.fixed_dictionaries({"update_id": st.integers(0, 2**31)}, optional={
    "message": tg_message(),
    "chat_member": st.fixed_dictionaries({"chat": tg_chats, "from": tg_users, "date": st.integers(0, 2**31),
                                          "old_chat_member": tg_member, "new_chat_member": tg_member},
                                         optional={"via_join_request": st.booleans()}),
    "my_chat_member": st.fixed_dictionaries({"chat": tg_chats, "from": tg_users, "date": st.integers(0, 2**31),
                                             "old_chat_member": tg_member, "new_chat_member": tg_member}),
    "message_reaction": st.fixed_dictionaries(
        {"chat": tg_chats, "message_id": st.integers(0, 10**6), "date": st.integers(0, 2**31),
         "old_reaction": st.lists(st.fixed_dictionaries({"type": st.just("emoji"), "emoji": st.sampled_from(["👍", "❤", "🔥"])}), max_size=2),
         "new_reaction": st.lists(st.one_of(
             st.fixed_dictionaries({"type": st.just("emoji"), "emoji": st.sampled_from(["👍", "❤", "🔥"])}),
             st.fixed_dictionaries({"type": st.just("custom_emoji"), "custom_emoji_id": tricky_text}),
             st.fixed_dictionaries({"type": st.just("paid")})), max_size=2)},
        optional={"user": tg_users}),
})
TRANSLATOR = UpdateTranslator(BotIdentity(999, "brandbot"), ChatSet(["@brandnews", "-100123"]), ChatSet([]))


@PURE
@given(payload=tg_updates)
def test_telegram_updates_map_or_are_ignored(payload: dict) -> None:
    update = build(lambda p: Update.de_json(p, None), payload)
    if update is None:
        counts["telegram rejected by PTB"] = counts.get("telegram rejected by PTB", 0) + 1
        return
    event = TRANSLATOR.translate(update)
    blocked = TRANSLATOR.blocked_by(update)
    assert blocked is None or isinstance(blocked, str)
    if event is not None:
        well_formed(event, "telegram")
        assert event.id == f"u{payload['update_id']}"
        assert event.author.id != "999"  # never the bot itself
        if event.kind is Kind.COMMAND:
            assert event.command is not None and event.addressed


# -- Discord: discord.py's Message over generated gateway payloads ---------------------------------
def discord_world() -> tuple[DiscordNetwork, Any, Any]:
    net = DiscordNetwork(DiscordConfig(token="x" * 59, announcement_channels=[555]))
    client = discord.Client(intents=discord.Intents.default())
    state = client._connection
    state.user = discord.ClientUser(state=state, data={"id": "999", "username": "brandbot", "discriminator": "0", "avatar": None})
    guild = state._add_guild_from_data({
        "id": "88", "name": "Brand", "roles": [], "members": [], "emojis": [], "stickers": [], "member_count": 1,
        "features": [], "unavailable": False,
        "channels": [{"id": "77", "type": 0, "name": "general", "position": 0, "guild_id": "88"},
                     {"id": "555", "type": 5, "name": "news", "position": 1, "guild_id": "88"}]})
    net._client = client
    return net, state, guild


d_users = st.fixed_dictionaries({"id": st.one_of(st.just("999"), st.integers(1, 2**63 - 1).map(str)),
                                 "username": tricky_text, "discriminator": st.just("0"), "avatar": st.none()},
                                optional={"bot": st.booleans(), "global_name": st.one_of(st.none(), display_names)})
d_messages = st.fixed_dictionaries(
    {"id": st.integers(1, 2**63 - 1).map(str), "channel_id": st.sampled_from(["77", "555", "12345"]),
     "author": d_users, "content": st.one_of(tricky_text, st.just("see https://discord.com/channels/88/555/444 <@999>")),
     "timestamp": st.just("2025-05-01T10:00:00+00:00"), "edited_timestamp": st.none(), "tts": st.booleans(),
     "mention_everyone": st.booleans(), "mentions": st.lists(d_users, max_size=2),
     "mention_roles": st.lists(st.integers(1, 10**6).map(str), max_size=2), "attachments": st.just([]),
     "embeds": st.just([]), "pinned": st.booleans(), "type": st.sampled_from([0, 7, 19, 20, 6, 99])},
    optional={"guild_id": st.just("88"), "webhook_id": st.just("31"),
              "message_reference": st.fixed_dictionaries(
                  {"message_id": st.integers(1, 10**6).map(str), "channel_id": st.sampled_from(["77", "555"])},
                  optional={"type": st.sampled_from([0, 1]), "guild_id": st.just("88")}),
              "referenced_message": st.none()},
)


@PURE
@given(payload=d_messages)
def test_discord_messages_map_or_are_ignored(payload: dict) -> None:
    net, state, guild = DISCORD
    if "guild_id" in payload:
        channel: Any = guild.get_channel(int(payload["channel_id"])) or discord.PartialMessageable(
            state=state, id=int(payload["channel_id"]), guild_id=88)
    else:
        channel = discord.PartialMessageable(state=state, id=int(payload["channel_id"]))
    message = build(lambda p: discord.Message(state=state, channel=channel, data=p), payload)
    if message is None:
        return
    event = net._message_event(message)
    if event is not None:
        well_formed(event, "discord")
        assert event.author.id != "999" and not payload["author"].get("bot")


# -- line parsers -----------------------------------------------------------------------------------
@PURE
@given(line=st.one_of(tricky_text, st.sampled_from(["@ana: /", "@a #r: !react", "@x: !quote", "/", "//", "@: hi", "@ana:"])))
def test_console_lines_parse_or_are_blank(line: str) -> None:
    net = CONSOLE
    event = net.parse(line)
    if event is not None:
        well_formed(event, "console")
        assert event.kind is not Kind.COMMAND or event.command is not None


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | tricky_text,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky_text, inner, max_size=3),
                           max_leaves=8)
feed_objects = st.fixed_dictionaries({}, optional={
    "kind": st.one_of(st.sampled_from([k.value for k in Kind]), tricky_text, json_values),
    "author": st.one_of(tricky_text, json_values), "text": st.one_of(tricky_text, json_values),
    "id": json_values, "name": json_values, "conversation": json_values, "private": json_values,
    "time": st.one_of(st.just("2025-05-01T10:00:00"), tricky_text, json_values), "network": json_values,
    "refers_to": json_values, "addressed": json_values,
})


@PURE
@given(raw=st.one_of(st.binary(max_size=300), feed_objects.map(lambda o: json.dumps(o).encode()),
                     json_values.map(lambda o: json.dumps(o).encode())))
def test_feed_lines_are_events_or_errors_naming_the_line(raw: bytes) -> None:
    try:
        event = parse_line(raw, 9, FEED_PATH, "feed")
    except ConfigError as exc:
        assert "in.jsonl:9" in str(exc)
        return
    if event is not None:
        well_formed(event, "feed")


@pytest.mark.parametrize("line", [
    '{"author": "ana", "time": "yesterday"}',  # ValueError from fromisoformat: a traceback
    '{"author": "ana", "time": 5}',  # TypeError
    '{"author": "ana", "id": null}',  # becomes the id "None": every such line dedupes into one
    '{"author": "ana", "name": null}',  # becomes the name "None"
    '{"author": "ana", "refers_to": ["x"]}',  # a list where text belongs
])
def test_simulate_rejects_a_bad_field_naming_the_line(line: str) -> None:
    """``brandbot simulate`` (and anything else using parse_event) must answer a bad field
    with a ConfigError naming the line, never a traceback or a silently wrong event."""
    from brandbot.ops.simulate import parse_event

    with pytest.raises(ConfigError) as caught:
        parse_event(line, 4, "events.jsonl")
    assert "events.jsonl:4" in str(caught.value)


CONSOLE = ConsoleNetwork()
FEED_PATH = Path("in.jsonl")
DISCORD = discord_world()


def teardown_module() -> None:
    print("\nfuzz: examples rejected by the libraries' own parsers:", counts)
