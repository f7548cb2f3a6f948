"""optout: "stop" silences the bot for a person everywhere; "start" brings it back.

The person is one follower across all linked networks, so a "stop" on Telegram also
silences the bot on Discord and X. The confirmation is sent once (it is *essential*:
the person asked for it), later messages get no answer at all. A "stop" is a "stop"
whatever else it is: at priority 1000 it comes before every other responder, and a
milestone it happens to reach (the 10th message) thanks nobody who just opted out.
"""

from pydantic import BaseModel, ConfigDict

from brandbot import Context, Event, Kind, Plugin, normalize, normalize_all


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
async def stop_or_start(ctx: Context[OptOutSettings]) -> None:
    settings = ctx.config
    said = _said(ctx.event)
    if said in normalize_all(tuple(settings.stop_words)):
        if ctx.follower.opted_out:
            ctx.note("skip", "already opted out")
            ctx.stop()  # confirmed once; no other responder answers a "stop" either
            return
        await ctx.opt_out(True)
        await ctx.reply(settings.stopped, essential=True)
        ctx.stop()  # opted out even if the confirmation could not be sent
        return
    if said in normalize_all(tuple(settings.start_words)) and ctx.follower.opted_out:
        await ctx.opt_out(False)
        await ctx.reply(settings.started)
        ctx.stop()


@plugin.command("forgetme", description="Erase everything this bot holds about you, on every network")
async def forget_me(ctx: Context[OptOutSettings]) -> None:
    """GDPR erasure asked by the person: confirm first, then erase every linked account."""
    if not ctx.event.args or ctx.event.args[0].lower() != "confirm":
        await ctx.reply(
            "This erases everything {{ brand.name }}'s bot knows about you (history, points, saved links, "
            "on every linked account) and cannot be undone. Send /forgetme confirm to go ahead.",
            essential=True,
        )
        return
    await ctx.reply("Done, {{ name }}: I have forgotten you. If you write again, we start afresh.", essential=True)
    await ctx.people.forget(ctx.follower.id, by="the person themselves")
    ctx.stop()  # forgotten even if the confirmation could not be sent


@plugin.command("forget", description="Erase a person (follower id or network:handle)", admin=True)
async def forget_someone(ctx: Context[OptOutSettings]) -> None:
    """GDPR erasure by staff while the bot runs (the CLI refuses while the bot holds the database)."""
    if not ctx.event.args:
        await ctx.reply("Usage: /forget <follower id or network:handle>", essential=True)
        return
    who = ctx.event.args[0]
    target = await ctx.people.find(who, ctx.event.network)
    if target is None:
        await ctx.reply("I don't know {{ who }}.", variables={"who": who}, essential=True)
        return
    await ctx.people.forget(target.id, by=f"admin {ctx.event.author.handle or ctx.event.author.id}")
    await ctx.reply("Forgotten: follower {{ fid }} and all their linked accounts.", variables={"fid": target.id},
                    essential=True)
    ctx.stop()  # done even if the confirmation could not be sent
