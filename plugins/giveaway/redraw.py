"""Redrawing a prize nobody claimed: the next entry of the *same* draw wins.

Drawing one more entry never changes the earlier picks, so the replacement is simply
winner number ``len(drawn) + 1`` of the same seed and entry list, and the published
record still verifies. Entries whose holder was forgotten, opted out or won elsewhere
since the draw are skipped (and listed as forfeited, so the record stays checkable).
"""

from __future__ import annotations

import dataclasses

from brandbot import Follower
from brandbot import draw as seeded

from .draw import notify_winner, schedule_claim_deadline
from .eligibility import Candidate, ineligibility
from .export import write_export
from .posting import admin_says, post, refused, render_announcement, tell_staff
from .records import Giveaway
from .settings import Ctx
from .state import State


async def next_winner(
    ctx: Ctx, giveaway: Giveaway, forfeiting: str
) -> tuple[Giveaway, Candidate | None, list[str]]:
    """Mark ``forfeiting`` and draw on until someone eligible comes up.

    Returns the updated giveaway (saved), the new winner if one was left, and the
    entries skipped on the way.
    """
    state = State.of(ctx)
    entries = await state.draw_list(giveaway.id)
    by_entry = await state.entries_by_id(giveaway.id)
    forfeited = [*giveaway.forfeited, forfeiting]
    drawn = list(giveaway.drawn)
    winner: Candidate | None = None
    skipped: list[str] = []
    while len(drawn) < len(entries):
        candidate = seeded.draw(giveaway.seed, entries, len(drawn) + 1)[-1]
        drawn.append(candidate)
        entry = by_entry.get(candidate)
        follower: Follower | None = await state.holder(entry) if entry else None
        if (
            entry is None
            or follower is None
            or await ineligibility(ctx, giveaway, follower, at_entry=False) is not None
        ):
            forfeited.append(candidate)  # forgotten, opted out, or won elsewhere since the draw
            skipped.append(candidate)
            continue
        winner = Candidate(entry, follower)
        break
    giveaway = dataclasses.replace(giveaway, drawn=tuple(drawn), forfeited=tuple(forfeited))
    state.save(giveaway)
    return giveaway, winner, skipped


async def redraw(ctx: Ctx, giveaway: Giveaway, forfeiting: str) -> None:
    """Forfeit one winner, draw the next, announce them where it was opened, tell the admin."""
    settings = ctx.config
    giveaway, winner, skipped = await next_winner(ctx, giveaway, forfeiting)
    path = await write_export(ctx, giveaway)
    skipped_note = f" Skipped {', '.join(skipped)} (no longer eligible)." if skipped else ""
    if winner is None:
        await admin_says(
            ctx,
            f"{forfeiting} forfeited, but no eligible entry is left to draw: "
            f"the prize of giveaway #{giveaway.id} stays unclaimed.{skipped_note}",
        )
        return
    await ctx.people.tag(winner.follower.id, add=[settings.winner_tag])
    text = render_announcement(
        ctx,
        settings.messages.redrawn,
        {
            "id": giveaway.id,
            "prize": giveaway.prize,
            "winner": winner.follower.name,
            "claim_within": settings.claim_within,
        },
    )
    problem = refused(await post(ctx, giveaway.where, giveaway.private, text))
    await notify_winner(ctx, giveaway, winner)
    schedule_claim_deadline(ctx, giveaway)
    summary = (
        f"Redrew giveaway #{giveaway.id}: {forfeiting} forfeited; draw number {len(giveaway.drawn)} "
        f"is {winner.follower.name} ({winner.entry.entry}, {winner.entry.network}).{skipped_note}"
        + (
            f" The announcement was refused ({problem}); post it yourself:\n{text}"
            if problem
            else ""
        )
        + (f" Entry list updated: {path}." if path else "")
    )
    if ctx.replied:  # the announcement was the answer: the details go to the staff
        await tell_staff(ctx, summary)
    else:
        await admin_says(ctx, summary)
