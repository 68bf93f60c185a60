"""One uploaded object version, start to finish: claim it, load exactly that version in ONE
transaction, then tell the provider. Exactly once, whatever fails on the way:

* every object version has one ``ingestions`` row (``store.ingestions``); a final status means
  "done, acknowledge";
* the load transaction holds the provider's lock (waited for, never given up): one file of a
  provider loads at a time, so a duplicate delivery finds the final status under it, and two
  versions of one key load one after the other;
* the version loaded is the one the event names (its version id, else its ETag as a
  precondition); a version that a newer upload of its key replaced before its turn is recorded
  as ``superseded``, never loaded, so an older version never overwrites a newer one;
* rows, withdrawals, counts, the final status and the catalog version bump commit together; a
  crash before the commit leaves no row of the file, and the message, not deleted, comes back;
* what follows the commit (the publication and the notices, ``ingest.duties``) is recorded by
  ``notified_at``: a message for a final version whose duties were never done is handed back
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
from botocore.exceptions import ClientError

from moviestore._validator import Validator
from moviestore.aws.clients import Clients
from moviestore.ingest.events import ObjectRef
from moviestore.ingest.reports import ErrorSink, report_key
from moviestore.logs import event
from moviestore.settings import Settings
from moviestore.store import ingestions
from moviestore.store.feed import commit_version
from moviestore.store.loader import (
    HeldError,
    Snapshot,
    TooManyInvalidError,
    load,
    lock_provider,
)
from moviestore.store.pool import ConnectionPool
from moviestore.validation import CHUNK_SIZE, CatalogFileError, Limits, Report

log = logging.getLogger("moviestore.ingest")

MODES = ("incremental", "snapshot")
# How often a load waiting for its provider's lock tries again (doubling up to the last).
LOCK_POLL_SECONDS = (0.05, 0.1, 0.2, 0.5, 1.0)
# A claim heartbeated within this share of the visibility timeout belongs to a live worker (it
# beats every third); a dead worker's message comes back a whole timeout after its last beat.
LIVE_CLAIM_SHARE = 0.5
DUPLICATE_REASON = (
    "another delivery of this object version is being loaded (its claim is heartbeated); that "
    "delivery's message stays until its load commits, so this one is acknowledged"
)
# S3 errors that mean "this version is not the one to load any more".
GONE = {"PreconditionFailed", "NoSuchKey", "NoSuchVersion", "404", "412"}


class Outcome(StrEnum):
    LOADED = "loaded"
    PARTIALLY_LOADED = "partially_loaded"
    REJECTED = "rejected"
    HELD = "held"
    SUPERSEDED = "superseded"
    DISCARDED = "discarded"  # a held snapshot an operator dropped (moviestore ingestions)
    ALREADY_DONE = "already_done"
    # Another delivery of the same version is being loaded by a live worker (S3 and SQS deliver
    # at least once): acknowledged at once instead of holding a slot until that load ends.
    DUPLICATE = "duplicate"


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
    # The duties after the commit (publication, notices) are still to be done.
    pending: bool = False
    # Read back from an earlier delivery that committed but never did its duties.
    resumed: bool = False

    @property
    def changed_movies(self) -> int:
        s = self.summary
        return sum(int(s.get(k) or 0) for k in ("rows_inserted", "rows_updated", "rows_withdrawn"))


class Superseded(Exception):  # noqa: N818 - an outcome, not a failure
    """The event's object version is no longer the one to load."""


@dataclass(frozen=True)
class Opened:
    """The object version being read, and how to load it (its S3 user metadata ``mode``)."""

    body: Any
    mode: str

    def chunks(self) -> Iterator[bytes]:
        try:
            yield from self.body.iter_chunks(CHUNK_SIZE)
        finally:
            self.body.close()


@dataclass(frozen=True)
class Job:
    """One file's load in hand: its transaction, its version, its report on disk."""

    conn: psycopg.Connection
    ref: ObjectRef
    ingestion_id: int
    sink: ErrorSink
    on_batch: Callable[[], None] | None


