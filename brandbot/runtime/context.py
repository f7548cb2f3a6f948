"""The one object a handler receives: the event, the follower, and what it may do.

Handlers never touch the store, the outbox or a network: they get capabilities
(``ctx.people``, ``ctx.once``, ``ctx.networks``, ``ctx.brand``, ``ctx.files``,
``ctx.staff``, ``ctx.data``) and record what they decide in the unit's
:class:`~brandbot.core.effects.Effects`, which the runtime commits with its batch.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic

from pydantic import BaseModel
from typing_extensions import TypeVar

from brandbot.clocks import Clock
from brandbot.core.config import BotConfig
from brandbot.core.effects import DataWrite, Effects
from brandbot.core.events import Conversation, Event, Reply
from brandbot.core.policy import Decision
from brandbot.core.reading import Reading
from brandbot.core.records import FollowerRecord
from brandbot.core.templates import ReplyTemplate, TemplateEngine, build_context
from brandbot.networks.base import CommandSpec
from brandbot.runtime.calendar import Calendar
from brandbot.runtime.capabilities import Files, Networks, Staff
from brandbot.runtime.people import People
from brandbot.runtime.scheduler import Scheduler
from brandbot.runtime.sending import Note, Sending
from brandbot.runtime.unitofwork import SharedData
from brandbot.store.base import Store

Settings = TypeVar("Settings", bound=BaseModel, default=BaseModel)


@dataclass(frozen=True)
class Services:
    """What contexts are built on; one per bot, current configuration read through callables."""

    bot: Any  # only for the deprecated ``ctx.bot``
    store: Store
    clock: Clock
    people: People
    sending: Sending
    scheduler: Scheduler
    shared_data: SharedData
    networks: Networks
    files: Files
    staff: Staff
    config: Callable[[], BotConfig]
    templates: Callable[[], TemplateEngine]
    commands: Callable[[], list[CommandSpec]]
    calendar: Calendar | None = None


class PluginData:
    """A plugin's own persistent key/value storage; values are JSON-serialisable.

    Inside an event handler, writes join the event's effects and are committed with it:
    after a crash, a replayed event does not apply them twice. Reads see the writes of
    every event still in flight.
    """

    def __init__(self, services: Services, namespace: str, effects: Effects | None = None) -> None:
        self._services = services
        self._ns = namespace
        self._effects = effects

    async def get(self, key: str, default: Any = None) -> Any:
        shared = self._services.shared_data
        held, raw = shared.get((self._ns, key))
        if not held:
            raw = await self._services.store.kv_get(self._ns, key)
            held, newer = shared.get((self._ns, key))  # written while we read?
            if held:
                raw = newer
        return default if raw is None else json.loads(raw)

    def set(self, key: str, value: Any, *, follower_id: int = 0) -> None:
        """Save ``value``; pass ``follower_id`` when it is about a person (so forget removes it)."""
        self._write(key, json.dumps(value, ensure_ascii=False, default=str), follower_id)

    def delete(self, key: str) -> None:
        self._write(key, None, 0)

    async def items(self, prefix: str = "") -> list[tuple[str, Any]]:
        found: dict[str, str | None] = dict(await self._services.store.kv_items(self._ns, prefix))
        found.update(self._services.shared_data.pending(self._ns, prefix))
        return [(k, json.loads(v)) for k, v in sorted(found.items()) if v is not None]

    def _write(self, key: str, text: str | None, follower_id: int) -> None:
        if self._effects is not None:
            self._services.shared_data.set(self._effects, (self._ns, key), text, follower_id)
        elif text is None:
            self._services.store.kv_delete(self._ns, key)
        else:
            self._services.store.kv_set(self._ns, key, text, follower_id)


@dataclass
class JobContext(Generic[Settings]):
    """What a periodic or scheduled job (and every handler) receives: the bot's capabilities."""

    services: Services
    plugin_name: str
    config: Settings
    payload: Mapping[str, Any] = field(default_factory=dict)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("brandbot.plugin"))
    effects: Effects | None = None  # None: writes go straight to the store (jobs, start-up hooks)

    # -- capabilities ------------------------------------------------------------------
    @property
    def data(self) -> PluginData:
        return PluginData(self.services, f"plugin:{self.plugin_name}", self.effects)

    @property
    def now(self) -> datetime:
        return self.services.clock.now()

    @property
    def people(self) -> People:
        return self.services.people

    @property
    def networks(self) -> Networks:
        return self.services.networks

    @property
    def brand(self) -> Mapping[str, Any]:
        """The ``brand:`` section of brandbot.yaml (name, url and the facts templates use)."""
        return self.services.config().brand

    @property
    def files(self) -> Files:
        return self.services.files

    @property
    def staff(self) -> Staff:
        return self.services.staff

    @property
    def bot(self) -> Any:
        """Deprecated: use the capabilities (people, once, networks, brand, files, staff)."""
        warnings.warn("ctx.bot is deprecated and goes in the next release; use ctx.people, ctx.once, "
                      "ctx.networks, ctx.brand, ctx.files or ctx.staff", DeprecationWarning, stacklevel=2)
        return self.services.bot

    def commands(self) -> list[CommandSpec]:
        """Every command the bot answers (for a /help)."""
        return self.services.commands()

    async def once(self, key: str) -> bool:
        """True the first time ``key`` is asked for, ever; it is then used up (with this
        unit's commit). For "thank each person once per post" and the like."""
        if self.effects is not None:
            if self.effects.once_key_pending(key) or await self.services.store.once_used(key):
                return False
            self.effects.once_keys.append((key, self.now))
            return True
        if await self.services.store.once_used(key):
            return False
        self.services.store.mark_once(key, self.now)
        return True

    # -- doing -------------------------------------------------------------------------
    async def send(self, network: str, conversation: Conversation | str, text: str, *, essential: bool = True,
                   follower_id: int = 0) -> Decision:
        """Post a proactive message (staff channel, reminder). Passes the policy like any reply.

        Give ``follower_id`` when it is meant for one person: their opt-out then applies,
        and a private conversation is allowed only if they wrote to the bot there first.
        """
        conv = conversation if isinstance(conversation, Conversation) else Conversation(network, conversation)
        follower = await self.people.get(follower_id) if follower_id else None
        return await self.services.sending.announce(conv, text, source=f"plugin:{self.plugin_name}",
                                                    essential=essential, follower=follower, effects=self.effects)

    def render(self, text: str | ReplyTemplate, variables: Mapping[str, Any] | None = None) -> str:
        """Render a template with the brand and ``variables`` (no person: jobs have no event)."""
        templates = self.services.templates()
        template = text if isinstance(text, ReplyTemplate) else templates.compile(text, f"plugin:{self.plugin_name}")
        context = {"brand": self.brand, "now": self.now, **(variables or {})}
        return templates.render(template, context)

    async def send_staff(self, text: str) -> Decision:
        """Post to the configured staff channel."""
        return await self.services.sending.notify_staff(text, source=f"plugin:{self.plugin_name}",
                                                        effects=self.effects)

    def schedule(self, job: str, at: datetime, payload: Mapping[str, Any] | None = None, *, key: str = "") -> str:
        """Persist a one-off job for this plugin's ``@plugin.job(job)`` handler; returns its name."""
        return self.services.scheduler.schedule(self.plugin_name, job, at, payload or {}, key=key,
                                                effects=self.effects)

    def cancel(self, name: str) -> None:
        self.services.scheduler.cancel(name, effects=self.effects)

    def anchor_posts(self, kind: str, ident: str, start: datetime, variables: Mapping[str, Any] | None = None) -> None:
        """Tell the calendar when something brand posts may hang on happens: ``posts.yaml``
        entries with ``event: <ident>`` (kind "event", a tour stop) follow ``start`` and see
        ``variables`` in their templates."""
        if self.services.calendar is not None:
            self.services.calendar.anchor(kind, ident, start, variables or {})

    async def answer(self, event: Event, follower: FollowerRecord, text: str | ReplyTemplate, *,
                     variables: Mapping[str, Any] | None = None, essential: bool = False) -> Decision:
        """Answer a person's earlier message (a queued question, a reminder), threaded under it.

        The policy sees what really happened (they wrote there first, they summoned the
        brand on X), and the answer joins this handler's or job's unit of work.
        """
        notes = self.notes if isinstance(self, Context) else []
        earlier: Context[Any] = Context(services=self.services, plugin_name=self.plugin_name, config=self.config,
                                        log=self.log, effects=self.effects, event=event, follower=follower,
                                        notes=notes)
        return await earlier.reply(text, variables=variables, essential=essential)


