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
    from brandbot.bot import Bot
    from brandbot.clock import Clock, FakeClock, ManualClock, SystemClock
    from brandbot.context import Context, JobContext
    from brandbot.events import Conversation, Event, Kind, Outgoing, Person, Reply
    from brandbot.plugins import Plugin
    from brandbot.policy import Decision, Reason, Verdict
    from brandbot.store.records import FollowerRecord as Follower

# Imported on first use, so `import brandbot.events` stays light and cycle-free.
_EXPORTS = {
    "Bot": ("brandbot.bot", "Bot"),
    "Clock": ("brandbot.clock", "Clock"),
    "FakeClock": ("brandbot.clock", "FakeClock"),
    "ManualClock": ("brandbot.clock", "ManualClock"),
    "SystemClock": ("brandbot.clock", "SystemClock"),
    "Context": ("brandbot.context", "Context"),
    "JobContext": ("brandbot.context", "JobContext"),
    "Conversation": ("brandbot.events", "Conversation"),
    "Event": ("brandbot.events", "Event"),
    "Kind": ("brandbot.events", "Kind"),
    "Outgoing": ("brandbot.events", "Outgoing"),
    "Person": ("brandbot.events", "Person"),
    "Reply": ("brandbot.events", "Reply"),
    "Plugin": ("brandbot.plugins", "Plugin"),
    "Decision": ("brandbot.policy", "Decision"),
    "Reason": ("brandbot.policy", "Reason"),
    "Verdict": ("brandbot.policy", "Verdict"),
    "Follower": ("brandbot.store.records", "FollowerRecord"),
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
