"""Every statement the catalog API reads with, composed from fixed fragments and bound
parameters: no value is ever pasted into query text. Each filter maps to an index (see
migrations).

* the answers: a list page (three plans, see ``sorted_matches`` and ``walk``), one movie, the
  genres, a provider's ingestions;
* only live movies: every statement that lists, counts or fetches movies leaves out withdrawn
  ones (``withdrawn_at`` set), through the live-only indexes (migration 0006);
* the search index: the catalog as binary COPY in title order, and a page's rows by id;
* the change feed (``store/feed.py`` writes it): where it stands, what changed since a version,
  version by version, with the rows the search index applies.

A list statement's text depends only on its shape (which filters, which sort, whether a cursor
is given), so each shape is composed and rendered to bytes once per process; a request only
gathers its values (composing and rendering per request was ~5% of an uncached answer)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from moviestore.catalog.documents import SELECT_COLUMNS
from moviestore.catalog.query import SORTS, MovieQuery

Statement = tuple[bytes, dict[str, Any]]
After = tuple[str | int, int] | None  # the sort key and id of the row a page starts after
# Filters present, sort, a cursor given: at most 2^9 x 4 x 2 shapes, so their texts are kept.
Shape = tuple[tuple[str, ...], str, bool]

CONDITIONS = {
    "title": "m.title_search LIKE lower(%(title)s)",  # pg_trgm GIN on lower(title)
    "year": "m.year = %(year)s",  # btree (year, id)
    "year_from": "m.year >= %(year_from)s",
    "year_to": "m.year <= %(year_to)s",
    "genres": "m.genres @> %(genres)s::text[]",  # GIN on the array
    "any_genres": "m.genres && %(any_genres)s::text[]",  # the same GIN
    "exclude_genres": "NOT (m.genres && %(exclude_genres)s::text[])",  # checked on each row
    "cast": 'm."cast" @> %(cast)s::text[]',
    "provider": "m.provider = %(provider)s",
}


def like_pattern(text: str) -> str:
    """A case-insensitive substring pattern; the client's ``%``, ``_`` and ``\\`` are literal."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def filters(q: MovieQuery) -> dict[str, Any]:
    """The values of the filters the query gives, in ``CONDITIONS`` order."""
    values: dict[str, Any] = {
        "title": like_pattern(q.title) if q.title is not None else None,
        "year": q.year,
        "year_from": q.year_from,
        "year_to": q.year_to,
        "genres": list(q.genres) or None,
        "any_genres": list(q.any_genres) or None,
        "exclude_genres": list(q.exclude_genres) or None,
        "cast": list(q.cast) or None,
        "provider": q.provider,
    }
    return {k: v for k, v in values.items() if v is not None}


def filtered(q: MovieQuery) -> bool:
    return bool(filters(q))


def shape(q: MovieQuery, after: After) -> tuple[Shape, dict[str, Any]]:
    """The statement's shape and its parameters (the cursor's row included)."""
    params = filters(q)
    names = tuple(params)
    if after is not None:
        params["after_value"], params["after_id"] = after
    return (names, q.sort, after is not None), params


def where(conditions: list[sql.Composable]) -> sql.Composable:
    if not conditions:
        return sql.SQL("")
    return sql.SQL("WHERE ") + sql.SQL(" AND ").join(conditions)


# A withdrawn movie is not in the catalog (the API's indexes are partial on this).
LIVE = "m.withdrawn_at IS NULL"


def conditions(names: tuple[str, ...]) -> list[sql.Composable]:
    """The live-movie condition and the filters'."""
    return [sql.SQL(LIVE), *(sql.SQL(CONDITIONS[name]) for name in names)]


def keyset(sort: str, after: bool, alias: str, key: str) -> list[sql.Composable]:
    """The condition that starts a page after the cursor's row, in the sort's direction."""
    if not after:
        return []
    op = sql.SQL("<" if SORTS[sort][1] else ">")
    condition = sql.SQL("({key}, {id}) {op} (%(after_value)s, %(after_id)s)").format(
        key=sql.Identifier(alias, key), id=sql.Identifier(alias, "id"), op=op
    )
    return [condition]


def order(sort: str, alias: str, key: str) -> sql.Composable:
    direction = sql.SQL("DESC" if SORTS[sort][1] else "ASC")
    return sql.SQL("ORDER BY {key} {dir}, {id} {dir}").format(
        key=sql.Identifier(alias, key), id=sql.Identifier(alias, "id"), dir=direction
    )


def sorted_matches(q: MovieQuery, after: After, up_to: int) -> Statement:
    """The page and the total in one statement, for filters that match few movies.

    The planner cannot tell how many movies the filters match (a title substring least of
    all); guessing "many", it walks the sort order's index and filters, which for rare
    matches reads most of the table (320 ms for 283 title matches of 300,000). Here the
    matches are found once, by id and sort key only (at most ``up_to`` of them), counted, and
    sorted; only the page's rows are fetched whole. Every row carries ``total``; with no row
    on the page, one row of NULL columns still carries it. A ``total`` of ``up_to`` means "at
    least that many": the caller counts them and walks the index instead (``walk``)."""
    key, params = shape(q, after)
    return sorted_matches_text(key), {**params, "up_to": up_to, "limit": q.limit + 1}


