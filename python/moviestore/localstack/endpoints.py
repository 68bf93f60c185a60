"""Where a running local stack answers: what ``endpoints.json`` holds, and the settings that
point moviestore processes at it. Plain data, so that ``moviestore env`` imports nothing else."""

from __future__ import annotations

from dataclasses import dataclass

REGION = "us-east-1"


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
