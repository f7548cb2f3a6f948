"""brandbot: a brand's conversational engagement bot.

The names below are the whole public API: a plugin imports from ``brandbot`` and
nowhere else (the modules behind them may move between releases; these names stay).

Where a message flows, in three runtime files read in this order:
``brandbot/runtime/intake.py`` (lanes, dedupe, the person, one transaction per batch),
``brandbot/runtime/routing.py`` (watchers, then responders: plugins and YAML rules on
one path) and ``brandbot/runtime/sending.py`` (policy, outbox row, send).
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from brandbot.clocks import Clock, FakeClock, ManualClock, SystemClock
    from brandbot.core import draw, ranking
    from brandbot.runtime import reports
    from brandbot.core.commandargs import CommandArgsError, parse_args
    from brandbot.core.commandargs import CURLY_QUOTES
    from brandbot.core.config import BotConfig
    from brandbot.core.durations import parse_duration
    from brandbot.core.errors import BrandbotError, ConfigError, PluginError, RuleError, TemplateError
    from brandbot.core.events import Conversation, Event, Kind, Outgoing, Person, Reply
    from brandbot.core.plugin import Plugin
    from brandbot.core.policy import Decision, Reason, Verdict
    from brandbot.core.records import FollowerQuery, Identity, Interaction
    from brandbot.core.records import FollowerRecord as Follower
    from brandbot.core.templates import TemplateEngine, sample_context
    from brandbot.core.textnorm import normalize, normalize_all, words
    from brandbot.core.yamlfile import YamlDoc, format_loc, load_yaml, validation_error
    from brandbot.runtime.bot import Bot
    from brandbot.runtime.capabilities import Files, NetworkInfo, Networks, Staff
    from brandbot.runtime.context import Context, JobContext, PluginData
    from brandbot.runtime.people import People, UnknownPerson

# Imported on first use, so `import brandbot` stays light and plugins load fast.
_EXPORTS: dict[str, tuple[str, str | None]] = {
    # writing a plugin
    "Plugin": ("brandbot.core.plugin", "Plugin"),
    "Context": ("brandbot.runtime.context", "Context"),
    "JobContext": ("brandbot.runtime.context", "JobContext"),
    "PluginData": ("brandbot.runtime.context", "PluginData"),
    "People": ("brandbot.runtime.people", "People"),
    "UnknownPerson": ("brandbot.runtime.people", "UnknownPerson"),
    "NetworkInfo": ("brandbot.runtime.capabilities", "NetworkInfo"),
    "Networks": ("brandbot.runtime.capabilities", "Networks"),
    "Files": ("brandbot.runtime.capabilities", "Files"),
    "Staff": ("brandbot.runtime.capabilities", "Staff"),
    "BotConfig": ("brandbot.core.config", "BotConfig"),
    # what events and people look like
    "Conversation": ("brandbot.core.events", "Conversation"),
    "Event": ("brandbot.core.events", "Event"),
    "Kind": ("brandbot.core.events", "Kind"),
    "Outgoing": ("brandbot.core.events", "Outgoing"),
    "Person": ("brandbot.core.events", "Person"),
    "Reply": ("brandbot.core.events", "Reply"),
    "Follower": ("brandbot.core.records", "FollowerRecord"),
    "FollowerQuery": ("brandbot.core.records", "FollowerQuery"),
    "Identity": ("brandbot.core.records", "Identity"),
    "Interaction": ("brandbot.core.records", "Interaction"),
    "Decision": ("brandbot.core.policy", "Decision"),
    "Reason": ("brandbot.core.policy", "Reason"),
    "Verdict": ("brandbot.core.policy", "Verdict"),
    # errors
    "BrandbotError": ("brandbot.core.errors", "BrandbotError"),
    "ConfigError": ("brandbot.core.errors", "ConfigError"),
    "PluginError": ("brandbot.core.errors", "PluginError"),
    "RuleError": ("brandbot.core.errors", "RuleError"),
    "TemplateError": ("brandbot.core.errors", "TemplateError"),
    "CommandArgsError": ("brandbot.core.commandargs", "CommandArgsError"),
    # helpers plugins share with the core
    "parse_args": ("brandbot.core.commandargs", "parse_args"),
    "CURLY_QUOTES": ("brandbot.core.commandargs", "CURLY_QUOTES"),  # read “curly” quotes as straight
    "parse_duration": ("brandbot.core.durations", "parse_duration"),
    "normalize": ("brandbot.core.textnorm", "normalize"),
    "normalize_all": ("brandbot.core.textnorm", "normalize_all"),
    "words": ("brandbot.core.textnorm", "words"),
    "load_yaml": ("brandbot.core.yamlfile", "load_yaml"),
    "YamlDoc": ("brandbot.core.yamlfile", "YamlDoc"),
    "format_loc": ("brandbot.core.yamlfile", "format_loc"),
    "validation_error": ("brandbot.core.yamlfile", "validation_error"),
    "TemplateEngine": ("brandbot.core.templates", "TemplateEngine"),
    "sample_context": ("brandbot.core.templates", "sample_context"),
    "draw": ("brandbot.core.draw", None),  # verifiable seeded draws (giveaways)
    "ranking": ("brandbot.core.ranking", None),  # small full-text ranking (resource links)
    "reports": ("brandbot.runtime.reports", None),  # records and reports of amplify and tags (shares, saved links)
    # running a bot
    "Bot": ("brandbot.runtime.bot", "Bot"),
    "Clock": ("brandbot.clocks", "Clock"),
    "FakeClock": ("brandbot.clocks", "FakeClock"),
    "ManualClock": ("brandbot.clocks", "ManualClock"),
    "SystemClock": ("brandbot.clocks", "SystemClock"),
}


def __getattr__(name: str) -> Any:
    try:
        module, attr = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'brandbot' has no attribute {name!r}") from None
    loaded = import_module(module)
    value = loaded if attr is None else getattr(loaded, attr)
    globals()[name] = value
    return value


__version__ = "0.2.0"

__all__ = sorted([*_EXPORTS, "__version__"])
