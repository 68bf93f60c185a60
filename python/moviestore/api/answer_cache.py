"""Cached answers, and the one owner of them: ``AnswerCache``.

An answer is cached with the catalog version it was computed at and what it depends on (a
movie, a list query's filters, the genres: ``api/changes.py``). At a newer version it is still
served if no change since touched what it depends on, with the same bytes and ETag (so clients'
conditional requests keep answering 304); otherwise it is answered again. Providers uploading
all day thus leave almost every cached answer in place.

* ``LocalAnswers``: this process's memory, looked up before any Python handler runs (a Redis
  round trip per request would cost more than the whole answer).
* ``SharedAnswers``: Redis, shared by every process and pod, each answer stored with its
  version, through one pipelined connection per process (``redis_pipe``). A short timeout;
  after a failure Redis is left alone for a moment (a circuit breaker), so Redis being down or
  slow costs one timeout, not one per request, and answers are computed here.
* ``SingleFlight``: one computation per key and version at a time inside a process.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable

from moviestore.api import metrics
from moviestore.api.changes import Dependency, untouched
from moviestore.api.redis_pipe import PipelinedRedis
from moviestore.api.version import CatalogVersion, View
from moviestore.catalog.keys import frame, unframe
from moviestore.logs import event

log = logging.getLogger("moviestore.api.answers")


class Answer:
    """A serialised 200 answer and its validator; the HTTP layer keeps on it what it derives
    once per answer: its compressed bytes by coding (``api/encoding.py``) and its ``Link``."""

    __slots__ = ("body", "encoded", "etag", "link")

    def __init__(self, body: bytes, etag: str):
        self.body, self.etag = body, etag
        self.encoded: dict[str, bytes] = {}
        self.link: str | None = None

    @classmethod
    def of(cls, body: bytes) -> Answer:
        return cls(body, '"' + hashlib.blake2b(body, digest_size=10).hexdigest() + '"')

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Answer) and (self.body, self.etag) == (other.body, other.etag)

    def __hash__(self) -> int:
        return hash((self.body, self.etag))

    def __repr__(self) -> str:
        return f"Answer({self.body!r}, {self.etag!r})"


class Entry:
    """A cached answer, good at ``version`` (moved forward as changes leave it untouched)."""

    __slots__ = ("answer", "dependency", "expires", "version")

    def __init__(self, answer: Answer, version: int, dependency: Dependency, expires: float):
        self.answer, self.version = answer, version
        self.dependency, self.expires = dependency, expires


def usable(version: int, dependency: Dependency, view: View) -> bool:
    """Whether an answer computed at ``version`` is the answer at the view's version."""
    if view.version is None or version > view.version:
        return False
    if version == view.version:
        return True
    steps = view.log.after(version)
    return steps is not None and untouched(dependency, steps)


class LocalAnswers:
    """Bounded by entries and bytes; the oldest go first (dicts keep insertion order: cheap,
    and hits never pay for LRU)."""

    def __init__(self, max_entries: int, max_bytes: int, ttl_seconds: float):
        self.max_entries, self.max_bytes, self.ttl = max_entries, max_bytes, ttl_seconds
        self.entries: dict[Hashable, Entry] = {}
        self.bytes = 0

    def get(self, key: Hashable) -> Entry | None:
        found = self.entries.get(key)
        if found is None or found.expires < time.monotonic():
            return None
        return found

    def put(self, key: Hashable, answer: Answer, version: int, dependency: Dependency) -> None:
        size = len(answer.body)
        if size > self.max_bytes:
            return
        self.drop(key)
        while self.entries and (
            len(self.entries) >= self.max_entries or self.bytes + size > self.max_bytes
        ):
            self.drop(next(iter(self.entries)))
        if len(self.entries) < self.max_entries:
            expires = time.monotonic() + self.ttl
            self.entries[key] = Entry(answer, version, dependency, expires)
            self.bytes += size

    def drop(self, key: Hashable) -> None:
        old = self.entries.pop(key, None)
        if old is not None:
            self.bytes -= len(old.answer.body)


class AnswerCache:
    def __init__(
        self,
        local: LocalAnswers,
        shared: SharedAnswers,
        version: CatalogVersion,
    ):
        self.local, self.shared, self.version = local, shared, version
        self.flights = SingleFlight()

    def cached(self, key: Hashable) -> Answer | None:
        """This process's answer for ``key`` at the current version, if it has one."""
        entry = self.local.get(key)
        if entry is None:
            return None
        view = self.version.view
        if entry.version != view.version:
            if not usable(entry.version, entry.dependency, view):
                metrics.MEMORY_STALE.inc()
                self.local.drop(key)
                return None
            metrics.MEMORY_KEPT.inc()
            entry.version = view.version  # type: ignore[assignment]  # None is never usable
        return entry.answer

    async def answer(
        self,
        key: Hashable,
        shared_key: str,
        dependency: Dependency,
        compute: Callable[[View], Awaitable[Answer]],
    ) -> Answer:
        """The answer from Redis if another process has it at this version (or one no change
        since touched), else computed at the current view; kept in memory and in Redis."""
        view = self.version.view
        version = view.version
        if version is None:  # not known yet: nothing can be cached
            return await compute(view)

        async def fill() -> Answer:
            found = await self.shared.get(shared_key)
            if found is not None:
                if usable(found[0], dependency, view):
                    metrics.REDIS["hit"].inc()
                    return Answer.of(found[1])
                metrics.REDIS["stale"].inc()
            answer = await compute(view)
            await self.shared.put(shared_key, version, answer.body)
            return answer

        answer = await self.flights.run((shared_key, version), fill)
        self.local.put(key, answer, version, dependency)
        return answer


class SharedAnswers:
    """Best effort: whatever goes wrong with Redis (refused, lost, slow, an error reply, or a
    fault of the client itself) is logged, counted and answered from PostgreSQL."""

    def __init__(self, url: str, timeout: float, ttl_seconds: int, pause_seconds: float = 2.0):
        self.client = PipelinedRedis(url, timeout)
        self.timeout, self.ttl, self.pause = timeout, ttl_seconds, pause_seconds
        self.paused_until = 0.0

    @property
    def available(self) -> bool:
        return time.monotonic() >= self.paused_until

    async def get(self, key: str) -> tuple[int, bytes] | None:
        """The answer stored under ``key`` and the catalog version it was computed at."""
        if not self.available:
            metrics.REDIS["skipped"].inc()
            return None
        try:
            found = await self.client.get(key)
        except Exception as e:  # see the class
            self.failed(e)
            return None
        answer = None if found is None else unframe(found)
        if answer is None:
            metrics.REDIS["miss"].inc()
        return answer

    async def put(self, key: str, version: int, body: bytes) -> None:
        if not self.available:
            return
        try:
            await self.client.set(key, frame(version, body), self.ttl)
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
        self.calls: dict[Hashable, asyncio.Future[Answer]] = {}

    async def run(self, key: Hashable, compute: Callable[[], Awaitable[Answer]]) -> Answer:
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
