"""The console network: parsing lines into events and printing replies."""

import io

from brandbot.core.events import Conversation, Kind, Outgoing, Reply
from brandbot.networks.console import ConsoleConfig, ConsoleNetwork


def net() -> ConsoleNetwork:
    return ConsoleNetwork(ConsoleConfig(), stdin=io.StringIO(""), stdout=io.StringIO())


def test_at_name_speaks_as_that_follower_in_a_private_conversation() -> None:
    e = net().parse("@ana: hi there")
    assert e is not None
    assert (e.kind, e.author.id, e.author.name, e.text) == (Kind.DIRECT, "ana", "Ana", "hi there")
    assert e.conversation.private and e.addressed


def test_plain_line_comes_from_the_default_author() -> None:
    e = net().parse("hello")
    assert e is not None and e.author.id == "you"


def test_blank_lines_are_ignored_and_ids_are_unique() -> None:
    n = net()
    assert n.parse("   \n") is None
    a, b = n.parse("@a: x"), n.parse("@a: x")
    assert a is not None and b is not None and a.id != b.id


def test_commands_rooms_and_actions() -> None:
    n = net()
    cmd = n.parse("@ben: /points now")
    assert cmd is not None and (cmd.kind, cmd.command, cmd.args) == (Kind.COMMAND, "points", ("now",))
    room = n.parse("@ben #general: hey @brandbot when is the tour?")
    assert room is not None and room.kind is Kind.MENTION and not room.conversation.private
    plain = n.parse("@ben #general: just chatting")
    assert plain is not None and plain.kind is Kind.MESSAGE and not plain.addressed
    rp = n.parse("@cy: !repost tour-post")
    assert rp is not None and (rp.kind, rp.refers_to, rp.addressed) == (Kind.REPOST, "tour-post", False)
    q = n.parse("@cy: !quote tour-post so good")
    assert q is not None and (q.kind, q.refers_to, q.text) == (Kind.QUOTE, "tour-post", "so good")
    r = n.parse("@cy: !react tour-post 🎉")
    assert r is not None and r.kind is Kind.REACTION and r.extra("emoji") == "🎉"


async def test_send_prints_to_the_person_or_room() -> None:
    out = io.StringIO()
    n = ConsoleNetwork(ConsoleConfig(), stdin=io.StringIO(""), stdout=out)
    await n.send(Outgoing(1, Reply("console", Conversation("console", "dm:ana", True), "Hi Ana")))
    await n.send(Outgoing(2, Reply("console", Conversation("console", "staff"), "note")))
    assert out.getvalue().splitlines() == ["[bot -> ana] Hi Ana", "[bot -> #staff] note"]
