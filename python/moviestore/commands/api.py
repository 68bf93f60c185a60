"""``moviestore api``: serve the catalog API until SIGTERM or Ctrl-C.

Listens on ``MOVIESTORE_API_HOST``:``MOVIESTORE_API_PORT`` with ``MOVIESTORE_API_PROCESSES``
server processes of ``MOVIESTORE_API_WORKERS`` threads each. On SIGTERM it stops accepting,
finishes the requests in hand (at most ``MOVIESTORE_API_SHUTDOWN_GRACE_SECONDS``), closes its
pools and exits 0.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile

from moviestore import logs
from moviestore.settings import get_settings


def configure(p: argparse.ArgumentParser) -> None:
    p.description = __doc__
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    metrics_dir = tempfile.mkdtemp(prefix="moviestore-api-metrics-")
    enable_multiprocess_metrics(metrics_dir)
    try:
        from moviestore.api import metrics  # noqa: PLC0415 - after the metrics mode
        from moviestore.api.server import serve  # noqa: PLC0415

        logs.configure(
            settings.log_level, lambda logger: metrics.LOGS_SUPPRESSED.labels(logger).inc()
        )
        return serve(settings)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def enable_multiprocess_metrics(directory: str) -> None:
    """Counters from every server process add up in /metrics; prometheus_client reads the
    mode when a metric is created, so this runs before the API's metrics module loads."""
    from prometheus_client import values  # noqa: PLC0415 - the API's own mode

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
