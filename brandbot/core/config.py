"""brandbot.yaml -> a typed, validated BotConfig.

Everything a community manager can get wrong is caught here, before the bot starts,
with the file, the line and what to fix. Secrets come from ``${ENV_VAR}`` references
(``${NAME:-default}`` gives a default) and are substituted only in sections that are
actually used, so a disabled network does not demand its token.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from brandbot.core.durations import Duration, parse_duration
from brandbot.core.errors import ConfigError
from brandbot.core.loyalty import LoyaltyConfig
from brandbot.core.policy import PolicyConfig
from brandbot.core.reviews import mention_terms
from brandbot.core.yamlfile import YamlDoc, load_yaml, validation_error

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StorageConfig(_Strict):
    path: str = Field("data/brandbot.sqlite3", description="SQLite file, relative to the config file; ':memory:' for none")
    commit_delay: float = Field(0.05, gt=0, le=0.05, description="Longest wait before buffered writes are committed (seconds, <= 0.05)")
    text_retention_days: int = Field(90, ge=0, description="Days message text is kept in history; counts are kept forever. 0 = never keep text")
    processed_retention_days: int = Field(14, ge=1, description="Days processed event ids are kept to dedupe replays")
    url: str = Field("", description="postgresql://user@host:port/db to keep state in PostgreSQL (several processes); empty: the SQLite file at path")
    brand_id: str = Field("default", description="This brand's key in a database (and streams) that several brands share")

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, v: str) -> str:
        if v and not v.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql://user:password@host:port/database URL, or empty for SQLite "
                             "(write the password as ${VAR})")
        return v

    @field_validator("brand_id")
    @classmethod
    def _brand_key(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", v):
            raise ValueError("must be 1-63 lower-case letters, digits, '-' or '_', starting with a letter or digit")
        return v


class RuntimeConfig(_Strict):
    max_concurrency: int = Field(64, ge=1, description="Conversations handled at once")
    queue_size: int = Field(500, ge=1, description="Events waiting for a handler before networks are slowed down")
    handler_timeout: float = Field(10.0, gt=0, description="Seconds before a handler is abandoned and logged")
    shutdown_grace: float = Field(10.0, ge=0, description="Seconds in-flight handlers get on SIGTERM")
    start_timeout: float = Field(30.0, gt=0, description="Seconds to wait for each network's first start attempt")
    watch_config: bool = Field(True, description="Reload rules and plugin settings when their files change")
    watch_interval: float = Field(2.0, gt=0, description="Seconds between checks of the config files")
    max_text: int = Field(16_000, ge=100, description="Incoming text longer than this is truncated (with a log note)")


class StaffConfig(_Strict):
    network: str = Field("console", description="Network of the staff channel")
    conversation: str = Field("staff", description="Chat/channel id where handoff notices and digests go")


class HandoffConfig(_Strict):
    timeout: Duration = Field(7200.0, description="Seconds (or 2h) after which the bot speaks again without /release")


class UnderstandingConfig(_Strict):
    """How messages are read: word forms, language, sentiment, intents (docs/rules.md)."""

    languages: list[str] = Field(default_factory=lambda: ["en"], description="Languages people write in "
                                 "(ISO codes); keywords match their word forms in each. [] = word forms off")
    intents: str | None = Field(None, description="YAML file of intents with example phrases, relative to this file")
    negative_below: float = Field(-0.3, ge=-1, le=0, description="Sentiment at or below this is negative")
    positive_above: float = Field(0.3, ge=0, le=1, description="Sentiment at or above this is positive")
    promotions: list[str] = Field(default_factory=lambda: ["plugin:loyalty.thank_milestone"],
                                  description="Responders (plugin:NAME, plugin:NAME.handler, rule:NAME) that never "
                                  "answer a person whose last message was negative (milestone cheer, invitations)")


class LoggingConfig(_Strict):
    level: str = "INFO"
    json_format: bool = Field(False, alias="json")
    log_text: bool = Field(False, description="Include message text in logs (debug only)")

    @field_validator("level")
    @classmethod
    def _level(cls, v: str) -> str:
        v = v.upper()
        if v not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("level must be one of DEBUG, INFO, WARNING, ERROR")
        return v


class WebAccount(_Strict):
    """One staff login of the web UI: an argon2 hash (``brandbot hash-password``), never the password."""

    password: str = Field(description="argon2 hash from `brandbot hash-password`")
    role: Literal["staff", "viewer"] = Field("staff", description="staff act on people and the inbox; viewers only read")

    @field_validator("password")
    @classmethod
    def _hashed(cls, v: str) -> str:
        if not v.startswith("$argon2"):
            raise ValueError("must be an argon2 hash, never the password itself: run `brandbot hash-password` "
                             "and paste what it prints (it starts with $argon2id$)")
        return v


class HttpConfig(_Strict):
    enabled: bool = Field(False, description="Serve /healthz and /metrics (and the staff web UI when accounts are set)")
    host: str = Field("127.0.0.1", description="Address to bind; loopback unless allow_remote")
    port: int = Field(8787, ge=0, le=65535)
    allow_remote: bool = Field(False, description="Allow binding a non-loopback address (put a proxy in front)")
    accounts: dict[str, WebAccount] = Field(default_factory=dict, description="Staff logins of the web UI; none: no UI")
    secret: str = Field("", description="Signs session cookies (from ${VAR}); at least 32 characters when accounts are set")
    session_hours: float = Field(12.0, gt=0, le=24 * 30, description="Hours a login lasts")
    secure_cookies: bool = Field(False, description="Send cookies over HTTPS only (true behind a TLS proxy)")

    @model_validator(mode="after")
    def _secret_with_accounts(self) -> HttpConfig:
        if self.accounts and len(self.secret) < 32:
            raise ValueError("http.secret must be at least 32 characters when http.accounts are set: write "
                             "secret: ${BRANDBOT_WEB_SECRET} and export a random value (python -c "
                             "'import secrets; print(secrets.token_urlsafe(32))')")
        return self


class RedisConfig(_Strict):
    """Scale-out (``brandbot gateway`` and ``brandbot worker``): the Redis that carries events.

    Its keys carry ``storage.brand_id``, as the database rows do.
    """

    url: str = Field("redis://127.0.0.1:6379/0", description="Redis for the event streams, e.g. ${REDIS_URL}")
    partitions: int = Field(16, ge=1, le=1024, description="Event streams; one person's events always use the "
                            "same one. More than the most workers you will run; changing it reorders in-flight events")
    lease: float = Field(5.0, ge=1.0, le=60.0, description="Seconds before a silent worker's partitions are "
                         "taken over (its heartbeat and leases expire)")
    batch: int = Field(100, ge=1, le=10_000, description="Entries a worker reads per partition per batch")
    rate_margin: float = Field(0.0, ge=0.0, le=2.0, description="Seconds added to every platform rate window "
                               "(for clock drift; sends in flight are already counted until answered)")

    @field_validator("url")
    @classmethod
    def _redis_url(cls, v: str) -> str:
        if not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix:// (e.g. redis://127.0.0.1:6379/0)")
        return v


def _console_only() -> dict[str, dict[str, Any] | None]:
    """The networks when none are configured: the console, which needs no token."""
    return {"console": {}}


class TopConfig(_Strict):
    """The top-level keys of brandbot.yaml (networks and plugins are validated per entry)."""

    brand: dict[str, Any] = Field(default_factory=lambda: {"name": "Our brand"})
    storage: StorageConfig = StorageConfig()
    networks: dict[str, dict[str, Any] | None] = Field(default_factory=_console_only)
    rules: list[str] = Field(default_factory=list)
    plugin_dirs: list[str] = Field(default_factory=lambda: ["../plugins"])
    plugins: dict[str, dict[str, Any] | None] = Field(default_factory=dict)
    admins: dict[str, list[str]] = Field(default_factory=dict)
    staff: StaffConfig = StaffConfig()
    loyalty: LoyaltyConfig = LoyaltyConfig()
    policy: PolicyConfig = PolicyConfig()
    handoff: HandoffConfig = HandoffConfig()
    understanding: UnderstandingConfig = UnderstandingConfig()
    runtime: RuntimeConfig = RuntimeConfig()
    logging: LoggingConfig = LoggingConfig()
    http: HttpConfig = HttpConfig()
    redis: RedisConfig = RedisConfig()  # read only by `brandbot gateway` and `brandbot worker`
    timezone: str = "UTC"
    feeds: dict[str, Any] | None = Field(None, description="RSS/Atom feeds of blogs and review sites, read as the "
                                         "'blogs' network (docs/networks/blogs.md)")
    posts: str | None = Field(None, description="YAML file of the brand's scheduled posts (the calendar), relative to this file")

    @field_validator("brand")
    @classmethod
    def _brand_has_name(cls, v: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(v.get("name"), str) or not v["name"].strip():
            raise ValueError("brand needs a 'name' (used in replies as {{ brand.name }})")
        return v

    @field_validator("admins", mode="before")
    @classmethod
    def _admin_ids_are_text(cls, v: Any) -> Any:
        """Ids may be written as YAML numbers (``telegram: [123456789]``); they are compared as text."""
        if not isinstance(v, dict):
            return v
        return {net: [str(i) if isinstance(i, int) and not isinstance(i, bool) else i for i in ids]
                if isinstance(ids, list) else ids for net, ids in v.items()}


@dataclass(frozen=True)
class NetworkSection:
    """One enabled network's raw settings, with where they came from for error messages."""

    name: str
    settings: Mapping[str, Any]
    where: str
    loc: tuple[str | int, ...]


