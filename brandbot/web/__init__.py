"""The staff's web UI: overview charts, people, the handoff inbox, advocates and campaigns.

Served by the bot process beside ``/healthz`` and ``/metrics`` (see ``docs/web.md``);
``brandbot report --html`` writes the overview and advocates pages as one static file.
This package sits between ``brandbot.ops`` and ``brandbot.runtime``: it reads the
running bot's capabilities and is mounted into its HTTP server through
``Bot.http_mounts``, so the runtime never imports it.
"""

from brandbot.web.accounts import hash_password
from brandbot.web.app import WebUI, install

__all__ = ["WebUI", "hash_password", "install"]
