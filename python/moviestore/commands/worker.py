"""``moviestore worker``: consume the ingestion queue until SIGTERM or Ctrl-C.

Loads up to ``MOVIESTORE_WORKER_CONCURRENCY`` files at once. Metrics and health on
``MOVIESTORE_METRICS_PORT`` (/metrics, /healthz, /readyz). On SIGTERM it stops receiving,
finishes every file in hand within ``MOVIESTORE_WORKER_SHUTDOWN_GRACE_SECONDS`` (or returns
their messages to the queue) and exits 0; Ctrl-C does the same and exits 130.
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket

from moviestore import logs
from moviestore.aws.clients import Clients
from moviestore.commands import EXIT_INTERRUPTED
from moviestore.ingest.pipeline import Ingestor
from moviestore.settings import get_settings
from moviestore.store.pool import open_pool
from moviestore.worker import metrics
from moviestore.worker.loop import Worker

# How the worker's connections are named in pg_stat_activity.
APPLICATION = "moviestore-worker"


def configure(p: argparse.ArgumentParser) -> None:
    p.description = __doc__
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    logs.configure(settings.log_level)
    clients = Clients(settings.aws_region, settings.aws_endpoint_url)
    name = f"{socket.gethostname()}"
    # A connection for each slot's load (its duties follow it, in the same thread) and one for
    # the heartbeat.
    pool = open_pool(
        settings.database_url.get_secret_value(), settings.worker_concurrency + 1, APPLICATION
    )
    worker = Worker(settings, clients, Ingestor(settings, clients, name, pool))
    server = metrics.serve(settings.metrics_port, ready=lambda: not worker.stopping.is_set())
    stopped_by: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        stopped_by.append(signum)
        worker.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with logs.correlated(worker=name):
        logs.event(
            logging.getLogger("moviestore.worker"),
            logging.INFO,
            "worker started",
            metrics_port=server.server_address[1],
            queue=settings.sqs_queue_url,
            concurrency=settings.worker_concurrency,
        )
        worker.run()
    server.shutdown()
    pool.close()
    # Both stop the same graceful way; Ctrl-C is reported as an interruption.
    return EXIT_INTERRUPTED if stopped_by[:1] == [signal.SIGINT] else 0
