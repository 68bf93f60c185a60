"""What follows a commit: the publication to Redis, the provider's notice (and the operators'
for a held snapshot), and the change feed's retention.

They can only be sent after the commit, so a worker dying in between would lose them. The
commit leaves ``ingestions.notified_at`` NULL; it is set here once everything is sent. A later
delivery of the message finds the final status with ``notified_at`` NULL and gets a ``resumed``
result from the pipeline: the duties are done then.

They run under the object version's advisory lock, and ``notified_at`` is checked under it, so
two deliveries at once do not both send them. They go in this order: the publication
(idempotent), the notices; a failure midway makes the next delivery send everything again, so a
notice already sent can be repeated (at least once; each carries the ``ingestion_id`` to tell
repeats apart).
"""

from __future__ import annotations

import logging

from moviestore.aws.clients import Clients
from moviestore.ingest.events import ObjectRef
from moviestore.ingest.notify import Notices
from moviestore.ingest.pipeline import Result
from moviestore.ingest.publisher import CatalogPublisher
from moviestore.logs import event
from moviestore.settings import Settings
from moviestore.store import ingestions
from moviestore.store.feed import prune, refresh_statistics
from moviestore.store.pool import ConnectionPool

log = logging.getLogger("moviestore.ingest")


class Duties:
    def __init__(self, settings: Settings, clients: Clients, pool: ConnectionPool):
        self.settings, self.clients, self.pool = settings, clients, pool
        self.publisher = CatalogPublisher(
            settings.redis_url.get_secret_value(),
            ttl_seconds=settings.cache_ttl_seconds,
            max_documents=settings.cache_warm_max_documents,
            max_bytes=settings.cache_warm_max_mb << 20,
        )
        self.notices = Notices(
            clients,
            settings.sns_provider_topic_arn,
            settings.sns_alerts_topic_arn,
            settings.report_link_seconds,
        )

    def run(self, ref: ObjectRef, result: Result) -> bool:
        """Do the pending duties of ``result``; True when another worker is doing them (retry
        later)."""
        if not result.pending or result.ingestion_id is None:
            return False
        with self.pool.connection() as conn, conn.transaction():
            if not ingestions.lock_version(conn, ref.bucket, ref.key, ref.version):
                return True
            if not ingestions.notices_pending(conn, result.ingestion_id):
                return False  # done by another delivery meanwhile
            if result.catalog_version is not None:
                refresh_statistics(conn, result.changed_movies)
                self.publisher.publish(conn, result.ingestion_id, result.catalog_version)
            self.notices.send(result)
            ingestions.mark_notified(conn, result.ingestion_id)
        if result.catalog_version is not None:
            with self.pool.connection() as conn:
                prune(conn, self.settings.change_feed_keep_versions)
        event(
            log,
            logging.INFO,
            "duties done",
            ingestion_id=result.ingestion_id,
            resumed=result.resumed,
            catalog_version=result.catalog_version,
            outcome=result.outcome.value,
        )
        return False
