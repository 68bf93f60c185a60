"""One object from S3 to rows, against real PostgreSQL and the local AWS endpoint."""

from __future__ import annotations

import threading
from typing import Any

import orjson
import psycopg

from moviestore.aws.clients import Clients
from moviestore.ingest.duties import Duties
from moviestore.ingest.events import ObjectRef
from moviestore.ingest.pipeline import Ingestor, Outcome, Result
from moviestore.localstack.stack import REGION, Endpoints
from moviestore.settings import Settings

CARMEN = {"title": "Carmen", "year": 1915, "href": "Carmen_(DeMille)"}


def settings(**overrides: Any) -> Settings:
    return Settings(**overrides)  # the rest from the stack's MOVIESTORE_* environment


def put(clients: Clients, endpoints: Endpoints, key: str, data: bytes) -> ObjectRef:
    etag = clients.s3.put_object(Bucket=endpoints.bucket, Key=key, Body=data)["ETag"]
    provider = key.split("/")[1]
    return ObjectRef(endpoints.bucket, key, provider, etag, len(data))


def ingest(ingestor: Ingestor, ref: ObjectRef, body: str = "{}") -> Result:
    """What the worker does with one object: ingest it, then the duties after the commit."""
    result = ingestor.ingest(ref)
    assert not Duties(ingestor.settings, ingestor.clients).run(ref, result, body)
    return result


def count(db: psycopg.Connection, sql: str) -> Any:
    row = db.execute(sql).fetchone()
    assert row is not None
    return row[0]


def test_a_valid_file_is_loaded_once(
    clients: Clients, endpoints: Endpoints, db: psycopg.Connection
) -> None:
    movies = [CARMEN, {**CARMEN, "href": "Carmen_(Walsh)"}, {"title": "X", "year": 2000}]
    ref = put(clients, endpoints, "providers/acme/ok.json", orjson.dumps(movies))
    ingestor = Ingestor(settings(), clients, "test")
    first = ingest(ingestor, ref)
    assert first.outcome is Outcome.LOADED
    assert count(db, "SELECT count(*) FROM movies") == 3
    assert count(db, "SELECT status FROM ingestions") == "loaded"
    assert count(db, "SELECT notified_at IS NOT NULL FROM ingestions")
    again = ingest(ingestor, ref)
    assert again.outcome is Outcome.ALREADY_DONE
    assert count(db, "SELECT attempts FROM ingestions") == 1


def test_invalid_records_are_reported_in_full(
    clients: Clients, endpoints: Endpoints, db: psycopg.Connection
) -> None:
    bad = [{"title": "", "year": 1800 + i, "id": i} for i in range(6)]  # two errors each
    good = [{**CARMEN, "id": 100 + i} for i in range(20)]
    ref = put(clients, endpoints, "providers/acme/some-bad.json", orjson.dumps(good + bad))
    result = Ingestor(settings(report_max_errors=3), clients, "test").ingest(ref)
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
    clients: Clients, endpoints: Endpoints, db: psycopg.Connection
) -> None:
    data = orjson.dumps([CARMEN] * 3)[:-1]  # truncated
    ref = put(clients, endpoints, "providers/acme/broken.json", data)
    result = Ingestor(settings(), clients, "test").ingest(ref)
    assert result.outcome is Outcome.REJECTED
    assert result.reason is not None and result.reason.startswith("parse")
    assert count(db, "SELECT count(*) FROM movies") == 0
    assert count(db, "SELECT status FROM ingestions") == "rejected"


def test_too_many_invalid_records_reject_the_file(
    clients: Clients, endpoints: Endpoints, db: psycopg.Connection
) -> None:
    data = orjson.dumps([CARMEN, {"year": 2000}, {"year": 2001}])
    ref = put(clients, endpoints, "providers/acme/mostly-bad.json", data)
    result = Ingestor(settings(reject_invalid_ratio=0.5), clients, "test").ingest(ref)
    assert result.outcome is Outcome.REJECTED
    assert count(db, "SELECT count(*) FROM movies") == 0


def test_two_workers_at_once_load_it_exactly_once(
    clients: Clients, endpoints: Endpoints, db: psycopg.Connection
) -> None:
    movies = [{**CARMEN, "id": i, "extract": "x" * 2000} for i in range(20_000)]
    ref = put(clients, endpoints, "providers/acme/race.json", orjson.dumps(movies))
    outcomes: list[Outcome] = []

    def work(name: str) -> None:
        outcomes.append(
            Ingestor(settings(), Clients(REGION, endpoints.aws_endpoint), name).ingest(ref).outcome
        )

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(outcomes) == 2
    assert outcomes.count(Outcome.LOADED) == 1
    assert set(outcomes) - {Outcome.LOADED} <= {Outcome.BUSY, Outcome.ALREADY_DONE}
    assert count(db, "SELECT count(*) FROM movies") == 20_000


def test_dead_letter_and_provider_notice(
    clients: Clients, endpoints: Endpoints, db: psycopg.Connection
) -> None:
    # Each provider subscribes with a filter policy on the `provider` attribute.
    inbox = clients.sqs.create_queue(QueueName="acme-inbox")["QueueUrl"]
    other = clients.sqs.create_queue(QueueName="other-inbox")["QueueUrl"]
    for url, provider in ((inbox, "acme"), (other, "other")):
        arn = clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        clients.sns.subscribe(
            TopicArn=endpoints.provider_topic_arn,
            Protocol="sqs",
            Endpoint=arn["Attributes"]["QueueArn"],
            Attributes={
                "FilterPolicy": orjson.dumps({"provider": [provider]}).decode(),
                "RawMessageDelivery": "true",
            },
        )
    ref = put(clients, endpoints, "providers/acme/notify.json", b"[1,]")
    original = '{"Records": []}'
    result = ingest(Ingestor(settings(), clients, "test"), ref, original)

    got = clients.sqs.receive_message(
        QueueUrl=endpoints.dlq_url, MessageAttributeNames=["All"], WaitTimeSeconds=2
    )
    [message] = got["Messages"]
    assert message["Body"] == original
    assert message["MessageAttributes"]["status"]["StringValue"] == "rejected"
    assert message["MessageAttributes"]["reason"]["StringValue"].startswith("parse")
    assert message["MessageAttributes"]["ingestion_id"]["StringValue"] == str(result.ingestion_id)
    clients.sqs.delete_message(QueueUrl=endpoints.dlq_url, ReceiptHandle=message["ReceiptHandle"])

    notice = clients.sqs.receive_message(QueueUrl=inbox, WaitTimeSeconds=2)["Messages"]
    assert orjson.loads(notice[0]["Body"])["key"] == "providers/acme/notify.json"
    assert "Messages" not in clients.sqs.receive_message(QueueUrl=other, WaitTimeSeconds=1)


def test_a_load_while_a_first_load_of_the_provider_runs_is_busy_then_retried(
    clients: Clients, endpoints: Endpoints, db: psycopg.Connection
) -> None:
    ref = put(clients, endpoints, "providers/acme/wait.json", orjson.dumps([CARMEN]))
    with psycopg.connect(endpoints.database_url) as other:  # as a first load of acme holds it
        other.execute("SELECT pg_advisory_xact_lock(hashtextextended('provider:acme', 0))")
        busy = Ingestor(settings(), clients, "test").ingest(ref)
    assert busy.outcome is Outcome.BUSY
    assert count(db, "SELECT status FROM ingestions") == "processing"
    assert ingest(Ingestor(settings(), clients, "test"), ref).outcome is Outcome.LOADED
    assert count(db, "SELECT attempts FROM ingestions") == 2
