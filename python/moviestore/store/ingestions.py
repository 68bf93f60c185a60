"""Every statement on ``ingestions``, the record of each uploaded object version, from the
worker's claim to the operator's decision on a held snapshot (the API's read of a provider's
history is in ``store.reads``).

One row per (bucket, key, version); its status is the truth about that version:
``processing`` (claimed; stale when its heartbeat stopped), ``loaded``, ``partially_loaded``,
``rejected``, ``superseded`` (a newer upload of the key replaced it first), ``held`` (a snapshot
the brake stopped), ``confirmed`` (released by an operator, queued to load again), ``discarded``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

# A delivery of a version with one of these statuses is only acknowledged (its notices aside).
FINAL = ("loaded", "partially_loaded", "rejected", "superseded", "held", "discarded")

# A new version is claimed; a claim left by a worker that died (processing with a heartbeat
# older than ``live_within`` seconds, or failed) is taken over, and so is a held snapshot an
# operator confirmed. None: the version is final, or claimed by a live worker.
CLAIM = """
INSERT INTO ingestions (bucket, key, version, provider, status, worker, bytes, etag, version_id,
    sequencer, heartbeat_at)
VALUES (%(bucket)s, %(key)s, %(version)s, %(provider)s, 'processing', %(worker)s, %(size)s,
    %(etag)s, %(version_id)s, %(sequencer)s, now())
ON CONFLICT (bucket, key, version) DO UPDATE
    SET attempts = ingestions.attempts + 1, worker = EXCLUDED.worker, started_at = now(),
        heartbeat_at = now(), status = 'processing',
        sequencer = coalesce(ingestions.sequencer, EXCLUDED.sequencer)
    WHERE ingestions.status IN ('failed', 'confirmed')
        OR (ingestions.status = 'processing'
            AND ingestions.heartbeat_at < now() - make_interval(secs => %(live_within)s))
RETURNING id
"""

STATUS = "SELECT status FROM ingestions WHERE bucket = %(bucket)s AND key = %(key)s"
STATUS += " AND version = %(version)s"

# Read under the provider's lock: what another worker may have decided meanwhile.
UNDER_LOCK = "SELECT status, settled_at IS NOT NULL FROM ingestions WHERE id = %s"

# A newer version of the same key already has a row (S3's sequencers of one key compare as
# hexadecimal strings; only sequencers of the same length are compared here, the object's
# current version decides the rest).
NEWER_VERSION = """
SELECT EXISTS (
    SELECT FROM ingestions n
    WHERE n.bucket = %(bucket)s AND n.key = %(key)s AND n.version <> %(version)s
        AND n.sequencer IS NOT NULL AND length(n.sequencer) = length(%(sequencer)s)
        AND n.sequencer > %(sequencer)s
)
"""

FINISH = """
UPDATE ingestions SET status = %(status)s, mode = %(mode)s, records_total = %(total)s,
    records_valid = %(valid)s, records_invalid = %(invalid)s,
    duplicates_collapsed = %(collapsed)s, rows_inserted = %(inserted)s,
    rows_updated = %(updated)s, rows_withdrawn = %(withdrawn)s,
    would_withdraw = %(would_withdraw)s, catalog_movies = %(catalog_movies)s,
    error_counts = %(error_counts)s, error_summary = %(summary)s,
    report_key = %(report_key)s, bytes = coalesce(%(bytes)s, bytes), finished_at = now(),
    notified_at = CASE WHEN %(pending)s THEN NULL ELSE now() END
WHERE id = %(id)s
"""

STORED_COLUMNS = """
    i.id, i.bucket, i.key, i.version, i.provider, i.status, i.mode, i.etag, i.version_id,
    i.sequencer, i.bytes, i.records_total, i.records_valid, i.records_invalid,
    i.duplicates_collapsed, i.rows_inserted, i.rows_updated, i.rows_withdrawn, i.would_withdraw,
    i.catalog_movies, i.error_counts, i.error_summary, i.report_key, i.attempts, i.worker,
    i.started_at, i.finished_at, i.heartbeat_at, i.settled_by, i.settled_at,
    i.notified_at IS NOT NULL AS notified
"""

# A final version whose duties were never done (the worker died after the commit), with the
# catalog version now.
UNNOTIFIED = f"""
SELECT {STORED_COLUMNS}, c.version AS catalog_version
FROM ingestions i CROSS JOIN catalog_state c
WHERE i.bucket = %(bucket)s AND i.key = %(key)s AND i.version = %(version)s
    AND i.status IN ('loaded', 'partially_loaded', 'rejected', 'superseded', 'held')
    AND i.notified_at IS NULL
"""

BY_ID = f"SELECT {STORED_COLUMNS} FROM ingestions i WHERE i.id = %s"

# Claims still open, oldest first; a processing one whose heartbeat is older than
# ``stale_after`` seconds was left by a worker that died.
OPEN_CLAIMS = f"""
SELECT {STORED_COLUMNS},
    i.status = 'processing' AND i.heartbeat_at < now() - make_interval(secs => %(stale_after)s)
        AS stale
