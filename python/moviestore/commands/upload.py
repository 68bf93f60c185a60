"""``moviestore upload --provider NAME FILE``: put a catalog file where ingestion picks it up.

The object goes to ``providers/{provider}/{file name}`` in the configured bucket; files above
64 MiB go up in parts, several at once, with a progress bar on a terminal. The bucket's event
notification then queues it for the ingestion worker. Ctrl-C cancels: the parts in flight end,
the multipart upload is aborted (nothing is left in the bucket) and the exit status is 130.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from boto3.s3.transfer import TransferConfig

from moviestore.aws.clients import Clients
from moviestore.commands.progress import ProgressBar
from moviestore.ingest.events import UPLOAD_PREFIX, valid_provider
from moviestore.settings import get_settings

MULTIPART = TransferConfig(
    multipart_threshold=64 << 20, multipart_chunksize=64 << 20, max_concurrency=4
)


def configure(p: argparse.ArgumentParser) -> None:
    p.description = __doc__
    p.add_argument("--provider", required=True, help="lower-case letters, digits and dashes")
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--name", help="object name under the provider's folder (default: the file's)")
    p.add_argument("--no-progress", action="store_true", help="never draw a progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not valid_provider(args.provider):
        print(f"moviestore upload: invalid provider name {args.provider!r}", file=sys.stderr)
        return 2
    if not args.file.is_file():
        print(f"moviestore upload: {args.file} is not a readable file", file=sys.stderr)
        return 2
    name = args.name or args.file.name
    if not name or "/" in name:
        print(f"moviestore upload: invalid object name {name!r}", file=sys.stderr)
        return 2
    settings = get_settings()
    key = f"{UPLOAD_PREFIX}{args.provider}/{name}"
    size = args.file.stat().st_size
    bar = None
    if not args.no_progress and sys.stderr.isatty():
        bar = ProgressBar(name, size)
    clients = Clients(settings.aws_region, settings.aws_endpoint_url)
    try:
        clients.s3.upload_file(
            str(args.file),
            settings.s3_bucket,
            key,
            Config=MULTIPART,
            Callback=bar.advance if bar else None,
        )
    finally:
        if bar:
            bar.close()
    print(f"uploaded {size:,} bytes to s3://{settings.s3_bucket}/{key}")
    return 0