@dataclass
class Context(JobContext[Settings]):
    """Everything a handler needs about one event.

    ``follower`` is the person's record *after* this event was counted, so a first
    repost reads ``ctx.follower.reposts == 1``. A responder has handled the event only
    if it replied or called :meth:`stop`; otherwise the next responder gets its turn.
    """

    event: Event = None  # type: ignore[assignment]
    follower: FollowerRecord = None  # type: ignore[assignment]
    first_contact: bool = False
    is_admin: bool = False
    replied: bool = False
    notes: list[Note] = field(default_factory=list)
    stopped: bool = False
    reading: Reading | None = None  # the message as read (language, sentiment, intent), lazily
    _source: str = ""

    @property
    def days_known(self) -> int:
        return self.follower.days_known(self.now)

    def stop(self) -> None:
        """This responder has dealt with the event without replying: no other responder runs."""
        self.stopped = True

    def fall_through(self) -> None:
        """Deprecated and no longer needed: a responder that neither replies nor calls
        :meth:`stop` lets the next responder handle the event."""

    def template_vars(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return build_context(event=self.event, follower=self.follower, first_contact=self.first_contact,
                             now=self.now, brand=self.brand, extra=extra)

    def render(self, text: str | ReplyTemplate, variables: Mapping[str, Any] | None = None) -> str:
        """Render a template (source text or compiled) with the person's variables."""
        templates = self.services.templates()
        template = text if isinstance(text, ReplyTemplate) else templates.compile(text, self._source)
        if template.is_plain:  # plain text uses no variables: skip building them
            return templates.render(template, variables or {})
        return templates.render(template, self.template_vars(variables))

    async def reply(
        self,
        text: str | ReplyTemplate,
        *,
        variables: Mapping[str, Any] | None = None,
        essential: bool = False,
        once_key: str | None = None,
        private: bool = False,
    ) -> Decision:
        """Answer the event in its conversation (threaded under it), through the policy.

        ``text`` is a template: ``{{ name }}`` and the other documented variables work;
        values that came from people are inserted as data, never rendered.
        ``essential`` marks confirmations the person asked for (e.g. after "stop").
        """
        rendered = self.render(text, variables)
        conversation = self.event.conversation
        if private and not conversation.private:
            conversation = Conversation(self.event.network, f"dm:{self.event.author.id}", private=True)
        reply = Reply(
            network=self.event.network,
            conversation=conversation,
            text=rendered,
            in_reply_to=self.event.post_id if conversation == self.event.conversation else None,
            recipient=self.event.author,
            event_id=self.event.id,
            source=self._source or f"plugin:{self.plugin_name}",
        )
        decision = await self.services.sending.outbound(
            reply, event=self.event, follower=self.follower, effects=self.effects, essential=essential,
            once_key=once_key, notes=self.notes,
        )
        if decision.verdict != "refuse":
            self.replied = True
        return decision

    # -- actions on the follower --------------------------------------------------------
    async def tag(self, *tags: str) -> None:
        self.follower = await self.people.tag(self.follower.id, add=tags)

    async def untag(self, *tags: str) -> None:
        self.follower = await self.people.tag(self.follower.id, remove=tags)

    async def add_points(self, points: int, reason: str = "") -> None:
        self.follower = await self.people.add_points(self.follower.id, points, reason or self._source)

    async def opt_out(self, opted_out: bool = True) -> None:
        """Stop (or resume) every non-essential message to this person."""
        self.follower = await self.people.set_opted_out(self.follower.id, opted_out)

    async def handoff(self, reason: str = "") -> None:
        """Hand this conversation to the staff: the bot goes silent here until released."""
        await self.services.sending.handoff(self.event.conversation, reason or self._source,
                                            follower=self.follower, effects=self.effects)

    def note(self, action: str, detail: str = "") -> None:
        self.notes.append(Note(self._source, action, detail))


__all__ = ["Context", "DataWrite", "JobContext", "Note", "PluginData", "Services"]
