"""Logging set-up: readable lines by default, JSON lines for log collectors, no secrets.

Two promises to the operator:

- **No secret reaches the logs.** :func:`configure` installs a :class:`RedactingFilter`
  on the one root handler. It knows the configured secret values (tokens, keys, any
  ``${ENV}`` value) and also recognises Telegram bot tokens, Discord bot tokens,
  ``Authorization``/``Bearer ...`` credentials and ``token=``-style URL parameters on sight, and replaces
  them with ``***`` in the message, its arguments, extra fields, the exception text and
  the stack. A library logging a request URL with the token in it is covered too.
- **Followers' words stay out of the logs** unless ``logging.log_text`` is on: code that
  logs message text passes it through :func:`text_for_log`, and the network libraries'
  own DEBUG output (which dumps raw updates and payloads) stays off.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import quote

MASK = "***"

#: Secret values shorter than this are not redacted (they would mask ordinary words);
#: configure() warns about them. Real tokens are far longer.
MIN_SECRET_LENGTH = 4

#: Credentials recognised without being told: (pattern, replacement).
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Telegram bot token, <bot id>:<35 characters>, also inside ".../bot<token>/getMe"
    (re.compile(r"\d{6,}:[A-Za-z0-9_-]{30,}"), MASK),
    # Discord bot token: base64 user id . timestamp . HMAC
    (re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}"), MASK),
    # Authorization header values (Bearer, Basic, Bot, OAuth ...), as text or a dict repr
    (re.compile(r"(?i)\b(authorization[\"']?\s*[:=]\s*)([\"'])[^\r\n]*?\2"), rf"\1\2{MASK}\2"),
    (re.compile(r"(?i)\b(authorization\s*[:=]\s*)(?![\"'\s])[^\r\n]+"), rf"\1{MASK}"),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), rf"\1{MASK}"),
    # credentials in URLs, form bodies and OAuth 1 headers
    (re.compile(
        r"(?i)\b((?:access_|refresh_|oauth_|bot_|api_)?token|oauth_signature|oauth_consumer_key|"
        r"api_?key|api_?secret|client_secret|secret|password)=([\"']?)[^&\s\"',]+"
    ), rf"\1=\2{MASK}"),
)

#: Loggers of the network libraries; at DEBUG they log raw updates (follower text) and URLs.
LIBRARY_LOGGERS = ("aiosqlite", "httpx", "httpcore", "discord", "telegram", "tweepy", "aiohttp.access")

#: Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class Redactor:
    """Replaces known secret values and credential-shaped text with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values: set[str] = set()
        self.too_short = 0  # secrets ignored for being too short, reported by configure()
        for secret in secrets:
            if not secret:
                continue
            if len(secret) < MIN_SECRET_LENGTH:
                self.too_short += 1
                continue
            values.add(secret)
            values.add(quote(secret, safe=""))  # as it appears inside a URL
            values.add(json.dumps(secret)[1:-1])  # as it appears inside JSON
            values.add(repr(secret)[1:-1])  # as it appears in a logged dict or tuple
        # Longest first, so a secret containing another is masked whole.
        ordered = sorted(values, key=len, reverse=True)
        self._known = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __call__(self, text: str) -> str:
        if self._known is not None:
            text = self._known.sub(MASK, text)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def value(self, value: Any) -> Any:
        """An ``extra=`` value with secrets removed; numbers and flags pass unchanged."""
        if value is None or isinstance(value, bool | int | float):
            return value
        return self(value if isinstance(value, str) else str(value))


class RedactingFilter(logging.Filter):
    """A handler filter that redacts every text part of a record before it is formatted."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        redact = self.redactor
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not hide the record
            message = f"{record.msg!r} (log arguments did not fit: {record.args!r})"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = _EXCEPTION_FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _RECORD_FIELDS:
                setattr(record, key, redact.value(value))
        return True


_EXCEPTION_FORMATTER = logging.Formatter()


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields passed with ``extra=`` (network, event_id, ...), in the order given."""
    return {k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extra fields, error."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in extra_fields(record).items():
            out.setdefault(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["error"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message key=value ...`` with the extra fields at the end."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        extras = extra_fields(record)
        if extras:
            line += " " + " ".join(f"{k}={_text_value(v)}" for k, v in extras.items())
        return line


def _text_value(value: Any) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if not text or any(c.isspace() or c in "\"=" for c in text) else text


def text_for_log(text: str, enabled: bool, *, limit: int = 500) -> str:
    """A follower's message as it may appear in a log line.

    Disabled (the default): only its length, ``<42 chars>``. Enabled: the text, cut at
    ``limit`` characters so one huge message cannot flood the log.
    """
    if not enabled:
        return f"<{len(text)} chars>"
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... (+{len(text) - limit} chars)"


def build_handler(
    stream: IO[str] | None = None,
    *,
    json_format: bool = False,
    secrets: Iterable[str] = (),
) -> logging.Handler:
    """A stream handler with the chosen format and the redacting filter installed."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if json_format else TextFormatter())
    handler.addFilter(RedactingFilter(Redactor(secrets)))
    return handler


def configure(
    level: str = "INFO",
    json_format: bool = False,
    secrets: Iterable[str] = (),
    log_text: bool = False,
    *,
    stream: IO[str] | None = None,
) -> Redactor:
    """Route all logging through one redacting handler on stderr (or ``stream``).

    ``secrets``: every value that must never be logged (the networks' SecretStr values
    and the ``${ENV}`` values substituted into the config). ``log_text``: when off, the
    network libraries log at WARNING even if ``level`` is DEBUG, because their debug
    output holds followers' messages. Returns the redactor, for other outputs that show
    adapter-supplied text (the health endpoint's network details).
    """
    handler = build_handler(stream, json_format=json_format, secrets=secrets)
    redactor = next(f.redactor for f in handler.filters if isinstance(f, RedactingFilter))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    floor = root.level if log_text else max(logging.WARNING, root.level)
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(floor)
    logging.captureWarnings(True)
    if redactor.too_short:
        logging.getLogger("brandbot").warning(
            "%d configured secret value(s) are shorter than %d characters and cannot be redacted "
            "from logs without masking ordinary words; use longer secrets",
            redactor.too_short, MIN_SECRET_LENGTH,
        )
    return redactor
