"""Metrics: what a bot run records, in the series and labels an operator's dashboards expect."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from brandbot.core.errors import PermanentSendError, RateLimitedError
from brandbot.networks.base import NetworkState
from brandbot.runtime.metrics import OTHER, Metrics

GREETING = [{"name": "hello", "kinds": ["direct"], "reply": "Hi {{ name }}!"}]


def samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a render, parsed by prometheus_client's own parser (so the format is valid)."""
    text = metrics.render().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return samples(metrics).get((name, frozenset(labels.items())))


async def test_a_conversation_shows_up_as_events_decisions_sends_and_handler_times(make_bot) -> None:
    bot = await make_bot(rules=GREETING)
    await bot.receive("direct", "hi", author="ana")
    await bot.receive("direct", "hello", author="ben")
    await bot.receive("follow", author="cy")
    m = bot.bot.metrics

    assert value(m, "brandbot_events_total", network="memory", kind="direct") == 2
    assert value(m, "brandbot_events_total", network="memory", kind="follow") == 1
    assert value(m, "brandbot_replies_total", network="memory", action="send", reason="ok") == 2
    assert value(m, "brandbot_sends_total", network="memory", outcome="sent") == 2
    assert value(m, "brandbot_handler_seconds_count", handler="rule:hello") == 2  # one series per rule and handler
    assert value(m, "brandbot_outbox_depth") == 0


async def test_refusals_are_counted_by_reason(make_bot) -> None:
    bot = await make_bot(rules=GREETING)
    await bot.receive("direct", "hi", author="ana")
    ana = await bot.follower("ana")
    await bot.bot.people.set_opted_out(ana.id, True)
    await bot.receive("direct", "hi again", author="ana")
    assert bot.sent == ["Hi Ana!"]
    refused = {
        dict(labels)["reason"]: v
        for (name, labels), v in samples(bot.bot.metrics).items()
        if name == "brandbot_replies_total" and dict(labels)["action"] == "refuse"
    }
    assert refused == {"opted_out": 1}


async def test_rate_limit_waits_and_failed_sends_are_counted(make_bot) -> None:
    bot = await make_bot(rules=GREETING)
    memory = bot.networks["memory"]
    memory.fail_next(RateLimitedError("429 Too Many Requests", 30))
    await bot.receive("direct", "hi", author="ana")
    await bot.advance(31)
    memory.fail_next(PermanentSendError("blocked", unreachable=True))
    await bot.receive("direct", "hi", author="ben")
    m = bot.bot.metrics

    assert value(m, "brandbot_rate_limit_waits_total", network="memory") == 1
    assert value(m, "brandbot_rate_limit_wait_seconds_total", network="memory") == 30
    assert value(m, "brandbot_sends_total", network="memory", outcome="sent") == 1
    assert value(m, "brandbot_sends_total", network="memory", outcome="failed") == 1


async def test_outbox_depth_is_read_when_scraped(make_bot) -> None:
    bot = await make_bot(rules=GREETING)
    bot.networks["memory"].fail_next(RateLimitedError("429", 60))
    await bot.receive("direct", "hi")
    assert value(bot.bot.metrics, "brandbot_outbox_depth") == 1
    await bot.advance(61)
    assert value(bot.bot.metrics, "brandbot_outbox_depth") == 0


def test_store_flushes_are_timed_and_their_rows_counted() -> None:
    m = Metrics(process=False)
    assert m.last_flush is None and m.seconds_since_flush() is None
    m.store_flush(0.004, 120)
    m.store_flush(0.2, 3)
    assert value(m, "brandbot_store_flush_seconds_count") == 2
    assert value(m, "brandbot_store_flush_seconds_bucket", le="0.005") == 1
    assert value(m, "brandbot_store_flushed_rows_total") == 123
    assert m.last_flush is not None and m.last_flush[1] == 3
    since = m.seconds_since_flush()
    assert since is not None and since >= 0


def test_network_up_follows_the_reported_states() -> None:
    m = Metrics(process=False)
    states = {"telegram": (NetworkState.READY, ""), "discord": (NetworkState.RESUMED, ""),
              "x": (NetworkState.FAILED, "401 Unauthorized")}
    m.set_network_states(lambda: states)
    assert value(m, "brandbot_network_up", network="telegram") == 1
    assert value(m, "brandbot_network_up", network="discord") == 1
    assert value(m, "brandbot_network_up", network="x") == 0
    states["x"] = (NetworkState.READY, "")
    assert value(m, "brandbot_network_up", network="x") == 1


def test_bots_do_not_share_numbers() -> None:
    first, second = Metrics(process=False), Metrics(process=False)
    first.event_in("memory", "direct")
    assert value(first, "brandbot_events_total", network="memory", kind="direct") == 1
    assert value(second, "brandbot_events_total", network="memory", kind="direct") is None


def test_runaway_label_values_fold_into_other() -> None:
    m = Metrics(process=False, max_series=3)
    for i in range(10):
        m.handler_latency(f"plugin:dynamic.handler{i}", 0.001)
    handlers = {
        dict(labels)["handler"]
        for (name, labels), _ in samples(m).items() if name == "brandbot_handler_seconds_count"
    }
    assert handlers == {"plugin:dynamic.handler0", "plugin:dynamic.handler1", "plugin:dynamic.handler2", OTHER}
    assert value(m, "brandbot_handler_seconds_count", handler=OTHER) == 7


def test_render_is_plain_prometheus_text_without_created_series() -> None:
    m = Metrics()
    m.event_in("memory", "mention")
    m.decision("memory", "defer", "quiet_hours")
    m.rate_limit_wait("memory", 0)
    text = m.render().decode()
    assert "# TYPE brandbot_events_total counter" in text
    assert "# TYPE brandbot_handler_seconds histogram" in text
    assert 'brandbot_replies_total{action="defer",network="memory",reason="quiet_hours"} 1.0' in text
    assert "_created" not in text
    assert "process_resident_memory_bytes" in text or "process_" not in text  # /proc may be absent
    # a zero wait is still a wait, but adds no seconds
    assert value(m, "brandbot_rate_limit_waits_total", network="memory") == 1
    assert value(m, "brandbot_rate_limit_wait_seconds_total", network="memory") is None
