"""/link codes cannot be guessed: limits per person and per code, longer codes, owners told.

Before: 6 characters from 32 symbols, every wrong guess answered at once and without limit,
and a hit merged the guesser into the victim (showing their history and saved links).
"""

from __future__ import annotations

import logging

import pytest

NETS = ("telegram", "discord")
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


async def ask_code(bot, author: str = "owner", network: str = "telegram") -> str:
    await bot.receive("command", "/link", author=author, network=network, private=True)
    return bot.take_sent()[-1].split("code is ")[1].split(".")[0]


async def try_code(bot, code: str, author: str = "guesser", network: str = "discord") -> list[str]:
    await bot.receive("command", f"/link {code}", author=author, network=network, private=True)
    return bot.take_sent()


def wrong(code: str, keep: int = 0) -> str:
    """A different code with the same first ``keep`` characters (dashes kept)."""
    chars = list(code)
    for i in range(len(chars) - 1, -1, -1):
        if chars[i] != "-" and i >= keep:
            chars[i] = ALPHABET[(ALPHABET.index(chars[i]) + 1) % len(ALPHABET)]
            break
    return "".join(chars)


@pytest.fixture
async def bot(make_bot, bundled):
    return await make_bot(networks=NETS, plugins=["link"], config=bundled)


async def test_codes_are_long_and_the_right_code_links_at_once(bot) -> None:
    code = await ask_code(bot)
    assert len(code.replace("-", "")) >= 12 and set(code.replace("-", "")) <= set(ALPHABET)
    assert "Linked!" in (await try_code(bot, code, author="owner_dc"))[-1]


async def test_typing_the_code_loosely_still_links(bot) -> None:
    code = await ask_code(bot)
    assert "Linked!" in (await try_code(bot, code.replace("-", " ").lower(), author="owner_dc"))[-1]


async def test_a_guesser_is_stopped_after_a_few_misses_and_slowed_down(bot, caplog) -> None:
    code = await ask_code(bot)
    answers: list[str] = []
    with caplog.at_level(logging.WARNING):
        for n in range(50):
            guess = "".join(ALPHABET[(n * 7 + i) % len(ALPHABET)] for i in range(12))
            answers += await try_code(bot, guess)
    assert 1 < len(answers) <= 6, answers  # a few answers, then silence: not 50
    assert "unknown or has expired" in answers[0]
    assert "too many wrong codes" in answers[-1] and "15 minutes" in answers[-1]
    guesser = await bot.follower("guesser", "discord")
    assert any(f"follower {guesser.id}" in r.getMessage() and "wrong /link codes" in r.getMessage()
               for r in caplog.records)
    # even the right code waits for the end of the lock ...
    assert await try_code(bot, code) == []
    assert (await bot.follower("guesser", "discord")).id != (await bot.follower("owner", "telegram")).id
    await bot.advance(16 * 60)
    fresh = await ask_code(bot)  # the first code expired meanwhile
    assert "Linked!" in (await try_code(bot, fresh))[-1]


async def test_the_wait_doubles_for_a_guesser_who_goes_on(bot) -> None:
    for n in range(5):
        await try_code(bot, f"ZZZZ-ZZZZ-ZZ{ALPHABET[n]}{ALPHABET[n]}")
    await bot.advance(16 * 60)
    said = []
    for n in range(5):
        said += await try_code(bot, f"YYYY-YYYY-YY{ALPHABET[n]}{ALPHABET[n]}")
    assert "30 minutes" in said[-1], said


async def test_a_code_is_locked_after_a_few_wrong_secrets_and_its_owner_told(bot) -> None:
    code = await ask_code(bot)
    for n in range(3):  # someone who saw the start of the code tries the rest
        rest = "".join(c if c == "-" else ALPHABET[(n + i) % len(ALPHABET)] for i, c in enumerate(code[5:]))
        guess = code[:5] + rest
        assert guess != code
        await try_code(bot, guess, author=f"sybil{n}")  # three accounts: the per-person limit is not enough
    to_owner = [r.text for r in bot.networks["telegram"].sent if r.conversation.id == "dm:owner"]
    assert "locked" in to_owner[-1] and "/link" in to_owner[-1]
    said = await try_code(bot, code, author="sybil9")
    assert "unknown or has expired" in said[-1]  # the locked code is dead, even when right
    assert "Linked!" in (await try_code(bot, await ask_code(bot), author="owner_dc"))[-1]


async def test_a_new_code_replaces_the_persons_previous_one(bot) -> None:
    first = await ask_code(bot)
    second = await ask_code(bot)
    assert "unknown or has expired" in (await try_code(bot, first, author="owner_dc"))[-1]
    assert "Linked!" in (await try_code(bot, second, author="owner_dc"))[-1]
