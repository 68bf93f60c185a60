"""S3 event bodies → objects to ingest (pure logic)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from moviestore.ingest.events import ObjectRef, Skipped, event_body, parse, provider_of


def event(key: str, name: str = "ObjectCreated:Put", **obj: Any) -> bytes:
    record = {
        "eventName": name,
        "s3": {"bucket": {"name": "cat"}, "object": {"key": key, "size": 12, "eTag": "e1", **obj}},
    }
    return orjson.dumps({"Records": [record]})


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("providers/acme/catalog.json", "providers/acme/catalog.json"),
        ("providers%2Facme%2Fcatalog.json", "providers/acme/catalog.json"),  # moto encodes '/'
        ("providers/acme/my+file+%2B1.json", "providers/acme/my file +1.json"),
        ("providers/acme/%C3%A9t%C3%A9.ndjson.gz", "providers/acme/été.ndjson.gz"),
        ("providers/acme/a/b.json", "providers/acme/a/b.json"),
    ],
)
def test_keys_are_decoded(raw: str, key: str) -> None:
    assert parse(event(raw)) == [ObjectRef("cat", key, "acme", "e1", 12, etag="e1")]


def test_the_version_id_wins_over_the_etag_and_pins_the_read() -> None:
    [ref] = parse(event("providers/acme/x.json", versionId="v7", sequencer="0055AED6DCD90281E5"))
    assert isinstance(ref, ObjectRef) and ref.version == "v7"
    assert (ref.etag, ref.version_id, ref.sequencer) == ("e1", "v7", "0055AED6DCD90281E5")
    assert ref.pin() == {"VersionId": "v7"}


@pytest.mark.parametrize("version_id", [None, "null", ""])
def test_an_unversioned_bucket_pins_the_read_to_the_etag(version_id: str | None) -> None:
    extra = {} if version_id is None else {"versionId": version_id}
    [ref] = parse(event("providers/acme/x.json", eTag='"e1"', **extra))
    assert isinstance(ref, ObjectRef) and ref.version == "e1" and ref.version_id is None
    assert ref.pin() == {"IfMatch": '"e1"'}


def test_an_event_made_for_a_ref_names_it_exactly() -> None:
    ref = ObjectRef("cat", "providers/acme/a b+é.json", "acme", "v1", 9, "e", "v1", "00ff")
    assert parse(event_body(ref)) == [ref]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (orjson.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"}), "test_event"),
        (b"not json", "malformed"),
        (b"[]", "malformed"),
        (orjson.dumps({"Records": []}), "malformed"),
        (orjson.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]}), "malformed"),
        (event("providers/acme/x.json", name="ObjectRemoved:Delete"), "not_created"),
        (event("reports/acme/x.json"), "outside_providers"),
        (event("providers/Acme/x.json"), "outside_providers"),
        (event("providers/acme/"), "outside_providers"),
        (event("providers/acme"), "outside_providers"),
        (event("providers/-acme/x.json"), "outside_providers"),
        (event("providers/ac_me/x.json"), "outside_providers"),
    ],
)
def test_unusable_messages_are_skipped_with_a_reason(body: bytes, reason: str) -> None:
    [skipped] = parse(body)
    assert isinstance(skipped, Skipped) and skipped.reason == reason


@pytest.mark.parametrize("name", ["a", "acme", "acme-films-2", "0"])
def test_provider_names(name: str) -> None:
    assert provider_of(f"providers/{name}/f.json") == name


@pytest.mark.parametrize("name", ["", "A", "a_b", "a--b", "a-", "-a", "a b", "é", "a" * 64])
def test_bad_provider_names(name: str) -> None:
    assert provider_of(f"providers/{name}/f.json") is None
