"""The events plugin: tour file, subscriptions and reminders, the live Q&A, recaps, bad inputs.

Driven through brandbot.testing on in-memory Telegram, Discord and X stand-ins (the one
named ``x`` keeps X's rule: replies only to people who summoned the bot).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from brandbot.core.errors import ConfigError, TemplateError
from brandbot.networks.base import RateLimits
from brandbot.runtime.context import JobContext
from brandbot.testing import write_config

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = str(ROOT / "plugins")
NETS = ("telegram", "discord", "x")
#: Sunday 1 March 2026, 12:00 UTC: the day before the live Q&A.
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOUR = 3600.0

# The Q&A: Monday 2 March 19:00 in Stockholm (CET, UTC+1) = 18:00 UTC, for one hour.
# The interview: Wednesday 4 March 18:00 in New York (EST, UTC-5) = 23:00 UTC.
TOUR = """\
title: The Salt Orchard virtual book tour
stops:
  - id: qa-live
    title: Live Q&A with Maya
    host: Maya
    kind: qa
    start: 2026-03-02 19:00
    timezone: Europe/Stockholm
    network: discord
    conversation: qa-room
    duration: 1h
  - id: bookish
    title: Interview on Bookish Hours
    host: Bookish Hours
    kind: interview
    start: 2026-03-04 18:00
    timezone: America/New_York
    network: telegram
    conversation: bookish-group
    url: https://bookish.example/maya
"""

#: The same Q&A held on X, in the thread of a brand post.
X_TOUR = TOUR.replace("network: discord\n    conversation: qa-room", "network: x\n    conversation: x-thread")

MOD = {"author": "mod", "network": "telegram", "conversation": "staff"}  # an admin in the staff channel
OPEN_POST = "The Q&A with Maya is open! Ask your question with /ask followed by your question, or mention me here."


async def tour_bot(make_bot: Any, folder: Path, tour: str = TOUR, *, settings: dict | None = None,
                   plugins: tuple[str, ...] = (), networks: tuple[str, ...] = NETS,
                   limits: dict | None = None, rules: list | None = None) -> Any:
    """A bot with the events plugin on ``tour``, admin "mod" on every network, staff channel on Telegram."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tour.yaml").write_text(tour)
    config = {
        "plugin_dirs": [BUNDLED],
        "admins": {net: ["mod"] for net in networks},
        "staff": {"network": "telegram", "conversation": "staff"},
        "plugins": {"events": {"tour_file": "tour.yaml", **(settings or {})}},
    }
    path = write_config(folder, config, rules)
    bot = await make_bot(config=path, plugins=["events", *plugins], networks=networks, start=START, limits=limits)
    await quiet_scheduler(bot)
    return bot


async def quiet_scheduler(bot: Any) -> None:
    """Stop the bot's background scheduler pass so that only ``advance`` runs jobs.

    Each ``advance`` also wakes that pass, and the two then run due jobs at the same time;
    :func:`test_jobs_do_their_work_once_when_two_scheduler_passes_overlap` covers that
    case on purpose. Elsewhere the overlap would only make the order of sends vary.
    """
    for task in list(bot.bot._background):
        if task.get_name() == "jobs":
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            bot.bot._background.remove(task)


def take_where(bot: Any) -> list[tuple[str, str, str]]:
    """(network, conversation, text) of every message sent since the last take."""
    seen = set(bot._seen)
    fresh = sorted((o.outbox_id, net, o.reply.conversation.id, o.reply.text)
                   for net, network in bot.networks.items() for o in network.outgoing if o.outbox_id not in seen)
    bot.take_sent()
    return [(net, conv, text) for _, net, conv, text in fresh]


def sent_in(bot: Any, network: str, conversation: str) -> list[str]:
    return [r.text for r in bot.networks[network].sent if r.conversation.id == conversation]


async def ask_points(bot: Any, handle: str, network: str) -> int:
    follower = await bot.follower(handle, network)
    rows = await bot.bot.store.all_interactions(follower.id)
    return sum(r.points for r in rows if r.kind == "points" and r.source == "events:ask")


