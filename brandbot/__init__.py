"""brandbot: a brand's conversational engagement bot.

Where a message flows (read in this order):

1. ``brandbot.networks.*`` turn a platform's updates into :class:`Event` objects.
2. :class:`Bot` (``bot.py``) dedupes the event, resolves the :class:`Follower`, counts and
   scores it, records it, and hands a :class:`Context` to the Router.
3. The Router (``routing.py``) runs the watchers, then the highest-priority responder
   that matches: a plugin handler or a YAML rule (``rules.py``), one dispatch path.
4. ``ctx.reply(...)`` goes through the Policy (``policy.py``) and into the Outbox
   (``outbox.py``), which sends it within the platform's rate limits.

The names below are the public API for plugin authors.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from brandbot.runtime.bot import Bot
    from brandbot.clocks import Clock, FakeClock, ManualClock, SystemClock
    from brandbot.runtime.context import Context, JobContext
    from brandbot.core.events import Conversation, Event, Kind, Outgoing, Person, Reply
    from brandbot.core.plugin import Plugin
    from brandbot.core.policy import Decision, Reason, Verdict
    from brandbot.core.records import FollowerRecord as Follower

# Imported on first use, so `import brandbot.core.events` stays light and cycle-free.
_EXPORTS = {
    "Bot": ("brandbot.runtime.bot", "Bot"),
    "Clock": ("brandbot.clocks", "Clock"),
    "FakeClock": ("brandbot.clocks", "FakeClock"),
    "ManualClock": ("brandbot.clocks", "ManualClock"),
    "SystemClock": ("brandbot.clocks", "SystemClock"),
    "Context": ("brandbot.runtime.context", "Context"),
    "JobContext": ("brandbot.runtime.context", "JobContext"),
    "Conversation": ("brandbot.core.events", "Conversation"),
    "Event": ("brandbot.core.events", "Event"),
    "Kind": ("brandbot.core.events", "Kind"),
    "Outgoing": ("brandbot.core.events", "Outgoing"),
    "Person": ("brandbot.core.events", "Person"),
    "Reply": ("brandbot.core.events", "Reply"),
    "Plugin": ("brandbot.core.plugin", "Plugin"),
    "Decision": ("brandbot.core.policy", "Decision"),
    "Reason": ("brandbot.core.policy", "Reason"),
    "Verdict": ("brandbot.core.policy", "Verdict"),
    "Follower": ("brandbot.core.records", "FollowerRecord"),
}


def __getattr__(name: str) -> Any:
    try:
        module, attr = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'brandbot' has no attribute {name!r}") from None
    value = getattr(import_module(module), attr)
    globals()[name] = value
    return value


__version__ = "0.1.0"

__all__ = [
    "Bot",
    "Clock",
    "Context",
    "Conversation",
    "Decision",
    "Event",
    "FakeClock",
    "Follower",
    "JobContext",
    "Kind",
    "ManualClock",
    "Outgoing",
    "Person",
    "Plugin",
    "Reason",
    "Reply",
    "SystemClock",
    "Verdict",
    "__version__",
]
