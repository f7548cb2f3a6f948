"""A giveaway export that cannot be written is told to the staff and fails /giveaway close loudly."""

from __future__ import annotations

import os
import stat

from tests.test_plugin_giveaway import OPEN, enter_hashtag, export_path, make, staff_notices


def read_only_export_folder(bot) -> None:
    """The state folder is read-only: the export folder cannot be created in it.

    chmod alone does not stop root (CI containers), so the export folder's name is also
    taken by a file: creating the folder fails for everyone, as on a read-only mount.
    """
    state = bot.bot.services.files.state_dir
    state.mkdir(parents=True, exist_ok=True)
    export_path(bot).parent.write_text("not a folder\n")
    os.chmod(state, stat.S_IRUSR | stat.S_IXUSR)


async def close_unwritable(make_bot, bundled, conversation: str):
    """A giveaway with one entry, closed by the admin in ``conversation`` while no export can be written."""
    bot = await make(make_bot, bundled)
    await bot.receive("command", OPEN, author="boss", network="telegram", conversation="chan")
    await enter_hashtag(bot, "ana", "telegram")
    read_only_export_folder(bot)
    try:
        await bot.receive("command", "/giveaway close", author="boss", network="telegram", conversation=conversation)
    finally:
        os.chmod(bot.bot.services.files.state_dir, stat.S_IRWXU)
    return bot


async def test_a_failed_export_fails_close_loudly_and_tells_the_staff(make_bot, bundled) -> None:
    bot = await close_unwritable(make_bot, bundled, "staff-room")
    answer = staff_notices(bot)[-1]  # the admin's answer, in the staff room
    assert answer.startswith("EXPORT FAILED") and "/giveaway export 1" in answer and "writable" in answer
    assert "giveaways/giveaway-1.json" in answer
    assert str(bot.bot.services.files.state_dir) not in answer  # no server paths in an answer
    public = [r.text for r in bot.networks["telegram"].sent if r.conversation.id == "chan"]
    assert "EXPORT FAILED" not in public[-1]  # the results are posted as usual
    # fixed: the export command writes it again
    export_path(bot).parent.unlink()
    await bot.receive("command", "/giveaway export 1", author="boss", network="telegram", conversation="staff-room")
    assert export_path(bot).exists()
    assert "EXPORT FAILED" not in bot.take_sent()[-1]


async def test_a_failed_export_after_a_close_in_public_is_told_to_the_staff(make_bot, bundled) -> None:
    bot = await close_unwritable(make_bot, bundled, "chan")
    assert any(notice.startswith("EXPORT FAILED") for notice in staff_notices(bot))
    public = [r.text for r in bot.networks["telegram"].sent if r.conversation.id == "chan"]
    assert not any("EXPORT FAILED" in text for text in public)


async def test_export_command_says_when_the_file_cannot_be_written(make_bot, bundled) -> None:
    bot = await make(make_bot, bundled)
    await bot.receive("command", OPEN, author="boss", network="telegram", conversation="chan")
    await enter_hashtag(bot, "ana", "telegram")
    await bot.receive("command", "/giveaway close", author="boss", network="telegram", conversation="staff-room")
    export_path(bot).unlink()
    export_path(bot).parent.rmdir()
    read_only_export_folder(bot)
    try:
        await bot.receive("command", "/giveaway export 1", author="boss", network="telegram", conversation="staff-room")
    finally:
        os.chmod(bot.bot.services.files.state_dir, stat.S_IRWXU)
    assert "EXPORT FAILED" in staff_notices(bot)[-1]
