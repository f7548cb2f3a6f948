"""welcome: greets people the first time they write, and newcomers who join a group.

Join greetings are posted in the group where the person joined, never as an
unsolicited DM (platform rules, and good manners). Networks that forbid automated
replies to people who did not address the bot (X) are refused by the policy anyway.
"""

from pydantic import BaseModel, ConfigDict

from brandbot import Context, Kind, Plugin


class WelcomeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    first_contact: str | None = "Welcome, {{ name }}! I'm the {{ brand.name }} bot; /help shows what I can do."
    join: str | None = "Welcome to the group, {{ name }}! Say hi any time."


plugin = Plugin("welcome", config=WelcomeSettings, description="first-contact and join greetings")


@plugin.on(Kind.JOIN, priority=5)
async def greet_join(ctx: Context[WelcomeSettings]) -> None:
    join = ctx.config.join
    if join and not ctx.event.conversation.private:
        await ctx.reply(join)


@plugin.on(Kind.DIRECT, Kind.MENTION, priority=5)
async def greet_first_contact(ctx: Context[WelcomeSettings]) -> None:
    """Only the first message is greeted; any other is left to the next responder."""
    greeting = ctx.config.first_contact
    if greeting and ctx.first_contact:
        await ctx.reply(greeting)
