"""The API's Redis client against redis-py's asyncio client and a floor, in one run.

What the API pays per cache lookup is CPU in its own process: every Redis call of an uncached
answer (a GET that misses, then a SET) competes with PostgreSQL and the other requests for
the same cores. Measured here, on uvloop as in the API, against a redis-server of its own:

* the floor: a bare asyncio Protocol writing a pre-packed command and resolving a future on
  the bytes of its reply (no parsing, no timeout, no bookkeeping), one caller at a time (it
  matches no replies): what any client pays for a lone call;
* ``moviestore.api.redis_pipe.PipelinedRedis``: the API's client (one pipelined connection,
  hiredis parsing, a timeout per call);
* redis-py's asyncio client (``redis.asyncio.Redis``, hiredis parser, a pool), used as the
  API used it before: ``socket_timeout`` plus an ``asyncio.timeout`` around each call.

CPU is ``time.process_time()`` of this process over the calls (Redis runs in its own); each
figure is the median of ``--rounds`` alternating rounds, GETs of a 14 KB value (the size of a
20-movie list answer) and SETs of it, by 1 and 8 concurrent callers.

    .venv/bin/python benchmarks/bench_redis_client.py           # writes RESULTS.md
    .venv/bin/python benchmarks/bench_redis_client.py --quick   # a smoke run, prints only

Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import resource
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
import uvloop

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "python"))

from moviestore.api.redis_pipe import PipelinedRedis, pack  # noqa: E402
from moviestore.localstack.processes import free_port, sigterm_unwinds  # noqa: E402
from moviestore.localstack.redis import Redis  # noqa: E402
from results import heading, write_section  # noqa: E402

SECTION = "## Redis client of the API"
VALUE = b"x" * 14_167  # a 20-movie list answer of bench_api
TIMEOUT = 1.0
Call = Callable[[], Awaitable[Any]]


class Floor(asyncio.Protocol):
    """Write, then resolve on the reply's bytes: the least a round trip costs in asyncio."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiting: asyncio.Future[None] | None = None
        self.expected = 0
        self.got = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.got += len(data)
        if self.waiting is not None and self.got >= self.expected:
            self.waiting.set_result(None)

    async def call(self, command: bytes, reply_bytes: int) -> None:
        assert self.transport is not None
        self.waiting = asyncio.get_running_loop().create_future()
        self.expected, self.got = reply_bytes, 0
        self.transport.write(command)
        await self.waiting


@dataclass(frozen=True)
class Figure:
    client: str
    command: str
    callers: int
    cpu_us: float  # per call
    calls_per_s: float


async def measure(call: Call, callers: int, calls: int) -> tuple[float, float]:
    """CPU µs per call and calls per second of ``callers`` concurrent loops."""
    per_caller = calls // callers

    async def loop() -> None:
        for _ in range(per_caller):
            await call()

    await asyncio.gather(*(loop() for _ in range(callers)))  # warm: connections, caches
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(callers)))
    done = per_caller * callers
    return (time.process_time() - cpu) / done * 1e6, done / (time.perf_counter() - wall)


async def clients(url: str, port: int) -> dict[str, dict[str, Call]]:
    pipe = PipelinedRedis(url, TIMEOUT)
    py = aioredis.Redis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
    await pipe.set("k", VALUE, 600)
    get_reply = len(b"$%d\r\n" % len(VALUE)) + len(VALUE) + 2

    async def py_get() -> Any:
        async with asyncio.timeout(TIMEOUT):
            return await py.get("k")

    async def py_set() -> Any:
        async with asyncio.timeout(TIMEOUT):
            return await py.set("k", VALUE, ex=600)

    # The floor runs one caller at a time on its connection (it matches no replies); it signs
    # in first, as the local Redis wants a password.
    _, floor = await asyncio.get_running_loop().create_connection(Floor, "127.0.0.1", port)
    password = urllib.parse.urlsplit(url).password
    if password:
        await floor.call(pack("AUTH", password), len(b"+OK\r\n"))
    get_command, set_command = pack("GET", "k"), pack("SET", "k", VALUE, "EX", 600)
    return {
        "floor: bare protocol, no parsing": {
            "GET": lambda: floor.call(get_command, get_reply),
            "SET": lambda: floor.call(set_command, len(b"+OK\r\n")),
        },
        "**PipelinedRedis** (the API's)": {
            "GET": lambda: pipe.get("k"),
            "SET": lambda: pipe.set("k", VALUE, 600),
        },
        "redis-py asyncio + hiredis": {"GET": py_get, "SET": py_set},
    }


async def run(url: str, port: int, rounds: int, calls: int) -> list[Figure]:
    table = await clients(url, port)
    measured: dict[tuple[str, str, int], list[tuple[float, float]]] = {}
    for _ in range(rounds):
        for name, commands in table.items():
            for command, call in commands.items():
                for callers in (1, 8):
                    if callers > 1 and name.startswith("floor"):
                        continue
                    key = (name, command, callers)
                    measured.setdefault(key, []).append(await measure(call, callers, calls))
    return [
        Figure(name, command, callers, statistics.median(c for c, _ in runs),
               statistics.median(r for _, r in runs))
        for (name, command, callers), runs in measured.items()
    ]  # fmt: skip


def render(figures: list[Figure], rounds: int, calls: int, command: str) -> str:
    peer = {(f.command, f.callers): f.cpu_us for f in figures if f.client.startswith("redis-py")}
    lines = [
        *heading(SECTION, command),
        f"- Python {platform.python_version()}, uvloop {version('uvloop')}, redis-py "
        f"{version('redis')}, hiredis {version('hiredis')}; redis-server of the local stack, "
        "on the same 2 cores",
        f"- {calls:,} calls per figure and round, median of {rounds} alternating rounds; a "
        f"{len(VALUE):,}-byte value (a 20-movie list answer); this process's peak RSS "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB",
        "",
        "CPU is this process's (`time.process_time()`) per call: what the API pays per cache "
        "lookup, on the cores it shares with PostgreSQL. An uncached answer makes two calls "
        "(a GET that misses, then a SET). With 1 caller every call waits alone: the process "
        "sleeps and is woken per call, which on this VM costs more than the call itself (see "
        "the floor) and varies with what else runs; 8 callers, as under load, share wake-ups "
        "and show the clients' own costs.",
        "",
        "| client | command | concurrent callers | CPU per call (µs) | vs redis-py | calls/s |",
        "|---|---|--:|--:|--:|--:|",
    ]
    for f in figures:
        ratio = f"{f.cpu_us / peer[f.command, f.callers]:.2f}x" if "Pipelined" in f.client else "-"
        lines.append(
            f"| {f.client} | {f.command} | {f.callers} | {f.cpu_us:.1f} | {ratio} "
            f"| {f.calls_per_s:,.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="few calls; prints only")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--results", type=Path, default=None)
    args = parser.parse_args()
    calls, rounds = (800, 1) if args.quick else (16_000, args.rounds)
    results = args.results or (None if args.quick else HERE / "RESULTS.md")
    with tempfile.TemporaryDirectory(prefix="moviestore-bench-redis-") as state:
        own = Redis(Path(state), free_port())
        server = own.start()
        try:
            figures = uvloop.run(run(own.url(), own.port, rounds, calls))
        finally:
            server.stop()
    command = ".venv/bin/python benchmarks/bench_redis_client.py" + (
        " --quick" if args.quick else ""
    )
    section = render(figures, rounds, calls, command)
    print(section)
    if results is not None:
        write_section(results, SECTION, section)
    return 0


if __name__ == "__main__":
    with sigterm_unwinds():
        sys.exit(main())
