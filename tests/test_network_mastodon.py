"""The Mastodon adapter on the real Mastodon.py, against a fake instance's REST API on loopback."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml

from brandbot.clocks import FakeClock
from brandbot.core.config import load_config
from brandbot.core.errors import (
    ConfigError,
    PermanentSendError,
    RateLimitedError,
    TransientSendError,
)
from brandbot.core.events import Conversation, Kind, Outgoing, Person, Reply
from brandbot.networks import mastotext
from brandbot.networks.base import NetworkState
from brandbot.networks.mastodon import CURSOR, MastodonConfig, MastodonNetwork, idempotency_key
from brandbot.networks.registry import build_network
from brandbot.runtime.bot import Bot
from brandbot.store.sqlite import SqliteStore
from tests.fake_mastodon import (
    ACCOUNT,
    INSTANCE,
    NOTIFICATIONS,
    POST_STATUS,
    STATUS,
    TOKEN,
    FakeMastodon,
)
from tests.support.host import RecordingHost
from tests.support.polling import OrderHost
from tests.support.waiting import NappingClock, until


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def fake(clock: FakeClock) -> AsyncIterator[FakeMastodon]:
    server = await FakeMastodon(clock=clock).start()
    yield server
    await server.stop()


def config_for(fake: FakeMastodon, **overrides: Any) -> MastodonConfig:
    return MastodonConfig.model_validate({"api_base_url": fake.url, "access_token": TOKEN, **overrides})


@pytest.fixture
async def make_network(fake: FakeMastodon, clock: FakeClock) -> AsyncIterator[Callable[..., MastodonNetwork]]:
    made: list[MastodonNetwork] = []

    def make(*, background: bool = False, net_clock: Any = None, **overrides: Any) -> MastodonNetwork:
        network = MastodonNetwork(config_for(fake, **overrides), clock=net_clock or clock,
                                  poll_in_background=background)
        made.append(network)
        return network

    yield make
    for network in made:
        await network.stop()


@pytest.fixture
async def started(make_network: Callable[..., MastodonNetwork]) -> AsyncIterator[tuple[MastodonNetwork, RecordingHost]]:
    network, host = make_network(), RecordingHost()
    await network.start(host)
    yield network, host
    await network.stop()


def answer(event_post: str | None, text: str, conversation: Conversation | None = None, outbox_id: int = 1,
           recipient: Person | None = None) -> Outgoing:
    conversation = conversation or Conversation("mastodon", event_post or "0")
    return Outgoing(outbox_id, Reply("mastodon", conversation, text, in_reply_to=event_post, recipient=recipient),
                    created=datetime(2026, 12, 7, 20, 0, 0, outbox_id, tzinfo=UTC))


# ---------------------------------------------------------------------- receiving


async def test_every_kind_of_notification_becomes_the_expected_event(
    fake: FakeMastodon, started: tuple[MastodonNetwork, RecordingHost]
) -> None:
    network, host = started
    ana = fake.add_account("ana", "Ana")
    ben = fake.add_account("ben", "Ben", domain="other.example")
    launch = fake.brand_status("The Salt Orchard is out today")
    mention = fake.push_mention(ana, "when is the tour?\nasking for a friend & me")
    reply = fake.push_mention(ben, "congrats!", in_reply_to=launch)
    direct = fake.push_mention(ana, "my order #12 never came", visibility="direct", spoiler_text="order")
    quote = fake.push_quote(ben, "this looks lovely", of=launch)
    fake.push_reblog(ana, launch)
    fake.push_favourite(ben, launch)
    fake.push_follow(ana)
    fake.push_other("poll", ana, launch)  # a poll ended: nothing for brandbot
    fake.push_other("update", ben, launch)

    assert await network.poll_once() == 7
    kinds = [(e.kind, e.author.handle) for e in host.events]
    assert kinds == [(Kind.MENTION, "ana"), (Kind.REPLY, "ben@other.example"), (Kind.DIRECT, "ana"),
                     (Kind.QUOTE, "ben@other.example"), (Kind.REPOST, "ana"), (Kind.REACTION, "ben@other.example"),
                     (Kind.FOLLOW, "ana")]
    m, r, d, q, rb, fav, fol = host.events
    assert m.text == "@brand when is the tour?\nasking for a friend & me"  # HTML to the text people typed
    assert m.addressed and m.post_id == mention and m.conversation == Conversation("mastodon", mention)
    assert m.author == Person("mastodon", ana["id"], "ana", "Ana")
    assert r.refers_to == launch and r.post_id == reply and r.addressed
    assert d.conversation.private and d.conversation.id == f"dm:{ana['id']}" and d.post_id == direct
    assert d.extra("visibility") == "direct" and d.extra("spoiler_text") == "order"
    assert q.refers_to == launch and q.post_id == quote and q.addressed and q.text == "this looks lovely"
    assert rb.refers_to == launch and not rb.addressed and rb.post_id is None
    assert fav.refers_to == launch and fav.extra("emoji") == "⭐" and not fav.addressed
    assert not fol.addressed
    assert len({e.id for e in host.events}) == 7 and all(e.time.tzinfo is not None for e in host.events)
    assert host.cursors[CURSOR] == fake.notifications[-1]["id"]


async def test_a_status_that_is_both_a_quote_and_a_mention_is_one_event(
    fake: FakeMastodon, started: tuple[MastodonNetwork, RecordingHost]
) -> None:
    network, host = started
    ana = fake.add_account("ana")
    launch = fake.brand_status("Out today")
    quote = fake.push_quote(ana, "@brand this looks lovely", of=launch)
    fake.push_other("mention", ana, quote)  # the same status notified once more, as a mention
    await network.poll_once()
    assert [(e.kind, e.id) for e in host.events] == [(Kind.QUOTE, f"status:{quote}"), (Kind.MENTION, f"status:{quote}")]
    # one id: the core's dedupe handles the first and drops the second


async def test_the_brands_own_notifications_are_skipped(
    fake: FakeMastodon, started: tuple[MastodonNetwork, RecordingHost]
) -> None:
    network, host = started
    launch = fake.brand_status("hello")
    fake.push_favourite(fake.brand, launch)
    assert await network.poll_once() == 0
    assert host.events == []


async def test_first_start_begins_after_the_newest_notification(
    fake: FakeMastodon, make_network: Callable[..., MastodonNetwork]
) -> None:
    ana = fake.add_account("ana")
    fake.push_mention(ana, "old news")
    newest = fake.push_follow(ana)
    network, host = make_network(), RecordingHost()
    await network.start(host)
    assert host.cursors[CURSOR] == newest
    assert await network.poll_once() == 0
    fresh = fake.push_mention(ana, "new!")
    assert await network.poll_once() == 1
    assert host.events[0].post_id == fresh


async def test_a_restart_resumes_from_the_saved_cursor_without_replay(
    fake: FakeMastodon, make_network: Callable[..., MastodonNetwork]
) -> None:
    ana = fake.add_account("ana")
    host = RecordingHost()
    first = make_network()
    await first.start(host)
    fake.push_mention(ana, "one")
    await first.poll_once()
    await first.stop()

    while_down = fake.push_mention(ana, "two")
    second = make_network()
    await second.start(host)  # the same store of cursors
    await second.poll_once()
    assert [e.post_id for e in host.events][1:] == [while_down]
    assert await second.poll_once() == 0


async def test_many_notifications_are_read_page_by_page_oldest_first_in_one_poll(
    fake: FakeMastodon, started: tuple[MastodonNetwork, RecordingHost]
) -> None:
    network, host = started
    ana = fake.add_account("ana")
    posted = [fake.push_mention(ana, f"number {i}") for i in range(95)]
    assert await network.poll_once() == 95
    assert [e.post_id for e in host.events] == posted
    assert [c.query.get("min_id") is not None for c in fake.calls_to(NOTIFICATIONS)][-3:] == [True] * 3


async def test_the_cursor_is_saved_only_after_the_events_are_settled(
    fake: FakeMastodon, make_network: Callable[..., MastodonNetwork]
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


async def test_a_direct_mention_is_answered_directly_in_its_thread_with_the_mention(
    fake: FakeMastodon, started: tuple[MastodonNetwork, RecordingHost]
) -> None:
    network, host = started
    ana = fake.add_account("ana", domain="books.example")
    status = fake.push_mention(ana, "where is my order?", visibility="direct")
    await network.poll_once()
    event = host.events[0]
    sent = await network.send(answer(event.post_id, "We are on it!", event.conversation))
    [post] = fake.posted
    assert post["visibility"] == "direct"  # never widened to public
    assert post["in_reply_to_id"] == status
    assert post["text"] == "@ana@books.example We are on it!"
    assert sent.post_ids == (post["id"],)
    assert fake.calls_to(STATUS) == []  # the status was known from the notification


async def test_an_answer_to_the_bots_reply_stays_in_the_same_conversation(
    fake: FakeMastodon, started: tuple[MastodonNetwork, RecordingHost]
) -> None:
    network, host = started
    ana = fake.add_account("ana")
    fake.push_mention(ana, "human please")
    await network.poll_once()
    first = host.events[0]
    sent = await network.send(answer(first.post_id, "A person will answer here.", first.conversation))
    fake.push_mention(ana, "thanks!", in_reply_to=sent.post_ids[0])
    await network.poll_once()
    second = host.events[1]
    assert second.kind is Kind.REPLY and second.refers_to == sent.post_ids[0]
    assert second.conversation == first.conversation


@pytest.mark.parametrize("visibility", ["public", "unlisted", "private"])
async def test_a_reply_keeps_the_originals_visibility_and_content_warning(
    fake: FakeMastodon, started: tuple[MastodonNetwork, RecordingHost], visibility: str
) -> None:
    network, host = started
    ana = fake.add_account("ana")
    fake.push_mention(ana, "spoilers ahead", visibility=visibility, spoiler_text="book 2 ending")
    await network.poll_once()
    event = host.events[0]
    await network.send(answer(event.post_id, "No spoilers from us!", event.conversation))
    [post] = fake.posted
    assert (post["visibility"], post["spoiler_text"]) == (visibility, "book 2 ending")


async def test_after_a_restart_the_original_is_looked_up_and_a_private_conversation_stays_direct(
    fake: FakeMastodon, started: tuple[MastodonNetwork, RecordingHost]
) -> None:
    network, _ = started
    ana = fake.add_account("ana")
    public = fake.push_mention(ana, "hi")  # never polled by this process: unknown to the adapter
    private_conversation = Conversation("mastodon", f"dm:{ana['id']}", private=True)
    await network.send(answer(public, "Hello!", private_conversation))
    [post] = fake.posted
    assert len(fake.calls_to(STATUS)) == 1
    assert post["visibility"] == "direct" and post["text"] == "@ana Hello!"


async def test_a_status_that_answers_no_post_mentions_the_person_looked_up_by_id(
    fake: FakeMastodon, started: tuple[MastodonNetwork, RecordingHost]
) -> None:
    network, _ = started
    ana = fake.add_account("ana", domain="books.example")
    recipient = Person("mastodon", ana["id"])  # as the outbox stores it: the id only
    await network.send(answer(None, "Thanks for the boost!", recipient=recipient))
    await network.send(answer(None, "Thanks again!", recipient=recipient, outbox_id=2))
    assert [p["text"] for p in fake.posted] == ["@ana@books.example Thanks for the boost!",
                                                 "@ana@books.example Thanks again!"]
    assert [p["visibility"] for p in fake.posted] == ["public", "public"]
    assert len(fake.calls_to(ACCOUNT)) == 1  # remembered after the first look-up


async def test_a_text_that_already_names_the_person_is_not_prefixed_twice(
    fake: FakeMastodon, started: tuple[MastodonNetwork, RecordingHost]
) -> None:
    network, _ = started
    ana = fake.add_account("ana")
    status = fake.push_mention(ana, "hi")
    await network.send(answer(status, "Thanks @ana, see you at the tour!"))
    assert fake.posted[0]["text"] == "Thanks @ana, see you at the tour!"


async def test_a_resend_of_the_same_outbox_row_does_not_post_twice(
    fake: FakeMastodon, started: tuple[MastodonNetwork, RecordingHost]
) -> None:
    network, _ = started
    ana = fake.add_account("ana")
    status = fake.push_mention(ana, "hi")
    first = await network.send(answer(status, "Hello!", outbox_id=7))
    again = await network.send(answer(status, "Hello!", outbox_id=7))  # e.g. after a crash before it was marked sent
    other = await network.send(answer(status, "Hello!", outbox_id=8))
    assert first == again and other != first
    assert len(fake.posted) == 2
    keys = [c.headers.get("Idempotency-Key") for c in fake.calls_to(POST_STATUS)]
    assert keys[0] == keys[1] == idempotency_key(answer(status, "", outbox_id=7)) and keys[2] != keys[0]


def test_the_idempotency_key_names_the_row_across_databases() -> None:
    row = Outgoing(1, Reply("mastodon", Conversation("mastodon", "1"), "x"), created=datetime(2026, 1, 1, tzinfo=UTC))
    fresh_store = Outgoing(1, Reply("mastodon", Conversation("mastodon", "1"), "x"),
                           created=datetime(2026, 6, 1, tzinfo=UTC))
    assert idempotency_key(row) == idempotency_key(Outgoing(1, row.reply, attempt=3, created=row.created))
    assert idempotency_key(row) != idempotency_key(fresh_store)


async def test_the_instances_own_limit_is_used_and_v1_servers_are_understood(
    fake: FakeMastodon, make_network: Callable[..., MastodonNetwork]
) -> None:
    fake.max_characters = 1000
    network = make_network()
    assert network.limits.max_text == 500 and network.check_text("a" * 600) is not None  # before start: the config's
    await network.start(RecordingHost())
    assert network.limits.max_text == 1000 and network.check_text("a" * 600) is None
    assert network.check_text("a" * 1001) is not None

    fake.instance_v2 = False
    fake.max_characters = 700
    older = make_network()
    await older.start(RecordingHost())
    assert older.limits.max_text == 700
    assert len(fake.calls_to(INSTANCE)) == 3  # v2, then v2 refused and v1


async def test_text_that_does_not_fit_with_the_mention_is_refused_before_posting(
    fake: FakeMastodon, started: tuple[MastodonNetwork, RecordingHost]
) -> None:
    network, _ = started
    ana = fake.add_account("ana")
    status = fake.push_mention(ana, "hi")
    text = "x" * 498
    assert network.check_text(text) is None
    with pytest.raises(PermanentSendError, match="over the instance's limit of 500"):
        await network.send(answer(status, text))  # "@ana " makes it 503
    assert fake.calls_to(POST_STATUS) == []


def test_mastodon_counts_links_as_23_and_remote_mentions_by_their_local_part() -> None:
    assert mastotext.status_length("see https://example.com/" + "a" * 200) == 4 + 23
    assert mastotext.status_length("@ana@very.long.server.example hi") == len("@ana hi")
    assert mastotext.status_length("👩‍👩‍👧‍👦 é") == 3  # graphemes, not code points
    assert mastotext.status_length("ab", spoiler_text="cw") == 4
    assert mastotext.problem("  ", 500) == "Mastodon does not accept an empty status"
    assert mastotext.narrowest("public", "direct") == "direct"
    assert mastotext.narrowest("unlisted", "public") == "unlisted"
    assert mastotext.narrowest("mystery", "public") == "direct"


async def test_a_429_on_posting_gives_the_servers_reset_time_then_delivers_once(
    fake: FakeMastodon, started: tuple[MastodonNetwork, RecordingHost]
) -> None:
    network, _ = started
    ana = fake.add_account("ana")
    status = fake.push_mention(ana, "hi")
    fake.fail_next(POST_STATUS, 429, reset_in=120)
    with pytest.raises(RateLimitedError) as caught:
        await network.send(answer(status, "Hello!"))
    assert caught.value.retry_after == pytest.approx(120, abs=1.5)
    assert fake.posted == []
    fake.window.used = 0
    await network.send(answer(status, "Hello!"))
    assert len(fake.posted) == 1


@pytest.mark.parametrize(
    ("status", "expected", "unreachable"),
    [(500, TransientSendError, False), (503, TransientSendError, False), (401, PermanentSendError, False),
     (422, PermanentSendError, False), (403, PermanentSendError, True)],
)
async def test_http_errors_tell_the_outbox_what_to_do(
    fake: FakeMastodon, started: tuple[MastodonNetwork, RecordingHost], status: int,
    expected: type[Exception], unreachable: bool,
) -> None:
    network, _ = started
    ana = fake.add_account("ana")
    mention = fake.push_mention(ana, "hi")
    fake.fail_next(POST_STATUS, status)
    with pytest.raises(expected) as caught:
        await network.send(answer(mention, "Hello!"))
    assert getattr(caught.value, "unreachable", False) is unreachable
    assert fake.posted == []


async def test_a_reply_to_a_deleted_status_is_refused_for_good(
    fake: FakeMastodon, started: tuple[MastodonNetwork, RecordingHost]
) -> None:
    network, _ = started
    ana = fake.add_account("ana")
    status = fake.push_mention(ana, "hi")
    fake.delete_status(status)
    with pytest.raises(PermanentSendError, match="gone"):
        await network.send(answer(status, "Hello!"))


async def test_an_unreachable_server_is_transient(fake: FakeMastodon, started: tuple[MastodonNetwork, RecordingHost]) -> None:
    network, _ = started
    await fake.stop()
    with pytest.raises(TransientSendError):
        await network.send(answer("123", "Hello!"))


# ---------------------------------------------------------------------- loops, lifecycle, secrets


async def polling(fake: FakeMastodon, make_network: Callable[..., MastodonNetwork],
                  spent: int = 0) -> tuple[RecordingHost, NappingClock]:
    """The network with its poll loop on a NappingClock, after the first poll (``spent``: requests
    of the window other clients used before)."""
    clock = NappingClock()
    fake.use_clock(clock)
    fake.window.used = spent
    network, host = make_network(background=True, net_clock=clock), RecordingHost()
    await network.start(host)
    await until(lambda: len(clock.naps) == 1)
    return host, clock


async def test_the_poll_loop_waits_out_a_429_until_the_reset_time(
    fake: FakeMastodon, make_network: Callable[..., MastodonNetwork]
) -> None:
    host, clock = await polling(fake, make_network)
    assert clock.naps == [30]
    fake.fail_next(NOTIFICATIONS, 429, reset_in=200)
    clock.advance(30)
    await until(lambda: len(clock.naps) == 2)
    assert clock.naps[1] == pytest.approx(201, abs=1.5)  # the server's reset, not a fixed backoff
    assert host.states[-1][0] is NetworkState.DEGRADED
    ana = fake.add_account("ana")
    fake.push_mention(ana, "hello")
    clock.advance(clock.naps[1])
    await until(lambda: len(host.events) == 1)
    await until(lambda: host.states[-1][0] is NetworkState.READY)


async def test_a_failing_poll_backs_off_exponentially_and_recovers(
    fake: FakeMastodon, make_network: Callable[..., MastodonNetwork]
) -> None:
    host, clock = await polling(fake, make_network)
    assert clock.naps == [30]
    fake.fail_next(NOTIFICATIONS, 503, times=2)
    fake.fail_next(NOTIFICATIONS, 502)
    for step, expected in ((30, 60), (60, 120), (120, 240), (240, 30)):
        naps = len(clock.naps)
        clock.advance(step)
        await until(lambda naps=naps: len(clock.naps) == naps + 1)
        assert clock.naps[-1] == expected
        if expected != 30:
            assert host.states[-1][0] is NetworkState.DEGRADED
    assert host.states[-1][0] is NetworkState.READY


async def test_polling_waits_for_the_window_when_the_budget_is_nearly_spent(
    fake: FakeMastodon, make_network: Callable[..., MastodonNetwork]
) -> None:
    _, clock = await polling(fake, make_network, spent=fake.window.limit - 24)  # others used most of it
    assert clock.naps[0] > 200  # waits for the 5-minute window's reset, keeping the rest for replies


async def test_a_start_while_the_instance_is_down_is_degraded_and_the_loop_recovers(
    fake: FakeMastodon, make_network: Callable[..., MastodonNetwork]
) -> None:
    fake.fail_next("verify_credentials", 503)
    network, host = make_network(background=True), RecordingHost()
    await network.start(host)
    assert host.states[-1][0] is NetworkState.DEGRADED
    await until(lambda: host.states[-1][0] is NetworkState.READY)


async def test_a_rejected_token_fails_start_with_a_config_error_naming_no_secret(fake: FakeMastodon, clock: FakeClock) -> None:
    network = MastodonNetwork(MastodonConfig(api_base_url=fake.url, access_token="wrong-token-77"), clock=clock)  # type: ignore[arg-type]
    host = RecordingHost()
    with pytest.raises(ConfigError, match="access_token") as caught:
        await network.start(host)
    assert "wrong-token-77" not in str(caught.value)
    assert host.states[-1][0] is NetworkState.FAILED


async def test_the_token_stays_out_of_logs_and_reprs(
    fake: FakeMastodon, started: tuple[MastodonNetwork, RecordingHost], caplog: pytest.LogCaptureFixture
) -> None:
    network, _ = started
    with caplog.at_level(logging.DEBUG):
        ana = fake.add_account("ana")
        status = fake.push_mention(ana, "hi")
        await network.poll_once()
        await network.send(answer(status, "Hello!"))
    assert TOKEN not in caplog.text and TOKEN not in repr(network.config)


async def test_stop_is_idempotent_and_sending_after_it_is_transient(
    make_network: Callable[..., MastodonNetwork]
) -> None:
    network, host = make_network(), RecordingHost()
    await network.start(host)
    await network.stop()
    await network.stop()
    assert [s for s, _ in host.states].count(NetworkState.CLOSED) == 1
    with pytest.raises(TransientSendError):
        await network.send(answer("1", "after stop"))


def test_config_errors_say_what_to_fix() -> None:
    with pytest.raises(pydantic.ValidationError, match="https://"):
        MastodonConfig.model_validate({"api_base_url": "mastodon.social", "access_token": "t"})
    with pytest.raises(pydantic.ValidationError, match="at least 2 seconds"):
        MastodonConfig.model_validate({"api_base_url": "https://m.example", "access_token": "t", "poll_interval": 1})
    with pytest.raises(pydantic.ValidationError, match="extra"):
        MastodonConfig.model_validate({"api_base_url": "https://m.example", "access_token": "t", "tokn": "x"})


# ---------------------------------------------------------------------- through the bot


def write_bot_config(folder: Path, fake: FakeMastodon, rules: list[dict[str, Any]]) -> Path:
    (folder / "rules.yaml").write_text(yaml.safe_dump({"rules": rules}))
    settings = {
        "brand": {"name": "Test Brand", "url": "https://brand.test"},
        "storage": {"path": "bot.sqlite3"},
        "networks": {"mastodon": {"enabled": True, "api_base_url": fake.url, "access_token": "${MASTODON_TEST_TOKEN}"}},
        "rules": ["rules.yaml"],
        "plugin_dirs": [],
    }
    (folder / "brandbot.yaml").write_text(yaml.safe_dump(settings))
    return folder / "brandbot.yaml"


async def test_a_yaml_rule_answers_a_mastodon_mention_through_the_bot(
    fake: FakeMastodon, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MASTODON_TEST_TOKEN", TOKEN)
    rules = [{"name": "tour", "kinds": ["mention", "direct"], "match": {"any": ["tour"]},
              "reply": "Hi {{ name }}, the tour starts Monday!"},
             {"name": "thanks", "kinds": ["repost"], "reply": "Thanks for the boost, {{ name }}!"}]
    config = load_config(write_bot_config(tmp_path, fake, rules))
    [section] = config.networks
    network = build_network(section.name, dict(section.settings), poll_in_background=False)
    assert isinstance(network, MastodonNetwork)
    bot = Bot(config, store=SqliteStore(":memory:"), networks={"mastodon": network}, plugins=[])
    await bot.start()
    try:
        ana = fake.add_account("ana", "Ana")
        launch = fake.brand_status("Tour dates are out")
        fake.push_mention(ana, "when is the tour?", visibility="direct")
        fake.push_reblog(ana, launch)
        await network.poll_once()
        await bot.settled()
        await fake.wait_until(lambda: len(fake.posted) == 2)
        await bot.outbox.drain()
    finally:
        await bot.stop()
    by_text = {p["text"]: p for p in fake.posted}
    assert by_text["@ana Hi Ana, the tour starts Monday!"]["visibility"] == "direct"
    boost = by_text["@ana Thanks for the boost, Ana!"]
    assert boost["in_reply_to_id"] is None and boost["visibility"] == "public"
