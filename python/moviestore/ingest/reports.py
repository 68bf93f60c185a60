"""The provider's error report: every error of a file, streamed to a temporary file and then to
S3 under ``reports/{provider}/``. NDJSON: a summary line, then one line per error."""

from __future__ import annotations

import tempfile
from pathlib import PurePosixPath
from typing import IO, Any

import orjson

from moviestore.aws.clients import Clients
from moviestore.ingest.events import ObjectRef
from moviestore.validation_types import RecordErrorDict

REPORT_PREFIX = "reports/"


def report_key(ref: ObjectRef) -> str:
    name = PurePosixPath(ref.key).name
    version = "".join(c for c in ref.version if c.isalnum() or c in "-_")[:64]
    return f"{REPORT_PREFIX}{ref.provider}/{name}.{version}.errors.ndjson"


class ErrorSink:
    """Collects every record error as it is found, on disk, not in memory."""

    def __init__(self) -> None:
        self.file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self.count = 0

    def write(self, errors: list[RecordErrorDict]) -> None:
        for e in errors:
            self.file.write(orjson.dumps(e) + b"\n")
        self.count += len(errors)

    def upload(self, clients: Clients, bucket: str, key: str, summary: dict[str, Any]) -> None:
        with tempfile.TemporaryFile() as out:
            out.write(orjson.dumps({"summary": summary}) + b"\n")
            self.file.seek(0)
            while chunk := self.file.read(1 << 20):
                out.write(chunk)
            out.seek(0)
            clients.s3.upload_fileobj(
                out, bucket, key, ExtraArgs={"ContentType": "application/x-ndjson"}
            )

    def close(self) -> None:
        self.file.close()
