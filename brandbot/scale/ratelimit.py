"""Platform rate limits shared by every process of a brand, kept in Redis.

The single-process outbox keeps its sliding windows in memory (``runtime/ratelimit.py``).
Several processes sending for one bot account must count together, or N of them would
send N times the platform's limit. Each window (network-wide, all DMs, one chat) is a
sorted set of send times in Redis; one Lua script checks every window that applies to a
send and records the send in all of them only if all have room, atomically, on Redis's
own clock (so the processes' clocks need not agree).
"""

from __future__ import annotations

import asyncio
import itertools
import os
from dataclasses import dataclass

from redis.asyncio import Redis

from brandbot.networks.base import RateLimits, Window
from brandbot.scale.streams import Keys

# KEYS: one sorted set per window. ARGV: count and span (ms) per window, then a unique member.
# Returns 0 when the send was recorded, else the milliseconds to wait before asking again.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
for i, key in ipairs(KEYS) do
  local count = tonumber(ARGV[2 * i - 1])
  local span = tonumber(ARGV[2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - span)
  local n = redis.call('ZCARD', key)
  if n >= count then
    local edge = redis.call('ZRANGE', key, n - count, n - count, 'WITHSCORES')
    local ready = tonumber(edge[2]) + span - now
    if ready > wait then wait = ready end
  end
end
if wait > 0 then return wait end
local member = ARGV[#ARGV]
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, tonumber(ARGV[2 * i]))
end
return 0
"""


@dataclass(frozen=True, slots=True)
class WindowKey:
    """One window a send counts against: its Redis key and its limit."""

    key: str
    count: int
    span_ms: int


def windows_for(keys: Keys, network: str, limits: RateLimits, conversation: str, private: bool,
                margin: float) -> list[WindowKey]:
    """The windows one send counts against (what ``RateGate`` applies in one process).

    ``margin`` seconds are added to each window's span: the platform measures when a
    message arrives, and two sends granted exactly one span apart may arrive closer.
    """
    out: list[WindowKey] = []

    def add(scope: str, specs: tuple[Window, ...]) -> None:
        for i, (count, seconds) in enumerate(specs):
            out.append(WindowKey(keys.rate(network, f"{scope}:{i}"), count, round((seconds + margin) * 1000)))

    add("all", limits.overall)
    if private:
        add("dm", limits.private_overall)
    add(f"chat:{conversation}", limits.per_conversation)
    if not private:
        add(f"group:{conversation}", limits.per_group)
    return out


class SharedRateLimiter:
    """Waits for a turn to send, counted across every process that uses the same Redis."""

    def __init__(self, redis: Redis, keys: Keys, *, margin: float = 0.1) -> None:
        self._redis = redis
        self._keys = keys
        self._margin = margin
        self._script = redis.register_script(_TAKE)
        self._ids = itertools.count()
        self._me = f"{os.getpid()}-{id(self):x}"

    async def try_take(self, network: str, limits: RateLimits, conversation: str, private: bool) -> float:
        """Record one send if every window has room (0.0), else the seconds to wait first."""
        windows = windows_for(self._keys, network, limits, conversation, private, self._margin)
        if not windows:
            return 0.0
        args: list[str | int] = []
        for w in windows:
            args += [w.count, w.span_ms]
        args.append(f"{self._me}-{next(self._ids)}")
        wait_ms = await self._script(keys=[w.key for w in windows], args=args)
        return int(wait_ms) / 1000.0

    async def take(self, network: str, limits: RateLimits, conversation: str, private: bool) -> float:
        """Wait until a send may go and record it; returns the seconds waited."""
        waited = 0.0
        while True:
            wait = await self.try_take(network, limits, conversation, private)
            if wait <= 0:
                return waited
            await asyncio.sleep(wait)
            waited += wait


__all__ = ["SharedRateLimiter", "WindowKey", "windows_for"]
