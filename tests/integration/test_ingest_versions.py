"""The record is the truth: the worker loads exactly the object version its event names, an
older version never overwrites a newer one, and a claim left by a dead worker is taken over
(visible as stale before then). Real PostgreSQL and the local S3, buckets versioned and not."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import orjson
import psycopg
import pytest

from moviestore.aws.clients import Clients
from moviestore.ingest.duties import Duties
from moviestore.ingest.events import ObjectRef
from moviestore.ingest.pipeline import Ingestor, Outcome, Result
from moviestore.localstack.stack import Endpoints
from moviestore.settings import Settings
from moviestore.store import ingestions
from moviestore.store.pool import ConnectionPool

OLD = [
    {"id": "shared", "title": "Old", "year": 2000},
    {"id": "only-old", "title": "A", "year": 2000},
]
NEW = [
    {"id": "shared", "title": "New", "year": 2000},
    {"id": "only-new", "title": "B", "year": 2000},
    {"id": "third", "title": "C", "year": 2000},
]


def bucket(clients: Clients, endpoints: Endpoints, versioned: bool) -> str:
    if not versioned:
        return endpoints.bucket
    name = f"versioned-{uuid.uuid4().hex[:8]}"
    clients.s3.create_bucket(Bucket=name)
    clients.s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def upload(
    clients: Clients, name: str, key: str, movies: list[Any], sequencer: str | None = None
) -> ObjectRef:
    """Put a version of ``key`` and the ref its S3 event would carry."""
    data = orjson.dumps(movies)
    put = clients.s3.put_object(Bucket=name, Key=key, Body=data)
    etag, version_id = put["ETag"].strip('"'), put.get("VersionId")
    version = version_id or etag
    provider = key.split("/")[1]
    return ObjectRef(name, key, provider, version, len(data), etag, version_id, sequencer)


def stack_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)  # the rest from the stack's MOVIESTORE_* environment


def ingest(ref: ObjectRef, clients: Clients, pool: ConnectionPool, **kw: Any) -> Result:
    settings = stack_settings()
    result = Ingestor(settings, clients, "test", pool).ingest(ref, **kw)
    assert not Duties(settings, clients, pool).run(ref, result)
    return result


def live(db: psycopg.Connection, provider: str) -> dict[str, tuple[str, int]]:
    """id -> (title, the ingestion that wrote it)."""
    rows = db.execute(
        "SELECT provider_id, title, ingestion_id FROM movies"
        " WHERE provider = %s AND withdrawn_at IS NULL",
        (provider,),
    )
    return {pid: (title, iid) for pid, title, iid in rows}


def recorded(db: psycopg.Connection, ingestion_id: int | None) -> tuple[Any, ...]:
    row = db.execute(
        "SELECT status, records_total, rows_inserted, rows_updated FROM ingestions WHERE id = %s",
        (ingestion_id,),
    ).fetchone()
    assert row is not None
    return tuple(row)


@pytest.mark.parametrize("versioned", [False, True], ids=["unversioned", "versioned"])
@pytest.mark.parametrize("newer_first", [False, True], ids=["older-first", "newer-first"])
def test_the_newer_of_two_quick_uploads_wins_whatever_the_delivery_order(
    clients: Clients, pool: ConnectionPool, endpoints: Endpoints, db: psycopg.Connection, *,
    versioned: bool, newer_first: bool,
) -> None:  # fmt: skip
    name = bucket(clients, endpoints, versioned)
    key = "providers/versions/catalog.json"
    older, newer = upload(clients, name, key, OLD), upload(clients, name, key, NEW)

    results = {}
    for ref in (newer, older) if newer_first else (older, newer):
        results[ref.version] = ingest(ref, clients, pool)

    old, new = results[older.version], results[newer.version]
    assert old.outcome is Outcome.SUPERSEDED and new.outcome is Outcome.LOADED
    # Each row records exactly what it loaded: the older nothing, the newer its three movies.
    assert recorded(db, old.ingestion_id) == ("superseded", None, 0, 0)
    assert recorded(db, new.ingestion_id) == ("loaded", 3, 3, 0)
    assert live(db, "versions") == {
        "shared": ("New", new.ingestion_id),
        "only-new": ("B", new.ingestion_id),
        "third": ("C", new.ingestion_id),
    }


@pytest.mark.parametrize("versioned", [False, True], ids=["unversioned", "versioned"])
def test_a_newer_upload_during_a_load_loads_after_it_and_wins(
    clients: Clients,
    pool: ConnectionPool,
    endpoints: Endpoints,
    db: psycopg.Connection,
    versioned: bool,
) -> None:
    name = bucket(clients, endpoints, versioned)
    key = "providers/versions/racing.json"
    older = upload(clients, name, key, OLD)
    later: list[Result] = []
    racing: list[threading.Thread] = []

    def upload_the_newer_midway() -> None:
        if racing:
            return
        newer = upload(clients, name, key, NEW)  # while the older one is being loaded
        racing.append(threading.Thread(target=lambda: later.append(ingest(newer, clients, pool))))
        racing[0].start()  # it waits for the provider's lock the older load holds

    first = ingest(older, clients, pool, on_batch=upload_the_newer_midway)
    racing[0].join(60)
    [second] = later
    assert first.outcome is Outcome.LOADED and second.outcome is Outcome.LOADED
    assert recorded(db, first.ingestion_id) == ("loaded", 2, 2, 0)  # the older content
    assert recorded(db, second.ingestion_id) == ("loaded", 3, 2, 1)  # then the newer's
    assert live(db, "versions") == {
        "shared": ("New", second.ingestion_id),
        "only-old": ("A", first.ingestion_id),
        "only-new": ("B", second.ingestion_id),
        "third": ("C", second.ingestion_id),
    }


def test_a_recorded_newer_sequencer_supersedes_without_asking_s3(
    clients: Clients, pool: ConnectionPool, endpoints: Endpoints, db: psycopg.Connection
) -> None:
    key = "providers/versions/ordered.json"
    older = upload(clients, endpoints.bucket, key, OLD, sequencer="0055AED6DCD90281E5")
    newer_event = ObjectRef(endpoints.bucket, key, "versions", "other-etag", 1, "other-etag",
                            None, "0055AED6DCD90281F0")  # fmt: skip
    assert isinstance(ingestions.claim(db, newer_event.params(), "elsewhere", 60), int)
    # The older version is still the key's content in S3, yet a newer one was announced.
    assert ingest(older, clients, pool).outcome is Outcome.SUPERSEDED
    # Sequencers of another length are not compared (S3's current version decides).
    again = ObjectRef(endpoints.bucket, key, "versions", older.version, older.size, older.etag,
                      None, "55AED6DCD90281E6")  # fmt: skip
    assert not ingestions.newer_version_recorded(db, again.params())


def test_a_claim_left_by_a_dead_worker_is_stale_then_taken_over(
    clients: Clients, pool: ConnectionPool, endpoints: Endpoints, db: psycopg.Connection
) -> None:
    ref = upload(clients, endpoints.bucket, "providers/versions/orphan.json", OLD)
    iid = ingestions.claim(db, ref.params(), "dead-worker", 60)
    assert isinstance(iid, int)
    db.execute("UPDATE ingestions SET heartbeat_at = now() - interval '10 minutes'")
    [claim] = ingestions.open_claims(db, stale_after=120, limit=10)
    assert (claim["id"], claim["status"], claim["worker"], claim.row["stale"]) == (
        iid, "processing", "dead-worker", True)  # fmt: skip
    # A live claim (its heartbeat moving) is not stale, and another delivery meanwhile is a
    # duplicate: acknowledged, the claim left to its worker.
    ingestions.beat(db, [iid])
    assert not ingestions.open_claims(db, stale_after=120, limit=10)[0].row["stale"]
    assert ingest(ref, clients, pool).outcome is Outcome.DUPLICATE
    assert db.execute("SELECT attempts, worker FROM ingestions").fetchone() == (1, "dead-worker")

    # The worker dies: its heartbeat stops, and its message comes back a whole visibility
    # timeout after the last beat.
    db.execute("UPDATE ingestions SET heartbeat_at = now() - interval '120 seconds'")
    result = ingest(ref, clients, pool)  # its message came back
    assert (result.outcome, result.ingestion_id) == (Outcome.LOADED, iid)
    row = db.execute("SELECT status, attempts, worker FROM ingestions WHERE id = %s", (iid,))
    assert row.fetchone() == ("loaded", 2, "test")
    assert ingestions.open_claims(db, stale_after=120, limit=10) == []
