"""The API's composition root: everything a server process answers with, built from the
settings in one place, and opened and closed together.

Built in the supervisor before it forks (nothing here holds a connection yet); each server
process opens its own pools and starts its own follower on its event loop (``open``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from moviestore.api.answer_cache import AnswerCache, LocalAnswers, SharedAnswers
from moviestore.api.catalog import Catalog
from moviestore.api.cursor import Cursors
from moviestore.api.database import Database
from moviestore.api.follower import Follower
from moviestore.api.keys import KeyRegistry
from moviestore.api.limits import RateLimiter
from moviestore.api.redis_pipe import PipelinedRedis
from moviestore.api.search_index import Segments
from moviestore.api.version import CatalogVersion
from moviestore.aws.clients import Clients
from moviestore.settings import Settings, cursor_secret


@dataclass
class Components:
    settings: Settings
    version: CatalogVersion
    database: Database
    answers: AnswerCache
    catalog: Catalog
    cursors: Cursors
    follower: Follower
    keys: KeyRegistry
    limiter: RateLimiter

    async def open(self) -> None:
        """In a server process, on the event loop that serves it."""
        self.version.bind(asyncio.get_running_loop())
        await self.database.open()
        self.follower.start()
        self.keys.start()
        self.limiter.start()

    async def close(self) -> None:
        self.follower.stop()
        await self.keys.stop()
        await self.limiter.stop()
        await self.database.close()
        await self.answers.shared.close()


class ReportLinks:
    """Presigned links to error reports, signed in each server process (its own boto3 client,
    made on first use: nothing crosses the fork). Signing makes no request."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.clients: Clients | None = None

    def __call__(self, bucket: str, key: str) -> str:
        if self.clients is None:
            self.clients = Clients(self.settings.aws_region, self.settings.aws_endpoint_url)
        return self.clients.link(bucket, key, self.settings.report_link_seconds)


def compose(settings: Settings, segments: Path | None) -> Components:
    """Raises ValueError for a Redis URL the API's client cannot honour (it never quotes it).
    ``segments``: the directory the pod's server processes share search index bases in."""
    # Queries (and the catalog version they are checked against) come from the read replica
    # when there is one: its version always matches its rows.
    url = (settings.database_read_url or settings.database_url).get_secret_value()
    redis_url = settings.redis_url.get_secret_value()
    version = CatalogVersion()
    database = Database(url, settings.database_pool_size, settings.statement_timeout_ms)
    answers = AnswerCache(
        LocalAnswers(
            settings.api_memory_cache_entries,
            settings.api_memory_cache_mb << 20,
            settings.cache_ttl_seconds,
        ),
        SharedAnswers(redis_url, settings.redis_timeout_seconds, settings.cache_ttl_seconds),
        version,
    )
    cursors = Cursors(cursor_secret(settings))
    catalog = Catalog(
        database,
        version,
        cursors,
        sort_matches_up_to=settings.api_sort_matches_up_to,
        report_links=ReportLinks(settings),
        stale_after_seconds=settings.sqs_visibility_timeout_seconds,
    )
    follower = Follower(
        url,
        redis_url,
        version,
        index=settings.api_search_index,
        segments=Segments(segments) if segments is not None and settings.api_search_index else None,
        poll_seconds=settings.api_version_poll_seconds,
        merge_at=settings.api_search_index_merge_movies,
    )
    keys = KeyRegistry(database, settings.api_key_poll_seconds)
    # Its own connection: a sync waits behind no answer's Redis call, nor they behind it.
    limiter = RateLimiter(
        PipelinedRedis(redis_url, max(settings.redis_timeout_seconds, 0.1)),
        settings.api_rate_limit_processes,
        settings.api_rate_limit_sync_ms / 1000,
    )
    return Components(
        settings, version, database, answers, catalog, cursors, follower, keys, limiter
    )
