"""Who may take part: checked when a person enters, and again at the draw.

At entry every rule applies; at the draw only those that can change in between (opting
out, staff tags, becoming admin, having won another giveaway meanwhile), so a person who
said "stop" after entering is left out of the draw.
"""

from __future__ import annotations

from dataclasses import dataclass

from brandbot import Follower

from .records import Entry, Giveaway
from .settings import JobCtx
from .state import State


async def ineligibility(
    ctx: JobCtx, giveaway: Giveaway, follower: Follower, *, at_entry: bool
) -> str | None:
    """Which rule keeps this person out (a Messages field name, or "opted_out"), or None."""
    settings = ctx.config
    if follower.opted_out:
        return "opted_out"
    if settings.exclude_admins and ctx.staff.has_admins():
        for identity in await ctx.people.identities(follower.id):
            if ctx.staff.is_admin(identity.network, identity.user_id, identity.handle):
                return "reason_staff"
    if follower.tags & set(settings.exclude_tags):
        return "reason_staff" if "staff" in follower.tags else "reason_excluded"
    if giveaway.previous_winners == "exclude" and settings.winner_tag.lower() in follower.tags:
        return "reason_previous_winner"
    if at_entry:
        if follower.days_known(ctx.now) < giveaway.min_days:
            return "reason_new"
        if follower.interactions - 1 < giveaway.min_interactions:  # this entry is already counted
            return "reason_interactions"
    return None


@dataclass(frozen=True)
class Candidate:
    """An entry in the draw, with the person who holds it now."""

    entry: Entry
    follower: Follower


async def eligible_entries(ctx: JobCtx, giveaway: Giveaway) -> tuple[dict[str, Candidate], int]:
    """Entries the draw runs on, one per person (linked accounts count once), and how
    many were left out."""
    state = State.of(ctx)
    by_person: dict[int, Candidate] = {}
    # Earliest entry first (follower ids, given in order of first contact, break ties), so the
    # entry that stands for a person who entered from two accounts before linking them is stable.
    for entry in sorted(
        await state.entries(giveaway.id), key=lambda e: (e.at, e.follower_id, e.entry)
    ):
        follower = await state.holder(entry)
        if follower is None or follower.id in by_person:
            continue
        by_person[follower.id] = Candidate(entry, follower)
    eligible: dict[str, Candidate] = {}
    for candidate in by_person.values():
        why = await ineligibility(ctx, giveaway, candidate.follower, at_entry=False)
        if why is None:
            eligible[candidate.entry.entry] = candidate
        else:
            ctx.log.info(
                "giveaway #%d: entry %s left out of the draw (%s)",
                giveaway.id,
                candidate.entry.entry,
                why,
            )
    return eligible, len(by_person) - len(eligible)
