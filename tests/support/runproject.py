"""`python run.py` as a user runs it, on a copy of the example project with one network switched on.

For the end-to-end tests of the polling networks (Mastodon, Bluesky): the project is copied,
its network section edited the way the README tells a user to, and the bot started, stopped
(SIGTERM) or killed (SIGKILL) as a real process; a restart finds the same database.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def make_project(folder: Path, section: str, replacement: str) -> Path:
    """Copy config/, plugins/ and run.py to ``folder`` and replace the network's YAML ``section``."""
    shutil.copytree(ROOT / "config", folder / "config")
    shutil.copytree(ROOT / "plugins", folder / "plugins", ignore=shutil.ignore_patterns("__pycache__", ".mypy_cache"))
    shutil.copy(ROOT / "run.py", folder / "run.py")
    config = folder / "config" / "brandbot.yaml"
    text = config.read_text()
    assert section in text, "the example config lost the network's section this test edits"
    config.write_text(text.replace(section, replacement))
    return folder


def start(project: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """Start the bot; its stdin stays open (the console network ends the bot at end of input) and
    its output goes to files (a pipe nobody reads would block a chatty bot)."""
    runs = len(list(project.glob("run-*.log")))
    log = (project / f"run-{runs}.log").open("w")
    proc = subprocess.Popen([sys.executable, "run.py"], cwd=project, env={**os.environ, **env},
                            stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, text=True)
    log.close()  # the child has its own copy
    return proc


def output(project: Path) -> str:
    """Everything the bot wrote in all its runs."""
    return "".join(p.read_text() for p in sorted(project.glob("run-*.log")))


async def stop(proc: subprocess.Popen[str]) -> int:
    """SIGTERM and wait for the exit; returns the exit code."""
    proc.send_signal(signal.SIGTERM)
    return await asyncio.to_thread(proc.wait, 60)


async def kill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL: the process ends at once, whatever it was doing."""
    proc.send_signal(signal.SIGKILL)
    await asyncio.to_thread(proc.wait, 60)
