"""What the API hears of a commit that changed movies, through Redis (keys in
``moviestore.catalog.keys``):

1. ``VERSION_KEY`` moves forward to the new version (a Lua script: two workers committing close
   together may get here out of order, and the version must never go back) and the version is
   published on ``CHANNEL``: every API process reads the change feed at once and applies it
   (a change is visible everywhere within milliseconds; without Redis, within the API's poll);
2. then the documents of the movies the file inserted or changed go to Redis, each framed with
   the new version and with the cache TTL, so the API's first reads of them hit; those of the
   movies it withdrew are deleted (the API would find them stale anyway: the change touched
   them).

Redis being down never fails an ingestion: the failure is logged and counted, the API finds the
version by polling, and cached answers are checked against the change feed anyway.
"""

from __future__ import annotations

import logging

import orjson
import psycopg
import redis
from prometheus_client import Counter
from psycopg.rows import dict_row

from moviestore.catalog.keys import CHANNEL, VERSION_KEY, frame, movie_key
from moviestore.logs import event
from moviestore.store.feed import DOCUMENTS, WITHDRAWN

__all__ = ["VERSION_KEY", "CatalogPublisher"]

log = logging.getLogger("moviestore.publisher")

FAILURES = Counter(
    "moviestore_cache_refresh_failures_total", "Publications to Redis after a commit that failed"
)

# A pipeline is sent at this many commands or bytes, whichever comes first: round trips are
# amortised, and memory stays bounded however long the movies' extracts are.
PIPELINE_SIZE = 1000
PIPELINE_BYTES = 8 << 20
# Rows per fetch of the server-side cursor (a document can be 100 kB of extract).
FETCH_ROWS = 100


# KEYS[1] = VERSION_KEY, ARGV[1] = the new version, ARGV[2] = the channel. 1 if it moved.
ADVANCE = """
local current = tonumber(redis.call('GET', KEYS[1])) or -1
if tonumber(ARGV[1]) <= current then
    return 0
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[1])
return 1
"""


class CatalogPublisher:
    def __init__(
        self,
        url: str,
        ttl_seconds: int,
        max_documents: int,
        max_bytes: int = 256 << 20,
        timeout: float = 2.0,
    ):
        self.client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self.ttl, self.max_documents, self.max_bytes = ttl_seconds, max_documents, max_bytes
        self.advance = self.client.register_script(ADVANCE)

    def publish(self, conn: psycopg.Connection, ingestion_id: int, version: int) -> bool:
        """Move the version, then write the changed movies' documents. False if Redis failed.

        ``conn`` must be in a transaction (the documents are read with a server-side cursor).
        """
        try:
            moved = bool(self.advance(keys=[VERSION_KEY], args=[version, CHANNEL]))
            written = self.write_documents(conn, ingestion_id, version)
            self.forget_withdrawn(conn, ingestion_id)
        except redis.RedisError as e:
            FAILURES.inc()
            event(log, logging.WARNING, "not published: Redis unavailable", error=str(e))
            return False
        event(log, logging.INFO, "published", version=version, documents=written, moved=moved)
        return True

    def forget_withdrawn(self, conn: psycopg.Connection, ingestion_id: int) -> None:
        pipe = self.client.pipeline(transaction=False)
        for (movie_id,) in conn.execute(WITHDRAWN, (ingestion_id,)):
            pipe.delete(movie_key(movie_id))
            if len(pipe) >= PIPELINE_SIZE:
                pipe.execute()
        pipe.execute()

    def write_documents(self, conn: psycopg.Connection, ingestion_id: int, version: int) -> int:
        if self.max_documents == 0:
            return 0
        written = pending = total = 0
        pipe = self.client.pipeline(transaction=False)
        with conn.cursor(name="movie_documents", row_factory=dict_row) as cur:
            cur.itersize = FETCH_ROWS
            cur.execute(DOCUMENTS, (ingestion_id, self.max_documents))
            for doc in cur:
                value = orjson.dumps(doc)
                total += len(value)
                if total > self.max_bytes:
                    break  # the rest are read from PostgreSQL on demand
                pipe.set(movie_key(doc["id"]), frame(version, value), ex=self.ttl)
                written += 1
                pending += len(value)
                if len(pipe) >= PIPELINE_SIZE or pending >= PIPELINE_BYTES:
                    pipe.execute()
                    pending = 0
        pipe.execute()
        return written
