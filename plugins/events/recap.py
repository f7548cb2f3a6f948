"""Who came, what was asked: attendance during a stop, and the recap the staff gets after it.

Attendance is counted by a watcher (it never replies): the distinct people who wrote in
the stop's conversation, or asked a question, while the stop was live or its Q&A open.
New followers are the people whose first contact with the bot, on any network, fell
within that time: the stop brought them. Staff (admins) are not counted.
"""

from __future__ import annotations

from .base import EventsContext, EventsJob, plugin, state_of
from .records import OPEN_STATUSES, Status
from .tour import Stop, format_local


@plugin.watch()
async def attendance(ctx: EventsContext) -> None:
    if ctx.is_admin:
        return
    state = state_of(ctx)
    open_id = await state.open_qa()
    for stop in await state.stops():
        if not (stop.live(ctx.now) or stop.id == open_id):
            continue
        if ctx.event.conversation.key == stop.key:
            await state.mark("seen", stop.id, ctx.follower.id)
        if ctx.first_contact:
            await state.mark("new", stop.id, ctx.follower.id)


def _people(n: int) -> str:
    return f"{n} {'person' if n == 1 else 'people'}"


async def recap_text(ctx: EventsJob, stop: Stop) -> str:
    state = state_of(ctx)
    questions = await state.questions(stop.id)
    by_status = {s: sum(q.status is s for q in questions) for s in Status}
    askers = len({q.follower_id for q in questions})
    waiting = sum(by_status[s] for s in OPEN_STATUSES)
    subscribers = sum(sub.covers(stop.id) for sub in await state.subscriptions())
    if questions:
        asked = (f"Questions: {len(questions)} asked by {_people(askers)}; {by_status[Status.ANSWERED]} answered, "
                 f"{by_status[Status.MERGED]} merged as duplicates, {waiting} left unanswered, "
                 f"{by_status[Status.REJECTED]} rejected")
    else:
        asked = "Questions: none"
    return "\n".join([
        f"Recap: {stop.title} [{stop.id}], {stop.kind.label} with {stop.host}, {format_local(stop)}",
        asked,
        f"Attendance: {_people(await state.count('seen', stop.id))} took part",
        f"New followers: {await state.count('new', stop.id)} first contacts during the stop",
        f"Subscribers to reminders: {subscribers}",
    ])


async def send_recap(ctx: EventsJob, stop: Stop) -> None:
    """Send the recap to the staff channel and remember it was sent."""
    await ctx.send_staff(await recap_text(ctx, stop))
    state_of(ctx).set_recap_sent(stop.id, ctx.now)
