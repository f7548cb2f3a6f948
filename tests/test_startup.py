"""Start-up: work that must finish before events flow runs first; a failed start exits."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

from brandbot import Context, JobContext, Plugin
from brandbot.testing import build_harness

ROOT = Path(__file__).resolve().parents[1]


async def test_start_up_hooks_run_before_any_network_starts(tmp_path: Path) -> None:
    started_when_hook_ran: list[bool] = []
    plugin = Plugin("early")

    @plugin.on_start
    async def resume(ctx: JobContext) -> None:
        # Whether any network had been started (each gets a supervisor when it starts).
        started_when_hook_ran.append(bool(ctx.services.bot.network_runner.supervisors))
        await ctx.send("memory", "staff", "resumed before the networks")

    @plugin.on("direct")
    async def answer(ctx: Context) -> None:
        await ctx.reply("hello")

    harness = await build_harness(tmp_path, plugins=[plugin])
    try:
        assert started_when_hook_ran == [False]
        assert harness.bot.network_runner.supervisors  # they did start afterwards
        # The hook's message was queued before the network started, and went out once after.
        await harness.settle()
        assert harness.sent.count("resumed before the networks") == 1
    finally:
        await harness.close()


def _busy_port() -> tuple[socket.socket, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    return sock, sock.getsockname()[1]


def test_a_start_up_failure_exits_non_zero_within_seconds_with_one_clear_message(tmp_path: Path) -> None:
    holder, port = _busy_port()  # the metrics port is taken: start-up fails after the database opened
    try:
        config = {
            "brand": {"name": "Test Brand"},
            "storage": {"path": str(tmp_path / "bot.sqlite3")},
            "networks": {"console": {"enabled": True}},
            "plugin_dirs": [],
            "http": {"enabled": True, "host": "127.0.0.1", "port": port},
        }
        path = tmp_path / "brandbot.yaml"
        path.write_text(yaml.safe_dump(config))
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "brandbot.ops.cli", "-c", str(path), "run"],
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path)
        elapsed = time.monotonic() - started
    finally:
        holder.close()
    assert proc.returncode != 0
    assert elapsed < 20, f"took {elapsed:.1f}s to give up"
    errors = [line for line in proc.stderr.splitlines() if line.startswith("brandbot:")]
    assert len(errors) == 1, proc.stderr
    assert "start-up failed" in errors[0] or str(port) in errors[0], errors[0]
    assert "Traceback" not in proc.stderr
