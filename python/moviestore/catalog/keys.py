"""Redis keys of the catalog cache. Every cached answer's key carries the catalog version (the
``catalog_state`` row, bumped in the transaction that changes ``movies``), so a new version makes
every older answer unreachable at once; TTLs reclaim the memory."""

from __future__ import annotations

PREFIX = "moviestore"
# The latest catalog version, mirrored from PostgreSQL after each commit that changed movies.
VERSION_KEY = f"{PREFIX}:catalog:version"
# Pub/sub channel: the new version is published here so API processes switch at once.
CHANNEL = f"{PREFIX}:catalog:changes"


def movie_key(version: int, movie_id: int) -> str:
    return f"{PREFIX}:v{version}:movie:{movie_id}"


def answer_key(version: int, route: str, digest: str) -> str:
    return f"{PREFIX}:v{version}:{route}:{digest}"
