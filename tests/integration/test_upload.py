"""``moviestore upload`` against the local AWS endpoint: the object lands and is queued."""

from __future__ import annotations

import subprocess
from pathlib import Path

import orjson

from moviestore.aws.clients import Clients
from moviestore.ingest.events import ObjectRef, parse
from moviestore.localstack.stack import REGION, Endpoints
from tests.cli import moviestore


def upload(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return moviestore("upload", *args)


def queued_keys(clients: Clients, queue_url: str) -> list[str]:
    keys = []
    for _ in range(5):
        got = clients.sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        for m in got.get("Messages", []):
            keys += [r.key for r in parse(m["Body"]) if isinstance(r, ObjectRef)]
            clients.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    return keys


def test_upload_puts_the_file_under_the_provider_and_queues_it(
    endpoints: Endpoints, tmp_path: Path
) -> None:
    f = tmp_path / "my catalog +1.json"
    f.write_bytes(orjson.dumps([{"title": "Carmen", "year": 1915}]))
    done = upload("--provider", "acme-films", f)
    assert done.returncode == 0, done.stderr
    key = "providers/acme-films/my catalog +1.json"
    assert f"s3://{endpoints.bucket}/{key}" in done.stdout
    clients = Clients(REGION, endpoints.aws_endpoint)
    body = clients.s3.get_object(Bucket=endpoints.bucket, Key=key)["Body"].read()
    assert body == f.read_bytes()
    assert key in queued_keys(clients, endpoints.queue_url)


def test_large_files_go_up_in_parts(endpoints: Endpoints, tmp_path: Path) -> None:
    f = tmp_path / "big.ndjson"
    line = orjson.dumps({"title": "x", "year": 2000, "extract": "y" * 1000}) + b"\n"
    f.write_bytes(line * (70 * 1024))  # ~72 MB: above the 64 MiB multipart threshold
    assert upload("--provider", "acme", f).returncode == 0
    clients = Clients(REGION, endpoints.aws_endpoint)
    head = clients.s3.head_object(Bucket=endpoints.bucket, Key="providers/acme/big.ndjson")
    assert head["ContentLength"] == f.stat().st_size
    assert "-" in head["ETag"]  # a multipart ETag: "<md5 of md5s>-<parts>"


def test_bad_provider_names_and_files_are_refused(endpoints: Endpoints, tmp_path: Path) -> None:
    f = tmp_path / "a.json"
    f.write_text("[]")
    assert upload("--provider", "Acme", f).returncode == 2
    assert upload("--provider", "acme", tmp_path / "missing.json").returncode == 2
