"""optout: "stop" silences the bot for a person everywhere; "start" brings it back.

The person is one follower across all linked networks, so a "stop" on Telegram also
silences the bot on Discord and X. The confirmation is sent once (it is *essential*:
the person asked for it), later messages get no answer at all.
"""

from pydantic import BaseModel, ConfigDict

from brandbot import Context, Kind, Plugin
from brandbot.core.events import Event
from brandbot.core.textnorm import normalize, normalize_all


class OptOutSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stop_words: list[str] = ["stop", "unsubscribe", "opt out", "optout", "stop messages"]
    start_words: list[str] = ["start", "subscribe", "opt in", "optin", "unstop"]
    stopped: str = "Done, {{ name }}: you won't hear from {{ brand.name }}'s bot again, on any network. Write 'start' if you change your mind."
    started: str = "Welcome back, {{ name }}! The {{ brand.name }} bot will answer you again."


plugin = Plugin("optout", config=OptOutSettings, description="stop/start words on every network")
_KINDS = (Kind.DIRECT, Kind.MENTION, Kind.REPLY, Kind.COMMAND)


def _said(event: Event) -> str:
    text = event.command if event.kind is Kind.COMMAND and event.command else event.text
    words = normalize(text).split()
    # A mention starts with the bot's handle; ignore @handles when comparing.
    return " ".join(w for w in words if not w.startswith("@"))


@plugin.on(*_KINDS, priority=1000)
async def stop_or_start(ctx: Context) -> None:
    settings: OptOutSettings = ctx.config  # type: ignore[assignment]
    said = _said(ctx.event)
    if said in normalize_all(tuple(settings.stop_words)):
        if ctx.follower.opted_out:
            ctx.note("skip", "already opted out")
            return
        ctx.follower = await ctx.bot.set_opted_out(ctx.follower.id, True)
        await ctx.reply(settings.stopped, essential=True)
        return
    if said in normalize_all(tuple(settings.start_words)):
        if not ctx.follower.opted_out:
            ctx.fall_through()
            return
        ctx.follower = await ctx.bot.set_opted_out(ctx.follower.id, False)
        await ctx.reply(settings.started)
        return
    ctx.fall_through()


@plugin.command("forgetme", description="Erase everything this bot holds about you, on every network")
async def forget_me(ctx: Context) -> None:
    """GDPR erasure asked by the person: confirm first, then erase every linked account."""
    if not ctx.event.args or ctx.event.args[0].lower() != "confirm":
        await ctx.reply(
            "This erases everything {{ brand.name }}'s bot knows about you (history, points, saved links, "
            "on every linked account) and cannot be undone. Send /forgetme confirm to go ahead.",
            essential=True,
        )
        return
    await ctx.reply("Done, {{ name }}: I have forgotten you. If you write again, we start afresh.", essential=True)
    await ctx.bot.forget_person(ctx.follower.id, by="the person themselves")


@plugin.command("forget", description="Erase a person (follower id or network:handle)", admin=True)
async def forget_someone(ctx: Context) -> None:
    """GDPR erasure by staff while the bot runs (the CLI refuses while the bot holds the database)."""
    if not ctx.event.args:
        await ctx.reply("Usage: /forget <follower id or network:handle>", essential=True)
        return
    who = ctx.event.args[0]
    target = await ctx.bot.find_person(who, default_network=ctx.event.network)
    if target is None:
        await ctx.reply("I don't know {{ who }}.", variables={"who": who}, essential=True)
        return
    await ctx.bot.forget_person(target.id, by=f"admin {ctx.event.author.handle or ctx.event.author.id}")
    await ctx.reply("Forgotten: follower {{ fid }} and all their linked accounts.", variables={"fid": target.id},
                    essential=True)
