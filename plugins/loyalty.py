"""loyalty: /points, /leaderboard and personal thanks at milestones.

Scoring itself is core (brandbot.core.loyalty, configured under ``loyalty:``); this plugin is
how followers see it, and how the brand says thank you when someone reaches a milestone.
"""

from pydantic import BaseModel, ConfigDict

from brandbot import Context, Kind, Plugin
from brandbot.core.loyalty import next_tier
from brandbot.core.records import FollowerQuery


class LoyaltySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    thank_milestones: bool = True
    interactions: str = "Thank you for your {{ event.text }}, {{ name }}! {{ follower.points }} points so far."
    reposts: str = "Your {{ event.text }} of our news, {{ name }}: thank you for spreading the word!"
    streak: str = "{{ event.text | capitalize }}, {{ name }}! Thanks for sticking with us."
    tier: str = "Congratulations {{ name }}, you are now a {{ follower.tier }} reader of {{ brand.name }}!"
    leaderboard_size: int = 10


plugin = Plugin("loyalty", config=LoyaltySettings, description="points, tiers and milestone thanks")


@plugin.command("points", description="Your points and tier")
async def points(ctx: Context) -> None:
    if ctx.event.args and ctx.event.args[0].lower() == "add":
        await add_points(ctx)
        return
    upcoming = next_tier(ctx.follower.points, ctx.bot.config.top.loyalty)
    more = f" {upcoming[1]} more to reach {upcoming[0]}." if upcoming else " That's the top tier!"
    await ctx.reply(
        "{{ name }}, you have {{ follower.points }} points ({{ follower.tier }}), a {{ follower.streak }}-day streak.{{ more }}",
        variables={"more": more},
    )


@plugin.command("leaderboard", description="Our most engaged readers")
async def leaderboard(ctx: Context) -> None:
    settings: LoyaltySettings = ctx.config  # type: ignore[assignment]
    top = await ctx.bot.store.list_followers(FollowerQuery(order_by="points", limit=settings.leaderboard_size))
    lines = "\n".join(f"{i}. {f.name}: {f.points} ({f.tier})" for i, f in enumerate(top, 1))
    await ctx.reply("Top readers of {{ brand.name }}:\n{{ lines }}", variables={"lines": lines or "nobody yet"})


@plugin.on(Kind.MILESTONE, priority=50)
async def thank_milestone(ctx: Context) -> None:
    settings: LoyaltySettings = ctx.config  # type: ignore[assignment]
    kind = ctx.event.extra("milestone")
    template = getattr(settings, kind, None) if settings.thank_milestones else None
    if not template or (kind == "interactions" and ctx.event.extra("value") == "1"):
        ctx.fall_through()  # the first interaction is the greeting rules' job
        return
    await ctx.reply(template)


async def add_points(ctx: Context) -> None:
    """/points add <follower id | network:handle | handle> <points> [reason]: admins only."""
    if not ctx.is_admin:
        ctx.bot.log.warning("refused /points add from %s:%s (not an admin)", ctx.event.network, ctx.event.author.id)
        await ctx.reply("Sorry, adding points is only for the team.")
        return
    args = ctx.event.args[1:]
    if len(args) < 2 or not args[1].lstrip("-").isdigit():
        await ctx.reply("Usage: /points add <follower id or network:handle> <points> [reason]")
        return
    who, amount, reason = args[0], int(args[1]), " ".join(args[2:]) or "added by staff"
    target = await ctx.bot.find_person(who, default_network=ctx.event.network)
    if target is None:
        await ctx.reply("I don't know {{ who }}. Use a follower id or network:handle.", variables={"who": who})
        return
    updated = await ctx.bot.add_points(target.id, amount, f"admin:{ctx.event.author.handle or ctx.event.author.id}: {reason}")
    await ctx.reply(
        "{{ target }} now has {{ points }} points ({{ tier }}).",
        variables={"target": updated.name, "points": updated.points, "tier": updated.tier},
    )
