"""Redis keys and values of the catalog's cached answers, shared by the worker (which stores the
documents of the movies a file changed) and the API.

An answer's key names the question only; its value carries the catalog version the answer was
computed at (``frame``). A reader at a newer version keeps it if no change since touched it
(``api/changes.py``), so a new version does not empty the cache; TTLs reclaim the memory."""

from __future__ import annotations

PREFIX = "moviestore"
# The latest catalog version, mirrored from PostgreSQL after each commit that changed movies.
VERSION_KEY = f"{PREFIX}:catalog:version"
# Pub/sub channel: the new version is published here so API processes switch at once.
CHANNEL = f"{PREFIX}:catalog:changes"
VERSION_BYTES = 8


def movie_key(movie_id: int) -> str:
    return f"{PREFIX}:answer:movie:{movie_id}"


def answer_key(route: str, digest: str) -> str:
    return f"{PREFIX}:answer:{route}:{digest}"


def frame(version: int, body: bytes) -> bytes:
    """A stored answer: its catalog version, then its bytes."""
    return version.to_bytes(VERSION_BYTES, "big") + body


def unframe(value: bytes) -> tuple[int, bytes] | None:
    """``(version, body)``; None for a value that is not a framed answer."""
    if len(value) < VERSION_BYTES:
        return None
    return int.from_bytes(value[:VERSION_BYTES], "big"), value[VERSION_BYTES:]