@dataclass(frozen=True)
class PluginSection:
    name: str
    settings: Mapping[str, Any]
    enabled: bool
    where: str
    loc: tuple[str | int, ...]


@dataclass(frozen=True)
class BotConfig:
    """The validated configuration, with paths resolved against the config file's folder."""

    path: Path
    top: TopConfig
    doc: YamlDoc
    networks: tuple[NetworkSection, ...]
    plugins: tuple[PluginSection, ...]
    rule_files: tuple[Path, ...]
    plugin_dirs: tuple[Path, ...]
    storage_path: str
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def brand(self) -> dict[str, Any]:
        return dict(self.top.brand)

    def is_admin(self, network: str, user_id: str, handle: str = "") -> bool:
        """Whether the account is listed under ``admins:``, by its user id only.

        ``handle`` is ignored (callers may still pass it): handles are chosen by people,
        released and re-claimed, and on Discord and X may be all digits, so a handle
        equal to an admin's id must not make anyone an admin.
        """
        return user_id in self.top.admins.get(network, ())

    def where(self, *loc: str | int) -> str:
        return self.doc.where(loc)

    @property
    def posts_path(self) -> Path | None:
        """The calendar's posts file (``posts:``), resolved against the config's folder."""
        return self.path.parent / self.top.posts if self.top.posts else None

    def secrets(self) -> list[str]:
        """Every value that came from a ${VAR} reference or is a secret field: never to be logged."""
        found: set[str] = set()

        def walk(raw: Any) -> None:
            if isinstance(raw, str):
                for m in _ENV_REF.finditer(raw):
                    value = self.env.get(m.group(1), m.group(2) or "")
                    if value:
                        found.add(value)
            elif isinstance(raw, dict):
                for v in raw.values():
                    walk(v)
            elif isinstance(raw, list):
                for v in raw:
                    walk(v)

        walk(self.doc.data)
        return sorted(found)


