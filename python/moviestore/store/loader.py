"""Load one validated file into ``movies`` inside the caller's transaction: a file lands whole or
not at all. Valid records stream from the validator straight into binary COPY (no Python object
per movie), by one of two paths:

* **first load** of a provider (it has no row yet): COPY straight into ``movies``. Nothing can
  conflict, so there is no staging table and no index probe: as close to a raw COPY as it gets.
* **upsert** otherwise: COPY into a temporary staging table, then one INSERT … ON CONFLICT. A
  record whose content did not change is not written at all (no new row version, no WAL, no
  ``updated_at`` bump), which makes re-ingesting an unchanged file cheap.

The caller holds the provider's lock (``lock_provider``): one file of a provider loads at a
time, so a first load cannot race another load, a snapshot sees the catalog it replaces, and two
files never update the same rows in different orders (no deadlocks).

Withdrawals (docs/provider-format.md, "Catalog lifecycle") are soft deletes in the same
transaction: a snapshot withdraws every live movie of the provider it does not hold (unless that
would withdraw more than the brake allows: ``HeldError``, nothing applied), a deletion record
withdraws the movie it names, and a record of a withdrawn movie brings it back.

Every movie the file inserts, changes, withdraws or brings back is logged in
``catalog_changes`` in the same transaction: the change feed the API follows
(``store/feed.py``). Reading S3 and validating run in a producer thread, ahead of PostgreSQL by
a bounded queue, so both cores work and memory stays flat.
"""

from __future__ import annotations

import contextlib
import queue
import struct
import threading
import uuid
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import LiteralString

import psycopg
from psycopg import sql

from moviestore._validator import COPY_COLUMNS, COPY_HEADER, COPY_TRAILER, Validator
from moviestore.validation import Progress, Report, iter_batches

# PostgreSQL types of the validator's COPY columns (docs/validator-api.md).
COLUMN_TYPES = {
    "title": "text",
    "year": "int4",
    "provider_id": "text",
    "href": "text",
    "cast": "text[]",
    "genres": "text[]",
    "extract": "text",
    "thumbnail": "text",
    "thumbnail_width": "int4",
    "thumbnail_height": "int4",
    "record_key": "uuid",
    "content_hash": "int8",
    "record": "int8",
    "line": "int8",
}
STAGED = [c for c in COPY_COLUMNS if c not in ("record", "line")]
MOVIE_FIELDS = [c for c in STAGED if c != "record_key"]

assert set(COLUMN_TYPES) == set(COPY_COLUMNS), "the staging table must match the COPY columns"
assert COPY_COLUMNS[-2:] == ("record", "line"), "retag() drops the last two fields"

STAGING = sql.SQL("CREATE TEMP TABLE staging_movies ({}) ON COMMIT DROP").format(
    sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(COLUMN_TYPES[c])) for c in COPY_COLUMNS
    )
)
COPY = sql.SQL("COPY staging_movies ({}) FROM STDIN (FORMAT binary)").format(
    sql.SQL(", ").join(map(sql.Identifier, COPY_COLUMNS))
)
# The first load's tuples: the validator's, with (record, line) replaced by these three.
COPY_MOVIES = sql.SQL("COPY movies ({}) FROM STDIN (FORMAT binary)").format(
    sql.SQL(", ").join(map(sql.Identifier, [*STAGED, "provider", "ingestion_id", "source_key"]))
)
UPSERT = sql.SQL(
    """
    WITH upserted AS (
        INSERT INTO movies AS m (provider, ingestion_id, source_key, {staged})
        SELECT %(provider)s, %(ingestion_id)s, %(source_key)s, {staged} FROM staging_movies s
        -- Unchanged live rows are left out before the insert: ON CONFLICT DO UPDATE would
        -- lock (and so write WAL for) every conflicting row even when its WHERE skips it.
        WHERE NOT EXISTS (
            SELECT FROM movies u WHERE u.provider = %(provider)s
                AND u.record_key = s.record_key AND u.content_hash = s.content_hash
                AND u.withdrawn_at IS NULL
        )
        ON CONFLICT (provider, record_key) DO UPDATE
            SET {updates}, ingestion_id = EXCLUDED.ingestion_id,
                source_key = EXCLUDED.source_key, updated_at = now(), withdrawn_at = NULL
            -- A withdrawn movie comes back even unchanged.
            WHERE m.content_hash <> EXCLUDED.content_hash OR m.withdrawn_at IS NOT NULL
        RETURNING m.id, (xmax = 0) AS inserted
    ), logged AS (
        -- The change feed (store/feed.py): every movie this file inserted or changed.
        INSERT INTO catalog_changes (ingestion_id, movie_id, change)
        SELECT %(ingestion_id)s, id, CASE WHEN inserted THEN 'inserted' ELSE 'updated' END
        FROM upserted
    )
    SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted
    """
).format(
    staged=sql.SQL(", ").join(map(sql.Identifier, STAGED)),
    updates=sql.SQL(", ").join(
        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in MOVIE_FIELDS
    ),
)

