"""``moviestore dlq list|show|redrive``: look at dead-lettered messages and replay them.

The dead-letter queue holds what the platform failed to process: messages SQS's redrive policy
moved after five receipts (no attributes: the worker's logs say why), and bodies that are no S3
event at all (a ``reason`` attribute). A provider's bad data is never here: it is an outcome of
its file, told to the provider. Messages keep their original body; ``redrive`` sends bodies back
to the ingestion queue unchanged and deletes them from the dead-letter queue.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

import orjson

from moviestore.aws.clients import Clients
from moviestore.ingest import events
from moviestore.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import (
        ChangeMessageVisibilityBatchRequestEntryTypeDef,
        MessageTypeDef,
    )

# Long enough to read them all once; they are made visible again right after.
PEEK_VISIBILITY = 30


def configure(p: argparse.ArgumentParser) -> None:
    p.description = __doc__
    sub = p.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    ls = sub.add_parser("list", help="one line per dead-lettered message")
    ls.add_argument("--max", type=int, default=100, help="at most this many (default 100)")
    show = sub.add_parser("show", help="one message in full, as JSON")
    show.add_argument("message_id")
    redrive = sub.add_parser("redrive", help="send messages back to the ingestion queue")
    which = redrive.add_mutually_exclusive_group(required=True)
    which.add_argument("message_id", nargs="?")
    which.add_argument("--all", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    clients = Clients(settings.aws_region, settings.aws_endpoint_url)
    dlq, queue = settings.sqs_dlq_url, settings.sqs_queue_url
    if args.dlq_command == "list":
        for m in peek(clients, dlq, args.max):
            print(orjson.dumps(summary(m)).decode())
        return 0
    if args.dlq_command == "show":
        for m in peek(clients, dlq, 10_000):
            if m["MessageId"] == args.message_id:
                print(
                    orjson.dumps(
                        {**summary(m), "body": m["Body"]}, option=orjson.OPT_INDENT_2
                    ).decode()
                )
                return 0
        print(f"no message {args.message_id} in the dead-letter queue")
        return 1
    moved = 0
    for m in drain(clients, dlq):
        if args.all or m["MessageId"] == args.message_id:
            clients.sqs.send_message(QueueUrl=queue, MessageBody=m["Body"])
            clients.sqs.delete_message(QueueUrl=dlq, ReceiptHandle=m["ReceiptHandle"])
            moved += 1
        else:
            clients.sqs.change_message_visibility(
                QueueUrl=dlq, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
            )
    print(f"redrove {moved} message(s) to the ingestion queue")
    return 0 if moved or args.all else 1


def peek(clients: Clients, url: str, limit: int) -> list[MessageTypeDef]:
    """Messages without keeping them: hidden while they are read (so that each is read once),
    visible again as soon as all are, for the next command (a `show` or `redrive` right after
    a `list`) to find."""
    seen: dict[str, MessageTypeDef] = {}
    try:
        while len(seen) < limit:
            got = receive(clients, url, PEEK_VISIBILITY)
            fresh = [m for m in got if m["MessageId"] not in seen]
            if not fresh:
                break
            seen.update((m["MessageId"], m) for m in fresh)
    finally:
        release(clients, url, list(seen.values()))
    return list(seen.values())[:limit]


def release(clients: Clients, url: str, messages: list[MessageTypeDef]) -> None:
    """Make messages received from ``url`` visible again at once."""
    for i in range(0, len(messages), 10):
        entries: list[ChangeMessageVisibilityBatchRequestEntryTypeDef] = [
            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for n, m in enumerate(messages[i : i + 10])
        ]
        clients.sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)


def drain(clients: Clients, url: str) -> list[MessageTypeDef]:
    """Every message, each held invisible (30 s) until the caller deletes or releases it."""
    held: list[MessageTypeDef] = []
    while got := receive(clients, url, 30):
        held += got
    return held


def receive(clients: Clients, url: str, visibility: int) -> list[MessageTypeDef]:
    return clients.sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        VisibilityTimeout=visibility,
        WaitTimeSeconds=1,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", [])


def summary(m: MessageTypeDef) -> dict[str, Any]:
    attrs = {k: v.get("StringValue") for k, v in m.get("MessageAttributes", {}).items()}
    keys = [r.key for r in events.parse(m["Body"]) if isinstance(r, events.ObjectRef)]
    system = m.get("Attributes", {})
    return {
        "id": m["MessageId"],
        "sent": system.get("SentTimestamp"),
        "receive_count": system.get("ApproximateReceiveCount"),
        "reason": attrs.get("reason", "failed repeatedly (redrive policy)"),
        "status": attrs.get("status"),
        "provider": attrs.get("provider"),
        "report": attrs.get("report"),
        "keys": keys,
    }
