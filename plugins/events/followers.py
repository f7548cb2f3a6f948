"""What followers do: see the tour, subscribe to reminders, unsubscribe.

Where reminders go (the rule, decided once): to the conversation where the person
subscribed. In a private chat they started, the reminder comes privately. In a group
or channel, it is posted there, naming everyone who subscribed from that group in one
message. The bot never opens a private conversation by itself (platform rules, and the
policy refuses it). On X a bot may not post to people who did not just summon it, so a
public "/subscribe" on X is answered with an invitation to subscribe by DM instead.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from .base import COMMAND_PRIORITY, EventsContext, Invocation, command, state_of
from .delivery import room_for
from .records import Origin, Subscription, join_names, network_label
from .schedule import schedule_stop
from .settings import EventsSettings
from .tour import Stop, StopInputError, format_local, format_span, parse_stop_args


def reminder_times(settings: EventsSettings) -> str:
    """"24 hours and 1 hour": when reminders come, for confirmations."""
    return join_names([format_span(s) for s in settings.reminders]) or "before"


def stop_line(stop: Stop, now: datetime) -> str:
    live = " (live now)" if stop.live(now) else ""
    where = stop.url or f"on {network_label(stop.network)}"
    return f"- {format_local(stop)}: {stop.title} ({stop.kind.label} with {stop.host}) [{stop.id}]{live} {where}"


def upcoming(stops: list[Stop], now: datetime) -> list[Stop]:
    return [s for s in stops if s.end > now]


@command("tour", description="The book tour: upcoming stops (admins: /tour add, /tour remove)")
async def tour(ctx: EventsContext, inv: Invocation) -> None:
    sub = inv.args[0].lower() if inv.args else ""
    if sub in ("add", "remove"):
        if not ctx.is_admin:
            ctx.log.warning("refused admin command /tour %s from %s:%s (not an admin)",
                            sub, ctx.event.network, ctx.event.author.id)
            ctx.note("refuse", f"/tour {sub} is for admins only")
            await ctx.reply("Sorry, /tour {{ sub }} is only for the team.", variables={"sub": sub})
            return
        await (add_stop(ctx, inv) if sub == "add" else remove_stop(ctx, inv))
        return
    stops = upcoming(await state_of(ctx).stops(), ctx.now)
    if not stops:
        await ctx.reply("No tour stops are coming up right now, {{ name }}.")
        return
    lines = "\n".join(stop_line(s, ctx.now) for s in stops)
    full = f"Upcoming tour stops:\n{lines}\nSend /subscribe for reminders, or /subscribe <stop id> for one stop."
    if room_for(ctx, ctx.event.network, full, full) is None:
        await ctx.reply("{{ text }}", variables={"text": full})
        return
    first = stops[0]  # X: 280 characters hold one stop, not the whole tour
    await ctx.reply(
        "Next tour stop: {{ stop }}. {{ more }}/subscribe for reminders.",
        variables={"stop": stop_line(first, ctx.now)[2:], "more": f"{len(stops) - 1} more after it. " if len(stops) > 1 else ""},
    )


async def add_stop(ctx: EventsContext, inv: Invocation) -> None:
    settings = ctx.config
    state = state_of(ctx)
    text = inv.rest.split(None, 1)[1] if len(inv.rest.split(None, 1)) > 1 else ""
    try:
        stop = parse_stop_args(text, settings.default_duration)
    except StopInputError as exc:
        await ctx.reply("Cannot add that stop: {{ problem }}", variables={"problem": str(exc)}, essential=True)
        return
    if await state.stop(stop.id) is not None:
        await ctx.reply("There is already a stop {{ id }}; pick another id (or /tour remove {{ id }} first).",
                        variables={"id": stop.id}, essential=True)
        return
    if stop.end <= ctx.now:
        await ctx.reply("That stop would already be over ({{ when }}); check the date and time zone.",
                        variables={"when": format_local(stop)}, essential=True)
        return
    await state.add_stop(stop)
    schedule_stop(ctx, settings, stop)
    warning = "" if stop.network in ctx.networks else f" Note: {stop.network} is not running, so nothing will be posted there."
    await ctx.reply(
        "Added {{ id }}: {{ title }}, {{ when }} on {{ network }} ({{ conversation }}). Reminders and the recap are scheduled.{{ warning }}",
        variables={"id": stop.id, "title": stop.title, "when": format_local(stop), "network": network_label(stop.network),
                   "conversation": stop.conversation, "warning": warning},
        essential=True,
    )


async def remove_stop(ctx: EventsContext, inv: Invocation) -> None:
    state = state_of(ctx)
    if len(inv.args) != 2:
        await ctx.reply("Usage: /tour remove <stop id>", essential=True)
        return
    stop_id = inv.args[1].lower()
    stop = await state.stop(stop_id)
    if stop is None:
        await ctx.reply("There is no stop {{ id }}; /tour lists them.", variables={"id": stop_id}, essential=True)
        return
    if stop.origin == "file":
        await ctx.reply("{{ id }} comes from the tour file ({{ where }}); remove it there and restart.",
                        variables={"id": stop.id, "where": stop.where}, essential=True)
        return
    await state.remove_stop(stop.id)  # its scheduled jobs find no stop and do nothing
    if await state.open_qa() == stop.id:
        state.set_open_qa(None, ctx.now)
    await ctx.reply("Removed {{ id }} ({{ title }}).", variables={"id": stop.id, "title": stop.title}, essential=True)


@command("subscribe", description="Reminders before the tour stops (or /subscribe <stop id>)", priority=COMMAND_PRIORITY)
async def subscribe(ctx: EventsContext, inv: Invocation) -> None:
    settings = ctx.config
    state = state_of(ctx)
    stop_id = inv.args[0].lower() if inv.args else None
    stop = None
    if stop_id is not None:
        stop = await state.stop(stop_id)
        if stop is None:
            await ctx.reply("There's no tour stop called {{ id }}, {{ name }}. /tour lists them.", variables={"id": stop_id})
            return
        if stop.end <= ctx.now:
            await ctx.reply("{{ title }} is already over, {{ name }}. /tour shows what's next.", variables={"title": stop.title})
            return
    network = ctx.networks.get(ctx.event.network)
    if network is not None and network.requires_summons and not ctx.event.conversation.private:
        await ctx.reply("Thanks {{ name }}! On {{ net }} I can only send reminders by direct message: "
                        "send me /subscribe in a DM and I'll remind you there.",
                        variables={"net": network_label(ctx.event.network)})
        return
    current = await state.subscription(ctx.follower.id)
    if current is not None and (current.covers(stop_id) if stop_id else current.everything):
        await ctx.reply("You're already subscribed, {{ name }}.", essential=True)
        return
    # Reminders go where the person subscribed last: that is where they are talking to us now.
    origin = Origin.of(ctx.event)
    base = current or Subscription(ctx.follower.id, origin)
    state.save_subscription(replace(base, follower_id=ctx.follower.id, origin=origin).with_stop(stop_id))
    what = "the whole tour" if stop is None else f'"{stop.title}"'
    where = "here" if ctx.event.conversation.private else "in this chat"
    note = (" You asked me to stop messages earlier, though: write start so the reminders can reach you."
            if ctx.follower.opted_out else "")
    await ctx.reply(
        "You're subscribed to {{ what }}, {{ name }}: I'll remind you {{ where }} {{ times }} before "
        "{{ 'each stop' if whole else 'it' }}. /unsubscribe stops the reminders.{{ note }}",
        variables={"what": what, "where": where, "times": reminder_times(settings), "whole": stop_id is None, "note": note},
        essential=True,
    )


@command("unsubscribe", description="No more tour reminders (or /unsubscribe <stop id>)", priority=COMMAND_PRIORITY)
async def unsubscribe(ctx: EventsContext, inv: Invocation) -> None:
    state = state_of(ctx)
    stop_id = inv.args[0].lower() if inv.args else None
    current = await state.subscription(ctx.follower.id)
    if current is None or (stop_id is not None and not current.covers(stop_id)):
        await ctx.reply("You weren't subscribed to {{ what }}, {{ name }}.",
                        variables={"what": "tour reminders" if stop_id is None else stop_id}, essential=True)
        return
    state.save_subscription(current.without_stop(stop_id))
    if stop_id is None:
        await ctx.reply("Done, {{ name }}: no more tour reminders.", essential=True)
    else:
        await ctx.reply("Done, {{ name }}: no reminders for {{ id }}.", variables={"id": stop_id}, essential=True)