# A first load inserted every movie the provider has.
LOG_FIRST_LOAD = """
INSERT INTO catalog_changes (ingestion_id, movie_id, change)
SELECT %(ingestion_id)s, id, 'inserted' FROM movies WHERE provider = %(provider)s
"""

# A snapshot's keys, indexed: whatever the planner believes of a freshly loaded provider (no
# statistics yet: "20 rows"), what it lacks is found by index probes, never by scanning the
# staged file once per movie (measured: minutes for 300,000 movies; with the index, 3 s).
INDEX_STAGED_KEYS = "CREATE INDEX ON staging_movies (record_key); ANALYZE staging_movies"

# A snapshot's effect on the provider's live catalog: its movies, and those the file lacks.
SNAPSHOT_COUNTS = """
SELECT count(*), count(*) FILTER (WHERE s.record_key IS NULL)
FROM movies m LEFT JOIN staging_movies s ON s.record_key = m.record_key
WHERE m.provider = %(provider)s AND m.withdrawn_at IS NULL
"""

# Soft deletes, logged in the change feed: every live movie of the provider the snapshot lacks.
WITHDRAW_MISSING = """
WITH gone AS (
    UPDATE movies m SET withdrawn_at = now(), ingestion_id = %(ingestion_id)s
    WHERE m.provider = %(provider)s AND m.withdrawn_at IS NULL
        AND NOT EXISTS (SELECT FROM staging_movies s WHERE s.record_key = m.record_key)
    RETURNING m.id
), logged AS (
    INSERT INTO catalog_changes (ingestion_id, movie_id, change)
    SELECT %(ingestion_id)s, id, 'withdrawn' FROM gone
)
SELECT count(*) FROM gone
"""

# ... and the live movies the file's deletion records name.
WITHDRAW_KEYS = """
WITH gone AS (
    UPDATE movies m SET withdrawn_at = now(), ingestion_id = %(ingestion_id)s
    WHERE m.provider = %(provider)s AND m.record_key = ANY(%(keys)s) AND m.withdrawn_at IS NULL
    RETURNING m.id
), logged AS (
    INSERT INTO catalog_changes (ingestion_id, movie_id, change)
    SELECT %(ingestion_id)s, id, 'withdrawn' FROM gone
)
SELECT count(*) FROM gone
"""

HAS_ROWS = "SELECT EXISTS (SELECT FROM movies WHERE provider = %s)"
# The provider lock ('provider:' never starts an object version's lock, bucket\nkey\nversion).
LOCK_PROVIDER = "SELECT pg_try_advisory_xact_lock(hashtextextended('provider:' || %s, 0))"

# Batches the producer thread may be ahead of PostgreSQL (each about one 1 MiB input chunk).
QUEUE_DEPTH = 8


class TooManyInvalidError(Exception):
    """The share of invalid records is above the threshold: the export is broken."""

    def __init__(self, report: Report, ratio: float, threshold: float):
        super().__init__(f"{ratio:.1%} of the records are invalid (threshold {threshold:.1%})")
        self.report, self.ratio, self.threshold = report, ratio, threshold


class HeldError(Exception):
    """The snapshot would withdraw more of the provider's catalog than the brake allows."""

    def __init__(self, report: Report, would_withdraw: int, live: int, brake: float):
        super().__init__(
            f"the snapshot would withdraw {would_withdraw:,} of the provider's {live:,} movies "
            f"({would_withdraw / live:.1%}; the brake holds more than {brake:.0%})"
        )
        self.report, self.would_withdraw, self.live = report, would_withdraw, live


@dataclass(frozen=True)
class Snapshot:
    """How a snapshot file is loaded: ``brake`` is the largest share of the provider's live
    catalog it may withdraw (None: no limit, an operator released it)."""

    brake: float | None


@dataclass(frozen=True)
class Loaded:
    report: Report
    inserted: int
    updated: int
    withdrawn: int = 0
    first_load: bool = False
    # A snapshot with invalid records withdraws nothing by absence (their keys are unknown).
    withdrawals_skipped: bool = False

    @property
    def unchanged(self) -> int:
        movies = self.report.records_valid - self.report.deletions
        return movies - self.inserted - self.updated


