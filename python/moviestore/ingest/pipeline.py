"""One uploaded object, start to finish: claim it, validate and load it in ONE transaction,
then tell the provider. Exactly once, whatever fails on the way:

* every object version has one ``ingestions`` row; a final status means "done, acknowledge";
* the load transaction holds an advisory lock on the version, so two workers handed the same
  object at once cannot both load it (the second is told ``busy`` and retries later);
* rows, counts, the final status, and the catalog version bump commit together; a crash
  before the commit leaves no row of the file, and the message, not deleted, comes back;
* what follows the commit (the cache refresh and the notices, ``ingest.duties``) is recorded
  by ``notified_at``: a message for a final version whose duties were never done is handed back
  as a ``resumed`` result, so they are done then.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Any

import orjson
import psycopg

from moviestore._validator import Validator
from moviestore.aws.clients import Clients
from moviestore.ingest.events import ObjectRef
from moviestore.ingest.reports import ErrorSink, report_key
from moviestore.logs import event
from moviestore.settings import Settings
from moviestore.store.feed import commit_version
from moviestore.store.loader import ProviderBusyError, TooManyInvalidError, load
from moviestore.validation import CHUNK_SIZE, CatalogFileError, Limits, Report

log = logging.getLogger("moviestore.ingest")


class Outcome(StrEnum):
    LOADED = "loaded"
    PARTIALLY_LOADED = "partially_loaded"
    REJECTED = "rejected"
    ALREADY_DONE = "already_done"
    BUSY = "busy"


FINAL = ("loaded", "partially_loaded", "rejected")


@dataclass
class Result:
    outcome: Outcome
    ingestion_id: int | None = None
    report: Report | None = None
    reason: str | None = None
    report_key: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    # The catalog version the commit made; None when it changed no movie.
    catalog_version: int | None = None
    # The duties after the commit (cache refresh, notices) are still to be done.
    pending: bool = False
    # Read back from an earlier delivery that committed but never did its duties.
    resumed: bool = False

    @property
    def needs_dead_letter(self) -> bool:
        return self.outcome in (Outcome.REJECTED, Outcome.PARTIALLY_LOADED)

    @property
    def changed_rows(self) -> bool:
        return bool(self.summary.get("rows_inserted") or self.summary.get("rows_updated"))


CLAIM = """
INSERT INTO ingestions (bucket, key, version, provider, status, worker, bytes)
VALUES (%(bucket)s, %(key)s, %(version)s, %(provider)s, 'processing', %(worker)s, %(size)s)
ON CONFLICT (bucket, key, version) DO UPDATE
    SET attempts = ingestions.attempts + 1, worker = EXCLUDED.worker, started_at = now(),
        status = 'processing'
    WHERE ingestions.status NOT IN ('loaded', 'partially_loaded', 'rejected')
RETURNING id
"""

FINISH = """
UPDATE ingestions SET status = %(status)s, records_total = %(total)s,
    records_valid = %(valid)s, records_invalid = %(invalid)s,
    duplicates_collapsed = %(collapsed)s, rows_inserted = %(inserted)s,
    rows_updated = %(updated)s, error_counts = %(error_counts)s, error_summary = %(summary)s,
    report_key = %(report_key)s, bytes = %(bytes)s, finished_at = now(),
    notified_at = CASE WHEN %(pending)s THEN NULL ELSE now() END
WHERE id = %(id)s
"""

# A final version whose duties were never done (the worker died after the commit).
UNNOTIFIED = """
SELECT i.id, i.status, i.records_total, i.records_valid, i.records_invalid,
    i.duplicates_collapsed, i.rows_inserted, i.rows_updated, i.error_counts, i.error_summary,
    i.report_key, c.version
FROM ingestions i CROSS JOIN catalog_state c
WHERE i.bucket = %(bucket)s AND i.key = %(key)s AND i.version = %(version)s
    AND i.status IN ('loaded', 'partially_loaded', 'rejected') AND i.notified_at IS NULL
