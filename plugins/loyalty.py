"""loyalty: /points, /leaderboard and personal thanks at milestones.

Scoring itself is core (configured under ``loyalty:``); this plugin is how followers
see it, and how the brand says thank you when someone reaches a milestone.

A milestone's thanks never overrides the event's own handling: the runtime lets it
answer only an event nothing answered, or answered only by a fallback (a responder
below priority 0), and never an opted-out person. So "stop" as someone's 10th message
is a "stop", and ``/qa close`` as a milestone still closes the Q&A.
"""

from pydantic import BaseModel, ConfigDict

from brandbot import Context, Kind, Plugin


class LoyaltySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    thank_milestones: bool = True
    interactions: str = "Thank you for your {{ event.text }}, {{ name }}! {{ follower.points }} {{ plural(follower.points, 'point') }} so far."
    reposts: str = "Your {{ event.text }} of our news, {{ name }}: thank you for spreading the word!"
    streak: str = "{{ event.text | capitalize }}, {{ name }}! Thanks for sticking with us."
    tier: str = "Congratulations {{ name }}, you are now a {{ follower.tier }} reader of {{ brand.name }}!"
    leaderboard_size: int = 10


plugin = Plugin("loyalty", config=LoyaltySettings, description="points, tiers and milestone thanks")


@plugin.command("points", description="Your points and tier")
async def points(ctx: Context[LoyaltySettings]) -> None:
    if ctx.event.args and ctx.event.args[0].lower() == "add":
        await add_points(ctx)
        return
    upcoming = ctx.people.next_tier(ctx.follower.points)
    more = f" {upcoming[1]} more to reach {upcoming[0]}." if upcoming else " That's the top tier!"
    # no name first: "You, you have..." when the person is called "you" (the console's default)
    await ctx.reply(
        "You have {{ follower.points }} {{ plural(follower.points, 'point') }} ({{ follower.tier }}), "
        "a {{ follower.streak }}-day streak.{{ more }}",
        variables={"more": more},
    )


@plugin.command("leaderboard", description="Our most engaged readers")
async def leaderboard(ctx: Context[LoyaltySettings]) -> None:
    top = await ctx.people.top("points", ctx.config.leaderboard_size)
    lines = "\n".join(f"{i}. {f.name}: {f.points} ({f.tier})" for i, f in enumerate(top, 1))
    await ctx.reply("Top readers of {{ brand.name }}:\n{{ lines }}", variables={"lines": lines or "nobody yet"})


@plugin.on(Kind.MILESTONE, priority=50)
async def thank_milestone(ctx: Context[LoyaltySettings]) -> None:
    settings = ctx.config
    kind = ctx.event.extra("milestone")
    template = getattr(settings, kind, None) if settings.thank_milestones else None
    if template and not (kind == "interactions" and ctx.event.extra("value") == "1"):  # the 1st: the greeting's job
        await ctx.reply(template)


async def add_points(ctx: Context[LoyaltySettings]) -> None:
    """/points add <follower id | network:handle | handle> <points> [reason]: admins only."""
    if not ctx.is_admin:
        ctx.log.warning("refused /points add from %s:%s (not an admin)", ctx.event.network, ctx.event.author.id)
        await ctx.reply("Sorry, adding points is only for the team.")
        return
    args = ctx.event.args[1:]
    if len(args) < 2 or not args[1].lstrip("-").isdigit():
        await ctx.reply("Usage: /points add <follower id or network:handle> <points> [reason]")
        return
    who, amount, reason = args[0], int(args[1]), " ".join(args[2:]) or "added by staff"
    target = await ctx.people.find(who, ctx.event.network)
    if target is None:
        await ctx.reply("I don't know {{ who }}. Use a follower id or network:handle.", variables={"who": who})
        return
    by = ctx.event.author.handle or ctx.event.author.id
    updated = await ctx.people.add_points(target.id, amount, f"admin:{by}: {reason}")
    if updated.id == ctx.follower.id:
        ctx.follower = updated  # an admin giving themselves points: later replies see them
    await ctx.reply(
        "{{ target }} now has {{ points }} points ({{ tier }}).",
        variables={"target": updated.name, "points": updated.points, "tier": updated.tier},
    )
