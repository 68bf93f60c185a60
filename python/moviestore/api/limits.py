"""Rate limits per key: a token bucket per key in each process's memory, reconciled with one
bucket per key in Redis every ``api_rate_limit_sync_ms``, so that a request never waits for
Redis and a key's limit still holds across processes and pods.

A key's limit is ``rate`` requests a second with a burst of one second's worth (``rate``).

* Each process admits a key's request from its local bucket when it holds a token; the
  bucket refills at ``rate / n`` and holds at most ``max(1, rate / n)``, ``n`` being how many
  processes served the key lately (as Redis counts them) or, before this process first heard
  from Redis about the key and while Redis is down, ``api_rate_limit_processes`` (the
  deployment's share: each process limits the key on its own share of the rate).
* Every sync, a process sends what it admitted per key since the last one to Redis (one
  script for all its keys: ``SYNC``), which refills the key's shared bucket (up to ``rate``),
  takes the admitted requests from it (down to a debt of one burst at most) and answers the
  tokens left and ``n``. The process then sets its local bucket to its share of what is left.

The overshoot is bounded: the shares handed out at one time add up to at most what the shared
bucket held when each process last synced, so beyond the bucket's own ``burst + rate x t`` in
any ``t`` seconds a key gets at most one more burst (``rate``), plus, for each process that
starts serving the key, its starting share (``rate / api_rate_limit_processes``) before its
first sync. Redis down, each process admits at most ``rate / api_rate_limit_processes`` a
second (and that burst): across ``api_rate_limit_processes`` processes, the limit itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import time

from moviestore.api import metrics
from moviestore.api.redis_pipe import PipelinedRedis
from moviestore.logs import event

log = logging.getLogger("moviestore.api.limits")

# A key not used on a process for this long is forgotten there.
IDLE_SECONDS = 30.0
# Processes that synced a key within this long count in its ``n``.
ACTIVE_SECONDS = 2.0

# KEYS: per key its bucket hash and its set of processes. ARGV: the process, ACTIVE_SECONDS,
# then per key its rate and the requests admitted since the last sync. Answers per key: the
# tokens left (a string: Lua numbers become integers on the way out) and n.
SYNC = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local process, active = ARGV[1], tonumber(ARGV[2])
local out = {}
for i = 1, #KEYS / 2 do
  local bucket, processes = KEYS[2 * i - 1], KEYS[2 * i]
  local rate, admitted = tonumber(ARGV[2 * i + 1]), tonumber(ARGV[2 * i + 2])
  local held = redis.call('HMGET', bucket, 'tokens', 'stamp')
  local tokens, stamp = tonumber(held[1]) or rate, tonumber(held[2]) or now
  tokens = math.max(-rate, math.min(rate, tokens + (now - stamp) * rate) - admitted)
  redis.call('HSET', bucket, 'tokens', tostring(tokens), 'stamp', tostring(now))
  redis.call('EXPIRE', bucket, 60)
  redis.call('ZADD', processes, now, process)
  redis.call('ZREMRANGEBYSCORE', processes, '-inf', now - active)
  redis.call('EXPIRE', processes, 60)
  out[#out + 1] = tostring(tokens)
  out[#out + 1] = redis.call('ZCARD', processes)
end
return out
"""


class Bucket:
    __slots__ = ("admitted", "cap", "level", "rate", "share", "stamp", "used")

    def __init__(self, rate: int, share: int, now: float):
        self.rate = rate
        self.admitted = 0  # since the last sync
        self.used = now
        self.set_share(share)
        self.level, self.stamp = self.cap, now

    def set_share(self, share: int) -> None:
        self.share = share
        self.cap = max(1.0, self.rate / share)


