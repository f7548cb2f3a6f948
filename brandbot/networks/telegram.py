"""Telegram through python-telegram-bot's ``Application``: updates in, Bot API calls out.

The adapter only translates. Incoming: every ``Update`` goes through one ``TypeHandler``
to :class:`UpdateTranslator`, which turns it into an :class:`~brandbot.core.events.Event` (or
nothing). Outgoing: :meth:`TelegramNetwork.send` turns an ``Outgoing`` into
``sendMessage`` calls and maps PTB's errors to brandbot's ``SendError`` types.

Durability (long polling). Telegram forgets an update once ``getUpdates`` is called with
an ``offset`` above its id. PTB's ``Updater`` sends that offset as soon as it has queued a
batch, i.e. before the handlers ran; a crash would then lose the queued updates. So the
bot object here is an ``ExtBot`` whose ``get_updates`` first waits (:class:`UpdateAcknowledger`)
until every update below the requested offset has been handed to the host, then calls
``host.settled()``, saves the offset as the cursor, and only then lets the request go.
Telegram's confirmed position therefore never runs ahead of what brandbot has stored.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import re
import warnings
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from telegram import (
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeDefault,
    Chat,
    ChatMember,
    ChatMemberUpdated,
    Message,
    MessageEntity,
    MessageOrigin,
    MessageOriginChannel,
    MessageReactionUpdated,
    ReactionType,
    ReactionTypeCustomEmoji,
    ReactionTypeEmoji,
    ReplyParameters,
    Update,
    User,
)
from telegram import error as tg_error
from telegram.ext import Application, ApplicationBuilder, ContextTypes, ExtBot, TypeHandler
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from brandbot.clocks import Clock, SystemClock
from brandbot.core.errors import (
    ConfigError,
    PermanentSendError,
    RateLimitedError,
    SendError,
    TransientSendError,
)
from brandbot.core.events import Conversation, Event, Kind, Outgoing, Person
from brandbot.networks.base import (
    CommandSpec,
    Network,
    NetworkHost,
    NetworkState,
    RateLimits,
    Sent,
    split_text,
)

NETWORK = "telegram"
CURSOR_KEY = "telegram:offset"

#: Update types we ask Telegram for. ``chat_member`` and ``message_reaction`` are only sent
#: when listed explicitly. ``edited_message`` is left out on purpose: an edit is the same
#: post again, and answering it would reply twice to one message.
ALLOWED_UPDATES: tuple[str, ...] = ("message", "chat_member", "my_chat_member", "message_reaction")

#: Telegram's text limit (after entity parsing), counted in UTF-16 code units.
MAX_TEXT = 4096

#: getUpdates returns at most 100 updates, so after a crash at most one batch below the
#: stored offset can come back unconfirmed; only ids in that window are skipped on start.
REDELIVERY_WINDOW = 100

_TOKEN_SHAPE = re.compile(r"\d+:[A-Za-z0-9_-]+")
_CHAT_REF = re.compile(r"@[A-Za-z][A-Za-z0-9_]{3,31}|-?\d+")
_SECRET_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_ATTACHMENT_KINDS = (
    "photo", "video", "animation", "audio", "document", "voice", "video_note", "sticker",
    "contact", "venue", "location", "poll", "dice", "story", "game", "invoice", "paid_media",
)  # fmt: skip


# --------------------------------------------------------------------------- config


class TelegramWebhookConfig(BaseModel):
    """Where PTB's webhook server listens and what Telegram is told to call."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    listen: str = Field(
        "127.0.0.1",
        description="Address the local webhook server binds to. Keep 127.0.0.1 behind a "
        "TLS-terminating reverse proxy; 0.0.0.0 accepts connections from anywhere.",
    )
    port: int = Field(8443, ge=1, le=65535, description="Port the local webhook server uses.")
    url_path: str = Field(
        "telegram", description="Path the local webhook server answers on, e.g. 'telegram'."
    )
    public_url: str = Field(
        description="The https URL Telegram posts updates to (your reverse proxy in front of "
        "listen:port/url_path), e.g. https://bot.example.com/telegram."
    )
    secret_token: SecretStr = Field(
        description="Shared secret Telegram sends in the X-Telegram-Bot-Api-Secret-Token "
        "header; 1-256 characters of A-Z a-z 0-9 _ -. Requests without it get 403."
    )

    @field_validator("secret_token")
    @classmethod
    def _secret_shape(cls, value: SecretStr) -> SecretStr:
        if not _SECRET_SHAPE.fullmatch(value.get_secret_value()):
            raise ValueError("secret_token must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value


class TelegramConfig(BaseModel):
    """Settings of the Telegram network (the ``telegram:`` section of brandbot.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    token: SecretStr = Field(
        description="Bot token from @BotFather, e.g. ${TELEGRAM_TOKEN}; never logged."
    )
    mode: Literal["polling", "webhook"] = Field(
        "polling",
        description="'polling': long-poll getUpdates (no public URL needed, offsets saved "
        "durably). 'webhook': Telegram posts updates to webhook.public_url.",
    )
    poll_timeout: int = Field(
        30, ge=1, le=300, description="Seconds one getUpdates long poll may wait for updates."
    )
    webhook: TelegramWebhookConfig | None = Field(
        None, description="Webhook server settings; required when mode is 'webhook'."
    )
    api_url: str = Field(
        "https://api.telegram.org/bot",
        description="Bot API base URL (the token is appended); change it for a self-hosted "
        "Bot API server.",
    )
    file_url: str = Field(
        "https://api.telegram.org/file/bot",
        description="Bot API file download base URL; change it with api_url.",
    )
    brand_channels: tuple[str, ...] = Field(
        (),
        description="The brand's channels, as numeric ids (-100...) or @usernames. Their posts "
        "forwarded into a chat count as a repost, quoted from another chat as a quote.",
    )
    allowed_chats: tuple[str, ...] = Field(
        (),
        description="Groups the bot works in, as ids or @usernames; empty means every group "
        "it is a member of. Private chats are always allowed.",
    )

    @field_validator("token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        if not _TOKEN_SHAPE.fullmatch(value.get_secret_value()):
            raise ValueError(
                "does not look like a Telegram bot token ('<digits>:<letters>' from @BotFather); "
                "is the environment variable set?"
            )
        return value

    @field_validator("brand_channels", "allowed_chats")
    @classmethod
    def _chat_refs(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for ref in values:
            if not _CHAT_REF.fullmatch(ref.strip()):
                raise ValueError(
                    f"{ref!r} is not a chat reference; use a numeric id such as -1001234567890 "
                    "or an @username"
                )
        return tuple(ref.strip() for ref in values)

    @model_validator(mode="after")
    def _webhook_needs_settings(self) -> TelegramConfig:
        if self.mode == "webhook" and self.webhook is None:
            raise ValueError("mode 'webhook' needs a 'webhook:' section with public_url and "
                             "secret_token")  # fmt: skip
        return self


# ----------------------------------------------------------------------- translation


class ChatSet:
    """A set of chats named by numeric id or @username, as written in the config."""

    def __init__(self, refs: Iterable[str]) -> None:
        refs = list(refs)
        self._ids = {int(r) for r in refs if not r.startswith("@")}
        self._names = {r[1:].lower() for r in refs if r.startswith("@")}

    def __bool__(self) -> bool:
        return bool(self._ids or self._names)

    def __contains__(self, chat: object) -> bool:
        if not isinstance(chat, Chat):
            return False
        return chat.id in self._ids or (chat.username or "").lower() in self._names


@dataclass(frozen=True, slots=True)
class BotIdentity:
    """Who the bot is on Telegram, learnt from getMe; needed to spot mentions and replies."""

    id: int
    username: str  # without the @


def post_id(chat_id: int | str, message_id: int) -> str:
    """brandbot's id of a Telegram message: message ids are only unique within a chat."""
    return f"{chat_id}:{message_id}"


def parse_post_id(value: str) -> tuple[int | str, int]:
    """Split a "chat:message" post id back into its parts."""
    chat, sep, message = value.rpartition(":")
    try:
        if not sep or not chat:
            raise ValueError
        return _chat_id_for_api(chat), int(message)
    except ValueError:
        raise PermanentSendError(
            f"telegram: in_reply_to {value!r} is not a '<chat_id>:<message_id>' post id"
        ) from None


def _chat_id_for_api(chat: str) -> int | str:
    return int(chat) if re.fullmatch(r"-?\d+", chat) else chat


def person_of(user: User) -> Person:
    return Person(network=NETWORK, id=str(user.id), handle=user.username or "", name=user.full_name)


def person_of_chat(chat: Chat) -> Person:
    """Someone posting as one of their channels (Telegram lets users speak as a channel)."""
    return Person(
        network=NETWORK, id=str(chat.id), handle=chat.username or "", name=chat.effective_name or ""
    )


def conversation_of(chat: Chat) -> Conversation:
    return Conversation(
        network=NETWORK,
        id=str(chat.id),
        private=chat.type == Chat.PRIVATE,
        title=chat.effective_name or "",
    )


def _is_member(member: ChatMember) -> bool:
    if member.status in (ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER):
        return True
    return member.status == ChatMember.RESTRICTED and bool(getattr(member, "is_member", False))


def _reaction_label(reaction: ReactionType) -> str:
    if isinstance(reaction, ReactionTypeEmoji):
        return reaction.emoji
    if isinstance(reaction, ReactionTypeCustomEmoji):
        return f"custom:{reaction.custom_emoji_id}"
    return str(reaction.type)  # "paid"


def _attachment_kind(message: Message) -> str | None:
    for kind in _ATTACHMENT_KINDS:
        if getattr(message, kind, None):
            return kind
    return None


class UpdateTranslator:
    """Turns PTB ``Update`` objects into brandbot events. Pure: no I/O, no state."""

    def __init__(self, identity: BotIdentity, brand_channels: ChatSet, allowed_chats: ChatSet):
        self._me = identity
        self._brand = brand_channels
        self._allowed = allowed_chats

    def translate(self, update: Update) -> Event | None:
        if update.message is not None:
            return self._from_message(update, update.message)
        if update.chat_member is not None:
            return self._from_chat_member(update, update.chat_member)
        if update.message_reaction is not None:
            return self._from_reaction(update, update.message_reaction)
        return None

    def blocked_by(self, update: Update) -> str | None:
        """The user id when this update says a person blocked the bot in their private chat."""
        change = update.my_chat_member
        if change is None or change.chat.type != Chat.PRIVATE:
            return None
        if change.new_chat_member.status == ChatMember.BANNED:
            return str(change.chat.id)
        return None

    # -- messages

    def _allowed_chat(self, chat: Chat) -> bool:
        return chat.type == Chat.PRIVATE or not self._allowed or chat in self._allowed

    def _author(self, message: Message) -> Person | None:
        sender_chat = message.sender_chat
        if sender_chat is not None:
            # Posted "as a chat". Anonymous group admins (sender_chat is the group itself)
            # are staff, and the brand's channels are the brand: neither is a follower.
            if sender_chat.id == message.chat.id or sender_chat in self._brand:
                return None
            return person_of_chat(sender_chat)
        user = message.from_user
        if user is None or user.is_bot:
            return None  # other bots (and our own messages) never start a conversation
        return person_of(user)

    def _from_message(self, update: Update, message: Message) -> Event | None:
        chat = message.chat
        if not self._allowed_chat(chat) or message.is_automatic_forward:
            # An automatic forward is the brand channel's own post mirrored into its
            # discussion group: nobody did anything.
            return None
        author = self._author(message)
        text = message.text or message.caption or ""
        attachment = _attachment_kind(message)
        if author is None or (not text and attachment is None):
            return None  # service messages: members joined, title changed, pinned, ...
        private = chat.type == Chat.PRIVATE
        data: list[tuple[str, str]] = []
        if attachment:
            data.append(("attachment", attachment))

        def event(kind: Kind, addressed: bool, **more: Any) -> Event:
            return Event(
                kind=kind,
                network=NETWORK,
                id=f"u{update.update_id}",
                author=author,
                conversation=conversation_of(chat),
                text=text,
                time=message.date,
                post_id=post_id(chat.id, message.message_id),
                addressed=addressed,
                data=tuple(data),
                raw=update,
                **more,
            )

        command = self._command(message)
        if command is not None:
            name, args = command
            return event(Kind.COMMAND, True, command=name, args=args)
        forwarded = self._brand_post(message.forward_origin)
        if forwarded is not None:
            return event(Kind.REPOST, private, refers_to=forwarded)
        if message.external_reply is not None:
            quoted = self._brand_post(message.external_reply.origin)
            if quoted is not None:
                if message.quote is not None:
                    data.append(("quote", message.quote.text))
                return event(Kind.QUOTE, True, refers_to=quoted)
        answered = self._answered_post(message)
        if private:
            return event(Kind.DIRECT, True, refers_to=answered)
        if answered is not None:
            return event(Kind.REPLY, True, refers_to=answered)
        if self._mentions_me(message):
            return event(Kind.MENTION, True)
        return event(Kind.MESSAGE, False)

    def _command(self, message: Message) -> tuple[str, tuple[str, ...]] | None:
        """("name", args) for "/name@me args"; None if not a command or another bot's."""
        text = message.text or ""
        first = message.entities[0] if message.entities else None
        if first is None or first.type != MessageEntity.BOT_COMMAND or first.offset != 0:
            return None
        written = message.parse_entity(first)
        name, _, target = written[1:].partition("@")
        if target and target.lower() != self._me.username.lower():
            return None
        return name.lower(), tuple(text[len(written) :].split())

    def _brand_post(self, origin: MessageOrigin | None) -> str | None:
        if isinstance(origin, MessageOriginChannel) and origin.chat in self._brand:
            return post_id(origin.chat.id, origin.message_id)
        return None

    def _answered_post(self, message: Message) -> str | None:
        """The bot's or the brand's post this message replies to, if it replies to one."""
        target = message.reply_to_message
        if target is None:
            return None
        from_brand = self._brand_post(target.forward_origin)
        if from_brand is not None:
            return from_brand  # e.g. a comment under a brand post in its discussion group
        if target.sender_chat is not None and target.sender_chat in self._brand:
            return post_id(target.chat.id, target.message_id)
        if target.from_user is not None and target.from_user.id == self._me.id:
            return post_id(target.chat.id, target.message_id)
        return None

    def _mentions_me(self, message: Message) -> bool:
        me = "@" + self._me.username.lower()
        kinds: list[str | None] = [MessageEntity.MENTION, MessageEntity.TEXT_MENTION]
        found = {**message.parse_entities(kinds), **message.parse_caption_entities(kinds)}
        for entity, written in found.items():
            if entity.type == MessageEntity.MENTION and written.lower() == me:
                return True
            if (
                entity.type == MessageEntity.TEXT_MENTION
                and entity.user is not None
                and entity.user.id == self._me.id
            ):
                return True
        return False

    # -- members and reactions

    def _from_chat_member(self, update: Update, change: ChatMemberUpdated) -> Event | None:
        chat = change.chat
        if not self._allowed_chat(chat) or chat.type == Chat.PRIVATE:
            return None
        if _is_member(change.old_chat_member) or not _is_member(change.new_chat_member):
            return None
        user = change.new_chat_member.user
        if user.is_bot:
            return None
        data: list[tuple[str, str]] = []
        if change.invite_link is not None:
            data.append(("invite_link", change.invite_link.name or change.invite_link.invite_link))
        if change.via_join_request:
            data.append(("via_join_request", "true"))
        return Event(
            kind=Kind.JOIN,
            network=NETWORK,
            id=f"u{update.update_id}",
            author=person_of(user),
            conversation=conversation_of(chat),
            time=change.date,
            data=tuple(data),
            raw=update,
        )

    def _from_reaction(self, update: Update, change: MessageReactionUpdated) -> Event | None:
        chat = change.chat
        user = change.user
        if not self._allowed_chat(chat) or user is None or user.is_bot:
            return None  # anonymous reactions (actor_chat) have nobody to thank
        added = [r for r in change.new_reaction if r not in change.old_reaction]
        if not added:
            return None  # a reaction was taken back
        return Event(
            kind=Kind.REACTION,
            network=NETWORK,
            id=f"u{update.update_id}",
            author=person_of(user),
            conversation=conversation_of(chat),
            time=change.date,
            refers_to=post_id(chat.id, change.message_id),
            data=(("emoji", _reaction_label(added[0])),),
            raw=update,
        )


# ------------------------------------------------------------------------ durability


class UpdateAcknowledger:
    """Decides how far Telegram may be told "received": never past what the host stored.

    Updates are handled one at a time in update-id order (the Application runs with
    ``concurrent_updates=False``), so "handled below N" is a single number.
    """

    def __init__(self, host: NetworkHost, stored_offset: int | None, stop_grace: float) -> None:
        self._host = host
        self._saved = stored_offset
        self._handled_next = stored_offset or 0
        self._skipping = stored_offset is not None
        self._frozen = False
        self._stopping = False
        self._stop_grace = stop_grace
        self._changed = asyncio.Condition()

    def already_stored(self, update_id: int) -> bool:
        """True for a redelivered update the last run handled but could not confirm."""
        if (
            self._skipping
            and self._saved is not None
            and self._saved - REDELIVERY_WINDOW <= update_id < self._saved
        ):
            return True
        self._skipping = False  # only the first updates after a start can be redeliveries
        return False

    async def handled(self, update_id: int) -> None:
        if self._frozen:
            return
        async with self._changed:
            self._handled_next = update_id + 1
            self._changed.notify_all()

    def freeze(self) -> None:
        """Stop acknowledging: an update could not be handed over; it must come back."""
        self._frozen = True

    def begin_stop(self) -> None:
        self._stopping = True

    async def confirmable(self, offset: int) -> int:
        """Wait until updates below ``offset`` are handled and stored; returns the offset to send.

        While stopping, waits at most the stop grace and then confirms only what is done.
        """
        async with self._changed:
            ready = lambda: self._handled_next >= offset  # noqa: E731
            if self._stopping:
                try:
                    await asyncio.wait_for(self._changed.wait_for(ready), self._stop_grace)
                except TimeoutError:
                    offset = min(offset, self._handled_next)
            else:
                await self._changed.wait_for(ready)
        if offset > 0 and offset != self._saved:
            try:
                await self._host.settled()
                await self._host.save_cursor(CURSOR_KEY, str(offset))
            except Exception as exc:  # the store failed: do not confirm, let PTB back off
                raise tg_error.NetworkError(
                    f"brandbot could not store the update offset: {type(exc).__name__}"
                ) from exc
            self._saved = offset
        return offset


class AcknowledgingBot(ExtBot[None]):
    """An ExtBot whose ``get_updates`` confirms only updates the host has durably handled."""

    __slots__ = ("_acknowledger", "_on_poll_ok")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._acknowledger: UpdateAcknowledger | None = None
        self._on_poll_ok: Callable[[], None] | None = None

    def acknowledge_with(
        self, acknowledger: UpdateAcknowledger, on_poll_ok: Callable[[], None]
    ) -> None:
        """Gate confirmations on ``acknowledger``; call ``on_poll_ok`` after each good poll."""
        self._acknowledger = acknowledger
        self._on_poll_ok = on_poll_ok

    async def get_updates(
        self, offset: int | None = None, *args: Any, **kwargs: Any
    ) -> tuple[Update, ...]:
        if offset and self._acknowledger is not None:
            offset = await self._acknowledger.confirmable(offset)
        updates = await super().get_updates(offset, *args, **kwargs)
        if self._on_poll_ok is not None:
            self._on_poll_ok()
        return updates


# --------------------------------------------------------------------------- sending


def _retry_after_seconds(exc: tg_error.RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def send_error(exc: tg_error.TelegramError, chat: int | str) -> SendError:
    """Map a PTB error to what the outbox should do about it."""
    what = f"telegram: sending to chat {chat} failed: {exc.message}"
    if isinstance(exc, tg_error.RetryAfter):
        delay = _retry_after_seconds(exc)
        return RateLimitedError(f"telegram: flood control for chat {chat}", delay)
    if isinstance(exc, tg_error.Forbidden):
        return PermanentSendError(what, unreachable=True)
    if isinstance(exc, tg_error.ChatMigrated):
        return PermanentSendError(
            f"telegram: group {chat} became supergroup {exc.new_chat_id}; update allowed_chats "
            "and anything that refers to the old id"
        )
    if isinstance(exc, tg_error.BadRequest):
        gone = "chat not found" in exc.message.lower()
        return PermanentSendError(what, unreachable=gone)
    if isinstance(exc, (tg_error.InvalidToken, tg_error.EndPointNotFound)):
        return PermanentSendError(f"telegram: the Bot API rejected the bot token ({exc.message})")
    if isinstance(exc, tg_error.TimedOut):
        return TransientSendError(f"{what} (it may have been delivered)")
    return TransientSendError(what)  # NetworkError (5xx, connection), Conflict, unknown


def split_for_telegram(text: str) -> list[str]:
    """Chunks that fit Telegram's 4096 UTF-16 code units, split at line or word breaks."""
    chunks: list[str] = []
    for chunk in split_text(text, MAX_TEXT):
        if len(chunk.encode("utf-16-le")) // 2 > MAX_TEXT:
            chunks.extend(split_text(chunk, MAX_TEXT // 2))  # no code point is over 2 units
        else:
            chunks.append(chunk)
    return chunks


def bot_commands(specs: Sequence[CommandSpec], log: logging.Logger) -> list[BotCommand]:
    """Valid Telegram commands from the host's list; invalid names are logged and skipped."""
    commands = []
    for spec in specs:
        name = spec.name.lstrip("/").lower()
        if not _COMMAND_NAME.fullmatch(name):
            log.warning("telegram: command %r skipped: names are 1-32 of a-z, 0-9, _", spec.name)
            continue
        commands.append(BotCommand(name, (spec.description or name)[:256]))
    return commands


#: Loggers that print Bot API URLs, which contain the token: httpx logs every request at
#: INFO, PTB's Bot logs its base URLs at DEBUG.
_URL_LOGGERS = ("httpx", "telegram.Bot", "telegram.ext.ExtBot")


class _RedactToken(logging.Filter):
    """Replaces the token in log records of the loggers that print Bot API URLs."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self._token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self._token in message:
            record.msg, record.args = message.replace(self._token, "<token>"), ()
        return True


# --------------------------------------------------------------------------- network


class TelegramNetwork(Network):
    """Telegram bot through python-telegram-bot 22 (long polling or webhook)."""

    name = NETWORK
    Config = TelegramConfig
    requires_summons = False
    limits = RateLimits(
        per_conversation=((1, 1.0),),
        per_group=((20, 60.0),),
        overall=((30, 1.0),),
        max_text=MAX_TEXT,
    )

    def __init__(
        self, config: TelegramConfig, *, clock: Clock | None = None, stop_grace: float = 10.0
    ) -> None:
        """``stop_grace``: seconds stop() waits for queued updates to be stored before giving up."""
        self.config = config
        self._clock = clock or SystemClock()  # unused: Telegram stamps every update itself
        self._stop_grace = stop_grace
        self._host: NetworkHost | None = None
        self._app: Application[Any, Any, Any, Any, Any, Any] | None = None
        self._acknowledger: UpdateAcknowledger | None = None
        self._translator: UpdateTranslator | None = None
        self._identity: BotIdentity | None = None
        self._redact = _RedactToken(config.token.get_secret_value())
        self._degraded = False
        self._partial: dict[int, tuple[str, list[str]]] = {}  # outbox id -> (text, sent ids)

    def __repr__(self) -> str:
        return f"TelegramNetwork(mode={self.config.mode!r})"

    @property
    def identity(self) -> BotIdentity | None:
        """The bot's id and username (from getMe) once started."""
        return self._identity

    # -- lifecycle

    async def start(self, host: NetworkHost) -> None:
        if self._app is not None:
            raise RuntimeError("this TelegramNetwork is already started")
        if self.config.mode == "webhook" and importlib.util.find_spec("tornado") is None:
            raise ConfigError(
                "telegram: mode 'webhook' needs PTB's webhook extra; "
                "pip install 'python-telegram-bot[webhooks]'"
            )
        self._host = host
        host.report_state(NetworkState.CONNECTING)
        for name in _URL_LOGGERS:
            logging.getLogger(name).addFilter(self._redact)
        try:
            await self._start(host)
        except BaseException as exc:
            host.report_state(NetworkState.FAILED, self._redacted(str(exc)))
            await self._close()
            if isinstance(exc, tg_error.InvalidToken):
                raise ConfigError(
                    "telegram: the Bot API rejected the token; check the token from @BotFather"
                ) from None
            raise
        assert self._identity is not None
        host.report_state(NetworkState.READY, f"@{self._identity.username} ({self.config.mode})")

    async def _start(self, host: NetworkHost) -> None:
        config = self.config
        bot = AcknowledgingBot(
            token=config.token.get_secret_value(),
            base_url=config.api_url,
            base_file_url=config.file_url,
            request=HTTPXRequest(connection_pool_size=16),
            get_updates_request=HTTPXRequest(connection_pool_size=1),
        )
        app = ApplicationBuilder().bot(bot).job_queue(None).concurrent_updates(False).build()
        app.add_handler(TypeHandler(Update, self._on_update))
        self._app = app
        if config.mode == "polling":
            stored = await self._load_offset(host)
            self._acknowledger = UpdateAcknowledger(host, stored, self._stop_grace)
            bot.acknowledge_with(self._acknowledger, self._poll_ok)
        await app.initialize()  # getMe
        self._identity = BotIdentity(bot.id, bot.username)
        self._translator = UpdateTranslator(
            self._identity,
            ChatSet(config.brand_channels),
            ChatSet(config.allowed_chats),
        )
        await self._register_commands(host)
        await app.start()
        assert app.updater is not None
        if config.mode == "polling":
            await app.updater.start_polling(
                timeout=config.poll_timeout,
                allowed_updates=list(ALLOWED_UPDATES),
                error_callback=self._poll_error,
            )
        else:
            hook = config.webhook
            assert hook is not None
            await app.updater.start_webhook(
                listen=hook.listen,
                port=hook.port,
                url_path=hook.url_path,
                webhook_url=hook.public_url,
                allowed_updates=list(ALLOWED_UPDATES),
                secret_token=hook.secret_token.get_secret_value(),
            )

    async def _load_offset(self, host: NetworkHost) -> int | None:
        raw = await host.load_cursor(CURSOR_KEY)
        if raw is None:
            return None
        try:
            return int(raw)
        except ValueError:
            host.log.warning("telegram: ignoring unreadable stored offset %r", raw)
            return None

    async def _register_commands(self, host: NetworkHost) -> None:
        """Fill the command menu; a failure here is cosmetic, so it is logged, not raised."""
        assert self._app is not None
        specs = host.commands()
        public = bot_commands([s for s in specs if not s.admin_only], host.log)
        everything = bot_commands(specs, host.log)
        try:
            await self._app.bot.set_my_commands(public, scope=BotCommandScopeDefault())
            if len(everything) > len(public):
                await self._app.bot.set_my_commands(
                    everything, scope=BotCommandScopeAllChatAdministrators()
                )
        except tg_error.TelegramError as exc:
            host.log.warning("telegram: could not register commands: %s", exc.message)

    async def stop_intake(self) -> None:
        """Stop receiving (the Bot calls this first) while send() keeps working for the outbox.

        The Updater's last getUpdates confirms only what was handed over and stored; the
        Application then hands over any update still in its queue (it will be redelivered).
        """
        app = self._app
        if app is None:
            return
        if self._acknowledger is not None:
            self._acknowledger.begin_stop()
        if app.updater is not None and app.updater.running:
            await self._quietly(app.updater.stop())
        if app.running:
            await self._quietly(app.stop())

    async def stop(self) -> None:
        if self._app is None:
            return
        if self._acknowledger is not None:
            self._acknowledger.begin_stop()
        await self._close()
        if self._host is not None:
            self._host.report_state(NetworkState.CLOSED)

    async def _close(self) -> None:
        app, self._app = self._app, None
        try:
            if app is not None:
                # Updater first: its last getUpdates confirms what was handled while the
                # Application still runs the handlers of updates already queued.
                if app.updater is not None and app.updater.running:
                    await self._quietly(app.updater.stop())
                if app.running:
                    await self._quietly(app.stop())
                await self._quietly(app.shutdown())
        finally:
            for name in _URL_LOGGERS:
                logging.getLogger(name).removeFilter(self._redact)

    async def _quietly(self, step: Awaitable[None]) -> None:
        """Run one closing step; a failure is logged so the remaining steps still run."""
        try:
            await step
        except Exception as exc:  # noqa: BLE001 - logged, so the remaining closing steps still run
            self._log.warning("telegram: error while stopping: %s", self._redacted(str(exc)))

    # -- receiving

    @property
    def _log(self) -> logging.Logger:
        return self._host.log if self._host is not None else logging.getLogger(__name__)

    async def _on_update(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The one PTB handler: every update comes here, in order, one at a time."""
        assert isinstance(update, Update) and self._host is not None
        assert self._translator is not None
        host, ack = self._host, self._acknowledger
        if ack is not None and ack.already_stored(update.update_id):
            await ack.handled(update.update_id)
            return
        try:
            event = self._translator.translate(update)
            blocked = self._translator.blocked_by(update)
        except Exception:  # noqa: BLE001 - a malformed update must not stop the stream
            self._log.exception("telegram: could not translate update %s", update.update_id)
            event, blocked = None, None
        try:
            if event is not None:
                await host.submit(event)
            if blocked is not None:
                await self._mark_unreachable(blocked)
        except Exception as exc:  # noqa: BLE001 - logged and reported as DEGRADED
            # Not handed over: stop confirming so Telegram keeps it for the next start.
            if ack is not None:
                ack.freeze()
            self._log.exception("telegram: update %s was not accepted", update.update_id)
            host.report_state(
                NetworkState.DEGRADED,
                f"update {update.update_id} not accepted ({type(exc).__name__}); "
                "restart to receive it again",
            )
            return
        if ack is not None:
            await ack.handled(update.update_id)

    async def _mark_unreachable(self, user_id: str) -> None:
        mark: Callable[[str, str], Awaitable[None]] | None = getattr(
            self._host, "mark_unreachable", None
        )
        if mark is None:
            self._log.info("telegram: user %s blocked the bot", user_id)
            return
        await mark(NETWORK, user_id)

    def _poll_error(self, exc: tg_error.TelegramError) -> None:
        self._degraded = True
        if self._host is not None:
            hint = ""
            if isinstance(exc, tg_error.Conflict):
                hint = " (another process polls with this token, or a webhook is set)"
            self._host.report_state(
                NetworkState.DEGRADED, self._redacted(f"getUpdates failed: {exc.message}{hint}")
            )

    def _poll_ok(self) -> None:
        if self._degraded and self._host is not None:
            self._degraded = False
            self._host.report_state(NetworkState.READY, "polling again")

    def _redacted(self, text: str) -> str:
        return text.replace(self.config.token.get_secret_value(), "<token>")

    # -- sending

    async def send(self, message: Outgoing) -> Sent:
        app = self._app
        if app is None:
            raise TransientSendError("telegram: the network is not started")
        reply = message.reply
        chat = _chat_id_for_api(reply.conversation.id)
        thread: ReplyParameters | None = None
        if reply.in_reply_to:
            reply_chat, reply_message = parse_post_id(reply.in_reply_to)
            thread = ReplyParameters(
                reply_message,
                chat_id=None if str(reply_chat) == str(chat) else reply_chat,
                allow_sending_without_reply=True,
            )
        chunks = split_for_telegram(reply.text)
        # Chunks already delivered by an earlier attempt of this outbox entry are not resent.
        text_before, sent = self._partial.pop(message.outbox_id, (reply.text, []))
        if text_before != reply.text:
            sent = []
        for index in range(len(sent), len(chunks)):
            try:
                posted = await app.bot.send_message(
                    chat_id=chat,
                    text=chunks[index],
                    reply_parameters=thread if index == 0 else None,
                )
            except tg_error.TelegramError as exc:
                error = send_error(exc, chat)
                if sent and not isinstance(error, PermanentSendError):
                    self._partial[message.outbox_id] = (reply.text, sent)
                raise error from exc
            sent.append(post_id(posted.chat.id, posted.message_id))
        return Sent(post_ids=tuple(sent))

    def check_text(self, text: str) -> str | None:
        if not text.strip():
            return "Telegram cannot send an empty message"
        return None
