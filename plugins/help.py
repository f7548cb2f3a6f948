"""help: answers /help with the commands this bot knows on this network."""

from brandbot import Context, Plugin

plugin = Plugin("help", description="Lists the bot's commands")


@plugin.command("help", description="What this bot can do")
async def show_help(ctx: Context) -> None:
    commands = [c for c in ctx.commands() if not c.admin_only or ctx.is_admin]
    lines = "\n".join(f"/{c.name} - {c.description}" for c in commands)
    await ctx.reply("I'm the {{ brand.name }} bot. Commands:\n{{ commands }}", variables={"commands": lines})
