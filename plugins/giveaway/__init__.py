"""giveaway: fair, auditable giveaways on every network.

An admin opens a giveaway with ``/giveaway open prize="Signed copy" enter=#saltorchard
closes=2h winners=2``. The bot picks a secret seed and publishes its SHA-256 (the
*commitment*) where the giveaway was opened. People enter by posting the hashtag or a
phrase, by sending ``/enter``, or by reacting to a given post: one entry per person
across all their linked networks. At closing time (a persisted job, so a restart does
not lose it) the bot draws the winners with that seed (``brandbot.draw``), publishes
them with the seed, so anyone can check the draw, and asks each winner to claim the
prize with ``/claim`` in a private message (bots may not DM people first). An admin can
redraw a prize nobody claimed; the redraw extends the same verifiable draw.

- ``settings``: what brandbot.yaml may set, every message, and their check at start-up.
- ``records``, ``state``: what is stored, and where (``ctx.data``).
- ``options``, ``closing``, ``opening``: ``/giveaway open``, from typed words to an announcement.
- ``entry``, ``eligibility``: entering, and who may.
- ``draw``, ``redraw``, ``export``: closing, the draw, the published record.
- ``commands``, ``claim``: the admins' ``/giveaway ...`` and the winners' ``/claim``.
- ``posting``: announcements, answers to admins, staff notes.

See docs/plugins/giveaway.md.
"""

# The modules hold plain functions; the handlers are all registered here, in one place.
# (``from .x import name``, not ``from . import x``: plugin packages are imported under a
# private name whose parent packages do not exist, and only this form works there.)
import functools
from collections.abc import Awaitable, Callable

from brandbot import Kind, Plugin

from .claim import claim
from .commands import giveaway_command
from .draw import claim_deadline, close_job, resume_interrupted_draws
from .entry import enter_by_reaction, enter_by_text, enter_command
from .opening import open_scheduled
from .settings import Ctx, GiveawaySettings, check_messages

plugin = Plugin("giveaway", config=GiveawaySettings, description="fair, auditable giveaways")

#: Entries are answered at 200: after optout (1000) and handoff (900), before commands
#: (100) and YAML rules (0), so a message that enters gets the entry answer and nothing else.
ENTRY_PRIORITY = 200
TEXT_KINDS = (Kind.MENTION, Kind.REPLY, Kind.QUOTE, Kind.DIRECT, Kind.MESSAGE)


def _command(
    name: str, func: Callable[[Ctx], Awaitable[None]], description: str, *, admin: bool = False
) -> None:
    """Register ``/name``. A command of ours is handled by us even when the policy held
    the answer back (opted out, rate limit), so no YAML rule answers it instead."""

    @functools.wraps(func)
    async def handler(ctx: Ctx) -> None:
        await func(ctx)
        ctx.stop()

    plugin.command(name, description=description, admin=admin)(handler)


plugin.on(*TEXT_KINDS, priority=ENTRY_PRIORITY)(enter_by_text)
plugin.on(Kind.REACTION, priority=ENTRY_PRIORITY)(enter_by_reaction)
_command("enter", enter_command, "Enter the giveaway that is open (/enter <id> if several are)")
_command(
    "giveaway", giveaway_command, "Run giveaways: open, close, list, redraw, export", admin=True
)
_command("claim", claim, "Claim a giveaway prize you won (in a private message)")
plugin.job("close")(close_job)
plugin.job("open")(open_scheduled)  # a posts.yaml entry with giveaway: opens one at its time
plugin.job("claim_deadline")(claim_deadline)
plugin.on_start(resume_interrupted_draws)
plugin.check(check_messages)

__all__ = ["plugin"]
