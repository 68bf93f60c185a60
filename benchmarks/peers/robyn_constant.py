"""The API benchmark's ceiling: Robyn answering a constant, pre-serialised body from a minimal
synchronous Python handler, run with the same process model as ``moviestore api`` (one socket
bound here, ``--processes`` forked server processes of ``--workers`` threads, the same
``build_server``), so the only difference from a cached API answer is the work our code does.

    .venv/bin/python benchmarks/peers/robyn_constant.py --port 8099 --body 6210 --body 9216

serves ``GET /constant/{size}`` for each ``--body`` size (bytes of JSON, content-type
application/json), and ``GET /file/{i}`` for the i-th ``--gzip-file`` (bytes already gzip'd,
sent as they are with ``Content-Encoding: gzip``: the ceiling of a compressed cached answer)
until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))

from moviestore.api.framework import Request, Response, Robyn, SocketHeld, new_app
from moviestore.api.server import PR_SET_PDEATHSIG, build_server, listening_socket

JSON = {"content-type": "application/json"}


def body_of(size: int) -> bytes:
    """Valid JSON of exactly ``size`` bytes (at least 12)."""
    head, tail = b'{"items":"', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


GZIP_JSON = {**JSON, "content-encoding": "gzip", "vary": "Accept-Encoding"}


def handler(body: bytes, headers: dict[str, str]) -> Callable[[Request], Response]:
    def constant(request: Request) -> Response:
        return Response(200, headers, body)

    return constant


def create_app(sizes: list[int], gzip_files: list[Path]) -> Robyn:
    app = new_app(__file__)
    for size in sizes:
        app.get(f"/constant/{size}")(handler(body_of(size), JSON))
    for i, path in enumerate(gzip_files):
        app.get(f"/file/{i}")(handler(path.read_bytes(), GZIP_JSON))
    return app


def serve_forever(app: Robyn, socket: SocketHeld, workers: int) -> NoReturn:
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    # Installed before the runtime starts, so Robyn's own handler chains to it.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    asyncio.set_event_loop(uvloop.new_event_loop())
    build_server(app).start(socket, workers)  # type: ignore[call-arg]
    asyncio.get_event_loop().run_forever()
    os._exit(0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--body", type=int, action="append", required=True, help="bytes")
    parser.add_argument("--gzip-file", type=Path, action="append", default=[], help="gzip'd body")
    args = parser.parse_args()
    app = create_app(args.body, args.gzip_file)
    socket, _ = listening_socket(args.host, args.port)
    children = []
    for _ in range(args.processes):
        pid = os.fork()
        if pid == 0:
            serve_forever(app, socket, args.workers)
        children.append(pid)
    del socket

    def stop(*_: object) -> None:
        for pid in children:
            os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in children:
        os.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
