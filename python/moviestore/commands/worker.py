"""``moviestore worker``: consume the ingestion queue until SIGTERM or Ctrl-C.

Loads up to ``MOVIESTORE_WORKER_CONCURRENCY`` files at once. Metrics and health on
``MOVIESTORE_METRICS_PORT`` (/metrics, /healthz, /readyz). On SIGTERM it stops receiving,
finishes every file in hand within ``MOVIESTORE_WORKER_SHUTDOWN_GRACE_SECONDS`` (or returns
their messages to the queue) and exits 0.
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
from typing import Any

from moviestore import logs
from moviestore.aws.clients import Clients
from moviestore.ingest.pipeline import Ingestor
from moviestore.settings import get_settings
from moviestore.worker import metrics
from moviestore.worker.loop import Worker


def register(commands: Any) -> None:
    p = commands.add_parser("worker", help="run the ingestion worker", description=__doc__)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    logs.configure(settings.log_level)
    clients = Clients(settings.aws_region, settings.aws_endpoint_url)
    name = f"{socket.gethostname()}"
    worker = Worker(settings, clients, Ingestor(settings, clients, name))
    server = metrics.serve(settings.metrics_port, ready=lambda: not worker.stopping.is_set())
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: worker.stop())
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
    return 0
