"""A provider's catalog lifecycle through the worker: a snapshot withdraws what it lacks, the
brake holds one that would withdraw too much, and ``moviestore ingestions confirm|discard`` each
do what they say; the provider and the operators are told. Real PostgreSQL, SQS, SNS and S3."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import psycopg
import pytest

from moviestore.localstack.stack import Endpoints
from moviestore.store import reads
from moviestore.store.migrate import migrate
from moviestore.store.pool import ConnectionPool
from tests.cli import moviestore
from tests.integration.s3_events import subscribe
from tests.integration.test_ingest_duties import Stage


class Lifecycle(Stage):
    """A stage whose uploads can be snapshots, with an inbox on the alerts topic too."""

    def __init__(self, endpoints: Endpoints, db: psycopg.Connection, pool: ConnectionPool):
        super().__init__(endpoints, db, pool)
        self.operators = subscribe(
            self.clients, endpoints.alerts_topic_arn, f"{self.provider}-operators", None
        )

    def put(self, name: str, ids: range, snapshot: bool = False) -> None:
        """Upload movies ``ids`` and deliver the event to the worker."""
        body = b"\n".join(
            orjson.dumps({"id": f"m{i}", "title": f"T{i}", "year": 2000}) for i in ids
        )
        extra: dict[str, Any] = {"Metadata": {"mode": "snapshot"}} if snapshot else {}
        self.upload(name, body, **extra)
        self.deliver()

    def latest(self) -> dict[str, Any]:
        row = self.db.execute(
            "SELECT id, status, mode, rows_withdrawn, would_withdraw, catalog_movies,"
            " settled_by FROM ingestions WHERE provider = %s ORDER BY id DESC LIMIT 1",
            (self.provider,),
        ).fetchone()
        assert row is not None
        names = ("id", "status", "mode", "withdrawn", "would_withdraw", "of", "settled_by")
        return dict(zip(names, row, strict=True))

    def live(self) -> set[str]:
        rows = self.db.execute(
            "SELECT provider_id FROM movies WHERE provider = %s AND withdrawn_at IS NULL",
            (self.provider,),
        )
        return {r[0] for r in rows}

    def notices(self, url: str) -> list[dict[str, Any]]:
        return [orjson.loads(m["Body"]) for m in self.drain(url)]

    def cli(self, *args: str) -> tuple[int, str]:
        """``moviestore ARGS`` pointed at this stage's queue."""
        env = {**os.environ, "MOVIESTORE_SQS_QUEUE_URL": self.queue}
        done = moviestore(*args, env=env)
        return done.returncode, done.stdout + done.stderr


@pytest.fixture
def stage(endpoints: Endpoints, pool: ConnectionPool) -> Iterator[Lifecycle]:
    migrate(endpoints.database_url)
    with psycopg.connect(endpoints.database_url, autocommit=True) as db:
        yield Lifecycle(endpoints, db, pool)


def test_a_snapshot_withdraws_what_it_lacks_and_the_api_no_longer_shows_it(
    stage: Lifecycle,
) -> None:
    stage.put("all.ndjson", range(10))
    stage.notices(stage.inbox)
    stage.put("all.ndjson", range(1, 10), snapshot=True)  # one missing: 10%
    latest = stage.latest()
    assert (latest["status"], latest["mode"], latest["withdrawn"]) == ("loaded", "snapshot", 1)
    assert stage.live() == {f"m{i}" for i in range(1, 10)}
    [notice] = stage.notices(stage.inbox)
    assert (notice["status"], notice["rows_withdrawn"], notice["mode"]) == (
        "loaded", 1, "snapshot")  # fmt: skip
    row = stage.db.execute(
        "SELECT id FROM movies WHERE provider = %s AND provider_id = 'm0'", (stage.provider,)
    ).fetchone()
    assert row is not None
    assert stage.db.execute(reads.MOVIE.as_string(stage.db), {"id": row[0]}).fetchone() is None
    assert stage.db.execute(reads.WITHDRAWN.as_string(stage.db), {"id": row[0]}).fetchone()


def test_the_brake_holds_then_confirm_and_discard_do_what_they_say(stage: Lifecycle) -> None:
    stage.put("all.ndjson", range(10))
    stage.notices(stage.inbox)

    stage.put("all.ndjson", range(7), snapshot=True)  # 30% missing: more than 20%
    held = stage.latest()
    assert (held["status"], held["would_withdraw"], held["of"]) == ("held", 3, 10)
    assert stage.live() == {f"m{i}" for i in range(10)}  # nothing withdrawn
    [notice] = stage.notices(stage.inbox)
    assert (notice["status"], notice["would_withdraw"], notice["ingestion_id"]) == (
        "held", 3, held["id"])  # fmt: skip
    assert "confirm|discard" in notice["settle"]
    assert [n["ingestion_id"] for n in stage.notices(stage.operators)] == [held["id"]]

    code, out = stage.cli("ingestions", "list")
    listed = [orjson.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert code == 0 and held["id"] in [c["id"] for c in listed if c["status"] == "held"]

    code, out = stage.cli("ingestions", "confirm", str(held["id"]), "--by", "alice")
    assert code == 0, out
    assert stage.latest()["status"] == "confirmed"
    stage.deliver()  # the event it queued: loaded without the brake
    confirmed = stage.latest()
    assert (confirmed["id"], confirmed["status"], confirmed["withdrawn"]) == (
        held["id"], "loaded", 3)  # fmt: skip
    assert confirmed["settled_by"] == "alice"
    assert stage.live() == {f"m{i}" for i in range(7)}
    [notice] = stage.notices(stage.inbox)
    assert (notice["status"], notice["rows_withdrawn"]) == ("loaded", 3)

    stage.put(f"broken-export-{uuid.uuid4().hex[:6]}.ndjson", range(1), snapshot=True)
    held = stage.latest()
    assert held["status"] == "held"
    stage.notices(stage.inbox)
    code, out = stage.cli("ingestions", "discard", str(held["id"]), "--by", "bob")
    assert code == 0, out
    discarded = stage.latest()
    assert (discarded["status"], discarded["settled_by"]) == ("discarded", "bob")
    assert stage.live() == {f"m{i}" for i in range(7)}  # nothing of it applied
    [notice] = stage.notices(stage.inbox)
    assert (notice["status"], notice["ingestion_id"]) == ("discarded", held["id"])
    code, out = stage.cli("ingestions", "discard", str(held["id"]))
    assert code == 1 and "not held" in out
    assert stage.drain(stage.queue) == [] and stage.drain(stage.dlq) == []
