"""The JSON-lines event format shared by ``brandbot simulate``, the feed network and replays.

One JSON object per line, e.g. ``{"kind": "mention", "author": "ana", "text": "hi"}``.
Pure parsing: errors name the line and the field to fix.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from brandbot.core.errors import ConfigError
from brandbot.core.events import Conversation, Event, Kind, Person

#: The fields of an input line and the JSON types each may have.
_NULLABLE = frozenset({"refers_to", "conversation", "post_id"})
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "id": (str, int), "kind": (str,), "author": (str, int), "handle": (str,), "name": (str,),
    "text": (str,), "network": (str,), "conversation": (str, int), "private": (bool,), "addressed": (bool,),
    "time": (str,), "post_id": (str, int), "refers_to": (str, int), "data": (dict,),
}
_TYPE_NAMES = {str: "text", int: "a number", bool: "true or false", dict: "an object of texts"}


def _check_fields(text: str, where: str) -> None:
    """Reject lines whose fields ``parse_event`` would misread (null ids become "None",
    a bad time raises ValueError) with an error naming the line and the field."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return  # parse_event reports it with the column
    if not isinstance(obj, dict):
        return
    for key, types in _FIELD_TYPES.items():
        if key not in obj or (obj[key] is None and key in _NULLABLE):
            continue
        value = obj[key]
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            expected = " or ".join(_TYPE_NAMES[t] for t in types)
            raise ConfigError(f"'{key}' must be {expected}, not {json.dumps(value)[:40]}", where)
        if key in ("id", "author") and str(value).strip() == "":
            raise ConfigError(f"'{key}' must not be empty", where)
    if "time" in obj:
        try:
            datetime.fromisoformat(obj["time"])
        except ValueError:
            raise ConfigError(
                f"'time' must be an ISO 8601 date-time like 2025-05-01T10:00:00Z, not {obj['time'][:40]!r}", where
            ) from None


def parse_event(line: str, number: int, source: str = "stdin") -> Event:
    """One JSON object -> Event. Errors name the line and the missing or bad field."""
    where = f"{source}:{number}"
    _check_fields(line, where)
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not valid JSON ({exc.msg} at column {exc.colno})", where) from None
    if not isinstance(obj, dict):
        raise ConfigError("each line must be a JSON object like {\"kind\": \"mention\", \"author\": \"ana\", \"text\": \"hi\"}", where)
    try:
        kind = Kind.parse(str(obj.get("kind", "direct")))
    except ValueError as exc:
        raise ConfigError(str(exc), where) from None
    author = obj.get("author")
    if not author:
        raise ConfigError("missing 'author' (the person's id or handle)", where)
    network = str(obj.get("network", "console"))
    text = str(obj.get("text", ""))
    private = bool(obj.get("private", kind is Kind.DIRECT))
    conversation = str(obj.get("conversation") or (f"dm:{author}" if private else "public"))
    command: str | None = None
    args: tuple[str, ...] = ()
    if kind is Kind.COMMAND:
        head, *rest = (text.lstrip("/").split() or [""])
        command, args = head.lower(), tuple(rest)
    when = obj.get("time")
    time = datetime.fromisoformat(when) if when else None
    if time is not None and time.tzinfo is None:
        time = time.replace(tzinfo=UTC)
    return Event(
        kind=kind, network=network, id=str(obj.get("id", f"sim{number}")),
        author=Person(network, str(author), handle=str(obj.get("handle", author)), name=str(obj.get("name", str(author).capitalize()))),
        conversation=Conversation(network, conversation, private=private),
        text=text, time=time or datetime.now(UTC), post_id=str(obj.get("post_id", f"sim{number}")),
        refers_to=obj.get("refers_to"), addressed=bool(obj.get("addressed", kind in (Kind.DIRECT, Kind.MENTION, Kind.REPLY, Kind.QUOTE, Kind.COMMAND))),
        command=command, args=args, data=_data(obj.get("data"), where),
    )


def _data(value: object, where: str) -> tuple[tuple[str, str], ...]:
    """``"data": {"blog": "saltandpages.example"}``: the small extra facts a network attaches."""
    if not isinstance(value, dict):
        return ()
    bad = [k for k, v in value.items() if not isinstance(v, str | int | float) or isinstance(v, bool)]
    if bad:
        raise ConfigError(f"'data' values must be text or numbers; {bad[0]!r} is not", where)
    return tuple((str(k), str(v)) for k, v in value.items())
