"""The change feed, written (migration 0005): each ingestion records the movies it changed,
in its own transaction, and the version bump at its end records the version it made.

Reading the feed is the API's (``store.reads``); this module is the writing side: the loader
logs changes as it writes movies, ``commit_version`` closes an ingestion's transaction (the
version, and the version's change rows: what the API's search indexes apply, migration 0008),
the publisher reads what one ingestion changed (``DOCUMENTS``, ``WITHDRAWN``), and ``prune``
bounds the retention.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from moviestore._validator import CHANGE_COLUMNS
from moviestore.catalog.documents import SELECT_COLUMNS

# The catalog_state row serialises the versions of concurrent ingestions in their commit order:
# locked near the end of an ingestion's transaction (the version's change rows are written
# under the lock), then bumped by the last statement before the commit (``committed_at``, which
# freshness is measured from, is taken there).
NEXT_VERSION = (
    "SELECT version + 1, current_setting('transaction_isolation') FROM catalog_state FOR UPDATE"
)
COMMIT_VERSION = """
WITH bumped AS (UPDATE catalog_state SET version = version + 1 RETURNING version)
INSERT INTO catalog_versions (version, ingestion_id, movies, change_rows)
SELECT version, %(ingestion_id)s, %(movies)s, %(change_rows)s FROM bumped
RETURNING version
"""


# How binary COPY sends each of ``CHANGE_COLUMNS``: its type's send function (PostgreSQL's own
# binary encoding, the one COPY writes), and whether it may be NULL.
SEND = {
    "id": ("int8send", False),
    "title_search": ("textsend", False),
    "title": ("textsend", False),
    "year": ("int4send", False),
    "provider": ("textsend", False),
    "genres": ("array_send", False),
    "cast": ("array_send", False),
    "after_id": ("int8send", True),
}
# A version's rows are kept in parts of at most this many (a few MiB each): a value of bytea
# holds at most 1 GB.
PART_ROWS = 50_000


def copy_tuple(alias: str) -> sql.Composable:
    """The binary COPY tuple of ``alias``'s ``CHANGE_COLUMNS``: the field count, then each
    field's length (-1: NULL) and bytes."""
    fields = [sql.SQL("int2send({}::int2)").format(sql.Literal(len(CHANGE_COLUMNS)))]
    for column in CHANGE_COLUMNS:
        send, nullable = SEND[column]
        value = sql.SQL("{}({})").format(sql.SQL(send), sql.Identifier(alias, column))
        field = sql.SQL("int4send(length({v})) || {v}").format(v=value)
        if nullable:
            field = sql.SQL("CASE WHEN {} IS NULL THEN int4send(-1) ELSE {} END").format(
                sql.Identifier(alias, column), field
            )
        fields.append(field)
    return sql.SQL(" || ").join(fields)


def change_rows(*, walk: bool) -> sql.Composed:
    """Record the version's change rows (``catalog_change_rows``): the live movies the
    ingestion changed, as ``CHANGE_COLUMNS`` (the index's columns and ``after_id``, the movie's
    predecessor, the live movie right before it in the catalog's ``ORDER BY title, id``; NULL
    for the first), encoded here as binary COPY tuples, in parts. That is how an index places a
    movie without knowing the collation, and how every API process reads a version's rows as a
    few values (no row each).

    Run under the version's lock (``NEXT_VERSION``), which waited for the ingestion committing
    before this one: each statement of a READ COMMITTED transaction sees what was committed
    before it began, so the predecessors are those of this version, whatever was committed
    meanwhile. The next ingestion's commit waits while this runs.

    Each predecessor is one probe of the live ``(title, id)`` index (~5 µs), or, with
    ``walk``, all of them come from one walk of that index (an index-only scan with ``lag``,
    ~0.3 µs a catalog movie) joined to the changed rows: the walk wins above about a thirtieth
    of the catalog (``WALK_SHARE``)."""
    changed = sql.SQL("SELECT movie_id FROM catalog_changes WHERE ingestion_id = %(ingestion_id)s")
    if walk:
        selected = [
            sql.SQL("w.after_id") if c == "after_id" else sql.Identifier("m", c)
            for c in CHANGE_COLUMNS
        ]
        source = sql.SQL(
            "movies m JOIN (SELECT p.id, lag(p.id) OVER (ORDER BY p.title, p.id) AS after_id"
            " FROM movies p WHERE p.withdrawn_at IS NULL) w ON w.id = m.id"
        )
    else:
        predecessor = sql.SQL(
            "(SELECT p.id FROM movies p WHERE p.withdrawn_at IS NULL"
            " AND (p.title, p.id) < (m.title, m.id) ORDER BY p.title DESC, p.id DESC LIMIT 1)"
        )
        selected = [predecessor if c == "after_id" else sql.Identifier("m", c)
                    for c in CHANGE_COLUMNS]  # fmt: skip
        source = sql.SQL("movies m")
    rows = sql.SQL(
        "SELECT {columns} FROM {source} WHERE m.withdrawn_at IS NULL AND m.id IN ({changed})"
    ).format(
        columns=sql.SQL(", ").join(
            sql.SQL("{} AS {}").format(s, sql.Identifier(c))
            for s, c in zip(selected, CHANGE_COLUMNS, strict=True)
        ),
        source=source,
        changed=changed,
    )
    return sql.SQL(
        "INSERT INTO catalog_change_rows (version, part, tuples)"
        " SELECT %(version)s, t.n / {part_rows}, string_agg(t.tuple, ''::bytea)"
        " FROM (SELECT row_number() OVER () - 1 AS n, {tuple} AS tuple FROM ({rows}) c) t"
        " GROUP BY t.n / {part_rows}"
    ).format(part_rows=sql.Literal(PART_ROWS), tuple=copy_tuple("c"), rows=rows)


