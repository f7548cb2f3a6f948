"""Run one scale-out role as its own process, its networks pointed at the loopback fakes.

    python -m tests.scale_role gateway CONFIG [--discord-port PORT --discord-ca CA.pem]
    python -m tests.scale_role worker CONFIG

It builds the role with :func:`brandbot.scale.roles.build_role`, exactly as ``brandbot
gateway`` / ``brandbot worker`` do; the only addition is the connector that sends
discord.py's requests for discord.com to the fake Discord on 127.0.0.1 (its TLS is
trusted through the test CA the test process wrote to ``CA.pem``). Telegram needs no
hook: its fake is named by ``api_url`` in the config.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import logging
import signal
import ssl
import sys
from typing import Any

import aiohttp

from brandbot.core.config import load_config
from brandbot.scale.roles import build_role
from tests.fake_discord import HOSTS
from tests.support.loopback import LoopbackResolver


async def main(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    hooks: dict[str, dict[str, Any]] = {}
    if args.discord_port:
        tls = ssl.create_default_context(cafile=args.discord_ca)
        connector = aiohttp.TCPConnector(resolver=LoopbackResolver(HOSTS, args.discord_port), ssl=tls,
                                         use_dns_cache=False)
        hooks["discord"] = {"connector": connector, "guild_ready_timeout": 0.05}
    bot = build_role(args.role, config, hooks=hooks)
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR2, _dump_tasks)
    return await bot.run()


def _dump_tasks() -> None:
    """Every task's stack, to the log: where a process that does not stop is waiting."""
    for task in asyncio.all_tasks():
        print(f"--- task {task.get_name()}", file=sys.stderr)
        task.print_stack(file=sys.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["gateway", "worker"])
    parser.add_argument("config")
    parser.add_argument("--discord-port", type=int, default=0)
    parser.add_argument("--discord-ca", default="")
    faulthandler.register(signal.SIGUSR1)  # the cluster asks for the stacks of a process that hangs
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    sys.exit(asyncio.run(main(parser.parse_args())))