"""


class Ingestor:
    """Ingests objects; one per worker thread (it owns no connection between files)."""

    def __init__(self, settings: Settings, clients: Clients, worker_name: str):
        self.settings, self.clients, self.worker = settings, clients, worker_name
        self.limits = Limits(
            max_errors=settings.report_max_errors,
            max_bytes=settings.max_file_bytes,
            max_record_bytes=settings.max_record_bytes,
        )

    def ingest(self, ref: ObjectRef, on_batch: Callable[[], None] | None = None) -> Result:
        """Ingest one object version. ``on_batch`` runs between batches; an exception it raises
        abandons the load (rolled back, nothing half-loaded) and propagates."""
        started = time.monotonic()
        url = self.settings.database_url.get_secret_value()
        with psycopg.connect(url, autocommit=True) as conn:
            claimed = conn.execute(CLAIM, {**ref.__dict__, "worker": self.worker}).fetchone()
            if claimed is None:
                return unnotified(conn, ref) or Result(
                    Outcome.ALREADY_DONE, reason="this object version was already ingested"
                )
            ingestion_id = int(claimed[0])
            conn.autocommit = False
            result = self.load_locked(conn, ref, ingestion_id, on_batch)
        event(
            log,
            logging.INFO,
            "ingestion finished",
            outcome=result.outcome.value,
            ingestion_id=ingestion_id,
            seconds=round(time.monotonic() - started, 3),
            **result.summary,
        )
        return result

    def load_locked(
        self,
        conn: psycopg.Connection,
        ref: ObjectRef,
        ingestion_id: int,
        on_batch: Callable[[], None] | None,
    ) -> Result:
        sink = ErrorSink()
        try:
            with conn.transaction():
                if not lock_version(conn, ref):
                    return Result(
                        Outcome.BUSY, ingestion_id, reason="another worker holds this object"
                    )
                status = conn.execute(
                    "SELECT status FROM ingestions WHERE id = %s", (ingestion_id,)
                ).fetchone()
                if status is not None and status[0] in FINAL:
                    return Result(Outcome.ALREADY_DONE, ingestion_id)
                result = self.validate_and_load(conn, ref, ingestion_id, sink, on_batch)
                result.ingestion_id = ingestion_id
                if result.outcome is Outcome.BUSY:
                    return result
                if result.needs_dead_letter:
                    # Before the commit, so a committed status never points at a missing
                    # report; a retry after a failed commit overwrites the same key.
                    result.report_key = report_key(ref)
                    sink.upload(self.clients, ref.bucket, result.report_key, result.summary)
                result.pending = result.needs_dead_letter or result.changed_rows
                conn.execute(FINISH, finish_params(result, ingestion_id))
                if result.changed_rows:
                    changed = result.summary["rows_inserted"] + result.summary["rows_updated"]
                    result.catalog_version = commit_version(conn, ingestion_id, changed)
            return result
        finally:
            sink.close()

    def validate_and_load(
        self,
        conn: psycopg.Connection,
        ref: ObjectRef,
        ingestion_id: int,
        sink: ErrorSink,
        on_batch: Callable[[], None] | None,
    ) -> Result:
        validator = self.limits.validator(PurePosixPath(ref.key).name, stream_errors=True)
        try:
            with conn.transaction():  # a savepoint: a rejected file leaves only its status
                loaded = load(
                    conn,
                    validator,
                    self.object_chunks(ref),
                    provider=ref.provider,
                    ingestion_id=ingestion_id,
                    source_key=ref.key,
                    reject_invalid_ratio=self.settings.reject_invalid_ratio,
                    on_batch=lambda: after_batch(sink, validator, on_batch),
                )
        except CatalogFileError as e:
            sink.write(validator.take_errors())
            return rejected(ref, e.report, f"{e.code}: {e}")
        except TooManyInvalidError as e:
            sink.write(validator.take_errors())
            return rejected(ref, e.report, str(e))
        except ProviderBusyError as e:
            return Result(Outcome.BUSY, ingestion_id, reason=str(e))
        sink.write(validator.take_errors())
        report = loaded.report
        outcome = Outcome.PARTIALLY_LOADED if report.records_invalid else Outcome.LOADED
        summary = summarize(ref, outcome, report) | {
            "rows_inserted": loaded.inserted,
            "rows_updated": loaded.updated,
        }
        return Result(outcome, ingestion_id, report, summary=summary)

    def object_chunks(self, ref: ObjectRef) -> Iterator[bytes]:
        body = self.clients.s3.get_object(Bucket=ref.bucket, Key=ref.key)["Body"]
        try:
            yield from body.iter_chunks(CHUNK_SIZE)
        finally:
            body.close()


def lock_version(conn: psycopg.Connection, ref: ObjectRef) -> bool:
    """Take the object version's advisory lock for the transaction; False if someone has it."""
    row = conn.execute(
        "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))",
        (f"{ref.bucket}\n{ref.key}\n{ref.version}",),
    ).fetchone()
    return row is not None and bool(row[0])