# A change set of more than this share of the catalog finds its predecessors in one walk.
WALK_SHARE = 1 / 30
# A change of at most this many movies finds its predecessors by probes (at most 50 ms) and
# always writes its rows; a larger one counts the catalog first (the live movies, this
# transaction's included: an index-only scan, ~50 ms at 500,000 movies) to choose. The
# planner's estimate was tried and is wrong exactly then: an ANALYZE while a large load is in
# progress counts its pages but not its rows.
PROBE_MOVIES = 10_000
LIVE_MOVIES = "SELECT count(*) FROM movies WHERE withdrawn_at IS NULL"


# Versions (and their changes) older than the newest ``keep`` go; the horizon says how far.
PRUNE = """
WITH old AS (
    DELETE FROM catalog_versions
    WHERE version <= (SELECT version FROM catalog_state) - %(keep)s
    RETURNING version, ingestion_id
), gone AS (
    DELETE FROM catalog_changes c USING old WHERE c.ingestion_id = old.ingestion_id
), rows_gone AS (
    DELETE FROM catalog_change_rows r USING old WHERE r.version = old.version
)
UPDATE catalog_state SET feed_horizon = greatest(feed_horizon, (SELECT max(version) FROM old))
WHERE EXISTS (SELECT FROM old)
RETURNING feed_horizon
"""


# The live movies an ingestion inserted or changed, found through its change feed rows (no
# scan of movies), as documents.
DOCUMENTS = sql.SQL(
    "SELECT {} FROM catalog_changes c JOIN movies m ON m.id = c.movie_id"
    " WHERE c.ingestion_id = %s AND c.change <> 'withdrawn' AND m.withdrawn_at IS NULL LIMIT %s"
).format(SELECT_COLUMNS)
# The movies it withdrew.
WITHDRAWN = "SELECT movie_id FROM catalog_changes WHERE ingestion_id = %s AND change = 'withdrawn'"


# An ingestion that changed this many movies refreshes the statistics of the tables it grew
# (a sample of 30,000 rows each: a fraction of a second) instead of leaving them to autovacuum:
# with the statistics of a catalog that was empty, the planner read an ingestion's documents by
# scanning the catalog once per fetch (100 documents a second; seen in benchmarks/bench_ingest.py).
ANALYZE_AFTER_MOVIES = 10_000


def refresh_statistics(conn: psycopg.Connection, movies_changed: int) -> bool:
    """After a large ingestion (committed), fresh planner statistics; True if it took them."""
    if movies_changed < ANALYZE_AFTER_MOVIES:
        return False
    conn.execute("ANALYZE movies, catalog_changes")
    return True


def commit_version(conn: psycopg.Connection, ingestion_id: int, movies: int, *,
                   catalog_movies: int | None = None) -> int:  # fmt: skip
    """Make the catalog version of an ingestion that changed ``movies`` movies (its changes
    already logged): lock the version, record the version's change rows, bump; the caller
    commits right after. ``catalog_movies``, how many live movies the catalog holds with this
    ingestion's (counted if not given, for a large change), picks how predecessors are found,
    and whether the rows are worth writing at all: not for a change larger than the catalog
    was before it (a first load), which every index builds anew from the catalog instead."""
    if catalog_movies is None and movies > PROBE_MOVIES:  # counted before the lock is taken
        counted = conn.execute(LIVE_MOVIES).fetchone()
        catalog_movies = int(counted[0]) if counted is not None else 0
    row = conn.execute(NEXT_VERSION).fetchone()
    if row is None:
        raise RuntimeError("catalog_state has no row")
    version, isolation = int(row[0]), row[1]
    if isolation != "read committed":  # its snapshot would not see the version before
        raise RuntimeError(f"a version is made in a READ COMMITTED transaction, not {isolation}")
    rows = catalog_movies is None or movies <= catalog_movies - movies
    if rows:
        walk = catalog_movies is not None and movies > catalog_movies * WALK_SHARE
        write_change_rows(conn, version, ingestion_id, walk=walk)
    params = {"ingestion_id": ingestion_id, "movies": movies, "change_rows": rows}
    row = conn.execute(COMMIT_VERSION, params).fetchone()
    if row is None or int(row[0]) != version:
        raise RuntimeError(f"catalog_state moved from {version - 1} under its lock")
    return version


def write_change_rows(conn: psycopg.Connection, version: int, ingestion_id: int, *,
                      walk: bool) -> None:  # fmt: skip
    if walk:
        # Joined by hash or merge, never a nested loop: with the statistics of a catalog that
        # was just emptied and loaded, the planner may otherwise walk the catalog once per
        # changed movie (seen: 98 s for one change set).
        conn.execute("SET LOCAL enable_nestloop = off")
    conn.execute(change_rows(walk=walk), {"version": version, "ingestion_id": ingestion_id})
    if walk:
        conn.execute("SET LOCAL enable_nestloop TO DEFAULT")


def prune(conn: psycopg.Connection, keep_versions: int) -> int | None:
    """Forget the changes of all but the newest ``keep_versions`` versions; the new horizon,
    or None if nothing was old enough."""
    row = conn.execute(PRUNE, {"keep": keep_versions}).fetchone()
    return None if row is None else int(row[0])
