"""Follows the catalog: moves this process's ``View`` (``api/version.py``) to each new catalog
version, in a thread of its own.

It learns of a new version from Redis (the worker publishes each one after its commit; it
arrives within milliseconds), from polling PostgreSQL every ``poll_seconds`` (Redis down or a
message lost), or from a request that met a newer version in PostgreSQL. Then, in one snapshot,
it reads what changed since its version (``store.reads``: the change feed) and applies just
that to its search index and change log. It builds the index from the whole catalog only when
it must: at start-up, when the feed no longer reaches back to its version (retention is
bounded), has a gap (a version made by anything but an ingestion), when the change is larger
than the catalog, or when the version went back (a restored database).

With ``Segments`` (the pod's shared directory) a base built or merged by one server process is
mapped by the others: the first to start builds it and the rest adopt it; when a delta grows
large, one process merges (in a thread of its own: the follower keeps applying changes
meanwhile) and the others adopt the new base as their deltas grow.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
import redis

from moviestore.api import metrics, search_index
from moviestore.api.changes import ChangeLog, Step
from moviestore.api.database import APPLICATION
from moviestore.api.search_index import Built, Segments
from moviestore.api.version import CatalogVersion, View
from moviestore.catalog.keys import CHANNEL
from moviestore.logs import event
from moviestore.store import reads

log = logging.getLogger("moviestore.api.follower")

# A change set of more movies than this makes a step that touches every cached list answer:
# checking each answer against each movie would cost more than answering again.
STEP_DETAIL_LIMIT = 1_000
MAX_RETRY_SECONDS = 300.0
# How often the follower looks for news between Redis messages (a request's wish, a merge).
TICK_SECONDS = 0.05
REDIS_RETRY_SECONDS = 1.0
# A merge's thread's nice value: the lowest priority there is.
MERGE_NICE = 19


class Follower:
    def __init__(
        self,
        database_url: str,
        redis_url: str,
        owner: CatalogVersion,
        *,
        index: bool,
        segments: Segments | None,
        poll_seconds: float,
        merge_at: int,
        retry_seconds: float = 5.0,
    ):
        self.database_url, self.redis_url = database_url, redis_url
        self.owner, self.with_index, self.segments = owner, index, segments
        self.poll, self.retry_seconds, self.merge_at = poll_seconds, retry_seconds, merge_at
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, name="catalog-follower", daemon=True)
        self.pubsub: redis.client.PubSub | None = None
        self.redis_retry_at = 0.0
        self.conn: psycopg.Connection | None = None
        self.ascii_lower: bool | None = None
        # The index being built fails: retried after a backoff, PostgreSQL answers meanwhile.
        self.retry_at, self.delay = 0.0, retry_seconds
        # A merge in its own thread, and the changes applied since it started.
        self.merging: threading.Thread | None = None
        self.merged: Built | None = None
        self.since_merge: list[reads.Changes] = []
        # The version of the base under the index (built, merged or a sibling's).
        self.base_version = -1

    # --- life -----------------------------------------------------------------------------

    def start(self) -> None:
        """Read the version now (the first answers know it), then follow in the thread."""
        self.guarded(self.first_version)
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(self.poll + 1)
        if self.conn is not None:
            self.conn.close()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.guarded(self.follow)
            self.wait()

    def follow(self) -> None:
        if self.owner.view.version is None:
            self.first_version()
        index = self.owner.view.index
        if self.with_index and index is None and time.monotonic() >= self.retry_at:
            self.start_index()
        else:
            self.advance()
        self.adopt_merged()
        self.maybe_merge()

    def guarded(self, work: Callable[[], None]) -> None:
        try:
            work()
        except (psycopg.Error, OSError) as e:
            event(log, logging.WARNING, "catalog not followed; answering from what is here",
                  error=f"{type(e).__name__}: {e}")  # fmt: skip
            self.close_connection()
        except Exception:  # never let the thread die: the process would freeze its version
            log.exception("catalog follower failed")
            self.close_connection()

    def wait(self) -> None:
        """Until a version is published on Redis, a request wants a newer one, a merge ends,
        or the poll interval is over."""
        deadline = time.monotonic() + self.poll
        while not self.stopped.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or self.owner.wanted.is_set() or self.merged is not None:
                break
            if self.listen(min(left, TICK_SECONDS)):
                break
        self.owner.wanted.clear()

    def listen(self, seconds: float) -> bool:
        """True if a version was published (any message on the channel is news). Redis down:
        asked again a second later (PostgreSQL is polled meanwhile)."""
        if self.pubsub is None and time.monotonic() < self.redis_retry_at:
            self.stopped.wait(seconds)
            return False
        try:
            if self.pubsub is None:
                client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=1)
                self.pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
                self.pubsub.subscribe(CHANNEL)
            return self.pubsub.get_message(timeout=seconds) is not None
        except (redis.RedisError, OSError):
            self.pubsub, self.redis_retry_at = None, time.monotonic() + REDIS_RETRY_SECONDS
            return False

    # --- reading ----------------------------------------------------------------------------

    def connection(self) -> psycopg.Connection:
        if self.conn is None or self.conn.closed:
            self.conn = psycopg.connect(
                self.database_url, autocommit=True, connect_timeout=2, application_name=APPLICATION
            )
        return self.conn

    def close_connection(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def first_version(self) -> None:
        version = reads.catalog_version(self.connection())
        self.publish(View(version, None, ChangeLog(version)), [])

    def read(
        self, conn: psycopg.Connection, since: int, index: Built | None, most: int | None = None
    ) -> reads.Changes | None:
        """The changes after ``since``, None if the feed cannot tell them all (or, for an
        index, a version's change rows were not written); with the rows ``index`` applies
        (each version's, as its ingestion wrote them), if any, unless more than ``most`` movies
        changed (the caller starts over: a build reads the catalog once, in order, and costs
        less)."""
        state = reads.feed_state(conn, since)
        complete = since >= state.horizon and state.recorded == state.version - since
        if not complete:
            return None
        changes = reads.changes_since(conn, state, since)
        if index is None or (most is not None and len(changes.ids) > most):
            return changes
        if not changes.rows_recorded:
            return None
        return reads.changed_rows(conn, changes)

    # --- moving forward -------------------------------------------------------------------

    def advance(self) -> None:
        view = self.owner.view
        if view.version is None:
            return
        conn = self.connection()
        started = time.perf_counter()
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            now = reads.catalog_version(conn)
            if now == view.version:
                return
            index = view.index
            most = len(index.index) if index is not None else None
            # A database that went back (now < view.version): nothing here can be trusted.
            changes = None if now < view.version else self.read(conn, view.version, index, most)
        read = time.perf_counter() - started
        if changes is None or (
            view.index is not None and changes.ids and len(changes.ids) > len(view.index.index)
        ):
            self.restart(now, "the change feed cannot tell what changed" if changes is None
                         else "more movies changed than the index holds")  # fmt: skip
            return
        self.apply(view, changes, read)

    def apply(self, view: View, changes: reads.Changes, read: float) -> None:
        """``read``: the seconds it took to read the changes (for the log)."""
        started = time.perf_counter()
        index = view.index.applied(changes) if view.index is not None else None
        step = self.step(view.index, index, changes)
        seconds = time.perf_counter() - started
        metrics.CHANGE_APPLY.observe(seconds)
        if self.merging is not None:
            self.since_merge.append(changes)
        freshness = self.publish(View(changes.version, index, view.log.then(step)),
                                 changes.committed)  # fmt: skip
        if len(changes.ids) > STEP_DETAIL_LIMIT:
            release_memory()  # what reading and applying a large change set took
        event(log, logging.INFO, "changes applied", catalog_version=changes.version,
              versions=len(changes.committed), movies=len(changes.ids),
              read_ms=round(read * 1000, 1), apply_ms=round(seconds * 1000, 3),
              freshness_ms=round(freshness * 1000, 1))  # fmt: skip

    def step(self, before: Built | None, after: Built | None, changes: reads.Changes) -> Step:
        ids = changes.ids
        movies = None
        if before is not None and after is not None and len(ids) <= STEP_DETAIL_LIMIT:
            movies = tuple(zip(before.indexed(ids), after.indexed(ids), strict=True))
        return Step(changes.since, changes.version, frozenset(ids), movies)

    def restart(self, version: int, reason: str) -> None:
        """Start over at the catalog as it is: a new index (if any), a log from here."""
        event(log, logging.WARNING, "starting over from the catalog", reason=reason,
              catalog_version=version)  # fmt: skip
        metrics.SEARCH_INDEX_RESTARTS.inc()
        if self.with_index:
            if self.segments is not None:
                # Built from a history that is not the catalog's now. Under the lock: a sibling
                # building meanwhile would lose its half-written base, fail, and be left at its
                # old version, then start over a second time.
                with self.segments.locked(wait=True):
                    self.segments.clear()
            self.start_index()
        else:
            self.publish(View(version, None, ChangeLog(version)), [])

    def publish(self, view: View, committed: list[tuple[int, datetime]]) -> float:
        """Answer from ``view`` now; the longest time since one of its versions' commits."""
        self.owner.advance(view)
        if view.version is not None:
            metrics.CATALOG_VERSION.set(view.version)
            metrics.PROCESS_VERSION.set(view.version)
        now, oldest = datetime.now(UTC), 0.0
        for _, at in committed:
            seconds = max(0.0, (now - at).total_seconds())
            metrics.FRESHNESS.observe(seconds)
            oldest = max(oldest, seconds)
        index = view.index
        metrics.SEARCH_INDEX_PROCESSES.set(int(index is not None))
        if index is not None:
            metrics.SEARCH_INDEX["version"].set(index.version)
            metrics.SEARCH_INDEX["movies"].set(len(index.index))
            metrics.SEARCH_INDEX["bytes"].set(index.index.memory_bytes)
            metrics.SEARCH_INDEX["mapped_bytes"].set(index.index.mapped_bytes)
            metrics.SEARCH_INDEX["delta_movies"].set(index.index.delta_movies)
        return oldest

    # --- the index: built, adopted, merged ------------------------------------------------

    def start_index(self) -> None:
        """Build the index (or adopt a sibling's base) and catch up; on failure, retry later
        with a backoff while PostgreSQL answers."""
        try:
            built = self.base()
        except Exception as e:  # whatever it is, PostgreSQL answers meanwhile
            metrics.SEARCH_INDEX_FAILURES.inc()
            event(log, logging.WARNING, "search index not built; PostgreSQL answers",
                  error=f"{type(e).__name__}: {e}", retry_seconds=self.delay)  # fmt: skip
            self.retry_at = time.monotonic() + self.delay
            self.delay = min(self.delay * 2, MAX_RETRY_SECONDS)
            self.publish(View(self.owner.view.version, None, self.owner.view.log), [])
            if isinstance(e, psycopg.Error | OSError):
                raise
            return
        self.delay = self.retry_seconds
        # A new start: the log begins at the index (cached answers older than it are checked
        # against nothing, so they are answered again).
        self.publish(View(built.version, built, ChangeLog(built.version)), [])
        self.advance()

    def base(self) -> Built:
        """A sibling's base if there is one, else one built from the catalog now."""
        conn = self.connection()
        if self.ascii_lower is None:
            self.ascii_lower = search_index.ascii_lower(conn)
        if self.segments is None:
            built = search_index.build(conn)
            self.base_version = built.version
            return built
        with self.segments.locked(wait=True):
            newest = self.segments.newest()
            if newest is not None and newest.version <= reads.catalog_version(conn):
                caught_up = self.caught_up(self.segments.open(newest, self.ascii_lower))
                if caught_up is not None:
                    self.base_version = newest.version
                    return caught_up
            built = search_index.build(conn, self.segments)
            self.base_version = built.version
            return built

    def caught_up(self, base: Built) -> Built | None:
        """``base`` with the changes since its version; None if the feed cannot tell them."""
        conn = self.connection()
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            changes = self.read(conn, base.version, base)
        if changes is None:
            return None
        return base.applied(changes) if changes.ids else Built(changes.version, base.index,
                                                               base.ascii_lower)  # fmt: skip

    def maybe_merge(self) -> None:
        index = self.owner.view.index
        if index is None or self.merging is not None or not index.wants_merge(self.merge_at):
            return
        self.since_merge = []
        self.merging = threading.Thread(target=self.merge, args=(index,), name="index-merge",
                                        daemon=True)  # fmt: skip
        self.merging.start()

    def merge(self, index: Built) -> None:
        """In its own thread, at the lowest CPU priority: a new base from ``index`` (or a
        sibling's newer one)."""
        lowest_priority()
        started = time.perf_counter()
        try:
            if self.segments is None:
                merged = index.merged(None)
            else:
                with self.segments.locked(wait=True):
                    newest = self.segments.newest()
                    if newest is not None and newest.version > self.base_version:
                        merged = self.segments.open(newest, index.ascii_lower)
                    else:
                        merged = index.merged(self.segments)
        except Exception:
            metrics.SEARCH_INDEX_FAILURES.inc()
            log.exception("search index merge failed; the delta keeps growing until one works")
            self.merging = None
            return
        metrics.SEARCH_INDEX["merge_seconds"].set(time.perf_counter() - started)
        self.merged = merged

    def adopt_merged(self) -> None:
        """The merged base, brought to the view's version, replaces the view's index."""
        merged = self.merged
        if merged is None:
            return
        since_merge, self.since_merge = self.since_merge, []
        self.merged, self.merging = None, None
        base_version = merged.version
        if since_merge and since_merge[0].since == merged.version:
            for changes in since_merge:  # what the delta got meanwhile, in order
                merged = merged.applied(changes)
        for _ in range(3):  # a sibling's base may be behind or ahead of this process
            view = self.owner.view
            if view.index is None or view.version is None:
                return
            if merged.version == view.version:
                self.base_version = base_version
                self.publish(View(view.version, merged, view.log), [])
                release_memory()
                event(log, logging.INFO, "search index merged", catalog_version=merged.version,
                      base_version=base_version, movies=len(merged.index),
                      mapped_bytes=merged.index.mapped_bytes)  # fmt: skip
                return
            if merged.version > view.version:
                self.advance()
                continue
            caught = self.caught_up(merged)
            if caught is None:
                return  # the feed no longer reaches it: the delta asks for a merge again
            merged = caught


def lowest_priority() -> None:
    """This thread runs only when the process's others (the requests) leave it the CPU: a merge
    is no answer's wait, and took the CPU of a whole core from them for a second at 500,000
    movies (Linux sets a nice value per thread; elsewhere nothing changes)."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), MERGE_NICE)


def release_memory() -> None:
    """Give back to the system the heap a large change set or a merge used and freed: glibc's
    malloc keeps freed memory in its arenas, where the pod's memory limit still counts it
    (measured at 3 M movies: ~100 MiB a process after a 110,000-movie change set)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)
