"""handoff: "human"/"agent" hands the person to the team; /release gives them back.

In a private chat the whole chat is handed off; in a group only the person who asked
(the bot keeps answering the others). While handed off, the policy refuses every
automated reply to them there, except the confirmations they ask for ("stop",
/forgetme); it resumes after a staff member's ``/release`` or the configured timeout.
The staff are told once, however often the person asks again meanwhile.
"""

from pydantic import BaseModel, ConfigDict

from brandbot import Context, Kind, Plugin, normalize, normalize_all


class HandoffSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    words: list[str] = ["human", "agent", "a person", "real person", "talk to a human", "speak to someone"]
    notice: str = "Of course, {{ name }}. A person from {{ brand.name }} will answer here soon; I'll keep quiet meanwhile."


plugin = Plugin("handoff", config=HandoffSettings, description="hand a conversation to people")


def asks_for_a_person(text: str, settings: HandoffSettings) -> bool:
    """The whole message, or a phrase in it, is one of the words (``@handles`` ignored)."""
    said = " ".join(w for w in normalize(text).split() if not w.startswith("@"))
    return any(said == w or f" {w} " in f" {said} " for w in normalize_all(tuple(settings.words)))


@plugin.on(Kind.DIRECT, Kind.MENTION, Kind.REPLY, priority=900)
async def ask_for_human(ctx: Context[HandoffSettings]) -> None:
    if not asks_for_a_person(ctx.event.text, ctx.config):
        return
    await ctx.reply(ctx.config.notice)
    await ctx.handoff("asked for a person")
    ctx.stop()  # handed off even if the notice was refused: nobody else answers


@plugin.command("release", description="Let the bot answer again (network:conversation, or "
                "network:conversation@follower for one person in a group)", admin=True)
async def release(ctx: Context) -> None:
    target = ctx.event.args[0] if ctx.event.args else f"{ctx.event.network}:{ctx.event.conversation.id}"
    network, sep, conversation = target.partition(":")
    if not sep:
        await ctx.reply("Usage: /release network:conversation (for example /release telegram:12345), or "
                        "network:conversation@follower for one person in a group (as /handoffs lists them)")
        return
    released = ctx.staff.release(network, conversation)
    await ctx.reply(
        "Released {{ target }}: the bot answers there again." if released else "{{ target }} was not handed off.",
        variables={"target": target},
        essential=True,
    )


@plugin.command("handoffs", description="List conversations (and people in groups) handed to the team", admin=True)
async def list_handoffs(ctx: Context) -> None:
    items = ctx.staff.handoffs()
    lines = "\n".join(f"{net}:{conv} until {until:%Y-%m-%d %H:%M} UTC" for (net, conv), until in items)
    await ctx.reply("{{ lines }}", variables={"lines": lines or "No conversation is handed off."}, essential=True)
