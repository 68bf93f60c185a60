"""A Redis server in the state folder, from Debian's redis-server."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from moviestore.localstack.processes import Server, StackError, port_open, wait_until


@dataclass
class Redis:
    state: Path
    port: int

    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Server:
        binary = shutil.which("redis-server")
        if binary is None:
            raise StackError("redis-server is not installed: run ./scripts/dev.sh")
        data = self.state / "redis"
        data.mkdir(parents=True, exist_ok=True)
        server = Server(
            "redis",
            [
                binary,
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--dir", str(data),
                # A cache: every value can be computed again from PostgreSQL, so nothing is
                # persisted (no AOF fsyncs or rewrite forks to stall it under load).
                "--appendonly", "no",
                "--save", "",
                "--protected-mode", "yes",
            ],
            self.state / "logs" / "redis.log",
        )  # fmt: skip
        server.start()
        wait_until(lambda: port_open(self.port), 30, "Redis", server)
        return server
