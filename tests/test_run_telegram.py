"""`python run.py` on Telegram, as a user runs it: only api_url and a token set."""

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from fake_telegram import TOKEN, FakeTelegram

ROOT = Path(__file__).resolve().parents[1]


async def test_python_run_py_answers_on_telegram_through_a_bot_api_server(tmp_path: Path) -> None:
    fake = await FakeTelegram().start()
    project = tmp_path / "proj"
    shutil.copytree(ROOT / "config", project / "config")
    shutil.copytree(ROOT / "plugins", project / "plugins")
    shutil.copy(ROOT / "run.py", project / "run.py")
    config = project / "config" / "brandbot.yaml"
    text = config.read_text()
    # The two edits the README tells a user to make: enable telegram, point api_url at the server.
    text = text.replace(
        "    enabled: false             # set true and export TELEGRAM_BOT_TOKEN\n    token: ${TELEGRAM_BOT_TOKEN}\n",
        f"    enabled: true\n    token: ${{TELEGRAM_BOT_TOKEN}}\n    api_url: {fake.api_url}\n    file_url: {fake.file_url}\n    poll_timeout: 1\n",
    )
    assert "api_url" in text
    config.write_text(text)
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN}
    proc = subprocess.Popen([sys.executable, "run.py"], cwd=project, env=env, stdin=subprocess.PIPE,  # noqa: ASYNC220 - started, not awaited
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        user = fake.updates.user(4242, "Ana", username="ana_reads")
        fake.push(fake.updates.private_message(user, "hello, when is the tour?"))
        await fake.wait_until(lambda: bool(fake.sent), timeout=30)
        assert "tour" in fake.sent[0].text.lower()
        assert fake.commands, "the bot registered its commands with setMyCommands"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.to_thread(proc.wait, 30)
        finally:
            await fake.stop()
    assert code == 0, proc.stderr.read() if proc.stderr else ""
    assert TOKEN not in (proc.stderr.read() if proc.stderr else "")
