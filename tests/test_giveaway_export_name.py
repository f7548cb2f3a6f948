"""``/giveaway export`` answers where it was typed, often in public: it names the record
by its place in the state folder, never by the server's absolute path."""

from __future__ import annotations

import re

from test_plugin_giveaway import OPEN, as_admin, enter_hashtag, export_of, export_path, make

from brandbot.core.draw import verify_export


async def test_the_public_export_answer_shows_no_server_path(make_bot, bundled) -> None:
    bot = await make(make_bot, bundled)
    await as_admin(bot, OPEN)
    await enter_hashtag(bot, "ana", "telegram")
    await as_admin(bot, "/giveaway close", "staff-room")
    bot.take_sent()
    await as_admin(bot, "/giveaway export 1", "chan")  # a public channel
    [said] = bot.take_sent()
    state_dir = bot.bot.services.files.state_dir
    assert str(state_dir) not in said and str(state_dir.parent) not in said, said
    assert not re.search(r"(^|[\s(:])/\w", said), said  # no absolute path at all
    assert "giveaways/giveaway-1.json" in said and "state folder" in said
    assert "brandbot giveaway verify" in said and "Self-check: ok." in said
    assert verify_export(export_of(bot)).ok and export_path(bot).is_file()  # still written where it was
