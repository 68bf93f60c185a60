"""The API's cache after a commit that changed movies (keys in ``moviestore.catalog.keys``):

1. the documents of the movies the file changed go to Redis under the new version's keys, in
   pipelines, each with the cache TTL, so the API's first reads of them hit;
2. then ``VERSION_KEY`` moves forward to the new version (a Lua script: two workers committing
   close together may get here out of order, and the version must never go back) and the
   version is published on ``CHANNEL``, so every API process switches at once.

Documents before the version: an API process that sees the new version finds them there.
Redis being down never fails an ingestion: the failure is logged and counted, and cached
answers expire by their TTL.
"""

from __future__ import annotations

import logging

import orjson
import psycopg
import redis
from psycopg import sql
from psycopg.rows import dict_row

from moviestore.catalog.documents import SELECT_COLUMNS
from moviestore.catalog.keys import CHANNEL, VERSION_KEY, movie_key
from moviestore.logs import event
from moviestore.worker import metrics

__all__ = ["VERSION_KEY", "CatalogCache"]

log = logging.getLogger("moviestore.cache")

# A pipeline is sent at this many commands or bytes, whichever comes first: round trips are
# amortised, and memory stays bounded however long the movies' extracts are.
PIPELINE_SIZE = 1000
PIPELINE_BYTES = 8 << 20
# Rows per fetch of the server-side cursor (a document can be 100 kB of extract).
FETCH_ROWS = 100

DOCUMENTS = sql.SQL("SELECT {} FROM movies m WHERE m.ingestion_id = %s LIMIT %s").format(
    SELECT_COLUMNS
)

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


class CatalogCache:
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
        """Write the changed movies' documents, then move the version. False if Redis failed.

        ``conn`` must be in a transaction (the documents are read with a server-side cursor).
        """
        try:
            written = self.write_documents(conn, ingestion_id, version)
            moved = bool(self.advance(keys=[VERSION_KEY], args=[version, CHANNEL]))
        except redis.RedisError as e:
            metrics.REDIS_FAILURES.inc()
            event(log, logging.WARNING, "cache not refreshed: Redis unavailable", error=str(e))
            return False
        event(log, logging.INFO, "cache refreshed", version=version, documents=written, moved=moved)
        return True

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
                pipe.set(movie_key(version, doc["id"]), value, ex=self.ttl)
                written += 1
                pending += len(value)
                if len(pipe) >= PIPELINE_SIZE or pending >= PIPELINE_BYTES:
                    pipe.execute()
                    pending = 0
        pipe.execute()
        return written
