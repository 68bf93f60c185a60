"""``moviestore dev``: the whole platform on this machine, with sample data, until Ctrl-C.

Starts PostgreSQL, Redis and moto (as the AWS endpoint) on free ports with their state in
``--state-dir``, creates the bucket, queues, notification and topics, applies migrations,
starts the ingestion worker and the API, uploads the bundled sample catalogs and prints every
endpoint (also written to ``STATE/endpoints.json``). SIGTERM stops everything cleanly and exits
0; so does Ctrl-C, with exit status 130. Running it again reuses the same data.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path

from moviestore.aws.clients import Clients
from moviestore.localstack.processes import Server, free_port, port_open, wait_until
from moviestore.localstack.stack import REGION, Endpoints, LocalStack, set_env
from moviestore.store.migrate import migrate

SAMPLES = Path(__file__).resolve().parents[3] / "samples"


def configure(p: argparse.ArgumentParser) -> None:
    p.description = __doc__
    p.add_argument("--state-dir", type=Path, default=Path(".state"), help="where all state lives")
    p.add_argument("--no-samples", action="store_true", help="do not upload the sample catalogs")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # SIGTERM stops the platform and exits 0; Ctrl-C unwinds from wherever it lands (start-up
    # included) through the same clean-up, and the command line reports the interruption.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stack = LocalStack(args.state_dir)
    say(f"starting the local stack in {stack.state}")
    endpoints = stack.start()
    try:
        migrate(endpoints.database_url)
        metrics_port, api_port = free_port(), free_port()
        endpoints = replace(
            endpoints,
            worker_metrics=f"http://127.0.0.1:{metrics_port}/metrics",
            api=f"http://127.0.0.1:{api_port}",
        )
        worker = start(stack, "worker", endpoints, MOVIESTORE_METRICS_PORT=str(metrics_port))
        api = start(stack, "api", endpoints, MOVIESTORE_API_PORT=str(api_port))
        wait_until(lambda: port_open(metrics_port), 30, "the worker", worker)
        wait_until(lambda: port_open(api_port), 30, "the API", api)
        path = stack.write_endpoints(endpoints)
        if not args.no_samples:
            upload_samples(endpoints.settings_env(), endpoints.bucket, endpoints.aws_endpoint)
        say("the platform is up:")
        for name, value in vars(endpoints).items():
            print(f"  {name:20} {value}")
        print(f"  {'endpoints file':20} {path}")
        print(f"  {'logs':20} {stack.state / 'logs'}")
        say("Ctrl-C (or SIGTERM) stops everything; run it again to continue on the same data")
        sys.stdout.flush()
        while not stop.wait(1):
            for server in (worker, api):
                if server.exited():
                    say(f"the {server.name} exited; see {server.log_path}")
                    return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not orphan servers
        say("stopping")
        stack.stop()
    return 0


def start(stack: LocalStack, command: str, endpoints: Endpoints, **env: str) -> Server:
    """A moviestore command as one of the stack's processes, logging to STATE/logs."""
    server = Server(
        command,
        [sys.executable, "-m", "moviestore.cli", command],
        stack.state / "logs" / f"{command}.log",
        env={**endpoints.settings_env(), **env},
    )
    server.start()
    stack.servers.append(server)
    return server


def upload_samples(env: dict[str, str], bucket: str, endpoint: str) -> None:
    with set_env(env):
        clients = Clients(REGION, endpoint)
        for sample in sorted(SAMPLES.glob("catalog*")):
            key = f"providers/sample/{sample.name}"
            clients.s3.upload_file(str(sample), bucket, key)
            say(f"uploaded {sample.name} to s3://{bucket}/{key}")


def say(message: str) -> None:
    print(f"moviestore dev: {message}", flush=True)
