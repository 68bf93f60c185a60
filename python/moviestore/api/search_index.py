"""The list queries answered in memory: each API process holds a ``SearchIndex``
(``rust/catalog-index``) of every movie's id, title, year, provider, genres and cast, and asks
PostgreSQL only for the page's rows, by id.

Why: an exact ``total`` costs PostgreSQL a visit to every match's row. For the common title
substrings of 300,000 movies that is 20-90 ms of CPU each, and with the API on the same cores
no 8-connection p99 came under 60 ms; the index finds a substring's matches at once and the
other filters are posting lists.

Its life (driven by ``api/follower.py``):

* **built** once, from one ``REPEATABLE READ`` snapshot holding both the rows (binary COPY, in
  PostgreSQL's own title order) and the catalog version they belong to;
* **changed** by applying what the change feed says changed since its version: an immutable
  base plus a small delta and a set of removed movies, so a change set costs time in proportion
  to the change, not to the catalog (``Built.applied``);
* **merged** in the background when the delta grows: a new base from base and delta, in memory,
  without reading the catalog again;
* **shared** by the server processes of a pod: a base is a file in a directory the supervisor
  owns (tmpfs when it can), written once and renamed into place, and mapped by every process,
  so a pod holds one copy of it (``Segments``); the delta stays in each process.

Titles are matched as PostgreSQL lower-cases them: the index holds ``title_search``
(``lower(title)``); the API lower-cases ASCII needles itself, after checking once per process
that the database does the same to ASCII, and asks the database to lower-case any other.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import string
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from moviestore._validator import INDEX_COLUMNS, IndexBuilder, SearchIndex
from moviestore.api import metrics
from moviestore.catalog.query import Indexed, MovieQuery
from moviestore.logs import event
from moviestore.store import reads

log = logging.getLogger("moviestore.api.search_index")

SEGMENT = re.compile(r"base-(\d+)\.seg")
# A delta is merged into a new base once it holds ``api_search_index_merge_movies`` movies
# (changed or removed), or this share of the base if more: every search scans the delta (at
# 3 M movies a delta of 10,000 adds ~10% to a search), a merge costs the whole base (1.9 s).
MERGE_AT_SHARE = 1 / 32


@dataclass(frozen=True)
class Built:
    version: int
    index: SearchIndex
    # PostgreSQL lower-cases ASCII as str.lower() does (a Turkish locale does not: dotless i)
    ascii_lower: bool

    def lowered(self, title: str) -> str | None:
        """The title lower-cased as PostgreSQL does it, if that can be told here (ASCII, and
        the database was seen to lower-case ASCII as Python does); else ask the database."""
        return title.lower() if self.ascii_lower and title.isascii() else None

    def search(
        self, q: MovieQuery, title: str | None, after: tuple[str | int, int] | None, limit: int
    ) -> tuple[int, list[int]] | None:
        """``(total, ids)``, ``title`` lower-cased by PostgreSQL's rules; ``None`` if the index
        cannot answer (it cannot place the cursor, or it failed)."""
        year_from, year_to = q.years
        try:
            return self.index.search(
                title=title,
                year_from=year_from,
                year_to=year_to,
                genres=q.genres,
                any_genres=q.any_genres,
                exclude_genres=q.exclude_genres,
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

    def applied(self, changes: reads.Changes) -> Built:
        """The index at ``changes.version``, each version applied in turn: a new value; this
        one keeps answering meanwhile."""
        index = self.index
        for v in changes.versions:
            index = index.apply(v.ids, v.rows)
        return Built(changes.version, index, self.ascii_lower)

    def indexed(self, ids: list[int]) -> list[Indexed | None]:
        """How the index holds these movies (None: not in it)."""
        return [
            None if f is None else Indexed(f[0], f[1], f[2], tuple(f[3]), tuple(f[4]))
            for f in self.index.attributes(ids)
        ]

    def wants_merge(self, at_movies: int) -> bool:
        delta = self.index.delta_movies + self.index.removed_movies
        return bool(delta >= max(at_movies, len(self.index) * MERGE_AT_SHARE))

    def merged(self, segments: Segments | None) -> Built:
        """The delta folded into a new base: written to the pod's shared directory and mapped
        (never held twice) when there is one."""
        if segments is None:
            return Built(self.version, self.index.merged(), self.ascii_lower)
        index = self.index.merged(str(segments.file(self.version)))
        segments.retire(self.version)
        return Built(self.version, index, self.ascii_lower)


def build(conn: psycopg.Connection, segments: Segments | None = None) -> Built:
    """The index of the catalog as it is now, from one snapshot (``conn`` has no transaction
    open; one is opened and ended here); written to the pod's shared directory and mapped
    (never held twice) when there is one."""
    started = time.perf_counter()
    # With the pod's folder, the movies' columns wait there (moved into the segment when it
    # is written), not in this process's heap: the build holds ~40 MB at 3 M movies.
    builder = IndexBuilder(None if segments is None else str(segments.directory))
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        version = reads.catalog_version(conn)
        same = ascii_lower(conn)
        for chunk in reads.catalog_chunks(conn, INDEX_COLUMNS):
            builder.feed(chunk)
    if segments is None:
        index = builder.finish()
    else:
        index = builder.finish(str(segments.file(version)))
        segments.retire(version)
    seconds = time.perf_counter() - started
    metrics.SEARCH_INDEX["build_seconds"].set(seconds)
    event(log, logging.INFO, "search index built", catalog_version=version, movies=len(index),
          mib=round(index.memory_bytes / 2**20, 1), seconds=round(seconds, 2))  # fmt: skip
    return Built(version, index, same)


def ascii_lower(conn: psycopg.Connection) -> bool:
    upper = string.ascii_uppercase + string.ascii_lowercase
    row = conn.execute(reads.ASCII_LOWER, (upper, upper.lower())).fetchone()
    return bool(row and row[0])


@dataclass(frozen=True)
class Segment:
    version: int
    path: Path


class Segments:
    """Base segments shared by the server processes of a pod: ``base-<version>.seg`` files in
    a directory the supervisor empties when it starts (so every file in it was made by a
    sibling, from the same database), each written once to a temporary name and renamed into
    place. A file lock makes one process at a time build or merge; the others map its file."""

    def __init__(self, directory: Path):
        self.directory = directory

    @contextlib.contextmanager
    def locked(self, wait: bool) -> Iterator[bool]:
        """Hold the directory's lock (True), or, with ``wait`` false and the lock taken, not
        (False)."""
        with (self.directory / ".lock").open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def newest(self) -> Segment | None:
        found = [
            Segment(int(m.group(1)), self.directory / name)
            for name in os.listdir(self.directory)
            if (m := SEGMENT.fullmatch(name))
        ]
        return max(found, key=lambda s: s.version, default=None)

    def file(self, version: int) -> Path:
        return self.directory / f"base-{version}.seg"

    def retire(self, version: int) -> None:
        """Older bases go (a process still mapping one keeps it until it lets go)."""
        for old in os.listdir(self.directory):
            if (m := SEGMENT.fullmatch(old)) and int(m.group(1)) < version:
                with contextlib.suppress(FileNotFoundError):
                    (self.directory / old).unlink()

    def open(self, segment: Segment, ascii_lower: bool) -> Built:
        return Built(segment.version, SearchIndex.open(str(segment.path)), ascii_lower)

    def clear(self) -> None:
        """Every base (and any file left half-written by a process that died)."""
        for name in os.listdir(self.directory):
            if name != ".lock":
                with contextlib.suppress(FileNotFoundError):
                    (self.directory / name).unlink()
