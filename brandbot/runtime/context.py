"""The one object a handler receives: the event, the follower, and what it may do.

Handlers never touch the store, the outbox or a network directly; everything goes
through the Context so the policy, the history and the reply-once rule always apply.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

from brandbot.core.events import Conversation, Event, Reply
from brandbot.core.policy import Decision
from brandbot.core.records import FollowerRecord, Job
from brandbot.core.templates import ReplyTemplate

if TYPE_CHECKING:
    from brandbot.runtime.bot import Bot


@dataclass(frozen=True, slots=True)
class Note:
    """One decision taken while handling an event: shown by ``simulate`` and in logs."""

    source: str
    action: str  # send | defer | refuse | skip | error | action
    detail: str = ""
    text: str = ""
    network: str = ""
    conversation: str = ""


class PluginData:
    """A plugin's own persistent key/value storage; values are JSON-serialisable.

    Inside an event handler, writes are staged with the event and reach the store
    together with its processed mark: after a crash, a replayed event does not apply
    them twice. Reads see the staged writes.
    """

    def __init__(self, bot: "Bot", namespace: str, stage: Any = None) -> None:
        self._bot = bot
        self._ns = namespace
        self._stage = stage

    async def get(self, key: str, default: Any = None) -> Any:
        held, raw = self._bot.shared_data.get((self._ns, key))
        if not held:
            raw = await self._bot.store.kv_get(self._ns, key)
            held, newer = self._bot.shared_data.get((self._ns, key))  # written while we read?
            if held:
                raw = newer
        return default if raw is None else json.loads(raw)

    def set(self, key: str, value: Any, *, follower_id: int = 0) -> None:
        """Save ``value``; pass ``follower_id`` when it is about a person (so forget removes it)."""
        text = json.dumps(value, ensure_ascii=False, default=str)
        if self._stage is not None:
            self._bot.shared_data.set(self._stage, (self._ns, key), text, follower_id)
        else:
            self._bot.store.kv_set(self._ns, key, text, follower_id)

    def delete(self, key: str) -> None:
        if self._stage is not None:
            self._bot.shared_data.set(self._stage, (self._ns, key), None, 0)
        else:
            self._bot.store.kv_delete(self._ns, key)

    async def items(self, prefix: str = "") -> list[tuple[str, Any]]:
        found: dict[str, str | None] = dict(await self._bot.store.kv_items(self._ns, prefix))
        found.update(self._bot.shared_data.pending(self._ns, prefix))
        return [(k, json.loads(v)) for k, v in sorted(found.items()) if v is not None]


class _Scheduling(Protocol):
    plugin_name: str


@dataclass
class JobContext:
    """What a periodic or scheduled job receives: no event, but the bot's services."""

    bot: "Bot"
    plugin_name: str
    config: BaseModel
    payload: Mapping[str, Any] = field(default_factory=dict)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("brandbot.plugin"))

    @property
    def data(self) -> PluginData:
        return PluginData(self.bot, f"plugin:{self.plugin_name}", getattr(self, "stage", None))

    @property
    def now(self) -> datetime:
        return self.bot.clock.now()

    async def send(self, network: str, conversation: Conversation | str, text: str, *, essential: bool = True,
                   follower_id: int = 0) -> Decision:
        """Post a proactive message (staff channel, reminder). Passes the policy like any reply.

        Give ``follower_id`` when it is meant for one person: their opt-out then applies,
        and a private conversation is allowed only if they wrote to the bot there first.
        """
        conv = conversation if isinstance(conversation, Conversation) else Conversation(network, conversation)
        follower = await self.bot.store.get_follower(follower_id) if follower_id else None
        return await self.bot.announce(conv, text, source=f"plugin:{self.plugin_name}", essential=essential,
                                       follower=follower)

    def render(self, text: str, variables: Mapping[str, Any] | None = None) -> str:
        """Render a template with the brand and ``variables`` (no person: jobs have no event)."""
        template = self.bot.templates.compile(text, f"plugin:{self.plugin_name}")
        context = {"brand": self.bot.config.brand, "now": self.now, **(variables or {})}
        return self.bot.templates.render(template, context)

    async def send_staff(self, text: str) -> Decision:
        """Post to the configured staff channel."""
        return await self.bot.notify_staff(text, source=f"plugin:{self.plugin_name}")

    def schedule(self, job: str, at: datetime, payload: Mapping[str, Any] | None = None, *, key: str = "") -> str:
        """Persist a one-off job for this plugin's ``@plugin.job(job)`` handler; returns its name."""
        return self.bot.schedule(self.plugin_name, job, at, payload or {}, key=key,
                                 stage=getattr(self, "stage", None))

    def cancel(self, name: str) -> None:
        stage = getattr(self, "stage", None)
        if stage is not None:
            stage.jobs[name] = None
        else:
            self.bot.store.delete_job(name)


@dataclass
class Context(JobContext):
    """Everything a handler needs about one event.

    ``follower`` is the person's record *after* this event was counted, so a first
    repost reads ``ctx.follower.reposts == 1``.
    """

    event: Event = None  # type: ignore[assignment]
    follower: FollowerRecord = None  # type: ignore[assignment]
    first_contact: bool = False
    is_admin: bool = False
    replied: bool = False
    notes: list[Note] = field(default_factory=list)
    stage: Any = None  # the event's staged writes (brandbot.runtime.unitofwork.Staged)
    _fall_through: bool = False
    _source: str = ""

    @property
    def days_known(self) -> int:
        return self.follower.days_known(self.now)

    def fall_through(self) -> None:
        """Let the next responder in priority order handle this event too."""
        self._fall_through = True

    def template_vars(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self.bot.template_context(self.event, self.follower, self.first_contact, extra)

    def render(self, text: str | ReplyTemplate, variables: Mapping[str, Any] | None = None) -> str:
        """Render a template (source text or compiled) with the person's variables."""
        template = text if isinstance(text, ReplyTemplate) else self.bot.templates.compile(text, self._source)
        if template.is_plain:  # plain text uses no variables: skip building them
            return self.bot.templates.render(template, variables or {})
        return self.bot.templates.render(template, self.template_vars(variables))

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
        decision = await self.bot.outbound(
            reply, event=self.event, follower=self.follower, essential=essential, once_key=once_key, notes=self.notes,
            stage=self.stage,
        )
        if decision.verdict != "refuse":
            self.replied = True
        return decision

    # -- actions on the follower --------------------------------------------------------
    async def tag(self, *tags: str) -> None:
        self.follower = await self.bot.tag_follower(self.follower.id, add=tags)

    async def untag(self, *tags: str) -> None:
        self.follower = await self.bot.tag_follower(self.follower.id, remove=tags)

    async def add_points(self, points: int, reason: str = "") -> None:
        self.follower = await self.bot.add_points(self.follower.id, points, reason or self._source)

    async def handoff(self, reason: str = "") -> None:
        """Hand this conversation to the staff: the bot goes silent here until released."""
        await self.bot.handoff(self.event.conversation, reason or self._source, follower=self.follower)

    def note(self, action: str, detail: str = "") -> None:
        self.notes.append(Note(self._source, action, detail))


__all__ = ["Context", "JobContext", "Note", "PluginData", "Job"]
