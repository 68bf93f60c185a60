"""Start and stop the whole local stack; its endpoints go to ``endpoints.json`` for scripts."""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from moviestore.aws.clients import Clients
from moviestore.aws.provision import provision
from moviestore.localstack.moto import Moto
from moviestore.localstack.postgres import Postgres
from moviestore.localstack.processes import Server, free_port
from moviestore.localstack.redis import Redis

REGION = "us-east-1"
PREFIX = "moviestore-local"


@dataclass(frozen=True)
class Endpoints:
    api: str | None
    aws_endpoint: str
    bucket: str
    queue_url: str
    dlq_url: str
    provider_topic_arn: str
    alerts_topic_arn: str
    database_url: str
    redis_url: str
    worker_metrics: str | None

    def settings_env(self) -> dict[str, str]:
        """The environment that points moviestore processes at this stack."""
        api = {"MOVIESTORE_API_URL": self.api} if self.api else {}
        return {
            **api,
            "MOVIESTORE_ENV": "local",
            "MOVIESTORE_DATABASE_URL": self.database_url,
            "MOVIESTORE_REDIS_URL": self.redis_url,
            "MOVIESTORE_AWS_REGION": REGION,
            "MOVIESTORE_AWS_ENDPOINT_URL": self.aws_endpoint,
            "MOVIESTORE_S3_BUCKET": self.bucket,
            "MOVIESTORE_SQS_QUEUE_URL": self.queue_url,
            "MOVIESTORE_SQS_DLQ_URL": self.dlq_url,
            "MOVIESTORE_SNS_PROVIDER_TOPIC_ARN": self.provider_topic_arn,
            "MOVIESTORE_SNS_ALERTS_TOPIC_ARN": self.alerts_topic_arn,
            # moto accepts any credentials; these keep real ones from ever being sent to it.
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
        }


class LocalStack:
    """PostgreSQL, Redis and moto on free ports, state in ``state``; stop() undoes start()."""

    def __init__(self, state: Path):
        self.state = state.resolve()
        self.servers: list[Server] = []

    def start(self, visibility_timeout: int = 120) -> Endpoints:
        self.state.mkdir(parents=True, exist_ok=True)
        self.state.chmod(0o755)
        postgres = Postgres(self.state, free_port())
        redis = Redis(self.state, free_port())
        moto = Moto(self.state, free_port())
        try:
            for service in (postgres, redis, moto):
                self.servers.append(service.start())
            with set_env({"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}):
                clients = Clients(REGION, moto.url())
                resources = provision(clients, PREFIX, visibility_timeout)
        except BaseException:
            self.stop()
            raise
        return Endpoints(
            api=None,
            aws_endpoint=moto.url(),
            bucket=resources.bucket,
            queue_url=resources.queue_url,
            dlq_url=resources.dlq_url,
            provider_topic_arn=resources.provider_topic_arn,
            alerts_topic_arn=resources.alerts_topic_arn,
            database_url=postgres.url(),
            redis_url=redis.url(),
            worker_metrics=None,
        )

    def write_endpoints(self, endpoints: Endpoints) -> Path:
        path = self.state / "endpoints.json"
        path.write_bytes(orjson.dumps(asdict(endpoints), option=orjson.OPT_INDENT_2))
        path.chmod(0o600)  # it holds the database password
        return path

    def server(self, name: str) -> Server:
        return next(s for s in self.servers if s.name == name)

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()
        self.servers.clear()

    def destroy(self) -> None:
        """Stop and delete every file of this stack (for throwaway stacks in tests)."""
        self.stop()
        postgres = self.state / "postgres"
        if postgres.is_symlink():
            shutil.rmtree(postgres.resolve(), ignore_errors=True)
        shutil.rmtree(self.state, ignore_errors=True)


@contextlib.contextmanager
def set_env(values: dict[str, str]):  # type: ignore[no-untyped-def]
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
