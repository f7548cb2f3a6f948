"""The audit log: every change a staff member makes from the web UI, who and when.

Kept in the store's own data (namespace ``web.audit``), not tied to a follower, so
``forget`` leaves it: lines name a follower by id only (after a forget the id points at
nobody), never by name. Keys sort by time, so the newest lines are the last keys.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from brandbot.clocks import Clock
from brandbot.store.base import KeyValue

AUDIT_NAMESPACE = "web.audit"


@dataclass(frozen=True, slots=True)
class AuditLine:
    time: str
    user: str
    action: str  # tag | points | export | forget | answer | assign | release | login | logout
    target: str  # "follower 12", "telegram:dm:ana"
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"time": self.time, "user": self.user, "action": self.action, "target": self.target,
                "detail": self.detail}

    @classmethod
    def from_json(cls, value: Any) -> AuditLine:
        if not isinstance(value, dict):
            return cls("", "", "unreadable", "", str(value)[:200])
        return cls(str(value.get("time", "")), str(value.get("user", "")), str(value.get("action", "")),
                   str(value.get("target", "")), str(value.get("detail", "")))


class AuditLog:
    """Appends lines through the store (buffered like every write) and reads them back."""

    def __init__(self, store: KeyValue, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._seq = itertools.count()

    def record(self, user: str, action: str, target: str, detail: str = "") -> AuditLine:
        now: datetime = self._clock.now()
        line = AuditLine(now.isoformat(timespec="microseconds"), user, action, target, detail[:500])
        key = f"{line.time}#{next(self._seq):08d}"
        self._store.kv_set(AUDIT_NAMESPACE, key, json.dumps(line.to_json()))
        return line

    async def latest(self, limit: int = 200) -> list[AuditLine]:
        """The newest lines first."""
        rows = await self._store.kv_items(AUDIT_NAMESPACE)
        lines = []
        for _, raw in rows[-limit:]:
            try:
                lines.append(AuditLine.from_json(json.loads(raw)))
            except ValueError:
                lines.append(AuditLine("", "", "unreadable", "", raw[:200]))
        return lines[::-1]


__all__ = ["AUDIT_NAMESPACE", "AuditLine", "AuditLog"]
