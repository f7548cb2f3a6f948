"""Which worker reads which partition: leases in Redis, spread by rendezvous hashing.

A partition is read by one worker at a time, so one person's events are handled in order.
Each worker beats a heartbeat into ``workers`` (a sorted set scored with Redis's clock);
from the live set every worker computes the same owner for every partition
(:func:`~brandbot.scale.streams.owner_of`) and takes the lease (``SET NX PX``) of the
partitions it should own once they are free. Leases are renewed while the worker lives.
A worker killed with SIGKILL stops renewing: within ``lease`` seconds its heartbeat is
dropped and its leases expire, the other workers take its partitions and claim its
pending entries (XAUTOCLAIM). A worker that is no longer the owner (a new worker joined)
finishes its batch and then gives the partition up.
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis

from brandbot.scale.streams import Keys, owner_of

log = logging.getLogger("brandbot.scale.worker")

# KEYS[1] lease key; ARGV[1] me, ARGV[2] ms. Renew only a lease that is still mine.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
# KEYS[1] lease key; ARGV[1] me. Give up a lease only if it is still mine.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
# KEYS[1] workers zset; ARGV[1] me, ARGV[2] lease ms. Heartbeat, drop the silent, list the live.
_BEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""


class Leases:
    """The partitions this worker holds, and the ones it has just gained or must give up."""

    def __init__(self, redis: Redis, keys: Keys, me: str, lease: float) -> None:
        self._redis = redis
        self._keys = keys
        self.me = me
        self._ms = max(1000, round(lease * 1000))
        self._beat = redis.register_script(_BEAT)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self.held: set[int] = set()
        self.gained: set[int] = set()  # taken since the reader last looked: claim their pending first
        self.unwanted: set[int] = set()  # held, but another worker should own them now
        self.live: list[str] = []

    async def tick(self) -> None:
        """Heartbeat, renew what is held, take what should be ours and is free."""
        raw = await self._beat(keys=[self._keys.workers], args=[self.me, self._ms])
        self.live = sorted(w.decode() if isinstance(w, bytes) else str(w) for w in raw)
        if self.me not in self.live:
            self.live.append(self.me)
        for partition in sorted(self.held):
            if not await self._renew(keys=[self._keys.lease(partition)], args=[self.me, self._ms]):
                log.warning("lost the lease of partition %d (renewed too late?); stopped reading it", partition)
                self.held.discard(partition)
                self.gained.discard(partition)
        wanted = {p for p in range(self._keys.partitions) if owner_of(p, self.live) == self.me}
        self.unwanted = self.held - wanted
        for partition in sorted(wanted - self.held):
            if await self._redis.set(self._keys.lease(partition), self.me, nx=True, px=self._ms):
                self.held.add(partition)
                self.gained.add(partition)
                log.info("worker %s took partition %d", self.me, partition)

    async def still_mine(self, partitions: list[int]) -> set[int]:
        """The ``partitions`` whose lease in Redis is still this worker's (one round trip).

        A batch is checked before it is handled: one read before Redis crashed (it lost
        the leases, and the gateway appends the events again for whoever holds the
        partition now) or before this worker stalled past its lease (another worker
        claimed the entries) must not be handled here too. Those not ours are forgotten.
        """
        async with self._redis.pipeline(transaction=False) as pipe:
            for partition in partitions:
                pipe.get(self._keys.lease(partition))
            owners = await pipe.execute()
        mine = {p for p, owner in zip(partitions, owners)
                if (owner.decode() if isinstance(owner, bytes) else owner) == self.me}
        for partition in set(partitions) - mine:
            if partition in self.held:
                log.warning("worker %s no longer holds partition %d (lease lost); stopped reading it",
                            self.me, partition)
            self.held.discard(partition)
            self.gained.discard(partition)
            self.unwanted.discard(partition)
        return mine

    async def give_up(self, partition: int) -> None:
        """Release a partition (its batch is committed and acknowledged)."""
        await self._release(keys=[self._keys.lease(partition)], args=[self.me])
        self.held.discard(partition)
        self.unwanted.discard(partition)
        self.gained.discard(partition)
        log.info("worker %s gave partition %d to another worker", self.me, partition)

    async def give_up_all(self) -> None:
        for partition in sorted(self.held):
            await self.give_up(partition)
        await self._redis.zrem(self._keys.workers, self.me)


__all__ = ["Leases"]
