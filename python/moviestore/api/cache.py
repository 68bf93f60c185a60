"""The two caches in front of PostgreSQL, both bound to the catalog version.

* ``LocalCache``: answers in this process's memory, looked up before any Python handler runs
  (a Redis round trip per request would cost more than the whole answer). Emptied when the
  catalog version changes, so it is never staler than Redis.
* ``SharedCache``: Redis, shared by every process and pod, keyed by version, through one
  pipelined connection per process (``redis_pipe``). A short timeout; after a failure Redis is
  left alone for a moment (a circuit breaker), so Redis being down or slow costs one timeout,
  not one per request, and answers come from PostgreSQL.
* ``SingleFlight``: one database query per key at a time inside a process (no stampede).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from moviestore.api import metrics
from moviestore.api.redis_pipe import PipelinedRedis
from moviestore.logs import event

log = logging.getLogger("moviestore.api.cache")


@dataclass(frozen=True, slots=True)
class Answer:
    """A serialised 200 answer and its validator."""

    body: bytes
    etag: str

    @classmethod
    def of(cls, body: bytes) -> Answer:
        return cls(body, '"' + hashlib.blake2b(body, digest_size=10).hexdigest() + '"')


class LocalCache:
    def __init__(self, max_entries: int, max_bytes: int, ttl_seconds: float):
        self.max_entries, self.max_bytes, self.ttl = max_entries, max_bytes, ttl_seconds
        self.version: int | None = None
        self.entries: dict[Hashable, tuple[float, Answer]] = {}
        self.bytes = 0

    def get(self, key: Hashable) -> Answer | None:
        found = self.entries.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, key: Hashable, answer: Answer, version: int | None) -> None:
        """Kept only if the catalog did not change while the answer was being computed."""
        size = len(answer.body)
        if version is None or version != self.version or size > self.max_bytes:
            return
        old = self.entries.pop(key, None)
        if old is not None:
            self.bytes -= len(old[1].body)
        while self.entries and (
            len(self.entries) >= self.max_entries or self.bytes + size > self.max_bytes
        ):
            # Oldest first (dicts keep insertion order): cheap, and hits never pay for LRU.
            _, evicted = self.entries.pop(next(iter(self.entries)))
            self.bytes -= len(evicted.body)
        if len(self.entries) < self.max_entries:
            self.entries[key] = (time.monotonic() + self.ttl, answer)
            self.bytes += size

    def switch(self, version: int) -> bool:
        """Adopt a newer catalog version; True when it changed (and the answers were dropped)."""
        if self.version is not None and version <= self.version:
            return False
        self.version, self.entries, self.bytes = version, {}, 0
        return True


class SharedCache:
    """Best effort: whatever goes wrong with Redis (refused, lost, slow, an error reply, or a
    fault of the client itself) is logged, counted and answered from PostgreSQL."""

    def __init__(self, url: str, timeout: float, ttl_seconds: int, pause_seconds: float = 2.0):
        self.client = PipelinedRedis(url, timeout)
        self.timeout, self.ttl, self.pause = timeout, ttl_seconds, pause_seconds
        self.paused_until = 0.0

    @property
    def available(self) -> bool:
        return time.monotonic() >= self.paused_until

    async def get(self, key: str) -> bytes | None:
        if not self.available:
            metrics.REDIS["skipped"].inc()
            return None
        try:
            found = await self.client.get(key)
        except Exception as e:  # see the class
            self.failed(e)
            return None
        metrics.REDIS["miss" if found is None else "hit"].inc()
        return found

    async def put(self, key: str, body: bytes) -> None:
        if not self.available:
            return
        try:
            await self.client.set(key, body, self.ttl)
        except Exception as e:  # see the class
            self.failed(e)

    async def ping(self) -> bool:
        try:
            return await self.client.ping(max(self.timeout, 0.5))
        except Exception:  # down is the answer
            return False

    def failed(self, error: BaseException) -> None:
        metrics.REDIS["error"].inc()
        if self.available:
            event(log, logging.WARNING, "Redis unavailable; answering from PostgreSQL",
                  error=repr(error), pause_seconds=self.pause)  # fmt: skip
        self.paused_until = time.monotonic() + self.pause

    async def close(self) -> None:
        self.client.close()


class SingleFlight:
    def __init__(self) -> None:
        self.calls: dict[str, asyncio.Future[Answer]] = {}

    async def run(self, key: str, compute: Callable[[], Awaitable[Answer]]) -> Answer:
        running = self.calls.get(key)
        if running is not None:
            metrics.FLIGHT_JOINED.inc()
            return await asyncio.shield(running)
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self.calls[key] = future
        try:
            answer = await compute()
        except BaseException as e:
            future.set_exception(e)
            future.exception()  # retrieved: no "never retrieved" warning when nobody joined
            raise
        finally:
            del self.calls[key]
        future.set_result(answer)
        return answer
