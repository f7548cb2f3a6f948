"""GDPR export: everything held on one person, as readable JSON."""

from __future__ import annotations

import dataclasses
import enum
import json
from datetime import datetime
from typing import Any

from brandbot.core.records import FollowerExport


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, frozenset | set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def export_json(data: FollowerExport | None) -> str:
    if data is None:
        return "null"
    return json.dumps(_plain(data), ensure_ascii=False, indent=2)
