"""The list queries answered in memory: each API process keeps a ``SearchIndex``
(``rust/catalog-index``) of every movie's id, title, year, provider, genres and cast, and asks
PostgreSQL only for the page's rows, by id.

Why: an exact ``total`` costs PostgreSQL a visit to every match's row. For the common title
substrings of 300,000 movies that is 20-90 ms of CPU each, and with the API on the same cores
no 8-connection p99 came under 60 ms; the index finds a substring's matches with one binary
search of a suffix array (tens of microseconds) and the other filters are posting lists.

Correctness: an index is built from one snapshot (``REPEATABLE READ``) holding both the rows and
the catalog version they belong to, and is only used to answer for that version; while the
index of a newer version is being built (about 1.6 s per 300,000 movies), PostgreSQL answers;
and the page's rows are read with the catalog version: if it moved on, PostgreSQL answers.
Titles are matched as PostgreSQL lower-cases them: the index holds ``title_search``
(``lower(title)``); the API lower-cases ASCII needles itself, after checking once per build
that the database does the same to ASCII, and asks the database to lower-case any other.
"""

from __future__ import annotations

import logging
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from moviestore._validator import INDEX_COLUMNS, IndexBuilder, SearchIndex
from moviestore.api import metrics
from moviestore.api.params import MovieQuery
from moviestore.api.queries import CATALOG_VERSION
from moviestore.logs import event

log = logging.getLogger("moviestore.api.search_index")

# The order is the index's rank: PostgreSQL's own title order (collation included).
COPY = sql.SQL("COPY (SELECT {} FROM movies ORDER BY title, id) TO STDOUT (FORMAT binary)").format(
    sql.SQL(", ").join(map(sql.Identifier, INDEX_COLUMNS))
)
ASCII_LOWER = "SELECT lower(%s) = %s"
MAX_RETRY_SECONDS = 300.0


@dataclass(frozen=True)
class Built:
    version: int
    index: SearchIndex
    # PostgreSQL lower-cases ASCII as str.lower() does (a Turkish locale does not: dotless i)
    ascii_lower: bool
    seconds: float

    def lowered(self, title: str) -> str | None:
        """The title lower-cased as PostgreSQL does it, if that can be told here (ASCII, and
        the database was seen to lower-case ASCII as Python does); else ask the database."""
        return title.lower() if self.ascii_lower and title.isascii() else None

    def search(
        self, q: MovieQuery, title: str | None, after: tuple[str | int, int] | None, limit: int
    ) -> tuple[int, list[int]] | None:
        """``(total, ids)``, ``title`` lower-cased by PostgreSQL's rules; ``None`` if the index
        cannot answer (it cannot place the cursor, or it failed)."""
        year_from, year_to = year_bounds(q)
        try:
            return self.index.search(
                title=title,
                year_from=year_from,
                year_to=year_to,
                genres=q.genres,
                cast=q.cast,
                provider=q.provider,
                sort=q.sort,
                after=after,
                limit=limit,
            )
        except Exception:  # a fault of the index must not fail the answer: PostgreSQL has it
            metrics.SEARCH_INDEX_FAILURES.inc()
            log.exception("search index failed; PostgreSQL answers")
            return None


