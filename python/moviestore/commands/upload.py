"""``moviestore upload --provider NAME [--snapshot] [--wait] FILE``: put a catalog file where
ingestion picks it up, and optionally wait for its outcome.

The object goes to ``providers/{provider}/{file name}`` in the configured bucket; files above
64 MiB go up in parts, several at once, with a progress bar on a terminal. The bucket's event
notification then queues it for the ingestion worker. Ctrl-C cancels: the parts in flight end,
the multipart upload is aborted (nothing is left in the bucket) and the exit status is 130.
``--snapshot`` marks the file as the provider's whole catalog (S3 user metadata
``mode=snapshot``): the movies it lacks are withdrawn. ``--wait`` follows the API's ingestions
endpoint (``MOVIESTORE_API_URL`` or ``--api``, with the provider's key: ``MOVIESTORE_API_KEY``)
until the file has an outcome, prints it (status, counts, the first errors, the report link)
and exits like ``validate``: 0 loaded, 1 loaded with invalid records, 2 rejected, held,
superseded or discarded, 3 no outcome within ``--wait-seconds``.
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import orjson
from boto3.s3.transfer import TransferConfig

from moviestore.aws.clients import Clients
from moviestore.commands.progress import ProgressBar
from moviestore.ingest.events import UPLOAD_PREFIX, valid_provider
from moviestore.settings import get_settings

MULTIPART = TransferConfig(
    multipart_threshold=64 << 20, multipart_chunksize=64 << 20, max_concurrency=4
)
EXIT = {"loaded": 0, "partially_loaded": 1}  # any other outcome: 2
NO_OUTCOME = 3
FIRST_ERRORS = 5
POLL_SECONDS = 1.0


def configure(p: argparse.ArgumentParser) -> None:
    p.description = __doc__
    p.add_argument("--provider", required=True, help="lower-case letters, digits and dashes")
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--name", help="object name under the provider's folder (default: the file's)")
    p.add_argument(
        "--snapshot",
        action="store_true",
        help="the file is the provider's whole catalog: movies it lacks are withdrawn",
    )
    p.add_argument("--wait", action="store_true", help="wait for the outcome and print it")
    p.add_argument("--wait-seconds", type=float, default=600, help="how long (default 600)")
    p.add_argument("--api", help="the API's base URL (default: MOVIESTORE_API_URL)")
    p.add_argument(
        "--api-key-file", type=Path,
        help="a file holding the provider's API key (default: MOVIESTORE_API_KEY)",
    )  # fmt: skip
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
    api = args.api or settings.api_url
    if args.wait and not api:
        print("moviestore upload: --wait needs --api or MOVIESTORE_API_URL", file=sys.stderr)
        return 2
    if args.api_key_file:
        api_key = args.api_key_file.read_text(encoding="utf-8").strip()
    else:
        api_key = settings.api_key.get_secret_value() if settings.api_key else ""
    if args.wait and not api_key:
        print("moviestore upload: --wait needs the provider's API key: MOVIESTORE_API_KEY or"
              " --api-key-file (moviestore keys create --provider P)", file=sys.stderr)  # fmt: skip
        return 2
    key = f"{UPLOAD_PREFIX}{args.provider}/{name}"
    size = args.file.stat().st_size
    bar = None
    if not args.no_progress and sys.stderr.isatty():
        bar = ProgressBar(name, size)
    clients = Clients(settings.aws_region, settings.aws_endpoint_url)
    extra = {"Metadata": {"mode": "snapshot"}} if args.snapshot else None
    try:
        clients.s3.upload_file(
            str(args.file),
            settings.s3_bucket,
            key,
            ExtraArgs=extra,
            Config=MULTIPART,
            Callback=bar.advance if bar else None,
        )
    finally:
        if bar:
            bar.close()
    what = "snapshot" if args.snapshot else "file"
    print(f"uploaded {size:,} bytes to s3://{settings.s3_bucket}/{key} ({what})")
    if not args.wait:
        return 0
    head = clients.s3.head_object(Bucket=settings.s3_bucket, Key=key)
    version = head.get("VersionId") or head["ETag"].strip('"')
    try:
        found = wait_for_outcome(
            str(api), api_key, args.provider, key=key, version=version, seconds=args.wait_seconds
        )
    except RefusedError as e:
        print(f"moviestore upload: uploaded, but the API refused to tell its outcome: {e}",
              file=sys.stderr)  # fmt: skip
        return 2
    if found is None:
        print(f"no outcome after {args.wait_seconds:.0f} s; see the ingestions endpoint")
        return NO_OUTCOME
    print_outcome(found)
    return EXIT.get(found["status"], 2)


class RefusedError(Exception):
    """The API answered the ingestions request with a client error (a key missing, bad or of
    another provider): asking again would not help."""


def wait_for_outcome(
    api: str, api_key: str, provider: str, *, key: str, version: str, seconds: float
) -> dict[str, Any] | None:
    """The file's ingestion once it has an outcome, from the API's ingestions endpoint."""
    url = f"{api.rstrip('/')}/v1/providers/{urllib.parse.quote(provider)}/ingestions?limit=100"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_key}"})
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(request, timeout=10) as got:
                items = orjson.loads(got.read())["items"]
        except urllib.error.HTTPError as e:
            if 400 <= e.code < 500 and e.code != 429:
                raise RefusedError(problem(e)) from None
            items = []  # throttled or unavailable for now: ask again
        except OSError:
            items = []  # the API restarting: ask again
        for item in items:
            mine = item["key"] == key and item["version"] == version
            if mine and item["status"] not in ("processing", "confirmed"):
                return dict(item)
        time.sleep(POLL_SECONDS)
    return None


def problem(e: urllib.error.HTTPError) -> str:
    """An error answer as one line: its status and its problem's detail."""
    try:
        detail = orjson.loads(e.read()).get("detail", "")
    except (OSError, orjson.JSONDecodeError, AttributeError):
        detail = ""
    return f"{e.code} {e.reason}" + (f": {detail}" if detail else "")


def print_outcome(item: dict[str, Any]) -> None:
    counts = ", ".join(
        f"{item.get(name) or 0:,} {label}"
        for name, label in (
            ("records_valid", "valid"),
            ("records_invalid", "invalid"),
            ("rows_inserted", "inserted"),
            ("rows_updated", "updated"),
            ("rows_withdrawn", "withdrawn"),
        )
    )
    print(f"{item['status']} (ingestion {item['id']}, {item['mode']}): {counts}")
    if item.get("error_summary"):
        print(f"  {item['error_summary']}")
    if item["status"] == "held":
        print(f"  it would withdraw {item['would_withdraw']:,} of {item['catalog_movies']:,}"
              " movies; an operator confirms or discards it")  # fmt: skip
    link = item.get("report_url")
    if link:
        for error in first_errors(link):
            print(f"  line {error['line']} {error['pointer']}: {error['code']}: {error['message']}")
        print(f"  full report: {link}")


def first_errors(link: str) -> list[dict[str, Any]]:
    """The first errors of the report (its first line is the summary)."""
    try:
        with urllib.request.urlopen(link, timeout=10) as got:
            lines = []
            for line in got:
                lines.append(line)
                if len(lines) > FIRST_ERRORS:
                    break
    except OSError:
        return []
    return [orjson.loads(line) for line in lines[1:]]