class RateLimiter:
    def __init__(self, redis: PipelinedRedis, processes: int, sync_seconds: float):
        self.redis, self.processes, self.sync_seconds = redis, processes, sync_seconds
        self.buckets: dict[str, Bucket] = {}
        self.process = f"{os.uname().nodename}:{os.getpid()}"
        self.task: asyncio.Task[None] | None = None
        self.redis_up = True

    def take(self, name: str, rate: int) -> tuple[float, float]:
        """``(wait, left)``: 0 and the tokens left when the request is admitted, else the
        seconds until this process can admit the key's next one."""
        now = time.monotonic()
        bucket = self.buckets.get(name)
        if bucket is None or bucket.rate != rate:
            bucket = self.buckets[name] = Bucket(rate, self.processes, now)
        level = min(bucket.cap, bucket.level + (now - bucket.stamp) * bucket.rate / bucket.share)
        bucket.stamp, bucket.used = now, now
        if level >= 1.0:
            bucket.level = level - 1.0
            bucket.admitted += 1
            return 0.0, bucket.level
        bucket.level = level
        return (1.0 - level) * bucket.share / bucket.rate, level

    def state(self, name: str) -> tuple[float, float]:
        """``(left, wait)`` of a key's bucket here, without taking a token."""
        bucket = self.buckets.get(name)
        if bucket is None:
            return 0.0, 0.0
        level = min(bucket.cap, bucket.level + (time.monotonic() - bucket.stamp) * bucket.rate
                    / bucket.share)  # fmt: skip
        return level, 0.0 if level >= 1.0 else (1.0 - level) * bucket.share / bucket.rate

    # --- the reconciliation with Redis -----------------------------------------------------

    def start(self) -> None:
        self.process = f"{os.uname().nodename}:{os.getpid()}"  # after the fork
        self.task = asyncio.get_running_loop().create_task(self.follow())

    async def follow(self) -> None:
        while True:
            await asyncio.sleep(self.sync_seconds)
            try:
                await self.sync()
            except Exception:  # never let the loop die; the next round tries again
                log.exception("rate limit sync failed")

    async def sync(self) -> None:
        now = time.monotonic()
        for name in [n for n, b in self.buckets.items() if now - b.used > IDLE_SECONDS]:
            del self.buckets[name]
        if not self.buckets:
            return
        names = list(self.buckets)
        sent = [self.buckets[n].admitted for n in names]
        keys: list[str] = []
        argv: list[str | int] = [self.process, str(ACTIVE_SECONDS)]
        for name, admitted in zip(names, sent, strict=True):
            keys += [f"ratelimit:{name}", f"ratelimit:{name}:processes"]
            argv += [self.buckets[name].rate, admitted]
            self.buckets[name].admitted = 0
        try:
            reply = await self.redis.execute("EVAL", SYNC, len(keys), *keys, *argv)
        except Exception as e:  # down, slow or failing: each process on its own share
            self.fall_back(e)
            return
        if not self.redis_up:
            event(log, logging.INFO, "rate limits shared through Redis again")
            self.redis_up = True
        for i, name in enumerate(names):
            bucket = self.buckets.get(name)
            if bucket is None:
                continue
            tokens, share = float(reply[2 * i]), max(1, int(reply[2 * i + 1]))
            bucket.set_share(share)
            # What was admitted while the reply was on its way is the next sync's.
            bucket.level = min(bucket.cap, max(0.0, tokens) / share) - bucket.admitted
            bucket.stamp = time.monotonic()
        metrics.RATE_LIMIT_SYNCS["ok"].inc()

    def fall_back(self, error: BaseException) -> None:
        metrics.RATE_LIMIT_SYNCS["failed"].inc()
        if self.redis_up:
            event(log, logging.WARNING, "rate limits cannot sync through Redis; each process "
                  "limits on its own share", error=repr(error), share=self.processes)  # fmt: skip
            self.redis_up = False
        for bucket in self.buckets.values():
            bucket.set_share(self.processes)
            bucket.level = min(bucket.level, bucket.cap)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        self.redis.close()


def retry_after(wait: float) -> int:
    return max(1, math.ceil(wait))
