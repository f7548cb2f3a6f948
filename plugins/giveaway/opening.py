"""``/giveaway open``: check the options against the running bot, commit to a seed, announce.

The bot picks a secret seed and publishes its SHA-256 (the *commitment*) where the
giveaway was opened; the seed comes out with the winners, so anyone can check the draw.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence

from brandbot import CommandArgsError, Context
from brandbot import draw as seeded

from .options import USAGE, OpenOptions, read_options
from .posting import admin_says, post, refused, render_announcement, tell_staff, when_text
from .records import Giveaway
from .settings import Ctx, JobCtx
from .state import State


def problems_here(ctx: JobCtx, options: OpenOptions, open_now: Sequence[Giveaway]) -> list[str]:
    """What is wrong with the options on this bot: its settings, clock, networks, open giveaways."""
    problems: list[str] = []
    most = ctx.config.max_winners
    if options.winners > most:
        problems.append(
            f"winners: at most {most} (max_winners in brandbot.yaml), got {options.winners}"
        )
    if options.closes is not None and options.closes.at(ctx.now) <= ctx.now:
        problems.append(
            f"closes={options.closes.typed} is not in the future (it is {ctx.now:%Y-%m-%d %H:%M} UTC now)"
        )
    running = ", ".join(sorted(ctx.networks))
    for name in options.networks:
        if name not in ctx.networks:
            problems.append(f"networks=: {name!r} is not running (running: {running})")
    if options.channel is not None:
        if options.channel[0] not in ctx.networks:
            problems.append(
                f"channel=: network {options.channel[0]!r} is not running (running: {running})"
            )
    elif isinstance(ctx, Context) and ctx.event.conversation.private:
        problems.append(
            "this is a private chat: add channel=network:chat (e.g. channel=telegram:-100123) "
            "so everyone sees the commitment and the winners"
        )
    method = options.entry_method
    for other in open_now:
        if method.hashtag and other.hashtag == method.hashtag:
            problems.append(
                f"giveaway #{other.id} is already open with {method.hashtag}; close it or pick another hashtag"
            )
        if method.phrase and other.phrase == method.phrase:
            problems.append(
                f"giveaway #{other.id} is already open with the phrase {method.phrase!r}"
            )
        if method.post and other.post == method.post:
            problems.append(f"giveaway #{other.id} is already open on post {method.post}")
    return problems


def new_giveaway(ctx: JobCtx, options: OpenOptions, giveaway_id: int) -> Giveaway:
    """The giveaway the options describe, with a fresh secret seed; defaults from the settings."""
    settings = ctx.config
    method = options.entry_method
    if options.channel is not None:
        (network, conversation), private = options.channel, False
    else:
        assert isinstance(ctx, Context), "a scheduled opening always names its channel"
        network, conversation, private = (
            ctx.event.network,
            ctx.event.conversation.id,
            ctx.event.conversation.private,
        )
    previous = options.previous_winners or (
        "exclude" if settings.exclude_previous_winners else "allow"
    )
    seed = seeded.new_seed()
    return Giveaway(
        id=giveaway_id,
        prize=options.prize,
        winners=options.winners,
        hashtag=method.hashtag,
        phrase=method.phrase,
        command=method.command,
        post=method.post,
        networks=options.networks,
        min_days=settings.min_days if options.min_days is None else options.min_days,
        min_interactions=settings.min_interactions
        if options.min_interactions is None
        else options.min_interactions,
        previous_winners=previous,
        network=network,
        conversation=conversation,
        private=private,
        opened_at=ctx.now.isoformat(),
        closes_at=options.closes.at(ctx.now).isoformat() if options.closes else "",
        commitment=seeded.commitment(seed),
        seed=seed,
        secret=secrets.token_hex(16),
    )


async def open_giveaway(ctx: Ctx) -> None:
    typed = re.match(r"\s*\S+\s+\S+(.*)$", ctx.event.text, re.DOTALL)
    await open_from_options(ctx, typed.group(1) if typed else "")


async def open_scheduled(ctx: JobCtx) -> None:
    """The calendar's ``giveaway:`` post at its time (posts.yaml): the same checks and
    announcement as ``/giveaway open``, told to the staff instead of an admin."""
    await open_from_options(ctx, f"{ctx.payload.get('options', '')} channel={ctx.payload.get('channel', '')}")


async def open_from_options(ctx: JobCtx, typed: str) -> None:
    state = State.of(ctx)
    try:
        options = read_options(typed)
    except CommandArgsError as exc:
        await cannot_open(ctx, exc.problems)
        return
    problems = problems_here(
        ctx, options, [g for g in await state.giveaways() if g.status == "open"]
    )
    if problems:
        await cannot_open(ctx, problems)
        return
    giveaway = new_giveaway(ctx, options, await state.next_id())
    state.use_id(giveaway.id)
    state.save(giveaway)
    await state.reindex(giveaway)
    if giveaway.closes:
        ctx.schedule("close", giveaway.closes, {"id": giveaway.id}, key=str(giveaway.id))
    await announce_opening(ctx, giveaway)


async def cannot_open(ctx: JobCtx, problems: Sequence[str]) -> None:
    """Everything wrong, one per line, then the usage (to the staff for a scheduled opening)."""
    listed = "\n".join(f"- {p}" for p in problems)
    if isinstance(ctx, Context):
        await admin_says(ctx, f"Can't open the giveaway:\n{listed}\n{USAGE}")
    else:
        await ctx.send_staff(f"Can't open the giveaway of post {ctx.payload.get('post')!r} (posts file):\n{listed}")


async def announce_opening(ctx: JobCtx, giveaway: Giveaway) -> None:
    """Post the announcement with the commitment; tell the admin and the staff how it went."""
    messages = ctx.config.messages
    variables = {
        "id": giveaway.id,
        "prize": giveaway.prize,
        "how": giveaway.how(),
        "winners": giveaway.winners,
        "draw_time": when_text(giveaway.closes),
        "commitment": giveaway.commitment,
        "hashtag": giveaway.hashtag,
        "phrase": giveaway.phrase,
        "post": giveaway.post,
    }
    text = render_announcement(ctx, messages.opened, variables)
    short = render_announcement(ctx, messages.opened_short, variables)
    problem = refused(await post(ctx, giveaway.where, giveaway.private, text, short))
    where = f"{giveaway.network}:{giveaway.conversation}"
    if not isinstance(ctx, Context):
        pass  # a scheduled opening: the staff note below says how it went
    elif problem:
        await admin_says(
            ctx,
            f"Opened giveaway #{giveaway.id}, but the announcement in {where} was refused "
            f"({problem}). Its text is in the staff channel: post it yourself.",
        )
    elif not ctx.replied:
        await admin_says(
            ctx, f"Opened giveaway #{giveaway.id} ({giveaway.prize}); announced in {where}."
        )
    staff_text = (
        f"Giveaway #{giveaway.id} opened: {giveaway.prize}, {giveaway.winners} winner(s), "
        f"closes {when_text(giveaway.closes)}. "
        + (
            f"Announcement refused in {where}; post it yourself:\n{text}"
            if problem
            else f"Announced in {where}. "
        )
        + f"Commitment (SHA-256 of the secret seed): {giveaway.commitment}"
    )
    if problem:
        await ctx.send_staff(staff_text)
    else:
        await tell_staff(ctx, staff_text)