#: What a user id looks like on the networks where people choose their handles, and how
#: to find one. ``admins:`` lists ids there; a handle is an error that says what to write.
ADMIN_ID_FORMATS: Mapping[str, tuple[re.Pattern[str], str]] = {
    "telegram": (
        re.compile(r"-?[0-9]{1,16}"),
        ("the numeric Telegram user id, e.g. \"123456789\": the person gets it by writing to @userinfobot, "
         "or you find it in the bot's log line 'refused ... from telegram:<id>' after "
         "they sent the bot an admin command"),
    ),
    "discord": (
        re.compile(r"[0-9]{17,20}"),
        ("the Discord user id (17 to 20 digits), e.g. \"123456789012345678\": in Discord, turn on "
         "Settings > Advanced > Developer Mode, then right-click the person > Copy User ID"),
    ),
    "x": (
        re.compile(r"[0-9]{1,20}"),
        ("the numeric user id of the X account, not its @handle, e.g. \"44196397\": the X API's "
         "GET /2/users/by/username/<handle> returns it as 'id', or you find it in the bot's log line "
         "'refused ... from x:<id>' after the person sent the bot an admin command"),
    ),
    "mastodon": (
        re.compile(r"[0-9]{1,20}"),
        ("the numeric account id on the brand's instance, not the @name, e.g. \"109302537193620233\": "
         "GET /api/v1/accounts/lookup?acct=<name> on the instance returns it as 'id', or you find it in the "
         "bot's log line 'refused ... from mastodon:<id>' after the person sent the bot an admin command"),
    ),
    "bluesky": (
        re.compile(r"did:(plc:[a-z2-7]{24}|web:[a-zA-Z0-9.:%-]+)"),
        ("the account's DID, not its handle, e.g. \"did:plc:ewvi7nxzyoun6zhxrhs64oiz\": "
         "com.atproto.identity.resolveHandle?handle=<handle> returns it, or you find it in the bot's log line "
         "'refused ... from bluesky:<did>' after the person sent the bot an admin command"),
    ),
}


