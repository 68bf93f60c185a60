"""The catalog version, the change feed and the publication to Redis after a commit, against
real PostgreSQL and Redis."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import psycopg
import pytest
import redis

from moviestore.aws.clients import Clients
from moviestore.catalog.keys import CHANNEL, VERSION_KEY, movie_key, unframe
from moviestore.ingest import publisher
from moviestore.ingest.duties import Duties
from moviestore.ingest.events import ObjectRef
from moviestore.ingest.pipeline import Ingestor, Outcome, Result
from moviestore.localstack.processes import free_port
from moviestore.localstack.stack import Endpoints
from moviestore.settings import Settings
from moviestore.store.feed import prune
from moviestore.store.pool import ConnectionPool

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


def ingest(settings: Settings, clients: Clients, pool: ConnectionPool, ref: ObjectRef) -> Result:
    result = Ingestor(settings, clients, "test", pool).ingest(ref)
    assert not Duties(settings, clients, pool).run(ref, result)
    return result


MOVIES = [
    {"title": f"Cached {i}", "year": 1990 + i, "id": f"c-{i}", "genres": ["Drama"]}
    for i in range(5)
]


def test_a_load_bumps_the_version_in_its_commit_and_writes_the_documents(
    clients: Clients,
    pool: ConnectionPool,
    endpoints: Endpoints,
    db: psycopg.Connection,
    cache: redis.Redis,
) -> None:
    before = catalog_version(db)
    ref = put(clients, endpoints, "five.json", MOVIES)
    changes = subscribe(cache)

    result = ingest(settings(), clients, pool, ref)

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
        raw = cache.get(movie_key(movie_id))
        assert isinstance(raw, bytes)
        framed = unframe(raw)
        assert framed is not None and framed[0] == result.catalog_version
        doc = orjson.loads(framed[1])
        assert (doc["id"], doc["title"], doc["year"], doc["genres"]) == (
            movie_id,
            title,
            year,
            ["Drama"],
        )
        assert dt.datetime.fromisoformat(doc["updated_at"]) == updated_at
        assert 0 < cache.ttl(movie_key(movie_id)) <= 300
    assert db.execute("SELECT notified_at IS NOT NULL FROM ingestions").fetchone() == (True,)


def feed(db: psycopg.Connection, version: int) -> tuple[int, list[tuple[int, str]]]:
    """The movies a version's row says it changed, and its changes (movie id, change)."""
    row = db.execute(
        "SELECT ingestion_id, movies FROM catalog_versions WHERE version = %s", (version,)
    ).fetchone()
    assert row is not None, f"version {version} has no row in the change feed"
    changes = db.execute(
        "SELECT movie_id, change FROM catalog_changes WHERE ingestion_id = %s ORDER BY movie_id",
        (row[0],),
    ).fetchall()
    return int(row[1]), [(int(m), str(c)) for m, c in changes]


def test_each_commit_records_what_it_changed_in_the_change_feed(
    clients: Clients, pool: ConnectionPool, endpoints: Endpoints, db: psycopg.Connection
) -> None:
    first = ingest(settings(), clients, pool, put(clients, endpoints, "feed-1.json", MOVIES))
    ids = [r[0] for r in db.execute("SELECT id FROM movies ORDER BY id").fetchall()]
    assert first.catalog_version is not None
    assert feed(db, first.catalog_version) == (5, [(i, "inserted") for i in ids])  # a first load

    changed = [dict(m, title=f"{m['title']} (cut)") if i < 2 else m for i, m in enumerate(MOVIES)]
    added = {"title": "Cached new", "year": 2001, "id": "c-new", "genres": ["Drama"]}
    second = ingest(
        settings(), clients, pool, put(clients, endpoints, "feed-2.json", [*changed, added])
    )
    assert second.catalog_version == first.catalog_version + 1
    new_id = db.execute("SELECT id FROM movies WHERE provider_id = 'c-new'").fetchone()
    assert new_id is not None
    # Unchanged movies are not in it: only the two changed and the one added.
    assert feed(db, second.catalog_version) == (
        3, sorted([(ids[0], "updated"), (ids[1], "updated"), (new_id[0], "inserted")])
    )  # fmt: skip


