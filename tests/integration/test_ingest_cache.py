"""The catalog version and the Redis refresh after a commit, against real PostgreSQL and Redis."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import psycopg
import pytest
import redis

from moviestore.aws.clients import Clients
from moviestore.catalog.keys import CHANNEL, VERSION_KEY, movie_key
from moviestore.ingest.cache import CatalogCache
from moviestore.ingest.duties import Duties
from moviestore.ingest.events import ObjectRef
from moviestore.ingest.pipeline import Ingestor, Outcome, Result
from moviestore.localstack.processes import free_port
from moviestore.localstack.stack import Endpoints
from moviestore.settings import Settings
from moviestore.worker import metrics

PROVIDER = "cache-test"


def settings(**overrides: Any) -> Settings:
    return Settings(**overrides)  # the rest from the stack's MOVIESTORE_* environment


def subscribe(cache: redis.Redis) -> Any:
    changes = cache.pubsub()  # type: ignore[no-untyped-call]
    changes.subscribe(CHANNEL)
    assert changes.get_message(timeout=2) is not None  # the subscription's confirmation
    return changes


@pytest.fixture
def cache(endpoints: Endpoints) -> redis.Redis:
    return redis.Redis.from_url(endpoints.redis_url)


def put(clients: Clients, endpoints: Endpoints, name: str, movies: list[Any]) -> ObjectRef:
    key, data = f"providers/{PROVIDER}/{name}", orjson.dumps(movies)
    etag = clients.s3.put_object(Bucket=endpoints.bucket, Key=key, Body=data)["ETag"]
    return ObjectRef(endpoints.bucket, key, PROVIDER, etag, len(data))


def catalog_version(db: psycopg.Connection) -> int:
    row = db.execute("SELECT version FROM catalog_state").fetchone()
    assert row is not None
    return int(row[0])


def ingest(settings: Settings, clients: Clients, ref: ObjectRef) -> Result:
    result = Ingestor(settings, clients, "test").ingest(ref)
    assert not Duties(settings, clients).run(ref, result, "{}")
    return result


MOVIES = [
    {"title": f"Cached {i}", "year": 1990 + i, "id": f"c-{i}", "genres": ["Drama"]}
    for i in range(5)
]


def test_a_load_bumps_the_version_in_its_commit_and_writes_the_documents(
    clients: Clients, endpoints: Endpoints, db: psycopg.Connection, cache: redis.Redis
) -> None:
    before = catalog_version(db)
    ref = put(clients, endpoints, "five.json", MOVIES)
    changes = subscribe(cache)

    result = ingest(settings(), clients, ref)

    assert result.outcome is Outcome.LOADED
    assert result.catalog_version == before + 1 == catalog_version(db)
    assert int(cache.get(VERSION_KEY) or 0) == result.catalog_version
    published = changes.get_message(timeout=5)
    assert published is not None and published["data"] == str(result.catalog_version).encode()
    rows = db.execute(
        "SELECT id, title, year, updated_at FROM movies WHERE provider = %s ORDER BY id",
        (PROVIDER,),
    ).fetchall()
    assert len(rows) == 5
    for movie_id, title, year, updated_at in rows:
        raw = cache.get(movie_key(result.catalog_version, movie_id))
        assert raw is not None
        doc = orjson.loads(raw)
        assert (doc["id"], doc["title"], doc["year"], doc["genres"]) == (
            movie_id,
            title,
            year,
            ["Drama"],
        )
        assert dt.datetime.fromisoformat(doc["updated_at"]) == updated_at
        assert 0 < cache.ttl(movie_key(result.catalog_version, movie_id)) <= 300
    assert db.execute("SELECT notified_at IS NOT NULL FROM ingestions").fetchone() == (True,)


def test_an_unchanged_file_keeps_the_version_and_has_nothing_pending(
    clients: Clients, endpoints: Endpoints, db: psycopg.Connection
) -> None:
    ingest(settings(), clients, put(clients, endpoints, "first.json", MOVIES))
    version = catalog_version(db)
    again = Ingestor(settings(), clients, "test").ingest(
        put(clients, endpoints, "same-again.json", MOVIES)
    )
    assert again.outcome is Outcome.LOADED and again.summary["rows_inserted"] == 0
    assert again.catalog_version is None and not again.pending
    assert catalog_version(db) == version
    stored = db.execute(
        "SELECT notified_at IS NOT NULL FROM ingestions WHERE id = %s", (again.ingestion_id,)
    ).fetchone()
    assert stored == (True,)  # set by the commit itself: no duty to do


def test_at_most_cache_warm_max_documents_are_written(
    clients: Clients, endpoints: Endpoints, db: psycopg.Connection, cache: redis.Redis
) -> None:
    result = ingest(
        settings(cache_warm_max_documents=2),
        clients,
        put(clients, endpoints, "capped.json", MOVIES),
    )
    assert result.catalog_version is not None
    assert len(list(cache.scan_iter(movie_key(result.catalog_version, 0)[:-1] + "*"))) == 2


def test_at_most_cache_warm_max_mb_of_documents_are_written(
    clients: Clients, endpoints: Endpoints, db: psycopg.Connection, cache: redis.Redis
) -> None:
    result = ingest(
        settings(cache_warm_max_mb=0),
        clients,
        put(clients, endpoints, "capped-bytes.json", MOVIES),
    )
    assert result.catalog_version is not None
    assert list(cache.scan_iter(movie_key(result.catalog_version, 0)[:-1] + "*")) == []
    assert int(cache.get(VERSION_KEY) or 0) >= result.catalog_version  # still published


def test_the_version_never_goes_back(endpoints: Endpoints, db: psycopg.Connection) -> None:
    # A database of its own: the versions here are not the catalog's.
    url = endpoints.redis_url.rsplit("/", 1)[0] + "/15"
    cache = redis.Redis.from_url(url)
    cache.flushdb()
    refresher = CatalogCache(url, ttl_seconds=60, max_documents=0)
    current = 41
    cache.set(VERSION_KEY, current)
    changes = subscribe(cache)
    with db.transaction():
        assert refresher.publish(db, ingestion_id=0, version=current + 1)
        assert refresher.publish(db, ingestion_id=0, version=current)  # late, older: ignored
    assert int(cache.get(VERSION_KEY) or 0) == current + 1
    first = changes.get_message(timeout=5)
    assert first is not None and first["data"] == str(current + 1).encode()
    assert changes.get_message(timeout=1) is None  # the older version was not published


def test_redis_down_fails_nothing_and_is_counted(
    clients: Clients, endpoints: Endpoints, db: psycopg.Connection
) -> None:
    failures = metrics.REDIS_FAILURES._value.get()
    nowhere = settings(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    result = ingest(nowhere, clients, put(clients, endpoints, "no-redis.json", MOVIES))
    assert result.outcome is Outcome.LOADED and result.catalog_version is not None
    assert metrics.REDIS_FAILURES._value.get() == failures + 1
    # Redis being down is not a duty left undone: cached answers expire by their TTL.
    assert db.execute("SELECT notified_at IS NOT NULL FROM ingestions").fetchone() == (True,)
