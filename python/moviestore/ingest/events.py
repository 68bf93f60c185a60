"""S3 event notifications, as SQS message bodies, turned into the objects to ingest.

Keys arrive URL-encoded (form encoding: ``+`` is a space; moto even encodes ``/``). Test events
and keys outside ``providers/{provider}/`` are skipped with a reason, never raised: a message
the worker cannot use must not crash its loop.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import orjson

PROVIDER_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
UPLOAD_PREFIX = "providers/"


@dataclass(frozen=True)
class ObjectRef:
    """One uploaded object version to ingest: the load reads exactly this version."""

    bucket: str
    key: str
    provider: str
    # The S3 version id on a versioned bucket, else the ETag: one ingestion per version.
    version: str
    size: int
    etag: str | None = None
    version_id: str | None = None
    # S3's event sequencer: two versions of one key in upload order.
    sequencer: str | None = None

    def pin(self) -> dict[str, str]:
        """The GetObject arguments that read this version and no other: its version id, else
        its ETag as a precondition (a newer upload of the key fails it)."""
        if self.version_id:
            return {"VersionId": self.version_id}
        return {"IfMatch": f'"{(self.etag or self.version).strip(chr(34))}"'}

    def params(self) -> dict[str, Any]:
        """The ref as statement parameters (``store.ingestions``)."""
        return {**asdict(self), "etag": self.etag or self.version}


@dataclass(frozen=True)
class Skipped:
    """A record of the message that names nothing to ingest, and why."""

    reason: str
    detail: str


def valid_provider(name: str) -> bool:
    return len(name) <= 63 and PROVIDER_NAME.fullmatch(name) is not None


def provider_of(key: str) -> str | None:
    """``providers/{provider}/{file}`` → provider; None for anything else."""
    if not key.startswith(UPLOAD_PREFIX):
        return None
    provider, sep, rest = key[len(UPLOAD_PREFIX) :].partition("/")
    if not sep or not rest or rest.endswith("/") or not valid_provider(provider):
        return None
    return provider


def parse(body: str | bytes) -> list[ObjectRef | Skipped]:
    """Every record of one message body, each as an object to ingest or a skip."""
    try:
        message = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        return [Skipped("malformed", f"the message body is not JSON: {e}")]
    if not isinstance(message, dict):
        return [Skipped("malformed", "the message body is not a JSON object")]
    if message.get("Event") == "s3:TestEvent":
        return [Skipped("test_event", "S3 sends a test event when a notification is set up")]
    records = message.get("Records")
    if not isinstance(records, list) or not records:
        return [Skipped("malformed", "no Records in the message")]
    return [parse_record(r) for r in records]


def parse_record(record: Any) -> ObjectRef | Skipped:
    try:
        event = str(record["eventName"])
        bucket = str(record["s3"]["bucket"]["name"])
        obj = record["s3"]["object"]
        key = unquote_plus(str(obj["key"]))
        size = int(obj.get("size", 0))
        etag = str(obj.get("eTag") or "").strip('"') or None
        # An unversioned bucket's events carry no version id (or the string "null").
        given = str(obj.get("versionId") or "")
        version_id = None if given in ("", "null") else given
        sequencer = str(obj.get("sequencer") or "") or None
        version = version_id or etag or ""
    except (KeyError, TypeError, ValueError) as e:
        return Skipped("malformed", f"an event record lacks a field: {e!r}")
    if not event.startswith("ObjectCreated:"):
        return Skipped("not_created", f"{event} for {key}")
    provider = provider_of(key)
    if provider is None:
        return Skipped(
            "outside_providers",
            f"{key!r} is not providers/{{provider}}/{{file}} with a provider name of "
            "lower-case letters, digits and dashes",
        )
    if not version:
        return Skipped("malformed", f"no version id or ETag for {key}")
    return ObjectRef(bucket, key, provider, version, size, etag, version_id, sequencer)


def event_body(ref: ObjectRef) -> str:
    """An S3 event naming ``ref`` exactly, as S3 would send it (a released held snapshot, an
    object the local platform re-announces)."""
    obj: dict[str, Any] = {"key": quote_plus(ref.key), "size": ref.size, "eTag": ref.etag}
    if ref.version_id:
        obj["versionId"] = ref.version_id
    if ref.sequencer:
        obj["sequencer"] = ref.sequencer
    record = {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": ref.bucket}, "object": obj},
    }
    return orjson.dumps({"Records": [record]}).decode()
