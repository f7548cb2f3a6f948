"""The Bluesky adapter on atproto's real async client, against a fake PDS on loopback."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from brandbot.clocks import FakeClock
from brandbot.core.config import load_config
from brandbot.core.errors import (
    ConfigError,
    PermanentSendError,
    RateLimitedError,
    TransientSendError,
)
from brandbot.core.events import Conversation, Kind, Outgoing, Person, Reply
from brandbot.networks import bluesky, skytext
from brandbot.networks.base import NetworkState
from brandbot.networks.bluesky import CURSOR, BlueskyConfig, BlueskyNetwork
from brandbot.networks.registry import build_network
from brandbot.runtime.bot import Bot
from brandbot.store.sqlite import SqliteStore
from tests.fake_bluesky import (
    APP_PASSWORD,
    CREATE_RECORD,
    CREATE_SESSION,
    GET_POSTS,
    GET_PROFILE,
    GET_RECORD,
    HANDLE,
    LIST_NOTIFICATIONS,
    FakeBluesky,
)
from tests.support.host import RecordingHost
from tests.support.polling import OrderHost
from tests.support.waiting import NappingClock, until


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def fake(clock: FakeClock) -> AsyncIterator[FakeBluesky]:
    server = await FakeBluesky(clock=clock).start()
    yield server
    await server.stop()


def config_for(fake: FakeBluesky, **overrides: Any) -> BlueskyConfig:
    return BlueskyConfig.model_validate({"handle": HANDLE, "app_password": APP_PASSWORD, "api_base_url": fake.url,
                                         **overrides})


@pytest.fixture
async def make_network(fake: FakeBluesky, clock: FakeClock) -> AsyncIterator[Callable[..., BlueskyNetwork]]:
    made: list[BlueskyNetwork] = []

    def make(*, background: bool = False, net_clock: Any = None, **overrides: Any) -> BlueskyNetwork:
        network = BlueskyNetwork(config_for(fake, **overrides), clock=net_clock or clock,
                                 poll_in_background=background)
        made.append(network)
        return network

    yield make
    for network in made:
        await network.stop()


@pytest.fixture
async def started(make_network: Callable[..., BlueskyNetwork]) -> AsyncIterator[tuple[BlueskyNetwork, RecordingHost]]:
    network, host = make_network(), RecordingHost()
    await network.start(host)
    yield network, host
    await network.stop()


CREATED = datetime(2026, 12, 7, 20, 0, 0, 123456, tzinfo=UTC)


def answer(post: str | None, text: str, outbox_id: int = 1, conversation: Conversation | None = None) -> Outgoing:
    conversation = conversation or Conversation("bluesky", post or "new")
    return Outgoing(outbox_id, Reply("bluesky", conversation, text, in_reply_to=post), created=CREATED)


# ---------------------------------------------------------------------- receiving


async def test_every_kind_of_notification_becomes_the_expected_event(
    fake: FakeBluesky, started: tuple[BlueskyNetwork, RecordingHost]
) -> None:
    network, host = started
    ana = fake.add_account("ana", "Ana")
    ben = fake.add_account("ben")
    launch = fake.brand_post("The Salt Orchard is out today")
    mention = fake.push_mention(ana, "when is the tour?")
    reply = fake.push_reply(ben, "congrats!", to=launch)
    quote = fake.push_quote(ana, "so good", of=launch)
    repost = fake.push_repost(ben, launch)
    like = fake.push_like(ana, launch)
    follow = fake.push_follow(ben)
    fake.push_other("starterpack-joined", ana)

    assert await network.poll_once() == 6
    assert [(e.kind, e.id) for e in host.events] == [
        (Kind.MENTION, mention), (Kind.REPLY, reply), (Kind.QUOTE, quote), (Kind.REPOST, repost),
        (Kind.REACTION, like), (Kind.FOLLOW, follow)]
    m, r, q, rp, lk, fo = host.events
    assert m.author == Person("bluesky", ana["did"], "ana.fake.social", "Ana")
    assert m.text == f"@{HANDLE} when is the tour?" and m.addressed and m.post_id == mention
    assert m.conversation == Conversation("bluesky", mention)  # a new thread: the post is its root
    assert r.refers_to == launch and r.conversation.id == launch and r.addressed  # the thread of the brand post
    assert q.refers_to == launch and q.addressed and q.text == "so good"
    assert rp.refers_to == launch and not rp.addressed
    assert lk.refers_to == launch and lk.extra("emoji") == "❤"
    assert not fo.addressed and fo.author.handle == "ben.fake.social"
    assert all(e.time.tzinfo is not None for e in host.events)
    assert host.cursors[CURSOR]


async def test_the_brands_own_actions_are_skipped(fake: FakeBluesky, started: tuple[BlueskyNetwork, RecordingHost]) -> None:
    network, host = started
    launch = fake.brand_post("hi")
    fake.push_like(fake.brand, launch)
    assert await network.poll_once() == 0
    assert host.events == []


async def test_first_start_does_not_replay_and_a_restart_resumes_from_the_cursor(
    fake: FakeBluesky, make_network: Callable[..., BlueskyNetwork]
) -> None:
    ana = fake.add_account("ana")
    fake.push_mention(ana, "old")
    host = RecordingHost()
    first = make_network()
    await first.start(host)
    assert await first.poll_once() == 0
    one = fake.push_mention(ana, "one")
    assert await first.poll_once() == 1
    await first.stop()

    two = fake.push_mention(ana, "two")
    second = make_network()
    await second.start(host)
    assert await second.poll_once() == 1
    assert [e.id for e in host.events] == [one, two]
    assert await second.poll_once() == 0


async def test_notifications_indexed_at_the_same_moment_are_neither_lost_nor_replayed(
    fake: FakeBluesky, make_network: Callable[..., BlueskyNetwork]
) -> None:
    host = RecordingHost()
    network = make_network()
    await network.start(host)
    ana = fake.add_account("ana")
    first = fake.push_mention(ana, "one")
    assert await network.poll_once() == 1
    second = fake.push_mention(ana, "two")
    fake.notifications[-1]["indexedAt"] = fake.notifications[-2]["indexedAt"]  # the same millisecond
    assert await network.poll_once() == 1
    await network.stop()

    again = make_network()
    await again.start(host)  # the saved cursor names both
    assert await again.poll_once() == 0
    assert [e.id for e in host.events] == [first, second]


async def test_a_long_backlog_is_paged_back_to_the_cursor_and_submitted_oldest_first(
    fake: FakeBluesky, started: tuple[BlueskyNetwork, RecordingHost]
) -> None:
    network, host = started
    ana = fake.add_account("ana")
    posted = [fake.push_mention(ana, f"n{i}") for i in range(130)]
    assert await network.poll_once() == 130
    assert [e.id for e in host.events] == posted
    assert len(fake.calls_to(LIST_NOTIFICATIONS)) >= 1 + 3


async def test_past_the_page_budget_the_oldest_are_skipped_and_the_gap_logged(
    fake: FakeBluesky, started: tuple[BlueskyNetwork, RecordingHost], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    network, host = started
    monkeypatch.setattr(bluesky, "MAX_PAGES", 2)
    ana = fake.add_account("ana")
    posted = [fake.push_mention(ana, f"n{i}") for i in range(130)]
    with caplog.at_level(logging.WARNING):
        assert await network.poll_once() == 2 * bluesky.PAGE_SIZE
    assert [e.id for e in host.events] == posted[-2 * bluesky.PAGE_SIZE:]
    assert "not fetched and not answered" in caplog.text


async def test_the_cursor_is_saved_only_after_the_events_are_settled(
    fake: FakeBluesky, make_network: Callable[..., BlueskyNetwork]
) -> None:
    network, host = make_network(), OrderHost()
    await network.start(host)
    ana = fake.add_account("ana")
    fake.push_mention(ana, "a")
    fake.push_mention(ana, "b")
    host.order.clear()
    await network.poll_once()
    assert host.order == ["submit", "submit", "settled", "save"]


# ---------------------------------------------------------------------- sending


async def test_a_reply_in_a_thread_names_its_root_and_parent(
    fake: FakeBluesky, started: tuple[BlueskyNetwork, RecordingHost]
) -> None:
    network, host = started
    ben = fake.add_account("ben")
    launch = fake.brand_post("Out today")
    reply = fake.push_reply(ben, "congrats! when is the tour?", to=launch)
    await network.poll_once()
    event = host.events[0]
    sent = await network.send(answer(event.post_id, "Thanks! Monday.", conversation=event.conversation))
    [post] = fake.posted
    assert post["reply"]["parent"]["uri"] == reply and post["reply"]["parent"]["cid"] == fake.records[reply]["cid"]
    assert post["reply"]["root"]["uri"] == launch and post["reply"]["root"]["cid"] == fake.records[launch]["cid"]
    assert sent.post_ids == (post["uri"],)
    assert fake.calls_to(GET_POSTS) == []  # known from the notification


async def test_after_a_restart_the_post_is_looked_up_for_its_refs(
    fake: FakeBluesky, started: tuple[BlueskyNetwork, RecordingHost]
) -> None:
    network, _ = started
    ben = fake.add_account("ben")
    launch = fake.brand_post("Out today")
    first = fake.push_reply(ben, "nice", to=launch)
    deeper = fake.push_reply(ben, "and more", to=first)  # never polled by this process
    await network.send(answer(deeper, "Thank you!"))
    [post] = fake.posted
    assert post["reply"]["parent"]["uri"] == deeper and post["reply"]["root"]["uri"] == launch
    assert len(fake.calls_to(GET_POSTS)) == 1


async def test_mentions_and_links_get_facets_with_utf8_byte_offsets(
    fake: FakeBluesky, started: tuple[BlueskyNetwork, RecordingHost]
) -> None:
    network, _ = started
    ana = fake.add_account("ana")
    text = "Merci, chère @ana.fake.social ✨ — https://inkwell.example/tour"
    await network.send(answer(None, text))
    [post] = fake.posted
    encoded = text.encode("utf-8")
    by_kind = {f["features"][0]["$type"]: f for f in post["facets"]}
    mention = by_kind["app.bsky.richtext.facet#mention"]
    link = by_kind["app.bsky.richtext.facet#link"]
    start, end = mention["index"]["byteStart"], mention["index"]["byteEnd"]
    assert encoded[start:end].decode() == "@ana.fake.social" and mention["features"][0]["did"] == ana["did"]
    start, end = link["index"]["byteStart"], link["index"]["byteEnd"]
    assert encoded[start:end].decode() == "https://inkwell.example/tour"
    assert link["features"][0]["uri"] == "https://inkwell.example/tour"
    assert "reply" not in post or post["reply"] is None


async def test_a_new_post_for_a_person_names_them_with_a_mention_facet(
    fake: FakeBluesky, started: tuple[BlueskyNetwork, RecordingHost]
) -> None:
    network, _ = started
    ana = fake.add_account("ana", "Ana")
    thanks = Outgoing(1, Reply("bluesky", Conversation("bluesky", "x"), "Thanks for the repost!",
                               recipient=Person("bluesky", ana["did"])), created=CREATED)  # the DID only, as stored
    await network.send(thanks)
    await network.send(Outgoing(2, thanks.reply, created=CREATED))
    assert [p["text"] for p in fake.posted] == ["@ana.fake.social Thanks for the repost!"] * 2
    [facet] = fake.posted[0]["facets"]
    assert facet["features"][0]["did"] == ana["did"]
    assert (facet["index"]["byteStart"], facet["index"]["byteEnd"]) == (0, len("@ana.fake.social"))
    assert len(fake.calls_to(GET_PROFILE)) == 1  # remembered after the first look-up
    with pytest.raises(PermanentSendError, match="handle of the person"):
        await network.send(Outgoing(3, Reply("bluesky", Conversation("bluesky", "x"), "a" * 290,
                                             recipient=Person("bluesky", ana["did"])), created=CREATED))


async def test_the_record_key_is_a_tid_from_the_outbox_row_and_a_resend_posts_once(
    fake: FakeBluesky, started: tuple[BlueskyNetwork, RecordingHost]
) -> None:
    network, _ = started
    first = await network.send(answer(None, "Tour starts Monday", outbox_id=5))
    again = await network.send(answer(None, "Tour starts Monday", outbox_id=5))  # resend after a crash
    other = await network.send(answer(None, "Tour starts Monday", outbox_id=6))
    assert first == again and other != first
    assert len(fake.posted) == 2
    rkey = fake.posted[0]["rkey"]
    assert skytext.is_tid(rkey) and rkey == skytext.outbox_rkey(5, CREATED)
    assert skytext.tid_time(rkey) == CREATED
    assert len(fake.calls_to(GET_RECORD)) == 1  # the refused duplicate was confirmed, not assumed


async def test_an_older_pds_answering_a_duplicate_with_500_is_understood_too(
    fake: FakeBluesky, started: tuple[BlueskyNetwork, RecordingHost]
) -> None:
    network, _ = started
    fake.duplicate_status = 500
    first = await network.send(answer(None, "Hello", outbox_id=9))
    assert await network.send(answer(None, "Hello", outbox_id=9)) == first
    assert len(fake.posted) == 1


@given(micros=st.integers(0, 2**53 - 2), clock_id=st.integers(0, 1023))
def test_tids_are_valid_sortable_and_keep_their_time(micros: int, clock_id: int) -> None:
    key = skytext.tid(micros, clock_id)
    assert skytext.is_tid(key) and len(key) == 13
    assert skytext.tid(micros + 1, clock_id) > key  # base32-sortable: later is larger as text
    assert skytext.tid_time(key) == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def test_record_keys_differ_per_row_and_across_fresh_databases() -> None:
    one = skytext.outbox_rkey(1, CREATED)
    assert one == skytext.outbox_rkey(1, CREATED)
    assert one != skytext.outbox_rkey(2, CREATED)
    assert one != skytext.outbox_rkey(1, datetime(2027, 1, 1, tzinfo=UTC))


async def test_text_over_300_graphemes_is_refused_before_calling_the_pds(
    fake: FakeBluesky, started: tuple[BlueskyNetwork, RecordingHost]
) -> None:
    network, _ = started
    family = "👩‍👩‍👧‍👦"
    assert network.check_text(family * 300) is None  # 300 graphemes, 2100 bytes
    assert network.length_of(family * 2) == 2
    assert network.check_text(" ") is not None
    with pytest.raises(PermanentSendError, match="300"):
        await network.send(answer(None, "a" * 301))
    assert fake.calls_to(CREATE_RECORD) == []


async def test_an_expired_session_is_refreshed_by_the_client_without_a_new_login(
    clock: FakeClock,
) -> None:
    fake = await FakeBluesky(clock=clock, token_lifetime=600).start()  # under the client's 15-minute margin
    network = BlueskyNetwork(config_for(fake), clock=clock, poll_in_background=False)
    try:
        await network.start(RecordingHost())
        await network.send(answer(None, "Hello"))
        assert fake.refreshes >= 1 and fake.sessions_created == 1
    finally:
        await network.stop()
        await fake.stop()


async def test_a_token_the_server_calls_expired_gets_one_new_login(
    fake: FakeBluesky, started: tuple[BlueskyNetwork, RecordingHost]
) -> None:
    network, _ = started
    fake.expire_tokens()
    await network.send(answer(None, "Hello"))
    assert len(fake.posted) == 1 and fake.sessions_created == 2


async def test_a_429_gives_the_reset_time_then_delivers_once(
    fake: FakeBluesky, started: tuple[BlueskyNetwork, RecordingHost]
) -> None:
    network, _ = started
    fake.fail_next(CREATE_RECORD, 429, reset_in=90)
    with pytest.raises(RateLimitedError) as caught:
        await network.send(answer(None, "Hello"))
    assert caught.value.retry_after == pytest.approx(90, abs=2)
    fake.window.used = 0
    await network.send(answer(None, "Hello"))
    assert len(fake.posted) == 1


async def test_server_errors_are_transient_and_a_deleted_parent_is_permanent(
    fake: FakeBluesky, started: tuple[BlueskyNetwork, RecordingHost]
) -> None:
    network, _ = started
    fake.fail_next(CREATE_RECORD, 503)
    with pytest.raises(TransientSendError):
        await network.send(answer(None, "Hello"))
    ben = fake.add_account("ben")
    gone = fake.push_mention(ben, "hi")
    fake.delete(gone)
    with pytest.raises(PermanentSendError, match="gone"):
        await network.send(answer(gone, "Hello", outbox_id=2))
    with pytest.raises(PermanentSendError, match="direct messages"):
        await network.send(answer(None, "psst", conversation=Conversation("bluesky", "dm", private=True)))
    await fake.stop()
    with pytest.raises(TransientSendError):
        await network.send(answer(None, "Hello", outbox_id=3))


# ---------------------------------------------------------------------- loops, lifecycle, secrets


async def test_the_poll_loop_waits_out_a_429_and_backs_off_on_5xx(
    fake: FakeBluesky, make_network: Callable[..., BlueskyNetwork]
) -> None:
    clock = NappingClock()
    fake.use_clock(clock)
    network, host = make_network(background=True, net_clock=clock), RecordingHost()
    await network.start(host)
    await until(lambda: clock.naps == [15])
    fake.fail_next(LIST_NOTIFICATIONS, 503, times=2)
    for step, expected in ((15, 30), (30, 60), (60, 15)):
        naps = len(clock.naps)
        clock.advance(step)
        await until(lambda naps=naps: len(clock.naps) == naps + 1)
        assert clock.naps[-1] == expected
    assert host.states[-1][0] is NetworkState.READY
    fake.fail_next(LIST_NOTIFICATIONS, 429, reset_in=120)
    clock.advance(15)
    await until(lambda: len(clock.naps) == 5)
    assert clock.naps[-1] == pytest.approx(121, abs=2)
    assert host.states[-1][0] is NetworkState.DEGRADED


async def test_a_wrong_app_password_fails_start_with_a_config_error_naming_no_secret(
    fake: FakeBluesky, clock: FakeClock
) -> None:
    network = BlueskyNetwork(config_for(fake, app_password="wrong-pass-1234"), clock=clock)
    host = RecordingHost()
    with pytest.raises(ConfigError, match="app_password") as caught:
        await network.start(host)
    assert "wrong-pass-1234" not in str(caught.value)
    assert host.states[-1][0] is NetworkState.FAILED


async def test_a_start_while_the_pds_is_down_is_degraded_and_the_loop_recovers(
    fake: FakeBluesky, make_network: Callable[..., BlueskyNetwork]
) -> None:
    fake.fail_next(CREATE_SESSION, 502)
    network, host = make_network(background=True), RecordingHost()
    await network.start(host)
    assert host.states[-1][0] is NetworkState.DEGRADED
    await until(lambda: host.states[-1][0] is NetworkState.READY)


async def test_the_app_password_stays_out_of_logs_and_reprs(
    fake: FakeBluesky, started: tuple[BlueskyNetwork, RecordingHost], caplog: pytest.LogCaptureFixture
) -> None:
    network, _ = started
    with caplog.at_level(logging.DEBUG):
        ana = fake.add_account("ana")
        fake.push_mention(ana, "hi")
        await network.poll_once()
        await network.send(answer(None, "Hello"))
    assert APP_PASSWORD not in caplog.text and APP_PASSWORD not in repr(network.config)


async def test_stop_is_idempotent_and_sending_after_it_is_transient(make_network: Callable[..., BlueskyNetwork]) -> None:
    network, host = make_network(), RecordingHost()
    await network.start(host)
    await network.stop()
    await network.stop()
    assert [s for s, _ in host.states].count(NetworkState.CLOSED) == 1
    with pytest.raises(TransientSendError):
        await network.send(answer(None, "after stop"))


def test_config_errors_say_what_to_fix() -> None:
    with pytest.raises(pydantic.ValidationError, match="https://"):
        BlueskyConfig.model_validate({"handle": "a.b", "app_password": "x", "api_base_url": "bsky.social"})
    with pytest.raises(pydantic.ValidationError, match="at least 2 seconds"):
        BlueskyConfig.model_validate({"handle": "a.b", "app_password": "x", "poll_interval": 0.5})
    assert BlueskyConfig.model_validate({"handle": "@a.b", "app_password": "x"}).handle == "a.b"


# ---------------------------------------------------------------------- through the bot


async def test_a_yaml_rule_answers_a_bluesky_mention_through_the_bot(
    fake: FakeBluesky, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BLUESKY_TEST_PASSWORD", APP_PASSWORD)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"rules": [
        {"name": "tour", "kinds": ["mention", "reply"], "match": {"any": ["tour"]},
         "reply": "Hi {{ name }}, the tour starts Monday!"}]}))
    settings = {
        "brand": {"name": "Test Brand", "url": "https://brand.test"},
        "storage": {"path": ":memory:"},
        "networks": {"bluesky": {"enabled": True, "handle": HANDLE, "app_password": "${BLUESKY_TEST_PASSWORD}",
                                 "api_base_url": fake.url}},
        "rules": ["rules.yaml"],
        "plugin_dirs": [],
    }
    (tmp_path / "brandbot.yaml").write_text(yaml.safe_dump(settings))
    config = load_config(tmp_path / "brandbot.yaml")
    [section] = config.networks
    network = build_network(section.name, dict(section.settings), poll_in_background=False)
    assert isinstance(network, BlueskyNetwork)
    bot = Bot(config, store=SqliteStore(":memory:"), networks={"bluesky": network}, plugins=[])
    await bot.start()
    try:
        ana = fake.add_account("ana", "Ana")
        mention = fake.push_mention(ana, "when is the tour?")
        await network.poll_once()
        await bot.settled()
        await fake.wait_until(lambda: bool(fake.posted))
        await bot.outbox.drain()
    finally:
        await bot.stop()
    [post] = fake.posted
    assert post["text"] == "Hi Ana, the tour starts Monday!"
    assert post["reply"]["parent"]["uri"] == mention and post["reply"]["root"]["uri"] == mention


def test_brandbot_check_knows_the_bluesky_and_mastodon_limits(tmp_path: Path) -> None:
    from brandbot.ops.cli import check_config

    long_reply = "Thanks {{ name }}! " + "The tour goes on. " * 20  # about 380 characters
    settings = {
        "brand": {"name": "Test Brand"},
        "storage": {"path": ":memory:"},
        "networks": {
            "bluesky": {"enabled": True, "handle": HANDLE, "app_password": "x"},
            "mastodon": {"enabled": True, "api_base_url": "https://m.example", "access_token": "y"},
        },
        "rules": ["rules.yaml"],
        "plugin_dirs": [],
    }
    (tmp_path / "brandbot.yaml").write_text(yaml.safe_dump(settings))
    for networks, problem in ((None, "cannot be sent on bluesky: the text is 3.. characters"), (["mastodon"], None)):
        rule: dict[str, Any] = {"name": "long", "kinds": ["mention"], "reply": long_reply}
        if networks:
            rule["networks"] = networks
        (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"rules": [rule]}))
        config = load_config(tmp_path / "brandbot.yaml")
        if problem is None:
            assert "networks: bluesky, mastodon" in check_config(config)
        else:
            with pytest.raises(ConfigError, match=problem):
                check_config(config)
    rule = {"name": "longer", "kinds": ["mention"], "networks": ["mastodon"], "reply": long_reply * 2}
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"rules": [rule]}))
    with pytest.raises(ConfigError, match="over the instance's limit of 500"):
        check_config(load_config(tmp_path / "brandbot.yaml"))