def test_the_feed_keeps_the_newest_versions_and_says_how_far_it_reaches(
    clients: Clients, pool: ConnectionPool, endpoints: Endpoints, db: psycopg.Connection
) -> None:
    versions = []
    for i in range(3):
        movies = [dict(m, title=f"{m['title']} round {i}") for m in MOVIES]
        result = ingest(
            settings(), clients, pool, put(clients, endpoints, f"round-{i}.json", movies)
        )
        assert result.catalog_version is not None
        versions.append(result.catalog_version)
    horizon = prune(db, keep_versions=1)
    assert horizon == versions[1]
    kept = db.execute("SELECT version FROM catalog_versions ORDER BY version").fetchall()
    assert [v for (v,) in kept] == [versions[2]]
    state = db.execute("SELECT feed_horizon FROM catalog_state").fetchone()
    assert state == (versions[1],)
    ingestions = [r for (r,) in db.execute("SELECT DISTINCT ingestion_id FROM catalog_changes")]
    assert len(ingestions) == 1  # the pruned versions' changes went with them
    assert prune(db, keep_versions=1) is None  # nothing more is old enough


def test_an_unchanged_file_keeps_the_version_and_has_only_its_notice_pending(
    clients: Clients, pool: ConnectionPool, endpoints: Endpoints, db: psycopg.Connection
) -> None:
    ingest(settings(), clients, pool, put(clients, endpoints, "first.json", MOVIES))
    version = catalog_version(db)
    ref = put(clients, endpoints, "same-again.json", MOVIES)
    again = Ingestor(settings(), clients, "test", pool).ingest(ref)
    assert again.outcome is Outcome.LOADED and again.summary["rows_inserted"] == 0
    assert again.catalog_version is None and again.pending  # the provider's notice
    assert catalog_version(db) == version
    logged = db.execute(
        "SELECT count(*) FROM catalog_changes WHERE ingestion_id = %s", (again.ingestion_id,)
    ).fetchone()
    assert logged == (0,)  # nothing changed: nothing in the feed
    notified = "SELECT notified_at IS NOT NULL FROM ingestions WHERE id = %s"
    assert db.execute(notified, (again.ingestion_id,)).fetchone() == (False,)
    assert not Duties(settings(), clients, pool).run(ref, again)
    assert db.execute(notified, (again.ingestion_id,)).fetchone() == (True,)
    assert catalog_version(db) == version  # the notice published no version


def documents(cache: redis.Redis, version: int) -> list[bytes]:
    """The movie documents in Redis written at ``version``."""
    found = []
    for key in cache.scan_iter(movie_key(0)[:-1] + "*"):
        raw = cache.get(key)
        framed = unframe(raw) if isinstance(raw, bytes) else None
        if framed is not None and framed[0] == version:
            found.append(key)
    return found


@pytest.mark.parametrize(
    ("limit", "written"),
    [({"cache_warm_max_documents": 2}, 2), ({"cache_warm_max_mb": 0}, 0)],
    ids=["documents", "megabytes"],
)
def test_the_documents_written_stay_within_the_limits(
    clients: Clients,
    pool: ConnectionPool,
    endpoints: Endpoints,
    db: psycopg.Connection,
    cache: redis.Redis,
    *,
    limit: dict[str, int],
    written: int,
) -> None:
    name = f"capped-{next(iter(limit))}.json"
    result = ingest(settings(**limit), clients, pool, put(clients, endpoints, name, MOVIES))
    assert result.catalog_version is not None
    assert len(documents(cache, result.catalog_version)) == written
    assert int(cache.get(VERSION_KEY) or 0) >= result.catalog_version  # still published


def test_the_version_never_goes_back(endpoints: Endpoints, db: psycopg.Connection) -> None:
    # A database of its own: the versions here are not the catalog's.
    url = endpoints.redis_url.rsplit("/", 1)[0] + "/15"
    cache = redis.Redis.from_url(url)
    cache.flushdb()
    refresher = publisher.CatalogPublisher(url, ttl_seconds=60, max_documents=0)
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
    clients: Clients, pool: ConnectionPool, endpoints: Endpoints, db: psycopg.Connection
) -> None:
    failures = publisher.FAILURES._value.get()
    nowhere = settings(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    result = ingest(nowhere, clients, pool, put(clients, endpoints, "no-redis.json", MOVIES))
    assert result.outcome is Outcome.LOADED and result.catalog_version is not None
    assert publisher.FAILURES._value.get() == failures + 1
    # Redis being down is not a duty left undone: the API polls, and checks cached answers
    # against the change feed.
    assert db.execute("SELECT notified_at IS NOT NULL FROM ingestions").fetchone() == (True,)
