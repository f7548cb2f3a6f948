"""Time-driven work: check and load the tour, schedule each stop's jobs, run them when due.

Every stop gets persisted jobs (they survive restarts): one reminder per configured
offset before the start, the Q&A opening at the start (Q&A stops), and the close with
the recap at the end. Jobs are keyed by stop, so loading the tour again (every start)
replaces them instead of adding duplicates. A job re-reads its stop when it runs: a
stop removed or moved since is skipped, and each job does its work once.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from brandbot import TemplateEngine

from .base import EventsJob, plugin, state_of
from .delivery import answer_origin, describe, render_post, stop_view
from .qa import close_qa, open_qa
from .recap import send_recap
from .records import Origin, join_names
from .settings import EventsSettings, check_templates
from .tour import Stop, StopKind, format_span, load_tour

log = logging.getLogger("brandbot.plugin.events")

REMIND, OPEN, CLOSE = "remind", "open", "close"
#: How early a job may run and still count as on time (the scheduler passes every second).
SKEW = timedelta(minutes=1)


@plugin.check
def check_events(settings: EventsSettings, bot_config: Any) -> None:
    """Templates render, the tour file is valid (file:line); stops on disabled networks are warnings."""
    check_templates(settings, TemplateEngine(bot_config.brand), lambda name: bot_config.where("plugins", "events", name))
    if settings.tour_file:
        # A stop on a network that is configured but switched off (the example's telegram,
        # discord and x) is deliberate: one line says so. A network not configured at all
        # is likely a typo: a warning per stop, with its file:line.
        enabled = {n.name for n in bot_config.networks}
        switched_off = set(getattr(getattr(bot_config, "top", None), "networks", None) or ()) - enabled
        tour = load_tour(bot_config.path.parent / settings.tour_file, default_duration=settings.default_duration,
                         networks=enabled | switched_off,
                         expected_by=bot_config.where("plugins", "events", "tour_file"))
        for warning in tour.warnings:
            log.warning("%s", warning)
        waiting = sorted({stop.network for stop in tour.stops if stop.network in switched_off})
        if waiting:
            count = sum(1 for stop in tour.stops if stop.network in switched_off)
            log.info("events: %d tour %s on %s, not enabled: nothing is posted there until %s enabled",
                     count, "stop is" if count == 1 else "stops are", ", ".join(waiting),
                     "it is" if len(waiting) == 1 else "they are")


def schedule_stop(ctx: EventsJob, settings: EventsSettings, stop: Stop) -> None:
    """Schedule (or re-schedule, same keys) the jobs of one stop that are still ahead.

    The calendar hears of the stop too: brand posts in posts.yaml with ``event: <stop id>``
    are timed from its start (one scheduler for the tour and the brand's posts).
    """
    ctx.anchor_posts("event", stop.id, stop.start, {"stop": stop_view(stop)})
    now = ctx.now
    for offset in settings.reminders:
        at = stop.start - timedelta(seconds=offset)
        if at > now:
            ctx.schedule(REMIND, at, {"stop": stop.id, "offset": offset}, key=f"{stop.id}:{int(offset)}")
    if stop.end > now:
        if stop.kind is StopKind.QA:
            ctx.schedule(OPEN, max(stop.start, now), {"stop": stop.id}, key=stop.id)
        ctx.schedule(CLOSE, stop.end, {"stop": stop.id}, key=stop.id)


@plugin.on_start
async def load(ctx: EventsJob) -> None:
    """Read tour.yaml again (it may have changed while the bot was down) and schedule every stop."""
    settings = ctx.config
    state = state_of(ctx)
    stops: list[Stop] = []
    if settings.tour_file:
        path = ctx.files.resolve(settings.tour_file)
        stops = list(load_tour(path, default_duration=settings.default_duration).stops)
    state.save_file_stops(stops)
    everything = await state.stops()
    for stop in everything:
        schedule_stop(ctx, settings, stop)
    log.info("events: tour of %d stops scheduled", len(everything))


async def _stop_of(ctx: EventsJob) -> Stop | None:
    stop = await state_of(ctx).stop(str(ctx.payload.get("stop", "")))
    if stop is None:
        log.info("events: job for stop %r skipped: the stop is no longer in the tour", ctx.payload.get("stop"))
    return stop


@plugin.job(REMIND)
async def remind(ctx: EventsJob) -> None:
    stop = await _stop_of(ctx)
    if stop is None:
        return
    offset = float(ctx.payload["offset"])
    if ctx.now >= stop.start or stop.start - timedelta(seconds=offset) > ctx.now + SKEW:
        return  # too late, or the stop moved later and its new reminder is scheduled
    if any(o < offset and stop.start - timedelta(seconds=o) <= ctx.now for o in ctx.config.reminders):
        return  # the bot was down: a later reminder is due too, and one reminder is enough
    if not await state_of(ctx).claim(f"remind:{stop.id}:{int(offset)}:{stop.start.isoformat()}", ctx.now):
        return
    await send_reminders(ctx, stop)


async def send_reminders(ctx: EventsJob, stop: Stop) -> None:
    """Remind every subscriber of this stop where they subscribed (see followers.py for the rule)."""
    settings = ctx.config
    state = state_of(ctx)
    starts_in = format_span((stop.start - ctx.now).total_seconds())
    view = stop_view(stop)
    reminded: set[int] = set()
    in_public: dict[tuple[str, str], list[Origin]] = {}
    for sub in await state.subscriptions():
        if not sub.covers(stop.id):
            continue
        follower = await ctx.people.on(sub.origin.network, sub.origin.author_id)
        if follower is None or follower.id in reminded:
            continue  # forgotten, or one person subscribed from two linked accounts
        reminded.add(follower.id)
        if follower.opted_out:
            continue
        if sub.origin.private:
            text = render_post(ctx, settings.reminder, {"name": sub.origin.name, "stop": view, "starts_in": starts_in})
            # essential: the person asked for it, and a reminder held back by quiet hours is useless
            decision = await answer_origin(ctx, sub.origin, follower, text, essential=True)
            if not decision.allowed:
                log.info("events: reminder to follower %d %s", follower.id, describe(decision))
        else:
            in_public.setdefault(sub.origin.key, []).append(sub.origin)
    for (network, conversation), origins in in_public.items():
        text = render_post(ctx, settings.reminder_public,
                           {"names": join_names([o.name for o in origins]), "stop": view, "starts_in": starts_in})
        decision = await ctx.send(network, conversation, text, essential=True)
        if not decision.allowed:
            log.info("events: reminder in %s:%s %s", network, conversation, describe(decision))


@plugin.job(OPEN)
async def open_at_start(ctx: EventsJob) -> None:
    stop = await _stop_of(ctx)
    if stop is None or not (stop.start - SKEW <= ctx.now < stop.end):
        return
    state = state_of(ctx)
    closed = await state.recap_sent(stop.id)
    if closed is not None and closed >= stop.start - SKEW:
        return  # a moderator opened and closed it already (a rehearsal before the start does not count)
    if not await state.claim(f"open:{stop.id}:{stop.start.isoformat()}", ctx.now):
        return
    current = await state.open_qa()
    if current == stop.id:
        return
    if current is not None:
        other = await state.stop(current)
        if other is not None:
            await close_qa(ctx, other)  # one Q&A at a time: the newer one takes over
    await open_qa(ctx, stop, by_moderator=False)


@plugin.job(CLOSE)
async def close_at_end(ctx: EventsJob) -> None:
    stop = await _stop_of(ctx)
    if stop is None or ctx.now < stop.end - SKEW:
        return
    state = state_of(ctx)
    if await state.recap_sent(stop.id):
        if await state.open_qa() == stop.id:  # reopened by a moderator after an early close
            state.set_open_qa(None, ctx.now)
        return
    if not await state.claim(f"close:{stop.id}:{stop.end.isoformat()}", ctx.now):
        return
    if await state.open_qa() == stop.id:
        await close_qa(ctx, stop)
    else:
        await send_recap(ctx, stop)
