"""The ``moviestore`` command line as a whole: what each command imports, what it says when the
``dev`` extra is missing, and Ctrl-C (a real SIGINT) wherever it lands."""

from __future__ import annotations

import os
import select
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from moviestore.localstack.endpoints import Endpoints
from tests.cli import ROOT, assert_interrupted, interrupted, python

SAMPLE = ROOT / "samples" / "catalog.json"
# What only the service commands need: none of it may load for validate, env, --help, --version.
HEAVY = (
    "boto3",
    "botocore",
    "s3transfer",
    "pydantic",
    "pydantic_settings",
    "psycopg",
    "psycopg_pool",
    "redis",
    "hiredis",
    "robyn",
    "uvloop",
    "prometheus_client",
    "moto",
    "locust",
    "moviestore.api",
    "moviestore.aws",
    "moviestore.bench",
    "moviestore.ingest",
    "moviestore.localstack.stack",
    "moviestore.settings",
    "moviestore.store",
    "moviestore.worker",
)


def imported(tmp_path: Path, *args: str | Path) -> set[str]:
    """The modules loaded by the time ``moviestore ARGS`` exits, as the installed script runs it."""
    listing = tmp_path / "modules.txt"
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: open(sys.argv.pop(1), 'w').write('\\n'.join(sys.modules)))\n"
        "from moviestore.cli import main\n"
        "sys.exit(main(sys.argv[2:]))\n"
    )
    done = python(["-c", code, str(listing), *map(str, args)], None, None, 60)
    assert done.returncode in (0, 1), done.stderr[-3000:]
    return set(listing.read_text().split())


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["validate", "--help"],
        ["validate", SAMPLE],
        ["validate", "--format", "json", SAMPLE],
        ["env", "--state-dir", ROOT / "no-such-state"],
    ],
    ids=lambda args: " ".join(map(str, args)),
)
def test_quick_commands_import_none_of_the_services(args: list[str | Path], tmp_path: Path) -> None:
    names = imported(tmp_path, *args)
    assert "moviestore.commands" in names  # the listing was read
    heavy = {n for n in names if any(n == h or n.startswith(h + ".") for h in HEAVY)}
    assert not heavy, sorted(heavy)
    commands = {n for n in names if n.startswith("moviestore.commands.")}
    chosen = {f"moviestore.commands.{a}" for a in args if a in {"validate", "env"}}
    assert commands - {"moviestore.commands.progress"} == chosen


def test_validate_imports_the_extension(tmp_path: Path) -> None:
    assert "moviestore._validator" in imported(tmp_path, "validate", SAMPLE)


@pytest.mark.parametrize("args", [["dev"], ["bench", "gate"]], ids=" ".join)
def test_commands_of_the_dev_extra_name_it_when_it_is_missing(args: list[str]) -> None:
    # As in a wheel installed without the extra: the import system finds no moto.
    code = "import sys; sys.modules['moto'] = None; from moviestore.cli import main; "
    code += "sys.exit(main(sys.argv[1:]))"
    done = python(["-c", code, *args], None, None, 60)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"moviestore {args[0]}: needs the development packages (moto missing): "
        "pip install 'moviestore[dev]'"
    ]


# --- Ctrl-C ------------------------------------------------------------------------------------


class Silent:
    """A TCP port that accepts connections and never answers: a command that talks to it
    waits there, which is where the interruption lands."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []

    def connected(self) -> bool:
        if select.select([self.listener], [], [], 0)[0]:
            self.accepted.append(self.listener.accept()[0])
        return bool(self.accepted)

    def close(self) -> None:
        for s in [*self.accepted, self.listener]:
            s.close()


@pytest.fixture
def silent() -> Iterator[Silent]:
    server = Silent()
    try:
        yield server
    finally:
        server.close()


def settings_env(port: int) -> dict[str, str]:
    """Complete settings whose every service is the silent port."""
    here = f"127.0.0.1:{port}"
    endpoints = Endpoints(
        api=None,
        aws_endpoint=f"http://{here}",
        bucket="catalogs",
        queue_url=f"http://{here}/000000000000/ingest",
        dlq_url=f"http://{here}/000000000000/ingest-dlq",
        provider_topic_arn="arn:aws:sns:us-east-1:000000000000:providers",
        alerts_topic_arn="arn:aws:sns:us-east-1:000000000000:alerts",
        database_url=f"postgresql://moviestore:secret@{here}/moviestore",
        redis_url=f"redis://{here}/0",
        worker_metrics=None,
    )
    return {**os.environ, **endpoints.settings_env()}


def test_ctrl_c_in_validate_while_it_reads(tmp_path: Path) -> None:
    fifo = tmp_path / "catalog.json"
    os.mkfifo(fifo)
    writer: list[int] = []

    def reading() -> bool:
        """The command has opened the file and waits for bytes."""
        try:
            writer.append(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            return False
        os.write(writer[0], b'[{"title": "Carmen", "year": 1915},')
        return True

    try:
        done = interrupted("validate", fifo, ready=reading)
    finally:
        for fd in writer:
            os.close(fd)
    assert_interrupted(done, "validate")
    assert done.stderr.splitlines() == ["moviestore validate: interrupted"]


def test_ctrl_c_in_migrate_while_it_connects(silent: Silent) -> None:
    url = f"postgresql://moviestore:secret@127.0.0.1:{silent.port}/moviestore"
    done = interrupted("migrate", "--database-url", url, ready=silent.connected)
    assert_interrupted(done, "migrate")
    assert done.stderr.splitlines() == ["moviestore migrate: interrupted"]


def test_ctrl_c_in_dlq_while_it_waits_for_sqs(silent: Silent) -> None:
    done = interrupted("dlq", "list", env=settings_env(silent.port), ready=silent.connected)
    assert_interrupted(done, "dlq")
    assert done.stderr.splitlines() == ["moviestore dlq: interrupted"]


def test_ctrl_c_in_bench_gate_while_locust_measures(silent: Silent, tmp_path: Path) -> None:
    out = tmp_path / "gate"
    args = ["bench", "gate", "--host", f"http://127.0.0.1:{silent.port}", "--env", "production"]
    args += ["--users", "1", "--duration", "5m", "--out", str(out)]
    done = interrupted(*args, ready=silent.connected, timeout=120)
    assert_interrupted(done, "bench")
