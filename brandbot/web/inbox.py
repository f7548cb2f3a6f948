"""The Inbox: conversations handed to people, oldest first, answered from the page.

A staff answer is the answer to the person's latest message in the handed-off
conversation: it goes through the policy gate and the outbox like every reply, on the
conversation's own network, as an essential reply to the person's own request (that
is what lets it through the handoff that keeps the bot quiet). Opted-out, unreachable,
too long, or a network's summons rule still refuse it, and the page says why.

Assignments (who of the team takes a conversation) are kept in the store's data
(``web.inbox``); releasing gives the conversation back to the bot and drops them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from aiohttp import web

from brandbot.core.events import Conversation, Event, Kind, Person, Reply
from brandbot.core.policy import Decision, Verdict
from brandbot.core.records import FollowerRecord
from brandbot.web.accounts import STAFF
from brandbot.web.guard import current_user, redirect
from brandbot.web.queries import Queries, ThreadLine

if TYPE_CHECKING:
    from brandbot.runtime.bot import Bot
    from brandbot.web.app import WebUI

INBOX_NAMESPACE = "web.inbox"  # target -> {"to": colleague, "by": who assigned}
MAX_ANSWER = 4000
STREAM_POLL = 1.0  # seconds between looks at the handoffs for the live list
STREAM_KEEPALIVE = 15.0


class InboxError(ValueError):
    """An inbox action that cannot be done; the message is shown on the page."""


@dataclass(frozen=True, slots=True)
class Handoff:
    """One conversation (or one person in a group) the bot is keeping quiet in."""

    network: str
    conversation: str
    person: int  # 0: the whole (private) conversation
    until: datetime
    assignee: str = ""

    @property
    def target(self) -> str:
        """``network:conversation`` or ``network:conversation@follower``, as /release takes it."""
        return f"{self.network}:{self.conversation}" + (f"@{self.person}" if self.person else "")


def split_target(conversation: str) -> tuple[str, int]:
    """``conv@42`` -> (conv, 42); a conversation without a person -> (conv, 0)."""
    conv, sep, who = conversation.rpartition("@")
    return (conv, int(who)) if sep and who.isdigit() else (conversation, 0)


def parse_target(target: str) -> tuple[str, str, int]:
    network, sep, rest = target.partition(":")
    if not sep or not network or not rest:
        raise InboxError("no such conversation (it may have been released meanwhile)")
    conv, person = split_target(rest)
    return network, conv, person


async def open_handoffs(bot: Bot) -> list[Handoff]:
    """The handoffs still running, handed off longest ago first, with who took them."""
    now = bot.clock.now()
    assigned = dict(await bot.store.kv_items(INBOX_NAMESPACE))
    found = []
    for (network, conversation), until in bot.sending.handoffs.items():  # soonest end = oldest first
        if until <= now:
            continue
        conv, person = split_target(conversation)
        handoff = Handoff(network, conv, person, until)
        try:
            to = str(json.loads(assigned.get(handoff.target, "{}")).get("to", ""))
        except (ValueError, AttributeError):
            to = ""
        found.append(Handoff(network, conv, person, until, to))
    return found


async def find_handoff(bot: Bot, target: str) -> Handoff:
    for handoff in await open_handoffs(bot):
        if handoff.target == target:
            return handoff
    raise InboxError("that conversation is no longer handed off (released, or its time ran out)")


async def answer_handoff(bot: Bot, queries: Queries, handoff: Handoff, text: str, user: str) -> Decision:
    """Send a staff member's answer through the policy gate and the outbox, threaded under
    the person's latest message where the bot knows its platform id (X needs it)."""
    text = text.strip()
    if not text:
        raise InboxError("write an answer first")
    if len(text) > MAX_ANSWER:
        raise InboxError(f"the answer is {len(text)} characters; keep it under {MAX_ANSWER}")
    thread = await queries.thread(handoff.network, handoff.conversation, handoff.person)
    asked = next((line for line in reversed(thread) if line.direction == "in" and line.follower_id), None)
    if asked is None:
        raise InboxError("nobody has written in this conversation yet, so there is nobody to answer")
    follower = await bot.people.get(asked.follower_id)
    if follower is None:
        raise InboxError("the person was forgotten meanwhile; there is nobody to answer")
    identity = next((i for i in await bot.people.identities(follower.id) if i.network == handoff.network), None)
    if identity is None:
        raise InboxError(f"the person has no account on {handoff.network} any more")
    try:
        kind = Kind.parse(asked.kind)
    except ValueError:
        kind = Kind.DIRECT
    conversation = Conversation(handoff.network, handoff.conversation, private=handoff.person == 0)
    author = Person(handoff.network, identity.user_id, identity.handle, identity.name)
    event = Event(kind=kind, network=handoff.network, id=asked.event_id, author=author, conversation=conversation,
                  time=datetime.fromisoformat(asked.time), addressed=True)
    reply = Reply(network=handoff.network, conversation=conversation, text=text, recipient=author,
                  in_reply_to=await queries.post_of(handoff.network, asked.event_id) or None, source=f"staff:{user}")
    return await bot.sending.outbound(reply, event=event, follower=follower, essential=True)


