"""boto3 clients built from the settings: the same code for AWS and for the local endpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient


def _config(read_timeout: float) -> Config:
    return Config(
        retries={"max_attempts": 5, "mode": "adaptive"},
        connect_timeout=5,
        read_timeout=read_timeout,
    )


class Clients:
    """One set of clients per process (boto3 clients are thread-safe)."""

    def __init__(self, region: str, endpoint_url: str | None):
        session = boto3.session.Session(region_name=region)
        # Long polls wait up to 20 s; the read timeout must be longer.
        # SigV4 for presigned links too (boto3 may pick SigV2 for them, which newer regions
        # refuse and which cannot expire after more than the signing key's session).
        self.s3: S3Client = session.client(
            "s3",
            endpoint_url=endpoint_url,
            config=_config(60).merge(Config(signature_version="s3v4")),
        )
        self.sqs: SQSClient = session.client("sqs", endpoint_url=endpoint_url, config=_config(30))
        self.sns: SNSClient = session.client("sns", endpoint_url=endpoint_url, config=_config(30))

    def link(self, bucket: str, key: str, seconds: int) -> str:
        """A presigned HTTPS GET of one object (signed here, no request made): it works for
        ``seconds`` or as long as the credentials that signed it, whichever ends first."""
        return self.s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=seconds
        )
