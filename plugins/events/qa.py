"""The live Q&A: questions in, a moderated queue, questions and answers out, attributed.

One Q&A is open at a time. It opens at a Q&A stop's start (or with ``/qa open``) and
closes at its end (or with ``/qa close``); closing sends the recap to the staff.
Questions come by ``/ask``, from any network, or by mention or reply in the stop's own
conversation. Moderators approve, merge duplicates (every asker is credited), post
the next question and the host's answer. Answers also reach the askers who asked from
somewhere else, where they asked.
"""

from __future__ import annotations

from dataclasses import replace

from brandbot import Kind

from .base import (
    QUESTION_PRIORITY,
    EventsContext,
    EventsJob,
    Invocation,
    command,
    plugin,
    state_of,
    strip_mentions,
)
from .delivery import answer_origin, describe, post_to_stop, render_post, room_for, stop_view
from .recap import send_recap
from .records import (
    OPEN_STATUSES,
    Origin,
    Question,
    QueueError,
    Status,
    approve,
    askers_of,
    find,
    join_names,
    merge,
    network_label,
    next_approved,
    reject,
)
from .state import State
from .tour import Stop

ASK_USAGE = "Write your question after /ask, for example: /ask Where did the idea for the orchard come from?"
QA_USAGE = (
    "/qa open <stop id> | /qa queue | /qa approve N [N...] | /qa reject N | /qa merge N M (M into N) | "
    "/qa next | /qa answer N <answer> | /qa close"
)


# --------------------------------------------------------------------------- open / close


async def current_stop(state: State) -> Stop | None:
    stop_id = await state.open_qa()
    return await state.stop(stop_id) if stop_id else None


async def open_qa(ctx: EventsJob, stop: Stop, *, by_moderator: bool) -> None:
    """Open the stop's Q&A and say so in its conversation (the open post may be switched off)."""
    state = state_of(ctx)
    state.set_open_qa(stop.id, ctx.now)
    template = ctx.config.open_post
    if template:
        decision = await post_to_stop(ctx, stop, render_post(ctx, template, {"stop": stop_view(stop)}),
                                      by_moderator=by_moderator)
        if not decision.allowed:
            ctx.log.info("events: opening post for %s %s", stop.id, describe(decision))


async def close_qa(ctx: EventsJob, stop: Stop) -> None:
    """Close the Q&A (if it is this stop's) and send the recap to the staff."""
    state = state_of(ctx)
    if await state.open_qa() == stop.id:
        state.set_open_qa(None, ctx.now)
    await send_recap(ctx, stop)


# --------------------------------------------------------------------------- asking


@command("ask", description="Ask the author a question during a live Q&A")
async def ask(ctx: EventsContext, inv: Invocation) -> None:
    stop = await current_stop(state_of(ctx))
    if stop is None:
        await ctx.reply("There's no Q&A open right now, {{ name }}. /tour shows when the next one is.")
        return
    await take_question(ctx, stop, inv.rest)


@plugin.on(Kind.MENTION, Kind.REPLY, priority=QUESTION_PRIORITY)
async def question_in_conversation(ctx: EventsContext) -> None:
    """During a Q&A, a mention or reply in the stop's conversation is a question."""
    stop = await current_stop(state_of(ctx))
    text = strip_mentions(ctx.event.text)
    if stop is not None and ctx.event.conversation.key == stop.key and not ctx.is_admin and text:
        await take_question(ctx, stop, text)
        ctx.stop()  # a question of the Q&A, queued or not: no other responder answers it


async def take_question(ctx: EventsContext, stop: Stop, text: str) -> None:
    settings = ctx.config
    state = state_of(ctx)
    text = " ".join(text.split())
    if not text:
        await ctx.reply(ASK_USAGE)
        return
    questions = await state.questions(stop.id)
    waiting = [q for q in questions if q.follower_id == ctx.follower.id and q.status in (Status.PENDING, Status.APPROVED)]
    if len(waiting) >= settings.max_pending_per_person:
        await ctx.reply("You already have {{ n }} questions waiting, {{ name }}; let's get to those first!",
                        variables={"n": len(waiting)})
        return
    asker = f"{ctx.event.author.display} ({network_label(ctx.event.network)})"
    frame = render_post(ctx, settings.question_post,
                        {"askers": asker, "question": text, "number": 0, "stop": stop_view(stop)})
    too_long = room_for(ctx, stop.network, frame, text, cap=settings.max_question_length)
    if too_long is not None:
        await ctx.reply("{{ problem }} Could you shorten it?",
                        variables={"problem": too_long.sentence("Your question")})
        return
    number = await state.next_number(stop.id)
    question = Question(stop=stop.id, number=number, follower_id=ctx.follower.id, text=text,
                        origin=Origin.of(ctx.event), asked_at=ctx.now)
    state.save_question(question)
    await state.mark("seen", stop.id, ctx.follower.id)
    asked = await state.count_asked(stop.id, ctx.follower.id)
    points = settings.ask_points if asked <= settings.points_questions_per_stop else 0
    if points:
        await ctx.add_points(points, "events:ask")
    await ctx.reply(settings.ask_ack, variables={"stop": stop_view(stop), "number": number, "points": points})