async def to_qa_start(bot: Any) -> None:
    """From START to 18:00 UTC on 2 March, when the Q&A opens (reminders fire on the way)."""
    await bot.advance(6 * HOUR)  # 18:00 on 1 March: the 24h reminders
    await bot.advance(23 * HOUR)  # 17:00 on 2 March: the 1h reminders
    await bot.advance(HOUR)  # 18:00: the Q&A opens


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """The 1-based line of the ``nth`` line containing ``needle`` (-1: the last)."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    return hits[nth - 1 if nth > 0 else nth]


# --------------------------------------------------------------------------- reminders


async def test_subscribers_are_reminded_24h_and_1h_before_where_they_subscribed(make_bot, tmp_path) -> None:
    bot = await tour_bot(make_bot, tmp_path)
    await bot.receive("command", "/subscribe", author="ana", network="telegram")  # her private chat
    assert bot.take_sent() == [("You're subscribed to the whole tour, Ana: I'll remind you here 24 hours and 1 hour "
                               "before each stop. /unsubscribe stops the reminders.")]
    await bot.receive("command", "/subscribe qa-live", author="ben", network="discord", conversation="general")
    assert bot.take_sent() == [('You\'re subscribed to "Live Q&A with Maya", Ben: I\'ll remind you in this chat 24 hours '
                               "and 1 hour before it. /unsubscribe stops the reminders.")]
    await bot.receive("direct", "hello", author="cy", network="telegram")  # talks to us, never subscribed
    bot.take_sent()

    await bot.advance(6 * HOUR - 60)  # 17:59 UTC on 1 March: a minute early
    assert bot.take_sent() == []
    await bot.advance(60)
    assert take_where(bot) == [
        ("telegram", "dm:ana", ('Hi Ana, a reminder: "Live Q&A with Maya" (Q&A with Maya) starts in 24 hours '
                               "(Mon 2 Mar, 19:00 CET) on Discord. Send /unsubscribe to stop tour reminders.")),
        ("discord", "general", ('A reminder for Ben: "Live Q&A with Maya" (Q&A with Maya) starts in 24 hours '
                               "(Mon 2 Mar, 19:00 CET) on Discord.")),
    ]  # Cy, who only chatted, gets nothing

    await bot.advance(23 * HOUR)  # 17:00 UTC on 2 March
    assert [(net, conv) for net, conv, _ in take_where(bot)] == [("telegram", "dm:ana"), ("discord", "general")]
    assert all("starts in 1 hour (Mon 2 Mar, 19:00 CET)" in text for text in sent_in(bot, "telegram", "dm:ana")[-1:])

    await bot.advance(30 * HOUR)  # 23:00 UTC on 3 March (the Q&A came and went: its recap went to the staff)
    assert [m for m in take_where(bot) if m[1] != "staff"] == [
        ("telegram", "dm:ana", ('Hi Ana, a reminder: "Interview on Bookish Hours" (interview with Bookish Hours) starts in '
                               "24 hours (Wed 4 Mar, 18:00 EST): https://bookish.example/maya. Send /unsubscribe to "
                               "stop tour reminders.")),
    ]  # the interview concerns only Ana, who took the whole tour


async def test_public_reminders_name_everyone_from_that_group_in_one_message(make_bot, tmp_path) -> None:
    bot = await tour_bot(make_bot, tmp_path)
    for who in ("ben", "cy", "dee"):
        await bot.receive("command", "/subscribe qa-live", author=who, network="discord", conversation="general")
    bot.take_sent()
    await bot.advance(6 * HOUR)
    assert take_where(bot) == [("discord", "general", ('A reminder for Ben, Cy and Dee: "Live Q&A with Maya" (Q&A with Maya) '
                                                      "starts in 24 hours (Mon 2 Mar, 19:00 CET) on Discord."))]


async def test_unsubscribe_is_about_the_tour_and_does_not_opt_out_of_everything(make_bot, tmp_path) -> None:
    bot = await tour_bot(make_bot, tmp_path, plugins=("optout",))
    await bot.receive("command", "/subscribe", author="ana", network="telegram")
    await bot.receive("command", "/subscribe", author="ben", network="telegram")
    await bot.receive("command", "/unsubscribe", author="ben", network="telegram")
    await bot.receive("command", "/unsubscribe qa-live", author="ana", network="telegram")
    assert bot.take_sent()[-2:] == ["Done, Ben: no more tour reminders.", "Done, Ana: no reminders for qa-live."]
    assert not (await bot.follower("ben", "telegram")).opted_out  # the optout plugin's "unsubscribe" did not fire
    await bot.advance(6 * HOUR)
    assert bot.take_sent() == []  # Ana skipped qa-live, Ben left the tour
    await bot.receive("command", "/unsubscribe", author="cy", network="telegram")
    await bot.receive("command", "/subscribe qa-live", author="ana", network="telegram")
    await bot.receive("command", "/subscribe qa-live", author="ana", network="telegram")
    assert bot.take_sent()[0] == "You weren't subscribed to tour reminders, Cy."
    assert sent_in(bot, "telegram", "dm:ana")[-1] == "You're already subscribed, Ana."


async def test_opted_out_subscribers_get_no_reminder(make_bot, tmp_path) -> None:
    bot = await tour_bot(make_bot, tmp_path, plugins=("optout",))
    await bot.receive("command", "/subscribe", author="ana", network="telegram")
    await bot.receive("direct", "stop", author="ana", network="telegram")
    bot.take_sent()
    await bot.advance(6 * HOUR)
    assert bot.take_sent() == []


async def test_on_x_reminders_come_only_by_the_dm_the_person_started(make_bot, tmp_path) -> None:
    bot = await tour_bot(make_bot, tmp_path)
    await bot.receive("mention", "@inkwell /subscribe", author="ana", network="x", conversation="t1")
    assert bot.take_sent() == [("Thanks Ana! On X I can only send reminders by direct message: "
                               "send me /subscribe in a DM and I'll remind you there.")]
    await bot.receive("direct", "/subscribe qa-live", author="ana", network="x")  # X has no commands: typed text
    assert bot.take_sent()[0].startswith('You\'re subscribed to "Live Q&A with Maya", Ana: I\'ll remind you here')
    await bot.advance(6 * HOUR)
    assert take_where(bot) == [("x", "dm:ana", ('Hi Ana, a reminder: "Live Q&A with Maya" (Q&A with Maya) starts in 24 hours '
                                               "(Mon 2 Mar, 19:00 CET) on Discord. Send /unsubscribe to stop tour reminders."))]


async def test_subscribe_to_an_unknown_or_finished_stop(make_bot, tmp_path) -> None:
    bot = await tour_bot(make_bot, tmp_path)
    await bot.receive("command", "/subscribe qa-lvie", author="ana", network="telegram")
    assert bot.take_sent() == ["There's no tour stop called qa-lvie, Ana. /tour lists them."]
    await to_qa_start(bot)
    await bot.advance(2 * HOUR)
    await bot.receive("command", "/subscribe qa-live", author="ana", network="telegram")
    assert bot.take_sent()[-1] == "Live Q&A with Maya is already over, Ana. /tour shows what's next."


async def test_a_reminder_missed_while_down_is_sent_once_not_twice(make_bot, tmp_path) -> None:
    bot = await tour_bot(make_bot, tmp_path)
    await bot.receive("command", "/subscribe qa-live", author="ana", network="telegram")
    bot.take_sent()
    await bot.advance(29 * HOUR + 30 * 60)  # 17:30 on 2 March: both reminders are due at once
    assert bot.take_sent() == [('Hi Ana, a reminder: "Live Q&A with Maya" (Q&A with Maya) starts in 30 minutes '
                               "(Mon 2 Mar, 19:00 CET) on Discord. Send /unsubscribe to stop tour reminders.")]


async def test_jobs_do_their_work_once_when_two_scheduler_passes_overlap(make_bot, tmp_path) -> None:
    twin = TOUR + TOUR.split("stops:\n")[1].split("  - id: bookish")[0].replace("id: qa-live", "id: qa-twin")
    bot = await tour_bot(make_bot, tmp_path, twin)
    await bot.receive("command", "/subscribe", author="ana", network="telegram")
    bot.take_sent()
    bot.clock.advance(6 * HOUR)  # both stops' 24h reminders are due now
    await asyncio.gather(bot.bot.run_due_jobs(), bot.bot.run_due_jobs())
    await bot.settle()
    sent = bot.take_sent()
    assert len(sent) == 2 and sent[0] == sent[1].replace("qa-twin", "qa-live")  # one per stop, none twice


async def test_tour_lists_upcoming_stops_and_fits_x(make_bot, tmp_path) -> None:
    bot = await tour_bot(make_bot, tmp_path, limits={"x": RateLimits(max_text=280)})
    await bot.receive("command", "/tour", author="ana", network="telegram")
    assert bot.take_sent() == [
        ("Upcoming tour stops:\n"
        "- Mon 2 Mar, 19:00 CET: Live Q&A with Maya (Q&A with Maya) [qa-live] on Discord\n"
        "- Wed 4 Mar, 18:00 EST: Interview on Bookish Hours (interview with Bookish Hours) [bookish] https://bookish.example/maya\n"
        "Send /subscribe for reminders, or /subscribe <stop id> for one stop.")
    ]
    await bot.receive("mention", "@inkwell /tour", author="ana", network="x", conversation="t9")
    assert bot.take_sent() == [("Next tour stop: Mon 2 Mar, 19:00 CET: Live Q&A with Maya (Q&A with Maya) [qa-live] "
                               "on Discord. 1 more after it. /subscribe for reminders.")]


# --------------------------------------------------------------------------- the Q&A


async def test_qa_end_to_end_across_telegram_and_discord(make_bot, tmp_path) -> None:
    bot = await tour_bot(make_bot, tmp_path, settings={"ask_points": 5})
    await bot.receive("command", "/ask Is there a sequel?", author="ana", network="telegram")
    assert bot.take_sent() == ["There's no Q&A open right now, Ana. /tour shows when the next one is."]

    await to_qa_start(bot)
    assert take_where(bot) == [("discord", "qa-room", OPEN_POST)]
    await bot.receive("command", "/ask Will there be a sequel?", author="ana", network="telegram")
    await bot.receive("mention", "@inkwell How long did the book take to write?", author="ben",
                      network="discord", conversation="qa-room")
    await bot.receive("command", "/ask Is a sequel planned?", author="cy", network="discord", conversation="qa-room")
    assert bot.take_sent() == ["Thanks Ana, your question is in the queue.", "Thanks Ben, your question is in the queue.",
                               "Thanks Cy, your question is in the queue."]
    assert await ask_points(bot, "ana", "telegram") == 5
    assert await ask_points(bot, "ben", "discord") == 5

    await bot.receive("command", "/qa queue", **MOD)
    assert bot.take_sent() == [("Questions for qa-live (0 answered):\n"
                               "1. [pending] Ana (Telegram): Will there be a sequel?\n"
                               "2. [pending] Ben (Discord): How long did the book take to write?\n"
                               "3. [pending] Cy (Discord): Is a sequel planned?")]
    await bot.receive("command", "/qa approve 1 2 3", **MOD)
    await bot.receive("command", "/qa merge 1 3", **MOD)
    assert bot.take_sent() == ["Approved 1, 2 and 3.", "Merged question 3 into 1; credited: Ana (Telegram) and Cy (Discord)."]

    await bot.receive("command", "/qa next", **MOD)
    assert take_where(bot) == [
        ("discord", "qa-room", "Question from Ana (Telegram) and Cy (Discord): Will there be a sequel?"),
        ("telegram", "staff", "Question 1 posted on Discord."),
    ]
    await bot.receive("command", "/qa answer 1 Yes! I am writing it this winter.", **MOD)
    answer = "Maya answers Ana and Cy: Yes! I am writing it this winter."
    assert take_where(bot) == [
        ("discord", "qa-room", answer),
        ("telegram", "dm:ana", answer),  # Ana asked from Telegram: the answer reaches her there too
        ("telegram", "staff", "Answer to question 1 posted on Discord; also sent to Ana on Telegram."),
    ]

    await bot.receive("command", "/qa next", **MOD)
    assert sent_in(bot, "discord", "qa-room")[-1] == "Question from Ben (Discord): How long did the book take to write?"
    ben_asked = next(h.event for h in bot.handled if h.event.author.handle == "ben")
    assert bot.networks["discord"].sent[-1].in_reply_to == ben_asked.post_id  # threaded under Ben's own message
    await bot.receive("command", "/qa queue", **MOD)
    assert bot.take_sent()[-1] == ("Questions for qa-live (1 answered):\n"
                                   "2. [posted] Ben (Discord): How long did the book take to write?")


async def test_a_moderator_in_the_qa_room_gets_the_post_itself_as_the_answer(make_bot, tmp_path) -> None:
    bot = await tour_bot(make_bot, tmp_path)
    await to_qa_start(bot)
    await bot.receive("command", "/ask Where is the orchard?", author="ana", network="telegram")
    room = {"author": "mod", "network": "discord", "conversation": "qa-room"}
    await bot.receive("command", "/qa approve 1", **room)
    bot.take_sent()
    await bot.receive("command", "/qa next", **room)
    assert take_where(bot) == [("discord", "qa-room", "Question from Ana (Telegram): Where is the orchard?")]


async def test_points_per_stop_are_capped_and_each_person_may_queue_a_few(make_bot, tmp_path) -> None:
    bot = await tour_bot(make_bot, tmp_path, settings={"ask_points": 4, "points_questions_per_stop": 2,
                                                       "max_pending_per_person": 3})
    await to_qa_start(bot)
    for i in range(4):
        await bot.receive("command", f"/ask question number {i}", author="ana", network="telegram")
    assert bot.take_sent()[-1] == "You already have 3 questions waiting, Ana; let's get to those first!"
    assert await ask_points(bot, "ana", "telegram") == 8


async def test_mentions_are_questions_only_in_the_open_qas_conversation(make_bot, tmp_path) -> None:
    rules = [{"name": "chat", "kinds": ["mention", "reply"], "priority": 30, "reply": "rule answer"}]
    bot = await tour_bot(make_bot, tmp_path, rules=rules)
    await bot.receive("mention", "@inkwell is the Q&A on?", author="ana", network="discord", conversation="qa-room")
    assert bot.take_sent() == ["rule answer"]  # not open yet: the rules answer as usual
    await to_qa_start(bot)
    bot.take_sent()
    await bot.receive("mention", "@inkwell hello", author="ana", network="discord", conversation="general")
    await bot.receive("reply", "Is Maya coming to Oslo?", author="ben", network="discord", conversation="qa-room")
    await bot.receive("mention", "@inkwell", author="cy", network="discord", conversation="qa-room")  # nothing asked
    assert bot.take_sent() == ["rule answer", "Thanks Ben, your question is in the queue.", "rule answer"]


async def test_typed_commands_work_on_x_which_has_none(make_bot, tmp_path) -> None:
    bot = await tour_bot(make_bot, tmp_path)
    await to_qa_start(bot)
    bot.take_sent()
    await bot.receive("direct", "/ask What inspired the salt orchard?", author="ana", network="x")
    await bot.receive("mention", "@inkwell /qa queue", author="ana", network="x", conversation="t2")
    assert bot.take_sent() == ["Thanks Ana, your question is in the queue.", "Sorry, /qa is only for the team."]
    await bot.receive("direct", "/qa approve 1", author="mod", network="x")
    assert bot.take_sent() == ["Approved 1."]


async def test_bad_moderation_commands_get_clear_answers(make_bot, tmp_path) -> None:
    bot = await tour_bot(make_bot, tmp_path)
    await bot.receive("command", "/qa queue", **MOD)
    assert bot.take_sent() == ["No Q&A is open. /qa open <stop id> opens one."]
    await bot.receive("command", "/qa open nope", **MOD)
    assert bot.take_sent() == ["There is no stop 'nope'; /tour lists them."]
    await bot.receive("command", "/qa open qa-live", **MOD)  # early, by hand
    assert take_where(bot) == [
        ("discord", "qa-room", OPEN_POST),
        ("telegram", "staff", "Opened the Q&A of qa-live (Live Q&A with Maya) on Discord. Questions arrive in /qa queue."),
    ]
    await bot.receive("command", "/ask", author="ana", network="telegram")
    assert bot.take_sent() == ["Write your question after /ask, for example: /ask Where did the idea for the orchard come from?"]
    await bot.receive("command", "/ask One?", author="ana", network="telegram")
    await bot.receive("command", "/ask Two?", author="ben", network="telegram")
    bot.take_sent()
    for command, expected in [
        ("/qa approve 7", "There is no question 7 (questions so far: 1-2); /qa queue lists them."),
        ("/qa approve 1 7", "There is no question 7 (questions so far: 1-2); /qa queue lists them."),
        ("/qa approve one", "'one' is not a question number. /qa approve N."),
        ("/qa approve", "Which question? /qa approve N."),
        ("/qa merge 1", "Merge takes two numbers: /qa merge N M merges question M into question N."),
        ("/qa merge 1 1", "A question cannot be merged into itself."),
        ("/qa next", "No approved question is waiting (2 pending; /qa approve N)."),
        ("/qa answer 2", "Usage: /qa answer N <the host's answer>."),
        ("/qa open bookish", "The Q&A of qa-live is open; /qa close it first (one Q&A at a time)."),
        ("/qa open qa-live", "The Q&A of qa-live is already open."),
        ("/qa dance", ("/qa open <stop id> | /qa queue | /qa approve N [N...] | /qa reject N | /qa merge N M (M into N) | "
                      "/qa next | /qa answer N <answer> | /qa close")),
    ]:
        await bot.receive("command", command, **MOD)
        assert bot.take_sent() == [expected], command
    await bot.receive("command", "/qa queue", **MOD)  # "approve 1 7" changed nothing: all or nothing
    assert "1. [pending]" in bot.take_sent()[0]
    await bot.receive("command", "/qa merge 1 2", **MOD)
    await bot.receive("command", "/qa answer 2 Later!", **MOD)
    await bot.receive("command", "/qa approve 2", **MOD)
    await bot.receive("command", "/qa reject 1", **MOD)
    await bot.receive("command", "/qa reject 1", **MOD)
    assert bot.take_sent()[1:] == ["Question 2 was merged into question 1; answer that one.",
                                   "Question 2 was merged into question 1; approve that one.",
                                   "Rejected 1.",
                                   "Question 1 is rejected; only waiting questions can be rejected."]
    await bot.receive("command", "/qa queue", author="ana", network="telegram", conversation="staff")
    assert bot.take_sent() == ["Sorry, /qa is only for the team."]


async def test_a_question_too_long_for_x_is_refused_with_its_length(make_bot, tmp_path) -> None:
    bot = await tour_bot(make_bot, tmp_path, X_TOUR, limits={"x": RateLimits(max_text=280)})
    await to_qa_start(bot)
    bot.take_sent()
    # The post "Question from Ana (Telegram): <question>" must fit X's 280; the attribution takes 30.
    await bot.receive("command", "/ask " + "why " * 63, author="ana", network="telegram")
    assert bot.take_sent() == ["Your question is too long for X (251 characters; at most 250). Could you shorten it?"]
    await bot.receive("command", "/ask " + "果" * 130, author="ana", network="telegram")  # X counts CJK twice
    assert bot.take_sent() == ["Your question is too long for X (260 characters; at most 250). Could you shorten it?"]
    await bot.receive("command", "/ask " + "why " * 62 + "?", author="ana", network="telegram")
    assert bot.take_sent() == ["Thanks Ana, your question is in the queue."]


async def test_a_qa_on_x_posts_only_as_replies_to_people_who_asked_there(make_bot, tmp_path) -> None:
    bot = await tour_bot(make_bot, tmp_path, X_TOUR)
    await to_qa_start(bot)
    assert sent_in(bot, "x", "x-thread") == []  # the opening post: X refuses posts nobody summoned
    assert (await bot.bot.store.outbox_counts()).get("refused", 0) >= 1
    bot.take_sent()
    asked = await bot.receive("mention", "@inkwell Where is the orchard?", author="ana", network="x", conversation="x-thread")
    await bot.receive("command", "/ask Is there a sequel?", author="ben", network="telegram")
    await bot.receive("command", "/qa approve 1 2", **MOD)
    await bot.receive("command", "/qa next", **MOD)
    posted = bot.networks["x"].sent[-1]
    assert (posted.text, posted.conversation.id, posted.in_reply_to) == (
        "Question from Ana (X): Where is the orchard?", "x-thread", asked.event.post_id)
    await bot.receive("command", "/qa next", **MOD)
    assert bot.take_sent()[-1].startswith("Question 2 not posted (not_summoned: x allows automated replies only")
    await bot.receive("command", "/qa queue", **MOD)
    assert "2. [approved] Ben (Telegram)" in bot.take_sent()[-1]  # still waiting: nothing was lost


async def test_an_answer_too_long_for_the_stop_is_refused(make_bot, tmp_path) -> None:
    bot = await tour_bot(make_bot, tmp_path, X_TOUR, limits={"x": RateLimits(max_text=280)})
    await to_qa_start(bot)
    await bot.receive("mention", "@inkwell Why salt?", author="ana", network="x", conversation="x-thread")
    bot.take_sent()
    await bot.receive("command", "/qa answer 1 " + "Because " * 40, **MOD)
    assert bot.take_sent() == [("The answer is too long for X (319 characters; at most 262). "
                               "Shorten it and send /qa answer again.")]


# --------------------------------------------------------------------------- recap


async def test_the_recap_counts_questions_attendance_and_new_followers(make_bot, tmp_path) -> None:
    bot = await tour_bot(make_bot, tmp_path)
    await bot.receive("command", "/subscribe", author="ana", network="telegram")  # before: not new
    await bot.receive("message", "anyone here?", author="eve", network="discord", conversation="qa-room",
                      addressed=False)  # before the stop: not attendance
    await to_qa_start(bot)
    await bot.receive("mention", "@inkwell Why an orchard?", author="ben", network="discord", conversation="qa-room")
    await bot.receive("message", "so excited", author="dee", network="discord", conversation="qa-room", addressed=False)
    await bot.receive("message", "me too", author="dee", network="discord", conversation="qa-room", addressed=False)
    await bot.receive("command", "/ask Which apples?", author="ana", network="telegram")
    await bot.receive("direct", "hi, I found you through the tour", author="fay", network="telegram")
    await bot.receive("command", "/qa approve 1", author="mod", network="discord", conversation="qa-room")
    await bot.receive("command", "/qa answer 1 Salt-tolerant ones!", **MOD)
    bot.take_sent()
    await bot.advance(HOUR - 60)
    assert bot.take_sent() == []
    await bot.advance(60)  # 19:00 UTC: the end
    assert take_where(bot) == [("telegram", "staff", (
        "Recap: Live Q&A with Maya [qa-live], Q&A with Maya, Mon 2 Mar, 19:00 CET\n"
        "Questions: 2 asked by 2 people; 1 answered, 0 merged as duplicates, 1 left unanswered, 0 rejected\n"
        "Attendance: 3 people took part\n"  # Ben, Dee and Ana (who asked); not Eve, not the moderator
        "New followers: 3 first contacts during the stop\n"  # Ben, Dee, Fay
        "Subscribers to reminders: 1"))]
    await bot.receive("command", "/ask Too late?", author="ana", network="telegram")
    assert bot.take_sent() == ["There's no Q&A open right now, Ana. /tour shows when the next one is."]
    await bot.advance(24 * HOUR)
    assert [m for m in take_where(bot) if "qa-live" in m[2]] == []  # one recap only


async def test_closing_by_hand_sends_the_recap_once(make_bot, tmp_path) -> None:
    bot = await tour_bot(make_bot, tmp_path)
    await to_qa_start(bot)
    bot.take_sent()
    await bot.receive("command", "/qa close", **MOD)
    sent = bot.take_sent()
    assert sent[0].startswith("Recap: Live Q&A with Maya [qa-live]") and "Questions: none" in sent[0]
    assert sent[1] == "Closed the Q&A of qa-live; the recap went to the staff channel."
    await bot.advance(2 * HOUR)
    assert bot.take_sent() == []


async def test_qa_close_as_a_milestone_is_executed_not_replaced_by_the_thanks(make_bot, tmp_path) -> None:
    bot = await tour_bot(make_bot, tmp_path, plugins=("loyalty",))
    await to_qa_start(bot)
    for _ in range(9):
        await bot.receive("command", "/qa queue", **MOD)
    bot.take_sent()
    await bot.receive("command", "/qa close", **MOD)  # the moderator's 10th interaction: a milestone
    assert (await bot.follower("mod", "telegram")).interactions == 10
    sent = bot.take_sent()
    assert sent[0].startswith("Recap: Live Q&A with Maya [qa-live]")
    assert sent[1:] == ["Closed the Q&A of qa-live; the recap went to the staff channel."]
    await bot.receive("command", "/qa queue", **MOD)
    assert bot.take_sent() == ["No Q&A is open. /qa open <stop id> opens one."]


async def test_a_rehearsal_before_the_start_does_not_stop_the_real_opening(make_bot, tmp_path) -> None:
    bot = await tour_bot(make_bot, tmp_path)
    await bot.receive("command", "/qa open qa-live", **MOD)
    await bot.receive("command", "/qa close", **MOD)
    bot.take_sent()
    await to_qa_start(bot)
    assert take_where(bot) == [("discord", "qa-room", OPEN_POST)]
    await bot.receive("command", "/ask Is this live?", author="ana", network="telegram")
    assert bot.take_sent() == ["Thanks Ana, your question is in the queue."]


# --------------------------------------------------------------------------- admins' /tour


async def test_admins_add_and_remove_stops_in_the_chat(make_bot, tmp_path) -> None:
    bot = await tour_bot(make_bot, tmp_path)
    add = ('/tour add id=signing kind=giveaway start="2026-03-03 20:00" timezone=Europe/Paris network=telegram '
           'conversation=fans host="Inkwell Press" title=\u201cSigned copies\u201d duration=30m')
    await bot.receive("command", add, author="ana", network="telegram")
    assert bot.take_sent() == ["Sorry, /tour add is only for the team."]
    await bot.receive("command", add, **MOD)
    assert bot.take_sent() == [("Added signing: Signed copies, Tue 3 Mar, 20:00 CET on Telegram (fans). "
                               "Reminders and the recap are scheduled.")]
    await bot.receive("command", add, **MOD)
    assert bot.take_sent() == ["There is already a stop signing; pick another id (or /tour remove signing first)."]
    await bot.receive("command", "/subscribe signing", author="ana", network="telegram")
    bot.take_sent()
    await bot.advance(31 * HOUR)  # 19:00 UTC on 2 March = 24h before 20:00 in Paris
    assert [t for n, c, t in take_where(bot) if c == "dm:ana"] == [
        ('Hi Ana, a reminder: "Signed copies" (giveaway with Inkwell Press) starts in 24 hours (Tue 3 Mar, 20:00 CET) on Telegram. '
        "Send /unsubscribe to stop tour reminders.")]
    await bot.receive("command", "/tour remove signing", **MOD)
    assert bot.take_sent() == ["Removed signing (Signed copies)."]
    await bot.advance(23 * HOUR)
    assert [t for n, c, t in take_where(bot) if c == "dm:ana"] == []  # its jobs found no stop
    await bot.receive("command", "/tour remove bookish", **MOD)
    assert bot.take_sent()[0].startswith("bookish comes from the tour file (")


@pytest.mark.parametrize(("words", "problem"), [
    ("id=x kind=qa", ("title is missing; start is missing; timezone is missing; network is missing; "
                     "conversation is missing; host is missing.")),
    ('id=x kind=talk title=T start="2026-03-03 20:00" timezone=Europe/Paris network=telegram conversation=c host=H',
     "kind: Input should be 'interview', 'qa', 'review' or 'giveaway'."),
    ('id=x kind=qa title=T start="2026-03-03 20:00" timezone=Europe/Pariss network=telegram conversation=c host=H',
     "timezone: unknown time zone 'Europe/Pariss'; did you mean 'Europe/Paris'?."),
    ('id=x kind=qa title=T start="2026-03-33 20:00" timezone=Europe/Paris network=telegram conversation=c host=H',
     "start: expected a local date and time like '2026-03-03 18:00', got '2026-03-33 20:00'."),
    ("id=x title=\"unclosed", "a quote is not closed."),
    ("hello", "'hello' is not key=value."),
    ('id=x kind=qa title=T start="2026-02-01 20:00" timezone=Europe/Paris network=telegram conversation=c host=H',
     "That stop would already be over (Sun 1 Feb, 20:00 CET); check the date and time zone."),
])
async def test_a_bad_tour_add_says_what_to_fix(make_bot, tmp_path, words: str, problem: str) -> None:
    bot = await tour_bot(make_bot, tmp_path)
    await bot.receive("command", f"/tour add {words}", **MOD)
    answer = bot.take_sent()[0]
    assert problem in answer, answer


# --------------------------------------------------------------------------- the tour file


def stop_yaml(**changes: str) -> str:
    fields = {"id": "qa-live", "title": "Live Q&A", "host": "Maya", "kind": "qa", "start": "2026-03-02 19:00",
              "timezone": "Europe/Stockholm", "network": "discord", "conversation": "qa-room"}
    fields.update(changes)
    lines = [f"  - id: {fields.pop('id')}"] + [f"    {k}: {v}" for k, v in fields.items() if v != "-"]
    return "\n".join(lines) + "\n"


async def broken(make_bot: Any, folder: Path, tour: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        await tour_bot(make_bot, folder, tour)
    return caught.value


@pytest.mark.parametrize(("change", "needle", "message"), [
    ({"timezone": "Europe/Stokholm"}, "timezone:", "unknown time zone 'Europe/Stokholm'; did you mean 'Europe/Stockholm'?"),
    ({"start": "2026-02-30 19:00"}, "start:", "expected a local date and time like '2026-03-03 18:00', got '2026-02-30 19:00'"),
    ({"start": "2026-03-02"}, "start:", "start needs a time as well as the date, e.g. '2026-03-02 18:00'"),
    ({"start": "2026-03-29 02:30"}, "  - id:", "2026-03-29 02:30 does not exist in Europe/Stockholm (the clocks jump forward then)"),
    ({"kind": "podcast"}, "kind:", "Input should be 'interview', 'qa', 'review' or 'giveaway'"),
    ({"id": "Live Q&A"}, "id:", "a stop id is 1-40 lower-case letters, digits, '-' or '_' (got 'Live Q&A'; try 'live-q-a')"),
    ({"duration": "forever"}, "duration:", "expected a duration like 30s, 10m, 2h or 1d"),
    ({"host": "-"}, "  - id:", "host"),
])
async def test_a_broken_stop_is_reported_at_its_file_and_line(make_bot, tmp_path, change, needle, message) -> None:
    tour = "stops:\n" + stop_yaml(id="bookish", conversation="g", network="telegram") + stop_yaml(**change)
    error = await broken(make_bot, tmp_path, tour)
    assert error.where == f"{tmp_path / 'tour.yaml'}:{line_of(tour, needle, -1)}"  # in the second stop
    assert message in str(error)


async def test_every_broken_entry_is_listed_with_its_line_and_duplicate_ids_name_the_first(make_bot, tmp_path) -> None:
    tour = ("stops:\n" + stop_yaml() + stop_yaml(strat="2026-03-02 19:00", start="-") + stop_yaml()
            + "  - just a string\n")
    error = await broken(make_bot, tmp_path, tour)
    path = tmp_path / "tour.yaml"
    text = str(error)
    assert error.where == f"{path}:{line_of(tour, 'id: qa-live', 2)}"  # the second stop misses 'start'
    assert f"{path}:{line_of(tour, 'strat:')}: unknown key 'strat'" in text and "did you mean 'start'" in text
    assert f"{path}:{line_of(tour, 'id: qa-live', 3)}: duplicate stop id 'qa-live' (first used at line 2)" in text
    assert f"{path}:{line_of(tour, 'just a string')}: stops[3] must be a mapping" in text


async def test_a_stop_on_a_network_that_is_not_enabled_is_a_warning(make_bot, tmp_path, caplog) -> None:
    tour = "stops:\n" + stop_yaml(network="mastodon")
    with caplog.at_level(logging.WARNING, logger="brandbot.plugin.events"):
        bot = await tour_bot(make_bot, tmp_path, tour)
    assert any(f"tour.yaml:{line_of(tour, 'network:')}: stop 'qa-live' is on network 'mastodon', which is not enabled"
               in r.getMessage() for r in caplog.records)
    await bot.receive("command", "/tour", author="ana", network="telegram")
    assert "Live Q&A" in bot.take_sent()[0]


async def test_a_missing_tour_file_points_at_the_setting(make_bot, tmp_path) -> None:
    path = write_config(tmp_path, {"plugin_dirs": [BUNDLED], "plugins": {"events": {"tour_file": "nope.yaml"}}}, None)
    with pytest.raises(ConfigError) as caught:
        await make_bot(config=path, plugins=["events"], networks=NETS, start=START)
    assert caught.value.where == f"{path}:{line_of(path.read_text(), 'tour_file')}"
    assert "file not found" in str(caught.value)


async def test_a_misspelt_template_variable_is_caught_before_start(make_bot, tmp_path) -> None:
    with pytest.raises(TemplateError) as caught:
        await tour_bot(make_bot, tmp_path, settings={"reminder": "Hi {{ nmae }}, {{ stop.title }} soon"})
    config = (tmp_path / "brandbot.yaml").read_text()
    assert caught.value.where == f"{tmp_path / 'brandbot.yaml'}:{line_of(config, 'reminder:')}"
    assert "'nmae'" in str(caught.value) and "did you mean 'name'" in str(caught.value)
    with pytest.raises(TemplateError, match="answer_post must show the answer"):
        await tour_bot(make_bot, tmp_path / "again", settings={"answer_post": "{{ host }} answered"})


def test_the_example_tour_file_is_valid() -> None:
    from brandbot.core.config import load_config
    from brandbot.runtime.loader import discover

    stops = yaml.safe_load((ROOT / "config" / "tour.yaml").read_text())["stops"]
    assert len(stops) >= 4 and {s["kind"] for s in stops} == {"interview", "qa", "review", "giveaway"}
    assert len({s["timezone"] for s in stops}) >= 3 and len({s["network"] for s in stops}) >= 3
    bot_config = load_config(ROOT / "config" / "brandbot.yaml")
    events = discover(bot_config.plugin_dirs)["events"][0]()
    settings = events.config.model_validate({"tour_file": "tour.yaml"})
    for check in events.checks:  # raises ConfigError with file:line if the example broke
        check(settings, bot_config)


# --------------------------------------------------------------------------- restarts and privacy


async def test_loading_the_tour_again_does_not_duplicate_jobs(make_bot, tmp_path) -> None:
    bot = await tour_bot(make_bot, tmp_path)
    before = sorted(j.name for j in await bot.bot.store.all_jobs())
    assert "events:remind:qa-live:86400" in before and "events:close:bookish" in before
    loaded = next(lp for lp in bot.bot.plugins if lp.plugin.name == "events")
    for start in loaded.plugin.startup:  # what the next start does
        await start(JobContext(services=bot.bot.services, plugin_name="events", config=loaded.settings))
    assert sorted(j.name for j in await bot.bot.store.all_jobs()) == before


async def test_forgetting_a_person_erases_their_subscription_and_questions(make_bot, tmp_path) -> None:
    bot = await tour_bot(make_bot, tmp_path)
    await bot.receive("command", "/subscribe", author="zed", name="Zed Quux", network="telegram")
    await to_qa_start(bot)
    await bot.receive("command", "/ask Zed Quux wants to know: why salt?", author="zed", name="Zed Quux", network="telegram")
    zed = await bot.follower("zed", "telegram")
    keys = [k for k, _ in await bot.bot.store.kv_items("plugin:events")]
    assert any(f":f{zed.id}:" in k for k in keys)
    assert await bot.bot.store.forget_follower(zed.id, bot.clock.now())
    for key, value in await bot.bot.store.kv_items("plugin:events"):
        assert f":f{zed.id}:" not in key and "Zed" not in value, key