@functools.cache
def sorted_matches_text(key: Shape) -> bytes:
    names, sort, after = key
    column = SORTS[sort][0]
    return (
        sql.SQL(
            "WITH f AS MATERIALIZED"
            " (SELECT m.id, {key} AS k FROM movies m {where} LIMIT %(up_to)s),"
            " p AS (SELECT f.id FROM f {after} {inner_order} LIMIT %(limit)s)"
            " SELECT c.total, {columns} FROM (SELECT count(*) AS total FROM f) AS c"
            " LEFT JOIN (p JOIN movies m ON m.id = p.id) ON true {outer_order}"
        )
        .format(
            key=sql.Identifier("m", column),
            where=where(conditions(names)),
            after=where(keyset(sort, after, "f", "k")),
            inner_order=order(sort, "f", "k"),
            columns=SELECT_COLUMNS,
            outer_order=order(sort, "m", column),
        )
        .as_bytes()
    )


def walk(q: MovieQuery, after: After) -> Statement:
    """One page in keyset order, plus one row that tells whether another page follows, met
    by walking the sort order's index: for many matches (or none asked), the first rows
    that match come early."""
    key, params = shape(q, after)
    return walk_text(key), {**params, "limit": q.limit + 1}


@functools.cache
def walk_text(key: Shape) -> bytes:
    names, sort, after = key
    column = SORTS[sort][0]
    return (
        sql.SQL("SELECT {columns} FROM movies m {where} {order} LIMIT %(limit)s")
        .format(
            columns=SELECT_COLUMNS,
            where=where(conditions(names) + keyset(sort, after, "m", column)),
            order=order(sort, "m", column),
        )
        .as_bytes()
    )


def count(q: MovieQuery) -> Statement:
    params = filters(q)
    return count_text(tuple(params)), params


@functools.cache
def count_text(names: tuple[str, ...]) -> bytes:
    return (
        sql.SQL("SELECT count(*) FROM movies m {where}")
        .format(where=where(conditions(names)))
        .as_bytes()
    )


MOVIE = sql.SQL("SELECT {columns} FROM movies m WHERE m.id = %(id)s AND " + LIVE).format(
    columns=SELECT_COLUMNS
)
# When a movie that is not live was withdrawn (no row: there never was such a movie).
WITHDRAWN = sql.SQL("SELECT withdrawn_at FROM movies WHERE id = %(id)s")
# A title needle lower-cased by the database's rules (the search index holds lower(title)).
LOWER = sql.SQL("SELECT lower(%(text)s) AS lower")

# The page the in-memory index found, in any order (the caller puts it in the index's), with
# the catalog version of the same snapshot; no movie found: one row of NULLs with the version.
MOVIES_BY_ID = sql.SQL(
    "SELECT s.version AS catalog_version, {columns}"
    " FROM catalog_state s LEFT JOIN movies m ON m.id = ANY(%(ids)s) AND " + LIVE
).format(columns=SELECT_COLUMNS)

GENRES = sql.SQL(
    "SELECT g AS genre, count(*) AS count FROM movies m, unnest(m.genres) AS g"
    " WHERE " + LIVE + " GROUP BY g ORDER BY count(*) DESC, g"
)

INGESTION_COLUMNS = (
    "id", "bucket", "key", "version", "status", "mode", "attempts", "bytes", "records_total",
    "records_valid", "records_invalid", "duplicates_collapsed", "rows_inserted", "rows_updated",
    "rows_withdrawn", "would_withdraw", "catalog_movies", "error_counts", "error_summary",
    "report_key", "started_at", "finished_at", "settled_at",
)  # fmt: skip
# A provider's ingestions, newest first; ``stale``: a claim whose worker stopped beating.
INGESTIONS = sql.SQL(
    "SELECT {columns}, status = 'processing'"
    " AND heartbeat_at < now() - make_interval(secs => %(stale_after)s) AS stale"
    " FROM ingestions WHERE provider = %(provider)s"
    " ORDER BY started_at DESC, id DESC LIMIT %(limit)s"
).format(columns=sql.SQL(", ").join(map(sql.Identifier, INGESTION_COLUMNS)))

CATALOG_VERSION = sql.SQL("SELECT version FROM catalog_state")

# --- the search index ----------------------------------------------------------------------


def catalog_copy(columns: tuple[str, ...]) -> sql.Composed:
    """The catalog's ``columns`` (the index's: ``moviestore._validator.INDEX_COLUMNS``) in the
    index's rank order, which is PostgreSQL's own title order, collation included."""
    return sql.SQL(
        "COPY (SELECT {} FROM movies WHERE withdrawn_at IS NULL ORDER BY title, id)"
        " TO STDOUT (FORMAT binary)"
    ).format(sql.SQL(", ").join(map(sql.Identifier, columns)))