FROM ingestions i WHERE i.status IN ('processing', 'held', 'confirmed')
ORDER BY i.started_at LIMIT %(limit)s
"""

HELD = "SELECT count(*) FROM ingestions WHERE status = 'held'"
# The object version's advisory lock, for the duties after its commit ('provider:' starts the
# loads' lock, never bucket\nkey\nversion).
LOCK_VERSION = "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))"
NOTIFIED = "SELECT notified_at IS NULL FROM ingestions WHERE id = %s"
MARK_NOTIFIED = "UPDATE ingestions SET notified_at = now() WHERE id = %s"
BEAT = "UPDATE ingestions SET heartbeat_at = now() WHERE id = ANY(%s) AND status = 'processing'"
# A claim its worker gave up (its load abandoned at shutdown, rolled back): its heartbeat set
# ``stale_after`` seconds back, as a dead worker's is when its message comes back, so the
# message, visible again at once, takes it over.
RELEASE = """
UPDATE ingestions SET heartbeat_at = now() - make_interval(secs => %(stale_after)s)
WHERE id = ANY(%(ids)s) AND status = 'processing'
"""

# An operator's decision on a held snapshot: only a held row changes.
SETTLE = """
UPDATE ingestions SET status = %(status)s, settled_by = %(by)s, settled_at = now(),
    finished_at = CASE WHEN %(status)s = 'discarded' THEN now() ELSE finished_at END
WHERE id = %(id)s AND status = 'held'
RETURNING id
"""

# Versions of a bucket whose record is complete (final and notified), by key and ETag: the
# local platform re-announces every object not among them after a restart.
COMPLETE = """
SELECT key, etag, version FROM ingestions
WHERE bucket = %s AND status IN ('loaded', 'partially_loaded', 'rejected', 'superseded',
    'held', 'discarded') AND notified_at IS NOT NULL
"""


@dataclass(frozen=True)
class Stored:
    """An ingestion row as stored (``STORED_COLUMNS``)."""

    row: dict[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.row[name]


def claim(
    conn: psycopg.Connection, ref: dict[str, Any], worker: str, live_within: float
) -> int | str:
    """The claimed row's id, else the status that refused the claim: a final one, or
    ``processing`` (a live worker has it: heartbeated within ``live_within`` seconds)."""
    row = conn.execute(CLAIM, {**ref, "worker": worker, "live_within": live_within}).fetchone()
    if row is not None:
        return int(row[0])
    status = conn.execute(STATUS, ref).fetchone()
    if status is None:
        raise RuntimeError(f"ingestion of {ref['key']} refused its claim and vanished")
    return str(status[0])


def under_lock(conn: psycopg.Connection, ingestion_id: int) -> tuple[str, bool]:
    """The row's status and whether an operator released it, read under the provider lock."""
    row = conn.execute(UNDER_LOCK, (ingestion_id,)).fetchone()
    if row is None:
        raise RuntimeError(f"ingestion {ingestion_id} vanished")
    return str(row[0]), bool(row[1])


def newer_version_recorded(conn: psycopg.Connection, ref: dict[str, Any]) -> bool:
    if not ref.get("sequencer"):
        return False
    row = conn.execute(NEWER_VERSION, ref).fetchone()
    return bool(row and row[0])


def finish(conn: psycopg.Connection, params: dict[str, Any]) -> None:
    conn.execute(FINISH, params)


def unnotified(conn: psycopg.Connection, ref: dict[str, Any]) -> Stored | None:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(UNNOTIFIED, ref).fetchone()
    return None if row is None else Stored(row)


def by_id(conn: psycopg.Connection, ingestion_id: int) -> Stored | None:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(BY_ID, (ingestion_id,)).fetchone()
    return None if row is None else Stored(row)


def open_claims(conn: psycopg.Connection, stale_after: float, limit: int) -> list[Stored]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(OPEN_CLAIMS, {"stale_after": stale_after, "limit": limit}).fetchall()
    return [Stored(r) for r in rows]


def lock_version(conn: psycopg.Connection, bucket: str, key: str, version: str) -> bool:
    """Take the object version's advisory lock for the transaction; False if someone has it."""
    row = conn.execute(LOCK_VERSION, (f"{bucket}\n{key}\n{version}",)).fetchone()
    return row is not None and bool(row[0])


def notices_pending(conn: psycopg.Connection, ingestion_id: int) -> bool:
    row = conn.execute(NOTIFIED, (ingestion_id,)).fetchone()
    return bool(row and row[0])


def mark_notified(conn: psycopg.Connection, ingestion_id: int) -> None:
    conn.execute(MARK_NOTIFIED, (ingestion_id,))


def beat(conn: psycopg.Connection, ingestion_ids: Sequence[int]) -> None:
    """Move the heartbeat of the claims a worker holds."""
    if ingestion_ids:
        conn.execute(BEAT, (list(ingestion_ids),))


def release(conn: psycopg.Connection, ingestion_ids: Sequence[int], stale_after: float) -> None:
    """Give up the claims (see ``RELEASE``)."""
    conn.execute(RELEASE, {"ids": list(ingestion_ids), "stale_after": stale_after})


def held_count(conn: psycopg.Connection) -> int:
    """Snapshots waiting for an operator's decision."""
    row = conn.execute(HELD).fetchone()
    return int(row[0]) if row else 0


def settle(conn: psycopg.Connection, ingestion_id: int, status: str, by: str) -> bool:
    """``confirmed`` or ``discarded`` for a held snapshot; False if it is not held."""
    row = conn.execute(SETTLE, {"id": ingestion_id, "status": status, "by": by}).fetchone()
    return row is not None


def complete_versions(conn: psycopg.Connection, bucket: str) -> set[tuple[str, str | None]]:
    """(key, ETag) of every version of ``bucket`` whose record is complete."""
    return {(key, etag or version) for key, etag, version in conn.execute(COMPLETE, (bucket,))}
