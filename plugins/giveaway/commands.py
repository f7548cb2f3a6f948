"""``/giveaway open|close|list|redraw|export``: the admins' side (the command is admin-only).

Every answer goes through ``admin_says``, so an answer too long for the network (X)
reaches the staff channel instead of being lost.
"""

from __future__ import annotations

from collections.abc import Sequence

from brandbot import draw as seeded
from brandbot import normalize

from .draw import close_giveaway
from .export import export_data, shown_name, try_write_export
from .opening import open_giveaway
from .options import USAGE
from .posting import admin_says, in_staff_room, stamp, when_text
from .records import Giveaway
from .redraw import redraw
from .settings import Ctx
from .state import State


async def giveaway_command(ctx: Ctx) -> None:
    """Run giveaways: open, close, list, redraw, export."""
    args = ctx.event.args
    sub = args[0].lower() if args else ""
    arg = args[1] if len(args) > 1 else None
    if sub == "open":
        await open_giveaway(ctx)
    elif sub == "close":
        await close_command(ctx, arg)
    elif sub == "list":
        await list_command(ctx)
    elif sub == "redraw":
        await redraw_command(ctx, args[1:])
    elif sub == "export":
        await export_command(ctx, arg)
    else:
        problem = f"Unknown /giveaway command {sub!r}.\n" if sub else ""
        await admin_says(ctx, problem + USAGE)


async def pick_giveaway(ctx: Ctx, arg: str | None, *, status: str | None = None) -> Giveaway | None:
    """The giveaway an admin meant: by number, or the only one in ``status``; says why not."""
    state = State.of(ctx)
    if arg is None:
        found = [g for g in await state.giveaways() if status is None or g.status == status]
        if len(found) == 1:
            return found[0]
        if not found:
            await admin_says(ctx, f"There is no {status or ''} giveaway.".replace("  ", " "))
        else:
            await admin_says(
                ctx,
                "Several giveaways are " + (status or "there") + ": say which, e.g. "
                f"/giveaway {ctx.event.args[0].lower()} {found[-1].id}",
            )
        return None
    number = arg.lstrip("#")
    giveaway = await state.giveaway(int(number)) if number.isdigit() else None
    if giveaway is None:
        await admin_says(ctx, f"There's no giveaway {arg}. /giveaway list shows them.")
    return giveaway


async def close_command(ctx: Ctx, arg: str | None) -> None:
    giveaway = await pick_giveaway(ctx, arg, status="open" if arg is None else None)
    if giveaway is None:
        return
    if giveaway.announced:
        await admin_says(
            ctx,
            f"Giveaway #{giveaway.id} is already closed (since {stamp(giveaway.closed_at)}); "
            f"winners were drawn then. /giveaway export {giveaway.id} shows the draw.",
        )
        return
    summary = await close_giveaway(ctx, giveaway)
    if not ctx.replied:
        await admin_says(ctx, summary, staff_has_it=not in_staff_room(ctx))


async def list_command(ctx: Ctx) -> None:
    state = State.of(ctx)
    giveaways = (await state.giveaways())[-10:]
    if not giveaways:
        await admin_says(ctx, "No giveaways yet. " + USAGE.splitlines()[0])
        return
    lines = []
    for g in reversed(giveaways):
        if g.status == "open":
            count = len({e.follower_id for e in await state.entries(g.id)})
            lines.append(
                f"#{g.id} {g.prize}: open, {_entries(count)}, closes {when_text(g.closes)}. {g.how()}"
            )
        else:
            lines.append(
                f"#{g.id} {g.prize}: closed {stamp(g.closed_at)}, {_entries(g.entries)}, "
                f"{len(g.claimed)} claimed, {len(g.pending)} waiting, {len(g.forfeited)} redrawn"
            )
    await admin_says(ctx, "\n".join(lines))


async def redraw_command(ctx: Ctx, args: Sequence[str]) -> None:
    if len(args) < 2:
        await admin_says(ctx, "Usage: /giveaway redraw <id> <entry id or winner's name>")
        return
    giveaway = await pick_giveaway(ctx, args[0])
    if giveaway is None:
        return
    if giveaway.status != "closed":
        await admin_says(ctx, f"Giveaway #{giveaway.id} is still open; nothing was drawn yet.")
        return
    target = " ".join(args[1:]).strip()
    wanted = await drawn_entry(ctx, giveaway, target)
    if wanted is None:
        await admin_says(
            ctx,
            f"{target} is not a winner of giveaway #{giveaway.id}. Winners: "
            + ", ".join(giveaway.pending or ["none waiting"]),
        )
    elif wanted in giveaway.claimed:
        await admin_says(ctx, f"{wanted} already claimed the prize; there is nothing to redraw.")
    elif wanted in giveaway.forfeited:
        await admin_says(ctx, f"{wanted} was already redrawn.")
    else:
        await redraw(ctx, giveaway, wanted)


async def drawn_entry(ctx: Ctx, giveaway: Giveaway, target: str) -> str | None:
    """The drawn entry an admin named by entry id or winner's name (a waiting one first)."""
    state = State.of(ctx)
    entries = await state.entries_by_id(giveaway.id)
    wanted = None
    for entry_id in giveaway.drawn:
        entry = entries.get(entry_id)
        follower = await state.holder(entry) if entry else None
        if entry_id == target.lower() or (
            follower and normalize(follower.name) == normalize(target)
        ):
            wanted = entry_id
            if entry_id in giveaway.pending:
                break
    return wanted


async def export_command(ctx: Ctx, arg: str | None) -> None:
    giveaway = await pick_giveaway(ctx, arg, status="closed" if arg is None else None)
    if giveaway is None:
        return
    if giveaway.status != "closed":
        await admin_says(
            ctx,
            f"Giveaway #{giveaway.id} is still open: the entry list is published when it closes "
            f"(the seed must stay secret until then). Commitment: {giveaway.commitment}",
        )
        return
    path, export_failed = await try_write_export(ctx, giveaway)
    data = await export_data(ctx, giveaway)
    check = seeded.verify_export(data)
    await admin_says(
        ctx,
        f"Giveaway #{giveaway.id} ({giveaway.prize}): {_entries(data['entries_count'])}, fingerprint "
        f"{data['entries_sha256']}; seed {giveaway.seed}; commitment {giveaway.commitment}; draw order "
        f"{', '.join(giveaway.drawn) or 'none'}"
        + (f"; forfeited {', '.join(giveaway.forfeited)}" if giveaway.forfeited else "")
        + f". Self-check: {'ok' if check.ok else '; '.join(check.reasons)}."
        + (
            f" File: {shown_name(ctx, path)} in the bot's state folder (check it there with: "
            f"brandbot giveaway verify {shown_name(ctx, path)})"
            if path
            else ""
        )
        + (f"\n{export_failed}" if export_failed else ""),
    )


def _entries(count: int) -> str:
    """``1 entry``, ``2 entries``."""
    return f"{count} {'entry' if count == 1 else 'entries'}"
