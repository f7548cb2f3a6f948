"""The Router: which handlers see an event, in what order, and how failures are contained.

For every event:

1. **Watchers** (``@plugin.watch``) whose filters accept it all run, one after another.
   They never reply; an error or timeout in one is logged and the next still runs.
2. **Responders**, highest priority first: plugin handlers (``@plugin.on``,
   ``@plugin.command``) and the YAML rules that match the text, merged into one list.
   YAML rules are compiled into responders, so rules and plugins share one dispatch
   path. A responder has *handled* the event only if it replied or called
   ``ctx.stop()``; the first one that handles it ends the routing, so an event gets at
   most one reply. A responder that found nothing to do simply returns, and the next
   one gets its turn: forgetting a call can no longer swallow events silently. A
   responder that raises or times out did not handle the event either: the follower
   never sees a stack trace.

Second of the three files of the message path (after ``intake.py``, before ``sending.py``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Coroutine, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Protocol

from brandbot.core.events import Event, Kind
from brandbot.core.plugin import HandlerSpec, Role
from brandbot.core.policy import promotion_refused
from brandbot.core.reading import PlainReader, Reader, Reading
from brandbot.core.rules import Rule, RuleBook, RuleState, conditions_hold, once_key
from brandbot.core.rules.state import PersonMemory
from brandbot.runtime.context import Context
from brandbot.store.base import Store

log = logging.getLogger("brandbot.runtime.routing")


class Responder(Protocol):
    @property
    def priority(self) -> int: ...

    @property
    def source(self) -> str: ...

    @property
    def passes_on(self) -> bool:
        """Declared fall-through: routing goes on even after it replied."""

    async def respond(self, ctx: Context) -> None:
        """Handle the event: reply, or ``ctx.stop()``, or return to let the next one try."""


@dataclass(frozen=True, slots=True)
class PluginResponder:
    """A plugin handler in responder position."""

    spec: HandlerSpec

    @property
    def priority(self) -> int:
        return self.spec.priority

    @property
    def source(self) -> str:
        return self.spec.source

    @property
    def passes_on(self) -> bool:
        return self.spec.fallthrough

    async def respond(self, ctx: Context) -> None:
        if self.spec.admin_only and not ctx.is_admin:
            log.warning(
                "refused admin command /%s from %s:%s (not an admin)",
                self.spec.command, ctx.event.network, ctx.event.author.id,
            )
            ctx.note("refuse", f"/{self.spec.command} is for admins only")
            await ctx.reply("Sorry, /{{ event.command }} is only for the team.")
            ctx.stop()
            return
        await self.spec.func(ctx)


VARIANT_NAMESPACE = "rules.variant"


class RuleResponders:
    """YAML rules in responder position: the rule book and the rules' runtime state.

    The RuleBook finds the rules whose kind, network, time window and text match (one
    pass over the text). Each becomes a RuleResponder that checks the follower
    conditions, cooldowns and once-keys, runs the rule's actions and sends one of its
    reply variants. Cooldowns and last variants survive a reload (``state``).
    """

    def __init__(self, book: RuleBook, store: Store, *, rng: random.Random | None = None,
                 state: RuleState | None = None, reader: Reader | None = None,
                 promotions: Iterable[str] = ()) -> None:
        self.book = book
        self.state = state or RuleState()
        self.reader: Reader = reader or PlainReader()
        self.promotions = frozenset(promotions)
        self._store = store
        self._rng = rng or random.Random()
        self._responders = {r.name: RuleResponder(r, self) for r in book.rules}

    def candidates(self, event: Event, now: datetime) -> list[Responder]:
        """The rules that may answer, by priority; an intent rule is wrapped with whether its
        keywords hit, and its intent is read only when its turn comes (see RuleBook.hits)."""
        found: list[Responder] = []
        for rule, hit in self.book.hits(event, now):
            responder = self._responders[rule.name]
            found.append(responder if rule.match is None or rule.match.intent is None
                         else IntentRuleResponder(responder, hit))
        return found

    async def pick_variant(self, rule: Rule, follower_id: int, *, first_contact: bool = False) -> int:
        """A variant index, never the one this person got last time (restored after restarts).

        A person met for the first time by this event has no earlier variant to read back.
        """
        if len(rule.variants) <= 1:
            return 0
        key = f"{rule.name}:f{follower_id}:"
        if not first_contact and self.state.last_variant(rule.name, follower_id) is None:  # new, or forgotten
            saved = await self._store.kv_get(VARIANT_NAMESPACE, key)
            if saved is not None:
                self.state.remember_variant(rule.name, follower_id, int(saved))
        index = self.state.pick_variant(rule, follower_id, self._rng)
        self._store.kv_set(VARIANT_NAMESPACE, key, str(index), follower_id)
        return index


@dataclass(frozen=True, slots=True)
class RuleResponder:
    rule: Rule
    owner: RuleResponders

    @property
    def priority(self) -> int:
        return self.rule.priority

    @property
    def source(self) -> str:
        return f"rule:{self.rule.name}"

    @property
    def passes_on(self) -> bool:
        return self.rule.fallthrough

    async def respond(self, ctx: Context) -> None:
        """A rule that applies has handled the event, reply or not (its actions ran)."""
        rule, event, now = self.rule, ctx.event, ctx.now
        if not conditions_hold(rule, ctx.follower, ctx.first_contact, now, ctx.reading):
            return
        conversation = event.conversation.key
        waiting = self.owner.state.cooldown_ok(rule, ctx.follower.id, conversation, now)
        if waiting is not None:
            ctx.note("skip", waiting)
            return
        once = None
        if rule.once_per_post:
            once = once_key(rule, ctx.follower.id, event.refers_to or event.post_id or event.id)
        actions = rule.actions
        if actions.tag or actions.untag:
            if actions.tag:
                await ctx.tag(*sorted(actions.tag))
            if actions.untag:
                await ctx.untag(*sorted(actions.untag))
            ctx.note("action", "tags +" + ",".join(sorted(actions.tag)) + " -" + ",".join(sorted(actions.untag)))
        if actions.points:
            await ctx.add_points(actions.points, self.source)
            ctx.note("action", f"points {actions.points:+d}")
        if rule.variants:
            index = await self.owner.pick_variant(rule, ctx.follower.id, first_contact=ctx.first_contact)
            variants = rule.variants
            if rule.translations and ctx.reading is not None:
                variants = rule.variants_for(ctx.reading.language)
            await ctx.reply(variants[index % len(variants)], once_key=once)
        if actions.handoff:
            await ctx.handoff(self.source)
        self.owner.state.note_fired(rule, ctx.follower.id, conversation, now)
        ctx.stop()


@dataclass(frozen=True, slots=True)
class IntentRuleResponder:
    """A rule with ``match: {intent: ...}`` for one event, with whether its keywords hit.

    How keywords and intents combine: the rule applies if the message's intent is the
    rule's, or if its keywords hit and the model finds no other intent clearly closer
    than the rule's own (``IntentHit.outweighs``), so one ambiguous word cannot pull an
    answer meant for something else, and a clear keyword is not lost to a near tie.
    """

    responder: RuleResponder
    keywords_hit: bool

    @property
    def priority(self) -> int:
        return self.responder.priority

    @property
    def source(self) -> str:
        return self.responder.source

    @property
    def passes_on(self) -> bool:
        return self.responder.passes_on

    async def respond(self, ctx: Context) -> None:
        match = self.responder.rule.match
        found = ctx.reading.intent if ctx.reading is not None else None
        wanted = match.intent if match is not None else None
        if wanted is None:
            return
        if (found is not None and found.name == wanted) or (
                self.keywords_hit and (found is None or not found.outweighs(wanted))):
            await self.responder.respond(ctx)


#: A person's language is kept as a tag: "lang:de".
LANGUAGE_TAG = "lang:"


def language_tag(tags: Iterable[str]) -> str:
    """The language a person's ``lang:`` tag names, or ""."""
    return next((t[len(LANGUAGE_TAG):] for t in tags if t.startswith(LANGUAGE_TAG)), "")


