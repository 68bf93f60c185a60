"""Cache-aside in Redis, seen from outside: what one API process computed is stored with the
catalog version it was computed at and the configured TTL, and another process answers from it
(not from PostgreSQL), byte for byte, the same ETag."""

from __future__ import annotations

import json
import time

import redis

from moviestore.catalog.keys import PREFIX, frame, unframe
from moviestore.localstack.stack import Endpoints, LocalStack
from moviestore.settings import Settings
from tests.integration.api.catalog import Movie
from tests.integration.api.extra import extra_api, spare_redis_db

TTL_SECONDS = Settings.model_fields["cache_ttl_seconds"].default


def stored_answers(client: redis.Redis, version: int, expected: int) -> dict[str, bytes]:
    """The answers stored at ``version`` once there are ``expected`` of them."""
    deadline = time.monotonic() + 10
    while True:
        found = {}
        for key in client.scan_iter(f"{PREFIX}:answer:*"):
            framed = unframe(client.get(key))  # type: ignore[arg-type]
            if framed is not None and framed[0] == version:
                found[key.decode()] = framed[1]
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_an_answer_one_process_computed_is_served_by_another_from_redis(
    local_stack: tuple[LocalStack, Endpoints], api_database: tuple[str, list[Movie]]
) -> None:
    stack, endpoints = local_stack
    redis_url = spare_redis_db(endpoints, 6)
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    first = extra_api(stack, endpoints, api_database, redis_url)
    movie = first.movies[3]
    asked = {
        "list": ("/v1/movies", {"genre": "Drama", "sort": "title", "limit": 7}),
        "detail": (f"/v1/movies/{movie.id}", {}),
        "genres": ("/v1/genres", {}),
    }
    try:
        answers = {what: first.get(path, params=params) for what, (path, params) in asked.items()}
        assert all(a.status_code == 200 for a in answers.values()), answers
        version = first.readiness()[1]["catalog_version"]
        stored = stored_answers(client, version, len(asked))
    finally:
        first.server.stop()

    routes = {key.split(":")[2]: key for key in stored}  # moviestore:answer:{route}:...
    assert sorted(routes) == ["genres", "movie", "movies"], sorted(stored)
    assert routes["movie"].endswith(f":movie:{movie.id}")
    for what, route in (("list", "movies"), ("detail", "movie"), ("genres", "genres")):
        assert stored[routes[route]] == answers[what].content, what
        assert 0 < client.ttl(routes[route]) <= TTL_SECONDS, what

    # Proof of where the second process answers from: Redis says something PostgreSQL cannot.
    altered = json.loads(stored[routes["movie"]]) | {"title": "only in Redis"}
    client.set(routes["movie"], frame(version, json.dumps(altered).encode()), keepttl=True)

    second = extra_api(stack, endpoints, api_database, redis_url)
    try:
        assert second.readiness()[1]["catalog_version"] == version
        before = second.cache_counts()
        again = {what: second.get(path, params=params) for what, (path, params) in asked.items()}
        after = second.cache_counts()
    finally:
        second.server.stop()
    assert again["detail"].json()["title"] == "only in Redis"
    for what in ("list", "genres"):
        assert again[what].content == answers[what].content, what
        assert again[what].headers["ETag"] == answers[what].headers["ETag"], what
    assert again["detail"].headers["ETag"] != answers["detail"].headers["ETag"]

    def counted(result: str) -> float:
        return after.get(("redis", result), 0.0) - before.get(("redis", result), 0.0)

    assert (counted("hit"), counted("miss")) == (len(asked), 0)
