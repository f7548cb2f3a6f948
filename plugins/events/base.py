"""The plugin object, and how a command reaches it on every network.

Telegram and Discord deliver ``/ask ...`` as a command event. X has no commands: there
people write "/ask ..." in a DM or in a mention ("@inkwell /ask ..."). An
:class:`Invocation` is the command either way, so each handler is written once, and
:class:`Commands` registers it both ways.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from brandbot import Context, Event, JobContext, Kind, Plugin

from .settings import EventsSettings
from .state import State

plugin = Plugin("events", config=EventsSettings, description="book tour: reminders, live Q&A, recaps")

#: What the plugin's handlers receive: a context whose ``config`` is the events settings.
EventsContext = Context[EventsSettings]
EventsJob = JobContext[EventsSettings]

#: Above the optout plugin (1000), whose words include "subscribe" and "unsubscribe":
#: "/unsubscribe" is about tour reminders; a plain "unsubscribe" still opts out of everything.
COMMAND_PRIORITY = 1001

#: Questions by mention or reply in the live Q&A's conversation: above YAML rules and the
#: welcome greeting, below opt-out (1000) and hand-off (900) so "stop" and "human" still work.
QUESTION_PRIORITY = 500


@dataclass(frozen=True)
class Invocation:
    """A command as typed: its name, its words, and the text after the name as written."""

    name: str
    args: tuple[str, ...]
    rest: str


def strip_mentions(text: str) -> str:
    """"@inkwell @maya why salt?" -> "why salt?": the leading @names only address the bot."""
    words = text.split()
    while words and words[0].startswith("@"):
        words.pop(0)
    return " ".join(words)


def _after_first_word(text: str) -> str:
    parts = text.strip().split(None, 1)
    return parts[1].strip() if len(parts) > 1 else ""


def invocation_of(event: Event) -> Invocation | None:
    """The command in this event, native or typed; None if it holds none."""
    if event.kind is Kind.COMMAND and event.command:
        text = event.text.strip()
        rest = _after_first_word(text) if text.startswith("/") else " ".join(event.args)
        return Invocation(event.command, tuple(event.args), rest)
    if event.kind not in (Kind.DIRECT, Kind.MENTION, Kind.REPLY):
        return None
    text = strip_mentions(event.text)
    if not text.startswith("/") or len(text) < 2:
        return None
    head = text.split(None, 1)[0][1:]
    name = head.split("@", 1)[0].lower()
    rest = _after_first_word(text)
    return Invocation(name, tuple(rest.split()), rest)


def state_of(ctx: JobContext[EventsSettings]) -> State:
    return State(ctx.data)


CommandFunc = Callable[[EventsContext, Invocation], Awaitable[None]]


@dataclass(frozen=True)
class TypedCommand:
    """One of our commands as the typed-text path needs it: who may use it, and what runs."""

    name: str
    admin: bool
    func: CommandFunc


class Commands:
    """The plugin's commands, each registered as a native command and reachable typed as text.

    The table is the plugin's own, so the typed path (X) applies the same admin rule and
    runs the same function without looking into the framework's handler records.
    """

    def __init__(self, owner: Plugin[Any]) -> None:
        self._plugin = owner
        self._by_name: dict[str, TypedCommand] = {}

    def __call__(self, name: str, *, description: str, admin: bool = False,
                 priority: int = 100) -> Callable[[CommandFunc], CommandFunc]:
        """Register ``func(ctx, invocation)`` as ``/name``; typed as text (on X) it reaches the same handler."""

        def deco(func: CommandFunc) -> CommandFunc:
            async def native(ctx: EventsContext) -> None:
                inv = invocation_of(ctx.event)
                assert inv is not None
                await func(ctx, inv)
                ctx.stop()  # our command ran: no other responder answers it, reply or not

            native.__name__ = func.__name__
            self._plugin.command(name, description=description, admin=admin, priority=priority)(native)
            self._by_name[name] = TypedCommand(name, admin, func)
            return func

        return deco

    def typed(self, event: Event) -> tuple[TypedCommand, Invocation] | None:
        """Our command written as text in a message, with its invocation; None if there is none."""
        inv = invocation_of(event)
        found = self._by_name.get(inv.name) if inv is not None else None
        return (found, inv) if found is not None and inv is not None else None


command = Commands(plugin)


@plugin.on(Kind.DIRECT, Kind.MENTION, Kind.REPLY, priority=COMMAND_PRIORITY, when=lambda e: command.typed(e) is not None)
async def typed_command(ctx: EventsContext) -> None:
    """One of our commands typed as text where the network has none (X): same handler, same admin rule."""
    typed = command.typed(ctx.event)
    assert typed is not None
    found, inv = typed
    if found.admin and not ctx.is_admin:
        ctx.log.warning("refused admin command /%s from %s:%s (not an admin)",
                        found.name, ctx.event.network, ctx.event.author.id)
        ctx.note("refuse", f"/{found.name} is for admins only")
        await ctx.reply("Sorry, /{{ command }} is only for the team.", variables={"command": found.name})
    else:
        await found.func(ctx, inv)
    ctx.stop()  # our command, run or refused: no other responder answers it
