"""Entering: by hashtag or phrase in any message, by reacting to a post, or with /enter.

One entry per person across their linked accounts. Entering again is answered "already
in" once, then not at all; people who opted out are never entered and get no answer.

Dispatch: a responder has handled an event only if it replied or called ``ctx.stop()``.
A message that enters a giveaway (or is told it closed) is the giveaway's, even when
nothing is said (repeats, opted-out people, ``confirm_entries: false``), so those paths
stop; a reaction never does, so a reaction rule may still say thanks. ``/enter`` is
always the giveaway's (see ``__init__.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from brandbot import draw as seeded
from brandbot import normalize, words

from .eligibility import ineligibility
from .posting import when_text
from .records import Entry, Giveaway, Matcher
from .settings import Ctx
from .state import State


async def enter(ctx: Ctx, giveaway: Giveaway) -> str | None:
    """Enter the person; returns what to say (rendered), or None for silence."""
    state = State.of(ctx)
    messages = ctx.config.messages
    variables: dict[str, Any] = {"id": giveaway.id, "prize": giveaway.prize}
    if giveaway.status != "open":
        return ctx.render(messages.closed, variables)
    existing = await state.entry_of_person(giveaway.id, ctx.follower.id)
    if existing is not None:
        if existing.told:
            ctx.note("skip", f"already in giveaway #{giveaway.id}; said so once")
            return None
        state.save_entry(
            giveaway.id, dataclasses.replace(existing, told=True), owner=ctx.follower.id
        )
        return ctx.render(messages.already_entered, {**variables, "entry": existing.entry})
    why = await ineligibility(ctx, giveaway, ctx.follower, at_entry=True)
    if why == "opted_out":
        ctx.note("skip", f"opted out: not entered in giveaway #{giveaway.id}")
        return None
    if why is not None:
        reason = ctx.render(
            getattr(messages, why),
            {"min_days": giveaway.min_days, "min_interactions": giveaway.min_interactions},
        )
        ctx.note("skip", f"not eligible for giveaway #{giveaway.id}: {why}")
        return ctx.render(messages.not_eligible, {**variables, "reason": reason})
    event = ctx.event
    entry = Entry(
        entry=seeded.entry_id(giveaway.secret, giveaway.id, f"{event.network}:{event.author.id}"),
        follower_id=ctx.follower.id,
        network=event.network,
        user_id=event.author.id,
        conversation=event.conversation.id,
        private=event.conversation.private,
        post_id=event.post_id or "",
        at=ctx.now.isoformat(),
    )
    state.save_entry(giveaway.id, entry, owner=ctx.follower.id)
    ctx.note("action", f"entered giveaway #{giveaway.id} as {entry.entry}")
    if ctx.config.entry_points:
        await ctx.add_points(ctx.config.entry_points, f"plugin:giveaway entry #{giveaway.id}")
    return ctx.render(
        messages.entered,
        {**variables, "entry": entry.entry, "draw_time": when_text(giveaway.closes)},
    )


async def answer(
    ctx: Ctx, texts: Iterable[str | None], *, once_key: str | None = None, asked: bool = False
) -> None:
    """Say what entering produced, in one reply; ``asked`` (a command) always gets an answer."""
    said = [t for t in texts if t]
    if not said:
        return
    if not asked and not ctx.config.confirm_entries:
        ctx.note("skip", "confirm_entries is off")
        return
    await ctx.reply("{{ text }}", variables={"text": "\n".join(said)}, once_key=once_key)


async def enter_all(ctx: Ctx, matchers: Iterable[Matcher]) -> list[str | None]:
    """Enter the person in each matched giveaway; what to say about each."""
    state = State.of(ctx)
    texts: list[str | None] = []
    for matcher in matchers:
        giveaway = await state.giveaway(matcher.id)
        if giveaway is not None:
            texts.append(await enter(ctx, giveaway))
    return texts


async def enter_by_text(ctx: Ctx) -> None:
    """Entries by hashtag or phrase in a mention, reply, quote, message or DM."""
    event_words = words(normalize(ctx.event.text))
    if not event_words:
        return
    state = State.of(ctx)
    index = await state.index()
    network = ctx.event.network
    hits = [m for m in index.open if m.on_network(network) and m.in_text(event_words)]
    if hits:
        await answer(ctx, await enter_all(ctx, hits))
        ctx.stop()  # the giveaway's message even when nothing is said (repeat, opted out)
        return
    late = [
        m
        for m in index.closed
        if m.on_network(network) and m.in_text(event_words) and m.recently_closed(ctx.now)
    ]
    giveaway = await state.giveaway(late[0].id) if late else None
    if giveaway is not None:
        text = ctx.render(ctx.config.messages.closed, {"id": giveaway.id, "prize": giveaway.prize})
        await answer(ctx, [text], once_key=f"giveaway:{giveaway.id}:late:f{ctx.follower.id}:")
        ctx.stop()  # told once per person; later tries are the giveaway's too, unanswered


async def enter_by_reaction(ctx: Ctx) -> None:
    """Entries by reacting to the giveaway's post; silent unless confirm_reactions is on.

    Never stops: unless it answered, a reaction rule may still say thanks.
    """
    post_id = ctx.event.refers_to
    if not post_id:
        return
    index = await State.of(ctx).index()
    hits = [m for m in index.open if m.post == post_id and m.on_network(ctx.event.network)]
    for text in await enter_all(ctx, hits):
        if text and ctx.config.confirm_reactions:
            await answer(ctx, [text])


async def enter_command(ctx: Ctx) -> None:
    """/enter, or /enter <id> when several giveaways are open."""
    state = State.of(ctx)
    messages = ctx.config.messages
    if ctx.event.args:
        wanted = ctx.event.args[0].lstrip("#")
        if not wanted.isdigit():
            await ctx.reply(
                "Send /enter, or /enter followed by the giveaway number (like /enter 7)."
            )
            return
        giveaway = await state.giveaway(int(wanted))
        if giveaway is None:
            await ctx.reply("There's no giveaway #{{ id }}, {{ name }}.", variables={"id": wanted})
        elif giveaway.status == "closed":
            await ctx.reply(messages.closed, variables={"id": giveaway.id, "prize": giveaway.prize})
        elif not giveaway.command:
            await ctx.reply(
                "Giveaway #{{ id }} isn't entered with /enter. {{ how }}",
                variables={"id": giveaway.id, "how": giveaway.how()},
            )
        elif not giveaway.matcher.on_network(ctx.event.network):
            await ctx.reply(
                "Giveaway #{{ id }} is open on {{ where }} only.",
                variables={"id": giveaway.id, "where": ", ".join(giveaway.networks)},
            )
        else:
            await answer(ctx, [await enter(ctx, giveaway)], asked=True)
        return
    index = await state.index()
    candidates = [m for m in index.open if m.command and m.on_network(ctx.event.network)]
    if len(candidates) > 1:
        choices = "; ".join(f"/enter {m.id}" for m in candidates)
        await ctx.reply(
            "Several giveaways are open, {{ name }}: {{ choices }}.", variables={"choices": choices}
        )
        return
    if candidates:
        await answer(ctx, await enter_all(ctx, candidates), asked=True)
        return
    recent = [m for m in index.closed if m.command]
    giveaway = (
        await state.giveaway(recent[0].id)
        if recent and recent[0].recently_closed(ctx.now)
        else None
    )
    if giveaway is not None:
        await ctx.reply(messages.closed, variables={"id": giveaway.id, "prize": giveaway.prize})
    else:
        await ctx.reply("There's no giveaway to /enter right now, {{ name }}.")
