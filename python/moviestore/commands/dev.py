"""``moviestore dev``: the whole platform on this machine, with sample data, until Ctrl-C.

Starts PostgreSQL, Redis (with a password, as ElastiCache has) and moto (as the AWS endpoint)
on free ports with their state in ``--state-dir``, creates the bucket, queues, notification and
topics, applies migrations, starts the ingestion worker and the API, uploads the bundled sample
catalogs and prints every endpoint (also written to ``STATE/endpoints.json``).

It behaves like the real platform: a worker or API process that dies is started again (after 1,
2, 4 ... up to 30 s, as Kubernetes backs off), not the end of everything; the bucket is kept in
the state folder, so an upload queued when the platform stopped is ingested when it starts
again (its event is sent again: moto's queue does not survive). SIGTERM stops everything
cleanly (the files in hand finish) and exits 0; so does Ctrl-C, with exit status 130. Running it
again reuses the same data.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from moviestore.aws.clients import Clients
from moviestore.aws.provision import provision
from moviestore.localstack.processes import Server, free_port, port_open, wait_until
from moviestore.localstack.s3_mirror import S3Mirror
from moviestore.localstack.stack import PREFIX, REGION, Endpoints, LocalStack, set_env
from moviestore.store.migrate import migrate

SAMPLES = Path(__file__).resolve().parents[3] / "samples"
# A restarted process that then runs this long starts its backoff again.
HEALTHY_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 30.0
MIRROR_SECONDS = 2.0
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


def configure(p: argparse.ArgumentParser) -> None:
    p.description = __doc__
    p.add_argument("--state-dir", type=Path, default=Path(".state"), help="where all state lives")
    p.add_argument("--no-samples", action="store_true", help="do not upload the sample catalogs")
    p.add_argument(
        "--no-worker", action="store_true", help="run no ingestion worker (uploads stay queued)"
    )
    p.set_defaults(run=run)


@dataclass
class Supervised:
    """A moviestore process kept running: started again when it exits, with a backoff."""

    server: Server
    started: float = 0.0
    backoff: float = 1.0
    due: float | None = None  # when it is to be started again
    restarts: int = 0

    def start(self) -> None:
        self.server.start()
        self.started = time.monotonic()

    def watch(self, now: float) -> None:
        if self.due is not None:
            if now >= self.due:
                self.due = None
                self.restarts += 1
                say(f"starting the {self.server.name} again (restart {self.restarts})")
                self.start()
            return
        if not self.server.exited():
            return
        if now - self.started >= HEALTHY_SECONDS:
            self.backoff = 1.0
        code = self.server.proc.returncode if self.server.proc else None
        say(f"the {self.server.name} exited ({code}); again in {self.backoff:.0f} s; "
            f"see {self.server.log_path}")  # fmt: skip
        self.due = now + self.backoff
        self.backoff = min(self.backoff * 2, MAX_BACKOFF_SECONDS)


def run(args: argparse.Namespace) -> int:
    with set_env(LOCAL_CREDENTIALS):  # moto accepts any; real ones must never reach it
        return serve(args)


def serve(args: argparse.Namespace) -> int:
    # SIGTERM stops the platform and exits 0; Ctrl-C unwinds from wherever it lands (start-up
    # included) through the same clean-up, and the command line reports the interruption.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stack = LocalStack(args.state_dir)
    say(f"starting the local stack in {stack.state}")
    endpoints = stack.start()
    try:
        migrate(endpoints.database_url)
        clients = Clients(REGION, endpoints.aws_endpoint)
        mirror = S3Mirror(stack.state, clients, endpoints.bucket)
        restore(mirror, clients, endpoints)
        metrics_port, api_port = free_port(), free_port()
        endpoints = replace(
            endpoints,
            worker_metrics=None if args.no_worker else f"http://127.0.0.1:{metrics_port}/metrics",
            api=f"http://127.0.0.1:{api_port}",
        )
        supervised = []
        if not args.no_worker:
            worker = start(stack, "worker", endpoints, MOVIESTORE_METRICS_PORT=str(metrics_port))
            wait_until(lambda: port_open(metrics_port), 30, "the worker", worker.server)
            supervised.append(worker)
        api = start(stack, "api", endpoints, MOVIESTORE_API_PORT=str(api_port))
        wait_until(lambda: port_open(api_port), 30, "the API", api.server)
        supervised.append(api)
        path = stack.write_endpoints(endpoints)
        announced = mirror.reannounce(endpoints.database_url, endpoints.queue_url)
        if announced:
            say(f"announced again {len(announced)} upload(s) never ingested: {announced}")
        if not args.no_samples:
            upload_samples(endpoints.settings_env(), endpoints.bucket, endpoints.aws_endpoint)
        say("the platform is up:")
        for name, value in vars(endpoints).items():
            print(f"  {name:20} {value}")
        print(f"  {'endpoints file':20} {path}")
        print(f"  {'logs':20} {stack.state / 'logs'}")
        say("Ctrl-C (or SIGTERM) stops everything; run it again to continue on the same data")
        sys.stdout.flush()
        mirrored = 0.0
        try:
            while not stop.wait(0.5):
                now = time.monotonic()
                for process in supervised:
                    process.watch(now)
                if now - mirrored >= MIRROR_SECONDS:
                    mirror.sync()
                    mirrored = now
        finally:  # SIGTERM or Ctrl-C: the files in hand finish, then the bucket is kept
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            for process in supervised:
                process.server.stop(grace=60)
            mirror.sync()
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not orphan servers
        say("stopping")
        stack.stop()
    return 0


def restore(mirror: S3Mirror, clients: Clients, endpoints: Endpoints) -> None:
    """The saved bucket back into moto, with its notification off meanwhile (the uploads that
    need it are announced once the worker runs)."""
    clients.s3.put_bucket_notification_configuration(
        Bucket=endpoints.bucket, NotificationConfiguration={}
    )
    restored = mirror.restore()
    provision(clients, PREFIX, visibility_timeout=120)  # the notification again
    if restored:
        say(f"restored {restored} object(s) of s3://{endpoints.bucket} from {mirror.folder}")


def start(stack: LocalStack, command: str, endpoints: Endpoints, **env: str) -> Supervised:
    """A moviestore command as one of the stack's processes, logging to STATE/logs."""
    server = Server(
        command,
        [sys.executable, "-m", "moviestore.cli", command],
        stack.state / "logs" / f"{command}.log",
        env={**endpoints.settings_env(), **env},
    )
    supervised = Supervised(server)
    supervised.start()
    stack.servers.append(server)
    return supervised


def upload_samples(env: dict[str, str], bucket: str, endpoint: str) -> None:
    with set_env(env):
        clients = Clients(REGION, endpoint)
        for sample in sorted(SAMPLES.glob("catalog*")):
            key = f"providers/sample/{sample.name}"
            clients.s3.upload_file(str(sample), bucket, key)
            say(f"uploaded {sample.name} to s3://{bucket}/{key}")


def say(message: str) -> None:
    print(f"moviestore dev: {message}", flush=True)