# Whether the database lower-cases ASCII as Python does (a Turkish locale does not: dotless i).
ASCII_LOWER = "SELECT lower(%s) = %s"

# --- the change feed -----------------------------------------------------------------------


@dataclass(frozen=True)
class FeedState:
    """Where the feed stands, read in the snapshot the changes are then read in."""

    version: int
    horizon: int  # changes of versions up to this one may be gone
    recorded: int  # versions after ``since`` that have their row (all of them, unless a gap)
    movies: int  # movies those versions changed, counted once per version


FEED_STATE = sql.SQL(
    "SELECT s.version, s.feed_horizon,"
    " count(v.version), coalesce(sum(v.movies), 0)"
    " FROM catalog_state s LEFT JOIN catalog_versions v"
    " ON v.version > %(since)s AND v.version <= s.version"
    " GROUP BY s.version, s.feed_horizon"
)

# The versions after ``since``, oldest first: when each was committed, and every movie it
# changed, in the catalog now or not (one array each, from the feed's primary key in order:
# no sort; read in binary, 200,000 ids cost the reader milliseconds, not a row each).
VERSIONS_SINCE = sql.SQL(
    "SELECT v.version, v.committed_at, v.change_rows, ARRAY(SELECT c.movie_id"
    " FROM catalog_changes c"
    " WHERE c.ingestion_id = v.ingestion_id ORDER BY c.movie_id)"
    " FROM catalog_versions v WHERE v.version > %(since)s ORDER BY v.version"
)


# A version's change rows (``store.feed`` wrote them with the version): binary COPY tuples of
# the index's ``CHANGE_COLUMNS``, in parts; read in binary, a few values, not a row each.
CHANGE_ROWS = sql.SQL("SELECT tuples FROM catalog_change_rows WHERE version = %(version)s")
# What binary COPY data starts with (signature, flags, header extension length) and ends with.
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
COPY_TRAILER = b"\xff\xff"


@dataclass(frozen=True)
class Version:
    """What one version changed: ``rows``, binary COPY of its change rows (empty until
    ``changed_rows`` reads them)."""

    version: int
    committed_at: datetime
    recorded: bool  # whether its change rows were written (not for a first load: none to read)
    ids: list[int]  # every movie it changed, in the catalog now or not, ascending
    rows: bytes = b""


@dataclass(frozen=True)
class Changes:
    """What changed after ``since`` up to ``version``, read in one snapshot, version by version
    (an index applies them in order: each version's predecessors are that version's)."""

    since: int
    version: int
    versions: list[Version]

    @property
    def rows_recorded(self) -> bool:
        """Whether an index can apply them: every version's change rows were written."""
        return all(v.recorded for v in self.versions)

    @property
    def committed(self) -> list[tuple[int, datetime]]:
        return [(v.version, v.committed_at) for v in self.versions]

    @functools.cached_property
    def ids(self) -> list[int]:
        """Every movie changed after ``since`` (each once), ascending."""
        if len(self.versions) == 1:
            return self.versions[0].ids
        return sorted({movie for v in self.versions for movie in v.ids})


def feed_state(conn: psycopg.Connection, since: int) -> FeedState:
    row = conn.execute(FEED_STATE, {"since": since}).fetchone()
    if row is None:
        raise RuntimeError("catalog_state has no row")
    return FeedState(int(row[0]), int(row[1]), int(row[2]), int(row[3]))


def changes_since(conn: psycopg.Connection, state: FeedState, since: int) -> Changes:
    """The changes after ``since`` without their rows (``changed_rows`` reads them), in the
    snapshot ``state`` was read in (the caller's REPEATABLE READ transaction)."""
    cursor = conn.cursor(binary=True)
    versions = [Version(int(v), at, recorded, ids) for v, at, recorded, ids in
                cursor.execute(VERSIONS_SINCE, {"since": since})]  # fmt: skip
    return Changes(since, state.version, versions)


def changed_rows(conn: psycopg.Connection, changes: Changes) -> Changes:
    """``changes`` with each version's change rows (binary COPY data: its parts between a
    header and a trailer), read in the same transaction."""
    cursor = conn.cursor(binary=True)
    versions = []
    for v in changes.versions:
        parts = [row[0] for row in cursor.execute(CHANGE_ROWS, {"version": v.version})]
        rows = b"".join([COPY_HEADER, *parts, COPY_TRAILER]) if parts else b""
        versions.append(replace(v, rows=rows))
    return replace(changes, versions=versions)


def catalog_version(conn: psycopg.Connection) -> int:
    row = conn.execute(CATALOG_VERSION).fetchone()
    if row is None:
        raise RuntimeError("catalog_state has no row")
    return int(row[0])


def catalog_chunks(conn: psycopg.Connection, columns: tuple[str, ...]) -> Iterator[bytes]:
    """The whole catalog as binary COPY chunks, in title order."""
    with conn.cursor().copy(catalog_copy(columns)) as copy:
        for chunk in copy:
            yield bytes(chunk)
