"""The plugin object, and how a command reaches it on every network.

Telegram and Discord deliver ``/ask ...`` as a command event. X has no commands: there
people write "/ask ..." in a DM or in a mention ("@inkwell /ask ..."). An
:class:`Invocation` is the command either way, so each handler is written once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from brandbot import Context, Plugin
from brandbot.runtime.context import JobContext
from brandbot.core.events import Event, Kind
from brandbot.core.plugin import HandlerSpec

from .settings import EventsSettings
from .state import State

plugin = Plugin("events", config=EventsSettings, description="book tour: reminders, live Q&A, recaps")

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


def state_of(ctx: JobContext) -> State:
    return State(ctx.data)


def settings_of(ctx: JobContext) -> EventsSettings:
    return ctx.config  # type: ignore[return-value]


CommandFunc = Callable[[Context, Invocation], Awaitable[None]]


def command(name: str, *, description: str, admin: bool = False, priority: int = 100) -> Callable[[CommandFunc], CommandFunc]:
    """Register ``func(ctx, invocation)`` as ``/name``; typed as text (on X) it reaches the same handler."""

    def deco(func: CommandFunc) -> CommandFunc:
        async def native(ctx: Context) -> None:
            inv = invocation_of(ctx.event)
            assert inv is not None
            await func(ctx, inv)

        native.__name__ = func.__name__
        plugin.command(name, description=description, admin=admin, priority=priority)(native)
        return func

    return deco


def _own_command(event: Event) -> HandlerSpec | None:
    inv = invocation_of(event)
    if inv is None:
        return None
    return next((h for h in plugin.handlers if h.command is not None and h.command == inv.name), None)


@plugin.on(Kind.DIRECT, Kind.MENTION, Kind.REPLY, priority=COMMAND_PRIORITY, when=lambda e: _own_command(e) is not None)
async def typed_command(ctx: Context) -> None:
    """One of our commands typed as text where the network has none (X): same handler, same admin rule."""
    spec = _own_command(ctx.event)
    assert spec is not None and spec.command is not None
    if spec.admin_only and not ctx.is_admin:
        ctx.note("refuse", f"/{spec.command} is for admins only")
        await ctx.reply("Sorry, /{{ command }} is only for the team.", variables={"command": spec.command})
        return
    await spec.func(ctx)
