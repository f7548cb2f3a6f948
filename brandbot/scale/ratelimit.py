"""Platform rate limits shared by every process of a brand, kept in Redis.

The single-process outbox keeps its sliding windows in memory (``runtime/ratelimit.py``).
Several processes sending for one bot account must count together, or N of them would
send N times the platform's limit. Each window (network-wide, all DMs, one chat) is a
sorted set of send times in Redis; one Lua script checks every window that applies to a
send and records the send in all of them only if all have room, atomically, on Redis's
own clock (so the processes' clocks need not agree).

The platform counts a message when it *arrives*, which is some time after the grant (a
busy process, a slow connection). So a granted send counts as "in flight, arriving any
moment" until the platform has answered it, and is then scored with the time of the
answer, after its arrival. The next send that this one's window holds back is granted
only a full window after that: the arrivals are a window apart however late the first
one travelled, without guessing a safety margin.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from dataclasses import dataclass

from redis.asyncio import Redis

from brandbot.networks.base import RateLimits, Window
from brandbot.scale.streams import Keys

# KEYS: one sorted set per window. ARGV: count and span (microseconds) per window, the
# in-flight horizon, then a unique member. Returns 0 when the send was recorded, else the
# microseconds to wait before asking again. Times are Redis's, in microseconds (exact in a
# double until the year 2255), so "a window apart" holds to the microsecond.
# A send is recorded as "in flight" (scored IN_FLIGHT_US in the future: it may arrive at
# any moment) until DONE scores it with the time it was answered; a window whose edge is
# a send still in flight is asked again soon.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local horizon = tonumber(ARGV[#ARGV - 1])
local wait = 0
for i, key in ipairs(KEYS) do
  local count = tonumber(ARGV[2 * i - 1])
  local span = tonumber(ARGV[2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - span)
  local n = redis.call('ZCARD', key)
  if n >= count then
    local edge = redis.call('ZRANGE', key, n - count, n - count, 'WITHSCORES')
    local ready = tonumber(edge[2]) + span - now
    if tonumber(edge[2]) > now then ready = 25000 end
    if ready > wait then wait = ready end
  end
end
if wait > 0 then return wait end
local member = ARGV[#ARGV]
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + horizon, member)
  redis.call('PEXPIRE', key, math.ceil((tonumber(ARGV[2 * i]) + horizon) / 1000))
end
return 0
"""
# KEYS: the windows of one send; ARGV[1] its member. The send was answered: score it now.
_DONE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', now, ARGV[1])
end
return 0
"""

#: How long a send may stay "in flight" in the windows (a process that died mid-send, or
#: could not report the answer, leaves its entries; they count as arrived after this).
IN_FLIGHT_US = 20_000_000


@dataclass(frozen=True, slots=True)
class Ticket:
    """A send granted by the limiter: pass it to ``done`` once the platform answered."""

    keys: tuple[str, ...]
    member: str


@dataclass(frozen=True, slots=True)
class WindowKey:
    """One window a send counts against: its Redis key and its limit."""

    key: str
    count: int
    span_us: int


def windows_for(keys: Keys, network: str, limits: RateLimits, conversation: str, private: bool,
                margin: float) -> list[WindowKey]:
    """The windows one send counts against (what ``RateGate`` applies in one process).

    ``margin`` seconds are added to each window's span (0 by default: the in-flight
    accounting already keeps arrivals a window apart; a margin covers clock drift).
    """
    out: list[WindowKey] = []

    def add(scope: str, specs: tuple[Window, ...]) -> None:
        for i, (count, seconds) in enumerate(specs):
            out.append(WindowKey(keys.rate(network, f"{scope}:{i}"), count, round((seconds + margin) * 1_000_000)))

    add("all", limits.overall)
    if private:
        add("dm", limits.private_overall)
    add(f"chat:{conversation}", limits.per_conversation)
    if not private:
        add(f"group:{conversation}", limits.per_group)
    return out


class SharedRateLimiter:
    """Waits for a turn to send, counted across every process that uses the same Redis."""

    def __init__(self, redis: Redis, keys: Keys, *, margin: float = 0.0) -> None:
        self._redis = redis
        self._keys = keys
        self._margin = margin
        self._take = redis.register_script(_TAKE)
        self._done = redis.register_script(_DONE)
        self._ids = itertools.count()
        self._me = f"{os.getpid()}-{id(self):x}"

    async def try_take(self, network: str, limits: RateLimits, conversation: str,
                       private: bool) -> tuple[float, Ticket | None]:
        """Record one send if every window has room: (0.0, ticket); else (seconds to wait, None)."""
        windows = windows_for(self._keys, network, limits, conversation, private, self._margin)
        if not windows:
            return 0.0, None
        args: list[str | int] = []
        for w in windows:
            args += [w.count, w.span_us]
        member = f"{self._me}-{next(self._ids)}"
        args += [IN_FLIGHT_US, member]
        keys = tuple(w.key for w in windows)
        wait_us = int(await self._take(keys=list(keys), args=args))
        if wait_us > 0:
            return wait_us / 1_000_000, None
        return 0.0, Ticket(keys, member)

    async def take(self, network: str, limits: RateLimits, conversation: str, private: bool) -> Ticket | None:
        """Wait until a send may go and record it as in flight (None: no window applies)."""
        while True:
            wait, ticket = await self.try_take(network, limits, conversation, private)
            if wait <= 0:
                return ticket
            await asyncio.sleep(wait)

    async def done(self, ticket: Ticket | None) -> None:
        """The platform answered the send (delivered or not): it counts from now on."""
        if ticket is not None:
            await self._done(keys=list(ticket.keys), args=[ticket.member])


__all__ = ["IN_FLIGHT_US", "SharedRateLimiter", "Ticket", "WindowKey", "windows_for"]
