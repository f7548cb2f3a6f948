"""README documents the console's room and action syntax, and every example line parses as it says."""

from __future__ import annotations

import re
from pathlib import Path

from brandbot.core.events import Kind
from brandbot.networks.console import ConsoleNetwork

README = Path(__file__).resolve().parent.parent / "README.md"

EXPECTED = {
    "hello there": (Kind.DIRECT, None),
    "@ana: hi": (Kind.DIRECT, None),
    "@ana: /points": (Kind.COMMAND, None),
    "@ana #lobby: good morning": (Kind.MESSAGE, None),
    "@ana #lobby: @brandbot news?": (Kind.MENTION, None),
    "@ana: !repost post-1": (Kind.REPOST, "post-1"),
    "@ana: !quote post-1 so good": (Kind.QUOTE, "post-1"),
    "@ana: !reply post-1 when?": (Kind.REPLY, "post-1"),
    "@ana: !react post-1 🎉": (Kind.REACTION, "post-1"),
    "@ana: !follow": (Kind.FOLLOW, None),
    "@ana: !join": (Kind.JOIN, None),
}


def test_readme_documents_every_console_form_and_each_parses_as_documented() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("### The console", 1)
    assert len(section) == 2, "README.md has no 'The console' section"
    block = re.search(r"```\n(.*?)```", section[1], re.DOTALL)
    assert block is not None
    lines = {re.split(r"\s{2,}", line.strip())[0] for line in block.group(1).splitlines() if line.strip()}
    assert set(EXPECTED) <= lines
    console = ConsoleNetwork()
    for line, (kind, refers_to) in EXPECTED.items():
        event = console.parse(line)
        assert event is not None and event.kind is kind, line
        assert event.refers_to == refers_to, line
    room = console.parse("@ana #lobby: good morning")
    assert room is not None and room.conversation.id == "lobby" and not room.conversation.private
