"""The whole event path on the real Bot: people remembered, policy, outbox, restarts."""

import io
import subprocess
import sys
from pathlib import Path

import pytest

from brandbot import Context, Plugin
from brandbot.core.config import load_config
from brandbot.core.errors import RateLimitedError, TransientSendError
from brandbot.core.records import OutboxStatus
from brandbot.networks.console import ConsoleConfig, ConsoleNetwork
from brandbot.runtime.bot import Bot

ROOT = Path(__file__).resolve().parents[1]

GREETINGS = [
    {"name": "hello-new", "kinds": ["direct"], "priority": 10, "when": {"first_contact": True},
     "reply": "Welcome {{ name }}!"},
    {"name": "hello-again", "kinds": ["direct"], "priority": 5, "when": {"first_contact": False},
     "reply": "Welcome back {{ name }}, message {{ follower.interactions }}."},
]


async def test_followers_are_remembered_personally(make_bot) -> None:
    bot = await make_bot(rules=GREETINGS)
    await bot.receive("direct", "hi", author="ana")
    await bot.receive("direct", "hi", author="ana")
    await bot.receive("direct", "hi", author="ben")
    assert bot.sent == ["Welcome Ana!", "Welcome back Ana, message 2.", "Welcome Ben!"]
    ana = await bot.follower("ana")
    assert ana.interactions == 2 and ana.points > 0


async def test_duplicate_event_ids_are_handled_once(make_bot) -> None:
    bot = await make_bot(rules=GREETINGS)
    first = await bot.receive("direct", "hi", event_id="same")
    again = await bot.receive("direct", "hi", event_id="same")
    assert not first.duplicate and again.duplicate
    assert bot.sent == ["Welcome Ana!"]


async def test_display_names_are_data_not_templates(make_bot) -> None:
    bot = await make_bot(rules=GREETINGS)
    await bot.receive("direct", "hi", author="evil", name="{{ config }}{% for x in range(3) %}")
    assert bot.sent == ["Welcome {{ config }}{% for x in range(3) %}!"]


async def test_rate_limited_send_is_retried_after_the_wait_and_delivered_once(make_bot) -> None:
    bot = await make_bot(rules=GREETINGS)
    bot.networks["memory"].fail_next(RateLimitedError("429", 30))
    await bot.receive("direct", "hi")
    assert bot.sent == []
    await bot.advance(29)
    assert bot.sent == []
    await bot.advance(2)
    assert bot.sent == ["Welcome Ana!"]
    await bot.advance(600)
    assert bot.sent == ["Welcome Ana!"]


async def test_transient_failures_back_off_then_fail_with_reason(make_bot) -> None:
    bot = await make_bot(rules=GREETINGS)
    bot.networks["memory"].fail_next(TransientSendError("connection reset"), times=100)
    await bot.receive("direct", "hi")
    for _ in range(12):
        await bot.advance(700)
    rows = await bot.bot.store.outbox_for((await bot.follower("ana")).id)
    assert rows[0].status is OutboxStatus.FAILED and "connection reset" in rows[0].reason
    assert rows[0].attempts == 8


async def test_cooldown_and_variants(make_bot) -> None:
    rules = [{"name": "faq", "kinds": ["direct"], "match": {"any": ["shipping"]},
              "reply": ["A", "B"], "cooldown": {"person": "1h"}},
             {"name": "else", "kinds": ["direct"], "priority": -10, "reply": "fallback"}]
    bot = await make_bot(rules=rules)
    await bot.receive("direct", "shipping?")
    await bot.receive("direct", "shipping?")
    await bot.advance(3601)
    await bot.receive("direct", "shipping again")
    sent = bot.sent
    assert sent[1] == "fallback"
    assert sent[0] in ("A", "B") and sent[2] in ("A", "B") and sent[0] != sent[2]


async def test_rule_actions_tag_points_and_handoff(make_bot) -> None:
    rules = [{"name": "press", "kinds": ["direct"], "match": {"any": ["journalist"]}, "reply": "Passing you on.",
              "actions": {"tag": ["press"], "points": 5, "handoff": True}},
             {"name": "any", "kinds": ["direct"], "priority": -1, "reply": "bot answer"}]
    bot = await make_bot(rules=rules)
    await bot.receive("direct", "I'm a journalist")
    ana = await bot.follower("ana")
    assert "press" in ana.tags
    await bot.receive("direct", "hello?")
    assert bot.sent_to("memory")[0] == "Passing you on."
    assert "bot answer" not in bot.sent
    assert any("handed_off" in r or "human" in r.lower() for r in bot.refusals())


