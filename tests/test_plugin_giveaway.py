"""The giveaway plugin, driven through the harness across networks, as admins and followers use it."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_people import link_accounts

from brandbot.core.draw import draw, verify_export
from brandbot.core.errors import ConfigError

NETS = ("telegram", "discord", "x")
OPEN = '/giveaway open prize="Signed copy" enter=#saltorchard closes=2h winners=2'
ENTRY_ID = re.compile(r"entry id is (e-[0-9a-f]{12})")


def settings(bundled: dict, **giveaway: object) -> dict:
    return {
        **bundled,
        "admins": {"telegram": ["boss"], "discord": ["boss_dc"], "x": ["boss_x"]},
        "staff": {"network": "telegram", "conversation": "staff-room"},
        "plugins": {"giveaway": dict(giveaway)},
    }


async def make(make_bot, bundled, networks=NETS, store_path=None, start=None, **giveaway):
    return await make_bot(
        networks=networks,
        plugins=["link", "optout", "giveaway"],
        config=settings(bundled, **giveaway),
        store_path=store_path,
        start=start,
    )


def staff_notices(bot) -> list[str]:
    return [r.text for r in bot.networks["telegram"].sent if r.conversation.id == "staff-room"]


def export_path(bot, giveaway: int = 1) -> Path:
    """Where the record of a draw goes: the state folder next to the database (writable)."""
    return bot.bot.services.files.state_dir / "giveaways" / f"giveaway-{giveaway}.json"


def export_of(bot, giveaway: int = 1) -> dict:
    return json.loads(export_path(bot, giveaway).read_text(encoding="utf-8"))


async def as_admin(bot, text: str, conversation: str = "chan") -> None:
    await bot.receive("command", text, author="boss", network="telegram", conversation=conversation)


async def enter_hashtag(
    bot,
    author: str,
    network: str,
    *,
    kind: str = "mention",
    conversation: str = "chan",
    text: str = "I'd love it #SaltOrchard",
) -> str:
    """Enter and return the entry id the bot told the person."""
    await bot.receive(kind, text, author=author, network=network, conversation=conversation)
    said = bot.take_sent()
    found = [m.group(1) for s in said for m in [ENTRY_ID.search(s)] if m]
    assert found, said
    return found[0]


# --------------------------------------------------------------------------- the whole story


async def test_open_enter_from_several_networks_close_on_time_and_verify(make_bot, bundled) -> None:
    bot = await make(make_bot, bundled)
    await bot.receive("command", OPEN, author="boss", network="telegram", conversation="chan")
    opened = bot.take_sent()
    announcement = next(s for s in opened if s.startswith("🎁 Giveaway #1: Signed copy!"))
    assert "To enter, post #saltorchard." in announcement and "2 winners" in announcement
    commitment = re.search(r"secret seed is ([0-9a-f]{64})", announcement).group(1)
    in_chan = [r.text for r in bot.networks["telegram"].sent if r.conversation.id == "chan"]
    assert in_chan == [announcement]
    assert any(s.startswith("Giveaway #1 opened") and commitment in s for s in staff_notices(bot))

    ids = {
        "Ana": await enter_hashtag(bot, "ana", "telegram"),
        "Bob": await enter_hashtag(
            bot,
            "bob",
            "discord",
            kind="message",
            conversation="general",
            text="#saltorchard please",
        ),
        "Cy": await enter_hashtag(
            bot, "cy", "x", conversation="timeline", text="@brand #saltorchard"
        ),
        "Dan": await enter_hashtag(
            bot, "dan", "telegram", kind="direct", conversation="dm:dan", text="#saltorchard"
        ),
    }
    # One person linked across two networks enters from both: counted once, told once.
    await link_accounts(bot, "telegram", "eve_tg", "discord", "eve_dc")
    bot.take_sent()
    ids["Eve_tg"] = await enter_hashtag(bot, "eve_tg", "telegram")
    await bot.receive(
        "mention", "#saltorchard again", author="eve_dc", network="discord", conversation="general"
    )
    assert bot.take_sent() == [
        "You're already in the Signed copy giveaway, Eve_dc: one entry per person."
    ]
    await bot.receive(
        "mention", "#saltorchard!!", author="eve_dc", network="discord", conversation="general"
    )
    assert bot.take_sent() == []  # said once; repeats get no answer
    await bot.receive(
        "mention", "no hashtag here", author="fay", network="telegram", conversation="chan"
    )
    assert not any("giveaway" in s for s in bot.take_sent())

    seed_free = " ".join(bot.sent)
    await bot.advance(2 * 3600 - 5)
    assert not any("closed" in s for s in bot.take_sent())
    await bot.advance(10)
    results = next(s for s in bot.sent_to("telegram") if s.startswith("🎉 Giveaway #1"))
    assert "5 entries" in results
    seed = re.search(r"seed ([0-9a-f]{64})", results).group(1)
    assert hashlib.sha256(seed.encode()).hexdigest() == commitment
    assert seed not in seed_free  # secret until the draw

    data = export_of(bot)
    assert verify_export(data).ok
    assert sorted(data["entries"]) == sorted(ids.values())
    assert data["winners"] == draw(seed, data["entries"], 2)
    winners = [name for name, e in ids.items() if e in data["winners"]]
    for name in winners:
        assert name.split("_")[0] in results
    assert any(s.startswith("Giveaway #1 (Signed copy) closed") for s in staff_notices(bot))
    for name in winners:
        handle, network = {
            "Ana": ("ana", "telegram"),
            "Bob": ("bob", "discord"),
            "Cy": ("cy", "x"),
            "Dan": ("dan", "telegram"),
            "Eve_tg": ("eve_tg", "telegram"),
        }[name]
        assert "giveaway-winner" in (await bot.follower(handle, network)).tags

    removed = copy.deepcopy(data)
    removed["entries"].remove(data["winners"][0])
    assert not verify_export(removed).ok
    changed = copy.deepcopy(data)
    changed["winners"][1] = next(e for e in data["entries"] if e not in data["winners"])
    assert not verify_export(changed).ok


async def test_a_winner_who_entered_elsewhere_is_told_there_publicly(make_bot, bundled) -> None:
    bot = await make(make_bot, bundled)
    await bot.receive(
        "command",
        OPEN.replace("winners=2", "winners=1"),
        author="boss",
        network="telegram",
        conversation="chan",
    )
    await enter_hashtag(
        bot, "bob", "discord", kind="message", conversation="general", text="#saltorchard"
    )
    await bot.advance(2 * 3600)
    assert any(s.startswith("🎉 Giveaway #1") and "Bob" in s for s in bot.sent_to("telegram"))
    note = bot.networks["discord"].sent[-1]
    assert note.conversation.id == "general"
    assert (
        note.text
        == "Congratulations Bob, you won Signed copy in giveaway #1! Send me a private message with /claim 1 to claim it."
    )


async def test_entries_before_linking_count_once_at_the_draw(make_bot, bundled) -> None:
    bot = await make(make_bot, bundled)
    await bot.receive(
        "command",
        OPEN.replace("winners=2", "winners=5"),
        author="boss",
        network="telegram",
        conversation="chan",
    )
    first = await enter_hashtag(bot, "eve_tg", "telegram")
    await enter_hashtag(bot, "eve_dc", "discord", conversation="general")
    other = await enter_hashtag(bot, "ana", "telegram")
    await link_accounts(bot, "telegram", "eve_tg", "discord", "eve_dc")
    await bot.receive(
        "command", "/giveaway close", author="boss", network="telegram", conversation="chan"
    )
    data = export_of(bot)
    assert sorted(data["entries"]) == sorted([first, other])  # the earliest entry stands for Eve
    assert verify_export(data).ok


# --------------------------------------------------------------------------- eligibility


async def test_opted_out_people_are_never_entered_and_dropped_at_the_draw(
    make_bot, bundled
) -> None:
    bot = await make(make_bot, bundled)
    await bot.receive("command", OPEN, author="boss", network="telegram", conversation="chan")
    await bot.receive("direct", "stop", author="gus", network="telegram")
    bot.take_sent()
    await bot.receive(
        "mention", "#saltorchard", author="gus", network="telegram", conversation="chan"
    )
    assert bot.take_sent() == []
    kept = await enter_hashtag(bot, "ana", "telegram")
    dropped = await enter_hashtag(bot, "hal", "discord", conversation="general")
    await bot.receive(
        "direct", "stop", author="hal", network="discord"
    )  # changes their mind before the draw
    await bot.receive(
        "command", "/giveaway close 1", author="boss", network="telegram", conversation="chan"
    )
    data = export_of(bot)
    assert data["entries"] == [kept] and dropped not in data["winners"]
    assert any("1 left out" in s for s in staff_notices(bot))


async def test_previous_winners_sit_out_unless_allowed(make_bot, bundled) -> None:
    bot = await make(make_bot, bundled)
    await bot.receive(
        "command",
        "/giveaway open prize=Mug enter=#mug winners=1",
        author="boss",
        network="telegram",
        conversation="chan",
    )
    await bot.receive(
        "command",
        "/giveaway open prize=Book enter=#book winners=1",
        author="boss",
        network="telegram",
        conversation="chan",
    )
    await enter_hashtag(bot, "ana", "telegram", text="#mug")
    await enter_hashtag(bot, "ana", "telegram", text="#book")  # in #2 before winning #1
    bob = await enter_hashtag(bot, "bob", "telegram", text="#book")
    await bot.receive(
        "command", "/giveaway close 1", author="boss", network="telegram", conversation="chan"
    )
    assert "Ana" in bot.take_sent()[0]
    await bot.receive(
        "command", "/giveaway close 2", author="boss", network="telegram", conversation="chan"
    )
    assert export_of(bot, 2)["entries"] == [bob]  # Ana won #1 meanwhile

    await bot.receive(
        "command",
        "/giveaway open prize=Pen enter=#pen",
        author="boss",
        network="telegram",
        conversation="chan",
    )
    bot.take_sent()
    await bot.receive("mention", "#pen", author="ana", network="telegram", conversation="chan")
    assert bot.take_sent() == [
        (
            "Sorry Ana, you can't enter the Pen giveaway: previous winners sit this one out, "
            "to give others a chance."
        )
    ]
    await bot.receive(
        "command",
        "/giveaway open prize=Cap enter=#cap previous_winners=allow",
        author="boss",
        network="telegram",
        conversation="chan",
    )
    bot.take_sent()
    await enter_hashtag(bot, "ana", "telegram", text="#cap")


async def test_staff_new_and_quiet_people_are_told_why_they_cannot_enter(make_bot, bundled) -> None:
    bot = await make(make_bot, bundled, exclude_tags=["staff", "banned"])
    await bot.receive(
        "command",
        "/giveaway open prize=Mug enter=/enter min_days=3 min_interactions=2",
        author="boss",
        network="telegram",
        conversation="chan",
    )
    bot.take_sent()
    await bot.receive("command", "/enter", author="boss", network="telegram", conversation="chan")
    assert bot.take_sent() == [
        "Sorry Boss, you can't enter the Mug giveaway: the team can't enter its own giveaways."
    ]
    await bot.receive(
        "command", "/enter", author="newbie", network="discord", conversation="general"
    )
    assert bot.take_sent() == [
        (
            "Sorry Newbie, you can't enter the Mug giveaway: it is for people who have known "
            "us for at least 3 days."
        )
    ]
    await bot.advance(3 * 86400)
    await bot.receive(
        "command", "/enter", author="newbie", network="discord", conversation="general"
    )
    assert "talked with us at least 2 times before" in bot.take_sent()[0]
    await bot.receive(
        "command", "/enter", author="newbie", network="discord", conversation="general"
    )
    assert "entry id is e-" in bot.take_sent()[0]
    rules_tagged = await bot.follower("newbie", "discord")
    await bot.bot.people.tag(rules_tagged.id, add=["banned"])
    await bot.receive(
        "command", "/giveaway close", author="boss", network="telegram", conversation="chan"
    )
    assert export_of(bot)["entries"] == []  # tagged out before the draw
    assert "closed with no eligible entries" in bot.take_sent()[0]


# --------------------------------------------------------------------------- entry methods


async def test_reactions_on_the_given_post_enter_silently(make_bot, bundled) -> None:
    rules = [
        {
            "name": "thanks",
            "kinds": ["reaction"],
            "networks": ["telegram", "discord"],
            "reply": "Thanks for the love!",
        }
    ]
    bot = await make_bot(networks=NETS, plugins=["giveaway"], rules=rules, config=settings(bundled))
    await bot.receive(
        "command",
        "/giveaway open prize=Tote bag post=p-launch winners=3 closes=1d",
        author="boss",
        network="telegram",
        conversation="chan",
    )
    assert "To enter, react to post p-launch." in bot.take_sent()[0]
    await bot.receive(
        "reaction", author="ana", network="discord", conversation="general", refers_to="p-launch"
    )
    await bot.receive(
        "reaction", author="bob", network="telegram", conversation="chan", refers_to="p-launch"
    )
    await bot.receive(
        "reaction", author="cy", network="telegram", conversation="chan", refers_to="p-other"
    )
    assert (
        bot.take_sent() == ["Thanks for the love!"] * 3
    )  # entering stays quiet, other rules still answer
    await bot.advance(86400)
    data = export_of(bot)
    assert len(data["entries"]) == 2 and verify_export(data).ok


async def test_enter_command_chooses_between_open_giveaways(make_bot, bundled) -> None:
    bot = await make(make_bot, bundled, entry_points=5)
    await bot.receive("command", "/enter", author="ana", network="discord", conversation="general")
    assert bot.take_sent() == ["There's no giveaway to /enter right now, Ana."]
    await bot.receive(
        "command",
        "/giveaway open prize=Mug enter=/enter",
        author="boss",
        network="telegram",
        conversation="chan",
    )
    bot.take_sent()
    points = (await bot.follower("ana", "discord")).points
    await bot.receive("command", "/enter", author="ana", network="discord", conversation="general")
    assert bot.take_sent()[0].startswith("You're in the Mug giveaway, Ana! Your entry id is e-")
    assert (await bot.follower("ana", "discord")).points >= points + 5
    await bot.receive(
        "command",
        "/giveaway open prize=Book enter=command",
        author="boss",
        network="telegram",
        conversation="chan",
    )
    bot.take_sent()
    await bot.receive("command", "/enter", author="bob", network="discord", conversation="general")
    assert bot.take_sent() == ["Several giveaways are open, Bob: /enter 1; /enter 2."]
    await bot.receive(
        "command", "/enter 2", author="bob", network="discord", conversation="general"
    )
    assert "Book giveaway" in bot.take_sent()[0]
    await bot.receive(
        "command", "/enter 9", author="bob", network="discord", conversation="general"
    )
    assert bot.take_sent() == ["There's no giveaway #9, Bob."]


async def test_phrase_entries_match_words_not_fragments(make_bot, bundled) -> None:
    bot = await make(make_bot, bundled)
    await bot.receive(
        "command",
        '/giveaway open prize=Mug phrase="Count me in" networks=discord',
        author="boss",
        network="telegram",
        conversation="chan",
    )
    assert 'To enter, write "count me in" on discord.' in bot.take_sent()[0]
    await bot.receive(
        "mention", "Please COUNT me in!", author="ana", network="discord", conversation="general"
    )
    assert "entry id is" in bot.take_sent()[0]
    await bot.receive(
        "mention", "count me inside", author="bob", network="discord", conversation="general"
    )
    await bot.receive(
        "mention", "count me in", author="cy", network="telegram", conversation="chan"
    )
    assert not any("entry id" in s for s in bot.take_sent())


async def test_a_message_that_enters_is_the_giveaways_even_when_nothing_is_said(
    make_bot, bundled
) -> None:
    """A responder has handled an event only if it replied or stopped: the giveaway stops on
    every message that enters (or comes late), so a catch-all rule does not answer it too."""
    fallback = [{"name": "fallback", "kinds": ["mention"], "reply": "Thanks for writing!"}]
    bot = await make_bot(
        networks=NETS,
        plugins=["giveaway"],
        rules=fallback,
        config=settings(bundled, confirm_entries=False),
    )
    await as_admin(bot, OPEN)
    bot.take_sent()
    for text in ("#saltorchard", "#saltorchard again", "#saltorchard!!"):
        await bot.receive("mention", text, author="ana", network="telegram", conversation="chan")
        assert bot.take_sent() == []  # entered silently (confirm_entries: false), then repeats
    await bot.receive("mention", "hello", author="ana", network="telegram", conversation="chan")
    assert bot.take_sent() == ["Thanks for writing!"]  # not an entry: the rule's turn
    await as_admin(bot, "/giveaway close")
    assert len(export_of(bot)["entries"]) == 1
    bot.take_sent()
    await bot.receive(
        "mention", "#saltorchard", author="bob", network="telegram", conversation="chan"
    )
    assert bot.take_sent() == []  # late, and confirm_entries is off: still the giveaway's


# --------------------------------------------------------------------------- closing, late entries, claims


async def test_closing_twice_and_entering_after_closing(make_bot, bundled) -> None:
    bot = await make(make_bot, bundled)
    await bot.receive("command", OPEN, author="boss", network="telegram", conversation="chan")
    await enter_hashtag(bot, "ana", "telegram")
    await bot.receive(
        "command", "/giveaway close 1", author="boss", network="telegram", conversation="chan"
    )
    assert bot.take_sent()[0].startswith("🎉 Giveaway #1 (Signed copy) is closed: 1 entry.")
    await bot.receive(
        "command", "/giveaway close 1", author="boss", network="telegram", conversation="chan"
    )
    assert bot.take_sent()[0].startswith(
        "Giveaway #1 is already closed (since 2026-01-01 12:00 UTC)"
    )
    assert await bot.bot.store.all_jobs() == [
        j for j in await bot.bot.store.all_jobs() if "close" not in j.name
    ]
    await bot.advance(2 * 3600)  # the cancelled closing job does not run again
    assert not any(s.startswith("🎉") for s in bot.take_sent())
    await bot.receive(
        "mention", "#saltorchard", author="bob", network="discord", conversation="general"
    )
    assert bot.take_sent() == ["Sorry Bob, the Signed copy giveaway has closed."]
    await bot.receive(
        "mention", "#saltorchard", author="bob", network="discord", conversation="general"
    )
    assert bot.take_sent() == []  # said once
    assert any(r.startswith("already_answered") for r in bot.refusals())


async def test_claims_and_redraws(make_bot, bundled) -> None:
    bot = await make(make_bot, bundled)
    await bot.receive(
        "command",
        OPEN.replace("winners=2", "winners=1"),
        author="boss",
        network="telegram",
        conversation="chan",
    )
    people = {h: await enter_hashtag(bot, h, "telegram") for h in ("ana", "bob", "cy", "dan")}
    await bot.receive(
        "command", "/giveaway close", author="boss", network="telegram", conversation="chan"
    )
    bot.take_sent()
    data = export_of(bot)
    first = next(h for h, e in people.items() if e == data["winners"][0])
    second = next(h for h, e in people.items() if e == draw(data["seed"], data["entries"], 2)[1])
    loser = next(h for h in people if h not in (first, second))

    await bot.receive("command", "/claim 1", author=first, network="telegram", conversation="chan")
    assert bot.take_sent() == [
        (
            f"To claim, {first.capitalize()}, send me /claim 1 in a private message, "
            "so we can arrange delivery privately."
        )
    ]
    await bot.receive("command", "/claim", author=loser, network="telegram")
    assert bot.take_sent() == [
        f"You have no prize waiting, {loser.capitalize()}. Winners are announced when a giveaway closes."
    ]

    await bot.advance(7 * 86400 + 1)  # the claim period ends: staff get the redraw command
    reminder = staff_notices(bot)[-1]
    assert f"/giveaway redraw 1 {people[first]}" in reminder

    await bot.receive(
        "command",
        f"/giveaway redraw 1 {first}",
        author="boss",
        network="telegram",
        conversation="staff-room",
    )
    said = bot.take_sent()
    assert any(
        s.startswith("🎁 Giveaway #1 (Signed copy): a prize was not claimed")
        and second.capitalize() in s
        for s in said
    )
    assert any(
        s.startswith(
            f"Redrew giveaway #1: {people[first]} forfeited; draw number 2 is {second.capitalize()}"
        )
        for s in said
    )
    data = export_of(bot)
    assert data["winners"] == draw(data["seed"], data["entries"], 2) and data["forfeited"] == [
        people[first]
    ]
    assert verify_export(data).ok

    await bot.receive("command", "/claim", author=first, network="telegram")
    assert "went to someone else" in bot.take_sent()[0]
    await bot.receive("command", "/claim 1", author=second, network="telegram")
    assert bot.take_sent()[0].startswith(
        f"Confirmed, {second.capitalize()}: you've claimed Signed copy (giveaway #1)."
    )
    assert staff_notices(bot)[-1].startswith(
        f"Giveaway #1 (Signed copy): {second.capitalize()} claimed the prize"
    )
    await bot.receive("command", "/claim 1", author=second, network="telegram")
    assert "already claimed" in bot.take_sent()[0]
    await bot.receive(
        "command",
        f"/giveaway redraw 1 {people[second]}",
        author="boss",
        network="telegram",
        conversation="staff-room",
    )
    assert bot.take_sent() == [
        f"{people[second]} already claimed the prize; there is nothing to redraw."
    ]
    await bot.receive(
        "command",
        "/giveaway redraw 1 nobody",
        author="boss",
        network="telegram",
        conversation="staff-room",
    )
    assert bot.take_sent()[0].startswith("nobody is not a winner of giveaway #1.")


async def test_a_winner_can_claim_from_a_linked_account(make_bot, bundled) -> None:
    bot = await make(make_bot, bundled)
    await bot.receive(
        "command",
        OPEN.replace("winners=2", "winners=1"),
        author="boss",
        network="telegram",
        conversation="chan",
    )
    await enter_hashtag(bot, "eve_tg", "telegram")
    await link_accounts(bot, "telegram", "eve_tg", "discord", "eve_dc")
    await bot.receive(
        "command", "/giveaway close", author="boss", network="telegram", conversation="chan"
    )
    bot.take_sent()
    await bot.receive("command", "/claim", author="eve_dc", network="discord")
    assert bot.take_sent()[0].startswith("Confirmed, Eve_dc: you've claimed Signed copy")


# --------------------------------------------------------------------------- admin commands and bad input


async def test_bad_admin_input_gets_precise_answers(make_bot, bundled) -> None:
    bot = await make(make_bot, bundled)

    async def ask(text: str, author: str = "boss", conversation: str | None = "chan") -> str:
        await bot.receive(
            "command", text, author=author, network="telegram", conversation=conversation
        )
        said = [
            s for s in bot.take_sent() if not s.startswith("Giveaway #1 opened")
        ]  # staff notice
        assert len(said) == 1, said
        return said[0]

    assert await ask(OPEN, author="mallory") == "Sorry, /giveaway is only for the team."
    assert "say what the prize is" in await ask("/giveaway open enter=#x")
    assert "winners: must be at least 1, got 0" in await ask(
        "/giveaway open prize=Mug enter=#x winners=0"
    )
    assert "winners: at most 100 (max_winners in brandbot.yaml), got 101" in await ask(
        "/giveaway open prize=Mug enter=#x winners=101"
    )
    assert "winners: must be a whole number, got 'two'" in await ask(
        "/giveaway open prize=Mug enter=#x winners=two"
    )
    past = await ask("/giveaway open prize=Mug enter=#x closes=2025-12-31T10:00")
    assert "closes=2025-12-31T10:00 is not in the future (it is 2026-01-01 12:00 UTC now)" in past
    assert "closes: 'soon' is neither a duration" in await ask(
        "/giveaway open prize=Mug enter=#x closes=soon"
    )
    assert "say the unit" in await ask("/giveaway open prize=Mug enter=#x closes=90")
    assert "unknown option colour=" in await ask("/giveaway open prize=Mug enter=#x colour=red")
    assert "say how people enter" in await ask("/giveaway open prize=Mug")
    assert "private chat: add channel=" in await ask(
        "/giveaway open prize=Mug enter=#x", conversation=None
    )
    assert "network 'mastodon' is not running" in await ask(
        "/giveaway open prize=Mug enter=#x channel=mastodon:1"
    )
    several = await ask("/giveaway open enter=#x winners=0 closes=yesterday")
    assert several.count("\n- ") == 3 and "Usage: /giveaway open" in several
    assert "There's no giveaway 9." in await ask("/giveaway close 9")
    assert "There is no open giveaway." in await ask("/giveaway close")
    assert "Unknown /giveaway command 'start'" in await ask("/giveaway start")

    opened = await ask(
        '/giveaway open “Signed copy of Salt Orchard” enter=#salt closes="in 1h 30m"'
    )
    assert (
        opened.startswith("🎁 Giveaway #1: Signed copy of Salt Orchard!")
        and "at 2026-01-01 13:30 UTC" in opened
    )
    assert "already open with #salt" in await ask("/giveaway open prize=Mug enter=#SALT")
    export = await ask("/giveaway export 1")
    assert "still open" in export and "seed" not in export.replace("the seed must stay secret", "")
    listing = await ask("/giveaway list")
    assert listing.startswith(
        "#1 Signed copy of Salt Orchard: open, 0 entries, closes at 2026-01-01 13:30 UTC."
    )
    assert "Usage: /giveaway redraw" in await ask("/giveaway redraw 1")
    assert "still open; nothing was drawn yet" in await ask("/giveaway redraw 1 e-000000000000")


async def test_export_command_reports_the_self_check(make_bot, bundled) -> None:
    bot = await make(make_bot, bundled)
    await bot.receive("command", OPEN, author="boss", network="telegram", conversation="chan")
    await enter_hashtag(bot, "ana", "telegram")
    await bot.receive(
        "command", "/giveaway close", author="boss", network="telegram", conversation="staff-room"
    )
    bot.take_sent()
    await bot.receive(
        "command", "/giveaway export", author="boss", network="telegram", conversation="staff-room"
    )
    said = bot.take_sent()[0]
    assert "1 entry," in said and "Self-check: ok." in said and "brandbot giveaway verify" in said
    await bot.receive(
        "command", "/giveaway list", author="boss", network="telegram", conversation="staff-room"
    )
    assert (
        "#1 Signed copy: closed 2026-01-01 12:00 UTC, 1 entry, 0 claimed, 1 waiting, 0 redrawn"
        in bot.take_sent()[0]
    )


async def test_the_record_goes_to_the_state_folder_and_simulate_writes_none(
    make_bot, bundled
) -> None:
    bot = await make(make_bot, bundled)
    await as_admin(bot, OPEN)
    await enter_hashtag(bot, "ana", "telegram")
    await as_admin(bot, "/giveaway close", "staff-room")
    assert verify_export(export_of(bot)).ok
    assert f"Entry list: {export_path(bot)}." in bot.take_sent()[-1]
    config_dir = Path(bot.bot.config.path).parent
    assert not (config_dir / "giveaways").exists()  # read-only under the shipped systemd unit

    bot.bot.services.files.writable = False  # as in `brandbot simulate`
    await as_admin(bot, OPEN.replace("#saltorchard", "#two"))
    await enter_hashtag(bot, "bob", "telegram", text="#two")
    await as_admin(bot, "/giveaway close 2", "staff-room")
    summary = bot.take_sent()[-1]
    assert summary.startswith("Giveaway #2 (Signed copy) closed") and "Entry list" not in summary
    assert not export_path(bot, 2).exists()


async def test_on_x_results_that_may_not_be_posted_go_to_staff(make_bot, bundled) -> None:
    bot = await make(make_bot, bundled)
    await bot.receive("command", OPEN, author="boss_x", network="x", conversation="timeline")
    # a reply to the admin's post is allowed, and the full announcement fits in 280
    assert bot.sent_to("x")[0].startswith(
        "🎁 Giveaway #1: Signed copy! To enter, post #saltorchard."
    )
    await enter_hashtag(bot, "cy", "x", conversation="timeline", text="@brand #saltorchard")
    await bot.advance(2 * 3600)
    assert not any(s.startswith("🎉") for s in bot.sent_to("x"))  # X: no unsolicited posts
    notice = staff_notices(bot)[-1]
    assert (
        "post them yourself" in notice and "not_summoned" in notice and "🎉 Giveaway #1" in notice
    )


async def test_on_x_a_long_announcement_falls_back_to_the_short_one(make_bot, bundled) -> None:
    bot = await make(make_bot, bundled)
    prize = "The complete illustrated Salt Orchard trilogy, signed by the author"
    await bot.receive(
        "command",
        f'/giveaway open prize="{prize}" enter=#salt',
        author="boss_x",
        network="x",
        conversation="timeline",
    )
    sent = bot.sent_to("x")
    assert len(sent) == 1 and sent[0].startswith(f"🎁 Giveaway #1: {prize}! To enter, post #salt.")
    assert "Seed SHA-256: " in sent[0]
    await enter_hashtag(bot, "cy", "x", conversation="timeline", text="@brand #salt")
    await bot.receive(
        "command", "/giveaway close", author="boss_x", network="x", conversation="timeline"
    )
    results = bot.sent_to("x")[-1]
    assert results.startswith("🎉 Giveaway #1 winners: Cy! DM me /claim 1 to claim. Seed: ")
    assert export_of(bot)["seed"] in results
    assert any(s.startswith("Giveaway #1 (The complete") for s in staff_notices(bot))


async def test_a_winner_who_entered_by_dm_is_told_in_that_dm(make_bot, bundled) -> None:
    bot = await make(make_bot, bundled)
    await bot.receive("command", OPEN, author="boss", network="telegram", conversation="chan")
    await enter_hashtag(
        bot, "ana", "discord", kind="direct", conversation="dm:ana", text="#saltorchard"
    )
    await bot.advance(2 * 3600)
    note = bot.networks["discord"].sent[-1]
    assert note.conversation.id == "dm:ana" and note.text.startswith("Congratulations Ana, you won")


# --------------------------------------------------------------------------- restarts and checks


START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


async def test_the_closing_job_survives_a_restart(make_bot, bundled, tmp_path) -> None:
    db = tmp_path / "bot.sqlite3"
    first = await make(make_bot, bundled, store_path=db, start=START)
    await first.receive("command", OPEN, author="boss", network="telegram", conversation="chan")
    entry = await enter_hashtag(first, "ana", "telegram")
    assert [j.name for j in await first.bot.store.all_jobs()] == ["giveaway:close:1"]
    await first.close()

    # The bot was down when the giveaway should have closed; it comes back an hour late.
    second = await make(make_bot, bundled, store_path=db, start=START + timedelta(hours=3))
    await second.advance(1)
    assert any(s.startswith("🎉 Giveaway #1") and "Ana" in s for s in second.sent_to("telegram"))
    data = export_of(second)
    assert data["winners"] == [entry] and verify_export(data).ok


async def test_a_draw_cut_short_is_finished_at_the_next_start(make_bot, bundled, tmp_path) -> None:
    db = tmp_path / "bot.sqlite3"
    first = await make(make_bot, bundled, store_path=db, start=START)
    await first.receive("command", OPEN, author="boss", network="telegram", conversation="chan")
    entry = await enter_hashtag(first, "ana", "telegram")
    # As if the process died right after closing, before drawing: closed, nothing drawn.
    store = first.bot.store
    record = json.loads(await store.kv_get("plugin:giveaway", "giveaway:000001"))
    record.update(status="closed", closed_at=START.isoformat())
    store.kv_set("plugin:giveaway", "giveaway:000001", json.dumps(record))
    store.delete_job("giveaway:close:1")
    await first.close()

    second = await make(make_bot, bundled, store_path=db, start=START)
    await second.settle()
    assert any(s.startswith("🎉 Giveaway #1") for s in second.sent_to("telegram"))
    assert export_of(second)["winners"] == [entry]
    second.take_sent()
    await second.receive(
        "command", "/giveaway close 1", author="boss", network="telegram", conversation="chan"
    )
    assert second.take_sent() == [
        (
            "Giveaway #1 is already closed (since 2026-01-01 12:00 UTC); winners were drawn then. "
            "/giveaway export 1 shows the draw."
        )
    ]


async def test_a_message_using_a_variable_it_will_not_have_is_refused_at_start(
    make_bot, bundled
) -> None:
    with pytest.raises(ConfigError, match=r"messages.results uses name") as caught:
        await make(make_bot, bundled, messages={"results": "{{ name }} won {{ prize }}"})
    assert re.search(r"brandbot\.yaml:\d+", caught.value.where)
    with pytest.raises(ConfigError, match="unknown variable"):
        await make(make_bot, bundled, messages={"entered": "You're in, {{ nmae }}"})
