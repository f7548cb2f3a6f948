"""Router internals: handlers that finish at once and handlers that wait behave the same.

The Router steps each handler's coroutine directly and only arms the timeout if it
suspends; watchers are precomputed (filters, source, plugin settings). These tests drive
the Router without a bot and check that every path (immediate or suspended, returning or
raising, filtered by kind, network, command or predicate) gives the same result.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from brandbot.core.events import Conversation, Event, Kind, Person
from brandbot.core.plugin import NoConfig, Plugin
from brandbot.runtime.context import Context
from brandbot.runtime.routing import Router, RouteResult

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


class Settings(BaseModel):
    label: str


def event(kind: Kind = Kind.MENTION, network: str = "memory", command: str | None = None) -> Event:
    return Event(kind=kind, network=network, id="e1", author=Person(network, "u1"),
                 conversation=Conversation(network, "c1"), time=T0, command=command)


def context(ev: Event) -> Context:
    bot = SimpleNamespace(clock=SimpleNamespace(now=lambda: T0))
    return Context(services=bot, plugin_name="", config=NoConfig(), event=ev)  # type: ignore[arg-type]


async def route(router: Router, ctx: Context, **kwargs: Any) -> RouteResult:
    return await router.dispatch(ctx, **kwargs)


#: What a handler does: finish at once, wait then finish, raise at once, wait then raise.
BEHAVIOURS = ["done", "wait", "raise", "wait-raise"]


def handler(name: str, behaviour: str, log: list[tuple[str, str, str]], result: object = None,
            *, stops: bool = False) -> Callable[..., Any]:
    """``stops``: the handler deals with the event (calls ctx.stop()) when it finishes."""
    async def run(ctx: Context) -> object:
        log.append((name, ctx._source, getattr(ctx.config, "label", "-")))
        if behaviour.startswith("wait"):
            await asyncio.sleep(0)
        if behaviour.endswith("raise"):
            raise RuntimeError(f"{name} broke")
        if stops:
            ctx.stop()
        return result

    run.__name__ = name
    return run


@settings(max_examples=60, deadline=None)
@given(
    watchers=st.lists(
        st.tuples(st.sampled_from(BEHAVIOURS), st.sampled_from(["all", "mention", "direct", "when", "net"])),
        max_size=8,
    ),
    configured=st.sets(st.integers(0, 7)),
)
def test_watchers_run_in_order_and_failures_are_counted_on_every_path(
    watchers: list[tuple[str, str]], configured: set[int]
) -> None:
    calls: list[tuple[str, str, str]] = []
    plugins, expected, failures = [], [], 0
    label = "-"
    for i, (behaviour, scope) in enumerate(watchers):
        p = Plugin(f"p{i}")
        func = handler(f"w{i}", behaviour, calls)
        if scope == "all":
            p.watch()(func)
        elif scope == "when":
            p.watch("mention", when=lambda ev, i=i: i % 2 == 0)(func)
        elif scope == "net":
            p.watch(networks=["memory"] if i % 2 else ["x"])(func)
        else:
            p.watch(scope)(func)
        plugins.append(p)
        runs = scope in ("all", "mention") or (scope == "when" and i % 2 == 0) or (scope == "net" and i % 2 == 1)
        if runs:
            if i in configured:
                label = f"s{i}"  # a plugin without settings leaves the last one in place
            expected.append((f"w{i}", f"plugin:p{i}.w{i}", label))
            failures += behaviour.endswith("raise")
    settings_map = {f"p{i}": Settings(label=f"s{i}") for i in configured}
    router = Router([h for p in plugins for h in p.handlers], settings=settings_map)
    ctx = context(event())
    result = asyncio.run(route(router, ctx))
    assert calls == expected
    assert result == RouteResult(None, failures)
    assert [n.action for n in ctx.notes] == ["error"] * failures


@pytest.mark.parametrize("behaviour", BEHAVIOURS)
@pytest.mark.parametrize("answer", [True, False, None])
def test_responder_outcome_is_the_same_whether_it_waits_or_not(behaviour: str, answer: object) -> None:
    calls: list[tuple[str, str, str]] = []
    p = Plugin("r")
    first = handler("first", behaviour, calls)

    @p.on("mention", priority=5)
    async def maybe(ctx: Context) -> None:
        await first(ctx)
        if answer:
            ctx.stop()

    p.on("mention", priority=1)(handler("last", "done", calls, stops=True))
    router = Router(p.handlers)
    result = asyncio.run(route(router, context(event())))
    if behaviour.endswith("raise"):
        assert result == RouteResult("plugin:r.last", 1)
    elif answer:
        assert result == RouteResult("plugin:r.maybe", 0)
    else:
        assert result == RouteResult("plugin:r.last", 0)


def test_a_responder_that_replied_then_raised_still_handled_the_event() -> None:
    p = Plugin("r")

    @p.on("mention", priority=5)
    async def half(ctx: Context) -> None:
        ctx.replied = True
        await asyncio.sleep(0)
        raise RuntimeError("after the reply")

    p.on("mention", priority=1)(handler("never", "done", []))
    result = asyncio.run(route(Router(p.handlers), context(event())))
    assert result == RouteResult("plugin:r.half", 1)


def test_responders_can_be_skipped_and_commands_filtered() -> None:
    calls: list[tuple[str, str, str]] = []
    p = Plugin("c")
    p.command("ping")(handler("ping", "done", calls, result=None, stops=True))
    router = Router(p.handlers)
    assert asyncio.run(route(router, context(event(Kind.COMMAND, command="pong")))) == RouteResult(None, 0)
    assert asyncio.run(route(router, context(event(Kind.COMMAND, command="ping")))) == RouteResult("plugin:c.ping", 0)
    assert asyncio.run(route(router, context(event(Kind.COMMAND, command="ping")), responders_allowed=False)) \
        == RouteResult(None, 0)
    assert [c[0] for c in calls] == ["ping"]


def test_timeouts_and_raised_timeout_errors_are_reported_as_timeouts(caplog: pytest.LogCaptureFixture) -> None:
    p = Plugin("t")

    @p.watch()
    async def sleepy(ctx: Context) -> None:
        await asyncio.sleep(30)

    @p.watch()
    async def raises_timeout(ctx: Context) -> None:
        raise TimeoutError

    @p.watch()
    async def broken(ctx: Context) -> None:
        raise KeyError("x")

    ctx = context(event())
    with caplog.at_level(logging.ERROR, "brandbot.runtime.routing"):
        result = asyncio.run(route(Router(p.handlers, timeout=0.01), ctx))
    assert result == RouteResult(None, 3)
    assert [n.detail for n in ctx.notes] == [
        "plugin:t.sleepy timed out", "plugin:t.raises_timeout timed out", "plugin:t.broken raised KeyError",
    ]
    assert "timed out after 0.0s on event memory:e1" in caplog.text


def test_latency_is_reported_per_handler_even_when_a_handler_fails() -> None:
    seen: list[tuple[str, float]] = []
    p = Plugin("l")
    p.watch()(handler("w", "wait-raise", []))
    p.watch()(handler("v", "raise", []))
    router = Router(p.handlers, on_latency=lambda name, seconds: seen.append((name, seconds)))
    asyncio.run(route(router, context(event())))
    assert [name for name, _ in seen] == ["plugin:l.w", "plugin:l.v"] and all(s >= 0 for _, s in seen)


def test_cancellation_is_not_contained() -> None:
    p = Plugin("k")

    @p.watch()
    async def cancelled(ctx: Context) -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(route(Router(p.handlers), context(event())))
