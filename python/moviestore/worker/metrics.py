"""Prometheus metrics of the worker, and its health endpoints, on the metrics port."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

FILES = Counter("moviestore_ingest_files_total", "Files handled, by outcome", ["outcome"])
RECORDS = Counter("moviestore_ingest_records_total", "Records seen, by kind", ["kind"])
BYTES = Counter("moviestore_ingest_bytes_total", "Decompressed bytes validated")
DURATION = Histogram(
    "moviestore_ingest_duration_seconds",
    "Time to ingest one file",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
)
QUEUE_LAG = Histogram(
    "moviestore_ingest_queue_lag_seconds",
    "From the message being sent to its handling",
    buckets=(0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600),
)
MESSAGES = Counter("moviestore_worker_messages_total", "SQS messages, by what happened", ["result"])
BUSY = Gauge("moviestore_worker_busy", "Messages in hand (files being ingested)")
WAITING = Gauge(
    "moviestore_worker_waiting_large",
    "Large files in hand waiting for a large-file slot (at most one beyond the slots)",
)
SLOTS = Gauge("moviestore_worker_slots", "Files the worker loads at once (worker_concurrency)")
HELD = Gauge("moviestore_ingest_held_snapshots", "Snapshots the brake holds for an operator")
# A provider's rejected files: told to the provider in its notice, never dead-lettered.
DATA_REJECTIONS = Counter(
    "moviestore_ingest_data_rejections_total", "Files rejected for their data", ["provider"]
)


def serve(port: int, ready: Callable[[], bool]) -> ThreadingHTTPServer:
    """/metrics, /healthz (the process answers) and /readyz (it can take work)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self.reply(200, generate_latest(), CONTENT_TYPE_LATEST)
            elif self.path == "/healthz":
                self.reply(200, b'{"status":"ok"}', "application/json")
            elif self.path == "/readyz":
                ok = ready()
                body = b'{"status":"ready"}' if ok else b'{"status":"stopping"}'
                self.reply(200 if ok else 503, body, "application/json")
            else:
                self.reply(404, b'{"error":"not found"}', "application/json")

        def reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # scrapes every few seconds would drown the logs

    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
