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
    # The same names as _EXPORTS below, for type checkers: `import X as X` marks an explicit
    # re-export (plugin authors run mypy --strict), and __all__ lists them all.
    from brandbot.clocks import Clock as Clock
    from brandbot.clocks import FakeClock as FakeClock
    from brandbot.clocks import ManualClock as ManualClock
    from brandbot.clocks import SystemClock as SystemClock
    from brandbot.core import draw as draw
    from brandbot.core import ranking as ranking
    from brandbot.core.commandargs import CURLY_QUOTES as CURLY_QUOTES
    from brandbot.core.commandargs import CommandArgsError as CommandArgsError
    from brandbot.core.commandargs import parse_args as parse_args
    from brandbot.core.config import BotConfig as BotConfig
    from brandbot.core.durations import parse_duration as parse_duration
    from brandbot.core.errors import BrandbotError as BrandbotError
    from brandbot.core.errors import ConfigError as ConfigError
    from brandbot.core.errors import PluginError as PluginError
    from brandbot.core.errors import RuleError as RuleError
    from brandbot.core.errors import TemplateError as TemplateError
    from brandbot.core.events import Conversation as Conversation
    from brandbot.core.events import Event as Event
    from brandbot.core.events import Kind as Kind
    from brandbot.core.events import Outgoing as Outgoing
    from brandbot.core.events import Person as Person
    from brandbot.core.events import Reply as Reply
    from brandbot.core.plugin import Plugin as Plugin
    from brandbot.core.policy import Decision as Decision
    from brandbot.core.policy import Reason as Reason
    from brandbot.core.policy import Verdict as Verdict
    from brandbot.core.reading import IntentHit as IntentHit
    from brandbot.core.reading import Reading as Reading
    from brandbot.core.records import FollowerQuery as FollowerQuery
    from brandbot.core.records import FollowerRecord as Follower
    from brandbot.core.records import Identity as Identity
    from brandbot.core.records import Interaction as Interaction
    from brandbot.core.templates import TemplateEngine as TemplateEngine
    from brandbot.core.templates import sample_context as sample_context
    from brandbot.core.textnorm import normalize as normalize
    from brandbot.core.textnorm import normalize_all as normalize_all
    from brandbot.core.textnorm import words as words
    from brandbot.core.yamlfile import YamlDoc as YamlDoc
    from brandbot.core.yamlfile import combined_error as combined_error
    from brandbot.core.yamlfile import format_loc as format_loc
    from brandbot.core.yamlfile import load_yaml as load_yaml
    from brandbot.core.yamlfile import validation_error as validation_error
    from brandbot.runtime import reports as reports
    from brandbot.runtime import reviewcopies as reviewcopies
    from brandbot.runtime.bot import Bot as Bot
    from brandbot.runtime.capabilities import Files as Files
    from brandbot.runtime.capabilities import NetworkInfo as NetworkInfo
    from brandbot.runtime.capabilities import Networks as Networks
    from brandbot.runtime.capabilities import Staff as Staff
    from brandbot.runtime.context import Context as Context
    from brandbot.runtime.context import JobContext as JobContext
    from brandbot.runtime.context import PluginData as PluginData
    from brandbot.runtime.people import People as People
    from brandbot.runtime.people import UnknownPerson as UnknownPerson

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
    "Reading": ("brandbot.core.reading", "Reading"),  # ctx.reading: language, sentiment, intent
    "IntentHit": ("brandbot.core.reading", "IntentHit"),
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
    "combined_error": ("brandbot.core.yamlfile", "combined_error"),
    "format_loc": ("brandbot.core.yamlfile", "format_loc"),
    "validation_error": ("brandbot.core.yamlfile", "validation_error"),
    "TemplateEngine": ("brandbot.core.templates", "TemplateEngine"),
    "sample_context": ("brandbot.core.templates", "sample_context"),
    "draw": ("brandbot.core.draw", None),  # verifiable seeded draws (giveaways)
    "ranking": ("brandbot.core.ranking", None),  # small full-text ranking (resource links)
    "reports": ("brandbot.runtime.reports", None),  # records and reports of amplify and tags (shares, saved links)
    "reviewcopies": ("brandbot.runtime.reviewcopies", None),  # review copies and reviews found on blogs
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

# Spelled out (a literal, not computed) so that type checkers read it; a test checks that it
# names exactly _EXPORTS and __version__.
__all__ = [
    "CURLY_QUOTES",
    "Bot",
    "BotConfig",
    "BrandbotError",
    "Clock",
    "CommandArgsError",
    "ConfigError",
    "Context",
    "Conversation",
    "Decision",
    "Event",
    "FakeClock",
    "Files",
    "Follower",
    "FollowerQuery",
    "Identity",
    "IntentHit",
    "Interaction",
    "JobContext",
    "Kind",
    "ManualClock",
    "NetworkInfo",
    "Networks",
    "Outgoing",
    "People",
    "Person",
    "Plugin",
    "PluginData",
    "PluginError",
    "Reading",
    "Reason",
    "Reply",
    "RuleError",
    "Staff",
    "SystemClock",
    "TemplateEngine",
    "TemplateError",
    "UnknownPerson",
    "Verdict",
    "YamlDoc",
    "__version__",
    "combined_error",
    "draw",
    "format_loc",
    "load_yaml",
    "normalize",
    "normalize_all",
    "parse_args",
    "parse_duration",
    "ranking",
    "reports",
    "reviewcopies",
    "sample_context",
    "validation_error",
    "words",
]
