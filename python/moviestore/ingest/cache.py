"""Making the API's cache stale after a commit: every cache key includes the catalog version,
so one INCR makes every cached answer stale at once. Redis being down never fails an
ingestion: the failure is logged and counted, and cached answers expire by their TTL."""

from __future__ import annotations

import logging

import redis

from moviestore.logs import event
from moviestore.worker import metrics

log = logging.getLogger("moviestore.cache")

VERSION_KEY = "moviestore:catalog:version"


class CatalogVersion:
    def __init__(self, url: str, timeout: float = 1.0):
        self.client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )

    def bump(self) -> int | None:
        """The new version, or None when Redis could not be reached."""
        try:
            return int(self.client.incr(VERSION_KEY))
        except redis.RedisError as e:
            metrics.REDIS_FAILURES.inc()
            event(
                log, logging.WARNING, "catalog version not bumped: Redis unavailable", error=str(e)
            )
            return None
