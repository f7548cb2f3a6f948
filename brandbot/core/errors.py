"""Every exception brandbot raises on purpose, so callers can catch exactly what they mean."""

from __future__ import annotations

from collections.abc import Sequence


class BrandbotError(Exception):
    """Base of all brandbot errors."""


class ConfigError(BrandbotError):
    """Configuration that cannot be used. ``where`` is "file:line" when we know it."""

    def __init__(self, message: str, where: str = "") -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class TemplateError(ConfigError):
    """A reply template that does not parse or uses a variable that does not exist."""


class RuleError(ConfigError):
    """A reply rule that is malformed (bad regex, unknown kind, impossible condition)."""


class DurationError(ConfigError, ValueError):
    """A duration that does not parse ("5 minutes", "-3", "soon").

    Also a ValueError, so pydantic validators that call ``parse_duration`` report it at
    the field's location, and callers that caught ValueError before keep working.
    """


class CommandArgsError(BrandbotError):
    """``key=value`` command arguments that cannot be used.

    ``problems`` lists everything that is wrong (each a short sentence without a final
    period); ``usage`` is the how-to shown after them. The message joins both, ready to
    send back to the person who typed the command.
    """

    def __init__(self, problems: Sequence[str], usage: str = "") -> None:
        self.problems = tuple(problems)
        self.usage = usage
        message = "; ".join(self.problems) + "."
        super().__init__(f"{message} {usage}" if usage else message)


class PluginError(BrandbotError):
    """A plugin that cannot be loaded, configured or started."""


class StoreError(BrandbotError):
    """The store could not do what was asked (schema too new, database locked, ...)."""


class SendError(BrandbotError):
    """A network could not deliver a message. Subclasses tell the outbox what to do next."""


class RateLimitedError(SendError):
    """The network asked us to wait. The outbox retries after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        self.retry_after = max(0.0, float(retry_after))
        super().__init__(f"{message} (retry after {self.retry_after:.1f}s)")


class TransientSendError(SendError):
    """A failure worth retrying with backoff (timeout, 5xx, connection reset)."""


class PermanentSendError(SendError):
    """A failure that retrying cannot fix (blocked by the user, message too long, forbidden)."""

    def __init__(self, message: str, unreachable: bool = False) -> None:
        # unreachable: the person blocked the bot or left; stop trying on this network.
        self.unreachable = unreachable
        super().__init__(message)


class StartupError(BrandbotError):
    """The bot could not start (a port in use, a network failing hard, ...); it has stopped
    what it had started, so the process can exit and its supervisor restart it."""