# --------------------------------------------------------------------------- moderating


def _numbers(words: tuple[str, ...], usage: str) -> list[int]:
    if not words:
        raise QueueError(f"which question? {usage}")
    numbers = []
    for word in words:
        cleaned = word.lstrip("#").rstrip(",")
        if not cleaned.isdigit():
            raise QueueError(f"{word!r} is not a question number. {usage}")
        numbers.append(int(cleaned))
    return numbers


def _asker(q: Question) -> str:
    return f"{q.origin.name} ({network_label(q.origin.network)})"


def _queue_line(q: Question, questions: list[Question]) -> str:
    also = askers_of(q, questions)[1:]
    credit = f" (also asked by {join_names([_asker(d) for d in also])})" if also else ""
    text = q.text if len(q.text) <= 120 else q.text[:117] + "..."
    return f"{q.number}. [{q.status.value}] {_asker(q)}: {text}{credit}"


@command("qa", description="Moderate the live Q&A (open, queue, approve, merge, next, answer, close)", admin=True)
async def qa(ctx: EventsContext, inv: Invocation) -> None:
    sub = inv.args[0].lower() if inv.args else "help"
    state = state_of(ctx)
    if sub == "open":
        await _open(ctx, state, inv.args[1:])
        return
    if sub not in ("queue", "approve", "reject", "merge", "next", "answer", "close"):
        await _tell(ctx, QA_USAGE)
        return
    stop = await current_stop(state)
    if stop is None:
        await _tell(ctx, "No Q&A is open. /qa open <stop id> opens one.")
        return
    try:
        if sub == "queue":
            await _queue(ctx, state, stop)
        elif sub in ("approve", "reject"):
            await _moderate(ctx, state, stop, sub, _numbers(inv.args[1:], f"/qa {sub} N"))
        elif sub == "merge":
            await _merge(ctx, state, stop, _numbers(inv.args[1:], "/qa merge N M"))
        elif sub == "next":
            await _next(ctx, state, stop)
        elif sub == "answer":
            await _answer(ctx, state, stop, inv)
        else:
            await close_qa(ctx, stop)
            await _tell(ctx, f"Closed the Q&A of {stop.id}; the recap went to the staff channel.")
    except QueueError as exc:
        message = str(exc)
        await _tell(ctx, message[:1].upper() + message[1:] + ("" if message.endswith(".") else "."))


async def _tell(ctx: EventsContext, text: str) -> None:
    """Answer the moderator (essential: they asked, quiet hours do not apply)."""
    await ctx.reply("{{ text }}", variables={"text": text}, essential=True)


async def _open(ctx: EventsContext, state: State, words: tuple[str, ...]) -> None:
    stops = await state.stops()
    if len(words) != 1:
        qa_ids = ", ".join(s.id for s in stops if s.kind.value == "qa" and s.end > ctx.now) or "none planned"
        await _tell(ctx, f"Usage: /qa open <stop id> (Q&A stops: {qa_ids})")
        return
    stop = next((s for s in stops if s.id == words[0].lower()), None)
    if stop is None:
        await _tell(ctx, f"There is no stop {words[0]!r}; /tour lists them.")
        return
    current = await state.open_qa()
    if current == stop.id:
        await _tell(ctx, f"The Q&A of {stop.id} is already open.")
        return
    if current is not None:
        await _tell(ctx, f"The Q&A of {current} is open; /qa close it first (one Q&A at a time).")
        return
    await open_qa(ctx, stop, by_moderator=True)
    await _tell(ctx, f"Opened the Q&A of {stop.id} ({stop.title}) on {network_label(stop.network)}. "
                     "Questions arrive in /qa queue.")


async def _queue(ctx: EventsContext, state: State, stop: Stop) -> None:
    questions = await state.questions(stop.id)
    shown = [q for q in questions if q.status in OPEN_STATUSES]
    answered = sum(q.status is Status.ANSWERED for q in questions)
    if not shown:
        await _tell(ctx, f"No questions waiting for {stop.id} ({answered} answered).")
        return
    lines = "\n".join(_queue_line(q, questions) for q in shown)
    await _tell(ctx, f"Questions for {stop.id} ({answered} answered):\n{lines}")