class SearchIndexes:
    """The index of the newest catalog version seen, rebuilt in a background thread."""

    def __init__(
        self,
        database_url: str,
        enabled: bool,
        answering: Callable[[], int | None],
        retry_seconds: float = 5.0,
    ) -> None:
        self.database_url = database_url
        self.enabled = enabled
        self.retry_seconds = retry_seconds  # after a failed build; doubled up to 5 minutes
        self.answering = answering  # the catalog version the process answers for
        self.built: Built | None = None
        self.wanted: int | None = None
        self.lock = threading.Lock()
        self.builder: threading.Thread | None = None
        self.stopped = threading.Event()

    def want(self, version: int) -> None:
        """Another catalog version was seen: build its index unless one is being built (the
        builder picks up the newest version when it is done)."""
        if not self.enabled:
            return
        self.count_current()
        with self.lock:
            self.wanted = max(version, self.wanted or version)
            if self.built is not None and self.built.version < self.wanted:
                self.built = None  # of no use any more: its memory goes before the next is built
            if self.builder is None and not self.fresh():
                self.builder = threading.Thread(target=self.run, name="search-index", daemon=True)
                self.builder.start()

    def stop(self) -> None:
        self.stopped.set()

    def fresh(self) -> bool:
        """The index is of the newest version seen (or newer: read after a commit the
        version watcher has yet to see; it is used once the watcher has)."""
        return (
            self.built is not None and self.wanted is not None and self.built.version >= self.wanted
        )

    def count_current(self) -> None:
        metrics.SEARCH_INDEX_PROCESSES.set(int(self.at(self.answering()) is not None))

    def at(self, version: int | None) -> Built | None:
        """The index of ``version``, if that is the one built."""
        built = self.built  # one read: another thread may swap it
        return built if built is not None and built.version == version else None

    def state(self) -> dict[str, object]:
        """For /readyz."""
        built = self.built
        if not self.enabled:
            return {"status": "off"}
        if built is None:
            return {"status": "building"}
        return {"status": "ready", "catalog_version": built.version, "movies": len(built.index)}

    def run(self) -> None:
        try:
            self.build_until_fresh()
        finally:  # however it ends, the next version seen starts a builder again
            with self.lock:
                self.builder = None

    def build_until_fresh(self) -> None:
        delay = self.retry_seconds
        while not self.stopped.is_set():
            with self.lock:
                if self.wanted is None or self.fresh():
                    return
            started = time.monotonic()
            try:
                built = self.build()
            # Whatever it is (a Rust panic is a BaseException): PostgreSQL answers meanwhile.
            except BaseException as e:
                metrics.SEARCH_INDEX_FAILURES.inc()
                event(log, logging.WARNING, "search index not built; PostgreSQL answers",
                      error=f"{type(e).__name__}: {e}", retry_seconds=delay)  # fmt: skip
                self.stopped.wait(delay)
                delay = min(delay * 2, MAX_RETRY_SECONDS)
                continue
            delay = self.retry_seconds
            with self.lock:
                if self.wanted is not None and built.version < self.wanted:
                    continue  # a newer version was seen meanwhile: this one is of no use
                self.built = built
            metrics.SEARCH_INDEX["version"].set(built.version)
            metrics.SEARCH_INDEX["movies"].set(len(built.index))
            metrics.SEARCH_INDEX["bytes"].set(built.index.memory_bytes)
            metrics.SEARCH_INDEX["build_seconds"].set(built.seconds)
            self.count_current()
            with self.lock:
                behind = not self.fresh()
            if behind:  # versions come faster than builds: build at most half of the time
                self.stopped.wait(time.monotonic() - started)

    def build(self) -> Built:
        started = time.perf_counter()
        builder = IndexBuilder()
        with psycopg.connect(self.database_url, connect_timeout=5) as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            row = conn.execute(CATALOG_VERSION).fetchone()
            if row is None:
                raise ValueError("catalog_state has no row")
            upper = string.ascii_uppercase + string.ascii_lowercase
            same = conn.execute(ASCII_LOWER, (upper, upper.lower())).fetchone()
            with conn.cursor().copy(COPY) as copy:
                for chunk in copy:
                    builder.feed(bytes(chunk))
        index = builder.finish()
        seconds = time.perf_counter() - started
        event(log, logging.INFO, "search index built", catalog_version=row[0], movies=len(index),
              mib=round(index.memory_bytes / 2**20, 1), seconds=round(seconds, 2))  # fmt: skip
        return Built(int(row[0]), index, bool(same and same[0]), seconds)


def year_bounds(q: MovieQuery) -> tuple[int | None, int | None]:
    """``year``, ``year_from`` and ``year_to`` as one inclusive range."""
    lows = [y for y in (q.year, q.year_from) if y is not None]
    highs = [y for y in (q.year, q.year_to) if y is not None]
    return (max(lows) if lows else None, min(highs) if highs else None)
