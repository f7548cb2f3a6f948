"""``/claim``: a winner claims the prize in a private message, and the staff are told where.

Bots may not DM people first, so winners are asked to write; the claim is accepted only
in a private chat, where the team can then arrange delivery.
"""

from __future__ import annotations

import dataclasses

from .settings import Ctx
from .state import State


async def claim(ctx: Ctx) -> None:
    """Claim a giveaway prize you won (in a private message)."""
    state = State.of(ctx)
    messages = ctx.config.messages
    wanted = ctx.event.args[0].lstrip("#") if ctx.event.args else None
    if not ctx.event.conversation.private:
        await ctx.reply(messages.claim_in_private, variables={"id": wanted or ""}, essential=True)
        return
    giveaways = [
        g
        for g in await state.giveaways()
        if g.status == "closed" and g.drawn and (wanted is None or str(g.id) == wanted)
    ]
    said: list[str] = []
    notices: list[str] = []
    for giveaway in giveaways:
        found = await state.entry_of_person(giveaway.id, ctx.follower.id)
        if found is None or found.entry not in giveaway.drawn:
            continue
        variables = {"id": giveaway.id, "prize": giveaway.prize, "entry": found.entry}
        if found.entry in giveaway.claimed:
            said.append(ctx.render(messages.already_claimed, variables))
        elif found.entry in giveaway.forfeited:
            said.append(ctx.render(messages.forfeited, variables))
        else:
            state.save(dataclasses.replace(giveaway, claimed=(*giveaway.claimed, found.entry)))
            said.append(ctx.render(messages.claimed, variables))
            notices.append(
                f"Giveaway #{giveaway.id} ({giveaway.prize}): {ctx.follower.name} claimed the prize "
                f"(entry {found.entry}). Reach them in the private chat "
                f"{ctx.event.network}:{ctx.event.conversation.id}."
            )
    if not said:
        said.append(ctx.render(messages.nothing_to_claim, {}))
    await ctx.reply("{{ text }}", variables={"text": "\n".join(said)}, essential=True)
    for notice in notices:
        await ctx.send_staff(notice)
