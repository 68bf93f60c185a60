"""Which catalog version this process answers for.

PostgreSQL is the truth (``catalog_state`` is bumped in the transaction that changes movies); it
is polled every ``poll_seconds``. The worker also publishes each new version on a Redis channel,
so processes usually switch within milliseconds. Both failing leaves the last known version in
place: with PostgreSQL down no ingestion can commit, so the catalog cannot have changed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import psycopg
import redis

from moviestore.api.queries import CATALOG_VERSION
from moviestore.catalog.keys import CHANNEL
from moviestore.logs import event

log = logging.getLogger("moviestore.api.version")


class VersionWatcher:
    def __init__(
        self,
        database_url: str,
        redis_url: str,
        on_version: Callable[[int], None],
        poll_seconds: float = 1.0,
    ):
        self.database_url, self.redis_url = database_url, redis_url
        self.on_version, self.poll = on_version, poll_seconds
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, name="catalog-version", daemon=True)
        self.pubsub: redis.client.PubSub | None = None
        self.conn: psycopg.Connection | None = None

    def start(self) -> None:
        self.read_database()  # the first answers already know their version
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(self.poll + 1)

    def run(self) -> None:
        next_poll = 0.0
        while not self.stopped.is_set():
            self.listen(self.poll)
            if time.monotonic() >= next_poll:
                self.read_database()
                next_poll = time.monotonic() + self.poll

    def listen(self, seconds: float) -> None:
        """Wait up to ``seconds`` for a published version."""
        try:
            if self.pubsub is None:
                client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=1)
                self.pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
                self.pubsub.subscribe(CHANNEL)
            message = self.pubsub.get_message(timeout=seconds)
        except (redis.RedisError, OSError):
            self.pubsub = None
            self.stopped.wait(seconds)
            return
        data = message.get("data") if message is not None else None
        if isinstance(data, bytes) and data.isdigit():
            self.on_version(int(data))

    def read_database(self) -> None:
        try:
            if self.conn is None or self.conn.closed:
                self.conn = psycopg.connect(self.database_url, autocommit=True, connect_timeout=2)
            row = self.conn.execute(CATALOG_VERSION).fetchone()
        except psycopg.Error as e:
            event(log, logging.WARNING, "catalog version unknown; keeping the last one",
                  error=str(e))  # fmt: skip
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            return
        if row is not None:
            self.on_version(int(row[0]))