def check_admin_ids(top: TopConfig, enabled: Iterable[str], doc: YamlDoc) -> None:
    """Admins are stable user ids: a handle under ``admins:`` is an error naming its line.

    Checked for the enabled networks whose ids have a known form (the console and test
    networks use names as ids); a leading '@' is a handle on every network.
    """
    enabled = set(enabled)
    for network, ids in top.admins.items():
        form = ADMIN_ID_FORMATS.get(network) if network in enabled else None
        for i, value in enumerate(ids):
            if form is not None and not form[0].fullmatch(value):
                raise ConfigError(
                    f"admins.{network}[{i}] {value!r} is not a {network} user id. Admins are matched by "
                    f"their user id only, because handles can be changed, re-claimed by someone else, "
                    f"or made to look like an id. Write {form[1]}",
                    doc.where(("admins", network, i)),
                )
            if form is None and value.startswith("@"):
                raise ConfigError(
                    f"admins.{network}[{i}] {value!r} looks like a handle: admins are matched by user id; "
                    f"on {network} write the id without '@' ({value[1:]!r} if that is the id)",
                    doc.where(("admins", network, i)),
                )


def substitute_env(value: Any, env: Mapping[str, str], doc: YamlDoc, loc: tuple[str | int, ...]) -> Any:
    """Replace ${NAME} / ${NAME:-default} in every string below ``value``.

    A reference to an unset variable without a default is an error naming the variable
    and the line, never a silent empty string (an empty token fails much later and less
    clearly). The values are never logged.
    """
    if isinstance(value, str):
        def repl(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise ConfigError(
                f"environment variable {name} is not set (used at {'.'.join(map(str, loc))}); "
                f"export it before starting, or write ${{{name}:-default}} to give a default",
                doc.where(loc),
            )

        return _ENV_REF.sub(repl, value)
    if isinstance(value, dict):
        return {k: substitute_env(v, env, doc, (*loc, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_env(v, env, doc, (*loc, i)) for i, v in enumerate(value)]
    return value


def _section_enabled(settings: Mapping[str, Any] | None, doc: YamlDoc, loc: tuple[str | int, ...]) -> bool:
    if settings is None:
        return True
    enabled = settings.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"'enabled' must be true or false, got {enabled!r}", doc.where((*loc, "enabled")))
    return enabled


def _feeds_network(top: TopConfig, doc: YamlDoc) -> tuple[NetworkSection, ...]:
    """``feeds:`` is the ``blogs`` network's section; by default it watches for the brand's
    name, book and author. Its settings are validated by the network (errors name the line)."""
    if top.feeds is None or not _section_enabled(top.feeds, doc, ("feeds",)):
        return ()
    if "blogs" in top.networks:
        raise ConfigError("the feeds are configured twice: keep 'feeds:' and remove 'networks.blogs'",
                          doc.where(("networks", "blogs")))
    settings = {k: v for k, v in top.feeds.items() if k != "enabled"}
    settings.setdefault("watch", list(mention_terms(top.brand)))
    return (NetworkSection("blogs", settings, doc.where(("feeds",)), ("feeds",)),)


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> BotConfig:
    """Read and validate brandbot.yaml. Raises ConfigError with file:line on any problem."""
    path = Path(path)
    env = dict(os.environ if env is None else env)
    doc = load_yaml(path)
    raw = doc.data if doc.data is not None else {}
    if not isinstance(raw, dict):
        raise ConfigError("the configuration must be a mapping of keys (brand:, networks:, rules:, ...)", doc.where(()))

    # Secrets are substituted only where they will be used: skip disabled networks/plugins.
    data: dict[str, Any] = {}
    for key, value in raw.items():
        if key in ("networks", "plugins") and isinstance(value, dict):
            section: dict[str, Any] = {}
            for name, settings in value.items():
                loc = (key, name)
                if settings is not None and not isinstance(settings, dict):
                    raise ConfigError(f"{key}.{name} must be a mapping of settings (or empty)", doc.where(loc))
                if _section_enabled(settings, doc, loc):
                    section[name] = substitute_env(settings, env, doc, loc)
                else:
                    section[name] = settings
            data[key] = section
        else:
            data[key] = substitute_env(value, env, doc, (key,))

    try:
        top = TopConfig.model_validate(data)
    except ValidationError as exc:
        raise validation_error(doc, exc) from None

    base = path.parent
    networks = tuple(
        NetworkSection(name, {k: v for k, v in (s or {}).items() if k != "enabled"}, doc.where(("networks", name)), ("networks", name))
        for name, s in top.networks.items()
        if _section_enabled(s, doc, ("networks", name))
    )
    networks += _feeds_network(top, doc)
    if not networks:
        raise ConfigError("no network is enabled; enable at least one (console needs no token)", doc.where(("networks",)))
    check_admin_ids(top, (n.name for n in networks), doc)
    plugins = tuple(
        PluginSection(
            name,
            {k: v for k, v in (s or {}).items() if k != "enabled"},
            _section_enabled(s, doc, ("plugins", name)),
            doc.where(("plugins", name)),
            ("plugins", name),
        )
        for name, s in top.plugins.items()
    )
    rule_files = tuple((base / p).resolve() for p in top.rules)
    for i, rf in enumerate(rule_files):
        if not rf.exists():
            raise ConfigError(f"rules file {top.rules[i]!r} not found (looked for {rf})", doc.where(("rules", i)))
    storage_path = top.storage.path
    if storage_path != ":memory:":
        storage_path = str((base / storage_path).resolve())
    return BotConfig(
        path=path.resolve(),
        top=top,
        doc=doc,
        networks=networks,
        plugins=plugins,
        rule_files=rule_files,
        plugin_dirs=tuple((base / d).resolve() for d in top.plugin_dirs),
        storage_path=storage_path,
        env=env,
    )


__all__ = [
    "ADMIN_ID_FORMATS",
    "BotConfig",
    "HandoffConfig",
    "HttpConfig",
    "LoggingConfig",
    "NetworkSection",
    "PluginSection",
    "RedisConfig",
    "RuntimeConfig",
    "StaffConfig",
    "StorageConfig",
    "TopConfig",
    "UnderstandingConfig",
    "WebAccount",
    "check_admin_ids",
    "load_config",
    "parse_duration",  # re-exported from brandbot.core.durations, where it now lives
    "substitute_env",
]