async def test_plugin_data_and_config(make_bot) -> None:
    from pydantic import BaseModel

    class Settings(BaseModel):
        greeting: str = "Hi"

    p = Plugin("counter", config=Settings)

    @p.on("direct")
    async def count(ctx: Context) -> None:
        n = await ctx.data.get("count", 0) + 1
        ctx.data.set("count", n)
        await ctx.reply(f"{ctx.config.greeting} #{n}")

    bot = await make_bot(plugins=[p], config={"plugins": {"counter": {"greeting": "Hey"}}})
    await bot.receive("direct", "x")
    await bot.receive("direct", "y")
    assert bot.sent == ["Hey #1", "Hey #2"]


async def test_bad_plugin_config_names_the_file_and_line(make_bot) -> None:
    from pydantic import BaseModel, ConfigDict

    from brandbot.core.errors import ConfigError

    class Settings(BaseModel):
        model_config = ConfigDict(extra="forbid")
        greeting: str = "Hi"

    p = Plugin("strict", config=Settings)
    with pytest.raises(ConfigError) as err:
        await make_bot(plugins=[p], config={"plugins": {"strict": {"greting": "x"}}})
    assert "brandbot.yaml:" in str(err.value) and "greting" in str(err.value)


async def test_console_bot_remembers_people_across_restarts(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        "rules:\n"
        "  - {name: new, kinds: [direct], priority: 1, when: {first_contact: true}, reply: 'Nice to meet you {{ name }}'}\n"
        "  - {name: old, kinds: [direct], reply: 'Hi again {{ name }} ({{ follower.interactions }})'}\n"
    )
    (tmp_path / "brandbot.yaml").write_text(
        "brand: {name: T}\nstorage: {path: bot.sqlite3}\nnetworks: {console: {}}\nrules: [rules.yaml]\nplugin_dirs: []\n"
    )
    config = load_config(tmp_path / "brandbot.yaml")

    async def run(lines: str) -> list[str]:
        out = io.StringIO()
        console = ConsoleNetwork(ConsoleConfig(), stdin=io.StringIO(lines), stdout=out)
        bot = Bot(config, networks={"console": console})
        assert await bot.run() == 0
        return out.getvalue().splitlines()

    first = await run("@ana: hi\n@ana: hi\n@ben: hi\n")
    # Different people are handled concurrently; each person's replies keep their order.
    assert [line for line in first if "-> ana" in line] == [
        "[bot -> ana] Nice to meet you Ana", "[bot -> ana] Hi again Ana (2)",
    ]
    assert [line for line in first if "-> ben" in line] == ["[bot -> ben] Nice to meet you Ben"]
    assert await run("@ana: hello\n") == ["[bot -> ana] Hi again Ana (3)"]


def test_python_run_py_with_piped_input_greets_and_remembers(tmp_path: Path) -> None:
    """The README's quick start, for real: python run.py with piped input."""
    import shutil

    project = tmp_path / "proj"
    shutil.copytree(ROOT / "config", project / "config")
    shutil.copytree(ROOT / "plugins", project / "plugins")
    shutil.copy(ROOT / "run.py", project / "run.py")
    env_run = lambda text: subprocess.run(  # noqa: E731
        [sys.executable, "run.py"], input=text, capture_output=True, text=True, cwd=project, timeout=60,
        check=False,
    )
    first = env_run("@ana: hi\n@ana: hi\n@ben: hi\n")
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert len(lines) == 3, first.stdout
    ana = [line for line in lines if line.startswith("[bot -> ana]")]
    ben = [line for line in lines if line.startswith("[bot -> ben]")]
    assert "Ana" in ana[0] and ("welcome" in ana[0].lower() or "meet" in ana[0].lower())
    assert "2" in ana[1] and ana[1] != ana[0]
    assert len(ben) == 1 and "Ben" in ben[0]
    again = env_run("@ana: hello\n")
    assert again.returncode == 0 and "Ana" in again.stdout and "3" in again.stdout


async def test_a_first_contact_reads_no_earlier_variant_and_a_restart_reads_it_back(make_bot, tmp_path) -> None:
    rules = [{"name": "faq", "kinds": ["direct"], "match": {"any": ["shipping"]}, "reply": ["A", "B"]}]
    db = tmp_path / "bot.sqlite3"
    read: list[str] = []

    def count_variant_reads(harness) -> None:  # type: ignore[no-untyped-def]
        store = harness.bot.store
        kv_get = store.kv_get

        async def counting(namespace: str, key: str):  # type: ignore[no-untyped-def]  # the real read, counted
            if namespace == "rules.variant":
                read.append(key)
            return await kv_get(namespace, key)

        store.kv_get = counting

    bot = await make_bot(rules=rules, store_path=db)
    count_variant_reads(bot)
    await bot.receive("direct", "shipping?")  # Ana is new: nothing to read back
    assert read == []
    first = bot.sent
    await bot.close()
    again = await make_bot(rules=rules, store_path=db)
    count_variant_reads(again)
    await again.receive("direct", "shipping?")  # known, her last variant only in the store: read back
    assert len(read) == 1
    assert again.sent != first  # and not repeated
