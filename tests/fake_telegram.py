"""A fake Telegram Bot API on 127.0.0.1 that speaks the real wire format.

python-telegram-bot talks to it through its public ``base_url``, so PTB's own request
encoding, response parsing, error mapping and polling loop all run in the tests.

Semantics kept from the real Bot API, because the adapter's durability depends on them:
``getUpdates`` confirms (forgets) every update whose id is below ``offset``, returns the
rest up to ``limit``, long-polls up to ``timeout`` seconds, filters by the remembered
``allowed_updates`` (by default without ``chat_member`` and ``message_reaction``), and a
newer ``getUpdates`` ends a pending one with 409 Conflict. ``sendMessage`` validates text
like Telegram does and returns a realistic Message.

:class:`UpdateFactory` builds update dicts shaped like the ones Telegram sends.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

TOKEN = "123456789:AAH-fake_Token_for_brandbot_tests_0123456"
BOT_ID = 123456789
BOT_USERNAME = "brand_bot"

#: Parameters whose values PTB sends JSON-encoded inside a form field.
_JSON_FIELDS = {
    "reply_parameters", "allowed_updates", "commands", "scope", "entities",
    "caption_entities", "reply_markup", "link_preview_options",
}  # fmt: skip
_INT_FIELDS = {"offset", "limit", "timeout", "chat_id", "message_id", "max_connections"}
#: Update types Telegram leaves out unless allowed_updates names them.
_OPT_IN_TYPES = {"chat_member", "message_reaction", "message_reaction_count"}


def utf16_len(text: str) -> int:
    """Telegram measures text and entity offsets in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class SentMessage:
    """One sendMessage call the fake accepted."""

    chat_id: int | str
    text: str
    reply_parameters: dict[str, Any] | None
    message_id: int
    params: dict[str, Any] = field(repr=False, default_factory=dict)


@dataclass
class _Failure:
    status: int
    description: str
    parameters: dict[str, Any] | None
    times: int
    after: int  # calls to let through first


