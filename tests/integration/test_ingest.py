"""One object from S3 to rows, against real PostgreSQL and the local AWS endpoint."""

from __future__ import annotations

import threading
import time
import urllib.request
from typing import Any

import orjson
import psycopg

from moviestore.aws.clients import Clients
from moviestore.ingest.duties import Duties
from moviestore.ingest.events import ObjectRef
from moviestore.ingest.pipeline import Ingestor, Outcome, Result
from moviestore.localstack.stack import REGION, Endpoints
from moviestore.settings import Settings
from moviestore.store.pool import ConnectionPool
from tests.integration.s3_events import subscribe

CARMEN = {"title": "Carmen", "year": 1915, "href": "Carmen_(DeMille)"}


def settings(**overrides: Any) -> Settings:
    return Settings(**overrides)  # the rest from the stack's MOVIESTORE_* environment


def put(clients: Clients, endpoints: Endpoints, key: str, data: bytes) -> ObjectRef:
    etag = clients.s3.put_object(Bucket=endpoints.bucket, Key=key, Body=data)["ETag"]
    provider = key.split("/")[1]
    return ObjectRef(endpoints.bucket, key, provider, etag, len(data))


def ingest(ingestor: Ingestor, ref: ObjectRef) -> Result:
    """What the worker does with one object: ingest it, then the duties after the commit."""
    result = ingestor.ingest(ref)
    assert not Duties(ingestor.settings, ingestor.clients, ingestor.pool).run(ref, result)
    return result


def count(db: psycopg.Connection, sql: str) -> Any:
    row = db.execute(sql).fetchone()
    assert row is not None
    return row[0]


def test_a_valid_file_is_loaded_once(
    clients: Clients, pool: ConnectionPool, endpoints: Endpoints, db: psycopg.Connection
) -> None:
    movies = [CARMEN, {**CARMEN, "href": "Carmen_(Walsh)"}, {"title": "X", "year": 2000}]
    ref = put(clients, endpoints, "providers/acme/ok.json", orjson.dumps(movies))
    ingestor = Ingestor(settings(), clients, "test", pool)
    first = ingest(ingestor, ref)
    assert first.outcome is Outcome.LOADED
    assert count(db, "SELECT count(*) FROM movies") == 3
    assert count(db, "SELECT status FROM ingestions") == "loaded"
    assert count(db, "SELECT notified_at IS NOT NULL FROM ingestions")
    again = ingest(ingestor, ref)
    assert again.outcome is Outcome.ALREADY_DONE
    assert count(db, "SELECT attempts FROM ingestions") == 1


def test_invalid_records_are_reported_in_full(
    clients: Clients, pool: ConnectionPool, endpoints: Endpoints, db: psycopg.Connection
) -> None:
    bad = [{"title": "", "year": 1800 + i, "id": i} for i in range(6)]  # two errors each
    good = [{**CARMEN, "id": 100 + i} for i in range(20)]
    ref = put(clients, endpoints, "providers/acme/some-bad.json", orjson.dumps(good + bad))
    result = Ingestor(settings(report_max_errors=3), clients, "test", pool).ingest(ref)
    assert result.outcome is Outcome.PARTIALLY_LOADED
    assert count(db, "SELECT count(*) FROM movies") == 20
    assert result.report_key is not None and result.report_key.startswith("reports/acme/")
    body = clients.s3.get_object(Bucket=endpoints.bucket, Key=result.report_key)["Body"].read()
    lines = [orjson.loads(line) for line in body.splitlines()]
    assert lines[0]["summary"]["records_invalid"] == 6
    assert len(lines) == 1 + 12  # every error, not only the first report_max_errors
    assert {e["code"] for e in lines[1:]} == {"length", "range"}
    stored = db.execute("SELECT status, report_key, error_counts FROM ingestions").fetchone()
    assert stored == ("partially_loaded", result.report_key, {"length": 6, "range": 6})


def test_a_broken_file_loads_nothing(
    clients: Clients, pool: ConnectionPool, endpoints: Endpoints, db: psycopg.Connection
) -> None:
    data = orjson.dumps([CARMEN] * 3)[:-1]  # truncated
    ref = put(clients, endpoints, "providers/acme/broken.json", data)
    result = Ingestor(settings(), clients, "test", pool).ingest(ref)
    assert result.outcome is Outcome.REJECTED
    assert result.reason is not None and result.reason.startswith("parse")
    assert count(db, "SELECT count(*) FROM movies") == 0
    assert count(db, "SELECT status FROM ingestions") == "rejected"


def test_too_many_invalid_records_reject_the_file(
    clients: Clients, pool: ConnectionPool, endpoints: Endpoints, db: psycopg.Connection
) -> None:
    data = orjson.dumps([CARMEN, {"year": 2000}, {"year": 2001}])
    ref = put(clients, endpoints, "providers/acme/mostly-bad.json", data)
    result = Ingestor(settings(reject_invalid_ratio=0.5), clients, "test", pool).ingest(ref)
    assert result.outcome is Outcome.REJECTED
    assert count(db, "SELECT count(*) FROM movies") == 0