def _known_language(memory: PersonMemory, follower_id: int, tags: frozenset[str]) -> str:
    return memory.language(follower_id) or language_tag(tags)


#: The kinds whose text is a person's own message (what "their last message" means).
_PERSONAL = frozenset({Kind.DIRECT, Kind.MENTION, Kind.REPLY, Kind.QUOTE})


RuleCandidates = Callable[[Event, datetime], Sequence[Responder]]


@dataclass(frozen=True, slots=True)
class RouteResult:
    handled_by: str | None
    errors: int
    priority: int | None = field(default=None, compare=False)  # of the responder that handled it


#: The usual outcome, shared rather than built per event (results are immutable).
_UNHANDLED = RouteResult(None, 0)

#: What :meth:`Router._run` returns for a handler that raised or timed out.
_FAILED: Any = object()

#: A plugin with no settings leaves ``ctx.config`` as it was.
_KEEP_CONFIG: Any = object()


@dataclass(frozen=True, slots=True)
class _Watcher:
    """A watcher with what dispatch needs per event worked out once, when the Router is built.

    ``check`` is the full filter, or None when the kind alone decides (the usual case), so
    most watchers cost one set lookup on events they do not want.
    """

    kinds: frozenset[Any]
    check: Callable[[Event], bool] | None
    func: Callable[[Context], Any]  # an async def: calling it gives the coroutine to step
    plugin: str
    source: str
    config: Any


