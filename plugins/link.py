"""link: one person across networks.

``/link`` (in a private chat) gives a one-time code valid for 10 minutes; sending
``/link CODE`` from another network merges the two identities into one follower:
history, tags and opt-out combined, points recomputed from the combined history so
nothing is counted twice. ``/unlink`` detaches the identity it is sent from.
Codes are only shown in private conversations: a code posted in public could be
claimed by somebody else.

A hit merges the guesser into the code's owner, so codes must not be guessable:

- a code is a 4-character id and a secret (8 characters by default): ``ABCD-EFGH-JKLM``,
  32 symbols each, about 2^60 codes; a new ``/link`` replaces the person's previous code;
- a person who sends ``max_misses`` wrong codes within an hour is told to wait
  ``lock_minutes`` (doubling each time, up to a day); until then their codes are not
  even checked and get no answer;
- a code whose id is right but whose secret is wrong ``code_tries`` times (from anyone)
  is locked: it no longer works, and its owner is told to ask for a new one.

The right code at the first try still links at once.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from brandbot import Context, Conversation, Plugin

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are typed by hand
ID_LENGTH = 4  # the code's public-ish part: which code is meant (then its secret is checked)
MISS_WINDOW = timedelta(hours=1)  # wrong codes older than this are forgiven
LONGEST_LOCK = timedelta(days=1)


class LinkSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code_minutes: int = Field(10, ge=1, le=1440, description="Minutes a code stays valid")
    code_length: int = Field(8, ge=4, le=12, description="Characters of the code's secret, after its 4-character id")
    max_misses: int = Field(5, ge=1, le=50, description="Wrong codes a person may send within an hour before waiting")
    lock_minutes: int = Field(15, ge=1, le=1440, description="First wait after max_misses wrong codes; doubles each time, up to a day")
    code_tries: int = Field(3, ge=1, le=20, description="Wrong secrets for one code before it is locked and its owner told")


plugin = Plugin("link", config=LinkSettings, description="link one person's accounts across networks")


def new_code(length: int) -> str:
    """A code's id and secret together, in groups of four: "ABCD-EFGH-JKLM"."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(ID_LENGTH + length))
    return "-".join(raw[i:i + 4] for i in range(0, len(raw), 4))


def normalize(typed: str) -> str:
    """What was typed, as the code's characters: case, spaces and dashes do not matter."""
    return "".join(c for c in typed.upper() if c not in " -")


@plugin.command("link", description="Link your accounts on several networks (one history, one point total)")
async def link(ctx: Context[LinkSettings]) -> None:
    settings = ctx.config
    if ctx.event.args:
        await _redeem(ctx, normalize("".join(ctx.event.args)))
        return
    if not ctx.event.conversation.private:
        await ctx.reply("Send me /link in a private message and I'll give you a code, {{ name }}.")
        return
    code = new_code(settings.code_length)
    while await ctx.data.get(_code_key(normalize(code))) is not None:  # ids of live codes are unique
        code = new_code(settings.code_length)
    raw = normalize(code)
    previous = await ctx.data.get(f"mine:f{ctx.follower.id}")
    if previous:
        ctx.data.delete(_code_key(previous))  # one live code per person
    expires = ctx.now + timedelta(minutes=settings.code_minutes)
    ctx.data.set(_code_key(raw), {"follower": ctx.follower.id, "expires": expires.isoformat(),
                                  "secret": raw[ID_LENGTH:], "misses": 0, "network": ctx.event.network,
                                  "conversation": ctx.event.conversation.id}, follower_id=ctx.follower.id)
    ctx.data.set(f"mine:f{ctx.follower.id}", raw, follower_id=ctx.follower.id)
    await ctx.reply(
        "Your link code is {{ code }}. Within {{ minutes }} minutes, send /link {{ code }} to me from your other account.",
        variables={"code": code, "minutes": settings.code_minutes},
    )


def _code_key(raw: str) -> str:
    return f"pending:{raw[:ID_LENGTH]}"