def unnotified(conn: psycopg.Connection, ref: ObjectRef) -> Result | None:
    """The stored outcome of a final version whose duties were never done, else None."""
    row = conn.execute(UNNOTIFIED, ref.__dict__).fetchone()
    if row is None:
        return None
    (iid, status, total, valid, invalid, collapsed, inserted, updated, counts, reason, key, v) = row
    summary = {
        "provider": ref.provider,
        "bucket": ref.bucket,
        "key": ref.key,
        "version": ref.version,
        "status": status,
        "records_total": total,
        "records_valid": valid,
        "records_invalid": invalid,
        "duplicates_collapsed": collapsed,
        "error_counts": counts,
        "rows_inserted": inserted,
        "rows_updated": updated,
    }
    if reason is not None:
        summary["reason"] = reason
    result = Result(Outcome(status), iid, None, reason, key, summary, pending=True, resumed=True)
    # Rows read now are the same at the current version (later changes moved them to the
    # ingestion that made them), so the documents go under the current version's keys.
    result.catalog_version = int(v) if result.changed_rows else None
    return result


def after_batch(sink: ErrorSink, validator: Validator, then: Callable[[], None] | None) -> None:
    sink.write(validator.take_errors())
    if then is not None:
        then()


def rejected(ref: ObjectRef, report: Report, reason: str) -> Result:
    summary = summarize(ref, Outcome.REJECTED, report) | {"reason": reason}
    return Result(Outcome.REJECTED, None, report, reason=reason, summary=summary)


def summarize(ref: ObjectRef, outcome: Outcome, report: Report) -> dict[str, Any]:
    return {
        "provider": ref.provider,
        "bucket": ref.bucket,
        "key": ref.key,
        "version": ref.version,
        "status": outcome.value,
        "records_total": report.records_total,
        "records_valid": report.records_valid,
        "records_invalid": report.records_invalid,
        "duplicates_collapsed": report.duplicates_collapsed,
        "error_counts": report.error_counts,
        "file_error": report.file_error,
    }


def finish_params(result: Result, ingestion_id: int) -> dict[str, Any]:
    r = result.report
    return {
        "id": ingestion_id,
        "status": result.outcome.value,
        "total": r.records_total if r else None,
        "valid": r.records_valid if r else None,
        "invalid": r.records_invalid if r else None,
        "collapsed": r.duplicates_collapsed if r else None,
        "inserted": result.summary.get("rows_inserted", 0),
        "updated": result.summary.get("rows_updated", 0),
        "error_counts": orjson.dumps(r.error_counts if r else {}).decode(),
        "summary": result.reason,
        "report_key": result.report_key,
        "bytes": r.bytes_read if r else None,
        "pending": result.pending,
    }
