"""``moviestore dlq``: list, show and redrive against the local SQS."""

from __future__ import annotations

import subprocess

import orjson

from moviestore.aws.clients import Clients
from moviestore.localstack.stack import REGION, Endpoints
from tests.cli import moviestore


def dlq(*args: str) -> subprocess.CompletedProcess[str]:
    return moviestore("dlq", *args)


def purge(clients: Clients, url: str) -> None:
    while got := clients.sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
    ).get("Messages"):
        for m in got:
            clients.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_list_show_and_redrive(endpoints: Endpoints) -> None:
    clients = Clients(REGION, endpoints.aws_endpoint)
    purge(clients, endpoints.dlq_url)
    purge(clients, endpoints.queue_url)
    body = orjson.dumps(
        {
            "Records": [
                {
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "bucket": {"name": "b"},
                        "object": {"key": "providers/acme/x.json", "eTag": "e"},
                    },
                }
            ]
        }
    ).decode()
    sent = clients.sqs.send_message(
        QueueUrl=endpoints.dlq_url,
        MessageBody=body,
        MessageAttributes={"reason": {"DataType": "String", "StringValue": "parse: truncated"}},
    )
    listed = [orjson.loads(line) for line in dlq("list").stdout.splitlines()]
    assert [(m["id"], m["reason"], m["keys"]) for m in listed] == [
        (sent["MessageId"], "parse: truncated", ["providers/acme/x.json"])
    ]
    shown = dlq("show", sent["MessageId"])
    assert shown.returncode == 0 and orjson.loads(shown.stdout)["body"] == body
    assert dlq("show", "nope").returncode == 1

    redriven = dlq("redrive", sent["MessageId"])
    assert redriven.returncode == 0, redriven.stderr
    back = clients.sqs.receive_message(QueueUrl=endpoints.queue_url, WaitTimeSeconds=2)["Messages"]
    assert [m["Body"] for m in back] == [body]
    clients.sqs.delete_message(QueueUrl=endpoints.queue_url, ReceiptHandle=back[0]["ReceiptHandle"])
    assert dlq("list").stdout == ""
