"""Ctrl-C (a real SIGINT) in the commands that talk to the local stack: exit status 130, one
line that says so, no traceback, and what they hold cleaned up."""

from __future__ import annotations

import os
import pty
import subprocess
import urllib.request
from pathlib import Path

from moviestore.aws.clients import Clients
from moviestore.localstack.processes import free_port, port_open
from moviestore.localstack.stack import REGION, Endpoints
from moviestore.store.migrate import migrate
from tests.cli import assert_interrupted, interrupted


def test_ctrl_c_in_upload_aborts_the_multipart_upload(endpoints: Endpoints, tmp_path: Path) -> None:
    big = tmp_path / "big.ndjson"
    with big.open("wb") as f:
        f.truncate(300 << 20)  # five 64 MiB parts: several in flight at once
    main, secondary = pty.openpty()
    drawn = bytearray()

    def uploading() -> bool:
        """The progress bar (drawn on a terminal, advanced from s3transfer's threads) moved."""
        drawn.extend(os.read(main, 4096))
        return b"MB/s" in drawn

    try:
        done = interrupted(
            "upload", "--provider", "acme", big, ready=uploading, stderr=secondary, timeout=120
        )
        os.close(secondary)
        drawn.extend(read_to_the_end(main))
    finally:
        os.close(main)
    # The bar clears its line; then the one line on stderr.
    terminal = drawn.decode(errors="replace")
    after_bar = terminal.rpartition("\033[K")[2]
    assert_interrupted(with_stderr(done, after_bar), "upload")
    assert after_bar.strip() == "moviestore upload: interrupted"
    clients = Clients(REGION, endpoints.aws_endpoint)
    # Nothing left behind: no object, no multipart upload still open.
    listed = clients.s3.list_objects_v2(Bucket=endpoints.bucket, Prefix="providers/acme/big")
    assert "Contents" not in listed
    assert not clients.s3.list_multipart_uploads(Bucket=endpoints.bucket).get("Uploads")


def read_to_the_end(fd: int) -> bytes:
    got = b""
    while True:
        try:
            piece = os.read(fd, 4096)
        except OSError:  # the terminal closed: the process is gone
            return got
        if not piece:
            return got
        got += piece


def with_stderr(
    done: subprocess.CompletedProcess[str], stderr: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout, stderr)


def test_ctrl_c_stops_the_worker_gracefully(endpoints: Endpoints) -> None:
    migrate(endpoints.database_url)
    port = free_port()
    env = {**os.environ, "MOVIESTORE_METRICS_PORT": str(port), "MOVIESTORE_SQS_WAIT_SECONDS": "1"}
    done = interrupted("worker", env=env, ready=lambda: healthy(port))
    assert_interrupted(done, "worker")


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def test_ctrl_c_stops_the_api(endpoints: Endpoints) -> None:
    migrate(endpoints.database_url)
    port = free_port()
    env = {**os.environ, "MOVIESTORE_API_PORT": str(port), "MOVIESTORE_API_PROCESSES": "1"}
    env["MOVIESTORE_API_HOST"] = "127.0.0.1"
    done = interrupted("api", env=env, ready=lambda: port_open(port))
    assert_interrupted(done, "api")
