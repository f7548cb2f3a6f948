"""Closing a giveaway: close, draw, announce; and the persisted jobs around it.

Three steps, each saved before the next starts, so a crash or a timeout in between is
resumed where it stopped (at the next start, or by ``/giveaway close``) and never
announces two different draws: closed (no new entries) -> drawn -> announced.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from brandbot import Conversation
from brandbot import draw as seeded

from .eligibility import Candidate, eligible_entries
from .export import try_write_export
from .posting import names, post, refused, render_announcement, tell_staff
from .records import Giveaway
from .settings import JobCtx
from .state import State


async def close_giveaway(ctx: JobCtx, giveaway: Giveaway) -> str:
    """Close, draw, publish winners and seed, tell staff. Returns a summary for the admin."""
    state = State.of(ctx)
    if giveaway.status == "open":
        giveaway = dataclasses.replace(giveaway, status="closed", closed_at=ctx.now.isoformat())
        state.save(giveaway)  # first: entries arriving from now on are told "closed"
        await state.reindex(giveaway)
        ctx.cancel(f"giveaway:close:{giveaway.id}")
    if not giveaway.drawn_at:
        giveaway = await run_draw(ctx, giveaway)
    return await announce_results(ctx, giveaway)


async def run_draw(ctx: JobCtx, giveaway: Giveaway) -> Giveaway:
    """Draw on the eligible entries and save the result (and the list it ran on)."""
    state = State.of(ctx)
    eligible, excluded = await eligible_entries(ctx, giveaway)
    entries = sorted(eligible)
    drawn = seeded.draw(giveaway.seed, entries, giveaway.winners)
    state.save_draw_list(giveaway.id, entries)
    giveaway = dataclasses.replace(
        giveaway,
        entries=len(entries),
        excluded=excluded,
        drawn=tuple(drawn),
        drawn_at=ctx.now.isoformat(),
    )
    state.save(giveaway)
    for entry_id in drawn:
        await ctx.people.tag(eligible[entry_id].follower.id, add=[ctx.config.winner_tag])
    return giveaway


async def winners_now(ctx: JobCtx, giveaway: Giveaway) -> list[Candidate]:
    """The drawn entries with the people who hold them now (forgotten people drop out)."""
    state = State.of(ctx)
    rows = await state.entries_by_id(giveaway.id)
    winners: list[Candidate] = []
    for entry_id in giveaway.drawn:
        row = rows.get(entry_id)
        follower = await state.holder(row) if row else None
        if row is not None and follower is not None:
            winners.append(Candidate(row, follower))
    return winners


async def announce_results(ctx: JobCtx, giveaway: Giveaway) -> str:
    """Post the results and the seed where the giveaway was opened; tell winners and staff."""
    settings = ctx.config
    entries = await State.of(ctx).draw_list(giveaway.id)
    winners = await winners_now(ctx, giveaway)
    path, export_failed = await try_write_export(ctx, giveaway)
    variables = {
        "id": giveaway.id,
        "prize": giveaway.prize,
        "seed": giveaway.seed,
        "commitment": giveaway.commitment,
        "entries": len(entries),
        "winners": names([c.follower.name for c in winners]) if winners else "",
        "claim_within": settings.claim_within,
        "fingerprint": seeded.entries_digest(entries),
    }
    template = settings.messages.results if winners else settings.messages.no_entries
    text = render_announcement(ctx, template, variables)
    short = (
        render_announcement(ctx, settings.messages.results_short, variables) if winners else None
    )
    decision = await post(ctx, giveaway.where, giveaway.private, text, short)
    for candidate in winners:
        await notify_winner(ctx, giveaway, candidate)
    if winners:
        schedule_claim_deadline(ctx, giveaway)
    State.of(ctx).save(dataclasses.replace(giveaway, announced=True))
    listed = (
        ", ".join(f"{c.follower.name} ({c.entry.entry}, {c.entry.network})" for c in winners)
        or "nobody"
    )
    left_out = (
        f", {giveaway.excluded} left out (opted out, staff or previous winners)"
        if giveaway.excluded
        else ""
    )
    summary = (
        f"Giveaway #{giveaway.id} ({giveaway.prize}) closed: {len(entries)} eligible {'entry' if len(entries) == 1 else 'entries'}"
        f"{left_out}. Winners: {listed}. Seed {giveaway.seed}."
        + (f" Entry list: {path}." if path else "")
    )
    if export_failed:
        summary = f"{export_failed}\n{summary}"
    problem = refused(decision)
    if problem:
        summary += (
            f" The results could not be posted in {giveaway.network}:{giveaway.conversation} "
            f"({problem}); post them yourself:\n{text}"
        )
    await tell_staff(ctx, summary)
    return summary


async def notify_winner(ctx: JobCtx, giveaway: Giveaway, candidate: Candidate) -> None:
    """A note where the winner entered, when that is not where the results were posted.

    In a private chat only because the person wrote there first (entering by DM); the
    policy refuses any other DM, as the platforms do.
    """
    entry = candidate.entry
    if (entry.network, entry.conversation) == giveaway.where:
        return
    text = render_announcement(
        ctx,
        ctx.config.messages.winner_note,
        {"id": giveaway.id, "prize": giveaway.prize, "winner": candidate.follower.name},
    )
    where = Conversation(entry.network, entry.conversation, private=entry.private)
    problem = refused(await ctx.send(entry.network, where, text, follower_id=candidate.follower.id))
    if problem:
        ctx.log.info(
            "giveaway #%d: winner note on %s refused: %s", giveaway.id, entry.network, problem
        )


def schedule_claim_deadline(ctx: JobCtx, giveaway: Giveaway) -> None:
    """Remind the staff when the claim period ends (a persisted job: restarts keep it)."""
    at = ctx.now + timedelta(seconds=ctx.config.claim_seconds)
    ctx.schedule("claim_deadline", at, {"id": giveaway.id}, key=str(giveaway.id))


# --------------------------------------------------------------------------- jobs


async def close_job(ctx: JobCtx) -> None:
    """The closing time a giveaway was opened with (a persisted job: a restart does not lose it)."""
    giveaway = await State.of(ctx).giveaway(int(ctx.payload["id"]))
    if giveaway is None or giveaway.announced:
        ctx.log.info(
            "giveaway close job for #%s: nothing to do (unknown or closed already)",
            ctx.payload.get("id"),
        )
        return
    await close_giveaway(ctx, giveaway)


async def resume_interrupted_draws(ctx: JobCtx) -> None:
    """A draw cut short by a crash or a stop is finished at the next start."""
    for giveaway in await State.of(ctx).giveaways():
        if giveaway.status == "closed" and not giveaway.announced:
            ctx.log.warning("giveaway #%d: finishing a draw interrupted by a restart", giveaway.id)
            await close_giveaway(ctx, giveaway)


async def claim_deadline(ctx: JobCtx) -> None:
    """Remind the staff of prizes nobody claimed, with the command that redraws them."""
    state = State.of(ctx)
    giveaway = await state.giveaway(int(ctx.payload["id"]))
    if giveaway is None or not giveaway.pending:
        return
    entries = await state.entries_by_id(giveaway.id)
    lines = []
    for entry_id in giveaway.pending:
        entry = entries.get(entry_id)
        follower = await state.holder(entry) if entry else None
        who = follower.name if follower else "(forgotten person)"
        lines.append(f"{who} ({entry_id}): /giveaway redraw {giveaway.id} {entry_id}")
    await ctx.send_staff(
        f"Giveaway #{giveaway.id} ({giveaway.prize}): not claimed after "
        f"{ctx.config.claim_within}:\n" + "\n".join(lines)
    )
