"""Typed settings, read once from the environment (prefix ``MOVIESTORE_``) and checked at start-up.

The local stack and AWS differ only here: with ``aws_endpoint_url`` unset, boto3 talks to AWS
with the pod's IAM role; set, it talks to the local moto server.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from moviestore.validation import DEFAULT_MAX_BYTES


class Settings(BaseSettings):
    # hide_input_in_errors: a bad value's message would otherwise quote the input, secrets too.
    model_config = SettingsConfigDict(
        env_prefix="MOVIESTORE_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    env: Literal["local", "staging", "production"] = "local"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    database_url: SecretStr
    database_read_url: SecretStr | None = None
    database_pool_size: int = Field(default=10, ge=1, le=200)
    statement_timeout_ms: int = Field(default=5000, ge=100)
    redis_url: SecretStr
    redis_timeout_seconds: float = Field(default=0.05, gt=0, le=5)

    aws_region: str = "us-east-1"
    aws_endpoint_url: str | None = None
    s3_bucket: str = Field(min_length=3, max_length=63)
    sqs_queue_url: str
    sqs_dlq_url: str
    sns_provider_topic_arn: str
    sns_alerts_topic_arn: str | None = None

    api_port: int = Field(default=8080, ge=1, le=65535)
    # Every core by default (Robyn runs Python handlers on one thread per process).
    api_processes: int = Field(default_factory=lambda: len(os.sched_getaffinity(0)), ge=1, le=64)
    api_workers: int = Field(default=1, ge=1, le=64)
    api_host: str = "0.0.0.0"
    # SIGTERM: stop accepting, finish the requests in hand for at most this long, then exit 0.
    api_shutdown_grace_seconds: float = Field(default=20, ge=0, le=300)
    # Answers kept in each API process (in front of Redis), per catalog version.
    api_memory_cache_entries: int = Field(default=20_000, ge=0)
    api_memory_cache_mb: int = Field(default=64, ge=0)
    # A filtered page with up to this many matches finds, counts and sorts them in one
    # statement; with more, it counts them and walks the index of its sort order (measured on
    # 300,000 movies: both take a few ms on their side of 10,000). 0: always the walk.
    api_sort_matches_up_to: int = Field(default=10_000, ge=0)
    # List queries answered from an in-memory index of each process (api/search_index.py:
    # ~70 MiB and ~1.6 s to build per 300,000 movies and catalog version); off: PostgreSQL alone.
    api_search_index: bool = True
    # Where a pod's server processes share the search index's base (one copy, mapped by each):
    # an emptyDir with medium Memory in Kubernetes. Unset: a directory made for each run, in
    # /dev/shm when there is one.
    api_search_index_dir: str | None = None
    # A process's delta (the movies changed since its index's base) is merged into a new base
    # once it holds this many movies, or 1/32 of the base if more.
    api_search_index_merge_movies: int = Field(default=20_000, ge=1)
    # How long clients may reuse an answer without asking again (Cache-Control max-age).
    api_client_max_age_seconds: int = Field(default=5, ge=0, le=3600)
    # How often each API process asks PostgreSQL (the truth) for a newer catalog version; the
    # worker also publishes new versions on Redis, which usually arrive within milliseconds.
    # Redis down, a change is visible within this long (plus the time to apply it).
    api_version_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    # Signs pagination cursors; every API process and pod must share it. Required outside
    # env=local (there it defaults to a value derived from database_url).
    api_cursor_secret: SecretStr | None = None
    # One log line per request (JSON, with its request id); off by default at high rates.
    api_access_log: bool = False
    # Requests without a key: allowed or answered 401. Unset: allowed for env=local only
    # (`moviestore dev`); never in production.
    api_anonymous_reads: bool | None = None
    # Requests a second of all anonymous clients of one address together; unset, anonymous
    # reads are not limited here (the WAF limits each address at the edge).
    api_anonymous_rate: int | None = Field(default=None, ge=1, le=1_000_000)
    # How often each API process asks PostgreSQL whether keys were made or revoked: a
    # revocation takes effect everywhere within this long (plus one read).
    api_key_poll_seconds: float = Field(default=1.0, gt=0, le=4)
    # How many API processes share the deployment's load (pods x processes): with no word
    # from Redis yet about a key, or with Redis down, each process limits a key to this share
    # of its rate (api/limits.py).
    api_rate_limit_processes: int = Field(default=2, ge=1, le=10_000)
    # Off: no request is limited (only where another layer limits, e.g. to measure what the
    # limits cost: benchmarks/bench_api.py).
    api_rate_limits: bool = True
    # How often each API process reconciles its rate limit buckets with Redis.
    api_rate_limit_sync_ms: int = Field(default=200, ge=10, le=5000)
    # Origins browsers may call the API from (CORS), e.g. ["https://app.example.com"]; "*"
    # for any. Empty: no cross-origin access.
    api_cors_origins: list[str] = Field(default_factory=list)
    metrics_port: int = Field(default=9090, ge=0, le=65535)

    # Files one worker loads at once; it receives only as many messages as it has free slots.
    worker_concurrency: int = Field(default=1, ge=1, le=16)
    # Files at least this large (the S3 event's size) are large: with a concurrency of N > 1,
    # at most N - 1 of them load at once, so one slot always serves the small files.
    worker_large_file_bytes: int = Field(default=16 << 20, ge=1)
    worker_shutdown_grace_seconds: float = Field(default=300, ge=0)
    sqs_visibility_timeout_seconds: int = Field(default=120, ge=10, le=43200)
    sqs_wait_seconds: int = Field(default=20, ge=0, le=20)
    # The largest decompressed file (docs/provider-format.md, "Limits").
    max_file_bytes: int | None = Field(default=DEFAULT_MAX_BYTES, ge=1)
    max_record_bytes: int = Field(default=16 << 20, ge=1024)
    # A file with more invalid records than this share is rejected whole: its export is broken.
    reject_invalid_ratio: float = Field(default=0.5, ge=0, le=1)
    report_max_errors: int = Field(default=1000, ge=0)
    # A snapshot that would withdraw more than this share of its provider's live catalog is
    # held for an operator (docs/provider-format.md, "The brake").
    snapshot_brake_ratio: float = Field(default=0.2, ge=0, le=1)
    # How long a presigned link to an error report works (at most as long as the credentials
    # that signed it: a role's session).
    report_link_seconds: int = Field(default=3600, ge=60, le=7 * 86400)
    # The API's base URL, for `moviestore upload --wait` (it follows the ingestions endpoint).
    api_url: str | None = None
    # The provider's API key for `moviestore upload --wait` (its ingestions need the key).
    api_key: SecretStr | None = None

    # The catalog cache (Redis, and each API process's memory in front of it).
    cache_ttl_seconds: int = Field(default=300, ge=1, le=86400)
    # After a commit the worker writes the documents of at most this many changed movies.
    cache_warm_max_documents: int = Field(default=50_000, ge=0)
    # ... and at most this many MiB of them (extracts can be long: Redis memory stays bounded).
    cache_warm_max_mb: int = Field(default=256, ge=0)
    # The change feed keeps the changes of this many catalog versions; an API process further
    # behind builds its search index anew.
    change_feed_keep_versions: int = Field(default=10_000, ge=1)

    @model_validator(mode="after")
    def cloud_has_no_local_endpoint(self) -> Settings:
        if self.env != "local" and self.aws_endpoint_url:
            raise ValueError(
                "aws_endpoint_url is for the local stack only; unset it outside env=local"
            )
        if self.env != "local" and self.api_cursor_secret is None:
            raise ValueError("api_cursor_secret is required outside env=local")
        if self.env == "production" and self.api_anonymous_reads:
            raise ValueError("api_anonymous_reads cannot be on in production")
        if self.env != "local" and "127.0.0.1" in self.database_url.get_secret_value():
            raise ValueError("database_url points at this machine outside env=local")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings; a missing or invalid one stops start-up with a clear message."""
    return Settings()  # type: ignore[call-arg]  # values come from the environment


def anonymous_reads(settings: Settings) -> bool:
    if settings.api_anonymous_reads is None:
        return settings.env == "local"
    return settings.api_anonymous_reads


def cursor_secret(settings: Settings) -> bytes:
    if settings.api_cursor_secret is not None:
        return settings.api_cursor_secret.get_secret_value().encode()
    # env=local only (checked above): stable across restarts of the local stack.
    return hashlib.sha256(b"cursor:" + settings.database_url.get_secret_value().encode()).digest()
