"""``moviestore ingestions list|show|confirm|discard``: the record of uploaded files, and the
operators' decision on a snapshot the brake held.

``list`` shows the claims still open (``processing``, ``held``, ``confirmed``), oldest first; a
``processing`` claim whose heartbeat stopped longer ago than the queue's visibility timeout is
``stale`` (its worker died; its message will come back and be taken over). ``confirm`` releases a
held snapshot: it is queued again and loads without the brake, withdrawing what it lacks.
``discard`` drops it: nothing of it is applied, and its provider is told.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

import orjson
import psycopg

from moviestore.aws.clients import Clients
from moviestore.ingest.events import ObjectRef, event_body
from moviestore.ingest.notify import Notices
from moviestore.ingest.pipeline import Outcome, Result, stored_summary
from moviestore.settings import Settings, get_settings
from moviestore.store import ingestions


def configure(p: argparse.ArgumentParser) -> None:
    p.description = __doc__
    sub = p.add_subparsers(dest="ingestions_command", required=True, metavar="ACTION")
    ls = sub.add_parser("list", help="the open claims (processing, held, confirmed), as JSON lines")
    ls.add_argument("--max", type=int, default=100, help="at most this many (default 100)")
    show = sub.add_parser("show", help="one ingestion in full, as JSON")
    show.add_argument("id", type=int)
    for action, meaning in (
        ("confirm", "load a held snapshot without the brake"),
        ("discard", "drop a held snapshot; nothing of it is applied"),
    ):
        a = sub.add_parser(action, help=meaning)
        a.add_argument("id", type=int)
        a.add_argument("--by", default=getpass.getuser(), help="who decides (default: you)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    with psycopg.connect(settings.database_url.get_secret_value(), autocommit=True) as conn:
        if args.ingestions_command == "list":
            stale_after = settings.sqs_visibility_timeout_seconds
            for claim in ingestions.open_claims(conn, stale_after, args.max):
                print(orjson.dumps(shown(claim.row)).decode())
            return 0
        stored = ingestions.by_id(conn, args.id)
        if stored is None:
            print(f"moviestore ingestions: no ingestion {args.id}", file=sys.stderr)
            return 1
        if args.ingestions_command == "show":
            print(orjson.dumps(shown(stored.row), option=orjson.OPT_INDENT_2).decode())
            return 0
        return settle(conn, settings, stored, args.ingestions_command, args.by)


def settle(
    conn: psycopg.Connection, settings: Settings, stored: ingestions.Stored, action: str, by: str
) -> int:
    clients = Clients(settings.aws_region, settings.aws_endpoint_url)
    iid = stored["id"]
    if action == "confirm":
        # Confirmed first, then queued: a worker handed the event claims only a confirmed row.
        if not ingestions.settle(conn, iid, "confirmed", by) and stored["status"] != "confirmed":
            return refuse(stored)
        clients.sqs.send_message(
            QueueUrl=settings.sqs_queue_url, MessageBody=event_body(ref(stored))
        )
        print(f"ingestion {iid} confirmed by {by}: queued to load without the brake")
        return 0
    if not ingestions.settle(conn, iid, "discarded", by):
        return refuse(stored)
    summary = stored_summary(stored) | {"status": "discarded", "settled_by": by}
    result = Result(Outcome.DISCARDED, iid, reason=f"discarded by {by}", summary=summary)
    Notices(clients, settings.sns_provider_topic_arn, None, settings.report_link_seconds).send(
        result
    )
    print(f"ingestion {iid} discarded by {by}; its provider was told")
    return 0


def refuse(stored: ingestions.Stored) -> int:
    print(
        f"moviestore ingestions: ingestion {stored['id']} is {stored['status']}, not held",
        file=sys.stderr,
    )
    return 1


def ref(stored: ingestions.Stored) -> ObjectRef:
    return ObjectRef(
        stored["bucket"], stored["key"], stored["provider"], stored["version"],
        stored["bytes"] or 0, stored["etag"], stored["version_id"], stored["sequencer"],
    )  # fmt: skip


def shown(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()}