async def _moderate(ctx: EventsContext, state: State, stop: Stop, action: str, numbers: list[int]) -> None:
    questions = await state.questions(stop.id)
    change = approve if action == "approve" else reject
    updated = [change(find(questions, n)) for n in numbers]  # all or nothing
    for q in updated:
        state.save_question(q)
    done = "Approved" if action == "approve" else "Rejected"
    await _tell(ctx, f"{done} {join_names([str(q.number) for q in updated])}.")


async def _merge(ctx: EventsContext, state: State, stop: Stop, numbers: list[int]) -> None:
    if len(numbers) != 2:
        raise QueueError("merge takes two numbers: /qa merge N M merges question M into question N")
    questions = await state.questions(stop.id)
    kept, gone = merge(find(questions, numbers[0]), find(questions, numbers[1]))
    state.save_question(kept)
    state.save_question(gone)
    credited = join_names([_asker(q) for q in askers_of(kept, [*questions, gone])])
    await _tell(ctx, f"Merged question {gone.number} into {kept.number}; credited: {credited}.")


async def _show(ctx: EventsContext, stop: Stop, text: str, asked_at: Origin) -> str:
    """Post to the stop; a moderator in the stop's conversation gets the post itself as answer."""
    if ctx.event.conversation.key == stop.key:
        decision = await ctx.reply("{{ text }}", variables={"text": text}, essential=True)
        return describe(decision)
    decision = await post_to_stop(ctx, stop, text, asked_at=asked_at)
    return describe(decision)


async def _next(ctx: EventsContext, state: State, stop: Stop) -> None:
    questions = await state.questions(stop.id)
    q = next_approved(questions)
    if q is None:
        pending = sum(x.status is Status.PENDING for x in questions)
        await _tell(ctx, f"No approved question is waiting ({pending} pending; /qa approve N).")
        return
    askers = join_names([_asker(x) for x in askers_of(q, questions)])
    text = render_post(ctx, ctx.config.question_post,
                       {"askers": askers, "question": q.text, "number": q.number, "stop": stop_view(stop)})
    outcome = await _show(ctx, stop, text, q.origin)
    if outcome.startswith("not posted"):
        await _tell(ctx, f"Question {q.number} {outcome}.")
        return
    state.save_question(_with_status(q, Status.POSTED))
    if ctx.event.conversation.key != stop.key:
        await _tell(ctx, f"Question {q.number} {outcome} on {network_label(stop.network)}.")


def _with_status(q: Question, status: Status) -> Question:
    return replace(q, status=status)


async def _answer(ctx: EventsContext, state: State, stop: Stop, inv: Invocation) -> None:
    parts = inv.rest.split(None, 2)  # "answer", N, text
    if len(parts) < 3:
        raise QueueError("usage: /qa answer N <the host's answer>")
    number = _numbers((parts[1],), "/qa answer N <answer>")[0]
    answer = " ".join(parts[2].split())
    questions = await state.questions(stop.id)
    q = find(questions, number)
    if q.status is Status.MERGED:
        raise QueueError(f"question {q.number} was merged into question {q.merged_into}; answer that one")
    if q.status is Status.REJECTED:
        raise QueueError(f"question {q.number} was rejected; /qa approve {q.number} first")
    everyone = askers_of(q, questions)
    variables = {"host": stop.host, "askers": join_names([x.origin.name for x in everyone]), "answer": answer,
                 "question": q.text, "number": q.number, "stop": stop_view(stop)}
    text = render_post(ctx, ctx.config.answer_post, variables)
    too_long = room_for(ctx, stop.network, text, answer)
    if too_long is not None:
        raise QueueError(too_long.sentence("the answer") + " Shorten it and send /qa answer again")
    outcome = await _show(ctx, stop, text, q.origin)
    if outcome.startswith("not posted"):
        await _tell(ctx, f"Answer to question {q.number} {outcome}.")
        return
    state.save_question(_with_status(q, Status.ANSWERED))
    elsewhere = []
    for x in everyone:
        if x.origin.key == stop.key:
            continue
        follower = await ctx.people.on(x.origin.network, x.origin.author_id)
        if follower is None:
            continue
        decision = await answer_origin(ctx, x.origin, follower, text)
        elsewhere.append(f"{x.origin.name} on {network_label(x.origin.network)}"
                         + ("" if decision.allowed else f" ({describe(decision)})"))
    copies = f"; also sent to {join_names(elsewhere)}" if elsewhere else ""
    if ctx.event.conversation.key != stop.key or elsewhere:
        await _tell(ctx, f"Answer to question {q.number} {outcome} on {network_label(stop.network)}{copies}.")