def test_two_workers_at_once_load_it_exactly_once(
    clients: Clients, pool: ConnectionPool, endpoints: Endpoints, db: psycopg.Connection
) -> None:
    movies = [{**CARMEN, "id": i, "extract": "x" * 2000} for i in range(20_000)]
    ref = put(clients, endpoints, "providers/acme/race.json", orjson.dumps(movies))
    outcomes: list[Outcome] = []

    def work(name: str) -> None:
        outcomes.append(
            Ingestor(settings(), Clients(REGION, endpoints.aws_endpoint), name, pool)
            .ingest(ref)
            .outcome
        )

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(outcomes) == 2
    # The second is told the version is done, or (still loading) a duplicate delivery.
    first, second = sorted(outcomes, key=lambda o: o is not Outcome.LOADED)
    assert first is Outcome.LOADED and second in {Outcome.ALREADY_DONE, Outcome.DUPLICATE}
    assert count(db, "SELECT count(*) FROM movies") == 20_000
    assert count(db, "SELECT attempts FROM ingestions") == 1


def drain(clients: Clients, url: str) -> list[dict[str, Any]]:
    found = []
    while got := clients.sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
    ).get("Messages"):
        for m in got:
            clients.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            found.append(orjson.loads(m["Body"]))
    return found


def test_every_outcome_is_told_to_its_provider_only_and_never_dead_lettered(
    clients: Clients, pool: ConnectionPool, endpoints: Endpoints, db: psycopg.Connection
) -> None:
    inbox = subscribe(clients, endpoints.provider_topic_arn, "acme-inbox", "acme")
    other = subscribe(clients, endpoints.provider_topic_arn, "other-inbox", "other")
    drain(clients, endpoints.dlq_url)
    ingestor = Ingestor(settings(), clients, "test", pool)
    broken = ingest(ingestor, put(clients, endpoints, "providers/acme/notify.json", b"[1,]"))
    good = [{**CARMEN, "id": i} for i in range(3)]
    partial = ingest(
        ingestor, put(clients, endpoints, "providers/acme/p.json", orjson.dumps([*good, {}]))
    )
    loaded = ingest(
        ingestor, put(clients, endpoints, "providers/acme/ok.json", orjson.dumps(good[:1]))
    )

    notices = {n["key"]: n for n in drain(clients, inbox)}
    assert set(notices) == {"providers/acme/notify.json", "providers/acme/p.json",
                            "providers/acme/ok.json"}  # fmt: skip
    rejected = notices["providers/acme/notify.json"]
    assert (rejected["status"], rejected["ingestion_id"]) == ("rejected", broken.ingestion_id)
    assert rejected["reason"].startswith("parse")
    told = notices["providers/acme/p.json"]
    assert (told["status"], told["records_invalid"], told["rows_inserted"]) == (
        "partially_loaded", 1, 3)  # fmt: skip
    assert told["report"] == partial.report_key and told["report_url"].startswith("http")
    assert notices["providers/acme/ok.json"]["rows_updated"] == 0
    assert loaded.outcome is Outcome.LOADED
    assert drain(clients, other) == []
    assert drain(clients, endpoints.dlq_url) == []  # a provider's data is not a platform failure


def test_a_presigned_link_fetches_the_report_from_the_local_s3(
    clients: Clients, pool: ConnectionPool, endpoints: Endpoints, db: psycopg.Connection
) -> None:
    bad = [{"title": "", "year": 2000, "id": "x"}, {**CARMEN, "id": "y"}]
    ref = put(clients, endpoints, "providers/acme/linked.json", orjson.dumps(bad))
    result = ingest(Ingestor(settings(), clients, "test", pool), ref)
    assert result.report_key is not None
    link = clients.link(endpoints.bucket, result.report_key, 60)
    with urllib.request.urlopen(link, timeout=10) as got:  # no credentials: the link is enough
        lines = got.read().splitlines()
    assert orjson.loads(lines[0])["summary"]["records_invalid"] == 1
    assert orjson.loads(lines[1])["code"] == "length"


def test_a_load_waits_for_another_load_of_its_provider_then_loads(
    clients: Clients, pool: ConnectionPool, endpoints: Endpoints, db: psycopg.Connection
) -> None:
    ref = put(clients, endpoints, "providers/acme/wait.json", orjson.dumps([CARMEN]))
    results: list[Result] = []
    with psycopg.connect(endpoints.database_url) as other:  # as another load of acme holds it
        other.execute("SELECT pg_advisory_xact_lock(hashtextextended('provider:acme', 0))")
        loading = threading.Thread(
            target=lambda: results.append(Ingestor(settings(), clients, "test", pool).ingest(ref))
        )
        loading.start()
        deadline = time.monotonic() + 30
        while count(db, "SELECT count(*) FROM ingestions") == 0:  # claimed, then it waits
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert count(db, "SELECT status FROM ingestions") == "processing"
        assert loading.is_alive() and count(db, "SELECT count(*) FROM movies") == 0
        # Meanwhile a second delivery of the same version (S3 and SQS deliver at least once)
        # is acknowledged at once: it does not hold a worker's slot until the first load ends.
        again = Ingestor(settings(), clients, "other", pool).ingest(ref)
        assert (again.outcome, again.ingestion_id, again.pending) == (
            Outcome.DUPLICATE, None, False)  # fmt: skip
        assert count(db, "SELECT worker FROM ingestions") == "test"
    loading.join(60)
    assert [r.outcome for r in results] == [Outcome.LOADED]
    assert count(db, "SELECT attempts FROM ingestions") == 1