def load(
    conn: psycopg.Connection,
    validator: Validator,
    chunks: Iterable[bytes],
    *,
    provider: str,
    ingestion_id: int,
    source_key: str,
    reject_invalid_ratio: float = 1.0,
    snapshot: Snapshot | None = None,
    progress: Progress | None = None,
    on_batch: Callable[[], None] | None = None,
) -> Loaded:
    """Validate and load one file inside the caller's open transaction, the caller holding the
    provider's lock (``lock_provider``).

    Raises ``CatalogFileError`` (a whole-file error), ``TooManyInvalidError`` or ``HeldError``:
    roll back. ``on_batch`` runs after every batch, in the producer thread (the worker drains
    streamed errors there); what it raises ends the load.
    """
    first = not fetch_bool(conn, HAS_ROWS, provider)
    deleted: list[bytes] = []  # the deletion records' keys, 16 bytes each

    def copy_data() -> Iterator[bytes]:
        suffix = movie_suffix(provider, ingestion_id, source_key) if first else b""
        for batch in iter_batches(validator, chunks, progress):
            deleted.append(batch.deleted_keys)
            if batch.count:
                yield retag(batch.copy_data, suffix) if first else batch.copy_data
            if on_batch is not None:
                on_batch()

    if not first:
        conn.execute(STAGING)
    with conn.cursor() as cur:
        with (
            cur.copy(COPY_MOVIES if first else COPY) as copy,
            contextlib.closing(ahead(copy_data(), QUEUE_DEPTH)) as stream,
        ):
            copy.write(COPY_HEADER)
            for data in stream:
                copy.write(data)
            copy.write(COPY_TRAILER)
        copied = cur.rowcount
    report = validator.report
    considered = report.records_valid + report.records_invalid
    ratio = report.records_invalid / considered if considered else 0.0
    if ratio > reject_invalid_ratio:
        raise TooManyInvalidError(report, ratio, reject_invalid_ratio)
    params = {"provider": provider, "ingestion_id": ingestion_id, "source_key": source_key}
    if first:  # nothing of the provider to withdraw
        conn.execute(LOG_FIRST_LOAD, params)
        return Loaded(report, copied, 0, first_load=True)
    withdrawn, skipped = 0, False
    if snapshot is not None:
        if report.records_invalid:
            skipped = True
        else:
            withdrawn = withdraw_missing(conn, report, params, snapshot)
    row = conn.execute(UPSERT, params).fetchone()
    inserted, updated = row if row is not None else (0, 0)
    withdrawn += withdraw_keys(conn, b"".join(deleted), params)
    return Loaded(report, inserted, updated, withdrawn, withdrawals_skipped=skipped)


def withdraw_missing(
    conn: psycopg.Connection, report: Report, params: dict[str, object], snapshot: Snapshot
) -> int:
    """Withdraw the live movies the staged snapshot lacks, unless the brake holds it."""
    conn.execute(INDEX_STAGED_KEYS)
    row = conn.execute(SNAPSHOT_COUNTS, params).fetchone()
    live, missing = (int(row[0]), int(row[1])) if row is not None else (0, 0)
    if not missing:
        return 0
    if snapshot.brake is not None and missing > snapshot.brake * live:
        raise HeldError(report, missing, live, snapshot.brake)
    row = conn.execute(WITHDRAW_MISSING, params).fetchone()
    return int(row[0]) if row is not None else 0


def withdraw_keys(conn: psycopg.Connection, keys: bytes, params: dict[str, object]) -> int:
    if not keys:
        return 0
    named = [uuid.UUID(bytes=keys[i : i + 16]) for i in range(0, len(keys), 16)]
    row = conn.execute(WITHDRAW_KEYS, {**params, "keys": named}).fetchone()
    return int(row[0]) if row is not None else 0


def lock_provider(conn: psycopg.Connection, provider: str) -> bool:
    """Try to take the provider's lock for the transaction; False if another load holds it."""
    return fetch_bool(conn, LOCK_PROVIDER, provider)


def fetch_bool(conn: psycopg.Connection, query: LiteralString, param: str) -> bool:
    row = conn.execute(query, (param,)).fetchone()
    return bool(row and row[0])


def movie_suffix(provider: str, ingestion_id: int, source_key: str) -> bytes:
    """The binary COPY fields (provider text, ingestion_id int8, source_key text)."""
    p, k = provider.encode(), source_key.encode()
    return struct.pack(f">i{len(p)}siqi{len(k)}s", len(p), p, 8, ingestion_id, len(k), k)


TUPLE_FIELDS = struct.pack(">h", len(STAGED) + 3)
KEPT = len(STAGED)
DROPPED_BYTES = 2 * (4 + 8)  # record and line: int8 fields with their lengths


def retag(data: bytes, suffix: bytes) -> bytes:
    """The validator's binary COPY tuples as ``movies`` tuples: each tuple's last two fields
    (record, line) replaced by ``suffix``. Walks the field lengths; no field is decoded."""
    view = memoryview(data)
    parts: list[bytes | memoryview] = []
    append = parts.append
    from_bytes = int.from_bytes
    pos, end = 0, len(data)
    while pos < end:
        start = pos + 2
        pos = start
        for _ in range(KEPT):
            size = from_bytes(view[pos : pos + 4], "big", signed=True)
            pos += 4 + size if size > 0 else 4
        append(TUPLE_FIELDS)
        append(view[start:pos])
        append(suffix)
        pos += DROPPED_BYTES
    return b"".join(parts)


def ahead(items: Iterator[bytes], depth: int) -> Generator[bytes]:
    """``items``, produced by a thread at most ``depth`` items ahead of the consumer.

    An exception in the producer is raised here; closing this generator early (the consumer
    failed) stops the producer and closes ``items``."""
    slots: queue.Queue[bytes | BaseException | None] = queue.Queue(depth)  # None: the end
    stop = threading.Event()

    def put(item: bytes | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    break
            put(None)
        except BaseException as e:  # handed to the consumer, which raises it
            put(e)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="load-producer", daemon=True)
    thread.start()
    try:
        while (item := slots.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()