class UpdateFactory:
    """Builds update dicts the way Telegram shapes them (no update_id: the fake adds it)."""

    def __init__(self, bot_id: int = BOT_ID, bot_username: str = BOT_USERNAME) -> None:
        self.bot = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Brand",
            "username": bot_username,
        }
        self._message_ids = itertools.count(500)

    # -- people and chats

    @staticmethod
    def user(
        user_id: int, first_name: str, username: str | None = None, last_name: str | None = None
    ) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username:
            user["username"] = username
        if last_name:
            user["last_name"] = last_name
        return user

    @staticmethod
    def private_chat(user: dict[str, Any]) -> dict[str, Any]:
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        if "username" in user:
            chat["username"] = user["username"]
        return chat

    @staticmethod
    def group(chat_id: int, title: str, username: str | None = None) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": chat_id, "type": "supergroup", "title": title}
        if username:
            chat["username"] = username
        return chat

    @staticmethod
    def channel(chat_id: int, title: str, username: str | None = None) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": chat_id, "type": "channel", "title": title}
        if username:
            chat["username"] = username
        return chat

    # -- messages

    def message(
        self,
        chat: dict[str, Any],
        sender: dict[str, Any],
        text: str,
        *,
        entities: list[dict[str, Any]] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "from": sender,
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        if entities:
            message["entities"] = entities
        message.update(extra)
        return message

    def private_message(self, user: dict[str, Any], text: str) -> dict[str, Any]:
        return {"message": self.message(self.private_chat(user), user, text)}

    def group_message(
        self, chat: dict[str, Any], user: dict[str, Any], text: str
    ) -> dict[str, Any]:
        return {"message": self.message(chat, user, text)}

    def mention(self, chat: dict[str, Any], user: dict[str, Any], text: str) -> dict[str, Any]:
        """A group message whose text contains @<bot username>, with its mention entity."""
        handle = "@" + self.bot["username"]
        at = text.index(handle)
        entity = {"type": "mention", "offset": utf16_len(text[:at]), "length": utf16_len(handle)}
        return {"message": self.message(chat, user, text, entities=[entity])}

    def text_mention(
        self, chat: dict[str, Any], user: dict[str, Any], text: str, name: str
    ) -> dict[str, Any]:
        """A mention of the bot by display name (no @), as a text_mention entity."""
        at = text.index(name)
        entity = {
            "type": "text_mention",
            "offset": utf16_len(text[:at]),
            "length": utf16_len(name),
            "user": self.bot,
        }
        return {"message": self.message(chat, user, text, entities=[entity])}

    def bot_message(
        self, chat: dict[str, Any], text: str, message_id: int | None = None
    ) -> dict[str, Any]:
        """A message the bot itself sent (to reply to)."""
        message = self.message(chat, self.bot, text)
        if message_id is not None:
            message["message_id"] = message_id
        return message

    def reply(
        self, chat: dict[str, Any], user: dict[str, Any], text: str, to: dict[str, Any]
    ) -> dict[str, Any]:
        return {"message": self.message(chat, user, text, reply_to_message=to)}

    def command(self, chat: dict[str, Any], user: dict[str, Any], text: str) -> dict[str, Any]:
        """A message starting with /command (or /command@bot), with its bot_command entity."""
        written = text.split(maxsplit=1)[0]
        entity = {"type": "bot_command", "offset": 0, "length": utf16_len(written)}
        return {"message": self.message(chat, user, text, entities=[entity])}

    def forwarded_channel_post(
        self,
        chat: dict[str, Any],
        user: dict[str, Any],
        channel: dict[str, Any],
        channel_message_id: int,
        text: str,
    ) -> dict[str, Any]:
        origin = {
            "type": "channel",
            "chat": channel,
            "message_id": channel_message_id,
            "date": int(time.time()) - 60,
        }
        return {"message": self.message(chat, user, text, forward_origin=origin)}

    def channel_quote(
        self,
        chat: dict[str, Any],
        user: dict[str, Any],
        channel: dict[str, Any],
        channel_message_id: int,
        text: str,
        quote: str | None = None,
    ) -> dict[str, Any]:
        """A "reply in another chat" to a channel post: the person's text plus the post."""
        origin = {
            "type": "channel",
            "chat": channel,
            "message_id": channel_message_id,
            "date": int(time.time()) - 60,
        }
        extra: dict[str, Any] = {
            "external_reply": {"origin": origin, "chat": channel, "message_id": channel_message_id}
        }
        if quote:
            extra["quote"] = {"text": quote, "position": 0}
        return {"message": self.message(chat, user, text, **extra)}

    def service_message(self, chat: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
        """The "X joined the group" service message (no text)."""
        message = self.message(chat, user, "", new_chat_members=[user])
        del message["text"]
        return {"message": message}

    # -- members and reactions

    def join(
        self, chat: dict[str, Any], user: dict[str, Any], invite_link_name: str | None = None
    ) -> dict[str, Any]:
        change: dict[str, Any] = {
            "chat": chat,
            "from": user,
            "date": int(time.time()),
            "old_chat_member": {"status": "left", "user": user},
            "new_chat_member": {"status": "member", "user": user},
        }
        if invite_link_name:
            change["invite_link"] = {
                "invite_link": "https://t.me/+AbCdEf...",
                "creator": self.bot,
                "creates_join_request": False,
                "is_primary": False,
                "is_revoked": False,
                "name": invite_link_name,
            }
        return {"chat_member": change}

    def leave(self, chat: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
        return {
            "chat_member": {
                "chat": chat,
                "from": user,
                "date": int(time.time()),
                "old_chat_member": {"status": "member", "user": user},
                "new_chat_member": {"status": "left", "user": user},
            }
        }

    def reaction(
        self,
        chat: dict[str, Any],
        user: dict[str, Any],
        message_id: int,
        emoji: str,
        old: Iterable[str] = (),
    ) -> dict[str, Any]:
        return {
            "message_reaction": {
                "chat": chat,
                "message_id": message_id,
                "user": user,
                "date": int(time.time()),
                "old_reaction": [{"type": "emoji", "emoji": e} for e in old],
                "new_reaction": [{"type": "emoji", "emoji": e} for e in (emoji, *old)],
            }
        }

    def blocked(self, user: dict[str, Any]) -> dict[str, Any]:
        """The user blocked the bot: my_chat_member in their private chat, bot now kicked."""
        return {
            "my_chat_member": {
                "chat": self.private_chat(user),
                "from": user,
                "date": int(time.time()),
                "old_chat_member": {"status": "member", "user": self.bot},
                "new_chat_member": {"status": "kicked", "user": self.bot, "until_date": 0},
            }
        }


class FakeTelegram:
    """The Bot API for one bot, served over plain http on a free 127.0.0.1 port."""

    def __init__(self, token: str = TOKEN, bot_username: str = BOT_USERNAME) -> None:
        self.token = token
        self.updates = UpdateFactory(int(token.split(":")[0]), bot_username)
        self.bot_user = self.updates.bot
        self.port = 0
        self.sent: list[SentMessage] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.webhook: dict[str, Any] | None = None
        self.allowed_updates: list[str] = []
        self._log: list[dict[str, Any]] = []  # every update ever pushed, in id order
        self._confirmed = 0  # updates with a lower id are confirmed (forgotten)
        self._next_update_id = 10_000
        self._chats: dict[int | str, dict[str, Any]] = {}
        self._message_ids: dict[int | str, itertools.count[int]] = {}
        self._failures: dict[str, list[_Failure]] = {}
        self._poll_generation = 0
        self._stopping = False
        self._changed = asyncio.Condition()
        self._wakeups: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None

    # -- lifecycle

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    async def start(self) -> FakeTelegram:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        assert site._server is not None and site._server.sockets
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        async with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- what tests do

    def push(self, update: dict[str, Any]) -> int:
        """Queue an incoming update; returns its update_id."""
        update = dict(update)
        update.setdefault("update_id", self._next_update_id)
        self._next_update_id = max(self._next_update_id, update["update_id"]) + 1
        self._remember_chats(update)
        self._log.append(update)
        wakeup = asyncio.get_running_loop().create_task(self._notify())  # wake long polls
        self._wakeups.add(wakeup)
        wakeup.add_done_callback(self._wakeups.discard)
        return update["update_id"]

    @property
    def confirmed_offset(self) -> int:
        """Every update below this id has been confirmed by a getUpdates offset."""
        return self._confirmed

    def forget_confirmations(self, back_to: int) -> None:
        """Act as if confirmations of updates >= back_to never arrived (a crash before them)."""
        self._confirmed = min(self._confirmed, back_to)

    def fail_next(
        self,
        method: str,
        status: int,
        description: str,
        parameters: dict[str, Any] | None = None,
        times: int = 1,
        after: int = 0,
    ) -> None:
        """Answer ``times`` calls of ``method`` with this error, after letting ``after`` pass."""
        self._failures.setdefault(method.lower(), []).append(
            _Failure(status, description, parameters, times, after)
        )

    def rate_limit_next(
        self, method: str = "sendMessage", retry_after: int = 3, after: int = 0
    ) -> None:
        self.fail_next(
            method,
            429,
            f"Too Many Requests: retry after {retry_after}",
            {"retry_after": retry_after},
            after=after,
        )

    def block_next(self, method: str = "sendMessage") -> None:
        self.fail_next(method, 403, "Forbidden: bot was blocked by the user")

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name.lower() == method.lower()]

    async def wait_until(self, condition: Any, timeout: float = 5.0) -> None:
        """Wait until ``condition()`` holds (re-checked on every call the fake answers)."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(condition), timeout)

    async def post_to_webhook(self, update: dict[str, Any], secret: str | None) -> int:
        """Deliver an update the way Telegram does: POST to the registered webhook URL."""
        assert self.webhook is not None, "no webhook was registered with setWebhook"
        update = dict(update)
        update.setdefault("update_id", self._next_update_id)
        self._next_update_id = max(self._next_update_id, update["update_id"]) + 1
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.webhook["url"], json=update, headers=headers) as resp,
        ):
            return resp.status

    # -- the API

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await self._params(request)
        self.calls.append((method, params))
        try:
            failure = self._take_failure(method)
            if failure is not None:
                return self._error(failure.status, failure.description, failure.parameters)
            handler = getattr(self, f"_api_{method.lower()}", None)
            if handler is None:
                return self._error(404, "Not Found")
            return await handler(params)
        finally:
            await self._notify()

    def _take_failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method.lower())
        if not queue:
            return None
        failure = queue[0]
        if failure.after > 0:
            failure.after -= 1
            return None
        failure.times -= 1
        if failure.times <= 0:
            queue.pop(0)
        return failure

    @staticmethod
    async def _params(request: web.Request) -> dict[str, Any]:
        """Form-encoded, multipart or JSON bodies, plus query parameters; nested values decoded."""
        raw: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            raw.update(await request.json())
        elif request.can_read_body:
            raw.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
        params: dict[str, Any] = {}
        for key, value in raw.items():
            if isinstance(value, str) and key in _JSON_FIELDS:
                value = json.loads(value)
            elif isinstance(value, str) and key in _INT_FIELDS and re.fullmatch(r"-?\d+", value):
                value = int(value)
            params[key] = value
        return params

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error(
        status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=status)

    async def _api_getme(self, params: dict[str, Any]) -> web.Response:
        return self._ok(
            {
                **self.bot_user,
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
                "can_connect_to_business": False,
                "has_main_web_app": False,
            }
        )

    async def _api_deletewebhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook = None
        if _truthy(params.get("drop_pending_updates")):
            self._confirmed = self._next_update_id
        return self._ok(True)

    async def _api_setwebhook(self, params: dict[str, Any]) -> web.Response:
        if not params.get("url"):
            return self._error(400, "Bad Request: bad webhook: An HTTPS URL must be provided")
        self.webhook = params
        if "allowed_updates" in params:
            self.allowed_updates = list(params["allowed_updates"])
        return self._ok(True)

    async def _api_getwebhookinfo(self, params: dict[str, Any]) -> web.Response:
        url = self.webhook["url"] if self.webhook else ""
        return self._ok({"url": url, "has_custom_certificate": False, "pending_update_count": 0})

    async def _api_setmycommands(self, params: dict[str, Any]) -> web.Response:
        scope = params.get("scope") or {"type": "default"}
        self.commands[scope["type"]] = list(params.get("commands", []))
        return self._ok(True)

    async def _api_getmycommands(self, params: dict[str, Any]) -> web.Response:
        scope = params.get("scope") or {"type": "default"}
        return self._ok(self.commands.get(scope["type"], []))

    async def _api_getupdates(self, params: dict[str, Any]) -> web.Response:
        if self.webhook is not None:
            return self._error(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        if "allowed_updates" in params:
            self.allowed_updates = list(params["allowed_updates"])
        if offset > 0:
            self._confirmed = max(self._confirmed, offset)
        async with self._changed:
            self._poll_generation += 1
            mine = self._poll_generation
            self._changed.notify_all()  # a newer poll ends an older one, as on Telegram

            def answer() -> bool:
                superseded = mine != self._poll_generation
                return bool(self._available(limit)) or self._stopping or superseded

            if timeout > 0:
                try:
                    await asyncio.wait_for(self._changed.wait_for(answer), timeout)
                except TimeoutError:
                    pass
            if mine != self._poll_generation:
                return self._error(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only "
                    "one bot instance is running",
                )
            return self._ok(self._available(limit))

    def _available(self, limit: int) -> list[dict[str, Any]]:
        wanted = set(self.allowed_updates) if self.allowed_updates else None
        out = []
        for update in self._log:
            if update["update_id"] < self._confirmed:
                continue
            kind = next(k for k in update if k != "update_id")
            allowed = kind in wanted if wanted is not None else kind not in _OPT_IN_TYPES
            if allowed:
                out.append(update)
            if len(out) >= limit:
                break
        return out

    async def _api_sendmessage(self, params: dict[str, Any]) -> web.Response:
        chat_id = params.get("chat_id")
        text = params.get("text", "")
        if chat_id in (None, ""):
            return self._error(400, "Bad Request: chat_id is empty")
        if not str(text).strip():
            return self._error(400, "Bad Request: message text is empty")
        if utf16_len(text) > 4096:
            return self._error(400, "Bad Request: message is too long")
        chat = self._chat(chat_id)
        counter = self._message_ids.setdefault(chat["id"], itertools.count(9000))
        message: dict[str, Any] = {
            "message_id": next(counter),
            "from": self.bot_user,
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        reply = params.get("reply_parameters")
        if reply and reply.get("chat_id") in (None, chat_id, chat["id"]):
            message["reply_to_message"] = {
                "message_id": reply["message_id"],
                "chat": chat,
                "date": int(time.time()) - 5,
            }
        self.sent.append(SentMessage(chat_id, text, reply, message["message_id"], params))
        return self._ok(message)

    # -- chats

    def _remember_chats(self, update: dict[str, Any]) -> None:
        for body in update.values():
            if isinstance(body, dict) and isinstance(body.get("chat"), dict):
                chat = body["chat"]
                self._chats[chat["id"]] = chat
                if chat.get("username"):
                    self._chats["@" + chat["username"]] = chat

    def _chat(self, chat_id: int | str) -> dict[str, Any]:
        if chat_id in self._chats:
            return self._chats[chat_id]
        if isinstance(chat_id, int) and chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": "Someone"}
        if isinstance(chat_id, int):
            return {"id": chat_id, "type": "supergroup", "title": "Some group"}
        return {"id": -1009999999999, "type": "channel", "title": chat_id, "username": chat_id[1:]}


def _truthy(value: Any) -> bool:
    return value in (True, "true", "True", "1", 1)