class Ingestor:
    """Ingests objects; safe to share between worker threads (each file borrows a connection
    from ``pool`` for its load and gives it back)."""

    def __init__(
        self, settings: Settings, clients: Clients, worker_name: str, pool: ConnectionPool
    ):
        self.settings, self.clients, self.worker, self.pool = settings, clients, worker_name, pool
        self.live_within = settings.sqs_visibility_timeout_seconds * LIVE_CLAIM_SHARE
        self.limits = Limits(
            max_errors=settings.report_max_errors,
            max_bytes=settings.max_file_bytes,
            max_record_bytes=settings.max_record_bytes,
        )

    def ingest(
        self,
        ref: ObjectRef,
        on_batch: Callable[[], None] | None = None,
        on_claim: Callable[[int, Callable[[], None]], None] | None = None,
    ) -> Result:
        """Ingest one object version. ``on_batch`` runs while waiting for the provider's lock
        and between batches; an exception it raises abandons the load (rolled back, nothing
        half-loaded) and propagates. ``on_claim`` is told the ingestion id once claimed, and a
        function that cancels the load's statement (from any thread: a load blocked inside
        PostgreSQL then fails and is rolled back)."""
        started = time.monotonic()
        with self.pool.connection() as conn:
            claimed = ingestions.claim(conn, ref.params(), self.worker, self.live_within)
            if claimed == "processing":
                return duplicate()
            if isinstance(claimed, str):
                return resumed(conn, ref) or Result(
                    Outcome.ALREADY_DONE, reason="this object version was already ingested"
                )
            ingestion_id = claimed
            if on_claim is not None:
                on_claim(ingestion_id, conn.cancel_safe)
            conn.autocommit = False
            result = self.load_locked(conn, ref, ingestion_id, on_batch)
        event(
            log,
            logging.INFO,
            "ingestion finished",
            outcome=result.outcome.value,
            ingestion_id=ingestion_id,
            seconds=round(time.monotonic() - started, 3),
            **{k: v for k, v in result.summary.items() if k != "error_counts"},
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
                wait_for_provider(conn, ref.provider, on_batch)
                status, released = ingestions.under_lock(conn, ingestion_id)
                if status in ingestions.FINAL:
                    return Result(Outcome.ALREADY_DONE, ingestion_id)
                job = Job(conn, ref, ingestion_id, sink, on_batch)
                result = self.load_version(job, released)
                result.ingestion_id = ingestion_id
                if result.report is not None and result.report.records_invalid:
                    # Before the commit, so a committed status never points at a missing
                    # report; a retry after a failed commit overwrites the same key.
                    result.report_key = report_key(ref)
                    sink.upload(self.clients, ref.bucket, result.report_key, result.summary)
                result.summary["report_key"] = result.report_key
                result.pending = True  # every final outcome is told to the provider
                ingestions.finish(conn, finish_params(result, ingestion_id))
                if result.changed_movies:
                    result.catalog_version = commit_version(
                        conn, ingestion_id, result.changed_movies
                    )
            return result
        finally:
            sink.close()

    def load_version(self, job: Job, released: bool) -> Result:
        """Under the provider's lock: this version, if it is still the one to load."""
        ref = job.ref
        try:
            if ingestions.newer_version_recorded(job.conn, ref.params()):
                raise Superseded("a newer upload of this key was recorded first")
            opened = self.open(ref)
        except Superseded as e:
            return superseded(ref, str(e))
        if opened.mode not in MODES:
            opened.body.close()
            reason = f"mode: unknown mode {opened.mode!r} (expected one of {', '.join(MODES)})"
            summary = {**ref_summary(ref), "status": Outcome.REJECTED.value, "reason": reason}
            return Result(Outcome.REJECTED, None, None, reason, summary=summary)
        brake = None if released else self.settings.snapshot_brake_ratio
        snapshot = Snapshot(brake) if opened.mode == "snapshot" else None
        return self.validate_and_load(job, opened, snapshot)

    def open(self, ref: ObjectRef) -> Opened:
        """Start reading exactly the event's version: by version id (still the key's current
        version), else by key with the ETag as a precondition. ``Superseded`` if replaced."""
        s3 = self.clients.s3
        try:
            if ref.version_id:
                current = s3.head_object(Bucket=ref.bucket, Key=ref.key).get("VersionId")
                if current != ref.version_id:
                    raise Superseded(f"a newer version ({current}) of this key was uploaded")
            got = s3.get_object(Bucket=ref.bucket, Key=ref.key, **ref.pin())  # type: ignore[arg-type]
        except ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", ""))
            if code in GONE:
                raise Superseded(f"this version is no longer the key's ({code})") from e
            raise
        mode = str(got.get("Metadata", {}).get("mode", "incremental")).strip().lower()
        return Opened(got["Body"], mode)

    def validate_and_load(self, job: Job, opened: Opened, snapshot: Snapshot | None) -> Result:
        ref, sink, mode = job.ref, job.sink, opened.mode
        validator = self.limits.validator(PurePosixPath(ref.key).name, stream_errors=True)
        try:
            with job.conn.transaction():  # a savepoint: a rejected or held file leaves its status
                loaded = load(
                    job.conn,
                    validator,
                    opened.chunks(),
                    provider=ref.provider,
                    ingestion_id=job.ingestion_id,
                    source_key=ref.key,
                    reject_invalid_ratio=self.settings.reject_invalid_ratio,
                    snapshot=snapshot,
                    on_batch=lambda: after_batch(sink, validator, job.on_batch),
                )
        except CatalogFileError as e:
            sink.write(validator.take_errors())
            return rejected(ref, e.report, f"{e.code}: {e}", mode)
        except TooManyInvalidError as e:
            sink.write(validator.take_errors())
            return rejected(ref, e.report, str(e), mode)
        except HeldError as e:
            summary = summarize(ref, Outcome.HELD, e.report, mode) | {
                "reason": str(e),
                "would_withdraw": e.would_withdraw,
                "catalog_movies": e.live,
            }
            return Result(Outcome.HELD, job.ingestion_id, e.report, str(e), summary=summary)
        sink.write(validator.take_errors())
        report = loaded.report
        outcome = Outcome.PARTIALLY_LOADED if report.records_invalid else Outcome.LOADED
        summary = summarize(ref, outcome, report, mode) | {
            "rows_inserted": loaded.inserted,
            "rows_updated": loaded.updated,
            "rows_withdrawn": loaded.withdrawn,
        }
        reason = None
        if loaded.withdrawals_skipped:
            reason = "a snapshot with invalid records withdraws nothing by absence"
            summary["reason"] = reason
        return Result(outcome, job.ingestion_id, report, reason, summary=summary)


def duplicate() -> Result:
    """Another delivery of this object version is in hand (here or in a live worker): this one
    is only acknowledged."""
    event(log, logging.INFO, "duplicate delivery acknowledged", reason=DUPLICATE_REASON)
    return Result(Outcome.DUPLICATE, reason=DUPLICATE_REASON)


def wait_for_provider(
    conn: psycopg.Connection, provider: str, on_wait: Callable[[], None] | None
) -> None:
    """Take the provider's lock for the transaction, waiting while another load holds it
    (``on_wait`` runs between tries: the shutdown deadline ends a wait too)."""
    tries = 0
    while not lock_provider(conn, provider):
        if on_wait is not None:
            on_wait()
        time.sleep(LOCK_POLL_SECONDS[min(tries, len(LOCK_POLL_SECONDS) - 1)])
        tries += 1


def resumed(conn: psycopg.Connection, ref: ObjectRef) -> Result | None:
    """The stored outcome of a final version whose duties were never done, else None."""
    stored = ingestions.unnotified(conn, ref.params())
    if stored is None:
        return None
    summary = stored_summary(stored)
    result = Result(
        Outcome(stored["status"]),
        stored["id"],
        None,
        stored["error_summary"],
        stored["report_key"],
        summary,
        pending=True,
        resumed=True,
    )
    # Rows read now are the same at the current version (later changes moved them to the
    # ingestion that made them), so the documents go under the current version's keys.
    result.catalog_version = int(stored["catalog_version"]) if result.changed_movies else None
    return result


SUMMARY_COLUMNS = (
    "provider", "bucket", "key", "version", "status", "mode", "records_total", "records_valid",
    "records_invalid", "duplicates_collapsed", "error_counts", "rows_inserted", "rows_updated",
    "rows_withdrawn", "would_withdraw", "catalog_movies", "report_key",
)  # fmt: skip


def stored_summary(stored: ingestions.Stored) -> dict[str, Any]:
    """A notice's summary from the stored row (a resent notice has no ``file_error`` object:
    its ``reason`` holds the whole-file error's code and message)."""
    summary = {name: stored[name] for name in SUMMARY_COLUMNS}
    if stored["error_summary"] is not None:
        summary["reason"] = stored["error_summary"]
    return summary


def after_batch(sink: ErrorSink, validator: Validator, then: Callable[[], None] | None) -> None:
    sink.write(validator.take_errors())
    if then is not None:
        then()


def rejected(ref: ObjectRef, report: Report, reason: str, mode: str) -> Result:
    summary = summarize(ref, Outcome.REJECTED, report, mode) | {"reason": reason}
    return Result(Outcome.REJECTED, None, report, reason=reason, summary=summary)


def superseded(ref: ObjectRef, reason: str) -> Result:
    summary = {**ref_summary(ref), "status": Outcome.SUPERSEDED.value, "reason": reason}
    return Result(Outcome.SUPERSEDED, None, None, reason, summary=summary)


def ref_summary(ref: ObjectRef) -> dict[str, Any]:
    return {"provider": ref.provider, "bucket": ref.bucket, "key": ref.key, "version": ref.version}


def summarize(ref: ObjectRef, outcome: Outcome, report: Report, mode: str) -> dict[str, Any]:
    return {
        **ref_summary(ref),
        "status": outcome.value,
        "mode": mode,
        "records_total": report.records_total,
        "records_valid": report.records_valid,
        "deletions": report.deletions,
        "records_invalid": report.records_invalid,
        "duplicates_collapsed": report.duplicates_collapsed,
        "error_counts": report.error_counts,
        "file_error": report.file_error,
    }


def finish_params(result: Result, ingestion_id: int) -> dict[str, Any]:
    r, s = result.report, result.summary
    return {
        "id": ingestion_id,
        "status": result.outcome.value,
        "mode": s.get("mode") if s.get("mode") in MODES else "incremental",
        "total": r.records_total if r else None,
        "valid": r.records_valid if r else None,
        "invalid": r.records_invalid if r else None,
        "collapsed": r.duplicates_collapsed if r else None,
        "inserted": s.get("rows_inserted", 0),
        "updated": s.get("rows_updated", 0),
        "withdrawn": s.get("rows_withdrawn", 0),
        "would_withdraw": s.get("would_withdraw"),
        "catalog_movies": s.get("catalog_movies"),
        "error_counts": orjson.dumps(r.error_counts if r else {}).decode(),
        "summary": result.reason,
        "report_key": result.report_key,
        "bytes": r.bytes_read if r else None,
        "pending": result.pending,
    }