def _watcher(spec: HandlerSpec, settings: Mapping[str, Any]) -> _Watcher:
    only_kinds = not spec.networks and spec.command is None and spec.when is None and spec.match is None
    config = settings.get(spec.plugin, _KEEP_CONFIG) if spec.plugin else _KEEP_CONFIG
    return _Watcher(spec.kinds, None if only_kinds else spec.accepts, spec.func, spec.plugin,
                    spec.source, config)


class _Resumed:
    """Await a coroutine that was already stepped once and yielded ``first``."""

    __slots__ = ("_coro", "_first")

    def __init__(self, coro: Coroutine[Any, Any, object], first: object) -> None:
        self._coro = coro
        self._first = first

    def __await__(self) -> Generator[object, object, object]:
        coro, value = self._coro, self._first
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # noqa: BLE001 - cancellation (timeout) goes into the handler
                try:
                    value = coro.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    value = coro.send(sent)
                except StopIteration as done:
                    return done.value


class Router:
    """Holds the handler lists; immutable once built, so a reload swaps in a new Router."""

    def __init__(
        self,
        handlers: Sequence[HandlerSpec],
        rule_candidates: RuleCandidates | None = None,
        *,
        timeout: float = 10.0,
        settings: Mapping[str, Any] | None = None,
        rule_kinds: Iterable[Any] = (),
        on_latency: Callable[[str, float], None] | None = None,
        rules: RuleResponders | None = None,
    ) -> None:
        self.watchers = tuple(h for h in handlers if h.role is Role.WATCH)
        # Stable sort: equal priorities keep registration order (plugins in config order).
        self.responders = tuple(
            sorted((h for h in handlers if h.role is Role.RESPOND), key=lambda h: -h.priority)
        )
        self._rule_candidates = rule_candidates
        self._timeout = timeout
        self._settings = dict(settings or {})
        self._kinds_wanted = {k for h in handlers for k in h.kinds} | set(rule_kinds)
        self._on_latency = on_latency
        self._rules = rules  # its reader, the people's languages and last messages, the promotions
        self._watchers = tuple(_watcher(h, self._settings) for h in self.watchers)
        self._plugin_responders = tuple((h.accepts, PluginResponder(h)) for h in self.responders)

    def commands(self) -> list[HandlerSpec]:
        return [h for h in self.responders if h.command is not None]

    def responders_for(self, event: Event, now: datetime) -> list[Responder]:
        """Plugin responders that accept the event merged with the matching rules, by priority.

        At equal priority a plugin handler comes before a rule: code was written for
        the case on purpose, a rule is usually broader.
        """
        plugins: list[Responder] = [r for accepts, r in self._plugin_responders if accepts(event)]
        rules = list(self._rule_candidates(event, now)) if self._rule_candidates else []
        if not rules:
            return plugins
        if not plugins:
            return rules
        merged = [(-r.priority, 0, i, r) for i, r in enumerate(plugins)]
        merged += [(-r.priority, 1, i, r) for i, r in enumerate(rules)]
        merged.sort(key=lambda t: t[:3])
        return [t[3] for t in merged]

    def wants(self, kind: Any) -> bool:
        """Whether any handler or rule could see events of this kind (skip the work if not)."""
        return kind in self._kinds_wanted

    async def dispatch(self, ctx: Context, *, responders_allowed: bool = True) -> RouteResult:
        """Run the watchers, then the responders by priority; each handler and rule that
        runs reports its own run time to ``on_latency`` (one series per handler name).

        The message is read lazily (``ctx.reading``); if something asked for its language,
        the person's language is kept as their tag ``lang:<code>`` (stored with them, shown
        to the staff, usable in ``when: {tags: ...}``), for the short messages to come.
        """
        rules = self._rules
        if rules is None or ctx.reading is not None:
            return await self._dispatch(ctx, responders_allowed)
        memory, follower = rules.state.people, ctx.follower
        # The id and tags, not the record: the memory keeps the last reading of 20,000
        # people, and a whole record held by each was 50 MB in the soak.
        known = partial(_known_language, memory, follower.id, follower.tags)
        ctx.reading = reading = Reading(ctx.event.text, rules.reader, known)
        if rules.promotions and ctx.event.kind in _PERSONAL and ctx.event.text:
            memory.remember(follower.id, reading)  # for "no promotions after a negative message"
        result = await self._dispatch(ctx, responders_allowed)
        detected = reading.detected_language
        if detected:
            memory.note_language(follower.id, detected)
        if detected and f"{LANGUAGE_TAG}{detected}" not in ctx.follower.tags:
            old = [t for t in ctx.follower.tags if t.startswith(LANGUAGE_TAG)]
            ctx.follower = await ctx.people.tag(ctx.follower.id, add=[f"{LANGUAGE_TAG}{detected}"], remove=old)
        return result

    async def _dispatch(self, ctx: Context, responders_allowed: bool) -> RouteResult:
        event = ctx.event
        rules = self._rules
        errors = await self._watch(ctx, event)
        if ctx.replied:
            # A watcher must not reply; the reply was sent but we say so loudly.
            log.error("a watcher replied to event %s; use @plugin.on for handlers that reply", event.id)
        if not responders_allowed:
            return RouteResult(None, errors) if errors else _UNHANDLED
        for responder in self.responders_for(event, ctx.now):
            source = responder.source
            if rules is not None and rules.promotions:
                refused = promotion_refused(source, rules.promotions,
                                            partial(rules.state.people.last_mood, ctx.follower.id))
                if refused:
                    ctx.note("skip", refused)
                    continue
            plugin = responder.spec.plugin if isinstance(responder, PluginResponder) else ""
            self._enter(ctx, plugin, source)
            replied_before = ctx.replied
            ctx.stopped = False
            started = time.perf_counter()
            outcome = await self._run(source, ctx, responder.respond(ctx))
            if self._on_latency is not None:
                self._on_latency(source, time.perf_counter() - started)
            replied = ctx.replied and not replied_before
            if outcome is _FAILED:
                errors += 1
                if replied:  # it answered before failing: that answer stands
                    return RouteResult(source, errors, responder.priority)
                continue
            if (replied or ctx.stopped) and not responder.passes_on:
                return RouteResult(source, errors, responder.priority)
        return RouteResult(None, errors) if errors else _UNHANDLED

    async def _watch(self, ctx: Context, event: Event) -> int:
        """Run every watcher that wants the event; returns how many failed.

        This loop runs for every watcher of every event, so it does inline what
        :meth:`_enter` and :meth:`_run` do: no extra coroutine per watcher.
        """
        errors = 0
        kind = event.kind
        on_latency = self._on_latency
        clock = time.perf_counter
        for watcher in self._watchers:
            if kind not in watcher.kinds or (watcher.check is not None and not watcher.check(event)):
                continue
            ctx._source = source = watcher.source
            ctx.plugin_name = watcher.plugin
            if watcher.config is not _KEEP_CONFIG:
                ctx.config = watcher.config
            started = clock()
            coro = watcher.func(ctx)
            try:
                first = coro.send(None)
            except StopIteration:
                if on_latency is not None:
                    on_latency(source, clock() - started)
                continue
            except Exception as exc:  # noqa: BLE001 - isolation is the point
                self._failed(source, ctx, exc)
                errors += 1
                if on_latency is not None:
                    on_latency(source, clock() - started)
                continue
            if await self._finish(source, ctx, coro, first) is _FAILED:
                errors += 1
            if on_latency is not None:
                on_latency(source, clock() - started)
        return errors

    def _enter(self, ctx: Context, plugin: str, source: str) -> None:
        """Point the context at the handler about to run: its name, config and data."""
        ctx._source = source
        ctx.plugin_name = plugin
        if plugin:
            ctx.config = self._settings.get(plugin, ctx.config)

    async def _run(self, source: str, ctx: Context, coro: Coroutine[Any, Any, object]) -> object:
        """Run one handler with a timeout; log and contain any failure.

        Returns what the handler returned, or ``_FAILED``. Most handlers finish without
        ever waiting (the store answers from memory), so the coroutine is first stepped
        directly and the timeout, which costs a timer, is only armed if it suspends.
        """
        try:
            first = coro.send(None)
        except StopIteration as done:
            return done.value
        except Exception as exc:  # noqa: BLE001 - isolation is the point
            return self._failed(source, ctx, exc)
        return await self._finish(source, ctx, coro, first)

    async def _finish(self, source: str, ctx: Context, coro: Coroutine[Any, Any, object], first: object) -> object:
        """Await a handler that suspended (yielding ``first``), under the handler timeout."""
        try:
            async with asyncio.timeout(self._timeout):
                return await _Resumed(coro, first)
        except Exception as exc:  # noqa: BLE001 - isolation is the point
            return self._failed(source, ctx, exc)

    def _failed(self, source: str, ctx: Context, exc: Exception) -> object:
        """Log and note a handler failure (call it from the ``except`` block); returns ``_FAILED``."""
        if isinstance(exc, asyncio.TimeoutError):
            log.error("%s timed out after %.1fs on event %s:%s", source, self._timeout, ctx.event.network, ctx.event.id)
            ctx.note("error", f"{source} timed out")
        else:
            log.error("%s failed on event %s:%s: %s", source, ctx.event.network, ctx.event.id, exc, exc_info=exc)
            ctx.note("error", f"{source} raised {type(exc).__name__}")
        return _FAILED
