"""How the giveaway speaks: announcements where it was opened, answers to admins, staff notes.

Announcements answer nobody in particular (brand, now and their own variables); an
admin's answer that a network refuses as too long (X) goes to the staff channel, so an
admin never loses a summary or a seed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from brandbot import Context, Conversation, Decision, JobContext, Reason, Verdict


def render_announcement(ctx: JobContext[Any], source: str, variables: Mapping[str, Any]) -> str:
    """Render a message that answers nobody: brand, now and the given variables.

    ``JobContext.render`` even when ``ctx`` is an event's Context, whose own ``render``
    would add the variables of the person who sent the command.
    """
    return JobContext.render(ctx, source, variables)


def stamp(iso: str) -> str:
    """ "2026-01-01T12:00:00+00:00" -> "2026-01-01 12:00 UTC"."""
    return f"{datetime.fromisoformat(iso):%Y-%m-%d %H:%M} UTC"


def when_text(moment: datetime | None) -> str:
    return f"at {moment:%Y-%m-%d %H:%M} UTC" if moment else "when the team closes it"


def names(people: Sequence[str]) -> str:
    """["Ana", "Bob", "Cy"] -> "Ana, Bob and Cy"."""
    return people[0] if len(people) == 1 else ", ".join(people[:-1]) + " and " + people[-1]


def refused(decision: Decision) -> str | None:
    """Why the policy refused a message ("reason: detail"), or None if it may go out."""
    if decision.verdict is not Verdict.REFUSE:
        return None
    return f"{decision.reason}: {decision.detail}"


async def post(
    ctx: JobContext[Any],
    where: tuple[str, str],
    private: bool,
    text: str,
    short: str | None = None,
) -> Decision:
    """Post in a conversation: as the reply when the admin's command came from there.

    Where the network refuses ``text`` as too long (X), ``short`` is tried instead.
    """
    network, conversation = where
    decision: Decision | None = None
    for attempt in (text, short):
        if attempt is None:
            break
        if isinstance(ctx, Context) and ctx.event.conversation.key == where:
            decision = await ctx.reply("{{ text }}", variables={"text": attempt}, essential=True)
        else:
            decision = await ctx.send(
                network, Conversation(network, conversation, private=private), attempt
            )
        if decision.reason is not Reason.TOO_LONG:
            break
    assert decision is not None  # the loop always tries ``text``
    return decision


def in_staff_room(ctx: JobContext[Any]) -> bool:
    """Whether this is an admin's command typed in the staff channel itself."""
    return isinstance(ctx, Context) and ctx.event.conversation.key == (
        ctx.staff.network,
        ctx.staff.conversation,
    )


async def admin_says(ctx: Context[Any], text: str, *, staff_has_it: bool = False) -> None:
    """Answer an admin; an answer too long for the network (X) goes to the staff channel."""
    decision = await ctx.reply("{{ text }}", variables={"text": text}, essential=True)
    if decision.reason is Reason.TOO_LONG:
        if not staff_has_it:
            await ctx.send_staff(text)
        await ctx.reply(
            "That answer is too long for {{ network }}; I sent it to the staff channel.",
            essential=True,
        )


async def tell_staff(ctx: JobContext[Any], text: str) -> None:
    """Tell the staff, unless the admin is in the staff room and gets the answer there."""
    if not in_staff_room(ctx):
        await ctx.send_staff(text)
