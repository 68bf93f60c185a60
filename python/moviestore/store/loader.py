"""Load one validated file into ``movies``: binary COPY into a staging table, then one upsert.

Everything happens in the caller's transaction, so a file lands whole or not at all. Valid
records stream from the validator straight into COPY (no Python object per movie); a record
whose content did not change is not written at all (no new row version, no WAL, no
``updated_at`` bump), which makes re-ingesting an unchanged file cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

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

STAGING = sql.SQL("CREATE TEMP TABLE staging_movies ({}) ON COMMIT DROP").format(
    sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(COLUMN_TYPES[c])) for c in COPY_COLUMNS
    )
)
COPY = sql.SQL("COPY staging_movies ({}) FROM STDIN (FORMAT binary)").format(
    sql.SQL(", ").join(map(sql.Identifier, COPY_COLUMNS))
)
UPSERT = sql.SQL(
    """
    WITH upserted AS (
        INSERT INTO movies AS m (provider, ingestion_id, source_key, {staged})
        SELECT %(provider)s, %(ingestion_id)s, %(source_key)s, {staged} FROM staging_movies s
        -- Unchanged rows are left out before the insert: ON CONFLICT DO UPDATE would lock
        -- (and so write WAL for) every conflicting row even when its WHERE skips the update.
        WHERE NOT EXISTS (
            SELECT FROM movies u WHERE u.provider = %(provider)s
                AND u.record_key = s.record_key AND u.content_hash = s.content_hash
        )
        ON CONFLICT (provider, record_key) DO UPDATE
            SET {updates}, ingestion_id = EXCLUDED.ingestion_id,
                source_key = EXCLUDED.source_key, updated_at = now()
            WHERE m.content_hash <> EXCLUDED.content_hash
        RETURNING (xmax = 0) AS inserted
    )
    SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted
    """
).format(
    staged=sql.SQL(", ").join(map(sql.Identifier, STAGED)),
    updates=sql.SQL(", ").join(
        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in MOVIE_FIELDS
    ),
)

assert set(COLUMN_TYPES) == set(COPY_COLUMNS), "the staging table must match the COPY columns"


class TooManyInvalidError(Exception):
    """The share of invalid records is above the threshold: the export is broken."""

    def __init__(self, report: Report, ratio: float, threshold: float):
        super().__init__(f"{ratio:.1%} of the records are invalid (threshold {threshold:.1%})")
        self.report, self.ratio, self.threshold = report, ratio, threshold


@dataclass(frozen=True)
class Loaded:
    report: Report
    inserted: int
    updated: int

    @property
    def unchanged(self) -> int:
        return self.report.records_valid - self.inserted - self.updated


def load(
    conn: psycopg.Connection,
    validator: Validator,
    chunks: Iterable[bytes],
    *,
    provider: str,
    ingestion_id: int,
    source_key: str,
    reject_invalid_ratio: float = 1.0,
    progress: Progress | None = None,
    on_batch: Callable[[], None] | None = None,
) -> Loaded:
    """Validate and load one file inside the caller's open transaction.

    Raises ``CatalogFileError`` (a whole-file error) or ``TooManyInvalidError``: roll back.
    ``on_batch`` runs after every batch (the worker drains streamed errors there).
    """
    conn.execute(STAGING)
    with conn.cursor().copy(COPY) as copy:
        copy.write(COPY_HEADER)
        for batch in iter_batches(validator, chunks, progress):
            copy.write(batch.copy_data)
            if on_batch is not None:
                on_batch()
        copy.write(COPY_TRAILER)
    report = validator.report
    considered = report.records_valid + report.records_invalid
    ratio = report.records_invalid / considered if considered else 0.0
    if ratio > reject_invalid_ratio:
        raise TooManyInvalidError(report, ratio, reject_invalid_ratio)
    params = {"provider": provider, "ingestion_id": ingestion_id, "source_key": source_key}
    row = conn.execute(UPSERT, params).fetchone()
    inserted, updated = row if row is not None else (0, 0)
    return Loaded(report, inserted, updated)
