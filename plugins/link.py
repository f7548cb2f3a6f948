"""link: one person across networks.

``/link`` (in a private chat) gives a one-time code valid for 10 minutes; sending
``/link CODE`` from another network merges the two identities into one follower:
history, tags and opt-out combined, points recomputed from the combined history so
nothing is counted twice. ``/unlink`` detaches the identity it is sent from.
Codes are only shown in private conversations: a code posted in public could be
claimed by somebody else.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from brandbot import Context, Plugin

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are typed by hand


class LinkSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code_minutes: int = Field(10, ge=1, le=1440)
    code_length: int = Field(6, ge=4, le=12)


plugin = Plugin("link", config=LinkSettings, description="link one person's accounts across networks")


def new_code(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


@plugin.command("link", description="Link your accounts on several networks (one history, one point total)")
async def link(ctx: Context[LinkSettings]) -> None:
    settings = ctx.config
    if ctx.event.args:
        await _redeem(ctx, ctx.event.args[0].strip().upper())
        return
    if not ctx.event.conversation.private:
        await ctx.reply("Send me /link in a private message and I'll give you a code, {{ name }}.")
        return
    code = new_code(settings.code_length)
    expires = ctx.now + timedelta(minutes=settings.code_minutes)
    ctx.data.set(f"code:{code}", {"follower": ctx.follower.id, "expires": expires.isoformat(),
                                  "network": ctx.event.network}, follower_id=ctx.follower.id)
    await ctx.reply(
        "Your link code is {{ code }}. Within {{ minutes }} minutes, send /link {{ code }} to me from your other account.",
        variables={"code": code, "minutes": settings.code_minutes},
    )


async def _redeem(ctx: Context[LinkSettings], code: str) -> None:
    entry = await ctx.data.get(f"code:{code}")
    if entry is None or datetime.fromisoformat(entry["expires"]) <= ctx.now:
        if entry is not None:
            ctx.data.delete(f"code:{code}")
        await ctx.reply("That code is unknown or has expired, {{ name }}. Send /link on your other account for a new one.")
        return
    ctx.data.delete(f"code:{code}")  # one-time
    keep_id, merge_id = int(entry["follower"]), ctx.follower.id
    if keep_id == merge_id:
        await ctx.reply("These accounts are already linked, {{ name }}.")
        return
    if await ctx.people.get(keep_id) is None:
        await ctx.reply("The account that asked for this code no longer exists.")
        return
    # One history: the /link message itself is part of it, counters and points are recomputed.
    ctx.follower = await ctx.people.link(keep_id, merge_id)
    await ctx.reply(
        "Linked! {{ name }}, your accounts now share one history: {{ follower.interactions }} interactions and "
        "{{ follower.points }} points ({{ follower.tier }}).",
    )


@plugin.command("unlink", description="Detach this account from your other linked accounts")
async def unlink(ctx: Context) -> None:
    identities = await ctx.people.identities(ctx.follower.id)
    if len(identities) < 2:
        await ctx.reply("This account is not linked to any other, {{ name }}.")
        return
    await ctx.people.unlink(ctx.event.network, ctx.event.author.id)
    await ctx.reply("Done: this {{ network }} account is on its own again. Its past history stays with your other accounts.")
