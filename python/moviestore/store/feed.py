"""The change feed, written (migration 0005): each ingestion records the movies it changed,
in its own transaction, and the version bump at its end records the version it made.

Reading the feed is the API's (``store.reads``); this module is the writing side: the loader
logs changes as it writes movies, ``commit_version`` closes an ingestion's transaction, the
publisher reads what one ingestion changed (``DOCUMENTS``, ``WITHDRAWN``), and ``prune`` bounds
the retention.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from moviestore.catalog.documents import SELECT_COLUMNS

# The last statement before the commit: the catalog_state row, which serialises the versions
# of concurrent ingestions in their commit order, stays locked for the shortest time.
COMMIT_VERSION = """
WITH bumped AS (UPDATE catalog_state SET version = version + 1 RETURNING version)
INSERT INTO catalog_versions (version, ingestion_id, movies)
SELECT version, %(ingestion_id)s, %(movies)s FROM bumped
RETURNING version
"""

# Versions (and their changes) older than the newest ``keep`` go; the horizon says how far.
PRUNE = """
WITH old AS (
    DELETE FROM catalog_versions
    WHERE version <= (SELECT version FROM catalog_state) - %(keep)s
    RETURNING version, ingestion_id
), gone AS (
    DELETE FROM catalog_changes c USING old WHERE c.ingestion_id = old.ingestion_id
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


def commit_version(conn: psycopg.Connection, ingestion_id: int, movies: int) -> int:
    """Bump the catalog version for an ingestion that changed ``movies`` movies (its changes
    already logged); the caller commits right after."""
    row = conn.execute(COMMIT_VERSION, {"ingestion_id": ingestion_id, "movies": movies}).fetchone()
    if row is None:
        raise RuntimeError("catalog_state has no row")
    return int(row[0])


def prune(conn: psycopg.Connection, keep_versions: int) -> int | None:
    """Forget the changes of all but the newest ``keep_versions`` versions; the new horizon,
    or None if nothing was old enough."""
    row = conn.execute(PRUNE, {"keep": keep_versions}).fetchone()
    return None if row is None else int(row[0])
