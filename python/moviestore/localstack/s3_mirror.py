"""The local S3 kept across restarts: moto holds its objects in memory, so the local platform
mirrors the bucket to its state folder, puts it back when it starts again, and re-announces
every upload whose ingestion never completed (its message died with moto's queue).

In AWS the bucket and the queue outlive any process; this gives the local platform the same
property: an upload queued when the platform stopped is ingested when it starts again.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import psycopg

from moviestore.aws.clients import Clients
from moviestore.ingest.events import ObjectRef, event_body, provider_of
from moviestore.store import ingestions


@dataclass
class S3Mirror:
    state: Path
    clients: Clients
    bucket: str

    @property
    def folder(self) -> Path:
        return self.state / "s3" / self.bucket

    def saved(self) -> dict[str, dict[str, Any]]:
        """key -> what the mirror holds of it (etag, metadata, the body's file)."""
        found = {}
        for meta in self.folder.glob("*/meta.json"):
            with contextlib.suppress(OSError, orjson.JSONDecodeError):
                entry = orjson.loads(meta.read_bytes())
                found[entry["key"]] = {**entry, "body": meta.parent / "body"}
        return found

    def sync(self) -> int:
        """Save what is new in the bucket, forget what left it; the objects saved now."""
        saved = self.saved()
        present: set[str] = set()
        new = 0
        pages = self.clients.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        for page in pages:
            for obj in page.get("Contents", []):
                key, etag = obj["Key"], obj["ETag"].strip('"')
                present.add(key)
                if saved.get(key, {}).get("etag") != etag:
                    new += self.save(key)
        for key, entry in saved.items():
            if key not in present:
                for path in entry["body"].parent.iterdir():
                    path.unlink()
                entry["body"].parent.rmdir()
        return new

    def save(self, key: str) -> int:
        place = self.folder / hashlib.sha256(key.encode()).hexdigest()
        place.mkdir(parents=True, exist_ok=True)
        try:
            got = self.clients.s3.get_object(Bucket=self.bucket, Key=key)
        except self.clients.s3.exceptions.NoSuchKey:
            return 0  # gone since it was listed
        with (place / "body.part").open("wb") as out:
            for chunk in got["Body"].iter_chunks(1 << 20):
                out.write(chunk)
        (place / "body.part").replace(place / "body")
        meta = {"key": key, "etag": got["ETag"].strip('"'), "metadata": got.get("Metadata", {})}
        (place / "meta.json").write_bytes(orjson.dumps(meta))
        return 1

    def restore(self) -> int:
        """Put every saved object back (before the bucket notifies anyone of uploads); they
        get new ETags where a multipart upload made the old one. The objects restored."""
        restored = 0
        for key, entry in self.saved().items():
            with entry["body"].open("rb") as body:
                put = self.clients.s3.put_object(
                    Bucket=self.bucket, Key=key, Body=body, Metadata=entry["metadata"]
                )
            entry["etag"] = put["ETag"].strip('"')
            (entry["body"].parent / "meta.json").write_bytes(
                orjson.dumps({k: v for k, v in entry.items() if k != "body"})
            )
            restored += 1
        return restored

    def reannounce(self, database_url: str, queue_url: str) -> list[str]:
        """Send the S3 event of every upload whose ingestion is not complete (none, still
        processing, or its notices unsent): the keys announced."""
        with psycopg.connect(database_url, autocommit=True) as conn:
            complete = ingestions.complete_versions(conn, self.bucket)
        announced = []
        for key, entry in sorted(self.saved().items()):
            provider = provider_of(key)
            if provider is None or (key, entry["etag"]) in complete:
                continue
            size = entry["body"].stat().st_size
            ref = ObjectRef(self.bucket, key, provider, entry["etag"], size, entry["etag"])
            self.clients.sqs.send_message(QueueUrl=queue_url, MessageBody=event_body(ref))
            announced.append(key)
        return announced