def colleagues(bot: Bot) -> list[str]:
    """Who a conversation can be assigned to: the logins with the staff role."""
    return sorted(name for name, account in bot.config.top.http.accounts.items() if account.role == STAFF)


# -- pages ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Card:
    """One handoff as the inbox shows it: the conversation, its latest messages, who asked."""

    handoff: Handoff
    thread: list[ThreadLine]
    who: FollowerRecord | None


async def _cards(ui: WebUI) -> list[Card]:
    cards = []
    for h in await open_handoffs(ui.bot):
        thread = await ui.queries.thread(h.network, h.conversation, h.person)
        asked = h.person or next((m.follower_id for m in reversed(thread) if m.direction == "in"), 0)
        cards.append(Card(h, thread, await ui.bot.people.get(asked) if asked else None))
    return cards


async def inbox(ui: WebUI, request: web.Request, error: str = "", status: int = 200) -> web.StreamResponse:
    said = {"sent": "Answer sent through the outbox.", "deferred": "Answer queued: it leaves when the policy allows.",
            "assigned": "Assigned.", "released": "Released: the bot answers there again."}
    refused = request.query.get("refused", "")
    notice = said.get(request.query.get("done", ""), "")
    if refused:
        notice = ""
        error = error or f"The policy refused the answer ({refused[:200]})."
    return ui.page(request, "inbox.html", "Inbox", status=status, cards=await _cards(ui),
                   colleagues=colleagues(ui.bot), done=notice, error=error)


async def inbox_list(ui: WebUI, request: web.Request) -> web.StreamResponse:
    """The list alone, for the live update (the page's script swaps it in)."""
    return ui.page(request, "inbox_list.html", "Inbox", cards=await _cards(ui), colleagues=colleagues(ui.bot))


async def stream(ui: WebUI, request: web.Request) -> web.StreamResponse:
    """Server-sent events: ``handoffs`` whenever the open handoffs change."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    last: tuple[str, ...] | None = None
    quiet = 0.0
    with contextlib.suppress(ConnectionResetError, asyncio.CancelledError):
        while True:
            handoffs = await open_handoffs(ui.bot)
            now = tuple(f"{h.target}|{h.until.isoformat()}|{h.assignee}" for h in handoffs)
            if now != last:
                await response.write(f"event: handoffs\ndata: {len(handoffs)}\n\n".encode())
                last, quiet = now, 0.0
            elif quiet >= STREAM_KEEPALIVE:
                await response.write(b": still here\n\n")
                quiet = 0.0
            await asyncio.sleep(STREAM_POLL)
            quiet += STREAM_POLL
    return response


async def answer(ui: WebUI, request: web.Request) -> web.StreamResponse:
    form = await request.post()
    user = current_user(request)
    name = user.name if user is not None else "?"
    try:
        handoff = await find_handoff(ui.bot, str(form.get("target", "")))
        decision = await answer_handoff(ui.bot, ui.queries, handoff, str(form.get("text", "")), name)
    except InboxError as exc:
        return await inbox(ui, request, str(exc), 400)
    ui.audit.record(name, "answer", handoff.target, f"{decision.verdict.value}: {decision.reason.value}")
    if decision.verdict is Verdict.REFUSE:
        return redirect(f"/inbox?refused={decision.reason.value}")
    return redirect("/inbox?done=" + ("sent" if decision.allowed else "deferred"))


async def assign(ui: WebUI, request: web.Request) -> web.StreamResponse:
    form = await request.post()
    user = current_user(request)
    name = user.name if user is not None else "?"
    colleague = str(form.get("to", ""))
    try:
        handoff = await find_handoff(ui.bot, str(form.get("target", "")))
        if colleague not in colleagues(ui.bot):
            raise InboxError("pick a colleague from the list (the staff logins in http.accounts)")
    except InboxError as exc:
        return await inbox(ui, request, str(exc), 400)
    ui.bot.store.kv_set(INBOX_NAMESPACE, handoff.target, json.dumps({"to": colleague, "by": name}))
    ui.audit.record(name, "assign", handoff.target, f"to {colleague}")
    return redirect("/inbox?done=assigned")


async def release(ui: WebUI, request: web.Request) -> web.StreamResponse:
    form = await request.post()
    user = current_user(request)
    name = user.name if user is not None else "?"
    try:
        network, conv, person = parse_target(str(form.get("target", "")))
    except InboxError as exc:
        return await inbox(ui, request, str(exc), 400)
    target = conv + (f"@{person}" if person else "")
    if not ui.bot.sending.release(network, target):
        return await inbox(ui, request, "that conversation is no longer handed off", 400)
    full = f"{network}:{target}"
    ui.bot.store.kv_delete(INBOX_NAMESPACE, full)
    ui.audit.record(name, "release", full)
    return redirect("/inbox?done=released")


__all__ = ["INBOX_NAMESPACE", "Card", "Handoff", "InboxError", "answer", "answer_handoff", "assign", "colleagues", "find_handoff", "inbox",
           "inbox_list", "open_handoffs", "parse_target", "release", "split_target", "stream"]