async def _redeem(ctx: Context[LinkSettings], code: str) -> None:
    guard_key = f"guesses:f{ctx.follower.id}"
    guard: dict[str, Any] = await ctx.data.get(guard_key) or {}
    if guard.get("until") and ctx.now < datetime.fromisoformat(guard["until"]):
        # Told when the wait began; until it ends, codes are neither checked nor answered.
        ctx.note("refuse", "link: waiting after too many wrong codes")
        ctx.stop()
        return
    key = _code_key(code)
    entry = await ctx.data.get(key) if len(code) > ID_LENGTH else None
    if entry is not None and datetime.fromisoformat(entry["expires"]) <= ctx.now:
        ctx.data.delete(key)
        entry = None
    if entry is None or not hmac.compare_digest(entry["secret"].encode(), code[ID_LENGTH:].encode()):
        if entry is not None:
            await _wrong_secret(ctx, key, entry)
        await _missed(ctx, guard_key, guard)
        return
    ctx.data.delete(key)  # one-time
    ctx.data.delete(f"mine:f{entry['follower']}")
    if guard:
        ctx.data.delete(guard_key)
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


async def _missed(ctx: Context[LinkSettings], guard_key: str, guard: dict[str, Any]) -> None:
    """A wrong code: answered, until there were too many; then the person waits, longer each time."""
    settings, now = ctx.config, ctx.now
    if not guard.get("first") or now - datetime.fromisoformat(guard["first"]) > MISS_WINDOW:
        guard = {**guard, "first": now.isoformat(), "misses": 0}
    if guard.get("until") and now - datetime.fromisoformat(guard["until"]) > LONGEST_LOCK:
        guard = {**guard, "locks": 0}  # a day without waiting: start over
    misses = int(guard.get("misses", 0)) + 1
    if misses < settings.max_misses:
        ctx.data.set(guard_key, {**guard, "misses": misses}, follower_id=ctx.follower.id)
        await ctx.reply("That code is unknown or has expired, {{ name }}. Send /link on your other account for a new one.")
        return
    locks = int(guard.get("locks", 0)) + 1
    wait = min(timedelta(minutes=settings.lock_minutes) * 2 ** (locks - 1), LONGEST_LOCK)
    ctx.data.set(guard_key, {"first": "", "misses": 0, "locks": locks, "until": (now + wait).isoformat()},
                 follower_id=ctx.follower.id)
    ctx.log.warning("link: follower %d (%s:%s) sent %d wrong /link codes; not checked for %d minutes",
                    ctx.follower.id, ctx.event.network, ctx.event.author.id, misses, wait // timedelta(minutes=1))
    ctx.note("refuse", f"link: too many wrong codes, waiting {wait}")
    await ctx.reply(
        "That's too many wrong codes, {{ name }}. Try again in {{ minutes }} minutes, "
        "with a fresh code from /link on your other account.",
        variables={"minutes": wait // timedelta(minutes=1)},
    )


async def _wrong_secret(ctx: Context[LinkSettings], key: str, entry: dict[str, Any]) -> None:
    """The id of a live code with a wrong secret: after ``code_tries`` the code is locked, its owner told."""
    misses = int(entry.get("misses", 0)) + 1
    owner = int(entry["follower"])
    if misses < ctx.config.code_tries:
        ctx.data.set(key, {**entry, "misses": misses}, follower_id=owner)
        return
    ctx.data.delete(key)
    ctx.log.warning("link: the code of follower %d was locked after %d wrong tries (last from %s:%s)",
                    owner, misses, ctx.event.network, ctx.event.author.id)
    network, conversation = entry.get("network"), entry.get("conversation")
    if network and conversation:
        await ctx.send(
            network, Conversation(network, conversation, private=True),
            "Someone sent wrong codes for the link code you asked for, so I locked it: it no longer works "
            "and no account was linked to yours. Send /link here for a new code when you need one.",
            follower_id=owner,
        )


@plugin.command("unlink", description="Detach this account from your other linked accounts")
async def unlink(ctx: Context) -> None:
    identities = await ctx.people.identities(ctx.follower.id)
    if len(identities) < 2:
        await ctx.reply("This account is not linked to any other, {{ name }}.")
        return
    await ctx.people.unlink(ctx.event.network, ctx.event.author.id)
    await ctx.reply("Done: this {{ network }} account is on its own again. Its past history stays with your other accounts.")
